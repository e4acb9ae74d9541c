"""REST routes of the booking context (see ../shared/DESIGN.md, public REST contract): availability for
the widget, the couple's own booking (by the signed link in their email), and a tenant admin's blackout
dates and bookings."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

import grpc
import orjson
from fastapi import APIRouter, Depends, Header, Path, Query, Request
from mais.booking.v1 import booking_service_pb2 as pb
from mais.catalog.v1 import catalog_service_pb2 as catalog_pb
from mais.payments.v1 import payments_service_pb2 as payments_pb
from mais.tenant.v1 import tenant_service_pb2 as tenant_pb
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from starlette.responses import Response

from gateway.auth import AdminContext, TenantContext, tenant_admin
from gateway.couple_links import couple_booking as couple_link_booking
from gateway.errors import ApiError
from gateway.instants import UTC_ZONE, instant, local_time, zone_of
from gateway.key_lookups import public_tenant_once
from gateway.read_cache import cached_public_read
from gateway.routes.schedules import booking_schedule, booking_schedule_json, optional_schedule_json
from gateway.routes.tenants import tenant_json
from mais_runtime.errors import FieldViolation
from mais_runtime.proto_time import json_time as _time

router = APIRouter(tags=["booking"])

# Public reads come in bursts per key: one tenant-service lookup per key at a time.
PublicTenant = Annotated[TenantContext, Depends(public_tenant_once)]
TenantAdmin = Annotated[AdminContext, Depends(tenant_admin)]
# Ids are checked by the service; the bound only keeps absurd paths out.
BookingId = Annotated[str, Path(max_length=64)]
BlackoutId = Annotated[str, Path(max_length=64)]
DateParam = Annotated[str, Query(max_length=10)]
Limit = Annotated[int, Query(ge=1, le=100)]
Cursor = Annotated[str, Query(max_length=300)]

_STATUS_NAMES = {
    pb.BOOKING_STATUS_HELD: "HELD",
    pb.BOOKING_STATUS_CONFIRMED: "CONFIRMED",
    pb.BOOKING_STATUS_RELEASED: "RELEASED",
    pb.BOOKING_STATUS_CANCELLED: "CANCELLED",
}
_STATUS_BY_NAME = {name: value for value, name in _STATUS_NAMES.items()}
_REASON_NAMES = {
    pb.UNAVAILABLE_REASON_BOOKED: "booked",
    pb.UNAVAILABLE_REASON_HELD: "held",
    pb.UNAVAILABLE_REASON_BLACKOUT: "blackout",
    pb.UNAVAILABLE_REASON_PAST: "past",
    pb.UNAVAILABLE_REASON_OUT_OF_RANGE: "out_of_range",
}


class _Body(BaseModel):
    """camelCase JSON bodies; unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=False)


class BlackoutBody(_Body):
    date: str = Field(max_length=10)
    reason: str = Field(default="", max_length=500)


class RescheduleBody(_Body):
    # A whole day: the new date; a time slot: the new start (RFC 3339 with its offset).
    event_date: str | None = Field(default=None, max_length=10)
    starts_at: str | None = Field(default=None, max_length=40)
    reason: str = Field(default="", max_length=500)


class RefundAmount(_Body):
    amount_cents: int = Field(ge=1)


class CancelBody(_Body):
    reason: str = Field(default="", max_length=500)
    # Required by the service: no default may decide that nobody gets their money back.
    refund: Literal["none", "full"] | RefundAmount | None = None


# --- JSON shapes -----------------------------------------------------------------------------


def _quote_json(quote: catalog_pb.QuoteSnapshot) -> dict[str, Any]:
    return {
        "packageId": quote.package_id,
        "lines": [
            {
                "kind": line.kind,
                "id": line.id,
                "slug": line.slug,
                "title": line.title,
                "priceCents": line.price_cents,
            }
            for line in quote.lines
        ],
        "totalCents": quote.total_cents,
        "currency": quote.currency,
        "hash": quote.hash,
        "quotedAt": _time(quote.quoted_at),
    }


