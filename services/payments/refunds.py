"""A tenant admin cancels a booking with no refund, a full one, or an amount.

Money first, then the booking: nothing changes unless the booking can be cancelled and the refund is
allowed; then Stripe refunds, then booking cancels (freeing the date) and is told of the refund (the
couple is emailed). Refunds are cumulative and never exceed what was paid, and the platform's fee goes
back in proportion, rounded in the platform's favour (see domain.fee_refund_cents).

A refund runs in three steps so that no lock is held while Stripe is called and nothing is done twice:
1. reserve it under the payment's row lock (concurrent cancellations see each other's reservations);
2. ask Stripe, with idempotency keys derived from the request id;
3. record the ledger rows and finish the reservation, cancel, tell booking.
A retry with the same request id resumes where the last attempt stopped.
"""

from __future__ import annotations

from dataclasses import dataclass

from mais_runtime.errors import Conflict, PreconditionFailed, ValidationError
from services.payments.clients import Bookings
from services.payments.domain import (
    BookingState,
    BookingStatus,
    EntryKind,
    LedgerTotals,
    PaymentStatus,
    RefundChoice,
    RefundKind,
    cancellation_request_id,
    fee_refund_idempotency_key,
    plan_refund,
    refund_idempotency_key,
)
from services.payments.metrics import REFUNDED_CENTS
from services.payments.store import Payment, PaymentsStore, RefundRequest
from services.payments.stripe_adapter import MoneyBack, PaymentProviderError, StripeAdapter

# The actor of a couple's own cancellation (booking checks the tenant's window for it).
COUPLE = "couple"
_CANCELLABLE = (BookingStatus.CONFIRMED, BookingStatus.CANCELLED)


@dataclass(frozen=True)
class RefundOutcome:
    """What a cancellation did, and the booking as it now is (with its history)."""

    booking: BookingState
    refunded_cents: int
    total_refunded_cents: int
    fee_refunded_cents: int


