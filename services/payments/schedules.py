"""Payment schedules' use cases: what a couple would pay and when (before checkout), a booking's
schedule, and the couple's balance checkout.

The balance checkout keeps one open session per instalment at a time. The instalment's row is locked
for the whole call (two clicks at once queue there); an OPEN session that still leaves the couple time
to pay is answered again; one about to close is closed at Stripe first (paid meanwhile: its webhook
settles it, and the couple gets it again), so of an instalment's sessions only one can ever be paid
at a time. Stripe's idempotency key names the booking, the instalment and the attempt: a retry after
a crash gets the same session back, and a new attempt after an expiry gets a new one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from mais_runtime.errors import PreconditionFailed, ValidationError
from mais_runtime.payment_policy import PaymentPolicy
from services.payments.checkout import Checkout, Urls, tenant_zone
from services.payments.clients import Bookings, CatalogQuotes, TenantPayees
from services.payments.domain import (
    BookingStatus,
    PaymentStatus,
    commission_cents,
    instalment_session_key,
)
from services.payments.domain.checkout import MAX_ADD_ONS
from services.payments.domain.instalments import Instalment
from services.payments.domain.schedule import PlannedInstalment
from services.payments.store import Payment, PaymentsStore, utc_now
from services.payments.stripe_adapter import LineItem, SessionAlreadyPaid, SessionSpec, StripeAdapter

# An open balance session with at least this much time left is answered again.
REUSE_MIN_LEFT = timedelta(minutes=10)
# Stripe keeps a session open 30 minutes at least and 24 hours at most.
SESSION_MIN = timedelta(minutes=31)
SESSION_MAX = timedelta(hours=24)


@dataclass(frozen=True)
class QuotedSchedule:
    """What a couple would pay for a package, add-ons and date, and when."""

    total_cents: int
    currency: str
    instalments: tuple[PlannedInstalment, ...]
    policy: PaymentPolicy


@dataclass(frozen=True)
class InstalmentCheckout:
    """A balance checkout: where the couple pays, until when, and what."""

    checkout_url: str
    expires_at: datetime
    instalment: Instalment


class NothingDue(PreconditionFailed):
    """Nothing is owed on the booking now (or not on the instalment asked for)."""

    def __init__(self) -> None:
        super().__init__("nothing is owed on this booking now", reason="NOTHING_DUE")


def balance_session_closes(now: datetime, event_date: date | None, timezone: str) -> datetime:
    """When a balance session closes: in 24 hours or when the event's day begins (tenant's calendar),
    whichever is sooner, but never sooner than Stripe's 30 minutes allow. Whole seconds."""
    closes = now + SESSION_MAX
    if event_date is not None:
        event_starts = datetime.combine(event_date, time(0), tzinfo=tenant_zone(timezone)).astimezone(UTC)
        closes = min(closes, event_starts)
    return max(closes, now + SESSION_MIN).replace(microsecond=0)