def refund_json(outcome: payments_pb.CancelAndRefundResponse) -> dict[str, int]:
    """What a cancellation refunded: now, in all, and of the platform's fee."""
    return {
        "refundedCents": outcome.refunded_cents,
        "totalRefundedCents": outcome.total_refunded_cents,
        "feeRefundedCents": outcome.fee_refunded_cents,
    }


def booking_json(booking: pb.Booking, zone: ZoneInfo = UTC_ZONE) -> dict[str, Any]:
    """A booking as its couple may see it (nothing of any other booking). A time-slot booking's
    `startsAt`/`endsAt` carry the business's offset (`zone`, see booking_zone); a whole day's are null."""
    return {
        "id": booking.id,
        "status": _STATUS_NAMES.get(booking.status, "UNKNOWN"),
        "kind": "SLOT" if booking.kind == catalog_pb.PACKAGE_KIND_SLOT else "DAY",
        "eventDate": booking.event_date,
        "startsAt": local_time(booking.starts_at, zone),
        "endsAt": local_time(booking.ends_at, zone),
        "resourceId": booking.resource_id or None,
        "coupleName": booking.customer.name,
        "email": booking.customer.email,
        "phone": booking.customer.phone or None,
        "notes": booking.notes or None,
        "packageId": booking.quote.package_id,
        "totalCents": booking.quote.total_cents,
        "currency": booking.quote.currency,
        "quote": _quote_json(booking.quote),
        "amountPaidCents": booking.amount_paid_cents,
        "amountRefundedCents": booking.amount_refunded_cents,
        "holdExpiresAt": _time(booking.hold_expires_at) if booking.status == pb.BOOKING_STATUS_HELD else None,
        "cancelReason": booking.cancel_reason or None,
        "createdAt": _time(booking.created_at),
        "updatedAt": _time(booking.updated_at),
    }


async def booking_zone(request: Request, tenant_id: str, bookings: Iterable[pb.Booking]) -> ZoneInfo:
    """The business's zone for showing these bookings' times: asked of the tenant service only when
    one of them is a time slot (a whole day has no times to show)."""
    if not any(b.kind == catalog_pb.PACKAGE_KIND_SLOT for b in bookings):
        return UTC_ZONE
    answer = await request.app.state.clients.tenant.GetTenant(tenant_pb.GetTenantRequest(tenant_id=tenant_id))
    return zone_of(answer.tenant.timezone)


def package_title(booking: pb.Booking) -> str | None:
    """The title of the package the booking's quote sold (as it was when quoted)."""
    for line in booking.quote.lines:
        if line.kind == "package":
            return line.title
    return None


def couple_view_json(
    booking: pb.Booking,
    tenant: tenant_pb.Tenant,
    terms: payments_pb.GetScheduleResponse,
    public_key: str = "",
) -> dict[str, Any]:
    """The couple's booking with what their manage page shows beside it: the package's title, the
    business, whether they may cancel it themselves now (booking's rule, the one their cancellation
    applies), what that refunds and what it keeps (payments' rule, the one the refund applies: a
    non-refundable deposit stays with the business)."""
    window = booking.couple_cancellation
    branding = tenant_json(tenant)["branding"]
    return {
        **booking_json(booking, zone_of(tenant.timezone)),
        "packageTitle": package_title(booking),
        "business": {
            "name": tenant.name,
            "slug": tenant.slug,
            "branding": branding,
            "timezone": tenant.timezone,
            "contactEmail": tenant.contact_email or None,
            # What moving the booking needs: the availability routes take the public key, and the
            # calendar the booking window.
            "publicKey": public_key or None,
            "policy": {
                "minNoticeDays": tenant.policy.min_notice_days,
                "maxAdvanceDays": tenant.policy.max_advance_days,
            },
        },
        "cancellation": {
            "allowedNow": window.allowed_now,
            "lastDay": window.last_day or None,
            "refundCents": terms.couple_refund_cents,
            "keptCents": terms.couple_kept_cents,
        },
    }


