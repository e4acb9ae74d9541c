"""The Stripe side of payments, through the official SDK only.

With real keys the client talks to Stripe; without, the stack points it at the local sandbox through
`base_addresses` (MAIS_STRIPE_API_BASE). Every call is async, bounded by the HTTP client's timeout, and
retried by the SDK on network errors (`max_network_retries`, with the idempotency keys we pass, so a
retry never creates a second object).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import stripe

from mais_runtime.errors import DomainError, GrpcCode
from services.payments.stripe_tracing import TracedStripeHttp


class PaymentProviderError(DomainError):
    """Stripe refused or did not answer. `definite` is True when Stripe answered with a refusal
    (nothing happened there); False when the outcome is unknown (timeout, network, 5xx)."""

    def __init__(
        self,
        message: str,
        *,
        definite: bool,
        stripe_code: str = "",
        reason: str = "PAYMENT_PROVIDER_ERROR",
    ) -> None:
        super().__init__(
            message,
            reason,
            GrpcCode.FAILED_PRECONDITION if definite else GrpcCode.UNAVAILABLE,
            [],
            {"stripe_code": stripe_code} if stripe_code else {},
        )
        self.definite = definite


class AccountUnknown(PaymentProviderError):
    """Stripe does not know the tenant's Connect account: it was deleted, or (the local sandbox) its data
    was wiped. Nothing can be paid to it; the business must onboard again (TENANT_NOT_ONBOARDED)."""

    def __init__(self, stripe_code: str = "resource_missing") -> None:
        super().__init__(
            "this business's Stripe account is no longer known to Stripe; the business must onboard with "
            "Stripe again before it can take payments",
            definite=True,
            stripe_code=stripe_code,
            reason="TENANT_NOT_ONBOARDED",
        )


class PaymentUnknown(PaymentProviderError):
    """Stripe does not know a payment we recorded (its payment intent, charge or application fee), so it
    cannot be refunded through Stripe; nothing was changed there."""

    def __init__(self, stripe_code: str = "resource_missing") -> None:
        super().__init__(
            "Stripe no longer knows this booking's payment, so it cannot be refunded through MAIS; cancel "
            "without a refund and settle with the couple directly",
            definite=True,
            stripe_code=stripe_code,
            reason="FAILED_PRECONDITION",
        )


class SessionAlreadyPaid(PaymentProviderError):
    """The Checkout Session we meant to close was paid meanwhile (its webhook is on its way): it must
    neither be replaced nor have its hold released, or a couple who paid in time would lose their date."""

    def __init__(self) -> None:
        super().__init__("this checkout was paid moments ago", definite=True, reason="CONFLICT")


class InvalidSignature(DomainError):
    """A webhook whose signature does not verify (tampered, stale, or not from Stripe)."""

    def __init__(self, message: str = "the Stripe-Signature header does not verify") -> None:
        super().__init__(message, "INVALID_SIGNATURE", GrpcCode.INVALID_ARGUMENT)


@dataclass(frozen=True)
class LineItem:
    """One priced line of a Checkout Session."""

    name: str
    amount_cents: int


@dataclass(frozen=True)
class SessionSpec:
    """What a Checkout Session is created with."""

    line_items: tuple[LineItem, ...]
    currency: str
    customer_email: str
    client_reference_id: str
    metadata: dict[str, str]
    expires_at: int
    success_url: str
    cancel_url: str
    # A destination charge when set: the fee goes to the platform, the rest to this account.
    destination_account: str | None
    application_fee_cents: int | None
    idempotency_key: str


@dataclass(frozen=True)
class CreatedSession:
    """A Checkout Session as Stripe created it."""

    id: str
    url: str
    expires_at: int


@dataclass(frozen=True)
class PaymentFacts:
    """What a paid PaymentIntent moved: the charge and the platform's fee."""

    payment_intent_id: str
    charge_id: str
    amount_cents: int
    currency: str
    application_fee_id: str | None
    application_fee_cents: int
    # The connected account a destination charge paid (None for a platform charge).
    destination_account: str | None = None


@dataclass(frozen=True)
class MoneyBack:
    """A refund or a fee refund: its id, amount, and our request id from its metadata."""

    id: str
    amount_cents: int
    request_id: str | None