class Schedules:
    """The schedule use cases."""

    def __init__(
        self,
        store: PaymentsStore,
        *,
        checkout: Checkout,
        payees: TenantPayees,
        quotes: CatalogQuotes,
        bookings: Bookings,
        stripe: StripeAdapter,
        default_urls: Urls,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._store = store
        self._checkout = checkout
        self._payees = payees
        self._quotes = quotes
        self._bookings = bookings
        self._stripe = stripe
        self._default_urls = default_urls
        self._now = clock

    async def quote_schedule(
        self, tenant_id: str, package_id: str, add_on_ids: Iterable[str], event_date: str
    ) -> QuotedSchedule:
        """The schedule checkout would start now (the same arithmetic); VALIDATION_ERROR naming the
        field for a bad date or too many add-ons; catalog's NOT_FOUND for an unknown package."""
        add_ons = [a.strip() for a in add_on_ids if a.strip()]
        if not package_id.strip():
            raise ValidationError.of("packageId", "is required")
        if len(add_ons) > MAX_ADD_ONS:
            raise ValidationError.of("addOnIds", f"at most {MAX_ADD_ONS} add-ons")
        try:
            day = date.fromisoformat(event_date)
        except ValueError:
            raise ValidationError.of("eventDate", "must be a date as YYYY-MM-DD") from None
        payee = await self._payees.payee(tenant_id)
        quote = await self._quotes.quote(tenant_id, package_id.strip(), add_ons)
        quote.check()
        plan = self._checkout.plan(payee, quote, day)
        return QuotedSchedule(quote.total_cents, quote.currency, plan, quote.policy or payee.policy)

    async def schedule_of(self, tenant_id: str, booking_id: str) -> list[Instalment]:
        """A booking's instalments (none for a booking this tenant does not have)."""
        if not booking_id:
            raise ValidationError.of("bookingId", "is required")
        async with self._store.tenant(tenant_id) as tx:
            return await tx.instalments(booking_id)

    async def pay_instalment(
        self, tenant_id: str, booking_id: str, *, seq: int = 0, urls: Urls | None = None
    ) -> InstalmentCheckout:
        """A Checkout Session for the booking's next owed instalment (or `seq`): FAILED_PRECONDITION
        unless the booking is CONFIRMED, NOTHING_DUE when nothing (or not that one) is owed."""
        if not booking_id:
            raise ValidationError.of("bookingId", "is required")
        if seq < 0:
            raise ValidationError.of("seq", "must be positive")
        booking = await self._bookings.get(tenant_id, booking_id)
        if booking.status is not BookingStatus.CONFIRMED:
            raise PreconditionFailed("only a confirmed booking has a balance to pay")
        payee = await self._payees.payee(tenant_id)
        destination = payee.check_can_be_paid()
        urls = urls or self._default_urls
        async with self._store.tenant(tenant_id) as tx:
            await tx.wait_for_peers()
            parts = await tx.instalments(booking_id)
            owed = [p for p in parts if p.owed and (seq == 0 or p.seq == seq)]
            if not owed:
                raise NothingDue()
            part = await tx.instalment(booking_id, owed[0].seq, lock=True)
            if part is None or not part.owed:
                raise NothingDue()
            tries = await tx.instalment_payments(booking_id, part.seq)
            now = self._now()
            for payment in tries:
                if payment.status != PaymentStatus.OPEN:
                    continue
                if payment.expires_at - now >= REUSE_MIN_LEFT and payment.amount_cents == part.amount_cents:
                    return InstalmentCheckout(payment.checkout_url, payment.expires_at, part)
                try:
                    await self._stripe.expire_checkout_session(payment.session_id)
                except SessionAlreadyPaid:
                    # Paid a moment ago: its webhook settles the instalment.
                    return InstalmentCheckout(payment.checkout_url, payment.expires_at, part)
                await tx.set_payment_status(payment.session_id, PaymentStatus.EXPIRED)
            closes = balance_session_closes(now, booking.event_date, part.timezone)
            fee = commission_cents(part.amount_cents, payee.commission_bps)
            title = booking.package_title or "your booking"
            session = await self._stripe.create_checkout_session(
                SessionSpec(
                    line_items=(LineItem(f"Balance \u2014 {title}", part.amount_cents),),
                    currency=part.currency,
                    customer_email=booking.email,
                    client_reference_id=booking_id,
                    metadata={
                        "tenant_id": tenant_id,
                        "booking_id": booking_id,
                        "instalment_seq": str(part.seq),
                    },
                    expires_at=int(closes.timestamp()),
                    success_url=urls.success,
                    cancel_url=urls.cancel.replace("{BOOKING_ID}", booking_id),
                    destination_account=destination,
                    application_fee_cents=fee if fee > 0 else None,
                    idempotency_key=instalment_session_key(tenant_id, booking_id, part.seq, len(tries) + 1),
                )
            )
            closes_at = datetime.fromtimestamp(session.expires_at, UTC)
            await tx.insert_payment(
                Payment(
                    session_id=session.id,
                    tenant_id=tenant_id,
                    booking_id=booking_id,
                    amount_cents=part.amount_cents,
                    currency=part.currency,
                    commission_bps=payee.commission_bps,
                    fee_cents=fee,
                    destination_account=destination,
                    status=PaymentStatus.OPEN,
                    checkout_url=session.url,
                    expires_at=closes_at,
                    instalment_seq=part.seq,
                )
            )
            await tx.set_instalment_session(booking_id, part.seq, session.id)
            return InstalmentCheckout(session.url, closes_at, part)
