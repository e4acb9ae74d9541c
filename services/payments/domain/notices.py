"""What the schedule sweep does with an owed balance as its due date comes and goes: which notice
booking sends the couple (schedule.next_notice decides which one), under which request id, and what
the policy's overdue action means for the money.

No I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from mais_runtime.payment_policy import OverdueAction
from services.payments.domain.instalments import Instalment
from services.payments.domain.money import RefundChoice
from services.payments.domain.schedule import (
    NoticeStage,
    next_notice,
)

# The cancellation reason of a balance left unpaid past the grace days (booking words it for the
# couple) and who cancels.
BALANCE_UNPAID = "balance_unpaid"
SYSTEM = "system"


class ScheduleNotice(StrEnum):
    """A notice booking records (and mostly emails) about one instalment (booking_service.proto
    ScheduleNotice)."""

    REMINDER = "REMINDER"
    DUE_TODAY = "DUE_TODAY"
    OVERDUE = "OVERDUE"
    WAIVED = "WAIVED"
    DUE_DATE_CHANGED = "DUE_DATE_CHANGED"


# The stages whose reaching is the couple's email.
_NOTICE_OF_STAGE = {
    NoticeStage.REMINDER: ScheduleNotice.REMINDER,
    NoticeStage.DUE_TODAY: ScheduleNotice.DUE_TODAY,
    NoticeStage.OVERDUE: ScheduleNotice.OVERDUE,
}


@dataclass(frozen=True)
class OwedBalance:
    """An owed balance whose notices are behind where its due date says they should be, with "today"
    in its tenant's calendar. The instalment carries the terms its schedule was made with (grace and
    reminder days, the overdue action) and how far its notices have gone."""

    tenant_id: str
    instalment: Instalment
    today: date

    @property
    def booking_id(self) -> str:
        """The booking the balance is of."""
        return self.instalment.booking_id

    @property
    def stage(self) -> NoticeStage:
        """How far its notices have gone."""
        return self.instalment.notice_stage

    @property
    def grace_days(self) -> int:
        """Days after the due date before the overdue action."""
        return self.instalment.grace_days

    @property
    def reminder_days(self) -> int:
        """Days before the due date of the reminder."""
        return self.instalment.reminder_days

    @property
    def overdue_action(self) -> OverdueAction:
        """What happens once the grace days are over."""
        return OverdueAction(self.instalment.overdue_action)

    def next_notice(self) -> NoticeStage | None:
        """The one stage to reach now (schedule.next_notice), or None."""
        return next_notice(
            self.stage,
            due_date=self.instalment.due_date,
            today=self.today,
            reminder_days=self.reminder_days,
            grace_days=self.grace_days,
        )

    @property
    def action_date(self) -> date:
        """The first day the overdue action is taken: the day after the grace days."""
        return self.instalment.due_date + timedelta(days=self.grace_days + 1)

    def request_id(self, stage: NoticeStage) -> str:
        """One effect per instalment, stage and due date: moving the due date starts its notices
        afresh, a second sweep (or a retry) of the same stage is the same request."""
        return f"{self.booking_id}:{self.instalment.seq}:{stage.name}:{self.instalment.due_date.isoformat()}"


def notice_of(stage: NoticeStage) -> ScheduleNotice | None:
    """The couple's notice for reaching `stage` (None for ACTION, which is the policy's to take)."""
    return _NOTICE_OF_STAGE.get(stage)


def cancels(action: OverdueAction) -> bool:
    """Whether the overdue action cancels the booking (else it only reminds)."""
    return action is not OverdueAction.REMIND


def overdue_refund(action: OverdueAction) -> RefundChoice:
    """What a cancellation for non-payment refunds: nothing (the deposit is kept) or everything."""
    if action is OverdueAction.CANCEL_REFUND_DEPOSIT:
        return RefundChoice.full()
    return RefundChoice.none()
