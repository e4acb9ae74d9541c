"""RescheduleBooking over gRPC against the real booking and tenant processes and PostgreSQL (issue 16):
a confirmed whole day or slot moves with its claims in one transaction, a refused target changes
nothing, and under contention (concurrent moves of one booking and holds racing for the targets) the
booking is always in exactly one place, never two, never none."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta

import asyncpg
import grpc
import pytest
from mais.booking.v1 import booking_service_pb2 as pb
from mais.tenant.v1 import tenant_service_pb2_grpc as tenant_grpc

from services.booking.emails import day_for_people
from tests.integration.booking_outbox import booking_outbox
from tests.integration.conftest import RunningService

# The services (tenant and booking processes, a fast expiry sweep) and their clients, as in the holds suite.
from tests.integration.test_booking_holds import booking, services, tenants, zoned_tenant
from tests.integration.test_booking_service import (
    Booking,
    confirmed_booking,
    deadlocks,
    hold_request,
    reason_of,
    today,
)
from tests.integration.test_booking_slot_holds import (
    add_resource,
    claims_of,
    day_start,
    slot_request,
    stamp,
    terms,
)

__all__ = ["booking", "services", "tenants"]


@pytest.fixture
async def utc_tenant(services: tuple[RunningService, ...]) -> str:
    async with grpc.aio.insecure_channel(services[0].address) as channel:
        return await zoned_tenant(tenant_grpc.TenantServiceStub(channel), "UTC")


ADMIN = "tenant_admin:u_1"


async def confirmed_slot(booking: Booking, tenant: str, start: datetime, n: int, **slot: int) -> pb.Booking:
    held = (await booking.HoldDate(slot_request(tenant, start, n, terms(**slot)))).booking
    session = f"cs_{uuid.uuid4().hex}"
    await booking.AttachPaymentSession(
        pb.AttachPaymentSessionRequest(tenant_id=tenant, booking_id=held.id, payment_session_id=session)
    )
    answer = await booking.ConfirmBooking(
        pb.ConfirmBookingRequest(
            tenant_id=tenant, booking_id=held.id, payment_session_id=session, amount_paid_cents=40000
        )
    )
    assert answer.outcome == pb.CONFIRM_OUTCOME_CONFIRMED
    return answer.booking


def move_day(tenant: str, booking_id: str, day: date, **extra: str) -> pb.RescheduleBookingRequest:
    return pb.RescheduleBookingRequest(
        tenant_id=tenant, booking_id=booking_id, event_date=day.isoformat(), actor=ADMIN, **extra
    )


def move_slot(tenant: str, booking_id: str, start: datetime, **extra: str) -> pb.RescheduleBookingRequest:
    return pb.RescheduleBookingRequest(
        tenant_id=tenant, booking_id=booking_id, starts_at=stamp(start), actor=ADMIN, **extra
    )


async def failure(call: object) -> tuple[str, dict[str, str], list[str]]:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call  # type: ignore[misc]
    return reason_of(caught.value)


async def row(admin: asyncpg.Connection, booking_id: str) -> asyncpg.Record:
    found = await admin.fetchrow(
        "SELECT event_date, starts_at, ends_at, status FROM booking.bookings WHERE id = $1", booking_id
    )
    assert found is not None
    return found


async def overlapping_live_claims(admin: asyncpg.Connection, tenant: str) -> int:
    return int(
        await admin.fetchval(
            "SELECT count(*) FROM booking.occupancy a JOIN booking.occupancy b"
            " ON a.resource_id = b.resource_id AND a.booking_id < b.booking_id AND a.during && b.during"
            " WHERE a.tenant_id = $1::uuid",
            tenant,
        )
    )


# --- a whole day -----------------------------------------------------------------------------------


async def test_a_whole_day_moves_with_its_claims_and_frees_the_old_date(
    booking: Booking, admin: asyncpg.Connection, utc_tenant: str
) -> None:
    room = await add_resource(admin, utc_tenant, default=True)
    old, new = today() + timedelta(days=60), today() + timedelta(days=67)
    confirmed = await confirmed_booking(booking, utc_tenant, old, 1)
    moved = (
        await booking.RescheduleBooking(move_day(utc_tenant, confirmed.id, new, reason="venue change"))
    ).booking
    assert moved.event_date == new.isoformat()
    assert moved.status == pb.BOOKING_STATUS_CONFIRMED
    lo = datetime.combine(new, datetime.min.time(), tzinfo=UTC)
    assert await claims_of(admin, confirmed.id) == [(room, lo, lo + timedelta(days=1))]
    # The old date is free for anyone; the new one is the booking's.
    await booking.HoldDate(hold_request(utc_tenant, old, 2))
    reason, metadata, _ = await failure(booking.HoldDate(hold_request(utc_tenant, new, 3)))
    assert (reason, metadata["why"]) == ("DATE_UNAVAILABLE", "booked")
    history = (
        await booking.GetBooking(
            pb.GetBookingRequest(tenant_id=utc_tenant, booking_id=confirmed.id, with_history=True)
        )
    ).booking.history
    assert history[-1].actor == ADMIN
    assert history[-1].reason == f"rescheduled from {old.isoformat()} to {new.isoformat()}: venue change"
    # The couple's email is in the outbox, once.
    mails = await booking_outbox(admin, "dedupe_key LIKE $1", f"moved:{confirmed.id}:%")
    assert len(mails) == 1
    assert "Was: " + day_for_people(old) in mails[0]["text_body"]
    assert "Now: " + day_for_people(new) in mails[0]["text_body"]


async def test_a_whole_day_refused_target_changes_nothing(
    booking: Booking, admin: asyncpg.Connection, utc_tenant: str
) -> None:
    await add_resource(admin, utc_tenant, default=True)
    day = today() + timedelta(days=80)
    confirmed = await confirmed_booking(booking, utc_tenant, day, 1)
    taken = today() + timedelta(days=81)
    await booking.HoldDate(hold_request(utc_tenant, taken, 2))
    blacked = today() + timedelta(days=82)
    await booking.CreateBlackout(pb.CreateBlackoutRequest(tenant_id=utc_tenant, date=blacked.isoformat()))
    slotted = day_start(83) + timedelta(hours=10)
    await booking.HoldDate(slot_request(utc_tenant, slotted, 3, terms()))
    claims_before = await claims_of(admin, confirmed.id)
    for target, why in (
        (taken, "held"),
        (blacked, "blackout"),
        (today() - timedelta(days=1), "past"),
    ):
        reason, metadata, _ = await failure(
            booking.RescheduleBooking(move_day(utc_tenant, confirmed.id, target))
        )
        assert (reason, metadata["why"]) == ("DATE_UNAVAILABLE", why), target
    # A day with a slot on a resource is not free for a whole day.
    reason, _, _ = await failure(
        booking.RescheduleBooking(move_day(utc_tenant, confirmed.id, slotted.date()))
    )
    assert reason == "DATE_UNAVAILABLE"
    _, _, fields = await failure(
        booking.RescheduleBooking(move_slot(utc_tenant, confirmed.id, slotted + timedelta(hours=3)))
    )
    assert fields == ["startsAt"]
    assert (await row(admin, confirmed.id))["event_date"] == day
    assert await claims_of(admin, confirmed.id) == claims_before


# --- a slot ----------------------------------------------------------------------------------------


async def test_a_slot_moves_to_a_free_start_with_its_buffers_and_frees_the_old_one(
    booking: Booking, admin: asyncpg.Connection, utc_tenant: str
) -> None:
    room = await add_resource(admin, utc_tenant, default=True)
    ten = day_start(90) + timedelta(hours=10)
    confirmed = await confirmed_slot(booking, utc_tenant, ten, 1, before=15, after=30)
    later = day_start(91) + timedelta(hours=14)
    moved = (await booking.RescheduleBooking(move_slot(utc_tenant, confirmed.id, later))).booking
    assert moved.event_date == later.date().isoformat()
    assert moved.starts_at.ToDatetime(tzinfo=UTC) == later
    assert moved.ends_at.ToDatetime(tzinfo=UTC) == later + timedelta(hours=1)
    assert await claims_of(admin, confirmed.id) == [
        (room, later - timedelta(minutes=15), later + timedelta(hours=1, minutes=30))
    ]
    await booking.HoldDate(slot_request(utc_tenant, ten, 2, terms(before=15, after=30)))
    # The new slot's buffer keeps 15:00 taken (a 60-minute slot then would touch the 30 after).
    reason, metadata, _ = await failure(
        booking.HoldDate(slot_request(utc_tenant, later + timedelta(hours=1), 3, terms()))
    )
    assert (reason, metadata["why"]) == ("DATE_UNAVAILABLE", "booked")


async def test_a_slot_refused_target_changes_nothing(
    booking: Booking, admin: asyncpg.Connection, utc_tenant: str
) -> None:
    await add_resource(admin, utc_tenant, default=True, opens="08:00", closes="18:00")
    ten = day_start(100) + timedelta(hours=10)
    confirmed = await confirmed_slot(booking, utc_tenant, ten, 1)
    other = (await booking.HoldDate(slot_request(utc_tenant, ten + timedelta(hours=2), 2, terms()))).booking
    await booking.HoldDate(hold_request(utc_tenant, today() + timedelta(days=101), 3))
    before = await claims_of(admin, confirmed.id)
    for target, why in (
        (ten + timedelta(hours=1, minutes=30), "held"),  # overlaps the other couple's 12:00
        (ten + timedelta(minutes=10), "not_offered"),  # off the 30-minute interval
        (day_start(100) + timedelta(hours=19), "not_offered"),  # after closing
        (day_start(101) + timedelta(hours=10), "held"),  # a whole day is held
        (day_start(-1) + timedelta(hours=10), "past"),
    ):
        reason, metadata, _ = await failure(
            booking.RescheduleBooking(move_slot(utc_tenant, confirmed.id, target))
        )
        assert (reason, metadata["why"]) == ("DATE_UNAVAILABLE", why), target
    _, _, fields = await failure(
        booking.RescheduleBooking(move_day(utc_tenant, confirmed.id, today() + timedelta(days=102)))
    )
    assert fields == ["eventDate"]
    # A start at the edge of time is refused naming the field, for a move and for a hold alike.
    edge = datetime(9999, 12, 31, 23, 30, tzinfo=UTC)
    for call in (
        booking.RescheduleBooking(move_slot(utc_tenant, confirmed.id, edge)),
        booking.HoldDate(slot_request(utc_tenant, edge, 9, terms())),
    ):
        reason, _, fields = await failure(call)
        assert (reason, fields) == ("VALIDATION_ERROR", ["startsAt"])
    # A hold is not rescheduled (it is released and held again).
    reason, _, _ = await failure(
        booking.RescheduleBooking(move_slot(utc_tenant, other.id, ten + timedelta(hours=5)))
    )
    assert reason == "FAILED_PRECONDITION"
    assert (await row(admin, confirmed.id))["starts_at"] == ten
    assert await claims_of(admin, confirmed.id) == before


async def test_a_retried_reschedule_moves_once(
    booking: Booking, admin: asyncpg.Connection, utc_tenant: str
) -> None:
    await add_resource(admin, utc_tenant, default=True)
    ten = day_start(110) + timedelta(hours=10)
    confirmed = await confirmed_slot(booking, utc_tenant, ten, 1)
    first = ten + timedelta(hours=2)
    await booking.RescheduleBooking(move_slot(utc_tenant, confirmed.id, first, request_id="r-1"))
    await booking.RescheduleBooking(move_slot(utc_tenant, confirmed.id, ten, request_id="r-2"))
    again = (
        await booking.RescheduleBooking(move_slot(utc_tenant, confirmed.id, first, request_id="r-1"))
    ).booking
    assert again.starts_at.ToDatetime(tzinfo=UTC) == ten


# --- contention ------------------------------------------------------------------------------------


async def test_concurrent_moves_of_a_slot_and_holds_racing_for_the_targets_leave_it_in_one_place(
    booking: Booking, admin: asyncpg.Connection, utc_tenant: str
) -> None:
    room = await add_resource(admin, utc_tenant, default=True)
    base = day_start(120) + timedelta(hours=1)
    confirmed = await confirmed_slot(booking, utc_tenant, base, 0)
    # Twenty free hours of the same day, each wanted by a move; every other one by another couple too.
    targets = [base + timedelta(hours=2 * (i + 1)) for i in range(20)]
    calls = [booking.RescheduleBooking(move_slot(utc_tenant, confirmed.id, t)) for t in targets]
    calls += [
        booking.HoldDate(slot_request(utc_tenant, t, i + 1, terms())) for i, t in enumerate(targets[::2])
    ]
    before = await deadlocks(admin)
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert await deadlocks(admin) == before
    for result in results:
        if isinstance(result, grpc.aio.AioRpcError):
            assert reason_of(result)[0] == "DATE_UNAVAILABLE", result
        else:
            assert isinstance(result, (pb.RescheduleBookingResponse, pb.HoldDateResponse)), result
    moved_to = {
        r.booking.starts_at.ToDatetime(tzinfo=UTC)
        for r in results
        if isinstance(r, pb.RescheduleBookingResponse)
    }
    held_at = {
        r.booking.starts_at.ToDatetime(tzinfo=UTC) for r in results if isinstance(r, pb.HoldDateResponse)
    }
    # Nobody else wanted the odd ones: every move there went through.
    assert set(targets[1::2]) <= moved_to
    assert held_at
    final = await row(admin, confirmed.id)
    assert final["status"] == "CONFIRMED"
    start = final["starts_at"]
    assert start == base or start in moved_to
    assert await claims_of(admin, confirmed.id) == [(room, start, start + timedelta(hours=1))]
    assert start not in held_at
    assert await overlapping_live_claims(admin, utc_tenant) == 0
    # Every target is somebody's or nobody's, never two bookings'.
    live = await admin.fetch(
        "SELECT starts_at FROM booking.bookings WHERE tenant_id = $1::uuid AND kind = 'SLOT'"
        " AND status IN ('HELD', 'CONFIRMED')",
        utc_tenant,
    )
    starts = [r["starts_at"] for r in live]
    assert len(starts) == len(set(starts))


async def test_concurrent_moves_of_a_whole_day_and_holds_racing_for_the_days_leave_it_on_one_day(
    booking: Booking, admin: asyncpg.Connection, utc_tenant: str
) -> None:
    await add_resource(admin, utc_tenant, default=True)
    await add_resource(admin, utc_tenant)
    first = today() + timedelta(days=150)
    confirmed = await confirmed_booking(booking, utc_tenant, first, 0)
    targets = [first + timedelta(days=i + 1) for i in range(20)]
    calls = [booking.RescheduleBooking(move_day(utc_tenant, confirmed.id, day)) for day in targets]
    calls += [booking.HoldDate(hold_request(utc_tenant, day, i + 1)) for i, day in enumerate(targets[::2])]
    before = await deadlocks(admin)
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert await deadlocks(admin) == before
    for result in results:
        if isinstance(result, grpc.aio.AioRpcError):
            assert reason_of(result)[0] == "DATE_UNAVAILABLE", result
    moved_to = {
        date.fromisoformat(r.booking.event_date)
        for r in results
        if isinstance(r, pb.RescheduleBookingResponse)
    }
    assert set(targets[1::2]) <= moved_to
    assert any(isinstance(r, pb.HoldDateResponse) for r in results)
    final = (await row(admin, confirmed.id))["event_date"]
    assert final == first or final in moved_to
    # On its day, on both resources; nowhere else.
    claims = await claims_of(admin, confirmed.id)
    lo = datetime.combine(final, datetime.min.time(), tzinfo=UTC)
    assert [(c[1], c[2]) for c in claims] == [(lo, lo + timedelta(days=1))] * 2
    assert await overlapping_live_claims(admin, utc_tenant) == 0
    per_day = await admin.fetch(
        "SELECT event_date, count(*) AS n FROM booking.bookings WHERE tenant_id = $1::uuid"
        " AND status IN ('HELD', 'CONFIRMED') GROUP BY event_date HAVING count(*) > 1",
        utc_tenant,
    )
    assert per_day == []


# --- daylight saving -------------------------------------------------------------------------------


async def test_a_slot_moved_onto_a_spring_forward_day_counts_elapsed_time_across_the_gap(
    booking: Booking, admin: asyncpg.Connection, services: tuple[RunningService, ...]
) -> None:
    async with grpc.aio.insecure_channel(services[0].address) as channel:
        tenant = await zoned_tenant(tenant_grpc.TenantServiceStub(channel), "Europe/Berlin")
    room = await add_resource(admin, tenant, default=True)
    spring = date(2027, 3, 28)
    assert spring > today(), "the DST date below must be in the future; move it on"
    midnight = datetime.combine(spring, datetime.min.time(), tzinfo=UTC)
    confirmed = await confirmed_slot(booking, tenant, midnight - timedelta(days=2, hours=-9), 1)
    # 01:30 winter time (00:30 UTC) would end at 03:30 summer time: taken by another couple, it
    # blocks 03:00 summer time (01:00 UTC), half an hour later by the clock on the wall.
    await booking.HoldDate(slot_request(tenant, midnight + timedelta(minutes=30), 2, terms()))
    blocked = midnight + timedelta(hours=1)
    reason, metadata, _ = await failure(booking.RescheduleBooking(move_slot(tenant, confirmed.id, blocked)))
    assert (reason, metadata["why"]) == ("DATE_UNAVAILABLE", "held")
    # 03:30 summer time is 01:30 UTC, and the booking's day is the 28th.
    after_gap = midnight + timedelta(hours=3, minutes=30) - timedelta(hours=2)
    moved = (await booking.RescheduleBooking(move_slot(tenant, confirmed.id, after_gap))).booking
    assert (moved.starts_at.ToDatetime(tzinfo=UTC), moved.event_date) == (after_gap, spring.isoformat())
    assert await claims_of(admin, confirmed.id) == [(room, after_gap, after_gap + timedelta(hours=1))]
