"""The services payments calls, behind small adapters that speak payments' domain: tenant (who a
tenant's payments go to, who owns a Connect account), catalog (the quote) and booking (holds and the
booking lifecycle). Wire types stop here. Deadlines, the internal credential and the trace context come
from the shared channels' interceptor."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date

import grpc
from mais.booking.v1 import booking_service_pb2 as booking_pb
from mais.booking.v1 import booking_service_pb2_grpc
from mais.catalog.v1 import catalog_service_pb2 as catalog_pb
from mais.catalog.v1 import catalog_service_pb2_grpc
from mais.common.v1 import types_pb2
from mais.tenant.v1 import tenant_service_pb2 as tenant_pb
from mais.tenant.v1 import tenant_service_pb2_grpc

from mais_runtime.change_feed import ChangeSubscription
from mais_runtime.channels import Channels
from mais_runtime.feed_cache import TenantFeedCache
from mais_runtime.payment_policy import OverdueAction, PaymentPolicy
from mais_runtime.proto_time import timestamp
from mais_runtime.settings import CommonSettings
from services.payments.domain import (
    BookingState,
    BookingStatus,
    ConfirmResult,
    ConnectState,
    Hold,
    HoldRequest,
    InstalmentRecorded,
    Payee,
    Quote,
    QuoteLine,
)
from services.payments.domain.instalments import Instalment
from services.payments.domain.notices import ScheduleNotice
from services.payments.schedule_wire import instalment_pb

log = logging.getLogger("mais.payments.clients")

# How long a tenant's commission and Connect account are reused between checkouts; while the tenant
# service's change feed is healthy (it says when the tenant changes), the longer time.
PAYEE_CACHE_SECONDS = 1.0
PAYEE_FEED_CACHE_SECONDS = 30.0


@dataclass(frozen=True)
class Peers:
    """One stub per service payments depends on."""

    tenant: tenant_service_pb2_grpc.TenantServiceAsyncStub
    catalog: catalog_service_pb2_grpc.CatalogServiceAsyncStub
    booking: booking_service_pb2_grpc.BookingServiceAsyncStub

    @classmethod
    def connect(cls, channels: Channels, settings: CommonSettings) -> Peers:
        """Stubs on the process's shared channels for the configured addresses."""
        return cls(
            tenant=tenant_service_pb2_grpc.TenantServiceStub(channels.get(settings.tenant_addr)),
            catalog=catalog_service_pb2_grpc.CatalogServiceStub(channels.get(settings.catalog_addr)),
            booking=booking_service_pb2_grpc.BookingServiceStub(channels.get(settings.booking_addr)),
        )


_CONNECT_STATES = {
    ConnectState.PENDING: tenant_pb.CONNECT_STATE_PENDING,
    ConnectState.ONBOARDED: tenant_pb.CONNECT_STATE_ONBOARDED,
}


