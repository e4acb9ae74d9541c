"""The Stripe event inbox: verify, store once, process exactly once in effect.

1. The signature is checked on the raw bytes (300 s tolerance) before anything is trusted or stored.
2. The event is stored once, by Stripe's event id (a platform transaction: the tenant may not be known
   yet, see the migration's note on row-level security).
3. It is processed in the tenant's transaction under `SELECT ... FOR UPDATE` on its row, so concurrent
   deliveries of one event queue there and the later ones find it PROCESSED. The work (ledger rows,
   the payment's state) and the event's new status commit together; the work runs in a savepoint, so
   a failure rolls the work back and records FAILED (attempts, an error code, no customer data) in the
   same transaction, without ever letting go of the lock.
4. A FAILED event is processed again when Stripe retries it, or when an admin replays it; calls to
   booking and Stripe are idempotent (session id, refund keys), so a retry converges.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from mais_runtime.db import DatabaseError, sqlstate
from mais_runtime.errors import DomainError, GrpcCode, NotFound, PreconditionFailed, ValidationError
from mais_runtime.paging import decode_cursor, encode_cursor
from mais_runtime.paging import page_size as page_size_of
from services.payments.clients import Bookings, TenantPayees
from services.payments.domain import (
    ConfirmResult,
    EntryKind,
    EventKind,
    EventStatus,
    InstalmentRecorded,
    PaymentStatus,
    StripeEvent,
    connect_state,
    failure_code,
    hold_lost_refund_key,
    not_owed_refund_key,
)
from services.payments.domain.instalments import Instalment
from services.payments.domain.schedule import MAX_INSTALMENTS, InstalmentStatus
from services.payments.metrics import CHARGED_CENTS, HOLDS_LOST, NOT_OWED_REFUNDS, WEBHOOK_ATTEMPTS
from services.payments.schedule_wire import instalment_pb
from services.payments.store import InboxEvent, Payment, PaymentsStore, PaymentsTx
from services.payments.stripe_adapter import MoneyBack, PaymentFacts, StripeAdapter

log = logging.getLogger("mais.payments.inbox")

# Lock or statement timeouts while waiting for a concurrent delivery of the same event.
_BUSY_SQLSTATES = frozenset({"55P03", "57014"})


class ProcessingFailed(DomainError):
    """An event could not be processed now; Stripe should deliver it again (the webhook answers 500)."""

    def __init__(self, code: str) -> None:
        super().__init__(
            "the event could not be processed; it will be retried", "INTERNAL", GrpcCode.INTERNAL
        )
        self.failure = code


Handler = Callable[[PaymentsTx, StripeEvent, str], Awaitable[EventStatus]]


class StripeInbox:
    """Webhook intake, processing and replay."""

    def __init__(
        self, store: PaymentsStore, *, payees: TenantPayees, bookings: Bookings, stripe: StripeAdapter
    ) -> None:
        self._store = store
        self._payees = payees
        self._bookings = bookings
        self._stripe = stripe
        self._handlers: dict[EventKind, Handler] = {
            EventKind.CHECKOUT_COMPLETED: self._checkout_completed,
            EventKind.CHECKOUT_EXPIRED: self._checkout_expired,
            EventKind.CHARGE_REFUNDED: self._charge_refunded,
            EventKind.ACCOUNT_UPDATED: self._account_updated,
        }

    async def receive(self, payload: bytes, signature_header: str) -> InboxEvent:
        """Verifies, stores once and processes a webhook. Raises InvalidSignature (nothing stored) or
        ProcessingFailed (stored as FAILED; the sender should retry)."""
        event = StripeEvent.parse(self._stripe.verify_event(payload, signature_header))
        stored = await self._store.record_event(
            stripe_event_id=event.id,
            event_type=event.type,
            tenant_id=event.tenant_id,
            booking_id=event.booking_id,
            payload=payload,
            stripe_created=event.created,
        )
        if stored.status.settled:
            return stored
        return await self.process(event)

    async def replay(self, tenant_id: str | None, event_id: str) -> InboxEvent:
        """Processes a stored FAILED (or stuck RECEIVED) event again; returns it as it ends up.
        `tenant_id` None is the platform admin, who may replay any tenant's event."""
        row = await self._find(tenant_id, event_id)
        if row.status.settled:
            raise PreconditionFailed(f"the event is already {row.status.value}; there is nothing to replay")
        try:
            return await self.process(StripeEvent.parse(row.payload))
        except ProcessingFailed:
            return await self._find(tenant_id, event_id)

    async def events(
        self, tenant_id: str | None, *, status: EventStatus | None, page_size: int, page_token: str
    ) -> tuple[list[InboxEvent], str]:
        """Stored events newest first and the next page's token ('' at the end). `tenant_id` None
        lists every tenant's (the platform admin's dead-letter view)."""
        size = page_size_of(page_size)
        cursor = decode_cursor(page_token, 2)
        after = None
        if cursor is not None:
            try:
                after = (datetime.fromisoformat(cursor[0]), str(uuid.UUID(cursor[1])))
            except ValueError:
                raise ValidationError.of("cursor", "is not a valid cursor") from None
        scope = self._store.platform() if tenant_id is None else self._store.tenant(tenant_id)
        async with scope as tx:
            rows = await tx.list_events(status=status, limit=size + 1, after=after)
        if len(rows) <= size:
            return rows, ""
        last = rows[size - 1]
        return rows[:size], encode_cursor(last.received_at.isoformat(), last.id)

    async def _find(self, tenant_id: str | None, event_id: str) -> InboxEvent:
        if tenant_id is None:
            async with self._store.platform() as tx:
                row = await tx.event(event_id)
        else:
            async with self._store.tenant(tenant_id) as tx:
                row = await tx.event(event_id)
        if row is None:
            raise NotFound("event")
        return row

    async def process(self, event: StripeEvent) -> InboxEvent:
        """One processing attempt of a stored event (see the module docstring)."""
        handler = self._handlers.get(event.kind) if event.kind else None
        tenant_id = event.tenant_id
        if handler is not None and tenant_id is None:
            try:
                tenant_id = await self._resolve_tenant(event)
            except Exception as error:
                await self._fail_outside(event.id, failure_code(error))
                raise ProcessingFailed(failure_code(error)) from error
        if handler is None or tenant_id is None:
            # Not an event payments acts on, or not about any tenant of ours: acknowledge it.
            return await self._settle_platform(event.id, EventStatus.IGNORED)
        if event.tenant_id is None:
            # Stored without its tenant (a connected account's event): name it now. An event that
            # carried its tenant was stored with it; no transaction is spent on saying so again.
            async with self._store.platform() as tx:
                await tx.set_event_tenant(event.id, tenant_id, event.booking_id)
        return await self._process_for(tenant_id, event, handler)

    async def _process_for(self, tenant_id: str, event: StripeEvent, handler: Handler) -> InboxEvent:
        failure: str | None = None
        try:
            async with self._store.tenant(tenant_id) as tx:
                await tx.wait_for_peers()
                row = await tx.event_by_stripe_id(event.id, lock=True)
                if row is None:
                    raise NotFound("event")
                if row.status.settled:
                    return row
                try:
                    async with tx.conn.begin_nested():
                        status = await handler(tx, event, tenant_id)
                        await tx.mark_event(event.id, status)
                    WEBHOOK_ATTEMPTS.labels(event.type, status.value).inc()
                except Exception as error:
                    WEBHOOK_ATTEMPTS.labels(event.type, EventStatus.FAILED.value).inc()
                    failure = failure_code(error)
                    log.warning("processing %s failed: %s", event.type, failure, extra={"event": event.type})
                    await tx.mark_event(event.id, EventStatus.FAILED, error=failure)
                result = await tx.event_by_stripe_id(event.id)
                assert result is not None
        except DatabaseError as error:
            if sqlstate(error) in _BUSY_SQLSTATES:
                # Another delivery of this event holds it; it will settle it. Ask Stripe to come back.
                raise ProcessingFailed("Busy:" + (sqlstate(error) or "")) from error
            failure = failure_code(error)
            await self._fail_outside(event.id, failure)
            raise ProcessingFailed(failure) from error
        if failure is not None:
            raise ProcessingFailed(failure)
        return result

    async def _settle_platform(self, stripe_event_id: str, status: EventStatus) -> InboxEvent:
        async with self._store.platform() as tx:
            await tx.wait_for_peers()
            row = await tx.event_by_stripe_id(stripe_event_id, lock=True)
            assert row is not None
            if row.status.settled:
                return row
            await tx.mark_event(stripe_event_id, status)
            result = await tx.event_by_stripe_id(stripe_event_id)
            assert result is not None
            return result

    async def _fail_outside(self, stripe_event_id: str, code: str) -> None:
        """Records FAILED when the attempt's own transaction could not (never over a settled event)."""
        try:
            async with self._store.platform() as tx:
                await tx.mark_failed_unless_settled(stripe_event_id, code)
        except Exception:
            log.warning("could not record a failed attempt", exc_info=True)

    async def _resolve_tenant(self, event: StripeEvent) -> str | None:
        """A connected account's event belongs to the tenant that owns the account."""
        account = event.connected_account
        if not account:
            return None
        return await self._payees.owner_of_account(account)

    # --- handlers (inside the event's transaction and savepoint) -------------------------------

    async def _checkout_completed(self, tx: PaymentsTx, event: StripeEvent, tenant_id: str) -> EventStatus:
        session_id = event.field("id")
        intent_id = event.field("payment_intent")
        if event.field("payment_status") != "paid" or not intent_id:
            # Not paid yet (delayed payment methods): nothing to confirm.
            return EventStatus.IGNORED
        facts = await self._stripe.payment_facts(intent_id)
        payment = await tx.payment_by_session(session_id, lock=True)
        if payment is None:
            if not event.booking_id:
                return EventStatus.IGNORED
            payment = await tx.insert_payment(_payment_from(event, tenant_id, facts))
        await _record_charge(tx, payment, facts)
        if payment.instalment_seq > 1:
            await self._instalment_paid(tx, payment, facts)
            return EventStatus.PROCESSED
        # The schedule as it is once this payment counts (the deposit receipt lists it); written only
        # when booking has taken the payment.
        parts = await tx.instalments(payment.booking_id, lock=True)
        after = [_paid(p, payment.session_id, facts) if p.seq == 1 and p.owed else p for p in parts]
        outcome = await self._bookings.confirm(
            tenant_id,
            payment.booking_id,
            session_id,
            facts.amount_cents,
            schedule=[instalment_pb(i, admin=False) for i in after],
        )
        if outcome is ConfirmResult.HOLD_LOST:
            await self._refund_lost_hold(tx, payment, facts)
            return EventStatus.PROCESSED
        await tx.set_payment_status(session_id, PaymentStatus.PAID)
        await tx.mark_instalment_paid(
            payment.booking_id,
            1,
            session_id=session_id,
            paid_cents=facts.amount_cents,
            fee_cents=facts.application_fee_cents,
        )
        return EventStatus.PROCESSED

    async def _instalment_paid(self, tx: PaymentsTx, payment: Payment, facts: PaymentFacts) -> None:
        """A later instalment's session was paid. Under the instalment's row lock (a second session
        paying it waits here): owed, and booking still CONFIRMED, it is PAID and booking records it
        (the couple's receipt); otherwise (paid by another session, waived, cancelled, or booking says
        the booking is not confirmed) the whole payment goes back, fee included, as NOT_OWED."""
        part = await tx.instalment(payment.booking_id, payment.instalment_seq, lock=True)
        if part is None or not part.owed or part.amount_cents != facts.amount_cents:
            await self._refund_not_owed(tx, payment, facts)
            return
        parts = await tx.instalments(payment.booking_id)
        after = [_paid(p, payment.session_id, facts) if p.seq == part.seq else p for p in parts]
        recorded = await self._bookings.record_instalment_payment(
            payment.tenant_id,
            payment.booking_id,
            session_id=payment.session_id,
            amount_cents=facts.amount_cents,
            total_paid_cents=sum(p.paid_cents for p in after),
            schedule=[instalment_pb(i, admin=False) for i in after],
            actor="payments",
            request_id=f"instalment-paid:{payment.session_id}",
        )
        if recorded is InstalmentRecorded.BOOKING_NOT_CONFIRMED:
            await self._refund_not_owed(tx, payment, facts)
            return
        await tx.mark_instalment_paid(
            payment.booking_id,
            part.seq,
            session_id=payment.session_id,
            paid_cents=facts.amount_cents,
            fee_cents=facts.application_fee_cents,
        )
        await tx.set_payment_status(payment.session_id, PaymentStatus.PAID)

    async def _refund_not_owed(self, tx: PaymentsTx, payment: Payment, facts: PaymentFacts) -> None:
        """A payment nothing was owed for goes back in full, the platform's fee too."""
        if payment.status == PaymentStatus.NOT_OWED:
            return
        key = not_owed_refund_key(payment.session_id)
        await self._refund_in_full(tx, payment, facts, cause="not_owed", key=key)
        await tx.set_payment_status(payment.session_id, PaymentStatus.NOT_OWED)
        NOT_OWED_REFUNDS.inc()
        log.warning("a payment arrived for an instalment that was not owed and was refunded in full")

    async def _refund_in_full(
        self, tx: PaymentsTx, payment: Payment, facts: PaymentFacts, *, cause: str, key: str
    ) -> MoneyBack:
        """Everything of one payment back, the platform's fee too, each recorded in the ledger once."""
        refund = await self._stripe.refund(
            payment_intent_id=facts.payment_intent_id,
            amount_cents=None,
            refund_application_fee=facts.application_fee_id is not None,
            reverse_transfer=bool(facts.destination_account),
            metadata={"tenant_id": payment.tenant_id, "booking_id": payment.booking_id, "cause": cause},
            idempotency_key=key,
        )
        await tx.add_entry(payment, EntryKind.REFUND, refund.amount_cents, refund.id)
        if facts.application_fee_id:
            for fee_refund in await self._stripe.fee_refunds(facts.application_fee_id):
                await tx.add_entry(
                    payment, EntryKind.APPLICATION_FEE_REFUND, fee_refund.amount_cents, fee_refund.id
                )
        return refund

    async def _refund_lost_hold(self, tx: PaymentsTx, payment: Payment, facts: PaymentFacts) -> None:
        """The date went to someone else before this payment arrived: all of it goes back, the
        platform's fee included, and booking tells the couple."""
        refund = await self._refund_in_full(
            tx, payment, facts, cause="hold_lost", key=hold_lost_refund_key(payment.session_id)
        )
        HOLDS_LOST.inc()
        if payment.status == PaymentStatus.REPLACED:
            # Paid on a session its resumed hold had just replaced: the money goes back, and the
            # couple's hold lives on with its new session, so booking has nothing to tell them.
            log.warning("a payment reached a replaced session and was refunded in full")
            return
        await tx.set_payment_status(payment.session_id, PaymentStatus.HOLD_LOST)
        await tx.cancel_owed_instalments(payment.booking_id)
        await self._bookings.notify_hold_lost_refund(
            payment.tenant_id, payment.booking_id, refund.amount_cents, refund.id
        )

    async def _checkout_expired(self, tx: PaymentsTx, event: StripeEvent, tenant_id: str) -> EventStatus:
        payment = await tx.payment_by_session(event.field("id"), lock=True)
        booking_id = payment.booking_id if payment else event.booking_id
        if not booking_id:
            return EventStatus.IGNORED
        if payment is not None and payment.status == PaymentStatus.REPLACED:
            # A session a resumed hold replaced (checkout.py closed it): the hold lives on with its
            # new session and must not be released.
            return EventStatus.PROCESSED
        if payment is not None and payment.status == PaymentStatus.OPEN:
            await tx.set_payment_status(payment.session_id, PaymentStatus.EXPIRED)
        if payment is not None and payment.instalment_seq > 1:
            # A balance session nobody paid: the instalment stays owed, payable with a new session.
            await tx.forget_instalment_session(booking_id, payment.instalment_seq, payment.session_id)
            return EventStatus.PROCESSED
        await self._bookings.release_hold(
            # Named always: booking releases the hold only if this is still its session.
            tenant_id,
            booking_id,
            "checkout_expired",
            session_id=event.field("id"),
        )
        await tx.cancel_schedule_of_session(booking_id, event.field("id"))
        return EventStatus.PROCESSED

    async def _charge_refunded(self, tx: PaymentsTx, event: StripeEvent, tenant_id: str) -> EventStatus:
        intent_id = event.field("payment_intent")
        payment = await tx.payment_by_intent(intent_id, lock=True) if intent_id else None
        if payment is None and event.booking_id:
            payment = await tx.payment_by_booking(event.booking_id, lock=True)
        if payment is None or not intent_id:
            return EventStatus.IGNORED
        fee_id = event.field("application_fee") or None
        facts = PaymentFacts(
            payment_intent_id=intent_id,
            charge_id=event.field("id"),
            amount_cents=event.amount("amount"),
            currency=event.field("currency") or payment.currency,
            application_fee_id=fee_id,
            application_fee_cents=event.amount("application_fee_amount") if fee_id else 0,
            destination_account=payment.destination_account,
        )
        # The charge may be refunded before its completion event was processed (events come in any
        # order): the ledger takes the charge from here too, once.
        await _record_charge(tx, payment, facts)
        new_refunds = []
        for refund in await self._stripe.refunds(intent_id):
            if await tx.add_entry(
                payment, EntryKind.REFUND, refund.amount_cents, refund.id, refund_request_id=refund.request_id
            ):
                new_refunds.append(refund)
        if fee_id:
            for fee_refund in await self._stripe.fee_refunds(fee_id):
                await tx.add_entry(
                    payment,
                    EntryKind.APPLICATION_FEE_REFUND,
                    fee_refund.amount_cents,
                    fee_refund.id,
                    refund_request_id=fee_refund.request_id,
                )
        if (
            payment.status in (PaymentStatus.HOLD_LOST, PaymentStatus.REPLACED, PaymentStatus.NOT_OWED)
            or not new_refunds
        ):
            # Refunds already recorded by whoever made them (a cancellation, the lost-hold refund)
            # told booking themselves; the lost-hold couple got their own email; a payment nothing
            # was owed for never counted as paid on the booking, so its refund is not the booking's.
            return EventStatus.PROCESSED
        # Booking keeps one refunded figure for the whole booking (a deposit and a balance are two
        # payments), as a cancellation's refunds tell it.
        totals = await tx.booking_totals(payment.booking_id)
        for refund in new_refunds:
            # A part of a cancellation's refund (reserved before Stripe was asked) carries what the
            # couple's own cancellation keeps back: booking says it in the refund email, whoever tells first.
            reserved = await tx.refund_request(refund.request_id) if refund.request_id else None
            await self._bookings.record_refund(
                tenant_id,
                payment.booking_id,
                total_refunded_cents=totals.refunded,
                refund_cents=refund.amount_cents,
                refund_id=refund.id,
                kept_cents=reserved.kept_cents if reserved else 0,
            )
        return EventStatus.PROCESSED

    async def _account_updated(self, tx: PaymentsTx, event: StripeEvent, tenant_id: str) -> EventStatus:
        account_id = event.connected_account
        if not account_id:
            return EventStatus.IGNORED
        # Events arrive in any order: the account as it is now decides, not the event's snapshot.
        state = connect_state(await self._stripe.account(account_id))
        await self._payees.record_connect_state(tenant_id, account_id, state)
        return EventStatus.PROCESSED


