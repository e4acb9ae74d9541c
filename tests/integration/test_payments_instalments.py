"""A tenant admin's changes to an owed instalment (UpdateInstalment: waive, mark paid offline, move the
due date) and what confirmed bookings still owe (GetTenantTotals' outstanding and overdue, the platform's
outstanding per currency), on a real PostgreSQL as the payments role. Booking is a fake that records
what it is told (its RPCs are tested in the booking suites)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pytest
from mais.common.v1 import types_pb2 as common_pb
from mais.payments.v1 import payments_service_pb2 as pb

from mais_runtime.db import text
from mais_runtime.errors import Conflict, PreconditionFailed, ValidationError
from services.payments.api import PaymentsServicer
from services.payments.domain import BookingState, BookingStatus
from services.payments.domain.instalments import Instalment
from services.payments.domain.schedule import NoticeStage
from services.payments.instalments import InstalmentChanges
from services.payments.ledger import LedgerView
from services.payments.store import PaymentsStore
from tests.integration.conftest import Cluster, service_database

# Noon in Lisbon on 1 March 2030; the events are in June.
NOW = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)
EVENT = date(2030, 6, 15)
ADMIN = "tenant_admin:u1"


@dataclass
class FakeBookings:
    """Booking as UpdateInstalment calls it; one effect per request id, like the real one."""

    status: dict[str, BookingStatus] = field(default_factory=dict)
    told: list[tuple[str, str, int, str, str]] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    confirmed_for_payments: bool = True

    async def get(self, tenant_id: str, booking_id: str, *, with_history: bool = False) -> BookingState:
        return BookingState(booking_id, self.status[booking_id], None, event_date=EVENT)

    async def notify_schedule(
        self, tenant_id: str, booking_id: str, *, notice: str, instalment: Instalment, **rest: Any
    ) -> bool:
        return self._once(
            rest["request_id"], (booking_id, notice, instalment.seq, rest["actor"], rest["note"])
        )

    async def record_offline_payment(
        self, tenant_id: str, booking_id: str, *, instalment: Instalment, **rest: Any
    ) -> bool:
        if not self.confirmed_for_payments:
            return False
        self._once(
            rest["request_id"], (booking_id, "PAID_OFFLINE", instalment.seq, rest["actor"], rest["note"])
        )
        return True

    def _once(self, request_id: str, what: tuple[str, str, int, str, str]) -> bool:
        if request_id in self.seen:
            return False
        self.seen.add(request_id)
        self.told.append(what)
        return True


@dataclass
class World:
    store: PaymentsStore
    bookings: FakeBookings
    servicer: PaymentsServicer


@pytest.fixture
async def world(cluster: Cluster) -> AsyncIterator[World]:
    db = await service_database(cluster, "payments")
    store = PaymentsStore(db)
    bookings = FakeBookings()
    none: Any = None
    servicer = PaymentsServicer(
        checkout=none,
        schedules=none,
        inbox=none,
        refunds=none,
        ledger=LedgerView(store, clock=lambda: NOW),
        onboarding=none,
        instalments=InstalmentChanges(store, bookings, clock=lambda: NOW),  # type: ignore[arg-type]
    )
    yield World(store, bookings, servicer)
    await db.close()


async def a_booking(
    world: World,
    tenant_id: str,
    *,
    balance_due: date = date(2030, 5, 16),
    deposit: str = "PAID",
    balance: str = "DUE",
    currency: str = "usd",
    parts: tuple[int, int] = (3_000, 7_000),
    zone: str = "Europe/Lisbon",
) -> str:
    """A booking with a deposit (paid) and a balance (owed) in `zone`'s calendar (Lisbon's)."""
    booking_id = f"bk_{uuid.uuid4().hex[:12]}"
    world.bookings.status[booking_id] = BookingStatus.CONFIRMED if deposit == "PAID" else BookingStatus.HELD
    async with world.store.tenant(tenant_id) as tx:
        for seq, kind, amount, due, status in (
            (1, "DEPOSIT", parts[0], date(2030, 1, 10), deposit),
            (2, "BALANCE", parts[1], balance_due, balance),
        ):
            paid = amount if status == "PAID" else 0
            await tx.conn.execute(
                text(
                    "INSERT INTO instalments (tenant_id, booking_id, seq, kind, amount_cents, currency,"
                    " due_date, timezone, status, paid_cents, fee_cents, notice_stage)"
                    " VALUES (CAST(:t AS uuid), :b, :q, :k, :a, :c, :d, :z, :s, :p, :f, :n)"
                ),
                {
                    "t": tenant_id,
                    "b": booking_id,
                    "q": seq,
                    "k": kind,
                    "a": amount,
                    "c": currency,
                    "d": due,
                    "z": zone,
                    "s": status,
                    "p": paid,
                    "f": paid // 10,
                    "n": 3 if status == "OVERDUE" else 0,
                },
            )
    return booking_id


def change(
    tenant_id: str,
    booking_id: str,
    action: int,
    *,
    seq: int = 2,
    note: str = "",
    due: str = "",
    request_id: str = "",
) -> pb.UpdateInstalmentRequest:
    return pb.UpdateInstalmentRequest(
        tenant_id=tenant_id,
        booking_id=booking_id,
        seq=seq,
        action=action,
        note=note,
        due_date=due,
        actor=ADMIN,
        request_id=request_id,
    )


async def update(world: World, request: pb.UpdateInstalmentRequest) -> common_pb.PaymentSchedule:
    return (await world.servicer.UpdateInstalment(request, None)).schedule  # type: ignore[arg-type]


async def rows(world: World, tenant_id: str, booking_id: str) -> list[Instalment]:
    async with world.store.tenant(tenant_id) as tx:
        return await tx.instalments(booking_id)


async def test_a_waived_balance_is_owed_no_more_recorded_once_and_its_request_id_kept(
    world: World, new_tenant_id: str
) -> None:
    booking = await a_booking(world, new_tenant_id)
    request = change(
        new_tenant_id, booking, pb.INSTALMENT_ACTION_WAIVE, note="Family discount", request_id="w-1"
    )
    schedule = await update(world, request)
    again = await update(world, request)
    assert schedule == again
    assert [(i.seq, i.status, i.note) for i in schedule.instalments] == [
        (1, common_pb.INSTALMENT_STATUS_PAID, ""),
        (2, common_pb.INSTALMENT_STATUS_WAIVED, "Family discount"),
    ]
    assert (
        schedule.total_cents,
        schedule.paid_cents,
        schedule.outstanding_cents,
        schedule.next_due_date,
    ) == (
        10_000,
        3_000,
        0,
        "",
    )
    # The admin's view carries the platform's fee.
    assert schedule.instalments[0].fee_cents == 300
    assert world.bookings.told == [(booking, "WAIVED", 2, ADMIN, "Family discount")]
    # The same request id for another change is told, and changes nothing.
    with pytest.raises(Conflict) as reused:
        await update(
            world, change(new_tenant_id, booking, pb.INSTALMENT_ACTION_WAIVE, note="Other", request_id="w-1")
        )
    assert reused.value.reason == "IDEMPOTENCY_KEY_REUSED"
    # A waived instalment is not owed: it cannot be waived (or paid) again under another id.
    with pytest.raises(PreconditionFailed):
        await update(world, change(new_tenant_id, booking, pb.INSTALMENT_ACTION_MARK_PAID, note="Cash"))


async def test_a_balance_paid_by_bank_transfer_is_paid_offline_without_a_fee_and_recorded_once(
    world: World, new_tenant_id: str
) -> None:
    booking = await a_booking(world, new_tenant_id)
    request = change(new_tenant_id, booking, pb.INSTALMENT_ACTION_MARK_PAID, note="Bank transfer 28 Feb")
    schedule = await update(world, request)
    await update(world, request)
    balance = schedule.instalments[1]
    assert (balance.status, balance.paid_cents, balance.fee_cents, balance.paid_offline, balance.note) == (
        common_pb.INSTALMENT_STATUS_PAID,
        7_000,
        0,
        True,
        "Bank transfer 28 Feb",
    )
    assert balance.paid_at.ToDatetime(tzinfo=UTC) == NOW
    assert (schedule.paid_cents, schedule.outstanding_cents) == (10_000, 0)
    assert world.bookings.told == [(booking, "PAID_OFFLINE", 2, ADMIN, "Bank transfer 28 Feb")]


async def test_an_offline_payment_booking_refuses_leaves_the_instalment_owed(
    world: World, new_tenant_id: str
) -> None:
    booking = await a_booking(world, new_tenant_id)
    world.bookings.confirmed_for_payments = False
    with pytest.raises(PreconditionFailed):
        await update(world, change(new_tenant_id, booking, pb.INSTALMENT_ACTION_MARK_PAID, note="Cash"))
    (_, balance) = await rows(world, new_tenant_id, booking)
    assert (balance.status.value, balance.paid_cents, balance.paid_offline) == ("DUE", 0, False)


async def test_an_overdue_balance_moved_to_a_later_date_is_due_again_with_its_notices_restarted(
    world: World, new_tenant_id: str
) -> None:
    booking = await a_booking(world, new_tenant_id, balance_due=date(2030, 2, 20), balance="OVERDUE")
    schedule = await update(
        world,
        change(new_tenant_id, booking, pb.INSTALMENT_ACTION_SET_DUE_DATE, due="2030-03-05", note="Asked"),
    )
    assert (schedule.instalments[1].status, schedule.instalments[1].due_date, schedule.overdue) == (
        common_pb.INSTALMENT_STATUS_DUE,
        "2030-03-05",
        False,
    )
    (_, balance) = await rows(world, new_tenant_id, booking)
    # Four days before the new date is inside the default seven reminder days: the reminder stage
    # applies already (the couple is told of the move itself), so no reminder follows the move.
    assert balance.notice_stage is NoticeStage.REMINDER
    assert world.bookings.told == [(booking, "DUE_DATE_CHANGED", 2, ADMIN, "Asked")]


@pytest.mark.parametrize("due", ["2030-03-01", "2030-02-27", "2030-06-16", "2030-13-01", ""])
async def test_a_due_date_not_after_today_or_past_the_event_is_refused_naming_due_date(
    world: World, new_tenant_id: str, due: str
) -> None:
    booking = await a_booking(world, new_tenant_id)
    with pytest.raises(ValidationError) as refused:
        await update(world, change(new_tenant_id, booking, pb.INSTALMENT_ACTION_SET_DUE_DATE, due=due))
    assert [f.field for f in refused.value.fields] == ["dueDate"]
    assert (await rows(world, new_tenant_id, booking))[1].due_date == date(2030, 5, 16)
    assert world.bookings.told == []


async def test_a_change_without_a_reason_or_to_an_unknown_instalment_is_refused(
    world: World, new_tenant_id: str
) -> None:
    booking = await a_booking(world, new_tenant_id)
    with pytest.raises(ValidationError) as refused:
        await update(world, change(new_tenant_id, booking, pb.INSTALMENT_ACTION_WAIVE, note="  "))
    assert [f.field for f in refused.value.fields] == ["note"]
    with pytest.raises(ValidationError) as unknown:
        await update(world, change(new_tenant_id, booking, pb.INSTALMENT_ACTION_UNSPECIFIED))
    assert [f.field for f in unknown.value.fields] == ["action"]
    held = await a_booking(world, new_tenant_id, deposit="DUE")
    with pytest.raises(PreconditionFailed):
        await update(world, change(new_tenant_id, held, pb.INSTALMENT_ACTION_WAIVE, seq=1, note="No"))


async def test_outstanding_sums_count_only_confirmed_bookings_and_overdue_is_by_the_tenants_calendar(
    world: World, new_tenant_id: str
) -> None:
    future = await a_booking(world, new_tenant_id)
    late = await a_booking(world, new_tenant_id, balance_due=date(2030, 2, 28), parts=(1_000, 5_000))
    # Due today in Lisbon: not overdue yet.
    await a_booking(world, new_tenant_id, balance_due=date(2030, 3, 1), parts=(1_000, 2_000))
    await a_booking(world, new_tenant_id, deposit="DUE")  # a hold: nothing is owed yet
    await a_booking(world, new_tenant_id, balance="CANCELLED")
    await a_booking(world, new_tenant_id, currency="eur", balance_due=date(2030, 1, 31), parts=(100, 900))
    other_tenant = str(uuid.uuid4())
    await a_booking(world, other_tenant, balance_due=date(2030, 1, 2))

    answer = await world.servicer.GetTenantTotals(
        pb.GetTenantTotalsRequest(tenant_id=new_tenant_id, from_date="2030-01-01", to_date="2030-03-31"),
        None,  # type: ignore[arg-type]
    )
    assert [
        (o.currency, o.outstanding_cents, o.bookings, o.overdue_cents, o.overdue_bookings)
        for o in answer.outstanding
    ] == [("eur", 900, 1, 900, 1), ("usd", 7_000 + 5_000 + 2_000, 3, 5_000, 1)]
    # The longest overdue first; never another tenant's.
    assert [(o.booking_id, o.instalment.due_date, o.instalment.amount_cents) for o in answer.overdue][1:] == [
        (late, "2030-02-28", 5_000)
    ]
    assert answer.overdue[0].instalment.currency == "eur"
    assert future not in {o.booking_id for o in answer.overdue}


async def test_the_platforms_totals_show_what_every_tenants_confirmed_bookings_owe_per_currency(
    world: World,
) -> None:
    tenants = [str(uuid.uuid4()), str(uuid.uuid4())]
    for tenant_id in tenants:
        await a_booking(world, tenant_id, currency="sek", parts=(500, 1_500))
    await a_booking(world, tenants[0], currency="sek", deposit="DUE")
    answer = await world.servicer.GetPlatformTotals(pb.GetPlatformTotalsRequest(), None)  # type: ignore[arg-type]
    (sek,) = [t for t in answer.totals if t.currency == "sek"]
    assert (sek.outstanding_cents, sek.outstanding_bookings, sek.charged_cents) == (3_000, 2, 0)


async def test_a_schedule_in_a_zone_postgresql_does_not_know_counts_in_utc_and_stops_no_totals(
    world: World, new_tenant_id: str
) -> None:
    lisbon = await a_booking(world, new_tenant_id, balance_due=date(2030, 2, 27))
    mars = await a_booking(world, new_tenant_id, balance_due=date(2030, 2, 28), zone="Mars/Olympus_Mons")
    answer = await world.servicer.GetTenantTotals(
        pb.GetTenantTotalsRequest(tenant_id=new_tenant_id, from_date="2030-01-01", to_date="2030-03-31"),
        None,  # type: ignore[arg-type]
    )
    # 1 March in UTC: both balances are past due.
    assert [(o.outstanding_cents, o.overdue_cents, o.overdue_bookings) for o in answer.outstanding] == [
        (14_000, 14_000, 2)
    ]
    assert [o.booking_id for o in answer.overdue] == [lisbon, mars]
    platform = await world.servicer.GetPlatformTotals(pb.GetPlatformTotalsRequest(), None)  # type: ignore[arg-type]
    assert any(t.currency == "usd" for t in platform.totals)
