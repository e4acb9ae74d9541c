"""A booking is cancelled (by its tenant admin, by the couple, or by the overdue-balance sweep) with no
refund, a full one, or an amount.

Money first, then the booking: nothing changes unless the booking can be cancelled and the refund is
allowed; then Stripe refunds, then booking cancels (freeing the date) and is told of the refund (the
couple is emailed). A booking may have several payments (a deposit, then the balance): a refund goes
back through the latest first, each payment never beyond what it took, each with its own share of the
platform's fee, rounded in the platform's favour (schedule.allocate_refund). A couple's own cancellation
keeps a non-refundable deposit with the business. Instalments given back in full become REFUNDED, those
still owed CANCELLED.

A refund runs in three steps so that no lock is held while Stripe is called and nothing is done twice:
1. reserve one refund request per payment under the payments' row locks (concurrent cancellations see
   each other's reservations), all under the cancellation's request id;
2. ask Stripe for each, with idempotency keys derived from the part's request id;
3. record the ledger rows, finish the reservations, settle the instalments, cancel, tell booking.
A retry with the same request id resumes where the last attempt stopped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from mais_runtime.errors import Conflict, PreconditionFailed, ValidationError
from services.payments.clients import Bookings
from services.payments.domain import (
    BookingState,
    BookingStatus,
    EntryKind,
    LedgerTotals,
    RefundChoice,
    RefundKind,
    cancellation_request_id,
    fee_refund_idempotency_key,
    refund_amount,
    refund_idempotency_key,
)
from services.payments.domain.instalments import (
    CoupleCancellationTerms,
    Instalment,
    PaidInstalment,
    couple_cancellation_terms,
    refund_part_request_id,
    refundable_parts,
)
from services.payments.domain.schedule import InstalmentKind, PaidPart, allocate_refund
from services.payments.metrics import REFUNDED_CENTS
from services.payments.store import Payment, PaymentsStore, PaymentsTx, RefundRequest
from services.payments.stripe_adapter import (
    MoneyBack,
    PaymentProviderError,
    SessionAlreadyPaid,
    StripeAdapter,
)

log = logging.getLogger("mais.payments.refunds")

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
        """Cancels the booking and refunds as chosen over its payments (the latest first); idempotent
        by `request_id`, or without one by the booking and the choice (the same cancellation asked
        twice refunds once). Its owed instalments are cancelled, those given back in full REFUNDED."""
        request_id = request_id or cancellation_request_id(tenant_id, booking_id, choice.canonical)
        booking = await self._bookings.get(tenant_id, booking_id)
        if booking.status not in _CANCELLABLE:
            raise PreconditionFailed(f"a {booking.status.value.lower()} booking cannot be cancelled")
        if actor == COUPLE:
            await self._check_couple_may_cancel(tenant_id, booking, choice, request_id)
        parts = []
        if choice.kind is not RefundKind.NONE:
            parts = await self._reserve(tenant_id, booking_id, choice, request_id, by_couple=actor == COUPLE)
        asked = []
        for payment, request in parts:
            if request.status == "SUCCEEDED":
                continue
            refund, fee_refund = await self._ask_stripe(payment, request)
            asked.append((payment, request, refund, fee_refund))
        totals = await self._record(tenant_id, booking_id, asked, reason=reason, actor=actor)
        await self._close_balance_sessions(tenant_id, booking_id)
        return RefundOutcome(
            await self._answer(tenant_id, booking_id),
            sum(request.amount_cents for _, request in parts),
            totals.refunded,
            sum(request.fee_refund_cents for _, request in parts),
        )

    async def couple_terms(self, tenant_id: str, booking_id: str) -> CoupleCancellationTerms:
        """What the couple's own cancellation would refund now and what it would keep (their manage
        page shows it): the rule and the ledger this cancellation would apply, refunds in flight
        counted as refunded already."""
        async with self._store.tenant(tenant_id) as tx:
            paid = await tx.paid_payments(booking_id)
            ledger, deposit_refundable = await _paid_ledger(tx, booking_id, paid)
        return couple_cancellation_terms(ledger, deposit_refundable=deposit_refundable)

    async def _close_balance_sessions(self, tenant_id: str, booking_id: str) -> None:
        """A cancelled booking owes nothing more: the balance pages still open are closed, so a couple
        who kept one open cannot pay it (a refund gives the money back, but not Stripe's processing
        fee). One that was paid meanwhile, or that cannot be closed now, is left to its webhook, which
        refunds a balance of a booking no longer confirmed in full, and to the expiry sweep.

        Stripe is asked after the cancellation has committed and outside any transaction, as the
        refunds are (a slow Stripe must not hold row locks and a pooled connection): the open sessions
        are read, each is closed at Stripe, and EXPIRED is recorded only over a payment still OPEN, so
        a webhook that settled one meanwhile keeps its outcome."""
        async with self._store.tenant(tenant_id) as tx:
            sessions = [p.session_id for p in await tx.open_balance_payments(booking_id)]
        closed = []
        for session_id in sessions:
            try:
                await self._stripe.expire_checkout_session(session_id)
            except SessionAlreadyPaid:
                continue
            except PaymentProviderError:
                log.warning("closing a cancelled booking's balance session failed", exc_info=True)
                continue
            closed.append(session_id)
        if closed:
            async with self._store.tenant(tenant_id) as tx:
                for session_id in closed:
                    await tx.expire_open_payment(session_id)

    async def _answer(self, tenant_id: str, booking_id: str) -> BookingState:
        """The booking as the cancellation left it, with its history: the caller answers with it."""
        return await self._bookings.get(tenant_id, booking_id, with_history=True)

    async def _reserve(
        self, tenant_id: str, booking_id: str, choice: RefundChoice, request_id: str, *, by_couple: bool
    ) -> list[tuple[Payment, RefundRequest]]:
        """The cancellation's refund requests, one per payment it reaches: reserved now under the
        payments' row locks, or the ones an earlier attempt with this request id reserved."""
        async with self._store.tenant(tenant_id) as tx:
            await tx.wait_for_peers()
            paid = await tx.paid_payments(booking_id, lock=True)
            existing = await tx.cancellation_parts(request_id)
            if existing:
                if any(p.booking_id != booking_id or p.choice != choice.canonical for p in existing):
                    raise Conflict(
                        "this request id was used for another cancellation", reason="IDEMPOTENCY_KEY_REUSED"
                    )
                by_session = {payment.session_id: payment for payment, _ in paid}
                return [(by_session[p.session_id], p) for p in existing if p.session_id in by_session]
            if not paid:
                raise ValidationError.of(
                    "refund", "nothing was paid for this booking, so nothing can be refunded"
                )
            ledger, deposit_refundable = await _paid_ledger(tx, booking_id, paid)
            refundable = refundable_parts(ledger, by_couple=by_couple, deposit_refundable=deposit_refundable)
            # Recorded with each part, so that whoever tells booking of a refund first says it.
            kept = (
                couple_cancellation_terms(ledger, deposit_refundable=deposit_refundable).kept_cents
                if by_couple
                else 0
            )
            if by_couple and not any(part.refundable > 0 for part in refundable):
                # The couple cancels; what they paid is the business's to keep (a non-refundable deposit).
                return []
            amount = refund_amount(
                choice,
                charged=sum(part.charged for part in refundable),
                refunded_before=sum(part.refunded for part in refundable),
            )
            with_fee = {payment.session_id: bool(payment.application_fee_id) for payment, _ in paid}
            payments = {payment.session_id: payment for payment, _ in paid}
            answer = []
            for part in allocate_refund(amount, refundable):
                request = RefundRequest(
                    request_id=refund_part_request_id(request_id, part.session_id),
                    booking_id=booking_id,
                    session_id=part.session_id,
                    choice=choice.canonical,
                    amount_cents=part.amount_cents,
                    fee_refund_cents=part.fee_refund_cents if with_fee[part.session_id] else 0,
                    status="PENDING",
                    stripe_refund_id=None,
                    stripe_fee_refund_id=None,
                    kept_cents=kept,
                )
                await tx.reserve_refund_part(tenant_id, request_id, request)
                answer.append((payments[part.session_id], request))
            return answer

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
        tenant_id: str,
        booking_id: str,
        asked: list[tuple[Payment, RefundRequest, MoneyBack, MoneyBack | None]],
        *,
        reason: str,
        actor: str,
    ) -> LedgerTotals:
        """The ledger rows of every part Stripe refunded, the instalments' new states and the booking
        cancelled, in one transaction; booking is told of the refunds this recorded first (once, for
        the whole cancellation)."""
        async with self._store.tenant(tenant_id) as tx:
            await tx.wait_for_peers()
            await tx.paid_payments(booking_id, lock=True)
            # As reserved (the charge.refunded webhook, which may record a part first, tells the same).
            kept = max((request.kept_cents for _, request, _, _ in asked), default=0)
            new: list[MoneyBack] = []
            for payment, request, refund, fee_refund in asked:
                # Whoever records a refund first (this, or the charge.refunded webhook) tells booking.
                recorded = await tx.add_entry(
                    payment,
                    EntryKind.REFUND,
                    refund.amount_cents,
                    refund.id,
                    refund_request_id=request.request_id,
                )
                if recorded:
                    new.append(refund)
                if fee_refund is not None:
                    await tx.add_entry(
                        payment,
                        EntryKind.APPLICATION_FEE_REFUND,
                        fee_refund.amount_cents,
                        fee_refund.id,
                        refund_request_id=request.request_id,
                    )
                await tx.finish_refund(request.request_id, refund.id, fee_refund.id if fee_refund else None)
            await tx.settle_instalments_after_refund(booking_id)
            totals = await tx.booking_totals(booking_id)
            await self._bookings.cancel(tenant_id, booking_id, reason=reason, actor=actor)
            if new:
                await self._bookings.record_refund(
                    tenant_id,
                    booking_id,
                    total_refunded_cents=totals.refunded,
                    refund_cents=sum(refund.amount_cents for refund in new),
                    refund_id=new[0].id,
                    kept_cents=kept,
                )
        for payment, _, refund, _ in asked:
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
                if not await tx.cancellation_parts(request_id):
                    raise PreconditionFailed("this booking is already cancelled")
            return
        await self._bookings.check_cancel(tenant_id, booking.booking_id, COUPLE)