class TenantPayees:
    """Who a tenant's payments go to, and who owns a Connect account."""

    def __init__(
        self,
        stub: tenant_service_pb2_grpc.TenantServiceAsyncStub,
    ) -> None:
        self._stub = stub
        self._cache: TenantFeedCache[Payee] = TenantFeedCache(
            PAYEE_CACHE_SECONDS, PAYEE_FEED_CACHE_SECONDS, 10_000
        )

    def follow_changes(self) -> ChangeSubscription:
        """The tenant service's change feed that keeps the payees current (a background job)."""
        return self._cache.follow("tenant", lambda: self._stub.WatchChanges(tenant_pb.WatchChangesRequest()))

    def _policy_of(self, tenant: tenant_pb.Tenant) -> PaymentPolicy:
        """The tenant's terms (pay in full for a tenant that set none). Terms the tenant service stored
        but that no longer pass the checks are not guessed at: pay in full, and the log says so."""
        try:
            return PaymentPolicy.from_proto(tenant.payment_policy)
        except Exception:
            log.warning("tenant %s has payment terms that do not pass the checks", tenant.id)
            return PaymentPolicy()

    async def payee(self, tenant_id: str) -> Payee:
        """The tenant's commission and Connect account, kept for a second when payable: a burst of
        checkouts asks the tenant service once, and a change (commission, account) applies within that
        second; while the tenant feed is healthy, kept until the feed says the tenant changed (at most
        PAYEE_FEED_CACHE_SECONDS)."""
        payee = self._cache.get(tenant_id)
        if payee is None:
            changes = self._cache.changes
            tenant = (await self._stub.GetTenant(tenant_pb.GetTenantRequest(tenant_id=tenant_id))).tenant
            payee = Payee(
                commission_bps=tenant.commission_bps,
                stripe_account_id=tenant.stripe_account_id,
                onboarded=tenant.connect_state == tenant_pb.CONNECT_STATE_ONBOARDED,
                policy=self._policy_of(tenant),
                timezone=tenant.timezone or "UTC",
                record=tenant,
            )
            # Only a payable tenant is kept: the moment onboarding completes, its next checkout sells.
            if payee.onboarded:
                self._cache.put(tenant_id, payee, changes)
        return payee

    async def forget_account(self, tenant_id: str, stripe_account_id: str) -> None:
        """Stripe does not know the tenant's Connect account (deleted, or the sandbox's data wiped):
        record the tenant as never onboarded, so it is asked to onboard again (and can) instead of every
        payment failing at Stripe. A tenant that has another account by now (onboarded again meanwhile;
        the caller read a stale copy) keeps it."""
        self._cache.discard(tenant_id)
        tenant = (await self._stub.GetTenant(tenant_pb.GetTenantRequest(tenant_id=tenant_id))).tenant
        if tenant.stripe_account_id != stripe_account_id:
            return
        log.warning(
            "Stripe does not know tenant %s's account %s; it must onboard again", tenant_id, stripe_account_id
        )
        await self._stub.SetStripeAccount(
            tenant_pb.SetStripeAccountRequest(
                tenant_id=tenant_id, stripe_account_id="", connect_state=tenant_pb.CONNECT_STATE_NOT_STARTED
            )
        )

    async def owner_of_account(self, stripe_account_id: str) -> str | None:
        """The tenant that owns a Connect account; None when no tenant does."""
        try:
            answer = await self._stub.ResolveStripeAccount(
                tenant_pb.ResolveStripeAccountRequest(stripe_account_id=stripe_account_id)
            )
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise
        return answer.tenant.id or None

    async def record_connect_state(self, tenant_id: str, stripe_account_id: str, state: ConnectState) -> None:
        """Tells the tenant service how far the tenant's Connect onboarding is."""
        self._cache.discard(tenant_id)
        await self._stub.SetStripeAccount(
            tenant_pb.SetStripeAccountRequest(
                tenant_id=tenant_id, stripe_account_id=stripe_account_id, connect_state=_CONNECT_STATES[state]
            )
        )


class CatalogQuotes:
    """Prices, from the catalog only (never from the client)."""

    def __init__(self, stub: catalog_service_pb2_grpc.CatalogServiceAsyncStub) -> None:
        self._stub = stub

    async def quote(self, tenant_id: str, package_id: str, add_on_ids: Iterable[str]) -> Quote:
        """The package and add-ons priced now; a catalog error (NOT_FOUND, ...) passes through."""
        snapshot = (
            await self._stub.Quote(
                catalog_pb.QuoteRequest(
                    tenant_id=tenant_id, package_id=package_id, add_on_ids=list(add_on_ids)
                )
            )
        ).quote
        return quote_of(snapshot)


def quote_of(snapshot: catalog_pb.QuoteSnapshot) -> Quote:
    """Payments' view of catalog's quote (as catalog answered it, or as a hold carries it)."""
    return Quote(
        lines=tuple(
            QuoteLine(line.title or line.slug or "Booking", line.price_cents) for line in snapshot.lines
        ),
        total_cents=snapshot.total_cents,
        currency=snapshot.currency,
        record=snapshot,
        policy=PaymentPolicy.from_proto(snapshot.payment_policy)
        if snapshot.HasField("payment_policy") and snapshot.payment_policy.deposit_kind != 0
        else None,
    )


