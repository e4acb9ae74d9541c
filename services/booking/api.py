"""The booking service's gRPC servicer: proto <-> domain, no SQL, no business rules."""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import grpc
import orjson
from google.protobuf import json_format
from google.protobuf.timestamp_pb2 import Timestamp
from mais.booking.v1 import booking_service_pb2 as pb
from mais.booking.v1 import booking_service_pb2_grpc as pb_grpc
from mais.catalog.v1 import catalog_service_pb2 as catalog_pb
from mais.common.v1 import types_pb2

from mais_runtime import paging
from mais_runtime.change_feed import ChangeFanout, serve_changes
from mais_runtime.errors import NotFound, PreconditionFailed, ValidationError
from mais_runtime.payment_policy import OverdueAction
from mais_runtime.proto_time import timestamp
from mais_runtime.slot_terms import SlotTerms
from services.booking import domain, links
from services.booking.clients import Quoter, calendar_of
from services.booking.domain import (
    Blackout,
    Booking,
    BookingFilter,
    ConfirmOutcome,
    CoupleDetails,
    DateAvailability,
    HoldResult,
    Quote,
    Reason,
    SlotChoice,
    Status,
    TenantCalendar,
)
from services.booking.hours import Hours
from services.booking.opening_hours import (
    MAX_EXCEPTION_DAYS,
    OpeningHours,
    Resource,
    checked_exceptions,
    checked_weekly,
    exception_span,
    resource_id_or_none,
)
from services.booking.schedules import (
    MAX_INSTALMENTS,
    Instalment,
    InstalmentPayment,
    Notice,
    RecordOutcome,
    ScheduleNotice,
)
from services.booking.slots import Slot, TimeRange
from services.booking.use_cases import Bookings

_CONFIRM_OUTCOMES = {
    ConfirmOutcome.CONFIRM: pb.CONFIRM_OUTCOME_CONFIRMED,
    ConfirmOutcome.ALREADY_CONFIRMED: pb.CONFIRM_OUTCOME_ALREADY_CONFIRMED,
    ConfirmOutcome.HOLD_LOST: pb.CONFIRM_OUTCOME_HOLD_LOST,
}

_RECORD_OUTCOMES = {
    RecordOutcome.RECORDED: pb.RECORD_PAYMENT_OUTCOME_RECORDED,
    RecordOutcome.ALREADY_RECORDED: pb.RECORD_PAYMENT_OUTCOME_ALREADY_RECORDED,
    RecordOutcome.BOOKING_NOT_CONFIRMED: pb.RECORD_PAYMENT_OUTCOME_BOOKING_NOT_CONFIRMED,
}
_NOTICES = {
    pb.SCHEDULE_NOTICE_REMINDER: Notice.REMINDER,
    pb.SCHEDULE_NOTICE_DUE_TODAY: Notice.DUE_TODAY,
    pb.SCHEDULE_NOTICE_OVERDUE: Notice.OVERDUE,
    pb.SCHEDULE_NOTICE_WAIVED: Notice.WAIVED,
    pb.SCHEDULE_NOTICE_DUE_DATE_CHANGED: Notice.DUE_DATE_CHANGED,
}
_OVERDUE_ACTIONS = {
    types_pb2.OVERDUE_ACTION_REMIND: OverdueAction.REMIND,
    types_pb2.OVERDUE_ACTION_CANCEL_KEEP_DEPOSIT: OverdueAction.CANCEL_KEEP_DEPOSIT,
    types_pb2.OVERDUE_ACTION_CANCEL_REFUND_DEPOSIT: OverdueAction.CANCEL_REFUND_DEPOSIT,
}
_KIND_PREFIX = "INSTALMENT_KIND_"
_STATUS_PREFIX = "INSTALMENT_STATUS_"

_BOOKING_ID = re.compile(r"^bk_[a-z0-9]{26}$")
_BLACKOUT_ID = re.compile(r"^bo_[a-z0-9]{26}$")

_STATUS_TO_PB = {
    Status.HELD: pb.BOOKING_STATUS_HELD,
    Status.CONFIRMED: pb.BOOKING_STATUS_CONFIRMED,
    Status.RELEASED: pb.BOOKING_STATUS_RELEASED,
    Status.CANCELLED: pb.BOOKING_STATUS_CANCELLED,
}
_STATUS_FROM_PB = {v: k for k, v in _STATUS_TO_PB.items()}
_REASON_TO_PB = {
    Reason.BOOKED: pb.UNAVAILABLE_REASON_BOOKED,
    Reason.HELD: pb.UNAVAILABLE_REASON_HELD,
    Reason.BLACKOUT: pb.UNAVAILABLE_REASON_BLACKOUT,
    Reason.PAST: pb.UNAVAILABLE_REASON_PAST,
    Reason.OUT_OF_RANGE: pb.UNAVAILABLE_REASON_OUT_OF_RANGE,
}