def admin_booking_json(booking: pb.Booking, zone: ZoneInfo = UTC_ZONE) -> dict[str, Any]:
    """A booking as its tenant's admin sees it: also the customer, the payment session and history."""
    body = booking_json(booking, zone)
    body["customerId"] = booking.customer.id
    body["paymentSessionId"] = booking.payment_session_id or None
    if booking.history:
        body["history"] = [
            {
                "from": entry.from_status or None,
                "to": entry.to_status,
                "actor": entry.actor,
                "reason": entry.reason or None,
                "at": _time(entry.at),
            }
            for entry in booking.history
        ]
    return body


def _availability_json(answer: pb.DateAvailability) -> dict[str, Any]:
    return {
        "date": answer.date,
        "available": answer.available,
        "reason": _REASON_NAMES.get(answer.reason),
    }


def _blackout_json(blackout: pb.Blackout) -> dict[str, Any]:
    return {"id": blackout.id, "date": blackout.date, "reason": blackout.reason or None}


# --- public ----------------------------------------------------------------------------------


@router.get("/v1/availability", summary="Whether one date can be booked")
async def availability(request: Request, ctx: PublicTenant, date: DateParam = "") -> dict[str, Any]:
    """`{date, available, reason}`; reason: booked, held, blackout, past, out_of_range (null when free)."""
    answer = await request.app.state.clients.booking.GetAvailability(
        pb.GetAvailabilityRequest(tenant_id=ctx.tenant_id, date=date)
    )
    return _availability_json(answer.availability)


@router.get(
    "/v1/availability/calendar",
    summary="Unavailable dates of a range (at most 366 days)",
    response_model=dict[str, Any],
)
async def calendar(
    request: Request,
    ctx: PublicTenant,
    from_date: Annotated[str, Query(alias="from", max_length=10)] = "",
    to_date: Annotated[str, Query(alias="to", max_length=10)] = "",
) -> Response:
    """`{from, to, unavailable: [{date, reason}]}` in date order; every date not listed is available.
    The browsing view: answered through the gateway's micro-cache (at most 0.5 s old, per tenant); the
    single-date check above and the hold at checkout always ask the booking service."""

    async def render() -> bytes:
        answer = await request.app.state.clients.booking.GetCalendar(
            pb.GetCalendarRequest(tenant_id=ctx.tenant_id, from_date=from_date, to_date=to_date)
        )
        return orjson.dumps(
            {
                "from": from_date,
                "to": to_date,
                "unavailable": [
                    {"date": a.date, "reason": _REASON_NAMES.get(a.reason)} for a in answer.unavailable
                ],
            }
        )

    return await cached_public_read(request, ctx.tenant_id, render)


@router.get("/v1/bookings/{booking_id}", summary="The couple's booking, by the link in their email")
async def couple_booking(
    request: Request, booking_id: BookingId, token: Annotated[str, Query(max_length=200)] = ""
) -> dict[str, Any]:
    """Needs no tenant key: the signed token names the tenant and grants exactly this booking until the
    day after the event. A wrong, expired or other booking's token answers 404, like a missing booking.
    Besides the booking: `packageTitle`, `business` {name, slug, branding, timezone, contactEmail,
    publicKey (for the availability routes when moving the booking; null without a working key),
    policy {minNoticeDays, maxAdvanceDays}} and
    `cancellation` {allowedNow, lastDay (YYYY-MM-DD, null when the business never lets couples cancel),
    refundCents (what cancelling refunds: all paid through Stripe and not refunded yet, but a
    non-refundable deposit), keptCents (what of that deposit stays with the business)}, and `schedule`
    (what is paid, what is due when; null before checkout)."""
    tenant_id, booking = await couple_link_booking(request, booking_id, token)
    tenant = await request.app.state.clients.tenant.GetTenant(tenant_pb.GetTenantRequest(tenant_id=tenant_id))
    terms = await booking_schedule(request, tenant_id, booking.id)
    try:
        keys = await request.app.state.clients.tenant.ResolveTenantSlug(
            tenant_pb.ResolveTenantSlugRequest(slug=tenant.tenant.slug)
        )
        public_key = keys.public_key
    except grpc.aio.AioRpcError as error:
        if error.code() != grpc.StatusCode.NOT_FOUND:  # every key revoked: nothing to look up with
            raise
        public_key = ""
    return {
        **couple_view_json(booking, tenant.tenant, terms, public_key),
        "schedule": optional_schedule_json(terms, admin=False),
    }


