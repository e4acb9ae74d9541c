"""Holds of time slots over gRPC against the real booking and tenant processes and PostgreSQL (issue 16):
two live claims on one resource never overlap under real concurrency, whole days and slots exclude
each other both ways, buffers count, the exclusion constraint refuses an overlap written around the
locks, claims go with a booking that stops being live, and holds on daylight-saving change days land
on the right instants. Resources and hours are written straight into booking's schema here (their
RPCs are another part of issue 16)."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, date, datetime, timedelta

import asyncpg
import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from mais.booking.v1 import booking_service_pb2 as pb
from mais.catalog.v1 import catalog_service_pb2 as catalog_pb
from mais.tenant.v1 import tenant_service_pb2_grpc as tenant_grpc

from tests.integration.conftest import Cluster

# The services (tenant and booking processes, a fast expiry sweep) and their clients, as in the holds suite.
from tests.integration.test_booking_holds import booking, services, tenants, zoned_tenant
from tests.integration.test_booking_service import (
    Booking,
    deadlocks,
    expire,
    hold_request,
    reason_of,
    today,
)

__all__ = ["booking", "services", "tenants"]


@pytest.fixture
async def utc_tenant(tenants: tenant_grpc.TenantServiceAsyncStub) -> str:
    return await zoned_tenant(tenants, "UTC")


async def add_resource(
    admin: asyncpg.Connection,
    tenant: str,
    *,
    default: bool = False,
    opens: str = "00:00",
    closes: str = "24:00",
) -> str:
    """A resource open every day from `opens` to `closes` (wall clock of the tenant's zone)."""
    resource_id = str(uuid.uuid4())
    await admin.execute(
        "INSERT INTO booking.resources (id, tenant_id, name, is_default) VALUES ($1, $2::uuid, $3, $4)",
        resource_id,
        tenant,
        "Room " + resource_id[-6:],
        default,
    )
    for weekday in range(1, 8):
        await admin.execute(
            "INSERT INTO booking.opening_hours (tenant_id, resource_id, weekday, opens, closes)"
            " VALUES ($1::uuid, $2, $3, $4::text::time, $5::text::time)",
            tenant,
            resource_id,
            weekday,
            opens,
            closes,
        )
    return resource_id


def terms(
    duration: int = 60, interval: int = 30, before: int = 0, after: int = 0, resource: str = ""
) -> catalog_pb.SlotTerms:
    return catalog_pb.SlotTerms(
        duration_minutes=duration,
        interval_minutes=interval,
        buffer_before_minutes=before,
        buffer_after_minutes=after,
        resource_id=resource,
    )


def stamp(moment: datetime) -> Timestamp:
    value = Timestamp()
    value.FromDatetime(moment)
    return value


def at(value: Timestamp) -> datetime:
    return value.ToDatetime(tzinfo=UTC)


def slot_request(tenant: str, start: datetime, n: int, slot: catalog_pb.SlotTerms) -> pb.HoldDateRequest:
    quote = catalog_pb.QuoteSnapshot(
        package_id="pkg_shoot",
        total_cents=40000,
        currency="usd",
        hash="h1",
        lines=[catalog_pb.QuoteLine(kind="package", id="pkg_shoot", title="Shoot", price_cents=40000)],
        kind=catalog_pb.PACKAGE_KIND_SLOT,
        slot=slot,
    )
    return pb.HoldDateRequest(
        tenant_id=tenant,
        couple_name=f"Couple {n}",
        email=f"couple{n}@example.com",
        quote=quote,
        starts_at=stamp(start),
    )


def day_start(days: int) -> datetime:
    """Midnight UTC `days` from today."""
    return datetime.combine(today() + timedelta(days=days), datetime.min.time(), tzinfo=UTC)


async def refused(call: object) -> dict[str, str]:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call  # type: ignore[misc]
    reason, metadata, _ = reason_of(caught.value)
    assert reason == "DATE_UNAVAILABLE", caught.value
    return metadata


async def claims_of(admin: asyncpg.Connection, booking_id: str) -> list[tuple[str, datetime, datetime]]:
    rows = await admin.fetch(
        "SELECT resource_id, lower(during) AS lo, upper(during) AS hi FROM booking.occupancy"
        " WHERE booking_id = $1 ORDER BY resource_id",
        booking_id,
    )
    return [(r["resource_id"], r["lo"], r["hi"]) for r in rows]


# --- a resource's time is never sold twice ------------------------------------------------------


async def test_fifty_concurrent_holds_of_overlapping_slots_of_one_resource_leave_exactly_one(
    booking: Booking, admin: asyncpg.Connection, utc_tenant: str
) -> None:
    await add_resource(admin, utc_tenant, default=True)
    before = await deadlocks(admin)
    # Five-hour sessions starting every five minutes from 09:00: every two of them overlap, no two
    # are the same slot.
    base = day_start(20) + timedelta(hours=9)
    slot = terms(duration=300, interval=5)
    starts = [base + timedelta(minutes=5 * i) for i in range(50)]
    results = await asyncio.gather(
        *(booking.HoldDate(slot_request(utc_tenant, s, i, slot)) for i, s in enumerate(starts)),
        return_exceptions=True,
    )
    held = [r for r in results if isinstance(r, pb.HoldDateResponse)]
    assert len(held) == 1, [r for r in results if not isinstance(r, pb.HoldDateResponse)][:3]
    for failure in results:
        if not isinstance(failure, pb.HoldDateResponse):
            assert isinstance(failure, grpc.aio.AioRpcError), repr(failure)
            assert reason_of(failure)[0] == "DATE_UNAVAILABLE", failure
    live = await admin.fetchval(
        "SELECT count(*) FROM booking.bookings WHERE tenant_id = $1::uuid AND status = 'HELD'", utc_tenant
    )
    assert live == 1
    assert (
        await admin.fetchval("SELECT count(*) FROM booking.occupancy WHERE tenant_id = $1::uuid", utc_tenant)
        == 1
    )
    assert await deadlocks(admin) == before


async def test_fifty_concurrent_holds_of_disjoint_slots_all_hold(
    booking: Booking, admin: asyncpg.Connection, utc_tenant: str
) -> None:
    await add_resource(admin, utc_tenant, default=True)
    base = day_start(21)
    slot = terms(duration=30, interval=30)
    # 50 back-to-back half hours: across midnight into the next day too.
    starts = [base + timedelta(minutes=30 * i) for i in range(50)]
    results = await asyncio.gather(
        *(booking.HoldDate(slot_request(utc_tenant, s, i, slot)) for i, s in enumerate(starts))
    )
    assert sorted(at(r.booking.starts_at) for r in results) == starts
    assert {r.booking.event_date for r in results} == {
        (today() + timedelta(days=21)).isoformat(),
        (today() + timedelta(days=22)).isoformat(),
    }


async def test_two_resources_take_the_same_slot_independently(
    booking: Booking, admin: asyncpg.Connection, utc_tenant: str
) -> None:
    first = await add_resource(admin, utc_tenant, default=True)
    second = await add_resource(admin, utc_tenant)
    start = day_start(23) + timedelta(hours=10)
    a = (await booking.HoldDate(slot_request(utc_tenant, start, 1, terms(resource=first)))).booking
    b = (await booking.HoldDate(slot_request(utc_tenant, start, 2, terms(resource=second)))).booking
    assert (a.resource_id, b.resource_id) == (first, second)
    assert a.kind == b.kind == catalog_pb.PACKAGE_KIND_SLOT
    # The default resource is the one a service naming none takes.
    why = await refused(booking.HoldDate(slot_request(utc_tenant, start + timedelta(minutes=30), 3, terms())))
    assert why["why"] == "held" and why["startsAt"] == (start + timedelta(minutes=30)).isoformat()


async def test_a_whole_day_and_a_slot_of_the_same_resource_exclude_each_other_both_ways(
    booking: Booking, admin: asyncpg.Connection, utc_tenant: str
) -> None:
    resource = await add_resource(admin, utc_tenant, default=True)
    other = await add_resource(admin, utc_tenant)
    # A whole day first: every resource is taken that day.
    whole_day = today() + timedelta(days=30)
    held_day = (await booking.HoldDate(hold_request(utc_tenant, whole_day, 1))).booking
    assert {c[0] for c in await claims_of(admin, held_day.id)} == {resource, other}
    noon = day_start(30) + timedelta(hours=12)
    assert (await refused(booking.HoldDate(slot_request(utc_tenant, noon, 2, terms()))))["why"] == "held"
    assert (await refused(booking.HoldDate(slot_request(utc_tenant, noon, 2, terms(resource=other)))))[
        "why"
    ] == "held"
    # A slot first: the day cannot be held whole any more.
    slot_day = today() + timedelta(days=31)
    await booking.HoldDate(slot_request(utc_tenant, day_start(31) + timedelta(hours=15), 3, terms()))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await booking.HoldDate(hold_request(utc_tenant, slot_day, 4))
    assert reason_of(caught.value)[:2] == ("DATE_UNAVAILABLE", {"date": slot_day.isoformat(), "why": "held"})
    # A slot's buffer reaching past midnight into the next day blocks that day too.
    late = day_start(32) - timedelta(hours=1)
    await booking.HoldDate(slot_request(utc_tenant, late, 5, terms(duration=30, after=60)))
    with pytest.raises(grpc.aio.AioRpcError) as spilled:
        await booking.HoldDate(hold_request(utc_tenant, today() + timedelta(days=32), 6))
    assert reason_of(spilled.value)[1]["why"] == "held"


async def test_buffers_keep_the_resource_free_around_a_slot(
    booking: Booking, admin: asyncpg.Connection, utc_tenant: str
) -> None:
    await add_resource(admin, utc_tenant, default=True)
    ten = day_start(40) + timedelta(hours=10)
    held = (await booking.HoldDate(slot_request(utc_tenant, ten, 1, terms(duration=60, after=30)))).booking
    assert (at(held.starts_at), at(held.ends_at)) == (ten, ten + timedelta(hours=1))
    assert [(lo, hi) for _, lo, hi in await claims_of(admin, held.id)] == [(ten, ten + timedelta(minutes=90))]
    # 11:00 is inside the after-buffer; 11:30 is free; a slot with a 30-minute before-buffer may not
    # start at 12:30 after the 11:30 one (its buffer reaches into it), but at 13:00 it may.
    eleven = ten + timedelta(hours=1)
    assert (await refused(booking.HoldDate(slot_request(utc_tenant, eleven, 2, terms()))))["why"] == "held"
    await booking.HoldDate(slot_request(utc_tenant, eleven + timedelta(minutes=30), 3, terms()))
    half_past_twelve = ten + timedelta(hours=2, minutes=30)
    await refused(booking.HoldDate(slot_request(utc_tenant, half_past_twelve, 4, terms(before=30))))
    await booking.HoldDate(
        slot_request(utc_tenant, half_past_twelve + timedelta(minutes=30), 4, terms(before=30))
    )


async def test_a_start_outside_the_hours_or_off_the_interval_is_not_offered(
    booking: Booking, admin: asyncpg.Connection, utc_tenant: str
) -> None:
    await add_resource(admin, utc_tenant, default=True, opens="09:00", closes="17:00")
    nine = day_start(41) + timedelta(hours=9)
    for start in (
        nine - timedelta(minutes=30),
        nine + timedelta(minutes=10),
        nine + timedelta(hours=7, minutes=30),
    ):
        assert (await refused(booking.HoldDate(slot_request(utc_tenant, start, 1, terms()))))[
            "why"
        ] == "not_offered"
    held = (await booking.HoldDate(slot_request(utc_tenant, nine + timedelta(hours=7), 1, terms()))).booking
    assert held.event_date == (today() + timedelta(days=41)).isoformat()


async def test_a_tenant_without_resources_offers_no_slot_and_bad_slot_input_names_the_field(
    booking: Booking, utc_tenant: str
) -> None:
    start = day_start(42) + timedelta(hours=10)
    assert (await refused(booking.HoldDate(slot_request(utc_tenant, start, 1, terms()))))[
        "why"
    ] == "not_offered"
    missing = slot_request(utc_tenant, start, 1, terms())
    missing.ClearField("starts_at")
    bad = slot_request(utc_tenant, start, 1, terms(duration=5))
    for request, field_name in ((missing, "startsAt"), (bad, "quote.slot.durationMinutes")):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await booking.HoldDate(request)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field_name in reason_of(caught.value)[2]
    day_with_start = hold_request(utc_tenant, today() + timedelta(days=42), 1)
    day_with_start.starts_at.CopyFrom(stamp(start))
    with pytest.raises(grpc.aio.AioRpcError) as wrong:
        await booking.HoldDate(day_with_start)
    assert "startsAt" in reason_of(wrong.value)[2]


async def test_the_constraint_refuses_an_overlap_written_around_the_locks(
    booking: Booking, admin: asyncpg.Connection, utc_tenant: str
) -> None:
    resource = await add_resource(admin, utc_tenant, default=True)
    ten = day_start(43) + timedelta(hours=10)
    held = (await booking.HoldDate(slot_request(utc_tenant, ten, 1, terms()))).booking
    other = (await booking.HoldDate(slot_request(utc_tenant, ten + timedelta(hours=3), 2, terms()))).booking
    # Straight into the table, no advisory lock: the second booking moves its claim onto half of the
    # first's hour.
    await admin.execute("DELETE FROM booking.occupancy WHERE booking_id = $1", other.id)
    with pytest.raises(asyncpg.ExclusionViolationError) as caught:
        await admin.execute(
            "INSERT INTO booking.occupancy (tenant_id, resource_id, booking_id, during)"
            " VALUES ($1::uuid, $2, $3, tstzrange($4, $5, '[)'))",
            utc_tenant,
            resource,
            other.id,
            ten + timedelta(minutes=30),
            ten + timedelta(minutes=90),
        )
    assert "occupancy_no_overlap" in str(caught.value)
    assert len(await claims_of(admin, held.id)) == 1


async def test_two_writers_racing_around_the_locks_cannot_both_claim_overlapping_time(
    booking: Booking, admin: asyncpg.Connection, cluster: Cluster, utc_tenant: str
) -> None:
    resource = await add_resource(admin, utc_tenant, default=True)
    ten = day_start(47) + timedelta(hours=10)
    a = (await booking.HoldDate(slot_request(utc_tenant, ten, 1, terms()))).booking
    b = (await booking.HoldDate(slot_request(utc_tenant, ten + timedelta(hours=3), 2, terms()))).booking
    await admin.execute("DELETE FROM booking.occupancy WHERE booking_id = ANY($1::text[])", [a.id, b.id])
    first, second = await asyncpg.connect(cluster.admin_url), await asyncpg.connect(cluster.admin_url)
    insert = (
        "INSERT INTO booking.occupancy (tenant_id, resource_id, booking_id, during)"
        " VALUES ($1::uuid, $2, $3, tstzrange($4, $5, '[)'))"
    )
    try:
        one, two = first.transaction(), second.transaction()
        await one.start()
        await two.start()
        await first.execute(insert, utc_tenant, resource, a.id, ten, ten + timedelta(hours=1))
        # The second writer waits on the first's uncommitted claim, then is refused when it commits.
        racing = asyncio.ensure_future(
            second.execute(
                insert, utc_tenant, resource, b.id, ten + timedelta(minutes=59), ten + timedelta(hours=2)
            )
        )
        await asyncio.sleep(0.3)
        assert not racing.done()
        await one.commit()
        with pytest.raises(asyncpg.ExclusionViolationError):
            await racing
        await two.rollback()
    finally:
        await first.close()
        await second.close()
    assert [len(await claims_of(admin, x)) for x in (a.id, b.id)] == [1, 0]


async def test_claims_go_with_a_released_expired_or_cancelled_booking_and_stay_with_a_confirmed_one(
    booking: Booking, admin: asyncpg.Connection, utc_tenant: str
) -> None:
    await add_resource(admin, utc_tenant, default=True)
    ten = day_start(44) + timedelta(hours=10)
    released = (await booking.HoldDate(slot_request(utc_tenant, ten, 1, terms()))).booking
    await booking.ReleaseHold(
        pb.ReleaseHoldRequest(tenant_id=utc_tenant, booking_id=released.id, reason="gone")
    )
    assert await claims_of(admin, released.id) == []
    # The same slot again; it expires, and the sweep takes its claim with it.
    expiring = (await booking.HoldDate(slot_request(utc_tenant, ten, 2, terms()))).booking
    await expire(admin, expiring.id)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if not await claims_of(admin, expiring.id):
            break
        await asyncio.sleep(0.2)
    assert await claims_of(admin, expiring.id) == []
    # Confirmed: the claim stays; cancelled: it goes, and the slot can be held again.
    kept = (await booking.HoldDate(slot_request(utc_tenant, ten, 3, terms()))).booking
    session = f"cs_{uuid.uuid4().hex}"
    await booking.AttachPaymentSession(
        pb.AttachPaymentSessionRequest(tenant_id=utc_tenant, booking_id=kept.id, payment_session_id=session)
    )
    confirmed = await booking.ConfirmBooking(
        pb.ConfirmBookingRequest(
            tenant_id=utc_tenant, booking_id=kept.id, payment_session_id=session, amount_paid_cents=40000
        )
    )
    assert confirmed.outcome == pb.CONFIRM_OUTCOME_CONFIRMED
    assert len(await claims_of(admin, kept.id)) == 1
    assert (await refused(booking.HoldDate(slot_request(utc_tenant, ten, 4, terms()))))["why"] == "booked"
    await booking.CancelBooking(
        pb.CancelBookingRequest(tenant_id=utc_tenant, booking_id=kept.id, reason="plans", actor="system")
    )
    assert await claims_of(admin, kept.id) == []
    await booking.HoldDate(slot_request(utc_tenant, ten, 4, terms()))


async def test_an_expired_hold_in_the_way_is_released_by_the_next_hold_and_its_late_payment_is_refunded(
    booking: Booking, admin: asyncpg.Connection, utc_tenant: str
) -> None:
    await add_resource(admin, utc_tenant, default=True)
    ten = day_start(45) + timedelta(hours=10)
    first = (await booking.HoldDate(slot_request(utc_tenant, ten, 1, terms()))).booking
    session = f"cs_{uuid.uuid4().hex}"
    await booking.AttachPaymentSession(
        pb.AttachPaymentSessionRequest(tenant_id=utc_tenant, booking_id=first.id, payment_session_id=session)
    )
    # The sweep may not have run yet: the next couple's overlapping hold releases it under the lock.
    await admin.execute(
        "UPDATE booking.bookings SET hold_expires_at = now() - interval '1 second' WHERE id = $1", first.id
    )
    second = (
        await booking.HoldDate(slot_request(utc_tenant, ten + timedelta(minutes=30), 2, terms()))
    ).booking
    assert len(await claims_of(admin, second.id)) == 1
    late = await booking.ConfirmBooking(
        pb.ConfirmBookingRequest(
            tenant_id=utc_tenant, booking_id=first.id, payment_session_id=session, amount_paid_cents=40000
        )
    )
    assert late.outcome == pb.CONFIRM_OUTCOME_HOLD_LOST
    assert await claims_of(admin, first.id) == []


async def test_a_late_payment_for_a_released_slot_still_free_confirms_it_and_claims_it_again(
    booking: Booking, admin: asyncpg.Connection, utc_tenant: str
) -> None:
    await add_resource(admin, utc_tenant, default=True)
    ten = day_start(46) + timedelta(hours=10)
    held = (await booking.HoldDate(slot_request(utc_tenant, ten, 1, terms()))).booking
    session = f"cs_{uuid.uuid4().hex}"
    await booking.AttachPaymentSession(
        pb.AttachPaymentSessionRequest(tenant_id=utc_tenant, booking_id=held.id, payment_session_id=session)
    )
    await booking.ReleaseHold(
        pb.ReleaseHoldRequest(tenant_id=utc_tenant, booking_id=held.id, reason="expired")
    )
    answer = await booking.ConfirmBooking(
        pb.ConfirmBookingRequest(
            tenant_id=utc_tenant, booking_id=held.id, payment_session_id=session, amount_paid_cents=40000
        )
    )
    assert answer.outcome == pb.CONFIRM_OUTCOME_CONFIRMED
    assert [(lo, hi) for _, lo, hi in await claims_of(admin, held.id)] == [(ten, ten + timedelta(hours=1))]


# --- daylight saving -----------------------------------------------------------------------------


def _change_day(value: str) -> date:
    day = date.fromisoformat(value)
    assert day > today(), "the DST dates below must be in the future; move them on"
    return day


@pytest.mark.parametrize(
    ("zone", "spring", "fall"),
    [
        # Europe/Berlin: 02:00 -> 03:00 (+01:00 -> +02:00); 03:00 -> 02:00 (+02:00 -> +01:00).
        ("Europe/Berlin", "2027-03-28", "2027-10-31"),
        # America/New_York: 02:00 -> 03:00 (-05:00 -> -04:00); 02:00 -> 01:00 (-04:00 -> -05:00).
        ("America/New_York", "2027-03-14", "2027-11-07"),
    ],
)
async def test_holds_on_daylight_saving_change_days_land_on_the_right_instants(
    booking: Booking,
    admin: asyncpg.Connection,
    tenants: tenant_grpc.TenantServiceAsyncStub,
    zone: str,
    spring: str,
    fall: str,
) -> None:
    tenant = await zoned_tenant(tenants, zone)
    await add_resource(admin, tenant, default=True)
    slot = terms(duration=60, interval=30)
    spring_day, fall_day = _change_day(spring), _change_day(fall)
    offsets = {"Europe/Berlin": (1, 2), "America/New_York": (-5, -4)}[zone]
    standard, summer = (timedelta(hours=h) for h in offsets)
    # Spring: 01:30 standard time is the last slot before the gap, 03:00 summer time the first after
    # it; both are held at their own instant, and the 90 minutes between are one elapsed hour.
    before_gap = (
        datetime.combine(spring_day, datetime.min.time(), tzinfo=UTC)
        + timedelta(hours=1, minutes=30)
        - standard
    )
    after_gap = datetime.combine(spring_day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=3) - summer
    assert after_gap - before_gap == timedelta(minutes=30)
    one = (await booking.HoldDate(slot_request(tenant, before_gap, 1, slot))).booking
    # 01:30 + 60 minutes ends at 03:30 summer time, which the 03:00 slot overlaps: refused ...
    assert (await refused(booking.HoldDate(slot_request(tenant, after_gap, 2, slot))))["why"] == "held"
    # ... and 03:30 summer time is free.
    two = (await booking.HoldDate(slot_request(tenant, after_gap + timedelta(minutes=30), 2, slot))).booking
    assert (at(one.starts_at), one.event_date) == (before_gap, spring)
    assert (at(two.starts_at), two.event_date) == (after_gap + timedelta(minutes=30), spring)
    # Fall: the repeated hour's 01:30 (New York) / 02:30 (Berlin) is offered once, at its first
    # instant (summer time); the second instant of that wall time is not a start.
    wall = timedelta(hours=1, minutes=30) if zone == "America/New_York" else timedelta(hours=2, minutes=30)
    midnight = datetime.combine(fall_day, datetime.min.time(), tzinfo=UTC)
    first_instant, second_instant = midnight + wall - summer, midnight + wall - standard
    assert (await refused(booking.HoldDate(slot_request(tenant, second_instant, 3, slot))))[
        "why"
    ] == "not_offered"
    three = (await booking.HoldDate(slot_request(tenant, first_instant, 3, slot))).booking
    assert (at(three.starts_at), three.event_date) == (first_instant, fall)
    # A whole day's claim runs from local midnight to local midnight, in standard time after the change.
    day_after = (await booking.HoldDate(hold_request(tenant, fall_day + timedelta(days=1), 4))).booking
    [(_, lo, hi)] = await claims_of(admin, day_after.id)
    assert hi - lo == timedelta(hours=24)
    assert lo == midnight + timedelta(days=1) - standard
