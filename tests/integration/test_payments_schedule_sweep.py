"""The schedule sweep over the real payments database with a clock the test moves: each notice goes
out once on its day (in the tenant's calendar) even with several sweeps running at once, a balance of
a booking whose deposit is not paid is left alone, and past the grace days the policy's overdue action
is taken once (booking and the refunds are stand-ins that count what they are asked)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from mais_runtime.db import Database
from mais_runtime.payment_policy import OverdueAction
from services.payments.domain import BookingState, BookingStatus, RefundChoice
from services.payments.domain.instalments import Instalment, InstalmentAction, InstalmentChange
from services.payments.domain.notices import ScheduleNotice
from services.payments.domain.schedule import NoticeStage, notice_stage
from services.payments.schedule_sweep import ScheduleSweep
from services.payments.store import PaymentsStore
from tests.integration.conftest import Cluster, service_database

ZONE = "Pacific/Auckland"


@pytest.fixture(scope="module")
async def payments_db(cluster: Cluster) -> AsyncIterator[Database]:
    db = await service_database(cluster, "payments")
    yield db
    await db.close()


@dataclass
class Notified:
    booking_id: str
    notice: ScheduleNotice
    request_id: str
    overdue_action: OverdueAction | None
    action_date: date | None
    schedule: tuple[Instalment, ...]


@dataclass
class FakeBookings:
    """Booking: counts every notice it is asked for (slowly, so sweeps overlap) and answers each
    booking's status."""

    notices: list[Notified] = field(default_factory=list)
    status: dict[str, BookingStatus] = field(default_factory=dict)

    async def notify_schedule(
        self,
        tenant_id: str,
        booking_id: str,
        *,
        notice: ScheduleNotice,
        schedule: Sequence[Instalment],
        request_id: str,
        actor: str,
        overdue_action: OverdueAction | None = None,
        action_date: date | None = None,
        **rest: object,
    ) -> bool:
        await asyncio.sleep(0.05)
        assert actor == "system"
        self.notices.append(
            Notified(booking_id, notice, request_id, overdue_action, action_date, tuple(schedule))
        )
        return True

    async def get(self, tenant_id: str, booking_id: str, *, with_history: bool = False) -> BookingState:
        return BookingState(booking_id, self.status.get(booking_id, BookingStatus.CONFIRMED))

    def of(self, booking_id: str) -> list[ScheduleNotice]:
        return [n.notice for n in self.notices if n.booking_id == booking_id]


@dataclass
class FakeRefunds:
    """Refunds.cancel_and_refund: counts each cancellation (slowly)."""

    cancellations: list[tuple[str, str, RefundChoice, str, str]] = field(default_factory=list)
    bookings: FakeBookings | None = None

    async def cancel_and_refund(
        self,
        tenant_id: str,
        booking_id: str,
        *,
        reason: str,
        choice: RefundChoice,
        actor: str,
        request_id: str = "",
    ) -> object:
        await asyncio.sleep(0.05)
        self.cancellations.append((booking_id, reason, choice, actor, request_id))
        if self.bookings is not None:
            self.bookings.status[booking_id] = BookingStatus.CANCELLED
        return None

    def of(self, booking_id: str) -> list[tuple[str, str, RefundChoice, str, str]]:
        return [c for c in self.cancellations if c[0] == booking_id]


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2000, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def local_morning(self, day: date) -> None:
        """An early hour of `day` in the tenant's zone (a day before, in UTC)."""
        self.now = datetime.combine(day, time(6), ZoneInfo(ZONE)).astimezone(UTC)


@dataclass
class World:
    store: PaymentsStore
    bookings: FakeBookings
    refunds: FakeRefunds
    clock: Clock

    def sweep(self) -> ScheduleSweep:
        return ScheduleSweep(self.store, self.bookings, self.refunds, clock=self.clock)  # type: ignore[arg-type]

    async def sweeps_at_once(self, n: int = 3) -> None:
        await asyncio.gather(*(self.sweep().one_pass() for _ in range(n)))


@pytest.fixture
def world(payments_db: Database) -> World:
    bookings = FakeBookings()
    return World(PaymentsStore(payments_db), bookings, FakeRefunds(bookings=bookings), Clock())


async def a_schedule(
    admin: asyncpg.Connection,
    due: date,
    *,
    action: str = "cancel_keep_deposit",
    grace: int = 3,
    reminder: int = 7,
    deposit_paid: bool = True,
    zone: str = ZONE,
) -> tuple[str, str]:
    """A booking of 1,500.00 in two instalments, the deposit paid (or its session still open) and the
    balance due on `due`, in a new tenant."""
    tenant = str(uuid.uuid4())
    booking = "bk_" + uuid.uuid4().hex[:26]
    await admin.execute(
        "INSERT INTO payments.instalments (tenant_id, booking_id, seq, kind, amount_cents, currency,"
        " due_date, timezone, status, paid_cents, grace_days, reminder_days, overdue_action)"
        " VALUES ($1, $2, 1, 'DEPOSIT', 30000, 'usd', $3, $4, $5, $6, $7, $8, $9),"
        " ($1, $2, 2, 'BALANCE', 120000, 'usd', $10, $4, 'DUE', 0, $7, $8, $9)",
        uuid.UUID(tenant),
        booking,
        due - timedelta(days=200),
        zone,
        "PAID" if deposit_paid else "DUE",
        30000 if deposit_paid else 0,
        grace,
        reminder,
        action,
        due,
    )
    return tenant, booking


