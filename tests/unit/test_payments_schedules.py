"""Payment schedules' use cases with in-memory peers (tests/unit/payments_fakes.py): a checkout under
deposit terms charges the deposit alone and writes both instalments; the deposit's webhook confirms on
it; the couple's balance checkout keeps one open session per instalment; a balance session that lapses
leaves the booking and its balance alone; a payment nobody owed goes back. The REST shape of a
schedule (no fee for couples) and booking's rule that a schedule's first instalment confirms. The real
path (row locks, concurrent deliveries, the sandbox) is in tests/integration/test_payments_schedules.py."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from mais.common.v1 import types_pb2

from gateway.routes.schedules import schedule_json
from mais_runtime.payment_policy import DepositKind, PaymentPolicy
from services.booking import domain as booking_domain
from services.payments.checkout import Urls
from services.payments.domain import BookingStatus, EntryKind, EventStatus, Payee, PaymentStatus
from services.payments.expiry import ExpirySweep
from services.payments.inbox import StripeInbox
from services.payments.schedule_wire import schedule_pb
from services.payments.schedules import NothingDue, Schedules, balance_session_closes
from tests.unit.payments_fakes import TENANT, CheckoutWorld
from tests.unit.test_booking_domain import booking as a_booking

DEPOSIT = PaymentPolicy(deposit_kind=DepositKind.PERCENT, deposit_bps=2_500, balance_due_days=30)


class World(CheckoutWorld):
    def __init__(self, policy: PaymentPolicy = DEPOSIT) -> None:
        super().__init__(Payee(1_000, "acct_t", onboarded=True, policy=policy, timezone="Europe/Lisbon"))
        self.inbox = StripeInbox(
            self.store,  # type: ignore[arg-type]
            payees=self.payees,  # type: ignore[arg-type]
            bookings=self.bookings,  # type: ignore[arg-type]
            stripe=self.stripe,  # type: ignore[arg-type]
        )
        self.schedules = Schedules(
            self.store,  # type: ignore[arg-type]
            checkout=self.checkout,
            payees=self.payees,  # type: ignore[arg-type]
            quotes=self.quotes,  # type: ignore[arg-type]
            bookings=self.bookings,  # type: ignore[arg-type]
            stripe=self.stripe,  # type: ignore[arg-type]
            default_urls=Urls("https://x.test/paid", "https://x.test/back"),
            clock=self.clock,
        )

    async def confirmed(self) -> Any:
        answer = await self.start()
        await self.inbox.receive(self.stripe.pay(_session(answer.checkout_url)), "sig")
        return answer

    def parts(self, booking_id: str) -> list[tuple[int, str, int, str]]:
        return sorted(
            (p.seq, p.kind, p.amount_cents, p.status)
            for (b, _), p in self.store.instalments.items()
            if b == booking_id
        )


def _session(url: str) -> str:
    return url.rsplit("/", 1)[-1]


async def test_a_deposit_checkout_charges_only_the_deposit_and_writes_both_instalments() -> None:
    world = World()
    answer = await world.start()
    spec = world.stripe.sessions[_session(answer.checkout_url)]["spec"]
    assert [(i.name, i.amount_cents) for i in spec.line_items] == [("Deposit \u2014 Garden day", 2_500)]
    # The platform's fee is the commission on what this session charges, not on the whole.
    assert spec.application_fee_cents == 250
    assert (answer.total_cents, answer.amount_due_now_cents) == (10_000, 2_500)
    assert [(p.kind.value, p.amount_cents, p.due_date) for p in answer.schedule] == [
        ("DEPOSIT", 2_500, date(2030, 6, 1)),
        ("BALANCE", 7_500, date(2031, 5, 8)),
    ]
    assert world.parts(answer.booking_id) == [(1, "DEPOSIT", 2_500, "DUE"), (2, "BALANCE", 7_500, "DUE")]
    assert world.store.payments[_session(answer.checkout_url)].amount_cents == 2_500


async def test_without_deposit_terms_the_checkout_charges_the_whole_as_before() -> None:
    world = World(PaymentPolicy())
    answer = await world.start()
    spec = world.stripe.sessions[_session(answer.checkout_url)]["spec"]
    assert sum(i.amount_cents for i in spec.line_items) == 10_000
    assert world.parts(answer.booking_id) == [(1, "FULL", 10_000, "DUE")]


async def test_the_deposit_confirms_and_the_balance_is_paid_once_through_one_open_session() -> None:
    world = World()
    answer = await world.confirmed()
    assert world.bookings.bookings[answer.booking_id].status is BookingStatus.CONFIRMED
    assert world.parts(answer.booking_id) == [(1, "DEPOSIT", 2_500, "PAID"), (2, "BALANCE", 7_500, "DUE")]
    first = await world.schedules.pay_instalment(TENANT, answer.booking_id)
    again = await world.schedules.pay_instalment(TENANT, answer.booking_id)
    assert again.checkout_url == first.checkout_url
    body = world.stripe.pay(_session(first.checkout_url))
    rows = [await world.inbox.receive(body, "sig") for _ in range(3)]
    assert {r.status for r in rows} == {EventStatus.PROCESSED}
    assert world.parts(answer.booking_id) == [(1, "DEPOSIT", 2_500, "PAID"), (2, "BALANCE", 7_500, "PAID")]
    assert world.bookings.instalments_recorded == {_session(first.checkout_url): 7_500}
    charges = [a for _, k, a, _ in world.store.ledger if k is EntryKind.CHARGE]
    assert sorted(charges) == [2_500, 7_500]
    with pytest.raises(NothingDue):
        await world.schedules.pay_instalment(TENANT, answer.booking_id)


async def test_a_balance_paid_for_a_booking_cancelled_meanwhile_goes_back_in_full() -> None:
    world = World()
    answer = await world.confirmed()
    balance = await world.schedules.pay_instalment(TENANT, answer.booking_id)
    world.bookings.bookings[answer.booking_id].status = BookingStatus.CANCELLED
    await world.inbox.receive(world.stripe.pay(_session(balance.checkout_url)), "sig")
    assert world.store.payments[_session(balance.checkout_url)].status == PaymentStatus.NOT_OWED
    assert world.stripe.refunds == [(f"pi_{_session(balance.checkout_url)}", 7_500)]
    assert world.bookings.instalments_recorded == {}


async def test_a_lapsed_balance_session_leaves_the_booking_and_its_balance_owed() -> None:
    world = World()
    answer = await world.confirmed()
    balance = await world.schedules.pay_instalment(TENANT, answer.booking_id)
    world.clock.now += timedelta(hours=25)
    sweep = ExpirySweep(world.store, world.bookings, world.stripe, clock=world.clock)  # type: ignore[arg-type]
    assert await sweep.one_pass() == 1
    assert world.store.payments[_session(balance.checkout_url)].status == PaymentStatus.EXPIRED
    assert world.bookings.bookings[answer.booking_id].status is BookingStatus.CONFIRMED
    assert world.bookings.released == []
    assert world.parts(answer.booking_id)[1] == (2, "BALANCE", 7_500, "DUE")
    # It no longer names the closed session as its open one.
    assert world.store.instalments[(answer.booking_id, 2)].session_id is None
    # A new session for the same balance, under a new idempotency key.
    fresh = await world.schedules.pay_instalment(TENANT, answer.booking_id)
    assert fresh.checkout_url != balance.checkout_url


async def test_a_lapsed_checkout_cancels_the_schedule_it_started() -> None:
    world = World()
    answer = await world.start()
    world.clock.now += timedelta(hours=1)
    sweep = ExpirySweep(world.store, world.bookings, world.stripe, clock=world.clock)  # type: ignore[arg-type]
    await sweep.one_pass()
    assert [s for *_, s in world.parts(answer.booking_id)] == ["CANCELLED", "CANCELLED"]


async def test_a_held_booking_has_no_balance_to_pay() -> None:
    world = World()
    answer = await world.start()
    with pytest.raises(Exception, match="confirmed"):
        await world.schedules.pay_instalment(TENANT, answer.booking_id)


def test_a_balance_session_closes_within_a_day_before_the_event_and_never_under_stripes_minimum() -> None:
    now = datetime(2030, 6, 1, 22, 0, tzinfo=UTC)
    assert balance_session_closes(now, date(2030, 9, 1), "UTC") == now + timedelta(hours=24)
    # The event's day begins in Lisbon (UTC+1 in summer) at 23:00 UTC: the session closes then.
    assert balance_session_closes(now, date(2030, 6, 2), "Europe/Lisbon") == datetime(
        2030, 6, 1, 23, 0, tzinfo=UTC
    )
    assert balance_session_closes(now, date(2030, 6, 1), "UTC") == now + timedelta(minutes=31)


def test_the_couples_schedule_shows_no_platform_fee_and_the_admins_does() -> None:
    world_parts = [
        types_pb2.Instalment(
            seq=1, kind=types_pb2.INSTALMENT_KIND_DEPOSIT, amount_cents=2_500, fee_cents=250
        ),
    ]
    schedule = types_pb2.PaymentSchedule(currency="usd", total_cents=2_500, instalments=world_parts)
    couple = schedule_json(schedule, admin=False)
    admin = schedule_json(schedule, admin=True)
    assert "feeCents" not in couple["instalments"][0]
    assert admin["instalments"][0]["feeCents"] == 250
    assert couple["instalments"][0]["kind"] == "DEPOSIT"
    assert (couple["nextDueDate"], couple["instalments"][0]["paidAt"]) == (None, None)


async def test_the_stored_schedules_sums_count_what_is_owed_and_the_next_due_date() -> None:
    world = World()
    answer = await world.confirmed()
    parts = await world.schedules.schedule_of(TENANT, answer.booking_id)
    schedule = schedule_pb(answer.booking_id, parts)
    assert (schedule.total_cents, schedule.paid_cents, schedule.outstanding_cents) == (10_000, 2_500, 7_500)
    assert (schedule.next_due_date, schedule.overdue) == ("2031-05-08", False)


def test_booking_confirms_on_the_first_instalment_of_a_schedule() -> None:
    held = a_booking(booking_domain.Status.HELD, "cs_1", datetime(2100, 1, 1, tzinfo=UTC))
    decide = booking_domain.decide_confirmation
    common: dict[str, Any] = {"date_taken_by_other": False, "blacked_out": False}
    assert decide(held, "cs_1", amount_paid_cents=250, amount_due_cents=250, **common) is (
        booking_domain.ConfirmOutcome.CONFIRM
    )
    # Without a schedule only the whole confirms; a payment of another amount than the deposit neither.
    assert decide(held, "cs_1", amount_paid_cents=250, **common) is booking_domain.ConfirmOutcome.HOLD_LOST
    assert decide(held, "cs_1", amount_paid_cents=200, amount_due_cents=250, **common) is (
        booking_domain.ConfirmOutcome.HOLD_LOST
    )