async def _record_charge(tx: PaymentsTx, payment: Payment, facts: PaymentFacts) -> None:
    """The charge and the platform's fee, each once."""
    await tx.set_payment_objects(
        payment.session_id,
        payment_intent_id=facts.payment_intent_id,
        charge_id=facts.charge_id,
        application_fee_id=facts.application_fee_id,
    )
    await tx.add_entry(payment, EntryKind.CHARGE, facts.amount_cents, facts.charge_id)
    CHARGED_CENTS.labels(payment.currency.upper()).inc(facts.amount_cents)
    if facts.application_fee_id:
        await tx.add_entry(
            payment, EntryKind.APPLICATION_FEE, facts.application_fee_cents, facts.application_fee_id
        )


def _paid(part: Instalment, session_id: str, facts: PaymentFacts) -> Instalment:
    """The instalment as it is once `session_id`'s payment counts for it."""
    return dataclasses.replace(
        part,
        status=InstalmentStatus.PAID,
        session_id=session_id,
        paid_cents=facts.amount_cents,
        fee_cents=facts.application_fee_cents,
        paid_at=datetime.now(UTC),
    )


def _payment_from(event: StripeEvent, tenant_id: str, facts: PaymentFacts) -> Payment:
    """A payment rebuilt from Stripe's session, for a session paid whose row was never written (the
    checkout died between creating the session and recording it, or the session was made elsewhere).

    Recorded as paid, never OPEN: its money has arrived, and this event's transaction gives it its
    final status (PAID, NOT_OWED, HOLD_LOST) before anyone sees it. As OPEN it would collide with the
    instalment's own open session (one OPEN payment per instalment), and the event would fail for as
    long as that session stays open: the 500 once seen for two sessions paying one balance at once."""
    return Payment(
        session_id=event.field("id"),
        tenant_id=tenant_id,
        booking_id=event.booking_id,
        amount_cents=facts.amount_cents,
        currency=facts.currency,
        commission_bps=0,
        fee_cents=facts.application_fee_cents,
        destination_account=facts.destination_account,
        status=PaymentStatus.PAID,
        checkout_url=event.field("url") or "about:blank",
        expires_at=datetime.fromtimestamp(event.amount("expires_at"), UTC),
        instalment_seq=_seq_of(event),
    )


def _seq_of(event: StripeEvent) -> int:
    """The instalment a session pays, as its metadata names it (balance sessions do; a checkout's
    session pays the first)."""
    value = str(event.metadata.get("instalment_seq") or "1")
    return int(value) if value.isdigit() and 1 <= int(value) <= MAX_INSTALMENTS else 1