async def balance(admin: asyncpg.Connection, booking: str) -> tuple[str, int]:
    row = await admin.fetchrow(
        "SELECT status, notice_stage FROM payments.instalments WHERE booking_id = $1 AND seq = 2", booking
    )
    assert row is not None
    return row["status"], row["notice_stage"]


async def test_each_notice_goes_out_once_on_its_day_and_the_booking_is_cancelled_after_grace(
    world: World, admin: asyncpg.Connection
) -> None:
    due = date(2033, 3, 10)
    _, booking = await a_schedule(admin, due)
    days = {
        due - timedelta(days=8): [],
        due - timedelta(days=7): [ScheduleNotice.REMINDER],
        due - timedelta(days=3): [],
        due: [ScheduleNotice.DUE_TODAY],
        due + timedelta(days=1): [ScheduleNotice.OVERDUE],
        due + timedelta(days=3): [],
    }
    sent: list[ScheduleNotice] = []
    for day, expected in days.items():
        world.clock.local_morning(day)
        await world.sweeps_at_once()
        await world.sweeps_at_once()
        sent += expected
        assert world.bookings.of(booking) == sent, day
    assert await balance(admin, booking) == ("OVERDUE", int(NoticeStage.OVERDUE))
    overdue = next(
        n for n in world.bookings.notices if n.booking_id == booking and n.notice is ScheduleNotice.OVERDUE
    )
    assert overdue.overdue_action is OverdueAction.CANCEL_KEEP_DEPOSIT
    assert overdue.action_date == due + timedelta(days=4)
    assert [(i.seq, i.status.value) for i in overdue.schedule] == [(1, "PAID"), (2, "OVERDUE")]
    assert overdue.request_id == f"{booking}:2:OVERDUE:{due.isoformat()}"
    assert world.refunds.of(booking) == []

    world.clock.local_morning(due + timedelta(days=4))
    await world.sweeps_at_once(4)
    await world.sweeps_at_once(2)
    assert world.refunds.of(booking) == [
        (booking, "balance_unpaid", RefundChoice.none(), "system", f"{booking}:2:ACTION:{due.isoformat()}")
    ]
    assert await balance(admin, booking) == ("CANCELLED", int(NoticeStage.ACTION))
    assert world.bookings.of(booking) == sent


async def test_the_day_is_the_tenants_own_not_utcs(world: World, admin: asyncpg.Connection) -> None:
    due = date(2033, 4, 20)
    _, booking = await a_schedule(admin, due, reminder=0)
    # 13:00 UTC on the day before the due date is already the due date in Auckland (UTC+12).
    world.clock.now = datetime.combine(due - timedelta(days=1), time(13), UTC)
    await world.sweep().one_pass()
    assert world.bookings.of(booking) == [ScheduleNotice.DUE_TODAY]


async def test_a_balance_whose_deposit_is_not_paid_yet_is_left_alone(
    world: World, admin: asyncpg.Connection
) -> None:
    due = date(2033, 5, 10)
    _, booking = await a_schedule(admin, due, deposit_paid=False)
    world.clock.local_morning(due + timedelta(days=30))
    await world.sweep().one_pass()
    assert world.bookings.of(booking) == [] and world.refunds.of(booking) == []


async def test_a_balance_the_business_marked_paid_outside_stripe_is_never_chased_nor_cancelled(
    world: World, admin: asyncpg.Connection
) -> None:
    # An instalment is marked paid whole (mark-paid), so an offline balance is never owed: the
    # overdue action (here keep the deposit and cancel) has nothing to act on, and no refund of any
    # kind touches money that never went through Stripe.
    due = date(2033, 5, 20)
    _, booking = await a_schedule(admin, due, action="cancel_keep_deposit", grace=0)
    await admin.execute(
        "UPDATE payments.instalments SET status = 'PAID', paid_cents = amount_cents, paid_offline = true,"
        " note = 'Bank transfer' WHERE booking_id = $1 AND seq = 2",
        booking,
    )
    for late in (0, 1, 30):
        world.clock.local_morning(due + timedelta(days=late))
        await world.sweeps_at_once()
    assert world.bookings.of(booking) == [] and world.refunds.of(booking) == []
    assert await balance(admin, booking) == ("PAID", 0)