# --- tenant admin: blackouts -----------------------------------------------------------------


@router.get("/v1/tenant-admin/blackouts", summary="The tenant's blackout dates")
async def list_blackouts(
    request: Request,
    admin: TenantAdmin,
    limit: Limit = 50,
    cursor: Cursor = "",
    from_date: Annotated[str, Query(alias="from", max_length=10)] = "",
    to_date: Annotated[str, Query(alias="to", max_length=10)] = "",
) -> dict[str, Any]:
    """Blackouts in date order, `limit` at a time; pass `nextCursor` back as `cursor`."""
    answer = await request.app.state.clients.booking.ListBlackouts(
        pb.ListBlackoutsRequest(
            tenant_id=admin.tenant_id,
            page_size=limit,
            page_token=cursor,
            from_date=from_date,
            to_date=to_date,
        )
    )
    return {
        "items": [_blackout_json(b) for b in answer.blackouts],
        "nextCursor": answer.next_page_token or None,
    }


@router.post("/v1/tenant-admin/blackouts", status_code=201, summary="Black out a date")
async def create_blackout(request: Request, admin: TenantAdmin, body: BlackoutBody) -> dict[str, Any]:
    """400 VALIDATION_ERROR (`date`) for a date already past in the tenant's time zone; 409 CONFLICT when
    the date is already blacked out; 409 DATE_UNAVAILABLE when it is held or booked."""
    answer = await request.app.state.clients.booking.CreateBlackout(
        pb.CreateBlackoutRequest(tenant_id=admin.tenant_id, date=body.date, reason=body.reason)
    )
    return _blackout_json(answer.blackout)


@router.delete("/v1/tenant-admin/blackouts/{blackout_id}", status_code=204, summary="Remove a blackout")
async def delete_blackout(request: Request, admin: TenantAdmin, blackout_id: BlackoutId) -> Response:
    """Opens the date again."""
    await request.app.state.clients.booking.DeleteBlackout(
        pb.DeleteBlackoutRequest(tenant_id=admin.tenant_id, blackout_id=blackout_id)
    )
    return Response(status_code=204)


# --- tenant admin: bookings ------------------------------------------------------------------


@router.get("/v1/tenant-admin/bookings", summary="The tenant's bookings")
async def list_bookings(
    request: Request,
    admin: TenantAdmin,
    limit: Limit = 50,
    cursor: Cursor = "",
    status: Annotated[str, Query(max_length=16)] = "",
    from_date: Annotated[str, Query(alias="from", max_length=10)] = "",
    to_date: Annotated[str, Query(alias="to", max_length=10)] = "",
    email: Annotated[str, Query(max_length=320)] = "",
) -> dict[str, Any]:
    """Bookings in event-date order, filtered by status, event date range and customer email. A hold past
    its expiry is shown, and filtered, as RELEASED (the expiry sweep makes it so within a minute)."""
    status_value = pb.BOOKING_STATUS_UNSPECIFIED
    if status:
        if status.upper() not in _STATUS_BY_NAME:
            raise ApiError(
                "VALIDATION_ERROR",
                "status is not a booking status",
                [FieldViolation("status", "must be one of HELD, CONFIRMED, RELEASED, CANCELLED")],
            )
        status_value = _STATUS_BY_NAME[status.upper()]
    answer = await request.app.state.clients.booking.ListBookings(
        pb.ListBookingsRequest(
            tenant_id=admin.tenant_id,
            page_size=limit,
            page_token=cursor,
            status=status_value,
            from_date=from_date,
            to_date=to_date,
            customer_email=email,
        )
    )
    zone = await booking_zone(request, admin.tenant_id, answer.bookings)
    return {
        "items": [admin_booking_json(b, zone) for b in answer.bookings],
        "nextCursor": answer.next_page_token or None,
    }


