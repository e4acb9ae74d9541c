"""ShiftSchedule (issue 16): after a reschedule the owed due dates move with the event, on a real
PostgreSQL as the payments role. The world (store, servicer, fake booking) is the instalment
changes' own (test_payments_instalments)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from mais.payments.v1 import payments_service_pb2 as pb

from mais_runtime.db import text
from mais_runtime.errors import ValidationError
from services.payments.domain.schedule import NoticeStage
from tests.integration.test_payments_instalments import EVENT, NOW, World, a_booking, world

__all__ = ["world"]

TODAY = NOW.date()


async def planned_for(world: World, tenant_id: str, booking_id: str, event_date: date) -> None:
    """The schedule counts from `event_date`, as checkout writes it."""
    async with world.store.tenant(tenant_id) as tx:
        await tx.set_schedule_event_date(booking_id, event_date)


async def shift(world: World, tenant_id: str, booking_id: str, to: date) -> pb.ShiftScheduleResponse:
    return await world.servicer.ShiftSchedule(
        pb.ShiftScheduleRequest(
            tenant_id=tenant_id, booking_id=booking_id, event_date=to.isoformat(), request_id="r1"
        ),
        None,  # type: ignore[arg-type]
    )


async def dues(world: World, tenant_id: str, booking_id: str) -> list[tuple[int, date, str, int]]:
    async with world.store.tenant(tenant_id) as tx:
        rows = await tx.conn.execute(
            text(
                "SELECT seq, due_date, status, notice_stage FROM instalments"
                " WHERE booking_id = :b ORDER BY seq"
            ),
            {"b": booking_id},
        )
        return [(r.seq, r.due_date, r.status, r.notice_stage) for r in rows]


async def test_a_later_event_moves_the_balance_by_as_many_days_and_once(world: World) -> None:
    tenant = str(uuid.uuid4())
    booking = await a_booking(world, tenant, balance_due=EVENT - timedelta(days=30))
    await planned_for(world, tenant, booking, EVENT)

    answer = await shift(world, tenant, booking, EVENT + timedelta(days=10))
    again = await shift(world, tenant, booking, EVENT + timedelta(days=10))

    assert answer.moved == 1 and again.moved == 0
    assert await dues(world, tenant, booking) == [
        (1, date(2030, 1, 10), "PAID", 0),  # the paid deposit keeps its date
        (2, EVENT - timedelta(days=20), "DUE", 0),
    ]
    assert answer.schedule.instalments[1].due_date == (EVENT - timedelta(days=20)).isoformat()


async def test_an_earlier_event_never_makes_the_balance_due_before_tomorrow(world: World) -> None:
    tenant = str(uuid.uuid4())
    booking = await a_booking(world, tenant, balance_due=EVENT - timedelta(days=30))
    await planned_for(world, tenant, booking, EVENT)

    await shift(world, tenant, booking, TODAY + timedelta(days=10))

    (_, (_, due, status, stage)) = await dues(world, tenant, booking)
    assert (due, status) == (TODAY + timedelta(days=1), "DUE")
    # Its notices restart as on a due date change: due tomorrow is inside the reminder window.
    assert stage == int(NoticeStage.REMINDER)


async def test_an_overdue_balance_moved_later_is_owed_again_with_its_notices_reset(world: World) -> None:
    tenant = str(uuid.uuid4())
    booking = await a_booking(world, tenant, balance_due=TODAY - timedelta(days=5), balance="OVERDUE")
    await planned_for(world, tenant, booking, TODAY + timedelta(days=25))

    await shift(world, tenant, booking, TODAY + timedelta(days=85))

    assert (await dues(world, tenant, booking))[1] == (2, TODAY + timedelta(days=55), "DUE", 0)


async def test_a_schedule_without_its_event_date_and_a_booking_without_one_stay_as_they_are(
    world: World,
) -> None:
    tenant = str(uuid.uuid4())
    booking = await a_booking(world, tenant)
    before = await dues(world, tenant, booking)

    assert (await shift(world, tenant, booking, EVENT + timedelta(days=10))).moved == 0
    assert (await shift(world, tenant, "bk_none", EVENT)).moved == 0
    assert await dues(world, tenant, booking) == before


async def test_a_bad_event_date_is_refused_naming_it(world: World) -> None:
    with pytest.raises(ValidationError) as refused:
        await world.servicer.ShiftSchedule(
            pb.ShiftScheduleRequest(tenant_id=str(uuid.uuid4()), booking_id="bk_1", event_date="2030-13-01"),
            None,  # type: ignore[arg-type]
        )
    assert [f.field for f in refused.value.fields] == ["eventDate"]
