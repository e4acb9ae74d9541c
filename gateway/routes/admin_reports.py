"""A tenant admin's reports: the overview (bookings from booking, money from payments' ledger, days and
months in the tenant's time zone), the bookings export (CSV, streamed page by page) and the private
calendar feed (iCalendar, by a token booking keeps hashed); and the platform admin's webhook health
(payments' event inbox)."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, date, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from mais.booking.v1 import booking_service_pb2 as booking_pb
from mais.payments.v1 import payments_service_pb2 as payments_pb
from mais.tenant.v1 import tenant_service_pb2 as tenant_pb
from starlette.responses import Response, StreamingResponse

from gateway.auth import AdminContext, platform_admin, tenant_admin
from gateway.errors import ApiError
from gateway.ical import FeedEvent
from gateway.ical import calendar as ical_calendar
from gateway.instants import zone_of
from gateway.routes.booking import admin_booking_json, package_title
from gateway.routes.schedules import instalment_json
from mais_runtime.errors import FieldViolation
from mais_runtime.money import decimal_amount
from mais_runtime.proto_time import json_time

router = APIRouter(tags=["tenant admin reports"])

TenantAdmin = Annotated[AdminContext, Depends(tenant_admin)]
PlatformAdmin = Annotated[AdminContext, Depends(platform_admin)]
DateQuery = Annotated[str, Query(max_length=10)]

UPCOMING = 10
# Live holds last about half an hour; a page is more than any tenant holds at once.
HOLDS = 50
MONTHS = 12
# The export's range of event dates: at most this many days, both ends included.
MAX_EXPORT_DAYS = 366
EXPORT_PAGE = 100
CSV_HEADER = (
    "booking_id",
    "status",
    "event_date",
    "couple_name",
    "email",
    "phone",
    "package",
    "total",
    "currency",
    "paid",
    "refunded",
    "created_at",
)
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_STATUS_NAMES = {
    booking_pb.BOOKING_STATUS_HELD: "HELD",
    booking_pb.BOOKING_STATUS_CONFIRMED: "CONFIRMED",
    booking_pb.BOOKING_STATUS_RELEASED: "RELEASED",
    booking_pb.BOOKING_STATUS_CANCELLED: "CANCELLED",
}


def tenant_today(tenant: tenant_pb.Tenant, now: datetime | None = None) -> date:
    """Today in the tenant's time zone (UTC when it names none the platform knows)."""
    try:
        zone = ZoneInfo(tenant.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return (now or datetime.now(UTC)).astimezone(zone).date()


def last_months(today: date, count: int = MONTHS) -> list[str]:
    """The `count` months up to today's, oldest first, as YYYY-MM."""
    index = today.year * 12 + today.month - 1
    return [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in range(index - count + 1, index + 1)]


def _totals_json(currency: str, totals: Iterable[payments_pb.TenantTotals]) -> dict[str, Any]:
    summed = {"bookings": 0, "grossCents": 0, "feeCents": 0, "refundedCents": 0, "netCents": 0}
    for t in totals:
        summed["bookings"] += t.bookings
        summed["grossCents"] += t.gross_cents
        summed["feeCents"] += t.fee_cents
        summed["refundedCents"] += t.refunded_cents
        summed["netCents"] += t.net_cents
    return {"currency": currency, **summed}


def overview_money(
    tenant_currency: str, today: date, months: Iterable[payments_pb.MonthTotals]
) -> dict[str, Any]:
    """month, year and byMonth (the last twelve, oldest first) in the tenant's currency; a currency the
    ledger holds besides it gets its own month and year under otherCurrencies."""
    this_month, this_year = last_months(today, 1)[0], f"{today.year:04d}-"
    by_currency: dict[str, dict[str, payments_pb.TenantTotals]] = {}
    for m in months:
        by_currency.setdefault(m.totals.currency, {})[m.month] = m.totals
    ours = by_currency.pop(tenant_currency, {})

    def month_and_year(per_month: dict[str, payments_pb.TenantTotals], currency: str) -> dict[str, Any]:
        return {
            "month": _totals_json(currency, [t for key, t in per_month.items() if key == this_month]),
            "year": _totals_json(currency, [t for key, t in per_month.items() if key.startswith(this_year)]),
        }

    by_month = []
    for key in last_months(today):
        t = _totals_json(tenant_currency, [ours[key]] if key in ours else [])
        by_month.append(
            {
                "month": key,
                "currency": tenant_currency,
                "bookings": t["bookings"],
                "grossCents": t["grossCents"],
                "refundedCents": t["refundedCents"],
                "netCents": t["netCents"],
            }
        )
    return {
        **month_and_year(ours, tenant_currency),
        "byMonth": by_month,
        "otherCurrencies": [
            {"currency": currency, **month_and_year(per_month, currency)}
            for currency, per_month in sorted(by_currency.items())
        ],
    }


@router.get("/v1/tenant-admin/overview", summary="Today's holds, the next bookings and the money")
async def overview(request: Request, admin: TenantAdmin) -> dict[str, Any]:
    """`{currency, today, holds, upcoming, month, year, byMonth, otherCurrencies}`: the live holds, the
    next 10 CONFIRMED bookings from today (admin booking objects), and from payments' ledger the totals
    `{currency, bookings, grossCents, feeCents, refundedCents, netCents}` of this month and this year,
    and `byMonth` `[{month: "YYYY-MM", currency, bookings, grossCents, refundedCents, netCents}]` for
    the last 12 months, oldest first. Days and months are the tenant's time zone's; amounts are in the
    tenant's currency (`otherCurrencies` `[{currency, month, year}]` when the ledger holds others).
    `feeCents` is the platform's fee net of fee refunds, `netCents` what the business keeps. Whatever
    the months, `outstanding` `[{currency, outstandingCents, bookings, overdueCents, overdueBookings}]`
    is what confirmed bookings still owe, and `overdue` `[{bookingId, coupleName, eventDate,
    instalment}]` the instalments past their due date, the longest overdue first (at most 20)."""
    clients = request.app.state.clients
    tenant = (await clients.tenant.GetTenant(tenant_pb.GetTenantRequest(tenant_id=admin.tenant_id))).tenant
    today = tenant_today(tenant)
    first_month = last_months(today)[0]
    holds, upcoming, money = await asyncio.gather(
        clients.booking.ListBookings(
            booking_pb.ListBookingsRequest(
                tenant_id=admin.tenant_id, page_size=HOLDS, status=booking_pb.BOOKING_STATUS_HELD
            )
        ),
        clients.booking.ListBookings(
            booking_pb.ListBookingsRequest(
                tenant_id=admin.tenant_id,
                page_size=UPCOMING,
                status=booking_pb.BOOKING_STATUS_CONFIRMED,
                from_date=today.isoformat(),
            )
        ),
        clients.payments.GetTenantTotals(
            payments_pb.GetTenantTotalsRequest(
                tenant_id=admin.tenant_id,
                from_date=f"{first_month}-01",
                to_date=today.isoformat(),
                timezone=tenant.timezone,
            )
        ),
    )
    return {
        "currency": tenant.currency,
        "today": today.isoformat(),
        "holds": [admin_booking_json(b, zone_of(tenant.timezone)) for b in holds.bookings],
        "upcoming": [admin_booking_json(b, zone_of(tenant.timezone)) for b in upcoming.bookings],
        **overview_money(tenant.currency, today, money.months),
        "outstanding": [outstanding_json(o) for o in money.outstanding],
        "overdue": await overdue_json(clients, admin.tenant_id, money.overdue),
    }


def outstanding_json(owed: payments_pb.Outstanding) -> dict[str, Any]:
    """What one currency's confirmed bookings still owe, and how much of it is past due."""
    return {
        "currency": owed.currency,
        "outstandingCents": owed.outstanding_cents,
        "bookings": owed.bookings,
        "overdueCents": owed.overdue_cents,
        "overdueBookings": owed.overdue_bookings,
    }


async def overdue_json(
    clients: Any, tenant_id: str, overdue: Iterable[payments_pb.OverdueInstalment]
) -> list[dict[str, Any]]:
    """`[{bookingId, coupleName, eventDate, instalment}]`, the longest overdue first (payments lists at
    most 20); the couple's name and date from booking, left out for a booking it does not answer."""
    items = list(overdue)
    found = await asyncio.gather(
        *(
            clients.booking.GetBooking(
                booking_pb.GetBookingRequest(tenant_id=tenant_id, booking_id=o.booking_id)
            )
            for o in items
        ),
        return_exceptions=True,
    )
    answer = []
    for item, booking in zip(items, found, strict=True):
        entry: dict[str, Any] = {"bookingId": item.booking_id}
        if isinstance(booking, booking_pb.GetBookingResponse):
            entry["coupleName"] = booking.booking.customer.name
            entry["eventDate"] = booking.booking.event_date
        entry["instalment"] = instalment_json(item.instalment, admin=True)
        answer.append(entry)
    return answer


# --- the bookings export ---------------------------------------------------------------------------


def export_range(from_date: str, to_date: str) -> tuple[date, date]:
    """The export's event-date range, or 400 VALIDATION_ERROR naming `from` and/or `to`."""
    problems: list[FieldViolation] = []
    days: dict[str, date] = {}
    for name, value in (("from", from_date), ("to", to_date)):
        if not value:
            problems.append(FieldViolation(name, "is required (YYYY-MM-DD)"))
            continue
        try:
            days[name] = date.fromisoformat(value) if len(value) == 10 else date.fromisoformat("x")
        except ValueError:
            problems.append(FieldViolation(name, "must be a date, YYYY-MM-DD"))
    if not problems:
        span = (days["to"] - days["from"]).days
        if span < 0:
            problems.append(FieldViolation("to", "must not be before from"))
        elif span >= MAX_EXPORT_DAYS:
            problems.append(FieldViolation("to", f"must be within {MAX_EXPORT_DAYS} days of from"))
    if problems:
        raise ApiError("VALIDATION_ERROR", "the export's date range is not valid", problems)
    return days["from"], days["to"]


def safe_cell(value: str) -> str:
    """A cell a spreadsheet shows as text: one that would start a formula gets a leading '."""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def _plain_amount(cents: int, currency: str) -> str:
    # decimal_amount groups thousands for people ("1,234.56"); a spreadsheet wants the number alone.
    return decimal_amount(cents, currency).replace(",", "")


def csv_row(booking: booking_pb.Booking) -> list[str]:
    """One booking as the export's row (columns as CSV_HEADER)."""
    currency = booking.quote.currency
    cells = [
        booking.id,
        _STATUS_NAMES.get(booking.status, "UNKNOWN"),
        booking.event_date,
        booking.customer.name,
        booking.customer.email,
        booking.customer.phone,
        package_title(booking) or "",
        _plain_amount(booking.quote.total_cents, currency),
        currency,
        _plain_amount(booking.amount_paid_cents, currency),
        _plain_amount(booking.amount_refunded_cents, currency),
        json_time(booking.created_at) or "",
    ]
    return [safe_cell(cell) for cell in cells]


def csv_lines(rows: Iterable[Iterable[str]]) -> bytes:
    """Rows as CSV (RFC 4180: CRLF, quoted when needed), UTF-8."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


@router.get(
    "/v1/tenant-admin/exports/bookings.csv",
    summary="The tenant's bookings of a range of event dates, as CSV",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "The bookings, one row each"}},
)
async def export_bookings(
    request: Request,
    admin: TenantAdmin,
    from_date: Annotated[str, Query(alias="from", max_length=10)] = "",
    to_date: Annotated[str, Query(alias="to", max_length=10)] = "",
) -> StreamingResponse:
    """Every booking (any status) whose event date is from `from` to `to` (both required, YYYY-MM-DD, at
    most 366 days), in event-date order, streamed page by page: `booking_id, status, event_date,
    couple_name, email, phone, package, total, currency, paid, refunded, created_at`; amounts are
    decimal numbers in the currency's unit, and a cell that would start a formula (= + - @) is
    prefixed with '. 400 VALIDATION_ERROR naming `from`/`to` for a missing or bad range."""
    first, last = export_range(from_date, to_date)
    booking = request.app.state.clients.booking

    def page(token: str) -> Any:
        return booking.ListBookings(
            booking_pb.ListBookingsRequest(
                tenant_id=admin.tenant_id,
                page_size=EXPORT_PAGE,
                page_token=token,
                from_date=first.isoformat(),
                to_date=last.isoformat(),
            )
        )

    # The first page before the answer starts: a refusal still gets the error envelope.
    opening = await page("")

    async def body() -> AsyncIterator[bytes]:
        answer = opening
        yield csv_lines([CSV_HEADER, *(csv_row(b) for b in answer.bookings)])
        while answer.next_page_token:
            answer = await page(answer.next_page_token)
            yield csv_lines(csv_row(b) for b in answer.bookings)

    name = f"bookings-{first.isoformat()}-{last.isoformat()}.csv"
    return StreamingResponse(
        body(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


# --- the calendar feed ------------------------------------------------------------------------------


def feed_url(request: Request, token: str) -> str:
    """The feed's public address (the platform's own origin; the token is its only credential)."""
    return f"{request.app.state.settings.public_url.rstrip('/')}/v1/calendar-feeds/{token}.ics"


@router.get("/v1/tenant-admin/calendar-feed", summary="The tenant's private calendar feed URL")
async def calendar_feed(request: Request, admin: TenantAdmin) -> dict[str, str]:
    """`{url}`: an iCalendar (.ics) address of the tenant's confirmed bookings for a calendar app to
    subscribe to; made on the first read, the same until rotated. Anyone with the URL can read it."""
    answer = await request.app.state.clients.booking.GetCalendarFeed(
        booking_pb.GetCalendarFeedRequest(tenant_id=admin.tenant_id)
    )
    return {"url": feed_url(request, answer.token)}


@router.post("/v1/tenant-admin/calendar-feed/rotate", summary="A new calendar feed URL; the old one stops")
async def rotate_calendar_feed(
    request: Request,
    admin: TenantAdmin,
    idempotency_key: Annotated[str, Header(alias="Idempotency-Key", max_length=255)] = "",
) -> dict[str, str]:
    """`{url}`: the new address; the old one answers 404 at once. A retry with the same
    `Idempotency-Key` answers the same URL without rotating again."""
    answer = await request.app.state.clients.booking.RotateCalendarFeed(
        booking_pb.RotateCalendarFeedRequest(tenant_id=admin.tenant_id, request_id=idempotency_key)
    )
    return {"url": feed_url(request, answer.token)}


@router.get(
    "/v1/calendar-feeds/{token}.ics",
    summary="A tenant's calendar feed (iCalendar)",
    tags=["calendar feed"],
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}, "description": "The feed, RFC 5545"}},
)
async def calendar_feed_document(request: Request, token: Annotated[str, Path(max_length=64)]) -> Response:
    """One event per CONFIRMED booking from a year ago on (at most 5,000): all-day for a whole day, a
    time slot's start and end in UTC; UID the booking id, SUMMARY "<couple> — <package>"; nothing else
    about the couple or money. The token in the path is the only credential; 404 NOT_FOUND for any
    other."""
    clients = request.app.state.clients
    feed = await clients.booking.ListCalendarFeedEvents(booking_pb.ListCalendarFeedEventsRequest(token=token))
    tenant = (await clients.tenant.GetTenant(tenant_pb.GetTenantRequest(tenant_id=feed.tenant_id))).tenant
    events = [
        FeedEvent(
            e.booking_id,
            date.fromisoformat(e.event_date),
            e.couple_name,
            e.package_title,
            e.starts_at.ToDatetime(tzinfo=UTC) if e.HasField("starts_at") else None,
            e.ends_at.ToDatetime(tzinfo=UTC) if e.HasField("ends_at") else None,
        )
        for e in feed.events
    ]
    return Response(
        ical_calendar(tenant.name, events, datetime.now(UTC)),
        media_type="text/calendar; charset=utf-8",
        headers={"Cache-Control": "private, max-age=300", "Referrer-Policy": "no-referrer"},
    )


# --- platform admin ----------------------------------------------------------------------------------


@router.get("/v1/admin/webhook-health", summary="The Stripe event inbox's health", tags=["platform admin"])
async def webhook_health(request: Request, admin: PlatformAdmin) -> dict[str, Any]:
    """`{failed, deadLetters, oldestUnprocessedAt, tenants: [{tenantId, failed}]}`: events FAILED now,
    those of them older than Stripe's 3 days of retries (only a replay processes them now), when the
    oldest event not processed yet (RECEIVED or FAILED) arrived (null when none), and the 20 tenants
    with the most FAILED events."""
    health = await request.app.state.clients.payments.GetWebhookHealth(payments_pb.GetWebhookHealthRequest())
    return {
        "failed": health.failed,
        "deadLetters": health.dead_letters,
        "oldestUnprocessedAt": json_time(health.oldest_unprocessed_at)
        if health.HasField("oldest_unprocessed_at")
        else None,
        "tenants": [{"tenantId": t.tenant_id, "failed": t.failed} for t in health.tenants],
    }