@router.get("/v1/tenant-admin/bookings/{booking_id}", summary="One booking with its history")
async def get_booking(request: Request, admin: TenantAdmin, booking_id: BookingId) -> dict[str, Any]:
    """The booking, its price snapshot, every transition (who, when, why) and its payment `schedule`
    (instalments with their fees; null for a booking that never reached checkout)."""
    answer = await request.app.state.clients.booking.GetBooking(
        pb.GetBookingRequest(tenant_id=admin.tenant_id, booking_id=booking_id, with_history=True)
    )
    schedule = await booking_schedule_json(request, admin.tenant_id, answer.booking.id, admin=True)
    zone = await booking_zone(request, admin.tenant_id, [answer.booking])
    return {**admin_booking_json(answer.booking, zone), "schedule": schedule}


@router.post(
    "/v1/tenant-admin/bookings/{booking_id}/resend-confirmation",
    status_code=202,
    summary="Send the couple's confirmation email again",
)
async def resend_confirmation(
    request: Request,
    admin: TenantAdmin,
    booking_id: BookingId,
    idempotency_key: Annotated[str, Header(alias="Idempotency-Key", max_length=255)] = "",
) -> dict[str, bool]:
    """202 `{queued: true}`: the confirmation with the couple's private link is in the outbox again.
    With `Idempotency-Key`, a retry sends nothing more; without one, each call sends one email. 409
    FAILED_PRECONDITION for a booking that is not CONFIRMED. A booking with a balance still owed
    gets the deposit's receipt again, with its schedule as it is now."""
    schedule = await request.app.state.clients.payments.GetSchedule(
        payments_pb.GetScheduleRequest(tenant_id=admin.tenant_id, booking_id=booking_id)
    )
    await request.app.state.clients.booking.ResendConfirmation(
        pb.ResendConfirmationRequest(
            tenant_id=admin.tenant_id,
            booking_id=booking_id,
            request_id=idempotency_key or f"resend-{uuid.uuid4()}",
            schedule=schedule.schedule.instalments,
        )
    )
    return {"queued": True}


@router.post("/v1/tenant-admin/bookings/{booking_id}/cancel", summary="Cancel a confirmed booking")
async def cancel_booking(
    request: Request,
    admin: TenantAdmin,
    booking_id: BookingId,
    body: CancelBody | None = None,
    idempotency_key: Annotated[str, Header(alias="Idempotency-Key", max_length=255)] = "",
) -> dict[str, Any]:
    """Cancels the booking and frees its date at once; the couple is emailed.

    The `refund` is required (400 VALIDATION_ERROR, field `refund`, and nothing changes without it):
    "none", "full", or `{"amountCents": n}`; cumulative, never more than was paid, the platform fee
    back in proportion, carried out by the payments service's CancelAndRefund, which answers the
    booking. A retried request refunds once: by `Idempotency-Key` when given, else by the booking and
    the refund choice."""
    body = body or CancelBody()
    if isinstance(body.refund, RefundAmount):
        refund = payments_pb.RefundChoice(amount_cents=body.refund.amount_cents)
    elif body.refund == "full":
        refund = payments_pb.RefundChoice(full=True)
    elif body.refund == "none":
        refund = payments_pb.RefundChoice(none=True)
    else:
        # Not given: payments refuses it (the choice is the service's rule, not the gateway's).
        refund = None
    outcome = await request.app.state.clients.payments.CancelAndRefund(
        payments_pb.CancelAndRefundRequest(
            tenant_id=admin.tenant_id,
            booking_id=booking_id,
            reason=body.reason,
            refund=refund,
            actor=admin.actor,
            request_id=idempotency_key,
        ),
        timeout=14.0,
    )
    zone = await booking_zone(request, admin.tenant_id, [outcome.booking])
    return {**admin_booking_json(outcome.booking, zone), "refund": refund_json(outcome)}