async def _paid_ledger(
    tx: PaymentsTx, booking_id: str, paid: list[tuple[Payment, int]]
) -> tuple[list[PaidInstalment], bool]:
    """The booking's payments through Stripe (oldest first) with the instalment each paid and its
    ledger, and whether the deposit is refundable (the terms copied onto the first instalment)."""
    instalments = {i.seq: i for i in await tx.instalments(booking_id)}
    first = instalments.get(1)
    ledger = [
        PaidInstalment(seq, _kind(instalments.get(seq)), await _paid_part(tx, payment))
        for payment, seq in paid
    ]
    return ledger, first.deposit_refundable if first else True


def _kind(instalment: Instalment | None) -> InstalmentKind:
    # A payment with no instalment row (made before schedules) paid the whole price.
    return instalment.kind if instalment is not None else InstalmentKind.FULL


async def _paid_part(tx: PaymentsTx, payment: Payment) -> PaidPart:
    """A payment's ledger, reservations not yet in it counted as refunded already: together, concurrent
    cancellations never give back more than was paid."""
    totals = await tx.totals(payment.session_id)
    refund_seen = await tx.recorded_request_ids(payment.session_id, EntryKind.REFUND)
    fee_seen = await tx.recorded_request_ids(payment.session_id, EntryKind.APPLICATION_FEE_REFUND)
    pending = await tx.pending_refunds(payment.session_id)
    return PaidPart(
        session_id=payment.session_id,
        charged=totals.charged,
        fee=totals.fee,
        refunded=totals.refunded + sum(p.amount_cents for p in pending if p.request_id not in refund_seen),
        fee_refunded=totals.fee_refunded
        + sum(p.fee_refund_cents for p in pending if p.request_id not in fee_seen),
    )