# The parameters by which Stripe names the object it does not know (`resource_missing`).
_ACCOUNT_PARAMS = frozenset({"account", "destination", "payment_intent_data[transfer_data][destination]"})
_PAYMENT_PARAMS = frozenset({"payment_intent", "intent", "charge", "application_fee"})


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _id_of(value: Any) -> str:
    """An id field that may come expanded (an object) or not (a string)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return str(value["id"])
    return ""


def _plain(obj: Any) -> dict[str, Any]:
    """A Stripe object as plain dicts (the SDK's objects are not dicts)."""
    return dict(obj.to_dict())


def _money_back(obj: Any) -> MoneyBack:
    data = _plain(obj)
    metadata = data.get("metadata") or {}
    return MoneyBack(str(data["id"]), int(data["amount"]), metadata.get("refund_request_id") or None)


def _no_import_per_call() -> None:
    """httpcore asks for `sniffio` (`import sniffio` in a try) every time it sets up one of its locks,
    four times per Stripe call; where sniffio is not installed, each ask searches the whole import path
    again (about 0.2 ms each). Recorded once as missing, each ask is a dictionary lookup: httpcore then
    takes the asyncio backend, which is what every service runs on."""
    if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
        sys.modules["sniffio"] = None  # type: ignore[assignment]


class StripeAdapter:
    """The calls payments makes to Stripe, over one keep-alive HTTP client for the process."""

    def __init__(
        self,
        *,
        secret_key: str,
        webhook_secret: str,
        api_base: str = "",
        timeout_seconds: float = 10.0,
        max_network_retries: int = 2,
        webhook_tolerance_seconds: int = 300,
    ) -> None:
        _no_import_per_call()
        self._http = TracedStripeHttp(timeout=timeout_seconds)
        base = api_base.rstrip("/")
        self._client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": base, "connect": base, "files": base} if base else None,
            http_client=self._http,
            max_network_retries=max_network_retries,
        )
        self._webhook_secret = webhook_secret
        self._tolerance = webhook_tolerance_seconds

    async def close(self) -> None:
        """Closes the HTTP client's connections."""
        await self._http.close_async()  # type: ignore[no-untyped-call]

    # --- webhooks -----------------------------------------------------------------------------

    def verify_event(self, payload: bytes, signature_header: str) -> dict[str, Any]:
        """The event in a webhook body whose signature verifies against our secret within the
        tolerance (300 s); InvalidSignature otherwise. Nothing is trusted before this passes."""
        if not signature_header:
            raise InvalidSignature("the Stripe-Signature header is missing")
        try:
            stripe.WebhookSignature.verify_header(
                payload, signature_header, self._webhook_secret, self._tolerance
            )
        except stripe.SignatureVerificationError:
            raise InvalidSignature() from None
        except (ValueError, UnicodeDecodeError):
            raise InvalidSignature("the webhook body is not a Stripe event") from None
        # Signed by whoever holds our secret, yet still parsed defensively: any shape that is not an
        # event object (an array, a number, a NUL that PostgreSQL cannot store) is refused, never a 500.
        try:
            body = json.loads(payload)
        except (ValueError, UnicodeDecodeError):
            raise InvalidSignature("the webhook body is not a Stripe event") from None
        if not isinstance(body, dict) or _holds_nul(body):
            raise InvalidSignature("the webhook body is not a Stripe event")
        return body

    # --- checkout -----------------------------------------------------------------------------

    async def create_checkout_session(self, spec: SessionSpec) -> CreatedSession:
        """One Checkout Session in payment mode; the same idempotency key gives the same session."""
        payment_intent_data: dict[str, Any] = {"metadata": spec.metadata}
        if spec.destination_account:
            payment_intent_data["transfer_data"] = {"destination": spec.destination_account}
            if spec.application_fee_cents:
                payment_intent_data["application_fee_amount"] = spec.application_fee_cents
        params: dict[str, Any] = {
            "mode": "payment",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": spec.currency,
                        "unit_amount": item.amount_cents,
                        "product_data": {"name": item.name},
                    },
                }
                for item in spec.line_items
            ],
            "customer_email": spec.customer_email,
            "client_reference_id": spec.client_reference_id,
            "metadata": spec.metadata,
            "payment_intent_data": payment_intent_data,
            "expires_at": spec.expires_at,
            "success_url": spec.success_url,
            "cancel_url": spec.cancel_url,
        }
        session = await self._plain_call(
            "post", "/v1/checkout/sessions", params, idempotency_key=spec.idempotency_key
        )
        return CreatedSession(str(session["id"]), str(session["url"]), int(session["expires_at"]))

    async def expire_checkout_session(self, session_id: str) -> None:
        """Closes an open session (a hold released before its time); an expired one is left alone.
        SessionAlreadyPaid when Stripe refused because the couple paid it meanwhile."""
        try:
            await self._call(self._client.v1.checkout.sessions.expire_async, session_id)
        except PaymentProviderError as error:
            if not error.definite:
                raise
            session = _plain(await self._call(self._client.v1.checkout.sessions.retrieve_async, session_id))
            if session.get("status") == "complete":
                raise SessionAlreadyPaid() from None

    async def payment_facts(self, payment_intent_id: str) -> PaymentFacts:
        """The charge and application fee behind a paid PaymentIntent."""
        intent = await self._plain_call(
            "get", f"/v1/payment_intents/{quote(payment_intent_id, safe='')}", {"expand": ["latest_charge"]}
        )
        charge = intent.get("latest_charge")
        if not isinstance(charge, dict):
            raise PaymentProviderError("the payment has no charge yet", definite=False)
        fee_id = _id_of(charge.get("application_fee")) or None
        fee_amount = charge.get("application_fee_amount") or 0
        transfer_data = intent.get("transfer_data") or {}
        return PaymentFacts(
            payment_intent_id=str(intent["id"]),
            charge_id=str(charge["id"]),
            amount_cents=int(charge["amount"]),
            currency=str(charge["currency"]),
            application_fee_id=fee_id,
            application_fee_cents=int(fee_amount) if fee_id else 0,
            destination_account=_id_of(transfer_data.get("destination")) or None,
        )

    # --- refunds ------------------------------------------------------------------------------

    async def refund(
        self,
        *,
        payment_intent_id: str,
        amount_cents: int | None,
        refund_application_fee: bool,
        reverse_transfer: bool,
        metadata: dict[str, str],
        idempotency_key: str,
    ) -> MoneyBack:
        """Refunds `amount_cents` (everything left when None) of a payment."""
        params: dict[str, Any] = {
            "payment_intent": payment_intent_id,
            "metadata": metadata,
            "reason": "requested_by_customer",
        }
        if amount_cents is not None:
            params["amount"] = amount_cents
        if refund_application_fee:
            params["refund_application_fee"] = True
        if reverse_transfer:
            params["reverse_transfer"] = True
        refund = await self._call(
            self._client.v1.refunds.create_async, params=params, options={"idempotency_key": idempotency_key}
        )
        return _money_back(refund)

    async def refund_fee(
        self, *, application_fee_id: str, amount_cents: int, metadata: dict[str, str], idempotency_key: str
    ) -> MoneyBack:
        """Gives `amount_cents` of the platform's application fee back to the connected account."""
        fee_refund = await self._call(
            self._client.v1.application_fees.refunds.create_async,
            application_fee_id,
            params={"amount": amount_cents, "metadata": metadata},
            options={"idempotency_key": idempotency_key},
        )
        return _money_back(fee_refund)

    async def refunds(self, payment_intent_id: str) -> list[MoneyBack]:
        """Every refund of a payment (a booking's payment has a handful at most)."""
        page = await self._call(
            self._client.v1.refunds.list_async, params={"payment_intent": payment_intent_id, "limit": 100}
        )
        return [_money_back(r) for r in page.data]

    async def fee_refunds(self, application_fee_id: str) -> list[MoneyBack]:
        """Every refund of an application fee."""
        page = await self._call(
            self._client.v1.application_fees.refunds.list_async, application_fee_id, params={"limit": 100}
        )
        return [_money_back(r) for r in page.data]

    # --- Connect ------------------------------------------------------------------------------

    async def create_account(self, *, tenant_id: str, email: str, idempotency_key: str) -> str:
        """An Express connected account for a tenant; its metadata names the tenant."""
        params: dict[str, Any] = {"type": "express", "metadata": {"tenant_id": tenant_id}}
        if email:
            params["email"] = email
        account = await self._call(
            self._client.v1.accounts.create_async, params=params, options={"idempotency_key": idempotency_key}
        )
        return str(account.id)

    async def account(self, account_id: str) -> dict[str, Any]:
        """A connected account as plain data."""
        return _plain(await self._call(self._client.v1.accounts.retrieve_async, account_id))

    async def onboarding_link(self, *, account_id: str, refresh_url: str, return_url: str) -> str:
        """A fresh, short-lived onboarding URL for the account."""
        link = await self._call(
            self._client.v1.account_links.create_async,
            params={
                "account": account_id,
                "type": "account_onboarding",
                "refresh_url": refresh_url,
                "return_url": return_url,
            },
        )
        return str(link.url)

    # --- errors -------------------------------------------------------------------------------

    async def _plain_call(
        self, method: str, path: str, params: dict[str, Any], *, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """A call on the hot path (a checkout's session, a webhook's payment facts) answered as the
        plain JSON Stripe sent: the SDK's request, retries and errors as for any call, without building
        its StripeObject tree only to turn it back into dicts (about a tenth of a webhook's CPU)."""
        options = {"idempotency_key": idempotency_key} if idempotency_key else {}
        answer = await self._call(self._client.raw_request_async, method, path, **params, **options)
        data = answer.data
        if not isinstance(data, dict):
            raise PaymentProviderError("the payment provider's answer is not an object", definite=False)
        return data

    async def _call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        """The one place Stripe's errors become ours. An object Stripe does not know is told apart by the
        parameter that named it: the Connect account (re-onboard) or a payment (nothing to refund)."""
        try:
            return await method(*args, **kwargs)
        except stripe.StripeError as error:
            status = error.http_status
            definite = status is not None and 400 <= status < 500 and status != 409
            code = _text(error.code) or type(error).__name__
            param = _text(getattr(error, "param", None))
            if code == "account_invalid" or (code == "resource_missing" and param in _ACCOUNT_PARAMS):
                raise AccountUnknown(code) from error
            if code == "resource_missing" and param in _PAYMENT_PARAMS:
                raise PaymentUnknown(code) from error
            raise PaymentProviderError(
                "the payment provider refused the request"
                if definite
                else "the payment provider did not answer",
                definite=definite,
                stripe_code=code,
            ) from error


def _holds_nul(value: Any) -> bool:
    """Whether a parsed JSON value has U+0000 in any key or string (PostgreSQL's jsonb refuses it)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(key) or _holds_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False
