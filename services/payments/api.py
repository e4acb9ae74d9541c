"""The payments service's gRPC servicer: proto <-> domain, no SQL, no business rules."""

from __future__ import annotations

from datetime import UTC, date

import grpc
from mais.booking.v1 import booking_service_pb2 as booking_pb
from mais.common.v1 import types_pb2
from mais.payments.v1 import payments_service_pb2 as pb
from mais.payments.v1 import payments_service_pb2_grpc as pb_grpc

from mais_runtime.errors import ValidationError
from mais_runtime.proto_time import timestamp
from services.payments.checkout import Checkout, Urls
from services.payments.connect import ConnectOnboarding
from services.payments.domain import (
    BookingState,
    BookingStatus,
    CheckoutInput,
    EventStatus,
    LedgerTotals,
    RefundChoice,
    SessionState,
    check_idempotency_key,
    check_reason,
    check_request_id,
)
from services.payments.domain.instalments import InstalmentAction, InstalmentChange
from services.payments.domain.schedule import PlannedInstalment
from services.payments.inbox import StripeInbox
from services.payments.instalments import InstalmentChanges
from services.payments.ledger import LedgerView, PeriodTotals
from services.payments.refunds import Refunds
from services.payments.schedule_wire import instalment_kind_pb, instalment_pb, schedule_pb
from services.payments.schedules import Schedules
from services.payments.store import InboxEvent
from services.payments.store_refunds import Outstanding

_STATUS_TO_PB = {
    EventStatus.RECEIVED: pb.EVENT_STATUS_RECEIVED,
    EventStatus.PROCESSED: pb.EVENT_STATUS_PROCESSED,
    EventStatus.FAILED: pb.EVENT_STATUS_FAILED,
    EventStatus.IGNORED: pb.EVENT_STATUS_IGNORED,
}
_STATUS_FROM_PB = {v: k for k, v in _STATUS_TO_PB.items()}


def _event(row: InboxEvent) -> pb.WebhookEvent:
    return pb.WebhookEvent(
        id=row.id,
        stripe_event_id=row.stripe_event_id,
        type=row.type,
        tenant_id=row.tenant_id or "",
        status=_STATUS_TO_PB[row.status],
        attempts=row.attempts,
        last_error=row.last_error or "",
        received_at=timestamp(row.received_at),
        processed_at=timestamp(row.processed_at),
        booking_id=row.booking_id or "",
    )


def _status_filter(value: pb.EventStatus.ValueType) -> EventStatus | None:
    if value == pb.EVENT_STATUS_UNSPECIFIED:
        return None
    if value not in _STATUS_FROM_PB:
        raise ValidationError.of("status", "is not a known event status")
    return _STATUS_FROM_PB[value]


_ACTIONS = {
    pb.INSTALMENT_ACTION_WAIVE: InstalmentAction.WAIVE,
    pb.INSTALMENT_ACTION_MARK_PAID: InstalmentAction.MARK_PAID,
    pb.INSTALMENT_ACTION_SET_DUE_DATE: InstalmentAction.SET_DUE_DATE,
}

_SESSION_STATE_TO_PB = {
    SessionState.OPEN: pb.CHECKOUT_SESSION_STATUS_OPEN,
    SessionState.COMPLETE: pb.CHECKOUT_SESSION_STATUS_COMPLETE,
    SessionState.EXPIRED: pb.CHECKOUT_SESSION_STATUS_EXPIRED,
}

_BOOKING_STATUS_TO_PB = {
    BookingStatus.HELD: booking_pb.BOOKING_STATUS_HELD,
    BookingStatus.CONFIRMED: booking_pb.BOOKING_STATUS_CONFIRMED,
    BookingStatus.RELEASED: booking_pb.BOOKING_STATUS_RELEASED,
    BookingStatus.CANCELLED: booking_pb.BOOKING_STATUS_CANCELLED,
}


