"""What the schedule sweep derives from an owed balance: the request id of each notice (one effect
per instalment, stage and due date), the day the overdue action comes and what it refunds (where the
notices start again once the due date moves: test_payments_instalment_changes)."""

from __future__ import annotations

from datetime import date, timedelta

from mais_runtime.payment_policy import OverdueAction
from services.payments.domain import RefundChoice
from services.payments.domain.notices import (
    OwedBalance,
    ScheduleNotice,
    cancels,
    notice_of,
    overdue_refund,
)
from services.payments.domain.schedule import NoticeStage
from tests.unit.payments_fakes import an_instalment

DUE = date(2031, 5, 20)


def owed(stage: NoticeStage = NoticeStage.NONE, today: date = DUE, grace: int = 3) -> OwedBalance:
    return OwedBalance(
        tenant_id="t",
        instalment=an_instalment(
            "bk_1",
            2,
            amount_cents=70_000,
            due_date=DUE,
            timezone="Europe/Lisbon",
            notice_stage=stage,
            grace_days=grace,
            overdue_action=OverdueAction.CANCEL_KEEP_DEPOSIT.value,
        ),
        today=today,
    )


def test_each_notice_has_its_own_request_id_which_names_the_due_date() -> None:
    balance = owed()
    assert balance.request_id(NoticeStage.REMINDER) == "bk_1:2:REMINDER:2031-05-20"
    assert balance.request_id(NoticeStage.OVERDUE) != balance.request_id(NoticeStage.REMINDER)


def test_the_overdue_action_comes_the_day_after_the_grace_days() -> None:
    assert owed(grace=3).action_date == DUE + timedelta(days=4)
    assert owed(NoticeStage.OVERDUE, today=DUE + timedelta(days=3)).next_notice() is None
    assert owed(NoticeStage.OVERDUE, today=DUE + timedelta(days=4)).next_notice() is NoticeStage.ACTION


def test_only_the_cancelling_actions_cancel_and_only_one_refunds() -> None:
    assert not cancels(OverdueAction.REMIND)
    assert overdue_refund(OverdueAction.CANCEL_KEEP_DEPOSIT) == RefundChoice.none()
    assert overdue_refund(OverdueAction.CANCEL_REFUND_DEPOSIT) == RefundChoice.full()
    assert notice_of(NoticeStage.ACTION) is None
    assert notice_of(NoticeStage.DUE_TODAY) is ScheduleNotice.DUE_TODAY
