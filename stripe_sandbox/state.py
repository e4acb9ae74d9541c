"""The sandbox's in-memory Stripe account: objects, the rules Stripe enforces on them, the events they emit.

Everything lives in process memory and is lost on restart (it is a sandbox: a fresh start is a fresh Stripe
test account). One re-entrant lock guards all of it. Every operation is synchronous and short, so async
request handlers call them directly without awaiting while holding the lock, and other threads (tests driving
the state in-process) are safe too. Events are stored first, then handed to listeners (the webhook deliverer),
which must not block.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from stripe_sandbox import objects
from stripe_sandbox.clock import Clock
from stripe_sandbox.errors import StripeError, missing_reference, missing_resource
from stripe_sandbox.forms import (
    bool_param,
    enum_param,
    int_param,
    list_param,
    metadata_param,
    str_param,
)
from stripe_sandbox.idempotency import IdempotencyStore

# Stripe's bounds for a Checkout Session's life, in seconds from creation.
SESSION_MIN_LIFETIME = 30 * 60
SESSION_MAX_LIFETIME = 24 * 60 * 60
ACCOUNT_LINK_LIFETIME = 300

# Stripe's minimum charge amounts for the currencies MAIS is likely to use; others only need to be positive.
_MINIMUM_CHARGE = {"usd": 50, "eur": 50, "cad": 50, "aud": 50, "nzd": 50, "chf": 50, "gbp": 30}
_REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")
_ACCOUNT_TYPES = ("express", "standard", "custom")
_LIST_LIMIT_MAX = 100
_EXPAND_MAX_DEPTH = 4


@dataclass(frozen=True)
class RequestContext:
    """What an event records about the API request that caused it (nothing for automatic ones)."""

    request_id: str | None = None
    idempotency_key: str | None = None


AUTOMATIC = RequestContext()


@dataclass
class SessionRecord:
    """A checkout session plus what Stripe keeps about it but does not show on the object."""

    obj: dict[str, Any]
    line_items: list[dict[str, Any]]
    application_fee_amount: int | None
    destination: str | None
    pi_metadata: dict[str, str]
    pi_description: str | None


@dataclass
class ChargeRecord:
    """A charge with its payment intent, application fee and transfer.

    The two ``*_basis`` totals are the refunded amounts that asked for the fee back / the transfer reversed.
    Fee refunds and reversals are computed from these running totals (``round(total * basis / amount)`` minus
    what was already given back), so partial refunds add up exactly to the full fee when the whole charge is
    refunded.
    """

    obj: dict[str, Any]
    payment_intent: dict[str, Any]
    fee: dict[str, Any] | None
    transfer: dict[str, Any] | None
    fee_refund_basis: int = 0
    reversal_basis: int = 0


@dataclass
class AccountLinkRecord:
    """A one-time onboarding link for a connected account."""

    token: str
    account_id: str
    refresh_url: str
    return_url: str
    expires_at: int
    used: bool = False


@dataclass
class _Store:
    sessions: dict[str, SessionRecord] = field(default_factory=dict)
    charges: dict[str, ChargeRecord] = field(default_factory=dict)
    charge_by_payment_intent: dict[str, str] = field(default_factory=dict)
    charge_by_fee: dict[str, str] = field(default_factory=dict)
    charge_by_transfer: dict[str, str] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    links: dict[str, AccountLinkRecord] = field(default_factory=dict)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)


def _round_half_up(numerator: int, denominator: int) -> int:
    return (2 * numerator + denominator) // (2 * denominator)


def _proportional(total: int, part: int, whole: int) -> int:
    """``total * part / whole`` rounded half up, in integer arithmetic (money never touches floats)."""
    return _round_half_up(total * part, whole)


def _format_amount(amount: int, currency: str) -> str:
    return f"{currency.upper()} {amount / 100:.2f}"


def _page(
    items: list[dict[str, Any]], limit: int, starting_after: str | None, param: str = "starting_after"
) -> tuple[list[dict[str, Any]], bool]:
    """Cursor pagination over newest-first items, as Stripe lists do."""
    start = 0
    if starting_after is not None:
        ids = [item["id"] for item in items]
        if starting_after not in ids:
            raise missing_reference("object", starting_after, param)
        start = ids.index(starting_after) + 1
    window = items[start : start + limit]
    return window, start + limit < len(items)


def _limit(params: dict[str, Any]) -> int:
    limit = int_param(params, "limit", minimum=1)
    if limit is None:
        return 10
    if limit > _LIST_LIMIT_MAX:
        raise StripeError(f"This value must be less than or equal to {_LIST_LIMIT_MAX}.", param="limit")
    return limit


class SandboxState:
    """All objects of the sandbox's Stripe account and the operations the API exposes on them."""

    def __init__(
        self,
        *,
        public_url: str,
        clock: Clock | None = None,
        require_onboarded_destination: bool = False,
    ) -> None:
        self.lock = threading.RLock()
        self.clock = clock or Clock()
        self.idempotency = IdempotencyStore()
        self.public_url = public_url.rstrip("/")
        self.require_onboarded_destination = require_onboarded_destination
        self._store = _Store()
        self._listeners: list[Callable[[str], None]] = []
        # Whether a webhook endpoint exists decides each new event's ``pending_webhooks``.
        self.endpoint_count: Callable[[], int] = lambda: 0

    # ------------------------------------------------------------------ events

    def add_listener(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(event_id)`` after each new event is stored; it must return quickly."""
        self._listeners.append(listener)

    def _emit(
        self,
        event_type: str,
        data_object: dict[str, Any],
        ctx: RequestContext,
        *,
        account_id: str | None = None,
        previous_attributes: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        event = objects.event(
            event_type=event_type,
            created=self.clock.now(),
            # A snapshot: later changes to the object must not rewrite history already sent.
            data_object=copy.deepcopy(data_object),
            previous_attributes=previous_attributes,
            account_id=account_id,
            request_id=ctx.request_id,
            idempotency_key=ctx.idempotency_key,
            pending_webhooks=self.endpoint_count(),
        )
        self._store.events[event["id"]] = event
        for listener in self._listeners:
            listener(event["id"])
        return event

    def get_event(self, event_id: str) -> dict[str, Any]:
        """One event by id (404 when unknown)."""
        with self.lock:
            event = self._store.events.get(event_id)
            if event is None:
                raise missing_resource("event", event_id)
            return copy.deepcopy(event)

    def list_events(self, params: dict[str, Any]) -> dict[str, Any]:
        """Events newest first, with Stripe's ``limit``/``starting_after`` and a ``type`` filter."""
        with self.lock:
            limit = _limit(params)
            wanted = str_param(params, "type")
            items = [
                e
                for e in reversed(self._store.events.values())
                if wanted is None
                or e["type"] == wanted
                or (wanted.endswith(".*") and e["type"].startswith(wanted[:-1]))
            ]
            window, has_more = _page(items, limit, str_param(params, "starting_after"))
            return objects.list_object("/v1/events", copy.deepcopy(window), has_more)

    def event_payload(self, event_id: str) -> bytes:
        """The exact bytes sent to webhook endpoints for an event (Stripe pretty-prints with two spaces)."""
        with self.lock:
            event = self._store.events.get(event_id)
            if event is None:
                raise missing_resource("event", event_id)
            return json.dumps(event, indent=2).encode("utf-8")

    def event_summary(self, event_id: str) -> tuple[str, int] | None:
        """``(type, pending_webhooks)`` of an event, or ``None`` when unknown."""
        with self.lock:
            event = self._store.events.get(event_id)
            return None if event is None else (event["type"], event["pending_webhooks"])

    def mark_delivered(self, event_id: str) -> None:
        """Record that the endpoint acknowledged the event (Stripe then shows ``pending_webhooks: 0``)."""
        with self.lock:
            event = self._store.events.get(event_id)
            if event is not None:
                event["pending_webhooks"] = 0

    # ------------------------------------------------------- checkout sessions

    def create_checkout_session(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        """``POST /v1/checkout/sessions`` in payment mode with inline ``price_data`` line items."""
        del ctx  # creating a session emits no event
        with self.lock:
            now = self.clock.now()
            mode = enum_param(params, "mode", ("payment", "setup", "subscription"), default="payment")
            if mode != "payment":
                raise StripeError("The sandbox supports only `mode=payment`.", param="mode")
            success_url = str_param(params, "success_url", required=True)
            assert success_url is not None
            cancel_url = str_param(params, "cancel_url")
            line_items, currency, amount_total = self._session_line_items(params, now)
            expires_at = int_param(params, "expires_at")
            if expires_at is None:
                expires_at = now + SESSION_MAX_LIFETIME
            if expires_at < now + SESSION_MIN_LIFETIME:
                raise StripeError(
                    "The `expires_at` timestamp must be at least 30 minutes from Checkout Session creation.",
                    param="expires_at",
                )
            if expires_at > now + SESSION_MAX_LIFETIME:
                raise StripeError(
                    "The `expires_at` timestamp must be less than 24 hours from Checkout Session creation.",
                    param="expires_at",
                )
            customer_email = str_param(params, "customer_email")
            if customer_email is not None and "@" not in customer_email:
                raise StripeError(f"Invalid email address: {customer_email}", param="customer_email")
            client_reference_id = str_param(params, "client_reference_id")
            if client_reference_id is not None and len(client_reference_id) > 200:
                raise StripeError(
                    "client_reference_id must be at most 200 characters.", param="client_reference_id"
                )
            fee, destination = self._session_connect_params(params, amount_total, currency)

            session_id = objects.new_id("cs_test", 40)
            session = objects.checkout_session(
                session_id=session_id,
                created=now,
                expires_at=expires_at,
                url=f"{self.public_url}/pay/{session_id}",
                amount_total=amount_total,
                currency=currency,
                success_url=success_url,
                cancel_url=cancel_url,
                customer_email=customer_email,
                client_reference_id=client_reference_id,
                metadata=metadata_param(params),
            )
            self._store.sessions[session_id] = SessionRecord(
                obj=session,
                line_items=line_items,
                application_fee_amount=fee,
                destination=destination,
                pi_metadata=metadata_param(params, "payment_intent_data[metadata]"),
                pi_description=str_param(params, "payment_intent_data[description]"),
            )
            return copy.deepcopy(session)

    def _session_line_items(self, params: dict[str, Any], now: int) -> tuple[list[dict[str, Any]], str, int]:
        raw_items = list_param(params, "line_items")
        if not raw_items:
            raise StripeError("You must specify `line_items` in `payment` mode.", param="line_items")
        items: list[dict[str, Any]] = []
        currency: str | None = None
        for index, raw in enumerate(raw_items):
            prefix = f"line_items[{index}]"
            if not isinstance(raw, dict):
                raise StripeError(f"Invalid object: {prefix}", param=prefix)
            if str_param(raw, "price") is not None:
                raise missing_reference("price", str(raw["price"]), f"{prefix}[price]")
            quantity = int_param(raw, "quantity", minimum=1)
            if quantity is None:
                raise StripeError(
                    f"Missing required param: {prefix}[quantity].",
                    code="parameter_missing",
                    param=f"{prefix}[quantity]",
                )
            if not isinstance(raw.get("price_data"), dict):
                raise StripeError(
                    f"You must specify either `price` or `price_data` in {prefix}.",
                    param=f"{prefix}[price_data]",
                )
            price_data: dict[str, Any] = raw["price_data"]
            item_currency = str_param(price_data, "currency")
            if item_currency is None:
                raise StripeError(
                    f"Missing required param: {prefix}[price_data][currency].",
                    code="parameter_missing",
                    param=f"{prefix}[price_data][currency]",
                )
            item_currency = item_currency.lower()
            if currency is not None and item_currency != currency:
                raise StripeError(
                    "All line items must use the same currency.", param=f"{prefix}[price_data][currency]"
                )
            currency = item_currency
            unit_amount = int_param(price_data, "unit_amount", minimum=0)
            if unit_amount is None:
                raise StripeError(
                    f"Missing required param: {prefix}[price_data][unit_amount].",
                    code="parameter_missing",
                    param=f"{prefix}[price_data][unit_amount]",
                )
            if str_param(price_data, "product") is not None:
                raise missing_reference(
                    "product", str(price_data["product"]), f"{prefix}[price_data][product]"
                )
            name = str_param(price_data, "product_data[name]")
            if name is None:
                raise StripeError(
                    f"Missing required param: {prefix}[price_data][product_data][name].",
                    code="parameter_missing",
                    param=f"{prefix}[price_data][product_data][name]",
                )
            items.append(
                objects.line_item(
                    name=name,
                    description=str_param(price_data, "product_data[description]"),
                    currency=item_currency,
                    unit_amount=unit_amount,
                    quantity=quantity,
                    created=now,
                )
            )
        assert currency is not None
        amount_total = sum(item["amount_total"] for item in items)
        minimum = _MINIMUM_CHARGE.get(currency, 1)
        if amount_total < minimum:
            raise StripeError(
                "The Checkout Session's total amount due must add up to at least "
                f"{_format_amount(minimum, currency)}",
                code="amount_too_small",
                param="line_items",
            )
        return items, currency, amount_total

    def _session_connect_params(
        self, params: dict[str, Any], amount_total: int, currency: str
    ) -> tuple[int | None, str | None]:
        fee_param = "payment_intent_data[application_fee_amount]"
        dest_param = "payment_intent_data[transfer_data][destination]"
        fee = int_param(params, fee_param, minimum=0)
        destination = str_param(params, dest_param)
        if destination is not None:
            account = self._store.accounts.get(destination)
            if account is None:
                raise missing_reference("destination", destination, dest_param)
            if self.require_onboarded_destination and account["capabilities"].get("transfers") != "active":
                raise StripeError(
                    "Your destination account needs to have at least one of the following capabilities "
                    "enabled: transfers, crypto_transfers, legacy_payments",
                    code="insufficient_capabilities_for_transfer",
                    param=dest_param,
                )
        if fee is not None:
            if destination is None:
                raise StripeError(
                    "Can only apply an application_fee_amount when the PaymentIntent is attempting a direct "
                    "payment (using an OAuth key or Stripe-Account header) or destination payment (using "
                    "`transfer_data[destination]`).",
                    param=fee_param,
                )
            if fee > amount_total:
                raise StripeError(
                    f"The application fee ({_format_amount(fee, currency)}) cannot be greater than the "
                    f"amount of the payment ({_format_amount(amount_total, currency)}).",
                    param=fee_param,
                )
        return fee, destination

    def _session(self, session_id: str) -> SessionRecord:
        record = self._store.sessions.get(session_id)
        if record is None:
            raise missing_resource("checkout.session", session_id, "session")
        return record

    def get_checkout_session(self, session_id: str) -> dict[str, Any]:
        """``GET /v1/checkout/sessions/{id}``; an overdue open session is expired first, as on Stripe."""
        with self.lock:
            record = self._session(session_id)
            self._expire_if_due(record)
            return copy.deepcopy(record.obj)

    def get_checkout_session_line_items(self, session_id: str, params: dict[str, Any]) -> dict[str, Any]:
        """``GET /v1/checkout/sessions/{id}/line_items``."""
        with self.lock:
            record = self._session(session_id)
            limit = _limit(params)
            window, has_more = _page(record.line_items, limit, str_param(params, "starting_after"))
            return objects.list_object(
                f"/v1/checkout/sessions/{session_id}/line_items", copy.deepcopy(window), has_more
            )

    def session_view(self, session_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The session and its line items, for the hosted page."""
        with self.lock:
            record = self._session(session_id)
            self._expire_if_due(record)
            return copy.deepcopy(record.obj), copy.deepcopy(record.line_items)

    def list_checkout_sessions(self, params: dict[str, Any]) -> dict[str, Any]:
        """``GET /v1/checkout/sessions`` newest first, filterable by ``payment_intent`` and ``status``."""
        with self.lock:
            limit = _limit(params)
            payment_intent = str_param(params, "payment_intent")
            status = enum_param(params, "status", ("open", "complete", "expired"))
            items = [
                r.obj
                for r in reversed(self._store.sessions.values())
                if (payment_intent is None or r.obj["payment_intent"] == payment_intent)
                and (status is None or r.obj["status"] == status)
            ]
            window, has_more = _page(items, limit, str_param(params, "starting_after"))
            return objects.list_object("/v1/checkout/sessions", copy.deepcopy(window), has_more)

    def expire_checkout_session(self, session_id: str, ctx: RequestContext) -> dict[str, Any]:
        """``POST /v1/checkout/sessions/{id}/expire`` (and the forced-expiry test control)."""
        with self.lock:
            record = self._session(session_id)
            self._expire_if_due(record)
            status = record.obj["status"]
            if status != "open":
                raise StripeError(
                    'Only Checkout Sessions with a status in ["open"] can be expired. This Checkout Session '
                    f'has a status of "{status}".',
                    param="session",
                )
            self._expire(record, ctx)
            return copy.deepcopy(record.obj)

    def _expire(self, record: SessionRecord, ctx: RequestContext) -> None:
        record.obj["status"] = "expired"
        self._emit("checkout.session.expired", record.obj, ctx)

    def _expire_if_due(self, record: SessionRecord) -> bool:
        if record.obj["status"] == "open" and self.clock.now() >= record.obj["expires_at"]:
            self._expire(record, AUTOMATIC)
            return True
        return False

    def expire_due_sessions(self) -> int:
        """Expire every open session whose ``expires_at`` has passed; returns how many were expired."""
        with self.lock:
            return sum(1 for record in list(self._store.sessions.values()) if self._expire_if_due(record))

    def pay_checkout_session(self, session_id: str, email: str | None = None) -> dict[str, Any]:
        """What the customer's successful card payment on the hosted page does.

        Creates the payment intent, its charge, the platform's application fee and the transfer to the
        destination account, completes the session and emits ``checkout.session.completed``. An expired
        session answers 400 and a completed one 409, so a double submit never pays twice.
        """
        with self.lock:
            record = self._session(session_id)
            self._expire_if_due(record)
            session = record.obj
            if session["status"] == "expired":
                raise StripeError(
                    "This Checkout Session has expired and can no longer be paid.",
                    code="checkout_session_expired",
                    param="session",
                )
            if session["status"] == "complete":
                raise StripeError(
                    "This Checkout Session is already complete; it was paid once and cannot be paid again.",
                    status=409,
                    code="checkout_session_already_completed",
                    param="session",
                )
            now = self.clock.now()
            amount = session["amount_total"]
            currency = session["currency"]
            billing_email = email or session["customer_email"] or "customer@example.com"
            charge_id = objects.new_id("ch")
            fee_id = objects.new_id("fee") if record.application_fee_amount is not None else None
            transfer_id = objects.new_id("tr") if record.destination is not None else None
            intent = objects.payment_intent(
                created=now,
                amount=amount,
                currency=currency,
                application_fee_amount=record.application_fee_amount,
                destination=record.destination,
                charge_id=charge_id,
                metadata=dict(record.pi_metadata),
                description=record.pi_description,
            )
            charge = objects.charge(
                charge_id=charge_id,
                created=now,
                amount=amount,
                currency=currency,
                payment_intent_id=intent["id"],
                application_fee_id=fee_id,
                application_fee_amount=record.application_fee_amount,
                destination=record.destination,
                transfer_id=transfer_id,
                metadata=dict(record.pi_metadata),
                billing_email=billing_email,
            )
            fee = None
            if (
                fee_id is not None
                and record.destination is not None
                and record.application_fee_amount is not None
            ):
                fee = objects.application_fee(
                    fee_id=fee_id,
                    created=now,
                    amount=record.application_fee_amount,
                    currency=currency,
                    charge_id=charge_id,
                    account=record.destination,
                )
                self._store.charge_by_fee[fee_id] = charge_id
            transfer = None
            if transfer_id is not None and record.destination is not None:
                # A destination charge moves the amount minus the platform's fee to the connected account.
                transfer = objects.transfer(
                    transfer_id=transfer_id,
                    created=now,
                    amount=amount - (record.application_fee_amount or 0),
                    currency=currency,
                    destination=record.destination,
                    charge_id=charge_id,
                )
                self._store.charge_by_transfer[transfer_id] = charge_id
            self._store.charges[charge_id] = ChargeRecord(
                obj=charge, payment_intent=intent, fee=fee, transfer=transfer
            )
            self._store.charge_by_payment_intent[intent["id"]] = charge_id

            session["status"] = "complete"
            session["payment_status"] = "paid"
            session["payment_intent"] = intent["id"]
            session["customer_details"] = {"email": billing_email, "name": None, "phone": None}
            self._emit("checkout.session.completed", session, AUTOMATIC)
            return copy.deepcopy(session)

    # --------------------------------------------------- payments and charges

    def _charge(self, charge_id: str, *, param: str | None = None) -> ChargeRecord:
        record = self._store.charges.get(charge_id)
        if record is None:
            if param is not None:
                raise missing_reference("charge", charge_id, param)
            raise missing_resource("charge", charge_id, "charge")
        return record

    def _charge_for_intent(self, intent_id: str, *, param: str | None = None) -> ChargeRecord:
        charge_id = self._store.charge_by_payment_intent.get(intent_id)
        if charge_id is None:
            if param is not None:
                raise missing_reference("payment_intent", intent_id, param)
            raise missing_resource("payment_intent", intent_id, "intent")
        return self._store.charges[charge_id]

    def get_payment_intent(self, intent_id: str) -> dict[str, Any]:
        """``GET /v1/payment_intents/{id}``."""
        with self.lock:
            return copy.deepcopy(self._charge_for_intent(intent_id).payment_intent)

    def get_charge(self, charge_id: str) -> dict[str, Any]:
        """``GET /v1/charges/{id}``."""
        with self.lock:
            return copy.deepcopy(self._charge(charge_id).obj)

    def get_application_fee(self, fee_id: str) -> dict[str, Any]:
        """``GET /v1/application_fees/{id}``."""
        with self.lock:
            charge_id = self._store.charge_by_fee.get(fee_id)
            if charge_id is None:
                raise missing_resource("application_fee", fee_id)
            return copy.deepcopy(self._store.charges[charge_id].fee)  # type: ignore[arg-type]

    def get_transfer(self, transfer_id: str) -> dict[str, Any]:
        """``GET /v1/transfers/{id}``."""
        with self.lock:
            charge_id = self._store.charge_by_transfer.get(transfer_id)
            if charge_id is None:
                raise missing_resource("transfer", transfer_id)
            return copy.deepcopy(self._store.charges[charge_id].transfer)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ refunds

    def create_refund(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        """``POST /v1/refunds`` against a payment intent or a charge; emits ``charge.refunded``.

        ``amount`` defaults to what is left. ``refund_application_fee`` gives the platform fee back in
        proportion to the refunded amount (all of it when the whole charge is refunded); ``reverse_transfer``
        pulls the connected account's share back in the same proportion.
        """
        with self.lock:
            intent_id = str_param(params, "payment_intent")
            charge_id = str_param(params, "charge")
            if intent_id is None and charge_id is None:
                raise StripeError(
                    "One of `charge` or `payment_intent` is required.",
                    code="parameter_missing",
                    param="charge",
                )
            if charge_id is not None:
                record = self._charge(charge_id, param="charge")
                if intent_id is not None and record.payment_intent["id"] != intent_id:
                    raise StripeError(
                        f"The charge {charge_id} does not belong to the PaymentIntent {intent_id}.",
                        param="payment_intent",
                    )
            else:
                assert intent_id is not None
                record = self._charge_for_intent(intent_id, param="payment_intent")
            charge = record.obj
            remaining = charge["amount"] - charge["amount_refunded"]
            if remaining <= 0:
                raise StripeError(
                    f"Charge {charge['id']} has already been refunded.",
                    code="charge_already_refunded",
                    param="charge",
                )
            amount = int_param(params, "amount", minimum=1)
            if amount is None:
                amount = remaining
            if amount > remaining:
                raise StripeError(
                    f"Refund amount ({_format_amount(amount, charge['currency'])}) is greater than "
                    f"unrefunded amount on charge ({_format_amount(remaining, charge['currency'])})",
                    code="amount_too_large",
                    param="amount",
                )
            reason = enum_param(params, "reason", _REFUND_REASONS)
            metadata = metadata_param(params)
            refund_fee = bool_param(params, "refund_application_fee")
            reverse = bool_param(params, "reverse_transfer")
            if reverse and record.transfer is None:
                raise StripeError(
                    "This charge has no transfer to reverse; reverse_transfer is for destination charges.",
                    param="reverse_transfer",
                )
            now = self.clock.now()
            previous = {"amount_refunded": charge["amount_refunded"], "refunded": charge["refunded"]}
            charge["amount_refunded"] += amount
            charge["refunded"] = charge["amount_refunded"] == charge["amount"]

            if refund_fee and record.fee is not None:
                record.fee_refund_basis += amount
                self._refund_fee(record, now)
            reversal_id = None
            if reverse and record.transfer is not None:
                record.reversal_basis += amount
                reversal_id = self._reverse_transfer(record)

            refund = objects.refund(
                created=now,
                amount=amount,
                currency=charge["currency"],
                charge_id=charge["id"],
                payment_intent_id=record.payment_intent["id"],
                reason=reason,
                metadata=metadata,
                transfer_reversal_id=reversal_id,
            )
            self._store.refunds[refund["id"]] = refund
            self._emit("charge.refunded", charge, ctx, previous_attributes=previous)
            return copy.deepcopy(refund)

    def _refund_fee(self, record: ChargeRecord, now: int) -> None:
        fee = record.fee
        assert fee is not None
        target = _proportional(fee["amount"], record.fee_refund_basis, record.obj["amount"])
        increment = min(target - fee["amount_refunded"], fee["amount"] - fee["amount_refunded"])
        if increment <= 0:
            return
        fee["amount_refunded"] += increment
        fee["refunded"] = fee["amount_refunded"] == fee["amount"]
        refunds = fee["refunds"]
        refunds["data"].insert(
            0, objects.fee_refund(created=now, amount=increment, currency=fee["currency"], fee_id=fee["id"])
        )
        refunds["total_count"] = len(refunds["data"])

    def _reverse_transfer(self, record: ChargeRecord) -> str | None:
        transfer = record.transfer
        assert transfer is not None
        target = _proportional(transfer["amount"], record.reversal_basis, record.obj["amount"])
        increment = min(
            target - transfer["amount_reversed"], transfer["amount"] - transfer["amount_reversed"]
        )
        if increment <= 0:
            return None
        transfer["amount_reversed"] += increment
        transfer["reversed"] = transfer["amount_reversed"] == transfer["amount"]
        return objects.new_id("trr")

    def list_refunds(self, params: dict[str, Any]) -> dict[str, Any]:
        """``GET /v1/refunds`` newest first, filterable by ``charge`` and ``payment_intent``."""
        with self.lock:
            limit = _limit(params)
            charge_id = str_param(params, "charge")
            intent_id = str_param(params, "payment_intent")
            items = [
                r
                for r in reversed(self._store.refunds.values())
                if (charge_id is None or r["charge"] == charge_id)
                and (intent_id is None or r["payment_intent"] == intent_id)
            ]
            window, has_more = _page(items, limit, str_param(params, "starting_after"))
            return objects.list_object("/v1/refunds", copy.deepcopy(window), has_more)

    def _fee(self, fee_id: str) -> ChargeRecord:
        charge_id = self._store.charge_by_fee.get(fee_id)
        if charge_id is None:
            raise missing_resource("application_fee", fee_id)
        return self._store.charges[charge_id]

    def create_fee_refund(self, fee_id: str, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        """``POST /v1/application_fees/{id}/refunds``: give back part or all of the platform's fee.

        ``amount`` defaults to what is left of the fee; more than that is refused as Stripe refuses it.
        Emits ``application_fee.refunded``.
        """
        with self.lock:
            record = self._fee(fee_id)
            fee = record.fee
            assert fee is not None
            remaining = fee["amount"] - fee["amount_refunded"]
            if remaining <= 0:
                raise StripeError(
                    f"Application fee {fee_id} has already been refunded.",
                    code="charge_already_refunded",
                    param="id",
                )
            amount = int_param(params, "amount", minimum=1)
            if amount is None:
                amount = remaining
            if amount > remaining:
                raise StripeError(
                    f"Refund amount ({_format_amount(amount, fee['currency'])}) is greater than unrefunded "
                    f"amount on fee ({_format_amount(remaining, fee['currency'])})",
                    code="amount_too_large",
                    param="amount",
                )
            previous = {"amount_refunded": fee["amount_refunded"], "refunded": fee["refunded"]}
            fee["amount_refunded"] += amount
            fee["refunded"] = fee["amount_refunded"] == fee["amount"]
            fee_refund = objects.fee_refund(
                created=self.clock.now(), amount=amount, currency=fee["currency"], fee_id=fee_id
            )
            fee_refund["metadata"] = metadata_param(params)
            refunds = fee["refunds"]
            refunds["data"].insert(0, fee_refund)
            refunds["total_count"] = len(refunds["data"])
            self._emit("application_fee.refunded", fee, ctx, previous_attributes=previous)
            return copy.deepcopy(fee_refund)

    def list_fee_refunds(self, fee_id: str, params: dict[str, Any]) -> dict[str, Any]:
        """``GET /v1/application_fees/{id}/refunds`` newest first."""
        with self.lock:
            fee = self._fee(fee_id).fee
            assert fee is not None
            limit = _limit(params)
            window, has_more = _page(fee["refunds"]["data"], limit, str_param(params, "starting_after"))
            return objects.list_object(
                f"/v1/application_fees/{fee_id}/refunds", copy.deepcopy(window), has_more
            )

    def get_refund(self, refund_id: str) -> dict[str, Any]:
        """``GET /v1/refunds/{id}``."""
        with self.lock:
            refund = self._store.refunds.get(refund_id)
            if refund is None:
                raise missing_resource("refund", refund_id, "refund")
            return copy.deepcopy(refund)

    # ------------------------------------------------------------------ connect

    def create_account(self, params: dict[str, Any]) -> dict[str, Any]:
        """``POST /v1/accounts``: a connected account that cannot take charges until onboarded."""
        with self.lock:
            account_type = enum_param(params, "type", _ACCOUNT_TYPES, default="express")
            assert account_type is not None
            country = (str_param(params, "country") or "US").upper()
            if len(country) != 2 or not country.isalpha():
                raise StripeError(
                    f"Country '{country}' is unknown. Try using a 2-character code.", param="country"
                )
            email = str_param(params, "email")
            if email is not None and "@" not in email:
                raise StripeError(f"Invalid email address: {email}", param="email")
            account = objects.account(
                created=self.clock.now(),
                account_type=account_type,
                country=country,
                email=email,
                metadata=metadata_param(params),
            )
            self._store.accounts[account["id"]] = account
            return copy.deepcopy(account)

    def _account(self, account_id: str) -> dict[str, Any]:
        account = self._store.accounts.get(account_id)
        if account is None:
            raise missing_resource("account", account_id, "account")
        return account

    def get_account(self, account_id: str) -> dict[str, Any]:
        """``GET /v1/accounts/{id}``."""
        with self.lock:
            return copy.deepcopy(self._account(account_id))

    def update_account(self, account_id: str, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        """``POST /v1/accounts/{id}``: email and metadata (merged; blank values remove keys, as on Stripe)."""
        with self.lock:
            account = self._account(account_id)
            previous: dict[str, Any] = {}
            email = str_param(params, "email")
            if email is not None:
                previous["email"] = account["email"]
                account["email"] = email
            raw_metadata = params.get("metadata")
            if isinstance(raw_metadata, dict):
                previous["metadata"] = dict(account["metadata"])
                merged = {**account["metadata"], **metadata_param(params)}
                for key, value in raw_metadata.items():
                    if value == "":
                        merged.pop(key, None)
                account["metadata"] = merged
            if previous:
                self._emit(
                    "account.updated", account, ctx, account_id=account_id, previous_attributes=previous
                )
            return copy.deepcopy(account)

    def create_account_link(self, params: dict[str, Any]) -> dict[str, Any]:
        """``POST /v1/account_links``: a short-lived onboarding URL served by the sandbox itself."""
        with self.lock:
            account_id = str_param(params, "account", required=True)
            assert account_id is not None
            if account_id not in self._store.accounts:
                raise missing_reference("account", account_id, "account")
            if enum_param(params, "type", ("account_onboarding", "account_update")) is None:
                raise StripeError("Missing required param: type.", code="parameter_missing", param="type")
            refresh_url = str_param(params, "refresh_url", required=True)
            return_url = str_param(params, "return_url", required=True)
            assert refresh_url is not None and return_url is not None
            now = self.clock.now()
            token = objects.new_id("link", 32)
            link = AccountLinkRecord(token, account_id, refresh_url, return_url, now + ACCOUNT_LINK_LIFETIME)
            self._store.links[token] = link
            return {
                "object": "account_link",
                "created": now,
                "expires_at": link.expires_at,
                "url": f"{self.public_url}/connect/onboard/{token}",
            }

    def account_link(self, token: str) -> AccountLinkRecord | None:
        """The link behind an onboarding URL, if it exists."""
        with self.lock:
            link = self._store.links.get(token)
            return None if link is None else copy.copy(link)

    def use_account_link(self, token: str) -> tuple[str, bool]:
        """Complete onboarding through a link: ``(redirect URL, onboarded)``.

        Like Stripe, a link works once and only until it expires; otherwise the user is sent to
        ``refresh_url`` to get a fresh one.
        """
        with self.lock:
            link = self._store.links.get(token)
            if link is None:
                raise missing_resource("account_link", token)
            if link.used or self.clock.now() >= link.expires_at:
                return link.refresh_url, False
            link.used = True
            self.onboard_account(link.account_id)
            return link.return_url, True

    def onboard_account(self, account_id: str) -> dict[str, Any]:
        """Mark an account fully onboarded and emit ``account.updated`` (a no-op when it already is)."""
        with self.lock:
            account = self._account(account_id)
            if account["charges_enabled"] and account["payouts_enabled"] and account["details_submitted"]:
                return copy.deepcopy(account)
            previous = {
                "capabilities": dict(account["capabilities"]),
                "charges_enabled": account["charges_enabled"],
                "details_submitted": account["details_submitted"],
                "payouts_enabled": account["payouts_enabled"],
                "requirements": copy.deepcopy(account["requirements"]),
            }
            account["capabilities"] = {"card_payments": "active", "transfers": "active"}
            account["charges_enabled"] = True
            account["payouts_enabled"] = True
            account["details_submitted"] = True
            account["requirements"] = {"currently_due": [], "disabled_reason": None, "past_due": []}
            self._emit(
                "account.updated", account, AUTOMATIC, account_id=account_id, previous_attributes=previous
            )
            return copy.deepcopy(account)

    # ------------------------------------------------------------------- expand

    def expand(self, obj: dict[str, Any], paths: list[Any]) -> dict[str, Any]:
        """Apply Stripe's ``expand[]``: replace id fields (dotted paths, ``data.`` for lists) with objects.

        Expanding a null field leaves it null; a field that is not an id of a known object is refused, as
        Stripe refuses it. ``line_items`` on a checkout session expands to its line-item list.
        """
        with self.lock:
            for path in paths:
                if not isinstance(path, str) or not path:
                    raise StripeError("Invalid expand value.", param="expand")
                parts = path.split(".")
                if len(parts) > _EXPAND_MAX_DEPTH:
                    raise StripeError(
                        f"You cannot expand more than {_EXPAND_MAX_DEPTH} levels of a property.",
                        param="expand",
                    )
                self._expand_path(obj, parts, path)
            return obj

    def _expand_path(self, node: dict[str, Any], parts: list[str], full: str) -> None:
        head, rest = parts[0], parts[1:]
        if node.get("object") == "list" and head == "data":
            for item in node["data"]:
                if rest:
                    self._expand_path(item, rest, full)
            return
        value = node.get(head)
        if head == "line_items" and node.get("object") == "checkout.session":
            record = self._session(node["id"])
            value = objects.list_object(
                f"/v1/checkout/sessions/{node['id']}/line_items", copy.deepcopy(record.line_items), False
            )
            node[head] = value
        elif head not in node:
            raise StripeError(f"This property cannot be expanded ({full}).", param="expand")
        elif isinstance(value, str):
            resolved = self._resolve(value)
            if resolved is None:
                raise StripeError(f"This property cannot be expanded ({full}).", param="expand")
            node[head] = value = resolved
        if rest and isinstance(value, dict):
            self._expand_path(value, rest, full)

    def _resolve(self, object_id: str) -> dict[str, Any] | None:
        store = self._store
        found: dict[str, Any] | None = None
        if object_id in store.charge_by_payment_intent:
            found = store.charges[store.charge_by_payment_intent[object_id]].payment_intent
        elif object_id in store.charges:
            found = store.charges[object_id].obj
        elif object_id in store.charge_by_fee:
            found = store.charges[store.charge_by_fee[object_id]].fee
        elif object_id in store.charge_by_transfer:
            found = store.charges[store.charge_by_transfer[object_id]].transfer
        elif object_id in store.sessions:
            found = store.sessions[object_id].obj
        else:
            found = store.accounts.get(object_id) or store.refunds.get(object_id)
        return None if found is None else copy.deepcopy(found)

    # ------------------------------------------------------------------- health

    def counts(self) -> dict[str, int]:
        """How many objects of each kind exist (for the health endpoint)."""
        with self.lock:
            return {
                "checkout_sessions": len(self._store.sessions),
                "charges": len(self._store.charges),
                "refunds": len(self._store.refunds),
                "accounts": len(self._store.accounts),
                "events": len(self._store.events),
            }