def _booking(state: BookingState) -> booking_pb.Booking:
    """The booking as booking answered it (the use case passes it on unchanged)."""
    if isinstance(state.record, booking_pb.Booking):
        return state.record
    return booking_pb.Booking(id=state.booking_id, status=_BOOKING_STATUS_TO_PB[state.status])


def _refund_choice(refund: pb.RefundChoice) -> RefundChoice:
    which = refund.WhichOneof("choice")
    if which == "none":
        return RefundChoice.none()
    if which == "full":
        return RefundChoice.full()
    if which == "amount_cents":
        return RefundChoice.amount(refund.amount_cents)
    raise ValidationError.of("refund", 'must be "none", "full" or {"amountCents": n}')


def _planned(part: PlannedInstalment, currency: str) -> types_pb2.Instalment:
    """A planned instalment (nothing paid yet) on the wire."""
    return types_pb2.Instalment(
        seq=part.seq,
        kind=instalment_kind_pb(part.kind),
        amount_cents=part.amount_cents,
        currency=currency,
        due_date=part.due_date.isoformat(),
        status=types_pb2.INSTALMENT_STATUS_DUE,
    )


def _tenant_totals(totals: PeriodTotals) -> pb.TenantTotals:
    money = totals.ledger
    return pb.TenantTotals(
        currency=totals.currency,
        bookings=totals.bookings,
        gross_cents=money.charged,
        fee_cents=money.platform_fee,
        refunded_cents=money.refunded,
        net_cents=money.net_to_tenant,
    )