class Refunds:
    """Cancellation with refund."""

    def __init__(self, store: PaymentsStore, bookings: Bookings, stripe: StripeAdapter) -> None:
        self._store = store
        self._bookings = bookings
        self._stripe = stripe

    async def cancel_and_refund(
        self,
        tenant_id: str,
        booking_id: str,
        *,
        reason: str,
        choice: RefundChoice,
        actor: str,
        request_id: str = "",
    ) -> RefundOutcome:
        """Cancels the booking and refunds as chosen; idempotent by `request_id`, or without one by
        the booking and the choice (the same cancellation asked twice refunds once)."""
        request_id = request_id or cancellation_request_id(tenant_id, booking_id, choice.canonical)
        booking = await self._bookings.get(tenant_id, booking_id)
        if booking.status not in _CANCELLABLE:
            raise PreconditionFailed(f"a {booking.status.value.lower()} booking cannot be cancelled")
        if actor == COUPLE:
            await self._check_couple_may_cancel(tenant_id, booking, choice, request_id)
        if choice.kind is RefundKind.NONE:
            await self._bookings.cancel(tenant_id, booking_id, reason=reason, actor=actor)
            totals = await self._totals(tenant_id, booking_id)
            return RefundOutcome(await self._answer(tenant_id, booking_id), 0, totals.refunded, 0)
        payment, request = await self._reserve(tenant_id, booking_id, choice, request_id)
        if request.status == "SUCCEEDED":
            totals = await self._totals(tenant_id, booking_id)
        else:
            refund, fee_refund = await self._ask_stripe(payment, request)
            totals = await self._record(payment, request, refund, fee_refund, reason=reason, actor=actor)
        return RefundOutcome(
            await self._answer(tenant_id, booking_id),
            request.amount_cents,
            totals.refunded,
            request.fee_refund_cents,
        )

    async def _answer(self, tenant_id: str, booking_id: str) -> BookingState:
        """The booking as the cancellation left it, with its history: the caller answers with it."""
        return await self._bookings.get(tenant_id, booking_id, with_history=True)

    async def _reserve(
        self, tenant_id: str, booking_id: str, choice: RefundChoice, request_id: str
    ) -> tuple[Payment, RefundRequest]:
        async with self._store.tenant(tenant_id) as tx:
            await tx.wait_for_peers()
            payment = await tx.payment_by_booking(booking_id, lock=True)
            if payment is None or payment.status != PaymentStatus.PAID or not payment.payment_intent_id:
                raise ValidationError.of(
                    "refund", "nothing was paid for this booking, so nothing can be refunded"
                )
            existing = await tx.refund_request(request_id)
            if existing is not None:
                if existing.booking_id != booking_id or existing.choice != choice.canonical:
                    raise Conflict(
                        "this request id was used for another cancellation", reason="IDEMPOTENCY_KEY_REUSED"
                    )
                return payment, existing
            totals = await tx.totals(payment.session_id)
            # Reservations not yet in the ledger count as refunded already: together, concurrent
            # cancellations never give back more than was paid.
            refund_seen = await tx.recorded_request_ids(payment.session_id, EntryKind.REFUND)
            fee_seen = await tx.recorded_request_ids(payment.session_id, EntryKind.APPLICATION_FEE_REFUND)
            pending = await tx.pending_refunds(payment.session_id)
            plan = plan_refund(
                choice,
                charged=totals.charged,
                fee=totals.fee,
                refunded_before=totals.refunded
                + sum(p.amount_cents for p in pending if p.request_id not in refund_seen),
                fee_refunded_before=totals.fee_refunded
                + sum(p.fee_refund_cents for p in pending if p.request_id not in fee_seen),
            )
            request = RefundRequest(
                request_id=request_id,
                booking_id=booking_id,
                session_id=payment.session_id,
                choice=choice.canonical,
                amount_cents=plan.amount_cents,
                fee_refund_cents=plan.fee_refund_cents if payment.application_fee_id else 0,
                status="PENDING",
                stripe_refund_id=None,
                stripe_fee_refund_id=None,
            )
            await tx.reserve_refund(payment, request)
            return payment, request

    async def _ask_stripe(
        self, payment: Payment, request: RefundRequest
    ) -> tuple[MoneyBack, MoneyBack | None]:
        metadata = {
            "tenant_id": payment.tenant_id,
            "booking_id": payment.booking_id,
            "refund_request_id": request.request_id,
        }
        assert payment.payment_intent_id is not None
        try:
            refund = await self._stripe.refund(
                payment_intent_id=payment.payment_intent_id,
                amount_cents=request.amount_cents,
                # The fee goes back separately, in the amount we computed (Stripe's own proportional
                # rounding is undocumented and would not match the ledger).
                refund_application_fee=False,
                reverse_transfer=bool(payment.destination_account),
                metadata=metadata,
                idempotency_key=refund_idempotency_key(payment.tenant_id, request.request_id),
            )
        except PaymentProviderError as error:
            if error.definite:
                # Stripe refused: nothing was refunded, so the reservation must not hold money back.
                async with self._store.tenant(payment.tenant_id) as tx:
                    await tx.drop_refund(request.request_id)
            raise
        fee_refund = None
        if request.fee_refund_cents > 0 and payment.application_fee_id:
            fee_refund = await self._stripe.refund_fee(
                application_fee_id=payment.application_fee_id,
                amount_cents=request.fee_refund_cents,
                metadata=metadata,
                idempotency_key=fee_refund_idempotency_key(payment.tenant_id, request.request_id),
            )
        return refund, fee_refund

    async def _record(
        self,
        payment: Payment,
        request: RefundRequest,
        refund: MoneyBack,
        fee_refund: MoneyBack | None,
        *,
        reason: str,
        actor: str,
    ) -> LedgerTotals:
        async with self._store.tenant(payment.tenant_id) as tx:
            await tx.wait_for_peers()
            await tx.payment_by_session(payment.session_id, lock=True)
            # Whoever records a refund first (this, or the charge.refunded webhook) tells booking.
            new = await tx.add_entry(
                payment,
                EntryKind.REFUND,
                refund.amount_cents,
                refund.id,
                refund_request_id=request.request_id,
            )
            if fee_refund is not None:
                await tx.add_entry(
                    payment,
                    EntryKind.APPLICATION_FEE_REFUND,
                    fee_refund.amount_cents,
                    fee_refund.id,
                    refund_request_id=request.request_id,
                )
            await tx.finish_refund(request.request_id, refund.id, fee_refund.id if fee_refund else None)
            totals = await tx.totals(payment.session_id)
            await self._bookings.cancel(payment.tenant_id, payment.booking_id, reason=reason, actor=actor)
            if new:
                await self._bookings.record_refund(
                    payment.tenant_id,
                    payment.booking_id,
                    total_refunded_cents=totals.refunded,
                    refund_cents=refund.amount_cents,
                    refund_id=refund.id,
                )
        REFUNDED_CENTS.labels(payment.currency.upper()).inc(refund.amount_cents)
        return totals

    async def _check_couple_may_cancel(
        self, tenant_id: str, booking: BookingState, choice: RefundChoice, request_id: str
    ) -> None:
        """A couple cancels their own booking for a full refund, and only inside the tenant's window.
        The window is checked before the money moves (booking answers CANCELLATION_WINDOW_CLOSED). A
        cancelled booking is the couple's only to resume their own cancellation (its request id is
        known): never a refund of a booking the tenant cancelled."""
        if choice.kind is not RefundKind.FULL:
            raise ValidationError.of("refund", "a couple's own cancellation is refunded in full")
        if booking.status is BookingStatus.CANCELLED:
            async with self._store.tenant(tenant_id) as tx:
                if await tx.refund_request(request_id) is None:
                    raise PreconditionFailed("this booking is already cancelled")
            return
        await self._bookings.check_cancel(tenant_id, booking.booking_id, COUPLE)

    async def _totals(self, tenant_id: str, booking_id: str) -> LedgerTotals:
        async with self._store.tenant(tenant_id) as tx:
            payment = await tx.payment_by_booking(booking_id)
            return await tx.totals(payment.session_id) if payment else LedgerTotals()
