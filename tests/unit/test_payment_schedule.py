"""The schedule arithmetic (services/payments/domain/schedule.py): for any total, policy and dates the
parts add up to the total, the fees obey the bound, refunds never exceed what was paid, and notices
go out in order, once."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mais_runtime.errors import ValidationError
from mais_runtime.payment_policy import MAX_DEPOSIT_CENTS
from services.payments.domain.money import commission_cents
from services.payments.domain.schedule import (
    DepositKind,
    InstalmentKind,
    NoticeStage,
    OverdueAction,
    PaidPart,
    PaymentPolicy,
    allocate_refund,
    deposit_cents,
    instalment_fees,
    next_notice,
    plan_schedule,
)

TODAY = date(2027, 3, 10)

totals = st.integers(min_value=1, max_value=10**10)
bps = st.integers(min_value=0, max_value=5_000)
days_ahead = st.integers(min_value=0, max_value=800)


@st.composite
def policies(draw: st.DrawFn) -> PaymentPolicy:
    kind = draw(st.sampled_from(DepositKind))
    return PaymentPolicy(
        deposit_kind=kind,
        deposit_bps=draw(st.integers(1, 9_999)) if kind is DepositKind.PERCENT else 0,
        deposit_cents=draw(st.integers(1, MAX_DEPOSIT_CENTS)) if kind is DepositKind.FIXED else 0,
        balance_due_days=draw(st.integers(1, 365)),
        grace_days=draw(st.integers(0, 60)),
        overdue_action=draw(st.sampled_from(OverdueAction)),
        reminder_days=draw(st.integers(0, 60)),
    ).checked()


@given(totals, policies(), days_ahead)
def test_the_parts_add_up_to_the_total_and_fall_due_in_order(
    total: int, policy: PaymentPolicy, ahead: int
) -> None:
    event = TODAY + timedelta(days=ahead)
    plan = plan_schedule(total, policy, event_date=event, today=TODAY)
    assert sum(part.amount_cents for part in plan) == total
    assert all(part.amount_cents > 0 for part in plan)
    assert [part.seq for part in plan] == list(range(1, len(plan) + 1))
    assert plan[0].due_date == TODAY
    assert all(a.due_date < b.due_date for a, b in itertools.pairwise(plan))
    assert all(part.due_date <= event for part in plan)
    if len(plan) == 1:
        assert plan[0].kind is InstalmentKind.FULL
    else:
        assert [part.kind for part in plan] == [InstalmentKind.DEPOSIT, InstalmentKind.BALANCE]
        assert plan[1].due_date == event - timedelta(days=policy.balance_due_days)


@given(totals, policies(), days_ahead, bps)
def test_the_fees_never_exceed_the_fee_on_the_total_by_more_than_one_unit_per_extra_part(
    total: int, policy: PaymentPolicy, ahead: int, commission: int
) -> None:
    plan = plan_schedule(total, policy, event_date=TODAY + timedelta(days=ahead), today=TODAY)
    fees = instalment_fees([part.amount_cents for part in plan], commission)
    whole = commission_cents(total, commission)
    assert whole <= sum(fees) <= whole + len(plan) - 1
    assert all(0 <= fee <= part.amount_cents for fee, part in zip(fees, plan, strict=True))


def test_a_percent_deposit_rounds_down_and_the_balance_carries_the_rest() -> None:
    policy = PaymentPolicy(DepositKind.PERCENT, deposit_bps=3_333, balance_due_days=30)
    plan = plan_schedule(1_001, policy, event_date=TODAY + timedelta(days=90), today=TODAY)
    assert [(p.kind, p.amount_cents, p.due_date) for p in plan] == [
        (InstalmentKind.DEPOSIT, 333, TODAY),
        (InstalmentKind.BALANCE, 668, TODAY + timedelta(days=60)),
    ]
    # Never a zero deposit: a tiny total still asks one unit up front.
    assert deposit_cents(2, PaymentPolicy(DepositKind.PERCENT, deposit_bps=1)) == 1


def test_inside_the_balance_window_the_couple_pays_in_full() -> None:
    policy = PaymentPolicy(DepositKind.FIXED, deposit_cents=50_000, balance_due_days=30)
    for ahead in (0, 29, 30):
        plan = plan_schedule(200_000, policy, event_date=TODAY + timedelta(days=ahead), today=TODAY)
        assert [(p.kind, p.amount_cents) for p in plan] == [(InstalmentKind.FULL, 200_000)], ahead
    plan = plan_schedule(200_000, policy, event_date=TODAY + timedelta(days=31), today=TODAY)
    assert [(p.kind, p.amount_cents, p.due_date) for p in plan] == [
        (InstalmentKind.DEPOSIT, 50_000, TODAY),
        (InstalmentKind.BALANCE, 150_000, TODAY + timedelta(days=1)),
    ]


def test_a_deposit_as_large_as_the_total_is_payment_in_full() -> None:
    policy = PaymentPolicy(DepositKind.FIXED, deposit_cents=90_000)
    assert deposit_cents(90_000, policy) == 0
    assert deposit_cents(80_000, policy) == 0
    assert deposit_cents(90_001, policy) == 90_000
    assert deposit_cents(10, PaymentPolicy()) == 0


def test_a_bad_policy_names_every_bad_field() -> None:
    with pytest.raises(ValidationError) as raised:
        PaymentPolicy(
            DepositKind.PERCENT, deposit_bps=10_000, balance_due_days=0, grace_days=61, reminder_days=-1
        ).checked()
    fields = {v.field for v in raised.value.fields}
    assert fields == {
        "paymentPolicy.depositBps",
        "paymentPolicy.balanceDueDays",
        "paymentPolicy.graceDays",
        "paymentPolicy.reminderDays",
    }
    with pytest.raises(ValidationError) as raised:
        PaymentPolicy(DepositKind.FIXED, deposit_cents=0).checked("package.paymentPolicy")
    assert [v.field for v in raised.value.fields] == ["package.paymentPolicy.depositCents"]


# --- refunds -----------------------------------------------------------------------------------


@st.composite
def paid_parts(draw: st.DrawFn) -> list[PaidPart]:
    commission = draw(bps)
    parts = []
    for n in range(draw(st.integers(1, 4))):
        charged = draw(st.integers(1, 10**9))
        fee = commission_cents(charged, commission)
        refunded = draw(st.integers(0, charged))
        fee_refunded = fee * refunded // charged
        parts.append(PaidPart(f"cs_{n}", charged, fee, refunded, fee_refunded))
    return parts


@given(paid_parts(), st.data())
def test_a_refund_goes_latest_first_and_never_beyond_a_payment(
    paid: list[PaidPart], data: st.DataObject
) -> None:
    left = sum(part.refundable for part in paid)
    amount = data.draw(st.integers(0, left + 5))
    if amount > left:
        with pytest.raises(ValidationError):
            allocate_refund(amount, paid)
        return
    parts = allocate_refund(amount, paid)
    assert sum(part.amount_cents for part in parts) == amount
    by_session = {part.session_id: part for part in paid}
    for share in parts:
        payment = by_session[share.session_id]
        assert 0 < share.amount_cents <= payment.refundable
        assert 0 <= share.fee_refund_cents <= payment.fee - payment.fee_refunded
        # In proportion, the rounding in the platform's favour.
        after = payment.refunded + share.amount_cents
        assert payment.fee_refunded + share.fee_refund_cents <= payment.fee * after // payment.charged
    # Latest first: a payment is touched only when every later one is used up.
    touched = [i for i, part in enumerate(paid) if part.session_id in {s.session_id for s in parts}]
    if touched:
        first = min(touched)
        for later in paid[first + 1 :]:
            taken = sum(s.amount_cents for s in parts if s.session_id == later.session_id)
            assert later.refundable == taken


def test_refunding_everything_gives_every_fee_back() -> None:
    paid = [PaidPart("cs_deposit", 30_000, 3_000), PaidPart("cs_balance", 70_000, 7_000, 10_000, 1_000)]
    parts = allocate_refund(90_000, paid)
    assert parts[0].session_id == "cs_balance"
    assert [(p.session_id, p.amount_cents, p.fee_refund_cents) for p in parts] == [
        ("cs_balance", 60_000, 6_000),
        ("cs_deposit", 30_000, 3_000),
    ]
    assert allocate_refund(0, paid) == ()


# --- notices -----------------------------------------------------------------------------------


@given(
    st.integers(0, 30),
    st.integers(0, 10),
    st.lists(st.integers(0, 5), min_size=1, max_size=30),
)
def test_notices_go_out_in_order_each_once_whenever_the_sweep_runs(
    reminder_days: int, grace_days: int, gaps: list[int]
) -> None:
    due = TODAY + timedelta(days=20)
    day = TODAY
    reached = NoticeStage.NONE
    sent: list[NoticeStage] = []
    for gap in gaps:
        day += timedelta(days=gap)
        # A sweep may run several times a day: the second run of a day sends nothing new, or the
        # notice the first one deferred.
        for _ in range(3):
            notice = next_notice(
                reached, due_date=due, today=day, reminder_days=reminder_days, grace_days=grace_days
            )
            if notice is None:
                break
            assert notice > reached
            sent.append(notice)
            reached = notice
    assert sent == sorted(set(sent))
    if day > due + timedelta(days=grace_days):
        assert reached is NoticeStage.ACTION
        if grace_days > 0:
            assert NoticeStage.OVERDUE in sent


def test_the_reminder_schedule_of_one_balance() -> None:
    due = date(2027, 6, 1)

    def at(day: date, reached: NoticeStage = NoticeStage.NONE) -> NoticeStage | None:
        return next_notice(reached, due_date=due, today=day, reminder_days=7, grace_days=3)

    assert at(date(2027, 5, 24)) is None
    assert at(date(2027, 5, 25)) is NoticeStage.REMINDER
    assert at(date(2027, 5, 26), NoticeStage.REMINDER) is None
    assert at(date(2027, 6, 1), NoticeStage.REMINDER) is NoticeStage.DUE_TODAY
    assert at(date(2027, 6, 2), NoticeStage.DUE_TODAY) is NoticeStage.OVERDUE
    assert at(date(2027, 6, 4), NoticeStage.OVERDUE) is None
    assert at(date(2027, 6, 5), NoticeStage.OVERDUE) is NoticeStage.ACTION
    # A sweep down for a week sends the overdue notice first, then the action.
    assert at(date(2027, 6, 9)) is NoticeStage.OVERDUE
    assert at(date(2027, 6, 9), NoticeStage.OVERDUE) is NoticeStage.ACTION


# --- the policy's spellings ----------------------------------------------------------------------


@given(policies())
def test_a_policy_survives_the_wire_and_json(policy: PaymentPolicy) -> None:
    assert PaymentPolicy.from_proto(policy.to_proto()) == policy
    assert PaymentPolicy().with_json(policy.to_json()) == policy


def test_an_unset_policy_on_the_wire_is_pay_in_full() -> None:
    from mais.common.v1 import types_pb2

    assert PaymentPolicy.from_proto(types_pb2.PaymentPolicy()) == PaymentPolicy()
    assert not PaymentPolicy().takes_deposit


def test_a_json_change_names_each_bad_field_and_keeps_the_rest() -> None:
    base = PaymentPolicy(DepositKind.PERCENT, deposit_bps=2_500)
    assert base.with_json({"graceDays": 5}) == PaymentPolicy(
        DepositKind.PERCENT, deposit_bps=2_500, grace_days=5
    )
    with pytest.raises(ValidationError) as raised:
        base.with_json(
            {
                "depositKind": "half",
                "graceDays": "5",
                "depositRefundable": 1,
                "overdueAction": "x",
                "colour": 1,
            }
        )
    assert {v.field for v in raised.value.fields} == {
        "paymentPolicy.depositKind",
        "paymentPolicy.graceDays",
        "paymentPolicy.depositRefundable",
        "paymentPolicy.overdueAction",
        "paymentPolicy.colour",
    }
    with pytest.raises(ValidationError):
        base.with_json(["not", "an", "object"])
    # Switching to a fixed deposit without an amount is refused, not half-applied.
    with pytest.raises(ValidationError) as raised:
        base.with_json({"depositKind": "fixed"})
    assert [v.field for v in raised.value.fields] == ["paymentPolicy.depositCents"]


def test_the_unused_deposit_field_is_bounded_too() -> None:
    with pytest.raises(ValidationError) as raised:
        PaymentPolicy(DepositKind.PERCENT, deposit_bps=2_000, deposit_cents=10**15).checked()
    assert [v.field for v in raised.value.fields] == ["paymentPolicy.depositCents"]
    with pytest.raises(ValidationError) as raised:
        PaymentPolicy(DepositKind.NONE, deposit_bps=-1).checked()
    assert [v.field for v in raised.value.fields] == ["paymentPolicy.depositBps"]


def test_the_calendars_first_and_last_days_plan_without_overflow() -> None:
    policy = PaymentPolicy(DepositKind.PERCENT, deposit_bps=2_500, balance_due_days=365)
    first = plan_schedule(10_000, policy, event_date=date.min, today=TODAY)
    assert [(p.kind, p.amount_cents) for p in first] == [(InstalmentKind.FULL, 10_000)]
    last = plan_schedule(10_000, policy, event_date=date.max, today=TODAY)
    assert [(p.kind, p.amount_cents) for p in last] == [
        (InstalmentKind.DEPOSIT, 2_500),
        (InstalmentKind.BALANCE, 7_500),
    ]