class PaymentsServicer(pb_grpc.PaymentsServiceServicer):
    """Every PaymentsService RPC, delegating to one use case each."""

    def __init__(
        self,
        *,
        checkout: Checkout,
        schedules: Schedules,
        inbox: StripeInbox,
        refunds: Refunds,
        ledger: LedgerView,
        onboarding: ConnectOnboarding,
        instalments: InstalmentChanges | None = None,
    ) -> None:
        self._instalments = instalments
        self._checkout = checkout
        self._schedules = schedules
        self._inbox = inbox
        self._refunds = refunds
        self._ledger = ledger
        self._onboarding = onboarding

    async def StartCheckout(
        self, request: pb.StartCheckoutRequest, context: grpc.aio.ServicerContext
    ) -> pb.StartCheckoutResponse:
        """Quote, hold, then one Stripe Checkout Session; idempotent by idempotency_key and body."""
        checked = CheckoutInput.checked(
            package_id=request.package_id,
            add_on_ids=request.add_on_ids,
            event_date=request.event_date,
            couple_name=request.couple_name,
            email=request.email,
            phone=request.phone,
            notes=request.notes,
            starts_at=request.starts_at.ToDatetime(tzinfo=UTC) if request.HasField("starts_at") else None,
        )
        urls = (
            Urls(request.success_url, request.cancel_url)
            if request.success_url and request.cancel_url
            else None
        )
        answer = await self._checkout.start(
            request.tenant_id,
            checked,
            idempotency_key=check_idempotency_key(request.idempotency_key),
            request_hash=request.request_hash,
            urls=urls,
            client_ip=request.client_ip,
        )
        return pb.StartCheckoutResponse(
            booking_id=answer.booking_id,
            status=_BOOKING_STATUS_TO_PB[answer.status],
            checkout_url=answer.checkout_url,
            expires_at=timestamp(answer.expires_at),
            total_cents=answer.total_cents,
            currency=answer.currency,
            amount_due_now_cents=answer.amount_due_now_cents or answer.total_cents,
            schedule=types_pb2.PaymentSchedule(
                booking_id=answer.booking_id,
                currency=answer.currency,
                total_cents=answer.total_cents,
                outstanding_cents=sum(p.amount_cents for p in answer.schedule),
                instalments=[_planned(p, answer.currency) for p in answer.schedule],
                next_due_date=answer.schedule[0].due_date.isoformat() if answer.schedule else "",
            ),
        )

    async def GetCheckoutSession(
        self, request: pb.GetCheckoutSessionRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetCheckoutSessionResponse:
        """The booking a Checkout Session of this tenant pays for and the session's state; NOT_FOUND."""
        booking_id, state = await self._checkout.session(request.tenant_id, request.payment_session_id)
        return pb.GetCheckoutSessionResponse(
            booking_id=booking_id, session_status=_SESSION_STATE_TO_PB[state]
        )

    async def HandleStripeWebhook(
        self, request: pb.HandleStripeWebhookRequest, context: grpc.aio.ServicerContext
    ) -> pb.HandleStripeWebhookResponse:
        """Verifies, stores once and processes a Stripe webhook. INVALID_SIGNATURE when the signature
        does not verify (nothing stored); INTERNAL when processing failed (stored as FAILED)."""
        row = await self._inbox.receive(request.payload, request.signature_header)
        return pb.HandleStripeWebhookResponse(event_id=row.id, status=_STATUS_TO_PB[row.status])

    async def CancelAndRefund(
        self, request: pb.CancelAndRefundRequest, context: grpc.aio.ServicerContext
    ) -> pb.CancelAndRefundResponse:
        """Cancels a booking, refunding none, all or part of its payment, and answers the booking;
        idempotent by request_id (or, without one, by booking and refund choice). The refund choice is
        required: a forgotten field must never decide that nobody gets their money back."""
        if not request.booking_id:
            raise ValidationError.of("bookingId", "is required")
        if not request.HasField("refund") or request.refund.WhichOneof("choice") is None:
            raise ValidationError.of("refund", 'is required: "none", "full" or {"amountCents": n}')
        choice = _refund_choice(request.refund)
        outcome = await self._refunds.cancel_and_refund(
            request.tenant_id,
            request.booking_id,
            reason=check_reason(request.reason),
            choice=choice,
            actor=request.actor or "system",
            request_id=check_request_id(request.request_id),
        )
        return pb.CancelAndRefundResponse(
            booking_id=outcome.booking.booking_id,
            status=_BOOKING_STATUS_TO_PB[outcome.booking.status],
            booking=_booking(outcome.booking),
            refunded_cents=outcome.refunded_cents,
            total_refunded_cents=outcome.total_refunded_cents,
            fee_refunded_cents=outcome.fee_refunded_cents,
        )

    async def ListEvents(
        self, request: pb.ListEventsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListEventsResponse:
        """The tenant's stored Stripe events, newest first, optionally by status."""
        rows, token = await self._inbox.events(
            request.tenant_id,
            status=_status_filter(request.status),
            page_size=request.page_size,
            page_token=request.page_token,
        )
        return pb.ListEventsResponse(events=[_event(r) for r in rows], next_page_token=token)

    async def ListAllEvents(
        self, request: pb.ListAllEventsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListAllEventsResponse:
        """Every tenant's stored Stripe events (platform admin), newest first."""
        rows, token = await self._inbox.events(
            None,
            status=_status_filter(request.status),
            page_size=request.page_size,
            page_token=request.page_token,
        )
        return pb.ListAllEventsResponse(events=[_event(r) for r in rows], next_page_token=token)

    async def GetPlatformTotals(
        self, request: pb.GetPlatformTotalsRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetPlatformTotalsResponse:
        """Every tenant's ledger summed per currency, and per month of the last twelve (platform admin)."""
        platform = await self._ledger.platform_totals()
        return pb.GetPlatformTotalsResponse(
            totals=[_currency_totals(currency, t, owed) for currency, t, owed in platform.totals],
            failed_events=platform.failed_events,
            by_month=[
                pb.PlatformMonthTotals(month=month, totals=[_currency_totals(c, t) for c, t in totals])
                for month, totals in platform.by_month
            ],
        )

    async def GetTenantTotals(
        self, request: pb.GetTenantTotalsRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetTenantTotalsResponse:
        """The tenant's ledger over a period of days of its zone, per currency and per month."""
        answer = await self._ledger.tenant_totals(
            request.tenant_id, request.from_date, request.to_date, request.timezone
        )
        return pb.GetTenantTotalsResponse(
            totals=[_tenant_totals(t) for t in answer.totals],
            months=[pb.MonthTotals(month=month, totals=_tenant_totals(t)) for month, t in answer.months],
            outstanding=[
                pb.Outstanding(
                    currency=o.currency,
                    outstanding_cents=o.outstanding_cents,
                    bookings=o.bookings,
                    overdue_cents=o.overdue_cents,
                    overdue_bookings=o.overdue_bookings,
                )
                for o in answer.outstanding
            ],
            overdue=[
                pb.OverdueInstalment(booking_id=i.booking_id, instalment=instalment_pb(i, admin=True))
                for i in answer.overdue
            ],
        )

    async def GetWebhookHealth(
        self, request: pb.GetWebhookHealthRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetWebhookHealthResponse:
        """The event inbox's health across tenants (platform admin)."""
        health = await self._ledger.webhook_health()
        return pb.GetWebhookHealthResponse(
            failed=health.failed,
            dead_letters=health.dead_letters,
            oldest_unprocessed_at=timestamp(health.oldest_unprocessed_at),
            tenants=[pb.TenantFailedEvents(tenant_id=t, failed=n) for t, n in health.tenants],
        )

    async def ReplayEvent(
        self, request: pb.ReplayEventRequest, context: grpc.aio.ServicerContext
    ) -> pb.ReplayEventResponse:
        """Processes one of the tenant's FAILED events again; answers the event as it ends up."""
        if not request.event_id:
            raise ValidationError.of("eventId", "is required")
        return pb.ReplayEventResponse(
            event=_event(await self._inbox.replay(request.tenant_id, request.event_id))
        )

    async def GetLedger(
        self, request: pb.GetLedgerRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetLedgerResponse:
        """A booking's ledger entries and totals."""
        if not request.booking_id:
            raise ValidationError.of("bookingId", "is required")
        payment, entries, totals = await self._ledger.of(request.tenant_id, request.booking_id)
        return pb.GetLedgerResponse(
            entries=[
                pb.LedgerEntry(
                    id=e.id,
                    booking_id=e.booking_id,
                    kind=e.kind.value,
                    amount_cents=e.amount_cents,
                    currency=e.currency,
                    stripe_object_id=e.stripe_object_id,
                    created_at=timestamp(e.created_at),
                    instalment_seq=e.instalment_seq,
                )
                for e in entries
            ],
            charged_cents=totals.charged,
            fee_cents=totals.fee,
            refunded_cents=totals.refunded,
            fee_refunded_cents=totals.fee_refunded,
            net_to_tenant_cents=totals.net_to_tenant,
            currency=payment.currency,
            net_paid_cents=totals.net_paid,
            platform_fee_cents=totals.platform_fee,
        )

    async def StartConnectOnboarding(
        self, request: pb.StartConnectOnboardingRequest, context: grpc.aio.ServicerContext
    ) -> pb.StartConnectOnboardingResponse:
        """The tenant's Connect account (created once) and a fresh onboarding link."""
        onboarding = await self._onboarding.start(
            request.tenant_id, refresh_url=request.refresh_url, return_url=request.return_url
        )
        return pb.StartConnectOnboardingResponse(
            stripe_account_id=onboarding.stripe_account_id, onboarding_url=onboarding.onboarding_url
        )

    # --- payment schedules ----------------------------------------------------------------

    async def QuoteSchedule(
        self, request: pb.QuoteScheduleRequest, context: grpc.aio.ServicerContext
    ) -> pb.QuoteScheduleResponse:
        """What a couple would pay and when for a package, add-ons and date (checkout's arithmetic)."""
        quoted = await self._schedules.quote_schedule(
            request.tenant_id, request.package_id, request.add_on_ids, request.event_date
        )
        return pb.QuoteScheduleResponse(
            total_cents=quoted.total_cents,
            currency=quoted.currency,
            instalments=[_planned(p, quoted.currency) for p in quoted.instalments],
            policy=quoted.policy.to_proto(),
        )

    async def GetSchedule(
        self, request: pb.GetScheduleRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetScheduleResponse:
        """A booking's schedule with its sums (empty for a booking this tenant does not have), and
        what the couple's own cancellation would refund and keep now."""
        parts = await self._schedules.schedule_of(request.tenant_id, request.booking_id)
        terms = await self._refunds.couple_terms(request.tenant_id, request.booking_id)
        return pb.GetScheduleResponse(
            schedule=schedule_pb(request.booking_id, parts),
            couple_refund_cents=terms.refund_cents,
            couple_kept_cents=terms.kept_cents,
        )

    async def PayInstalment(
        self, request: pb.PayInstalmentRequest, context: grpc.aio.ServicerContext
    ) -> pb.PayInstalmentResponse:
        """A Checkout Session for the booking's next owed instalment (one open at a time, answered
        again while worth paying in); NOTHING_DUE, FAILED_PRECONDITION unless CONFIRMED."""
        urls = (
            Urls(request.success_url, request.cancel_url)
            if request.success_url and request.cancel_url
            else None
        )
        answer = await self._schedules.pay_instalment(
            request.tenant_id, request.booking_id, seq=request.seq, urls=urls
        )
        return pb.PayInstalmentResponse(
            checkout_url=answer.checkout_url,
            expires_at=timestamp(answer.expires_at),
            instalment=instalment_pb(answer.instalment),
        )

    async def UpdateInstalment(
        self, request: pb.UpdateInstalmentRequest, context: grpc.aio.ServicerContext
    ) -> pb.UpdateInstalmentResponse:
        """Waives an owed instalment, marks it paid outside Stripe, or moves its due date, with a
        reason recorded in the booking's history; idempotent by request_id. Answers the schedule as
        the tenant admin sees it."""
        if not request.booking_id:
            raise ValidationError.of("bookingId", "is required")
        change = InstalmentChange.checked(
            seq=request.seq,
            action=_ACTIONS.get(request.action),
            note=request.note,
            due_date=request.due_date,
        )
        if self._instalments is None:
            raise RuntimeError("the servicer was built without instalment changes")
        changed = await self._instalments.update(
            request.tenant_id,
            request.booking_id,
            change,
            actor=request.actor or "tenant_admin",
            request_id=check_request_id(request.request_id),
        )
        return pb.UpdateInstalmentResponse(
            schedule=schedule_pb(changed.booking_id, changed.instalments, today=changed.today, admin=True)
        )

    async def ShiftSchedule(
        self, request: pb.ShiftScheduleRequest, context: grpc.aio.ServicerContext
    ) -> pb.ShiftScheduleResponse:
        """Moves a rescheduled booking's owed due dates with its event; idempotent by value."""
        if not request.booking_id:
            raise ValidationError.of("bookingId", "is required")
        try:
            event_date = date.fromisoformat(request.event_date) if len(request.event_date) == 10 else None
        except ValueError:
            event_date = None
        if event_date is None:
            raise ValidationError.of("eventDate", "must be a date, YYYY-MM-DD")
        check_request_id(request.request_id)
        if self._instalments is None:
            raise RuntimeError("the servicer was built without instalment changes")
        changed, moved = await self._instalments.shift(request.tenant_id, request.booking_id, event_date)
        return pb.ShiftScheduleResponse(
            schedule=schedule_pb(changed.booking_id, changed.instalments, today=changed.today, admin=True),
            moved=moved,
        )


def _currency_totals(
    currency: str, totals: LedgerTotals, owed: Outstanding | None = None
) -> pb.CurrencyTotals:
    return pb.CurrencyTotals(
        currency=currency,
        charged_cents=totals.charged,
        refunded_cents=totals.refunded,
        fee_cents=totals.fee,
        fee_refunded_cents=totals.fee_refunded,
        net_paid_cents=totals.net_paid,
        platform_fee_cents=totals.platform_fee,
        net_to_tenants_cents=totals.net_to_tenant,
        outstanding_cents=owed.outstanding_cents if owed else 0,
        outstanding_bookings=owed.bookings if owed else 0,
    )
