"""The rules of a booking's instalments after checkout (services/payments/domain/instalments.py): a
schedule's sums, a tenant admin's changes checked field by field, and what a couple's cancellation may
refund when the deposit is not refundable."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mais_runtime.errors import PreconditionFailed, ValidationError
from services.payments.domain.instalments import (
    InstalmentAction,
    InstalmentChange,
    PaidInstalment,
    couple_cancellation_terms,
    refund_part_request_id,
    refundable_parts,
    schedule_sums,
)
from services.payments.domain.schedule import (
    InstalmentKind,
    InstalmentStatus,
    NoticeStage,
    PaidPart,
    allocate_refund,
)
from tests.unit.payments_fakes import an_instalment

TODAY = date(2030, 3, 1)
DEPOSIT = an_instalment(
    "bk_1",
    1,
    kind=InstalmentKind.DEPOSIT,
    amount_cents=3_000,
    due_date=date(2030, 1, 10),
    timezone="Europe/Lisbon",
    status=InstalmentStatus.PAID,
    session_id="cs_1",
    paid_cents=3_000,
    fee_cents=300,
    notice_stage=NoticeStage.ACTION,
)
BALANCE = replace(
    DEPOSIT,
    seq=2,
    kind=InstalmentKind.BALANCE,
    amount_cents=7_000,
    due_date=date(2030, 3, 10),
    status=InstalmentStatus.DUE,
    session_id=None,
    paid_cents=0,
    fee_cents=0,
    notice_stage=NoticeStage.NONE,
)


def test_a_schedules_sums_count_what_is_owed_and_whether_it_is_past_due() -> None:
    sums = schedule_sums([DEPOSIT, BALANCE], today=TODAY)
    assert (sums.total_cents, sums.paid_cents, sums.outstanding_cents, sums.next_due_date, sums.overdue) == (
        10_000,
        3_000,
        7_000,
        date(2030, 3, 10),
        False,
    )
    late = schedule_sums([DEPOSIT, BALANCE], today=date(2030, 3, 11))
    assert late.overdue
    waived = schedule_sums(
        [DEPOSIT, replace(BALANCE, status=InstalmentStatus.WAIVED)], today=date(2030, 3, 11)
    )
    assert (waived.outstanding_cents, waived.next_due_date, waived.overdue) == (0, None, False)


@pytest.mark.parametrize(
    ("seq", "action", "note", "due", "fields"),
    [
        (2, InstalmentAction.WAIVE, "", "", ["note"]),
        (2, InstalmentAction.MARK_PAID, "   ", "", ["note"]),
        (2, InstalmentAction.WAIVE, "x" * 501, "", ["note"]),
        (0, None, "", "", ["seq", "action"]),
        (2, InstalmentAction.SET_DUE_DATE, "", "2030-02-30", ["dueDate"]),
        (2, InstalmentAction.SET_DUE_DATE, "", "", ["dueDate"]),
        (2, InstalmentAction.WAIVE, "why", "2030-04-01", ["dueDate"]),
    ],
)
def test_a_change_names_every_bad_field(
    seq: int, action: InstalmentAction | None, note: str, due: str, fields: list[str]
) -> None:
    with pytest.raises(ValidationError) as refused:
        InstalmentChange.checked(seq=seq, action=action, note=note, due_date=due)
    assert [f.field for f in refused.value.fields] == fields


def test_only_an_owed_instalment_changes_and_a_due_date_stays_between_tomorrow_and_the_event() -> None:
    waive = InstalmentChange.checked(seq=1, action=InstalmentAction.WAIVE, note="why", due_date="")
    with pytest.raises(PreconditionFailed):
        waive.check_against(DEPOSIT, today=TODAY, event_date=date(2030, 6, 15))
    for day, ok in (("2030-03-01", False), ("2030-03-02", True), ("2030-06-15", True), ("2030-06-16", False)):
        move = InstalmentChange.checked(seq=2, action=InstalmentAction.SET_DUE_DATE, note="", due_date=day)
        if ok:
            move.check_against(BALANCE, today=TODAY, event_date=date(2030, 6, 15))
        else:
            with pytest.raises(ValidationError):
                move.check_against(BALANCE, today=TODAY, event_date=date(2030, 6, 15))


def test_a_moved_due_date_restarts_the_notices_from_what_applies_on_it() -> None:
    far = InstalmentChange.checked(
        seq=2, action=InstalmentAction.SET_DUE_DATE, note="", due_date="2030-05-01"
    )
    near = InstalmentChange.checked(
        seq=2, action=InstalmentAction.SET_DUE_DATE, note="", due_date="2030-03-04"
    )
    overdue = replace(BALANCE, status=InstalmentStatus.OVERDUE, notice_stage=NoticeStage.OVERDUE)
    assert far.notice_stage_after(overdue, today=TODAY) is NoticeStage.NONE
    assert near.notice_stage_after(overdue, today=TODAY) is NoticeStage.REMINDER


def test_each_payments_part_of_a_cancellation_has_its_own_stable_request_id() -> None:
    first = refund_part_request_id("cancel-1", "cs_1")
    assert first == refund_part_request_id("cancel-1", "cs_1")
    assert (
        len({first, refund_part_request_id("cancel-1", "cs_2"), refund_part_request_id("cancel-2", "cs_1")})
        == 3
    )
    assert len(first) <= 255


amounts = st.integers(min_value=1, max_value=10_000_000)


@given(deposit=amounts, balance=amounts, refundable=st.booleans(), by_couple=st.booleans())
def test_a_couples_full_refund_never_touches_a_non_refundable_deposit(
    deposit: int, balance: int, refundable: bool, by_couple: bool
) -> None:
    paid = [
        PaidInstalment(1, InstalmentKind.DEPOSIT, PaidPart("cs_1", deposit, deposit // 10)),
        PaidInstalment(2, InstalmentKind.BALANCE, PaidPart("cs_2", balance, balance // 10)),
    ]
    parts = refundable_parts(paid, by_couple=by_couple, deposit_refundable=refundable)
    refund = allocate_refund(sum(p.refundable for p in parts), parts)
    by_session = {r.session_id: r.amount_cents for r in refund}
    kept = by_couple and not refundable
    assert by_session.get("cs_1", 0) == (0 if kept else deposit)
    assert by_session["cs_2"] == balance
    # The latest payment goes back first.
    assert refund[0].session_id == "cs_2"


@given(
    deposit=amounts,
    balance=amounts,
    refunded=st.integers(min_value=0, max_value=10_000_000),
    refundable=st.booleans(),
    balance_paid=st.booleans(),
)
def test_what_a_couples_cancellation_refunds_and_keeps_adds_up_to_what_is_left_of_the_payments(
    deposit: int, balance: int, refunded: int, refundable: bool, balance_paid: bool
) -> None:
    refunded = min(refunded, balance)
    paid = [PaidInstalment(1, InstalmentKind.DEPOSIT, PaidPart("cs_1", deposit, deposit // 10))]
    if balance_paid:
        paid.append(PaidInstalment(2, InstalmentKind.BALANCE, PaidPart("cs_2", balance, 0, refunded)))
    terms = couple_cancellation_terms(paid, deposit_refundable=refundable)
    left = deposit + (balance - refunded if balance_paid else 0)
    assert terms.refund_cents + terms.kept_cents == left
    assert terms.kept_cents == (0 if refundable else deposit)
    # The money follows the same rule: refunding all of what is refundable gives back refund_cents.
    assert (
        sum(r.amount_cents for r in allocate_refund(terms.refund_cents, terms.refundable))
        == terms.refund_cents
    )


def test_a_non_refundable_deposit_alone_refunds_nothing_and_keeps_the_deposit() -> None:
    paid = [PaidInstalment(1, InstalmentKind.DEPOSIT, PaidPart("cs_1", 3_000, 300))]
    terms = couple_cancellation_terms(paid, deposit_refundable=False)
    assert (terms.refund_cents, terms.kept_cents, terms.refundable) == (0, 3_000, ())


def test_a_booking_paid_in_full_is_refunded_in_full_whatever_the_deposit_terms() -> None:
    # FULL is not a deposit: a couple who paid everything at once (inside the balance window) keeps
    # nothing back.
    paid = [PaidInstalment(1, InstalmentKind.FULL, PaidPart("cs_1", 10_000, 1_000, 2_500))]
    terms = couple_cancellation_terms(paid, deposit_refundable=False)
    assert (terms.refund_cents, terms.kept_cents) == (7_500, 0)


def test_nothing_paid_outside_stripe_counts_in_a_couples_refund() -> None:
    # The balance marked paid offline has no payment: only the deposit's payment is in the ledger.
    paid = [PaidInstalment(1, InstalmentKind.DEPOSIT, PaidPart("cs_1", 3_000, 300))]
    assert couple_cancellation_terms(paid, deposit_refundable=True).refund_cents == 3_000