# --- rescheduling ----------------------------------------------------------------------------


def _reschedule_request(
    tenant_id: str, booking_id: str, body: RescheduleBody, *, actor: str, request_id: str
) -> pb.RescheduleBookingRequest:
    return pb.RescheduleBookingRequest(
        tenant_id=tenant_id,
        booking_id=booking_id,
        event_date=body.event_date or "",
        starts_at=instant(body.starts_at, "startsAt"),
        actor=actor,
        reason=body.reason,
        request_id=request_id,
    )


async def _shift_dues(request: Request, tenant_id: str, booking: pb.Booking, request_id: str) -> None:
    """The balance moves with the event: payments shifts the owed due dates by the move (booking
    never calls payments; the gateway, which asked for the move, tells it). Idempotent by value, so
    a retry of the reschedule with the same Idempotency-Key (booking answers the same move) shifts
    once; if payments fails here, the error reaches the caller and that retry completes it."""
    if not booking.event_date:
        return
    await request.app.state.clients.payments.ShiftSchedule(
        payments_pb.ShiftScheduleRequest(
            tenant_id=tenant_id,
            booking_id=booking.id,
            event_date=booking.event_date,
            request_id=f"shift-{request_id}"[:255],
        )
    )


@router.post("/v1/tenant-admin/bookings/{booking_id}/reschedule", summary="Move a confirmed booking")
async def reschedule_booking(
    request: Request,
    admin: TenantAdmin,
    booking_id: BookingId,
    body: RescheduleBody,
    idempotency_key: Annotated[str, Header(alias="Idempotency-Key", max_length=255)] = "",
) -> dict[str, Any]:
    """`{eventDate}` for a whole day, `{startsAt}` (RFC 3339 with its offset) for a time slot (the
    same service, on the same resource), and an optional `reason` for the history: the booking and
    its claim move together, or nothing changes (409 DATE_UNAVAILABLE with `why`, as a checkout of
    that date or start would be refused). The couple is emailed the old and the new time. With
    `Idempotency-Key`, a retry moves once. 409 FAILED_PRECONDITION for a booking that is not
    confirmed; 400 naming `eventDate` or `startsAt` for the wrong one for the booking's kind."""
    tenant_id, request_id = admin.tenant_id, idempotency_key or f"reschedule-{uuid.uuid4()}"
    answer = await request.app.state.clients.booking.RescheduleBooking(
        _reschedule_request(
            admin.tenant_id,
            booking_id,
            body,
            actor=admin.actor,
            request_id=request_id,
        )
    )
    await _shift_dues(request, tenant_id, answer.booking, request_id)
    zone = await booking_zone(request, admin.tenant_id, [answer.booking])
    return admin_booking_json(answer.booking, zone)


@router.post("/v1/bookings/{booking_id}/reschedule", summary="The couple moves their booking")
async def couple_reschedule(
    request: Request,
    booking_id: BookingId,
    body: RescheduleBody,
    token: Annotated[str, Query(max_length=200)] = "",
    idempotency_key: Annotated[str, Header(alias="Idempotency-Key", max_length=255)] = "",
) -> dict[str, Any]:
    """With the signed link from their email, the couple moves their confirmed booking, as the
    business would (`{eventDate}` or `{startsAt}`), while they could still cancel it (409
    CANCELLATION_WINDOW_CLOSED after that). A wrong or expired link is 404. The answer is the
    couple's booking JSON; their new link comes in the "your booking moved" email."""
    tenant_id, _ = await couple_link_booking(request, booking_id, token)
    request_id = idempotency_key or f"reschedule-{uuid.uuid4()}"
    answer = await request.app.state.clients.booking.RescheduleBooking(
        _reschedule_request(
            tenant_id,
            booking_id,
            body,
            actor="couple",
            request_id=request_id,
        )
    )
    await _shift_dues(request, tenant_id, answer.booking, request_id)
    zone = await booking_zone(request, tenant_id, [answer.booking])
    return booking_json(answer.booking, zone)
