"""Starting a checkout: quote, hold, one Stripe Checkout Session, and the Idempotency-Key's answer.

The order matters. The quote comes from catalog (never from the client) and the commission and Connect
account from tenant; then booking holds the date, so a second couple is refused before anyone pays; only
then is the session created, with Stripe's idempotency key derived from the hold (one session per hold)
and `expires_at` at the hold's expiry. A failure after the hold releases it (and closes the session if
there is one), so no orphan hold blocks the date.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from mais.booking.v1 import booking_service_pb2 as booking_pb
from mais.catalog.v1 import catalog_service_pb2 as catalog_pb
from mais.tenant.v1 import tenant_service_pb2 as tenant_pb

from mais_runtime.errors import RateLimited
from mais_runtime.ttl_cache import TtlCache
from services.payments.clients import Peers
from services.payments.connect import forget_unknown_account
from services.payments.domain import (
    CheckoutInput,
    check_quote,
    check_replay,
    commission_cents,
    hold_request_id,
    session_expires_at,
    session_idempotency_key,
)
from services.payments.metrics import CHECKOUTS
from services.payments.store import Payment, PaymentsStore, PaymentsTx, utc_now
from services.payments.stripe_adapter import (
    AccountUnknown,
    CreatedSession,
    LineItem,
    SessionSpec,
    StripeAdapter,
)

log = logging.getLogger("mais.payments.checkout")

# How long a tenant's commission and Connect account are reused between checkouts.
TENANT_CACHE_SECONDS = 1.0
# A hold found already released (an earlier attempt with the same Idempotency-Key failed after
# holding) is replaced by a fresh one, at most this many times.
_MAX_HOLD_ATTEMPTS = 3


@dataclass(frozen=True)
class CheckoutAnswer:
    """What the couple's client gets back (and what an Idempotency-Key replays)."""

    booking_id: str
    status: str
    checkout_url: str
    expires_at: datetime
    total_cents: int
    currency: str

    def to_json(self) -> dict[str, Any]:
        """The stored form."""
        return {**asdict(self), "expires_at": self.expires_at.isoformat()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CheckoutAnswer:
        """Back from the stored form."""
        return cls(**{**data, "expires_at": datetime.fromisoformat(data["expires_at"])})


@dataclass(frozen=True)
class RateLimit:
    """At most `attempts` checkouts per tenant and client address in any `window_seconds` (a sliding
    window); 0 is no limit."""

    attempts: int
    window_seconds: int


@dataclass(frozen=True)
class Urls:
    """Where Stripe sends the couple after paying or going back."""

    success: str
    cancel: str


class Checkout:
    """The checkout use case."""

    def __init__(
        self,
        store: PaymentsStore,
        peers: Peers,
        stripe: StripeAdapter,
        default_urls: Urls,
        clock: Callable[[], datetime] = utc_now,
        rate_limit: RateLimit = RateLimit(0, 60),
    ) -> None:
        self._rate_limit = rate_limit
        self._tenants: TtlCache[str, tenant_pb.Tenant] = TtlCache(TENANT_CACHE_SECONDS, 10_000)
        self._store = store
        self._peers = peers
        self._stripe = stripe
        self._default_urls = default_urls
        self._now = clock

    async def start(
        self,
        tenant_id: str,
        request: CheckoutInput,
        *,
        idempotency_key: str,
        request_hash: str,
        urls: Urls | None = None,
        client_ip: str = "",
    ) -> CheckoutAnswer:
        """Runs a checkout; with an Idempotency-Key, at most once per key and body. RATE_LIMITED when
        `client_ip` started too many checkouts of this tenant in the current window."""
        await self._check_rate(tenant_id, client_ip)
        urls = urls or self._default_urls
        request_hash = request_hash or request.fingerprint()
        if not idempotency_key:
            return await self._checkout(tenant_id, request, f"checkout-{uuid.uuid4()}", urls, None)
        # The key's lock is held until the answer is stored, so concurrent requests with one key
        # queue here and the later ones replay the first one's answer: never a second hold.
        async with self._store.tenant(tenant_id) as tx:
            await tx.lock_idempotency_key(tenant_id, idempotency_key)
            stored = await tx.checkout_request(idempotency_key)
            if stored is not None:
                check_replay(stored[0], request_hash)
                return CheckoutAnswer.from_json(stored[1])
            # Derived from the key: if this process dies after holding, the retry finds the same hold.
            # The payment row is written in this same transaction: a checkout never needs a second
            # pooled connection while it holds the key (waiters on the key hold connections too).
            answer = await self._checkout(
                tenant_id, request, hold_request_id(tenant_id, idempotency_key), urls, tx
            )
            await tx.save_checkout_request(
                tenant_id, idempotency_key, request_hash, answer.booking_id, answer.to_json()
            )
            return answer

    async def _check_rate(self, tenant_id: str, client_ip: str) -> None:
        limit = self._rate_limit
        if limit.attempts <= 0 or not client_ip:
            return
        # Its own short transaction: the slot stays taken even when the checkout then fails.
        async with self._store.tenant(tenant_id) as tx:
            wait = await tx.take_checkout_slot(
                tenant_id, client_ip[:64], limit=limit.attempts, window_seconds=limit.window_seconds
            )
        if wait is not None:
            CHECKOUTS.labels(outcome="rate_limited").inc()
            raise RateLimited(
                "too many checkouts from this address; try again later", max(1, math.ceil(wait))
            )

    async def _tenant(self, tenant_id: str) -> tenant_pb.Tenant:
        """The tenant's commission and Connect account, kept for a second: a burst of checkouts asks the
        tenant service once, and a change (commission, onboarding) applies within that second."""
        tenant = self._tenants.get(tenant_id)
        if tenant is None:
            tenant = (
                await self._peers.tenant.GetTenant(tenant_pb.GetTenantRequest(tenant_id=tenant_id))
            ).tenant
            self._tenants.put(tenant_id, tenant)
        return tenant

    async def _checkout(
        self, tenant_id: str, request: CheckoutInput, request_id: str, urls: Urls, tx: PaymentsTx | None
    ) -> CheckoutAnswer:
        tenant = await self._tenant(tenant_id)
        quote = (
            await self._peers.catalog.Quote(
                catalog_pb.QuoteRequest(
                    tenant_id=tenant_id, package_id=request.package_id, add_on_ids=list(request.add_on_ids)
                )
            )
        ).quote
        check_quote(quote.total_cents, (line.price_cents for line in quote.lines), quote.currency)
        booking = await self._hold(tenant_id, request, quote, request_id)
        session: CreatedSession | None = None
        try:
            session = await self._create_session(tenant_id, tenant, quote, request, booking, urls)
            answer = await self._record(tenant_id, tenant, quote, booking, session, tx)
        except Exception:
            CHECKOUTS.labels("failed_after_hold").inc()
            await self._undo_hold(tenant_id, booking.id, session.id if session else "")
            raise
        CHECKOUTS.labels("started").inc()
        return answer

    async def _hold(
        self, tenant_id: str, request: CheckoutInput, quote: catalog_pb.QuoteSnapshot, request_id: str
    ) -> booking_pb.Booking:
        for _ in range(_MAX_HOLD_ATTEMPTS):
            booking = (
                await self._peers.booking.HoldDate(
                    booking_pb.HoldDateRequest(
                        tenant_id=tenant_id,
                        event_date=request.event_date.isoformat(),
                        couple_name=request.couple_name,
                        email=request.email,
                        phone=request.phone,
                        notes=request.notes,
                        quote=quote,
                        request_id=request_id,
                    )
                )
            ).booking
            if booking.status == booking_pb.BOOKING_STATUS_HELD:
                return booking
            # An earlier attempt with this key held, failed and released: hold afresh.
            request_id = f"{request_id[:200]}-after-{booking.id}"
        raise RuntimeError("could not obtain a live hold for this checkout")

    def _onboarded(self, tenant: tenant_pb.Tenant) -> bool:
        return bool(tenant.stripe_account_id) and tenant.connect_state == tenant_pb.CONNECT_STATE_ONBOARDED

    async def _create_session(
        self,
        tenant_id: str,
        tenant: tenant_pb.Tenant,
        quote: catalog_pb.QuoteSnapshot,
        request: CheckoutInput,
        booking: booking_pb.Booking,
        urls: Urls,
    ) -> CreatedSession:
        now = self._now()
        hold_expires = (
            booking.hold_expires_at.ToDatetime(tzinfo=UTC)
            if booking.HasField("hold_expires_at")
            else now + timedelta(minutes=30)
        )
        onboarded = self._onboarded(tenant)
        # A destination charge to an onboarded tenant carries the commission as the application fee;
        # before onboarding the platform charges on its own account (no fee, nothing to transfer).
        fee = commission_cents(quote.total_cents, tenant.commission_bps) if onboarded else 0
        creating = self._stripe.create_checkout_session(
            SessionSpec(
                line_items=tuple(
                    LineItem(line.title or line.slug or "Booking", line.price_cents) for line in quote.lines
                ),
                currency=quote.currency,
                customer_email=request.email,
                client_reference_id=booking.id,
                metadata={"tenant_id": tenant_id, "booking_id": booking.id},
                expires_at=int(session_expires_at(hold_expires, now).timestamp()),
                success_url=urls.success,
                cancel_url=urls.cancel.replace("{BOOKING_ID}", booking.id),
                destination_account=tenant.stripe_account_id if onboarded else None,
                application_fee_cents=fee if fee > 0 else None,
                idempotency_key=session_idempotency_key(tenant_id, booking.id),
            )
        )
        try:
            return await creating
        except AccountUnknown:
            # Stripe forgot the payee (account deleted, sandbox data wiped): say so (TENANT_NOT_ONBOARDED)
            # and let the tenant onboard again, rather than fail every checkout at Stripe.
            await forget_unknown_account(self._peers, tenant_id, tenant.stripe_account_id)
            raise

    async def _record(
        self,
        tenant_id: str,
        tenant: tenant_pb.Tenant,
        quote: catalog_pb.QuoteSnapshot,
        booking: booking_pb.Booking,
        session: CreatedSession,
        tx: PaymentsTx | None,
    ) -> CheckoutAnswer:
        onboarded = self._onboarded(tenant)
        closes_at = datetime.fromtimestamp(session.expires_at, UTC)
        payment = Payment(
            session_id=session.id,
            tenant_id=tenant_id,
            booking_id=booking.id,
            amount_cents=quote.total_cents,
            currency=quote.currency,
            commission_bps=tenant.commission_bps,
            fee_cents=commission_cents(quote.total_cents, tenant.commission_bps) if onboarded else 0,
            destination_account=tenant.stripe_account_id if onboarded else None,
            status="OPEN",
            checkout_url=session.url,
            expires_at=closes_at,
        )
        if tx is not None:
            await tx.insert_payment(payment)
        else:
            async with self._store.tenant(tenant_id) as own:
                await own.insert_payment(payment)
        await self._peers.booking.AttachPaymentSession(
            booking_pb.AttachPaymentSessionRequest(
                tenant_id=tenant_id, booking_id=booking.id, payment_session_id=session.id
            )
        )
        return CheckoutAnswer(
            booking_id=booking.id,
            status="HELD",
            checkout_url=session.url,
            expires_at=closes_at,
            total_cents=quote.total_cents,
            currency=quote.currency,
        )

    async def _undo_hold(self, tenant_id: str, booking_id: str, session_id: str) -> None:
        """Best effort: a session nobody can pay and a hold nobody keeps. If this fails too, the
        session's expiry (checkout.session.expired) or the hold's own expiry frees the date."""
        try:
            if session_id:
                await self._stripe.expire_checkout_session(session_id)
            await self._peers.booking.ReleaseHold(
                booking_pb.ReleaseHoldRequest(
                    tenant_id=tenant_id, booking_id=booking_id, reason="checkout_failed"
                )
            )
        except Exception:
            log.warning("could not undo the hold of a failed checkout", exc_info=True)