_STATUSES = {
    booking_pb.BOOKING_STATUS_HELD: BookingStatus.HELD,
    booking_pb.BOOKING_STATUS_CONFIRMED: BookingStatus.CONFIRMED,
    booking_pb.BOOKING_STATUS_RELEASED: BookingStatus.RELEASED,
    booking_pb.BOOKING_STATUS_CANCELLED: BookingStatus.CANCELLED,
}
_OUTCOMES = {
    booking_pb.CONFIRM_OUTCOME_CONFIRMED: ConfirmResult.CONFIRMED,
    booking_pb.CONFIRM_OUTCOME_ALREADY_CONFIRMED: ConfirmResult.ALREADY_CONFIRMED,
    booking_pb.CONFIRM_OUTCOME_HOLD_LOST: ConfirmResult.HOLD_LOST,
}
_RECORDED = {
    booking_pb.RECORD_PAYMENT_OUTCOME_RECORDED: InstalmentRecorded.RECORDED,
    booking_pb.RECORD_PAYMENT_OUTCOME_ALREADY_RECORDED: InstalmentRecorded.ALREADY_RECORDED,
    booking_pb.RECORD_PAYMENT_OUTCOME_BOOKING_NOT_CONFIRMED: InstalmentRecorded.BOOKING_NOT_CONFIRMED,
}
# A hold that moved on (confirmed by a late payment, released, gone) has nothing left to release.
_NOTHING_TO_RELEASE = (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.NOT_FOUND)


_NOTICES = {
    ScheduleNotice.REMINDER: booking_pb.SCHEDULE_NOTICE_REMINDER,
    ScheduleNotice.DUE_TODAY: booking_pb.SCHEDULE_NOTICE_DUE_TODAY,
    ScheduleNotice.OVERDUE: booking_pb.SCHEDULE_NOTICE_OVERDUE,
    ScheduleNotice.WAIVED: booking_pb.SCHEDULE_NOTICE_WAIVED,
    ScheduleNotice.DUE_DATE_CHANGED: booking_pb.SCHEDULE_NOTICE_DUE_DATE_CHANGED,
}


def _state(booking: booking_pb.Booking) -> BookingState:
    try:
        day = date.fromisoformat(booking.event_date) if booking.event_date else None
    except ValueError:
        day = None
    titles = [line.title for line in booking.quote.lines if line.kind == "package" and line.title]
    return BookingState(
        booking.id,
        _STATUSES[booking.status],
        booking,
        email=booking.customer.email,
        event_date=day,
        package_title=titles[0] if titles else "",
    )