# A slot's start must lie inside these years: anything else is no booking, and its day's neighbours
# would overflow the datetime range.
_YEARS = (1970, 9000)


class BookingServicer(pb_grpc.BookingServiceServicer):
    """Availability, holds, bookings and blackouts; every RPC acts for the request's tenant."""

    def __init__(
        self,
        bookings: Bookings,
        hours: Hours,
        quotes: Quoter | None = None,
        *,
        changes: ChangeFanout | None = None,
    ) -> None:
        self._bookings = bookings
        self._hours = hours
        # Catalog, for holds that name their package instead of carrying its quote.
        self._quotes = quotes
        self._changes = changes

    async def WatchChanges(  # type: ignore[override]  # writes with context.write, returns nothing
        self, request: pb.WatchChangesRequest, context: grpc.aio.ServicerContext
    ) -> None:
        """The tenants whose data changed, as a stream (mais_runtime/change_feed.py)."""
        await serve_changes(self._changes, context, pb.WatchChangesResponse)

    async def GetAvailability(
        self, request: pb.GetAvailabilityRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetAvailabilityResponse:
        """Availability of one date: the calendar's answer for a range of one day."""
        day = domain.parse_date(request.date, "date")
        [answer] = await self._bookings.availability(request.tenant_id, day, day)
        return pb.GetAvailabilityResponse(availability=_availability(answer))

    async def GetCalendar(
        self, request: pb.GetCalendarRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetCalendarResponse:
        """The unavailable dates of a range of at most 366 days, with their reasons, in date order."""
        first, last = domain.parse_range(request.from_date, request.to_date)
        answers = await self._bookings.availability(request.tenant_id, first, last)
        return pb.GetCalendarResponse(unavailable=[_availability(a) for a in answers if not a.available])

    async def HoldDate(
        self, request: pb.HoldDateRequest, context: grpc.aio.ServicerContext
    ) -> pb.HoldDateResponse:
        """Holds a date for a couple (DATE_UNAVAILABLE when booked, held, blacked out, past or out of
        the tenant's notice window; HOLD_LIMIT_REACHED beyond the couple's or the address's bound of
        live holds); the same request id returns the same hold, and the same couple asking again for
        the date they hold gets that hold back (`resumed`). With `package_id` instead of `quote`, a
        whole day that is plainly taken is refused before catalog is asked for the quote."""
        couple = CoupleDetails.checked(
            name=request.couple_name, email=request.email, phone=request.phone, notes=request.notes
        )
        if len(request.request_id) > 255:
            raise ValidationError.of("request_id", "must be at most 255 characters")
        calendar = (
            calendar_of(request.tenant)
            if request.HasField("tenant") and request.tenant.id == request.tenant_id
            else None
        )
        client_address = _short(request.client_address, "client_address", 100)
        if request.HasField("quote"):
            slot = _slot_choice(request.quote, request)
            result = await self._bookings.hold(
                request.tenant_id,
                day=_hold_day(request, slot),
                couple=couple,
                quote=_quote(request.quote),
                request_id=request.request_id,
                client_address=client_address,
                slot=slot,
                calendar=calendar,
            )
        elif request.package_id:
            result = await self._hold_quoting(request, couple, client_address, calendar)
        else:
            raise ValidationError.of("quote", "is required")
        return pb.HoldDateResponse(booking=_booking(result.booking), resumed=result.resumed)

    async def _hold_quoting(
        self,
        request: pb.HoldDateRequest,
        couple: CoupleDetails,
        client_address: str,
        calendar: TenantCalendar | None,
    ) -> HoldResult:
        """A hold whose quote booking asks catalog for, once the date is not plainly taken."""
        if self._quotes is None:
            raise ValidationError.of("quote", "is required")
        quotes = self._quotes
        if len(request.package_id) > 64:
            raise ValidationError.of("package_id", "must be at most 64 characters")
        if len(request.add_on_ids) > 20 or any(len(a) > 64 for a in request.add_on_ids):
            raise ValidationError.of("add_on_ids", "at most 20 ids of at most 64 characters each")
        # Without a start it is a whole day (a time-slot service's quote then says startsAt is required).
        whole_day = not request.HasField("starts_at")
        day = domain.parse_date(request.event_date, "eventDate") if request.event_date or whole_day else None

        async def priced() -> tuple[Quote, SlotChoice | None]:
            snapshot = await quotes.quote(request.tenant_id, request.package_id, request.add_on_ids)
            check_chargeable(snapshot)
            slot = _slot_choice(snapshot, request)
            if slot is None and day is None:
                raise ValidationError.of("eventDate", "is required")
            return _quote(snapshot), slot

        return await self._bookings.hold_quoting(
            request.tenant_id,
            day=day,
            whole_day=whole_day,
            couple=couple,
            price=priced,
            request_id=request.request_id,
            client_address=client_address,
            calendar=calendar,
        )

    async def AttachPaymentSession(
        self, request: pb.AttachPaymentSessionRequest, context: grpc.aio.ServicerContext
    ) -> pb.AttachPaymentSessionResponse:
        """Links a hold to its checkout session (idempotent for the same session); with
        `replaces_payment_session_id`, swaps that session for this one."""
        session = _required(request.payment_session_id, "payment_session_id")
        replaces = request.replaces_payment_session_id
        if replaces:
            replaces = _required(replaces, "replaces_payment_session_id")
        booking = await self._bookings.attach_payment_session(
            request.tenant_id, _booking_id(request.booking_id), session, replaces=replaces
        )
        return pb.AttachPaymentSessionResponse(booking=_booking(booking))

    async def ConfirmBooking(
        self, request: pb.ConfirmBookingRequest, context: grpc.aio.ServicerContext
    ) -> pb.ConfirmBookingResponse:
        """HELD -> CONFIRMED by payment, idempotent by payment session. The outcome is in the answer:
        HOLD_LOST when the date was taken by someone else after the hold expired (payments refunds)."""
        session = _required(request.payment_session_id, "payment_session_id")
        if request.amount_paid_cents < 0:
            raise ValidationError.of("amount_paid_cents", "must not be negative")
        booking, outcome = await self._bookings.confirm(
            request.tenant_id,
            _booking_id(request.booking_id),
            session_id=session,
            amount_paid_cents=request.amount_paid_cents,
            schedule=_schedule(request.schedule),
        )
        return pb.ConfirmBookingResponse(booking=_booking(booking), outcome=_CONFIRM_OUTCOMES[outcome])

    async def ReleaseHold(
        self, request: pb.ReleaseHoldRequest, context: grpc.aio.ServicerContext
    ) -> pb.ReleaseHoldResponse:
        """HELD -> RELEASED (checkout expired or abandoned); releasing again changes nothing. With
        `payment_session_id`, only that session's end releases the hold."""
        booking = await self._bookings.release(
            request.tenant_id,
            _booking_id(request.booking_id),
            reason=_short(request.reason, "reason"),
            session_id=_short(request.payment_session_id, "payment_session_id", 255),
        )
        return pb.ReleaseHoldResponse(booking=_booking(booking))

    async def CancelBooking(
        self, request: pb.CancelBookingRequest, context: grpc.aio.ServicerContext
    ) -> pb.CancelBookingResponse:
        """CONFIRMED -> CANCELLED, freeing the date at once and telling the couple. A couple may cancel
        only within the tenant's policy; cancelling again changes nothing."""
        booking = await self._bookings.cancel(
            request.tenant_id,
            _booking_id(request.booking_id),
            actor=domain.parse_actor(request.actor),
            reason=_short(request.reason, "reason"),
            validate_only=request.validate_only,
        )
        return pb.CancelBookingResponse(booking=_booking(booking))

    async def RecordRefund(
        self, request: pb.RecordRefundRequest, context: grpc.aio.ServicerContext
    ) -> pb.RecordRefundResponse:
        """Records the cumulative refunded amount and emails the couple once per refund id."""
        refund_id = _required(request.refund_id, "refund_id")
        if request.refund_cents < 0:
            raise ValidationError.of("refund_cents", "must not be negative")
        if request.kept_cents < 0:
            raise ValidationError.of("kept_cents", "must not be negative")
        booking = await self._bookings.record_refund(
            request.tenant_id,
            _booking_id(request.booking_id),
            total_refunded_cents=request.amount_refunded_cents,
            refund_cents=request.refund_cents,
            refund_id=refund_id,
            kept_cents=request.kept_cents,
        )
        return pb.RecordRefundResponse(booking=_booking(booking))

    async def NotifyHoldLostRefund(
        self, request: pb.NotifyHoldLostRefundRequest, context: grpc.aio.ServicerContext
    ) -> pb.NotifyHoldLostRefundResponse:
        """Tells a couple whose hold was lost that their payment was refunded (once per refund id)."""
        refund_id = _required(request.refund_id, "refund_id")
        if request.refund_cents < 0:
            raise ValidationError.of("refund_cents", "must not be negative")
        await self._bookings.notify_hold_lost_refund(
            request.tenant_id,
            _booking_id(request.booking_id),
            refund_cents=request.refund_cents,
            refund_id=refund_id,
        )
        return pb.NotifyHoldLostRefundResponse()

    async def GetBooking(
        self, request: pb.GetBookingRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetBookingResponse:
        """One booking of the tenant, optionally with its history (NOT_FOUND for another tenant's)."""
        booking = await self._bookings.get(
            request.tenant_id, _booking_id(request.booking_id), with_history=request.with_history
        )
        return pb.GetBookingResponse(booking=_booking(booking))

    async def GetBookingWithToken(
        self, request: pb.GetBookingWithTokenRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetBookingWithTokenResponse:
        """The couple's view, authorised by their signed token, in the tenant the token names; any bad
        token answers NOT_FOUND."""
        tenant_id = links.tenant_of_token(request.token) if len(request.token) <= 200 else None
        if tenant_id is None:
            raise NotFound("booking")
        booking, cancellation = await self._bookings.get_with_token(
            tenant_id, _booking_id(request.booking_id), request.token
        )
        answer = _booking(booking)
        answer.couple_cancellation.CopyFrom(
            pb.CoupleCancellation(
                allowed_now=cancellation.allowed_now,
                last_day=cancellation.last_day.isoformat() if cancellation.last_day else "",
            )
        )
        return pb.GetBookingWithTokenResponse(booking=answer)

    async def ListBookings(
        self, request: pb.ListBookingsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListBookingsResponse:
        """A page of the tenant's bookings in event-date order, filtered by status, date range, email."""
        if request.status and request.status not in _STATUS_FROM_PB:
            raise ValidationError.of("status", "is not a booking status")
        first, last = domain.parse_optional_range(request.from_date, request.to_date)
        filters = BookingFilter(
            status=_STATUS_FROM_PB.get(request.status),
            from_date=first,
            to_date=last,
            customer_email=domain.normalise_email(request.customer_email),
        )
        page, token = await self._bookings.list_bookings(
            request.tenant_id,
            filters=filters,
            limit=paging.page_size(request.page_size),
            cursor=request.page_token,
        )
        return pb.ListBookingsResponse(bookings=[_booking(b) for b in page], next_page_token=token)

    async def CountPackageBookings(
        self, request: pb.CountPackageBookingsRequest, context: grpc.aio.ServicerContext
    ) -> pb.CountPackageBookingsResponse:
        """How many live bookings were sold with a package (catalog keeps such a package)."""
        package_id = _required(request.package_id, "package_id")
        return pb.CountPackageBookingsResponse(
            count=await self._bookings.count_package_bookings(request.tenant_id, package_id)
        )

    async def GetCalendarFeed(
        self, request: pb.GetCalendarFeedRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetCalendarFeedResponse:
        """The tenant's calendar feed token (made on the first read)."""
        return pb.GetCalendarFeedResponse(token=await self._bookings.calendar_feed_token(request.tenant_id))

    async def RotateCalendarFeed(
        self, request: pb.RotateCalendarFeedRequest, context: grpc.aio.ServicerContext
    ) -> pb.RotateCalendarFeedResponse:
        """A new calendar feed token; the old one stops at once."""
        if len(request.request_id) > 255:
            raise ValidationError.of("requestId", "must be at most 255 characters")
        token = await self._bookings.rotate_calendar_feed(request.tenant_id, request.request_id)
        return pb.RotateCalendarFeedResponse(token=token)

    async def ResendConfirmation(
        self, request: pb.ResendConfirmationRequest, context: grpc.aio.ServicerContext
    ) -> pb.ResendConfirmationResponse:
        """The confirmation email again (one per request_id); with the schedule, the deposit's
        receipt while a balance is owed."""
        if not request.request_id or len(request.request_id) > 255:
            raise ValidationError.of("requestId", "is required, at most 255 characters")
        booking = await self._bookings.resend_confirmation(
            request.tenant_id,
            _booking_id(request.booking_id),
            request.request_id,
            schedule=_schedule(request.schedule),
        )
        return pb.ResendConfirmationResponse(booking=_booking(booking))

    async def ListCalendarFeedEvents(
        self, request: pb.ListCalendarFeedEventsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListCalendarFeedEventsResponse:
        """The tenant and confirmed bookings a feed token opens; NOT_FOUND for any other token."""
        tenant_id, events = await self._bookings.calendar_feed(request.token)
        return pb.ListCalendarFeedEventsResponse(
            tenant_id=tenant_id,
            events=[
                pb.CalendarFeedEvent(
                    booking_id=event.booking_id,
                    event_date=event.event_date.isoformat(),
                    couple_name=event.couple_name,
                    package_title=event.package_title,
                    starts_at=timestamp(event.starts_at),
                    ends_at=timestamp(event.ends_at),
                )
                for event in events
            ],
        )

    async def CountAllBookings(
        self, request: pb.CountAllBookingsRequest, context: grpc.aio.ServicerContext
    ) -> pb.CountAllBookingsResponse:
        """Every tenant's bookings by state, and per month of the last twelve (platform admin)."""
        totals, months = await self._bookings.count_all()
        return pb.CountAllBookingsResponse(
            **totals, by_month=[pb.MonthBookings(month=month, **counts) for month, counts in months]
        )

    async def ListBlackouts(
        self, request: pb.ListBlackoutsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListBlackoutsResponse:
        """A page of the tenant's blackout dates in date order."""
        first, last = domain.parse_optional_range(request.from_date, request.to_date)
        page, token = await self._bookings.list_blackouts(
            request.tenant_id,
            first=first,
            last=last,
            limit=paging.page_size(request.page_size),
            cursor=request.page_token,
        )
        return pb.ListBlackoutsResponse(blackouts=[_blackout(b) for b in page], next_page_token=token)

    async def CreateBlackout(
        self, request: pb.CreateBlackoutRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateBlackoutResponse:
        """Blacks out a date: CONFLICT when already blacked out, DATE_UNAVAILABLE when held or booked."""
        day = domain.parse_date(request.date, "date")
        blackout = await self._bookings.create_blackout(
            request.tenant_id, day, _short(request.reason, "reason")
        )
        return pb.CreateBlackoutResponse(blackout=_blackout(blackout))

    async def DeleteBlackout(
        self, request: pb.DeleteBlackoutRequest, context: grpc.aio.ServicerContext
    ) -> pb.DeleteBlackoutResponse:
        """Removes a blackout (NOT_FOUND when there is none with that id)."""
        if not _BLACKOUT_ID.match(request.blackout_id):
            raise NotFound("blackout")
        await self._bookings.delete_blackout(request.tenant_id, request.blackout_id)
        return pb.DeleteBlackoutResponse()

    # --- payment schedules (issue 15) ----------------------------------------------------------

    async def RecordInstalmentPayment(
        self, request: pb.RecordInstalmentPaymentRequest, context: grpc.aio.ServicerContext
    ) -> pb.RecordInstalmentPaymentResponse:
        """A later instalment was paid (Stripe, or offline): the paid amount, a history line and the
        couple's receipt, once per session (or request id); BOOKING_NOT_CONFIRMED when the booking was
        cancelled meanwhile (nothing recorded; payments refunds)."""
        payment = InstalmentPayment(
            seq=_paid_seq(request),
            amount_cents=request.amount_cents,
            total_paid_cents=request.total_paid_cents,
            schedule=_schedule(request.schedule),
            actor=domain.parse_actor(request.actor or "payments"),
            session_id=_short(request.payment_session_id, "payment_session_id", 255),
            request_id=_short(request.request_id, "request_id", 255),
            note=_short(request.note, "note"),
        ).checked()
        booking, outcome = await self._bookings.record_instalment_payment(
            request.tenant_id, _booking_id(request.booking_id), payment=payment
        )
        return pb.RecordInstalmentPaymentResponse(
            booking=_booking(booking), outcome=_RECORD_OUTCOMES[outcome]
        )

    async def NotifySchedule(
        self, request: pb.NotifyScheduleRequest, context: grpc.aio.ServicerContext
    ) -> pb.NotifyScheduleResponse:
        """A schedule notice (reminder, due today, overdue, waived, due date moved): the couple's email
        and a history line, once per request id; `done` is false when an earlier call had the effect
        or the booking is not CONFIRMED."""
        kind = _NOTICES.get(request.notice)
        if kind is None:
            raise ValidationError.of("notice", "is required")
        if not request.HasField("instalment"):
            raise ValidationError.of("instalment", "is required")
        action_date = domain.parse_date(request.action_date, "action_date") if request.action_date else None
        notice = ScheduleNotice(
            kind=kind,
            instalment=_instalment(request.instalment, "instalment"),
            schedule=_schedule(request.schedule),
            actor=domain.parse_actor(request.actor or "system"),
            request_id=request.request_id,
            note=_short(request.note, "note"),
            overdue_action=_OVERDUE_ACTIONS.get(request.overdue_action),
            action_date=action_date,
        ).checked()
        done = await self._bookings.notify_schedule(
            request.tenant_id, _booking_id(request.booking_id), notice=notice
        )
        return pb.NotifyScheduleResponse(done=done)

    # --- time slots (issue 16) --------------------------------------------------------------

    async def ListSlots(
        self, request: pb.ListSlotsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListSlotsResponse:
        """Bookable starts of a time-slot service between two dates of the tenant's calendar (at most
        31 days), each with its end, in the tenant's zone (services/booking/hours.py offered_in)."""
        first = domain.parse_date(request.from_date, "from")
        last = domain.parse_date(request.to_date, "to")
        if not request.HasField("slot"):
            raise ValidationError.of("slot", "is required")
        resource, slots = await self._hours.list_slots(
            request.tenant_id, _slot_terms(request.slot), first, last
        )
        return pb.ListSlotsResponse(slots=[_slot(s) for s in slots], resource_id=resource.id)

    async def RescheduleBooking(
        self, request: pb.RescheduleBookingRequest, context: grpc.aio.ServicerContext
    ) -> pb.RescheduleBookingResponse:
        """Moves a confirmed booking to a new date (whole day, `event_date`) or start (slot,
        `starts_at`) when a hold could take it now, its claims with it, in one transaction; the couple
        only inside their cancellation window. DATE_UNAVAILABLE (nothing changes) otherwise."""
        day = domain.parse_date(request.event_date, "eventDate") if request.event_date else None
        starts_at = _start(request.starts_at) if request.HasField("starts_at") else None
        if day is None and starts_at is None:
            raise ValidationError.of("eventDate", "a new date (eventDate) or start (startsAt) is required")
        booking = await self._bookings.reschedule(
            request.tenant_id,
            _booking_id(request.booking_id),
            day=day,
            starts_at=starts_at,
            actor=domain.parse_actor(request.actor),
            reason=_short(request.reason, "reason"),
            request_id=_short(request.request_id, "request_id", 255),
        )
        return pb.RescheduleBookingResponse(booking=_booking(booking))

    async def ListResources(
        self, request: pb.ListResourcesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListResourcesResponse:
        """A page of the tenant's resources, the default first (made on this first use if need be)."""
        page, token = await self._hours.list_resources(
            request.tenant_id, paging.page_size(request.page_size), request.page_token
        )
        return pb.ListResourcesResponse(resources=[_resource(r) for r in page], next_page_token=token)

    async def CreateResource(
        self, request: pb.CreateResourceRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateResourceResponse:
        """A new resource (NAME_TAKEN when the tenant has one of that name); it is taken at once on
        the days of the tenant's live whole-day bookings."""
        resource = await self._hours.create_resource(request.tenant_id, request.name)
        return pb.CreateResourceResponse(resource=_resource(resource))

    async def UpdateResource(
        self, request: pb.UpdateResourceRequest, context: grpc.aio.ServicerContext
    ) -> pb.UpdateResourceResponse:
        """The masked fields ("name", "active") of a resource, with optimistic concurrency."""
        resource = await self._hours.update_resource(
            request.tenant_id,
            _resource_id(request.resource.id),
            change=Resource(
                id=request.resource.id, name=request.resource.name, active=request.resource.active
            ),
            mask=list(request.update_mask),
            expected_version=request.expected_version,
        )
        return pb.UpdateResourceResponse(resource=_resource(resource))

    async def DeleteResource(
        self, request: pb.DeleteResourceRequest, context: grpc.aio.ServicerContext
    ) -> pb.DeleteResourceResponse:
        """Removes a resource nothing was booked on (IN_USE otherwise); never the default."""
        await self._hours.delete_resource(request.tenant_id, _resource_id(request.resource_id))
        return pb.DeleteResourceResponse()

    async def GetOpeningHours(
        self, request: pb.GetOpeningHoursRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetOpeningHoursResponse:
        """A resource's weekly hours and its exceptions between two dates (default: a year from today)."""
        first, last = _optional_dates(request.from_date, request.to_date)
        hours, _, _ = await self._hours.opening_hours(
            request.tenant_id, _resource_id(request.resource_id), first, last
        )
        return pb.GetOpeningHoursResponse(
            resource_id=hours.resource_id, weekly=_weekly(hours), exceptions=_exceptions(hours)
        )

    async def SetOpeningHours(
        self, request: pb.SetOpeningHoursRequest, context: grpc.aio.ServicerContext
    ) -> pb.SetOpeningHoursResponse:
        """Replaces a resource's weekly hours and its exceptions between two dates, in one transaction."""
        resource_id = _resource_id(request.resource_id)
        first, last = _optional_dates(request.from_date, request.to_date)
        if len(request.weekly) > 7:
            raise ValidationError.of("weekly", "at most one entry per weekday")
        if len(request.exceptions) > MAX_EXCEPTION_DAYS:
            raise ValidationError.of("exceptions", f"at most {MAX_EXCEPTION_DAYS}")
        weekly = checked_weekly(
            [(w.weekday, [(r.opens, r.closes) for r in w.ranges]) for w in request.weekly]
        )
        dates = [domain.parse_date(e.date, f"exceptions[{i}].date") for i, e in enumerate(request.exceptions)]
        today = await self._hours.today(request.tenant_id)
        span = exception_span(first, last, today)
        exceptions = checked_exceptions(
            [
                (d, [(r.opens, r.closes) for r in e.ranges], e.reason)
                for d, e in zip(dates, request.exceptions, strict=True)
            ],
            *span,
        )
        hours = await self._hours.set_opening_hours(
            request.tenant_id, resource_id, weekly=weekly, span=span, exceptions=exceptions
        )
        return pb.SetOpeningHoursResponse(
            resource_id=hours.resource_id, weekly=_weekly(hours), exceptions=_exceptions(hours)
        )


def _required(value: str, field_name: str) -> str:
    if not value:
        raise ValidationError.of(field_name, "is required")
    if len(value) > 255:
        raise ValidationError.of(field_name, "must be at most 255 characters")
    return value


def _short(value: str, field_name: str, limit: int = 500) -> str:
    value = value.strip()
    if len(value) > limit:
        raise ValidationError.of(field_name, f"must be at most {limit} characters")
    return value


def _booking_id(value: str) -> str:
    # A malformed id names no booking: the same answer as an unknown one.
    if not _BOOKING_ID.match(value):
        raise NotFound("booking")
    return value


def _quote(snapshot: catalog_pb.QuoteSnapshot) -> Quote:
    return Quote.checked(
        package_id=snapshot.package_id,
        total_cents=snapshot.total_cents,
        currency=snapshot.currency.lower(),
        document=json_format.MessageToDict(snapshot),
    )


def _hold_day(request: pb.HoldDateRequest, slot: SlotChoice | None) -> date | None:
    """A slot's date is its start's in the tenant's calendar: optional, checked when given."""
    if slot is not None and not request.event_date:
        return None
    return domain.parse_date(request.event_date, "eventDate")


def check_chargeable(snapshot: catalog_pb.QuoteSnapshot) -> None:
    """A quote taken for a payment: a positive total that its lines add up to (payments' own rule,
    checked here so that nothing is held for a quote nobody can pay)."""
    if snapshot.total_cents <= 0:
        raise PreconditionFailed("the quoted total must be positive to start a payment")
    if sum(line.price_cents for line in snapshot.lines) != snapshot.total_cents:
        raise PreconditionFailed("the quote's lines do not add up to its total")


def _slot_choice(snapshot: catalog_pb.QuoteSnapshot, request: pb.HoldDateRequest) -> SlotChoice | None:
    """A time-slot service's hold: the start and the quoted terms; a whole day's takes no start."""
    if snapshot.kind != catalog_pb.PACKAGE_KIND_SLOT:
        if request.HasField("starts_at"):
            raise ValidationError.of("startsAt", "is only for a time-slot service")
        return None
    if not request.HasField("starts_at"):
        raise ValidationError.of("startsAt", "is required for a time-slot service")
    terms = snapshot.slot
    return SlotChoice(
        starts_at=_start(request.starts_at),
        terms=SlotTerms(
            duration_minutes=terms.duration_minutes,
            buffer_before_minutes=terms.buffer_before_minutes,
            buffer_after_minutes=terms.buffer_after_minutes,
            interval_minutes=terms.interval_minutes,
            lead_time_minutes=terms.lead_time_minutes,
            resource_id=terms.resource_id,
        ).checked("quote.slot"),
    )


def _start(stamp: Timestamp) -> datetime:
    """A slot's start off the wire; one far outside any calendar (a day either side of it would
    leave the datetime range) names its field."""
    start = stamp.ToDatetime(tzinfo=UTC)
    if not _YEARS[0] <= start.year <= _YEARS[1]:
        raise ValidationError.of("startsAt", f"must be between the years {_YEARS[0]} and {_YEARS[1]}")
    return start


def _availability(answer: DateAvailability) -> pb.DateAvailability:
    return pb.DateAvailability(
        date=answer.day.isoformat(),
        available=answer.available,
        reason=_REASON_TO_PB[answer.reason] if answer.reason else pb.UNAVAILABLE_REASON_UNSPECIFIED,
    )


# A booking's stored quote as a QuoteSnapshot, by the quote's JSON apart from its `quotedAt`:
# json_format.ParseDict costs about 0.2 ms per answer and every booking of one package and add-ons
# has the same quote but for that stamp. Bounded; the least recently used go first.
_QUOTE_MESSAGES: OrderedDict[bytes, bytes] = OrderedDict()
_QUOTE_MESSAGES_MAX = 512


def _parsed(document: Mapping[str, Any]) -> catalog_pb.QuoteSnapshot:
    return json_format.ParseDict(dict(document), catalog_pb.QuoteSnapshot(), ignore_unknown_fields=True)


def _quote_snapshot(document: Mapping[str, Any]) -> catalog_pb.QuoteSnapshot:
    """What json_format.ParseDict makes of the stored quote (the same message, the same errors)."""
    rest = dict(document)
    quoted_at = rest.pop("quotedAt", None)
    try:
        key = orjson.dumps(rest, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        key = b""
    cacheable = bool(key) and (quoted_at is None or isinstance(quoted_at, str))
    cached = _QUOTE_MESSAGES.get(key) if cacheable else None
    if cached is None:
        snapshot = _parsed(document)
        if cacheable:
            rest_only = catalog_pb.QuoteSnapshot()
            rest_only.CopyFrom(snapshot)
            rest_only.ClearField("quoted_at")
            _QUOTE_MESSAGES[key] = rest_only.SerializeToString()
            while len(_QUOTE_MESSAGES) > _QUOTE_MESSAGES_MAX:
                _QUOTE_MESSAGES.popitem(last=False)
        return snapshot
    _QUOTE_MESSAGES.move_to_end(key)
    snapshot = catalog_pb.QuoteSnapshot.FromString(cached)
    if quoted_at is not None:
        try:
            snapshot.quoted_at.FromJsonString(quoted_at)
        except ValueError:
            # ParseDict's own error for a stamp that does not parse.
            return _parsed(document)
    return snapshot


def _booking(booking: Booking) -> pb.Booking:
    quote = _quote_snapshot(booking.quote.document)
    return pb.Booking(
        id=booking.id,
        tenant_id=booking.tenant_id,
        event_date=booking.event_date.isoformat(),
        status=_STATUS_TO_PB[booking.status],
        customer=pb.Customer(
            id=booking.customer_id, email=booking.email, name=booking.couple_name, phone=booking.phone
        ),
        notes=booking.notes,
        quote=quote,
        payment_session_id=booking.payment_session_id,
        hold_expires_at=timestamp(booking.hold_expires_at),
        amount_paid_cents=booking.amount_paid_cents,
        amount_refunded_cents=booking.amount_refunded_cents,
        created_at=timestamp(booking.created_at),
        updated_at=timestamp(booking.updated_at),
        cancel_reason=booking.cancel_reason,
        kind=catalog_pb.PACKAGE_KIND_SLOT if booking.kind == "SLOT" else catalog_pb.PACKAGE_KIND_DAY,
        starts_at=timestamp(booking.starts_at),
        ends_at=timestamp(booking.ends_at),
        resource_id=booking.resource_id,
        history=[
            pb.HistoryEntry(
                from_status=entry.from_status,
                to_status=entry.to_status,
                actor=entry.actor,
                reason=entry.reason,
                at=timestamp(entry.at),
            )
            for entry in booking.history
        ],
    )


def _blackout(blackout: Blackout) -> pb.Blackout:
    return pb.Blackout(id=blackout.id, date=blackout.day.isoformat(), reason=blackout.reason)


def _instalment(message: types_pb2.Instalment, where: str) -> Instalment:
    kind = types_pb2.InstalmentKind.Name(message.kind).removeprefix(_KIND_PREFIX)
    status = types_pb2.InstalmentStatus.Name(message.status).removeprefix(_STATUS_PREFIX)
    return Instalment(
        seq=message.seq,
        kind=kind,
        amount_cents=message.amount_cents,
        currency=message.currency.lower(),
        due_date=domain.parse_date(message.due_date, f"{where}.dueDate"),
        status=status,
        paid_cents=message.paid_cents,
        refunded_cents=message.refunded_cents,
        paid_offline=message.paid_offline,
        note=message.note,
    ).checked(where)


def _schedule(messages: Sequence[types_pb2.Instalment]) -> tuple[Instalment, ...]:
    if len(messages) > MAX_INSTALMENTS:
        raise ValidationError.of("schedule", f"must have at most {MAX_INSTALMENTS} instalments")
    return tuple(_instalment(m, f"schedule[{i}]") for i, m in enumerate(messages))


def _paid_seq(request: pb.RecordInstalmentPaymentRequest) -> int:
    """The instalment a payment paid (the request does not name it; the schedule shows it): the one
    the paying session paid, or for an offline payment the latest one marked paid offline. 0 when
    the schedule shows neither (the history then says "payment")."""
    for instalment in request.schedule:
        if request.payment_session_id and instalment.payment_session_id == request.payment_session_id:
            return instalment.seq
    if request.payment_session_id:
        return 0
    offline = [
        i.seq for i in request.schedule if i.paid_offline and i.status == types_pb2.INSTALMENT_STATUS_PAID
    ]
    return offline[-1] if offline else 0


def _resource_id(value: str) -> str:
    # A malformed id names no resource of anyone's: the same answer as an unknown one.
    canonical = resource_id_or_none(value) if len(value) <= 64 else None
    if canonical is None:
        raise NotFound("resource")
    return canonical


def _slot_terms(message: catalog_pb.SlotTerms) -> SlotTerms:
    terms = SlotTerms.from_proto(message).checked()
    return replace(terms, resource_id=_resource_id(terms.resource_id)) if terms.resource_id else terms


def _slot(slot: Slot) -> pb.Slot:
    return pb.Slot(
        starts_at=timestamp(slot.starts_at),
        ends_at=timestamp(slot.ends_at),
        local_date=slot.local_date.isoformat(),
        local_time=slot.local_time,
        utc_offset=slot.utc_offset,
    )


def _resource(resource: Resource) -> pb.Resource:
    return pb.Resource(
        id=resource.id,
        name=resource.name,
        is_default=resource.is_default,
        active=resource.active,
        version=resource.version,
    )


def _ranges(ranges: Sequence[TimeRange]) -> list[pb.TimeRange]:
    return [pb.TimeRange(opens=o, closes=c) for o, c in (r.text() for r in ranges)]


def _weekly(hours: OpeningHours) -> list[pb.WeeklyHours]:
    return [pb.WeeklyHours(weekday=day, ranges=_ranges(hours.weekly[day])) for day in sorted(hours.weekly)]


def _exceptions(hours: OpeningHours) -> list[pb.HoursException]:
    return [
        pb.HoursException(date=e.day.isoformat(), ranges=_ranges(e.ranges), reason=e.reason)
        for e in hours.exceptions
    ]


def _optional_dates(first: str, last: str) -> tuple[date | None, date | None]:
    return (
        domain.parse_date(first, "from") if first else None,
        domain.parse_date(last, "to") if last else None,
    )
