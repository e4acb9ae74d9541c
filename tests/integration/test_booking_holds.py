"""Holds over gRPC against the real booking and tenant processes and PostgreSQL: the couple who comes
back resumes their hold, a hold outlives Stripe's minimum session, live holds are bounded per couple and
per client address under real concurrency, expired holds are released by the service's own sweep and
never read as HELD, and past dates cannot be blacked out."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import grpc
import pytest
from mais.booking.v1 import booking_service_pb2 as pb
from mais.booking.v1 import booking_service_pb2_grpc as pb_grpc
from mais.tenant.v1 import tenant_service_pb2 as tenant_pb
from mais.tenant.v1 import tenant_service_pb2_grpc as tenant_grpc

from tests.integration.conftest import Cluster, RunningService, core_services
from tests.integration.test_booking_service import (
    CREDENTIAL,
    Booking,
    expire,
    hold_request,
    make_tenant,
    reason_of,
    today,
)


@pytest.fixture(scope="module")
def services(
    cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningService, ...]]:
    # The sweep runs often here so that a test sees it act within seconds.
    sweep = {"MAIS_HOLD_EXPIRY_SWEEP_SECONDS": "0.3"}
    with core_services(cluster, tmp_path_factory, "holds", catalog=False, booking_env=sweep) as running:
        yield running.tenant, running.booking


@pytest.fixture
async def booking(services: tuple[RunningService, ...]) -> AsyncIterator[Booking]:
    async with grpc.aio.insecure_channel(services[1].address) as channel:
        yield Booking(pb_grpc.BookingServiceStub(channel))


@pytest.fixture
async def tenants(services: tuple[RunningService, ...]) -> AsyncIterator[tenant_grpc.TenantServiceAsyncStub]:
    async with grpc.aio.insecure_channel(services[0].address) as channel:
        yield tenant_grpc.TenantServiceStub(channel)


@pytest.fixture
async def tenant_id(tenants: tenant_grpc.TenantServiceAsyncStub) -> str:
    return await make_tenant(tenants)


async def zoned_tenant(tenants: tenant_grpc.TenantServiceAsyncStub, zone: str) -> str:
    slug = "bz-" + uuid.uuid4().hex[:12]
    created = await tenants.CreateTenant(
        tenant_pb.CreateTenantRequest(
            slug=slug, name="Zoned", commission_bps=1000, admin_email=f"o@{slug}.example.com", timezone=zone
        ),
        metadata=CREDENTIAL,
        timeout=20,
    )
    return str(created.tenant.id)


def at(stamp: object) -> datetime:
    return stamp.ToDatetime(tzinfo=UTC)  # type: ignore[attr-defined, no-any-return]


async def leave_minutes(admin: asyncpg.Connection, booking_id: str, minutes: int) -> None:
    """Time passes: the hold has only `minutes` left."""
    await admin.execute(
        "UPDATE booking.bookings SET hold_expires_at = now() + make_interval(mins => $2) WHERE id = $1",
        booking_id,
        minutes,
    )


def limit_of(error: BaseException) -> tuple[str, dict[str, str]]:
    assert isinstance(error, grpc.aio.AioRpcError), repr(error)
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, error
    reason, metadata, _ = reason_of(error)
    return reason, metadata


# --- the couple comes back (defect 5) ------------------------------------------------------------


async def test_the_same_couple_asking_again_resumes_their_hold_with_a_full_hold_time(
    booking: Booking, admin: asyncpg.Connection, tenant_id: str
) -> None:
    day = today() + timedelta(days=60)
    first = (await booking.HoldDate(hold_request(tenant_id, day, 1, request_id="first-try"))).booking
    await leave_minutes(admin, first.id, 5)
    again = await booking.HoldDate(
        hold_request(tenant_id, day, 1, email="  Couple1@Example.COM ", request_id="second-try")
    )
    assert again.resumed is True and again.booking.id == first.id
    assert again.booking.status == pb.BOOKING_STATUS_HELD
    assert at(again.booking.hold_expires_at) >= datetime.now(UTC) + timedelta(minutes=30)
    history = (
        await booking.GetBooking(
            pb.GetBookingRequest(tenant_id=tenant_id, booking_id=first.id, with_history=True)
        )
    ).booking.history
    assert [(h.to_status, h.actor) for h in history] == [("HELD", "couple"), ("HELD", "couple")]
    assert "came back" in history[-1].reason and "full hold" in history[-1].reason
    listed = await booking.ListBookings(pb.ListBookingsRequest(tenant_id=tenant_id))
    assert [b.id for b in listed.bookings] == [first.id]


async def test_coming_back_keeps_a_hold_for_at_most_twice_its_length_from_when_it_was_made(
    booking: Booking, admin: asyncpg.Connection, tenant_id: str
) -> None:
    day = today() + timedelta(days=62)
    first = (await booking.HoldDate(hold_request(tenant_id, day, 1, request_id="made"))).booking
    # Made 50 minutes ago and resumed since, with 5 minutes left: coming back again cannot stretch it
    # past 62 minutes (twice the 31-minute hold) from when it was made.
    await admin.execute(
        "UPDATE booking.bookings SET created_at = now() - interval '50 minutes',"
        " hold_expires_at = now() + interval '5 minutes' WHERE id = $1",
        first.id,
    )
    made = await admin.fetchval("SELECT created_at FROM booking.bookings WHERE id = $1", first.id)
    again = await booking.HoldDate(hold_request(tenant_id, day, 1, request_id="back-again"))
    assert again.resumed is True
    assert at(again.booking.hold_expires_at) <= made + timedelta(minutes=62)
    assert at(again.booking.hold_expires_at) >= made + timedelta(minutes=62) - timedelta(seconds=5)


async def test_a_different_couple_still_cannot_hold_a_held_date(booking: Booking, tenant_id: str) -> None:
    day = today() + timedelta(days=61)
    await booking.HoldDate(hold_request(tenant_id, day, 1))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await booking.HoldDate(hold_request(tenant_id, day, 2))
    assert reason_of(caught.value)[:2] == ("DATE_UNAVAILABLE", {"date": day.isoformat(), "why": "held"})


async def test_a_couple_cannot_resume_a_hold_of_another_tenant(
    booking: Booking, tenants: tenant_grpc.TenantServiceAsyncStub, tenant_id: str
) -> None:
    day = today() + timedelta(days=62)
    mine = (await booking.HoldDate(hold_request(tenant_id, day, 1))).booking
    elsewhere = await booking.HoldDate(hold_request(await make_tenant(tenants), day, 1))
    assert elsewhere.resumed is False and elsewhere.booking.id != mine.id


async def test_a_resumed_hold_can_take_a_new_checkout_session_in_place_of_its_old_one(
    booking: Booking, tenant_id: str
) -> None:
    day = today() + timedelta(days=63)
    held = (await booking.HoldDate(hold_request(tenant_id, day, 1))).booking
    await booking.AttachPaymentSession(
        pb.AttachPaymentSessionRequest(tenant_id=tenant_id, booking_id=held.id, payment_session_id="cs_old")
    )
    resumed = await booking.HoldDate(hold_request(tenant_id, day, 1))
    assert resumed.resumed and resumed.booking.payment_session_id == "cs_old"
    with pytest.raises(grpc.aio.AioRpcError) as blind:
        await booking.AttachPaymentSession(
            pb.AttachPaymentSessionRequest(
                tenant_id=tenant_id, booking_id=held.id, payment_session_id="cs_new"
            )
        )
    assert blind.value.code() == grpc.StatusCode.ABORTED
    swapped = await booking.AttachPaymentSession(
        pb.AttachPaymentSessionRequest(
            tenant_id=tenant_id,
            booking_id=held.id,
            payment_session_id="cs_new",
            replaces_payment_session_id="cs_old",
        )
    )
    assert swapped.booking.payment_session_id == "cs_new"
    # A payment of the replaced session is not this hold's: it is lost (and payments refunds it).
    late = await booking.ConfirmBooking(
        pb.ConfirmBookingRequest(
            tenant_id=tenant_id, booking_id=held.id, payment_session_id="cs_old", amount_paid_cents=1
        )
    )
    assert late.outcome == pb.CONFIRM_OUTCOME_HOLD_LOST


# --- a hold outlives Stripe's minimum session (defect 6) -----------------------------------------


async def test_a_hold_lasts_thirty_one_minutes_and_no_tenant_can_ask_for_less(
    booking: Booking, tenants: tenant_grpc.TenantServiceAsyncStub
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await make_tenant(tenants, hold_minutes=30)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    tenant = await make_tenant(tenants)
    before = datetime.now(UTC)
    held = (await booking.HoldDate(hold_request(tenant, today() + timedelta(days=70)))).booking
    after = datetime.now(UTC)
    expires = at(held.hold_expires_at)
    assert before + timedelta(minutes=31) - timedelta(seconds=5) <= expires
    assert expires <= after + timedelta(minutes=31) + timedelta(seconds=5)


async def test_a_longer_hold_time_of_the_tenant_is_kept(
    booking: Booking, tenants: tenant_grpc.TenantServiceAsyncStub
) -> None:
    tenant = await make_tenant(tenants, hold_minutes=45)
    held = (await booking.HoldDate(hold_request(tenant, today() + timedelta(days=71)))).booking
    assert at(held.hold_expires_at) >= datetime.now(UTC) + timedelta(minutes=44)


# --- dates cannot be hoarded (defect 14) ---------------------------------------------------------


async def test_concurrent_holds_of_one_couple_stop_at_two_live_dates_with_a_retry_after(
    booking: Booking, admin: asyncpg.Connection, tenant_id: str
) -> None:
    first = today() + timedelta(days=80)
    results = await asyncio.gather(
        *(
            booking.HoldDate(
                hold_request(tenant_id, first + timedelta(days=n), 7, email="hoarder@example.com")
            )
            for n in range(10)
        ),
        return_exceptions=True,
    )
    held = [r for r in results if isinstance(r, pb.HoldDateResponse)]
    refused = [r for r in results if not isinstance(r, pb.HoldDateResponse)]
    assert len(held) == 2 and len(refused) == 8
    earliest = min(at(r.booking.hold_expires_at) for r in held)
    for error in refused:
        reason, metadata = limit_of(error)
        assert reason == "HOLD_LIMIT_REACHED" and metadata["limit"] == "email"
        wait = int(metadata["retry_after_seconds"])
        assert 0 < wait <= (earliest - datetime.now(UTC)).total_seconds() + 5
    live = await admin.fetchval(
        "SELECT count(*) FROM booking.bookings WHERE email = 'hoarder@example.com' AND status = 'HELD'"
        " AND tenant_id = $1::uuid",
        tenant_id,
    )
    assert live == 2


async def test_concurrent_holds_from_one_address_stop_at_five_and_other_addresses_still_hold(
    booking: Booking, tenants: tenant_grpc.TenantServiceAsyncStub, tenant_id: str
) -> None:
    first = today() + timedelta(days=100)
    results = await asyncio.gather(
        *(
            booking.HoldDate(
                hold_request(tenant_id, first + timedelta(days=n), n, client_address="203.0.113.9")
            )
            for n in range(12)
        ),
        return_exceptions=True,
    )
    held = [r for r in results if isinstance(r, pb.HoldDateResponse)]
    refused = [r for r in results if not isinstance(r, pb.HoldDateResponse)]
    assert len(held) == 5 and len(refused) == 7
    assert {limit_of(e)[1]["limit"] for e in refused} == {"address"}
    other = await booking.HoldDate(
        hold_request(tenant_id, first + timedelta(days=20), 99, client_address="203.0.113.10")
    )
    assert other.booking.status == pb.BOOKING_STATUS_HELD
    # The bound is per tenant: the same address still holds a date of another business.
    elsewhere = await booking.HoldDate(
        hold_request(await make_tenant(tenants), first, 0, client_address="203.0.113.9")
    )
    assert elsewhere.booking.status == pb.BOOKING_STATUS_HELD


async def test_a_resumed_hold_does_not_count_twice_and_an_ended_hold_frees_a_place(
    booking: Booking, admin: asyncpg.Connection, tenant_id: str
) -> None:
    day = today() + timedelta(days=130)
    a = (await booking.HoldDate(hold_request(tenant_id, day, 5))).booking
    for _ in range(3):
        assert (await booking.HoldDate(hold_request(tenant_id, day, 5))).resumed
    b = (await booking.HoldDate(hold_request(tenant_id, day + timedelta(days=1), 5))).booking
    with pytest.raises(grpc.aio.AioRpcError) as third:
        await booking.HoldDate(hold_request(tenant_id, day + timedelta(days=2), 5))
    assert limit_of(third.value)[0] == "HOLD_LIMIT_REACHED"
    await booking.ReleaseHold(pb.ReleaseHoldRequest(tenant_id=tenant_id, booking_id=b.id))
    await expire(admin, a.id)
    for offset in (2, 3):
        again = await booking.HoldDate(hold_request(tenant_id, day + timedelta(days=offset), 5))
        assert again.booking.status == pb.BOOKING_STATUS_HELD


async def test_a_replayed_request_is_answered_even_at_the_limit(booking: Booking, tenant_id: str) -> None:
    day = today() + timedelta(days=140)
    for n in range(2):
        await booking.HoldDate(hold_request(tenant_id, day + timedelta(days=n), 6, request_id=f"r{n}"))
    replay = await booking.HoldDate(hold_request(tenant_id, day, 6, request_id="r0"))
    assert replay.booking.event_date == day.isoformat() and replay.resumed is False


# --- expired holds are released (defect 7) -------------------------------------------------------


async def test_an_expired_hold_is_released_by_the_sweep_with_history_and_never_reads_as_held(
    booking: Booking, admin: asyncpg.Connection, tenant_id: str
) -> None:
    day = today() + timedelta(days=150)
    held = (await booking.HoldDate(hold_request(tenant_id, day, 1))).booking
    await expire(admin, held.id)
    seen = (await booking.GetBooking(pb.GetBookingRequest(tenant_id=tenant_id, booking_id=held.id))).booking
    assert seen.status == pb.BOOKING_STATUS_RELEASED
    listed = await booking.ListBookings(
        pb.ListBookingsRequest(tenant_id=tenant_id, status=pb.BOOKING_STATUS_HELD)
    )
    assert held.id not in [b.id for b in listed.bookings]
    deadline = time.monotonic() + 20
    stored = ""
    while time.monotonic() < deadline:
        stored = await admin.fetchval("SELECT status FROM booking.bookings WHERE id = $1", held.id)
        if stored == "RELEASED":
            break
        await asyncio.sleep(0.1)
    assert stored == "RELEASED"
    history = (
        await booking.GetBooking(
            pb.GetBookingRequest(tenant_id=tenant_id, booking_id=held.id, with_history=True)
        )
    ).booking.history
    assert [(h.from_status, h.to_status, h.actor, h.reason) for h in history][-1] == (
        "HELD",
        "RELEASED",
        "system",
        "hold expired",
    )
    assert (
        await booking.GetAvailability(pb.GetAvailabilityRequest(tenant_id=tenant_id, date=day.isoformat()))
    ).availability.available


async def test_a_live_hold_is_left_alone_by_the_sweep(
    booking: Booking, admin: asyncpg.Connection, tenant_id: str
) -> None:
    held = (await booking.HoldDate(hold_request(tenant_id, today() + timedelta(days=151), 1))).booking
    await asyncio.sleep(1)
    assert await admin.fetchval("SELECT status FROM booking.bookings WHERE id = $1", held.id) == "HELD"


# --- past dates cannot be blacked out (defect 12) ------------------------------------------------


async def test_a_past_date_cannot_be_blacked_out_in_the_tenants_own_calendar(
    booking: Booking, tenants: tenant_grpc.TenantServiceAsyncStub
) -> None:
    for zone in ("Pacific/Kiritimati", "Pacific/Pago_Pago"):
        tenant = await zoned_tenant(tenants, zone)
        local_today = datetime.now(ZoneInfo(zone)).date()
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await booking.CreateBlackout(
                pb.CreateBlackoutRequest(tenant_id=tenant, date=(local_today - timedelta(days=1)).isoformat())
            )
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert reason_of(caught.value)[0] == "VALIDATION_ERROR" and reason_of(caught.value)[2] == ["date"]
        listed = await booking.ListBlackouts(pb.ListBlackoutsRequest(tenant_id=tenant))
        assert list(listed.blackouts) == []
        made = await booking.CreateBlackout(
            pb.CreateBlackoutRequest(tenant_id=tenant, date=local_today.isoformat())
        )
        assert made.blackout.date == local_today.isoformat()


async def test_the_end_of_a_replaced_session_does_not_release_the_resumed_hold(
    booking: Booking, tenant_id: str
) -> None:
    day = today() + timedelta(days=64)
    held = (await booking.HoldDate(hold_request(tenant_id, day, 1))).booking
    attach = pb.AttachPaymentSessionRequest(
        tenant_id=tenant_id, booking_id=held.id, payment_session_id="cs_1"
    )
    await booking.AttachPaymentSession(attach)
    await booking.HoldDate(hold_request(tenant_id, day, 1))
    await booking.AttachPaymentSession(
        pb.AttachPaymentSessionRequest(
            tenant_id=tenant_id,
            booking_id=held.id,
            payment_session_id="cs_2",
            replaces_payment_session_id="cs_1",
        )
    )
    old_end = await booking.ReleaseHold(
        pb.ReleaseHoldRequest(tenant_id=tenant_id, booking_id=held.id, payment_session_id="cs_1")
    )
    assert old_end.booking.status == pb.BOOKING_STATUS_HELD
    own_end = await booking.ReleaseHold(
        pb.ReleaseHoldRequest(tenant_id=tenant_id, booking_id=held.id, payment_session_id="cs_2")
    )
    assert own_end.booking.status == pb.BOOKING_STATUS_RELEASED