class Bookings:
    """Holds and the booking lifecycle, in the booking service."""

    def __init__(self, stub: booking_service_pb2_grpc.BookingServiceAsyncStub) -> None:
        self._stub = stub

    async def hold(self, tenant_id: str, request: HoldRequest) -> Hold:
        """Holds the date for the couple (DATE_UNAVAILABLE for another couple's date, HOLD_LIMIT_REACHED
        past the live-hold bounds); the same couple's live hold of that date comes back `resumed`."""
        checkout = request.checkout
        wire = booking_pb.HoldDateRequest(
            tenant_id=tenant_id,
            event_date=checkout.event_date.isoformat(),
            couple_name=checkout.couple_name,
            email=checkout.email,
            phone=checkout.phone,
            notes=checkout.notes,
            request_id=request.request_id,
            client_address=request.client_address,
            starts_at=timestamp(checkout.starts_at),
        )
        if request.quote is None:
            # Booking quotes, after refusing a date that is plainly taken: a loser costs no quote.
            wire.package_id = checkout.package_id
            wire.add_on_ids.extend(checkout.add_on_ids)
        else:
            snapshot = request.quote.record
            if not isinstance(snapshot, catalog_pb.QuoteSnapshot):
                raise TypeError("a hold needs the quote as catalog answered it")
            wire.quote.CopyFrom(snapshot)
        if isinstance(request.tenant, tenant_pb.Tenant) and request.tenant.id == tenant_id:
            wire.tenant.CopyFrom(request.tenant)
        answer = await self._stub.HoldDate(wire)
        booking = answer.booking
        return Hold(
            booking_id=booking.id,
            status=_STATUSES[booking.status],
            expires_at=booking.hold_expires_at.ToDatetime(tzinfo=UTC)
            if booking.HasField("hold_expires_at")
            else None,
            payment_session_id=booking.payment_session_id,
            resumed=answer.resumed,
            quote=quote_of(booking.quote) if booking.HasField("quote") else None,
        )

    async def attach_session(
        self, tenant_id: str, booking_id: str, session_id: str, *, replaces: str = ""
    ) -> None:
        """Links the hold to the Checkout Session that pays for it; a resumed hold's new session names
        the one it `replaces` (booking swaps them only if that is still the hold's session)."""
        await self._stub.AttachPaymentSession(
            booking_pb.AttachPaymentSessionRequest(
                tenant_id=tenant_id,
                booking_id=booking_id,
                payment_session_id=session_id,
                replaces_payment_session_id=replaces,
            )
        )

    async def release_hold(
        self, tenant_id: str, booking_id: str, reason: str, *, session_id: str = ""
    ) -> None:
        """Frees the date of a hold nobody will pay for; a booking that moved on is left alone, and so
        is a hold whose session is no longer `session_id` (when given)."""
        try:
            await self._stub.ReleaseHold(
                booking_pb.ReleaseHoldRequest(
                    tenant_id=tenant_id, booking_id=booking_id, reason=reason, payment_session_id=session_id
                )
            )
        except grpc.aio.AioRpcError as error:
            if error.code() not in _NOTHING_TO_RELEASE:
                raise

    async def confirm(
        self,
        tenant_id: str,
        booking_id: str,
        session_id: str,
        amount_paid_cents: int,
        schedule: Iterable[types_pb2.Instalment] = (),
    ) -> ConfirmResult:
        """Confirms the booking a payment completed (the deposit, or the whole); answers what that
        did. `schedule` is what the payment starts (the deposit receipt lists it)."""
        answer = await self._stub.ConfirmBooking(
            booking_pb.ConfirmBookingRequest(
                tenant_id=tenant_id,
                booking_id=booking_id,
                payment_session_id=session_id,
                amount_paid_cents=amount_paid_cents,
                schedule=list(schedule),
            )
        )
        outcome = _OUTCOMES.get(answer.outcome)
        if outcome is None:
            raise RuntimeError("booking answered no confirmation outcome")
        return outcome

    async def record_instalment_payment(
        self,
        tenant_id: str,
        booking_id: str,
        *,
        session_id: str,
        amount_cents: int,
        total_paid_cents: int,
        schedule: Iterable[types_pb2.Instalment],
        actor: str = "payments",
        note: str = "",
        request_id: str = "",
    ) -> InstalmentRecorded:
        """Tells booking a later instalment was paid (its history, the amount paid, the couple's
        receipt), once per session; answers whether the booking took it (it is not CONFIRMED any more:
        the caller refunds)."""
        answer = await self._stub.RecordInstalmentPayment(
            booking_pb.RecordInstalmentPaymentRequest(
                tenant_id=tenant_id,
                booking_id=booking_id,
                payment_session_id=session_id,
                amount_cents=amount_cents,
                total_paid_cents=total_paid_cents,
                schedule=list(schedule),
                actor=actor,
                note=note,
                request_id=request_id,
            )
        )
        outcome = _RECORDED.get(answer.outcome)
        if outcome is None:
            raise RuntimeError("booking answered no outcome for the instalment payment")
        return outcome

    async def notify_hold_lost_refund(
        self, tenant_id: str, booking_id: str, refund_cents: int, refund_id: str
    ) -> None:
        """Tells booking (and so the couple) that a payment for a lost hold was refunded."""
        await self._stub.NotifyHoldLostRefund(
            booking_pb.NotifyHoldLostRefundRequest(
                tenant_id=tenant_id, booking_id=booking_id, refund_cents=refund_cents, refund_id=refund_id
            )
        )

    async def record_refund(
        self,
        tenant_id: str,
        booking_id: str,
        *,
        total_refunded_cents: int,
        refund_cents: int,
        refund_id: str,
        kept_cents: int = 0,
    ) -> None:
        """Records a refund on the booking (booking emails the couple once per refund id, saying what
        the business keeps: `kept_cents` of a non-refundable deposit)."""
        await self._stub.RecordRefund(
            booking_pb.RecordRefundRequest(
                tenant_id=tenant_id,
                booking_id=booking_id,
                amount_refunded_cents=total_refunded_cents,
                refund_cents=refund_cents,
                refund_id=refund_id,
                kept_cents=kept_cents,
            )
        )

    async def notify_schedule(
        self,
        tenant_id: str,
        booking_id: str,
        *,
        notice: ScheduleNotice,
        instalment: Instalment,
        schedule: Sequence[Instalment],
        request_id: str,
        actor: str,
        note: str = "",
        overdue_action: OverdueAction | None = None,
        action_date: date | None = None,
    ) -> bool:
        """A schedule notice for the couple and the booking's history, once per request id: the
        sweep's reminders and overdue notices (with the overdue action and its date), a tenant admin's
        WAIVED and DUE_DATE_CHANGED (with the admin's note). False when an earlier call had it or the
        booking is not CONFIRMED (booking sends nothing then)."""
        answer = await self._stub.NotifySchedule(
            booking_pb.NotifyScheduleRequest(
                tenant_id=tenant_id,
                booking_id=booking_id,
                notice=_NOTICES[notice],
                instalment=instalment_pb(instalment, admin=False),
                schedule=[instalment_pb(i, admin=False) for i in schedule],
                # The policy's one proto spelling of the action.
                overdue_action=PaymentPolicy(overdue_action=overdue_action).to_proto().overdue_action
                if overdue_action
                else types_pb2.OVERDUE_ACTION_UNSPECIFIED,
                action_date=action_date.isoformat() if action_date else "",
                actor=actor,
                note=note,
                request_id=request_id,
            )
        )
        return bool(answer.done)

    async def get(self, tenant_id: str, booking_id: str, *, with_history: bool = False) -> BookingState:
        """The booking (NOT_FOUND for another tenant's)."""
        answer = await self._stub.GetBooking(
            booking_pb.GetBookingRequest(
                tenant_id=tenant_id, booking_id=booking_id, with_history=with_history
            )
        )
        return _state(answer.booking)

    async def check_cancel(self, tenant_id: str, booking_id: str, actor: str) -> None:
        """Whether `actor` may cancel the booking now (booking answers CANCELLATION_WINDOW_CLOSED ...);
        changes nothing."""
        await self._stub.CancelBooking(
            booking_pb.CancelBookingRequest(
                tenant_id=tenant_id, booking_id=booking_id, actor=actor, validate_only=True
            )
        )

    async def cancel(self, tenant_id: str, booking_id: str, *, reason: str, actor: str) -> BookingState:
        """Cancels the booking (idempotent: a cancelled booking stays as it is)."""
        answer = await self._stub.CancelBooking(
            booking_pb.CancelBookingRequest(
                tenant_id=tenant_id, booking_id=booking_id, reason=reason, actor=actor
            )
        )
        return _state(answer.booking)

    async def record_offline_payment(
        self,
        tenant_id: str,
        booking_id: str,
        *,
        instalment: Instalment,
        schedule: list[Instalment],
        actor: str,
        note: str,
        request_id: str,
    ) -> bool:
        """Records an instalment paid outside Stripe on the booking (amount paid, history, receipt);
        one effect per request id. False when the booking is no longer CONFIRMED (nothing recorded)."""
        answer = await self._stub.RecordInstalmentPayment(
            booking_pb.RecordInstalmentPaymentRequest(
                tenant_id=tenant_id,
                booking_id=booking_id,
                amount_cents=instalment.amount_cents,
                total_paid_cents=sum(i.paid_cents - i.refunded_cents for i in schedule),
                schedule=[instalment_pb(i, admin=False) for i in schedule],
                actor=actor,
                note=note,
                request_id=request_id,
            )
        )
        return answer.outcome != booking_pb.RECORD_PAYMENT_OUTCOME_BOOKING_NOT_CONFIRMED
