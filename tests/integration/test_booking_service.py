"""The booking service as a real process (with a real tenant service) over gRPC: concurrent holds,
availability, the lifecycle, tenant isolation, the couple's token and the emails in the file sink."""

from __future__ import annotations

import asyncio
import email
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email import policy as email_policy
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import asyncpg
import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from mais.booking.v1 import booking_service_pb2 as pb
from mais.booking.v1 import booking_service_pb2_grpc as pb_grpc
from mais.catalog.v1 import catalog_service_pb2 as catalog_pb
from mais.tenant.v1 import tenant_service_pb2 as tenant_pb
from mais.tenant.v1 import tenant_service_pb2_grpc as tenant_grpc

from tests.integration.conftest import FAST_ARGON2, INTERNAL_TOKEN, Cluster, RunningService, spawn_service

CREDENTIAL = (("x-mais-internal", INTERNAL_TOKEN),)
LINK_KEY = "integration-booking-link-key-0123456789abcdef"
PUBLIC_URL = "http://public.example.test"


@dataclass
class Services:
    tenant: RunningService
    booking: RunningService
    mail_dir: Path


@pytest.fixture(scope="module")
def services(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    tenant = spawn_service(
        cluster, "services.tenant", "tenant", tmp_path_factory.mktemp("tenant-for-booking"), FAST_ARGON2
    )
    data = tmp_path_factory.mktemp("booking-svc")
    booking = spawn_service(
        cluster,
        "services.booking",
        "booking",
        data,
        {
            "MAIS_TENANT_ADDR": tenant.address,
            "MAIS_TENANT_CACHE_SECONDS": "0",
            "MAIS_BOOKING_LINK_KEY": LINK_KEY,
            "MAIS_PUBLIC_URL": PUBLIC_URL,
            "MAIS_OUTBOX_POLL_SECONDS": "0.1",
        },
    )
    try:
        yield Services(tenant, booking, data / "mail")
    finally:
        booking.stop()
        tenant.stop()


class Booking:
    """The booking stub, with the internal credential and a deadline on every call."""

    def __init__(self, stub: pb_grpc.BookingServiceStub) -> None:
        self.stub = stub

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        method = getattr(self.stub, name)

        async def call(request):  # type: ignore[no-untyped-def]
            return await method(request, metadata=CREDENTIAL, timeout=20)

        return call


@pytest.fixture
async def booking(services: Services) -> AsyncIterator[Booking]:
    async with grpc.aio.insecure_channel(services.booking.address) as channel:
        yield Booking(pb_grpc.BookingServiceStub(channel))


@pytest.fixture
async def tenants(services: Services) -> AsyncIterator[tenant_grpc.TenantServiceAsyncStub]:
    async with grpc.aio.insecure_channel(services.tenant.address) as channel:
        yield tenant_grpc.TenantServiceStub(channel)


async def make_tenant(tenants: tenant_grpc.TenantServiceAsyncStub, name: str = "", **policy: int) -> str:
    slug = "bk-" + uuid.uuid4().hex[:12]
    created = await tenants.CreateTenant(
        tenant_pb.CreateTenantRequest(
            slug=slug,
            name=name or f"Studio {slug}",
            commission_bps=1000,
            admin_email=f"owner@{slug}.example.com",
            timezone="UTC",
            currency="usd",
        ),
        metadata=CREDENTIAL,
        timeout=20,
    )
    if policy:
        await tenants.UpdateTenant(
            tenant_pb.UpdateTenantRequest(
                tenant_id=created.tenant.id,
                tenant=tenant_pb.Tenant(policy=tenant_pb.BookingPolicy(**policy)),
                update_mask=[f"policy.{field}" for field in policy],
                actor_role=tenant_pb.ROLE_TENANT_ADMIN,
            ),
            metadata=CREDENTIAL,
            timeout=20,
        )
    return str(created.tenant.id)


@pytest.fixture
async def tenant_id(tenants: tenant_grpc.TenantServiceAsyncStub) -> str:
    return await make_tenant(tenants)


def today() -> date:
    return datetime.now(UTC).date()


def quote(total: int = 180000) -> catalog_pb.QuoteSnapshot:
    return catalog_pb.QuoteSnapshot(
        package_id="pkg_garden",
        total_cents=total,
        currency="usd",
        hash="h1",
        lines=[
            catalog_pb.QuoteLine(kind="package", id="pkg_garden", title="Garden <Deluxe>", price_cents=total)
        ],
    )


def hold_request(tenant: str, day: date, n: int = 0, **extra: str) -> pb.HoldDateRequest:
    fields = {"couple_name": f"Couple {n}", "email": f"couple{n}@example.com", **extra}
    return pb.HoldDateRequest(tenant_id=tenant, event_date=day.isoformat(), quote=quote(), **fields)


def reason_of(error: grpc.aio.AioRpcError) -> tuple[str, dict[str, str], list[str]]:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None, error
    info, bad = error_details_pb2.ErrorInfo(), error_details_pb2.BadRequest()
    for detail in status.details:
        if detail.Is(info.DESCRIPTOR):
            detail.Unpack(info)
        elif detail.Is(bad.DESCRIPTOR):
            detail.Unpack(bad)
    return info.reason, dict(info.metadata), [v.field for v in bad.field_violations]


async def expire(admin: asyncpg.Connection, booking_id: str) -> None:
    await admin.execute(
        "UPDATE booking.bookings SET hold_expires_at = now() - interval '1 minute' WHERE id = $1", booking_id
    )


async def deadlocks(admin: asyncpg.Connection) -> int:
    return int(
        await admin.fetchval("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
    )


def wait_for_mail(mail_dir: Path, key: str, timeout: float = 15.0) -> email.message.EmailMessage:
    """The .eml the outbox wrote for a dedupe key (the file sink names files after it)."""
    path = mail_dir / (re.sub(r"[^A-Za-z0-9_.-]+", "-", key) + ".eml")
    deadline = time.monotonic() + timeout
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert path.exists(), f"no mail {path.name}; have {sorted(p.name for p in mail_dir.glob('*'))}"
    message = email.message_from_bytes(path.read_bytes(), policy=email_policy.default)
    assert isinstance(message, email.message.EmailMessage)
    return message


def parts(message: email.message.EmailMessage) -> tuple[str, str]:
    text_part = message.get_body(("plain",))
    html_part = message.get_body(("html",))
    assert text_part is not None and html_part is not None
    return str(text_part.get_content()), str(html_part.get_content())


async def confirmed_booking(booking: Booking, tenant: str, day: date, n: int = 0, **extra: str) -> pb.Booking:
    held = (await booking.HoldDate(hold_request(tenant, day, n, **extra))).booking
    session = f"cs_{uuid.uuid4().hex}"
    await booking.AttachPaymentSession(
        pb.AttachPaymentSessionRequest(tenant_id=tenant, booking_id=held.id, payment_session_id=session)
    )
    answer: pb.ConfirmBookingResponse = await booking.ConfirmBooking(
        pb.ConfirmBookingRequest(
            tenant_id=tenant, booking_id=held.id, payment_session_id=session, amount_paid_cents=180000
        )
    )
    return answer.booking


# --- a date is never sold twice ----------------------------------------------------------------


async def test_fifty_concurrent_hold_calls_for_one_date_leave_exactly_one_hold_and_no_deadlock(
    booking: Booking, services: Services, admin: asyncpg.Connection, tenant_id: str
) -> None:
    day = today() + timedelta(days=90)
    before = await deadlocks(admin)
    results = await asyncio.gather(
        *(booking.HoldDate(hold_request(tenant_id, day, n)) for n in range(50)), return_exceptions=True
    )
    held = [r for r in results if isinstance(r, pb.HoldDateResponse)]
    errors = [r for r in results if not isinstance(r, pb.HoldDateResponse)]
    assert len(held) == 1 and held[0].booking.status == pb.BOOKING_STATUS_HELD
    assert len(errors) == 49
    assert all(isinstance(e, grpc.aio.AioRpcError) for e in errors), errors
    assert {e.code() for e in errors} == {grpc.StatusCode.ABORTED}  # type: ignore[union-attr]
    assert {reason_of(e)[0] for e in errors} == {"DATE_UNAVAILABLE"}  # type: ignore[arg-type]
    assert {reason_of(e)[1]["why"] for e in errors} == {"held"}  # type: ignore[arg-type]
    assert await deadlocks(admin) == before
    log = services.booking.process.log_path.read_text()
    assert "deadlock" not in log.lower() and "unhandled error" not in log


async def test_fifty_concurrent_hold_calls_for_fifty_dates_all_hold(
    booking: Booking, admin: asyncpg.Connection, tenant_id: str
) -> None:
    first = today() + timedelta(days=100)
    before = await deadlocks(admin)
    results = await asyncio.gather(
        *(booking.HoldDate(hold_request(tenant_id, first + timedelta(days=n), n)) for n in range(50)),
        return_exceptions=True,
    )
    assert all(isinstance(r, pb.HoldDateResponse) for r in results), [
        r for r in results if isinstance(r, Exception)
    ]
    assert len({r.booking.event_date for r in results if isinstance(r, pb.HoldDateResponse)}) == 50
    assert await deadlocks(admin) == before


async def test_second_couple_cannot_hold_a_held_date_and_nothing_changes(
    booking: Booking, tenant_id: str
) -> None:
    day = today() + timedelta(days=30)
    first = (await booking.HoldDate(hold_request(tenant_id, day, 1))).booking
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await booking.HoldDate(hold_request(tenant_id, day, 2))
    assert reason_of(caught.value)[:2] == ("DATE_UNAVAILABLE", {"date": day.isoformat(), "why": "held"})
    listed = await booking.ListBookings(pb.ListBookingsRequest(tenant_id=tenant_id))
    assert [b.id for b in listed.bookings] == [first.id]


async def test_an_expired_hold_and_a_cancelled_booking_free_their_dates(
    booking: Booking, admin: asyncpg.Connection, tenant_id: str
) -> None:
    held_day, booked_day = today() + timedelta(days=40), today() + timedelta(days=41)
    held = (await booking.HoldDate(hold_request(tenant_id, held_day, 1))).booking
    confirmed = await confirmed_booking(booking, tenant_id, booked_day, 2)
    await expire(admin, held.id)
    await booking.CancelBooking(
        pb.CancelBookingRequest(
            tenant_id=tenant_id, booking_id=confirmed.id, actor="tenant_admin:u1", reason="x"
        )
    )
    for day in (held_day, booked_day):
        answer = await booking.GetAvailability(
            pb.GetAvailabilityRequest(tenant_id=tenant_id, date=day.isoformat())
        )
        assert answer.availability.available
        again = await booking.HoldDate(hold_request(tenant_id, day, 3))
        assert again.booking.status == pb.BOOKING_STATUS_HELD


async def test_the_calendar_refuses_past_and_out_of_range_dates(
    booking: Booking, tenants: tenant_grpc.TenantServiceAsyncStub
) -> None:
    tenant = await make_tenant(tenants, min_notice_days=3, max_advance_days=60)
    for day, why in ((today() - timedelta(days=1), "past"), (today() + timedelta(days=2), "out_of_range")):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await booking.HoldDate(hold_request(tenant, day))
        assert reason_of(caught.value)[0] == "DATE_UNAVAILABLE"
        assert reason_of(caught.value)[1]["why"] == why
    with pytest.raises(grpc.aio.AioRpcError) as far:
        await booking.HoldDate(hold_request(tenant, today() + timedelta(days=61)))
    assert reason_of(far.value)[1]["why"] == "out_of_range"


async def test_bad_hold_input_names_every_field_and_holds_nothing(booking: Booking, tenant_id: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await booking.HoldDate(
            pb.HoldDateRequest(
                tenant_id=tenant_id,
                event_date=(today() + timedelta(days=20)).isoformat(),
                couple_name="",
                email="x",
            )
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert reason_of(caught.value)[2] == ["coupleName", "email"]
    with pytest.raises(grpc.aio.AioRpcError) as bad_date:
        await booking.HoldDate(
            pb.HoldDateRequest(
                tenant_id=tenant_id, event_date="2030-13-01", couple_name="A", email="a@b.co", quote=quote()
            )
        )
    assert reason_of(bad_date.value)[2] == ["eventDate"]
    listed = await booking.ListBookings(pb.ListBookingsRequest(tenant_id=tenant_id))
    assert list(listed.bookings) == []


# --- availability ------------------------------------------------------------------------------


async def test_single_date_and_calendar_answers_agree_for_every_reason(
    booking: Booking, tenants: tenant_grpc.TenantServiceAsyncStub
) -> None:
    tenant = await make_tenant(tenants, min_notice_days=2, max_advance_days=30)
    base = today()
    await confirmed_booking(booking, tenant, base + timedelta(days=5))
    await booking.HoldDate(hold_request(tenant, base + timedelta(days=6)))
    await booking.CreateBlackout(
        pb.CreateBlackoutRequest(
            tenant_id=tenant, date=(base + timedelta(days=7)).isoformat(), reason="closed"
        )
    )
    first, last = base - timedelta(days=2), base + timedelta(days=33)
    calendar = await booking.GetCalendar(
        pb.GetCalendarRequest(tenant_id=tenant, from_date=first.isoformat(), to_date=last.isoformat())
    )
    unavailable = {a.date: a.reason for a in calendar.unavailable}
    day = first
    while day <= last:
        single = await booking.GetAvailability(
            pb.GetAvailabilityRequest(tenant_id=tenant, date=day.isoformat())
        )
        expected = unavailable.get(day.isoformat(), pb.UNAVAILABLE_REASON_UNSPECIFIED)
        assert single.availability.reason == expected, day
        assert single.availability.available == (day.isoformat() not in unavailable)
        day += timedelta(days=1)
    reasons = set(unavailable.values())
    assert reasons == {
        pb.UNAVAILABLE_REASON_PAST,
        pb.UNAVAILABLE_REASON_OUT_OF_RANGE,
        pb.UNAVAILABLE_REASON_BOOKED,
        pb.UNAVAILABLE_REASON_HELD,
        pb.UNAVAILABLE_REASON_BLACKOUT,
    }
    assert unavailable[(base + timedelta(days=5)).isoformat()] == pb.UNAVAILABLE_REASON_BOOKED
    assert unavailable[(base + timedelta(days=6)).isoformat()] == pb.UNAVAILABLE_REASON_HELD
    assert unavailable[(base + timedelta(days=7)).isoformat()] == pb.UNAVAILABLE_REASON_BLACKOUT
    assert (base + timedelta(days=8)).isoformat() not in unavailable


async def test_a_calendar_range_longer_than_366_days_is_refused(booking: Booking, tenant_id: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await booking.GetCalendar(
            pb.GetCalendarRequest(tenant_id=tenant_id, from_date="2031-01-01", to_date="2032-01-02")
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert reason_of(caught.value)[2] == ["to"]


# --- lifecycle ---------------------------------------------------------------------------------


async def test_confirm_is_idempotent_and_emails_the_couple_once_with_a_link_that_opens_only_their_booking(
    booking: Booking,
    services: Services,
    tenants: tenant_grpc.TenantServiceAsyncStub,
    admin: asyncpg.Connection,
) -> None:
    tenant = await make_tenant(tenants, name="Rose & <Thorn> Studio")
    day = today() + timedelta(days=50)
    held = (
        await booking.HoldDate(
            hold_request(tenant, day, 7, couple_name="Ann <b>&</b> Bo", notes="<script>x</script>")
        )
    ).booking
    request = pb.ConfirmBookingRequest(
        tenant_id=tenant, booking_id=held.id, payment_session_id="cs_idem", amount_paid_cents=180000
    )
    first_answer = await booking.ConfirmBooking(request)
    second_answer = await booking.ConfirmBooking(request)
    assert first_answer.outcome == pb.CONFIRM_OUTCOME_CONFIRMED
    assert second_answer.outcome == pb.CONFIRM_OUTCOME_ALREADY_CONFIRMED
    first, second = first_answer.booking, second_answer.booking
    assert first == second and second.status == pb.BOOKING_STATUS_CONFIRMED
    assert second.amount_paid_cents == 180000 and second.quote.total_cents == 180000

    message = wait_for_mail(services.mail_dir, f"confirmation:{held.id}")
    assert (
        await admin.fetchval(
            "SELECT count(*) FROM booking.outbox WHERE dedupe_key = $1", f"confirmation:{held.id}"
        )
        == 1
    )
    assert "couple7@example.com" in str(message["To"])
    text_body, html_body = parts(message)
    assert "<script>" not in html_body and "<b>&</b>" not in html_body and "<Thorn>" not in html_body
    assert "&lt;script&gt;" in html_body and "Ann &lt;b&gt;&amp;&lt;/b&gt; Bo" in html_body
    link = re.search(r"(http\S+/booking/\S+)", text_body)
    assert link is not None and link.group(1).startswith(f"{PUBLIC_URL}/booking/{held.id}?token=")
    token = parse_qs(urlsplit(link.group(1)).query)["token"][0]

    opened = await booking.GetBookingWithToken(pb.GetBookingWithTokenRequest(booking_id=held.id, token=token))
    assert opened.booking.id == held.id and opened.booking.customer.email == "couple7@example.com"
    assert opened.booking.tenant_id == tenant
    other = await confirmed_booking(booking, tenant, day + timedelta(days=1), 8)
    another_tenant = uuid.uuid4().hex + token[32:]
    for booking_id, token_guess in (
        (other.id, token),
        (held.id, another_tenant),
        (held.id, token[:-2] + "AA"),
        (held.id, "not-a-token"),
        (held.id, ""),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await booking.GetBookingWithToken(
                pb.GetBookingWithTokenRequest(booking_id=booking_id, token=token_guess)
            )
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_a_lost_hold_answers_hold_lost_and_the_couple_is_told_of_the_refund_once(
    booking: Booking, services: Services, admin: asyncpg.Connection, tenant_id: str
) -> None:
    day = today() + timedelta(days=60)
    first = (await booking.HoldDate(hold_request(tenant_id, day, 1))).booking
    await booking.AttachPaymentSession(
        pb.AttachPaymentSessionRequest(tenant_id=tenant_id, booking_id=first.id, payment_session_id="cs_lost")
    )
    await expire(admin, first.id)
    second = (await booking.HoldDate(hold_request(tenant_id, day, 2))).booking
    lost = await booking.ConfirmBooking(
        pb.ConfirmBookingRequest(
            tenant_id=tenant_id,
            booking_id=first.id,
            payment_session_id="cs_lost",
            amount_paid_cents=180000,
        )
    )
    assert lost.outcome == pb.CONFIRM_OUTCOME_HOLD_LOST
    assert lost.booking.status == pb.BOOKING_STATUS_RELEASED
    current = await booking.GetBooking(pb.GetBookingRequest(tenant_id=tenant_id, booking_id=second.id))
    assert current.booking.status == pb.BOOKING_STATUS_HELD

    notice = pb.NotifyHoldLostRefundRequest(
        tenant_id=tenant_id, booking_id=first.id, refund_cents=180000, refund_id="re_lost"
    )
    await booking.NotifyHoldLostRefund(notice)
    await booking.NotifyHoldLostRefund(notice)
    message = wait_for_mail(services.mail_dir, f"hold-lost:{first.id}:re_lost")
    assert "refunded" in str(message["Subject"])
    assert "1,800.00 USD" in parts(message)[0]
    after = await booking.GetBooking(
        pb.GetBookingRequest(tenant_id=tenant_id, booking_id=first.id, with_history=True)
    )
    assert after.booking.amount_refunded_cents == 180000
    assert [h.to_status for h in after.booking.history] == ["HELD", "RELEASED", "RELEASED"]


async def test_cancellation_and_refund_emails_land_once_each(
    booking: Booking, services: Services, admin: asyncpg.Connection, tenant_id: str
) -> None:
    confirmed = await confirmed_booking(booking, tenant_id, today() + timedelta(days=70), 4)
    cancel = pb.CancelBookingRequest(
        tenant_id=tenant_id, booking_id=confirmed.id, actor="tenant_admin:u9", reason="<venue> flooded"
    )
    cancelled = (await booking.CancelBooking(cancel)).booking
    await booking.CancelBooking(cancel)
    assert cancelled.status == pb.BOOKING_STATUS_CANCELLED and cancelled.cancel_reason == "<venue> flooded"
    refund = pb.RecordRefundRequest(
        tenant_id=tenant_id,
        booking_id=confirmed.id,
        amount_refunded_cents=90000,
        refund_cents=90000,
        refund_id="re_1",
    )
    recorded = (await booking.RecordRefund(refund)).booking
    await booking.RecordRefund(refund)
    assert recorded.amount_refunded_cents == 90000
    cancellation = wait_for_mail(services.mail_dir, f"cancellation:{confirmed.id}")
    assert "&lt;venue&gt; flooded" in parts(cancellation)[1]
    refund_mail = wait_for_mail(services.mail_dir, f"refund:{confirmed.id}:re_1")
    assert "900.00 USD" in parts(refund_mail)[0]
    keys = await admin.fetch(
        "SELECT dedupe_key, status, attempts FROM booking.outbox WHERE dedupe_key LIKE $1 ORDER BY id",
        f"%{confirmed.id}%",
    )
    # The couple hears of each step; the business of the new booking and of the refund (the cancellation
    # was its own).
    assert [r["dedupe_key"].split(":")[0] for r in keys] == [
        "confirmation",
        "admin-new-booking",
        "cancellation",
        "refund",
        "admin-refund",
    ]
    history = await booking.GetBooking(
        pb.GetBookingRequest(tenant_id=tenant_id, booking_id=confirmed.id, with_history=True)
    )
    assert [(h.from_status, h.to_status) for h in history.booking.history] == [
        ("", "HELD"),
        ("HELD", "CONFIRMED"),
        ("CONFIRMED", "CANCELLED"),
        ("CANCELLED", "CANCELLED"),
    ]
    assert history.booking.history[2].actor == "tenant_admin:u9"


async def test_a_couple_can_cancel_only_inside_the_tenants_window(
    booking: Booking, tenants: tenant_grpc.TenantServiceAsyncStub
) -> None:
    tenant = await make_tenant(tenants, couple_cancel_days=14)
    soon = await confirmed_booking(booking, tenant, today() + timedelta(days=10))
    later = await confirmed_booking(booking, tenant, today() + timedelta(days=30))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await booking.CancelBooking(
            pb.CancelBookingRequest(tenant_id=tenant, booking_id=soon.id, actor="couple")
        )
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    answer = await booking.CancelBooking(
        pb.CancelBookingRequest(tenant_id=tenant, booking_id=later.id, actor="couple")
    )
    assert answer.booking.status == pb.BOOKING_STATUS_CANCELLED


async def test_the_couples_link_shows_whether_and_until_when_they_may_cancel(
    booking: Booking, services: Services, tenants: tenant_grpc.TenantServiceAsyncStub
) -> None:
    tenant = await make_tenant(tenants, couple_cancel_days=14)
    soon = await confirmed_booking(booking, tenant, today() + timedelta(days=10))
    later = await confirmed_booking(booking, tenant, today() + timedelta(days=30), 1)

    async def seen(booking_id: str) -> pb.CoupleCancellation:
        mail = wait_for_mail(services.mail_dir, f"confirmation:{booking_id}")
        found = re.search(r"/booking/\S+\?token=([A-Za-z0-9._-]+)", parts(mail)[0])
        assert found is not None
        opened = await booking.GetBookingWithToken(
            pb.GetBookingWithTokenRequest(booking_id=booking_id, token=found.group(1))
        )
        return opened.booking.couple_cancellation

    closed, open_ = await seen(soon.id), await seen(later.id)
    assert (closed.allowed_now, closed.last_day) == (False, (today() - timedelta(days=4)).isoformat())
    assert (open_.allowed_now, open_.last_day) == (True, (today() + timedelta(days=16)).isoformat())
    await booking.CancelBooking(
        pb.CancelBookingRequest(tenant_id=tenant, booking_id=later.id, actor="couple")
    )
    cancelled = await seen(later.id)
    assert (cancelled.allowed_now, cancelled.last_day) == (False, (today() + timedelta(days=16)).isoformat())
    # The tenant's plain read is not the couple's view: it carries no window.
    plain = await booking.GetBooking(pb.GetBookingRequest(tenant_id=tenant, booking_id=soon.id))
    assert not plain.booking.HasField("couple_cancellation")


# --- tenants are isolated ----------------------------------------------------------------------


async def test_another_tenants_booking_and_blackout_are_not_found_at_every_rpc(
    booking: Booking, tenants: tenant_grpc.TenantServiceAsyncStub, tenant_id: str
) -> None:
    other = await make_tenant(tenants)
    day = today() + timedelta(days=80)
    mine = await confirmed_booking(booking, tenant_id, day)
    blackout = (
        await booking.CreateBlackout(
            pb.CreateBlackoutRequest(tenant_id=tenant_id, date=(day + timedelta(days=1)).isoformat())
        )
    ).blackout
    attempts = [
        booking.GetBooking(pb.GetBookingRequest(tenant_id=other, booking_id=mine.id)),
        booking.AttachPaymentSession(
            pb.AttachPaymentSessionRequest(tenant_id=other, booking_id=mine.id, payment_session_id="cs_x")
        ),
        booking.ConfirmBooking(
            pb.ConfirmBookingRequest(tenant_id=other, booking_id=mine.id, payment_session_id="cs_x")
        ),
        booking.ReleaseHold(pb.ReleaseHoldRequest(tenant_id=other, booking_id=mine.id)),
        booking.CancelBooking(pb.CancelBookingRequest(tenant_id=other, booking_id=mine.id, actor="system")),
        booking.RecordRefund(pb.RecordRefundRequest(tenant_id=other, booking_id=mine.id, refund_id="re_x")),
        booking.NotifyHoldLostRefund(
            pb.NotifyHoldLostRefundRequest(tenant_id=other, booking_id=mine.id, refund_id="re_x")
        ),
        booking.DeleteBlackout(pb.DeleteBlackoutRequest(tenant_id=other, blackout_id=blackout.id)),
    ]
    for attempt in attempts:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await attempt
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    listed = await booking.ListBookings(pb.ListBookingsRequest(tenant_id=other))
    assert list(listed.bookings) == []
    blackouts = await booking.ListBlackouts(pb.ListBlackoutsRequest(tenant_id=other))
    assert list(blackouts.blackouts) == []
    calendar = await booking.GetCalendar(
        pb.GetCalendarRequest(
            tenant_id=other, from_date=day.isoformat(), to_date=(day + timedelta(days=1)).isoformat()
        )
    )
    assert list(calendar.unavailable) == []
    still = await booking.GetBooking(pb.GetBookingRequest(tenant_id=tenant_id, booking_id=mine.id))
    assert still.booking.status == pb.BOOKING_STATUS_CONFIRMED
    assert (
        await booking.CountPackageBookings(
            pb.CountPackageBookingsRequest(tenant_id=other, package_id="pkg_garden")
        )
    ).count == 0
    assert (
        await booking.CountPackageBookings(
            pb.CountPackageBookingsRequest(tenant_id=tenant_id, package_id="pkg_garden")
        )
    ).count == 1