async def test_a_sweep_that_was_down_sends_only_the_latest_notice(
    world: World, admin: asyncpg.Connection
) -> None:
    due = date(2033, 6, 10)
    _, booking = await a_schedule(admin, due, action="remind")
    world.clock.local_morning(due + timedelta(days=2))
    await world.sweeps_at_once()
    assert world.bookings.of(booking) == [ScheduleNotice.OVERDUE]
    # Reminding only: past the grace days nothing more is sent, nobody cancels, it stays overdue.
    world.clock.local_morning(due + timedelta(days=20))
    await world.sweeps_at_once()
    assert world.bookings.of(booking) == [ScheduleNotice.OVERDUE]
    assert world.refunds.of(booking) == []
    assert await balance(admin, booking) == ("OVERDUE", int(NoticeStage.ACTION))


async def test_without_grace_the_cancellation_refunding_the_deposit_comes_the_day_after(
    world: World, admin: asyncpg.Connection
) -> None:
    due = date(2033, 7, 10)
    _, booking = await a_schedule(admin, due, action="cancel_refund_deposit", grace=0)
    world.clock.local_morning(due + timedelta(days=1))
    await world.sweeps_at_once()
    assert [c[2] for c in world.refunds.of(booking)] == [RefundChoice.full()]
    assert ScheduleNotice.OVERDUE not in world.bookings.of(booking)


async def test_a_booking_cancelled_by_its_business_meanwhile_is_not_cancelled_again(
    world: World, admin: asyncpg.Connection
) -> None:
    due = date(2033, 8, 10)
    _, booking = await a_schedule(admin, due, action="cancel_refund_deposit")
    world.bookings.status[booking] = BookingStatus.CANCELLED
    world.clock.local_morning(due + timedelta(days=10))
    await world.sweeps_at_once()
    await world.sweeps_at_once()
    assert world.refunds.of(booking) == []
    assert await balance(admin, booking) == ("CANCELLED", int(NoticeStage.ACTION))


async def test_the_queries_stage_is_the_domains_for_every_day_around_the_due_date(
    world: World, admin: asyncpg.Connection
) -> None:
    """The sweep's SQL picks a balance exactly when schedule.notice_stage says it is behind."""
    due = date(2033, 9, 10)
    _, booking = await a_schedule(admin, due, reminder=5, grace=2)
    for offset in range(-8, 6):
        today = due + timedelta(days=offset)
        world.clock.local_morning(today)
        expected = notice_stage(due_date=due, today=today, reminder_days=5, grace_days=2)
        async with world.store.platform() as tx:
            picked = [o for o in await tx.claim_owed_balances(world.clock.now, 50) if o.booking_id == booking]
        assert bool(picked) == (expected > NoticeStage.NONE), today
        if picked:
            assert picked[0].today == today


async def test_a_due_date_moved_later_takes_an_overdue_balance_back_to_due_and_starts_its_notices_again(
    world: World, admin: asyncpg.Connection
) -> None:
    due = date(2033, 10, 10)
    tenant, booking = await a_schedule(admin, due)
    world.clock.local_morning(due + timedelta(days=1))
    await world.sweep().one_pass()
    assert await balance(admin, booking) == ("OVERDUE", int(NoticeStage.OVERDUE))

    # As UpdateInstalment moves it (services/payments/instalments.py).
    new_due = due + timedelta(days=30)
    moved = InstalmentChange.checked(
        seq=2, action=InstalmentAction.SET_DUE_DATE, note="", due_date=new_due.isoformat()
    )
    async with world.store.tenant(tenant) as tx:
        instalment = await tx.instalment(booking, 2)
        assert instalment is not None
        stage = moved.notice_stage_after(instalment, today=due + timedelta(days=1))
        await tx.move_instalment_due_date(booking, 2, new_due, stage, "")
    assert await balance(admin, booking) == ("DUE", int(NoticeStage.NONE))

    world.clock.local_morning(new_due - timedelta(days=7))
    await world.sweeps_at_once()
    assert world.bookings.of(booking) == [ScheduleNotice.OVERDUE, ScheduleNotice.REMINDER]
    mine = [n for n in world.bookings.notices if n.booking_id == booking]
    assert mine[-1].request_id == f"{booking}:2:REMINDER:{new_due.isoformat()}"
    assert world.refunds.of(booking) == []


async def test_a_time_zone_nobody_knows_counts_as_utc_and_holds_up_no_other_balance(
    world: World, admin: asyncpg.Connection
) -> None:
    due = date(2033, 11, 10)
    _, odd = await a_schedule(admin, due, zone="Mars/Olympus_Mons")
    _, fine = await a_schedule(admin, due)
    world.clock.now = datetime.combine(due, time(12), UTC)
    await world.sweep().one_pass()
    assert world.bookings.of(odd) == [ScheduleNotice.DUE_TODAY]
    assert world.bookings.of(fine) == [ScheduleNotice.OVERDUE]  # already the 11th in Auckland
