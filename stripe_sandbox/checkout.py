"""Checkout Sessions: create one in payment mode, read it, expire it (asked, or at ``expires_at``), pay it.

Stripe's rules are enforced as Stripe words them: ``expires_at`` 30 minutes to 24 hours ahead, one currency,
a minimum amount, an application fee only with a destination no larger than the payment. Paying a session
(the hosted page's button) creates its payment intent and charge (see ``charges.py``) and completes it.
"""

from __future__ import annotations

import copy
from typing import Any

from stripe_sandbox import objects
from stripe_sandbox.amounts import MINIMUM_CHARGE, format_amount
from stripe_sandbox.charges import Charges
from stripe_sandbox.errors import StripeError, missing_reference, missing_resource
from stripe_sandbox.events import AUTOMATIC, Events, RequestContext
from stripe_sandbox.forms import enum_param, int_param, list_param, metadata_param, str_param
from stripe_sandbox.lists import list_limit, page
from stripe_sandbox.store import SandboxStore, SessionRecord

# Stripe's bounds for a Checkout Session's life, in seconds from creation.
SESSION_MIN_LIFETIME = 30 * 60
SESSION_MAX_LIFETIME = 24 * 60 * 60


class CheckoutSessions:
    """The account's Checkout Sessions."""

    def __init__(
        self,
        store: SandboxStore,
        events: Events,
        charges: Charges,
        *,
        public_url: str,
        require_onboarded_destination: bool = False,
    ) -> None:
        self._store = store
        self._events = events
        self._charges = charges
        self.public_url = public_url.rstrip("/")
        self.require_onboarded_destination = require_onboarded_destination

    def create(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        """``POST /v1/checkout/sessions`` in payment mode with inline ``price_data`` line items."""
        del ctx  # creating a session emits no event
        with self._store.transaction():
            now = self._store.clock.now()
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
            self._store.changed("checkout_sessions", session_id)
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
        minimum = MINIMUM_CHARGE.get(currency, 1)
        if amount_total < minimum:
            raise StripeError(
                "The Checkout Session's total amount due must add up to at least "
                f"{format_amount(minimum, currency)}",
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
                    f"The application fee ({format_amount(fee, currency)}) cannot be greater than the "
                    f"amount of the payment ({format_amount(amount_total, currency)}).",
                    param=fee_param,
                )
        return fee, destination

    def record(self, session_id: str) -> SessionRecord:
        record = self._store.sessions.get(session_id)
        if record is None:
            raise missing_resource("checkout.session", session_id, "session")
        return record

    def get(self, session_id: str) -> dict[str, Any]:
        """``GET /v1/checkout/sessions/{id}``; an overdue open session is expired first, as on Stripe."""
        with self._store.transaction():
            record = self.record(session_id)
            self._expire_if_due(record)
            return copy.deepcopy(record.obj)

    def line_items(self, session_id: str, params: dict[str, Any]) -> dict[str, Any]:
        """``GET /v1/checkout/sessions/{id}/line_items``."""
        with self._store.transaction():
            record = self.record(session_id)
            limit = list_limit(params)
            window, has_more = page(record.line_items, limit, str_param(params, "starting_after"))
            return objects.list_object(
                f"/v1/checkout/sessions/{session_id}/line_items", copy.deepcopy(window), has_more
            )

    def session_view(self, session_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The session and its line items, for the hosted page."""
        with self._store.transaction():
            record = self.record(session_id)
            self._expire_if_due(record)
            return copy.deepcopy(record.obj), copy.deepcopy(record.line_items)

    def list_page(self, params: dict[str, Any]) -> dict[str, Any]:
        """``GET /v1/checkout/sessions`` newest first, filterable by ``payment_intent`` and ``status``."""
        with self._store.transaction():
            limit = list_limit(params)
            payment_intent = str_param(params, "payment_intent")
            status = enum_param(params, "status", ("open", "complete", "expired"))
            items = [
                r.obj
                for r in reversed(self._store.sessions.values())
                if (payment_intent is None or r.obj["payment_intent"] == payment_intent)
                and (status is None or r.obj["status"] == status)
            ]
            window, has_more = page(items, limit, str_param(params, "starting_after"))
            return objects.list_object("/v1/checkout/sessions", copy.deepcopy(window), has_more)

    def expire(self, session_id: str, ctx: RequestContext) -> dict[str, Any]:
        """``POST /v1/checkout/sessions/{id}/expire`` (and the forced-expiry test control)."""
        with self._store.transaction():
            record = self.record(session_id)
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
        self._store.changed("checkout_sessions", record.obj["id"])
        self._events.emit("checkout.session.expired", record.obj, ctx)

    def _expire_if_due(self, record: SessionRecord) -> bool:
        if record.obj["status"] == "open" and self._store.clock.now() >= record.obj["expires_at"]:
            self._expire(record, AUTOMATIC)
            return True
        return False

    def expire_due(self) -> int:
        """Expire every open session whose ``expires_at`` has passed; returns how many were expired."""
        with self._store.transaction():
            return sum(1 for record in list(self._store.sessions.values()) if self._expire_if_due(record))

    def pay(self, session_id: str, email: str | None = None) -> dict[str, Any]:
        """What the customer's successful card payment on the hosted page does.

        Creates the payment intent, its charge, the platform's application fee and the transfer to the
        destination account, completes the session and emits ``checkout.session.completed``. An expired
        session answers 400 and a completed one 409, so a double submit never pays twice.
        """
        with self._store.transaction():
            record = self.record(session_id)
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
            billing_email = email or session["customer_email"] or "customer@example.com"
            intent_id = self._charges.create_for_session(record, billing_email)
            session["status"] = "complete"
            session["payment_status"] = "paid"
            session["payment_intent"] = intent_id
            session["customer_details"] = {"email": billing_email, "name": None, "phone": None}
            self._store.changed("checkout_sessions", session_id)
            self._events.emit("checkout.session.completed", session, AUTOMATIC)
            return copy.deepcopy(session)
