"""Payment schedules: what a booking is paid in (a deposit and a balance, or the whole at once), when
each part is due, what each part's platform fee is, and how a refund is spread over what was paid.

All in integer minor units, no float anywhere. The rules (issue 15, DESIGN.md "Money over time"):

- A percent deposit is rounded DOWN to the minor unit (the couple never pays more up front than the
  rate says; the balance carries the rounding), and is at least one unit. A fixed deposit is at most
  the total. A deposit that comes to the whole total is no deposit: the couple pays in full.
- The balance is due `balance_due_days` before the event, in the tenant's calendar. Inside that
  window (the due date would be today or earlier) the couple pays in full at checkout.
- The parts always add up to the quoted total.
- The commission is charged on each payment, rounded up as on a single charge
  (`commission_cents`). Rounding up per part can cost the tenant at most one unit per part beyond
  the first: sum(ceil(a_i x r)) <= ceil(T x r) + (n - 1), because the parts' exact fees sum to T x r.
- A refund goes back latest payment first; each payment's share of the platform fee goes back in
  proportion to that payment, rounded in the platform's favour (`fee_refund_cents`), and no payment is
  ever refunded more than it took.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import IntEnum, StrEnum

from mais_runtime.errors import ValidationError
from mais_runtime.payment_policy import BPS_PER_WHOLE, DepositKind, OverdueAction, PaymentPolicy
from services.payments.domain.money import commission_cents, fee_refund_cents

__all__ = ["DepositKind", "OverdueAction", "PaymentPolicy"]

# A booking's schedule has at most this many parts (today: two; the bound keeps every list bounded).
MAX_INSTALMENTS = 12
MAX_NOTE = 500


class InstalmentKind(StrEnum):
    """The part of the price an instalment is."""

    FULL = "FULL"
    DEPOSIT = "DEPOSIT"
    BALANCE = "BALANCE"


class InstalmentStatus(StrEnum):
    """Where an instalment is. DUE and OVERDUE are still owed; the others are settled."""

    DUE = "DUE"
    PAID = "PAID"
    OVERDUE = "OVERDUE"
    # The business let it go (with a reason).
    WAIVED = "WAIVED"
    # Paid, then given back in full.
    REFUNDED = "REFUNDED"
    # Never paid, and the booking was cancelled: nothing is owed any more.
    CANCELLED = "CANCELLED"

    @property
    def owed(self) -> bool:
        """Still to be paid."""
        return self in (InstalmentStatus.DUE, InstalmentStatus.OVERDUE)


@dataclass(frozen=True)
class PlannedInstalment:
    """One part of a schedule as planned at checkout."""

    seq: int
    kind: InstalmentKind
    amount_cents: int
    due_date: date


def deposit_cents(total_cents: int, policy: PaymentPolicy) -> int:
    """The deposit the policy asks on `total_cents`: 0 when the couple pays in full (no deposit, or
    one that would be the whole total)."""
    if total_cents <= 0:
        raise ValueError("total_cents must be positive")
    if policy.deposit_kind is DepositKind.PERCENT:
        deposit = max(1, total_cents * policy.deposit_bps // BPS_PER_WHOLE)
    elif policy.deposit_kind is DepositKind.FIXED:
        deposit = min(policy.deposit_cents, total_cents)
    else:
        return 0
    return 0 if deposit >= total_cents else deposit


def plan_schedule(
    total_cents: int, policy: PaymentPolicy, *, event_date: date, today: date
) -> tuple[PlannedInstalment, ...]:
    """The schedule a booking of `total_cents` for `event_date`, booked `today` (both in the tenant's
    calendar), is paid by: the deposit due today and the balance due `balance_due_days` before the
    event; or the whole today (no deposit, or the event is inside the balance window)."""
    deposit = deposit_cents(total_cents, policy)
    if deposit == 0 or event_date - today <= timedelta(days=policy.balance_due_days):
        # No deposit, or the event is inside the balance window (a day before the calendar's start
        # included: the difference never leaves the calendar, a subtraction from the event could).
        return (PlannedInstalment(1, InstalmentKind.FULL, total_cents, today),)
    balance_due = event_date - timedelta(days=policy.balance_due_days)
    return (
        PlannedInstalment(1, InstalmentKind.DEPOSIT, deposit, today),
        PlannedInstalment(2, InstalmentKind.BALANCE, total_cents - deposit, balance_due),
    )


def instalment_fees(amounts: Sequence[int], commission_bps: int) -> tuple[int, ...]:
    """The application fee charged on each payment of a schedule (each rounded up)."""
    return tuple(commission_cents(amount, commission_bps) for amount in amounts)


# --- notices ---------------------------------------------------------------------------------


class NoticeStage(IntEnum):
    """How far an owed instalment's notices have gone; each stage is reached (and sent) once."""

    NONE = 0
    # The reminder `reminder_days` before the due date.
    REMINDER = 1
    # The reminder on the due date.
    DUE_TODAY = 2
    # The day after the due date: the overdue notice.
    OVERDUE = 3
    # Past the grace days: the policy's overdue action was taken.
    ACTION = 4


def notice_stage(*, due_date: date, today: date, reminder_days: int, grace_days: int) -> NoticeStage:
    """The stage an owed instalment due on `due_date` should have reached `today`."""
    if today > due_date + timedelta(days=grace_days):
        return NoticeStage.ACTION
    if today > due_date:
        return NoticeStage.OVERDUE
    if today == due_date:
        return NoticeStage.DUE_TODAY
    if today >= due_date - timedelta(days=reminder_days):
        return NoticeStage.REMINDER
    return NoticeStage.NONE


def next_notice(
    reached: NoticeStage, *, due_date: date, today: date, reminder_days: int, grace_days: int
) -> NoticeStage | None:
    """The one notice to send now for an instalment whose notices reached `reached`, or None. Only
    the latest stage that applies is sent (a sweep that was down for a week does not send a reminder,
    a due-day reminder and an overdue notice at once); with grace 0 the overdue notice is skipped for
    the action itself, and with ACTION pending the overdue notice is sent first if it never was."""
    target = notice_stage(due_date=due_date, today=today, reminder_days=reminder_days, grace_days=grace_days)
    if target <= reached:
        return None
    if target is NoticeStage.ACTION and reached < NoticeStage.OVERDUE and grace_days > 0:
        # The couple is told it is overdue before anything is done about it.
        return NoticeStage.OVERDUE
    return target


# --- refunds over several payments -------------------------------------------------------------


@dataclass(frozen=True)
class PaidPart:
    """One payment of a booking as the ledger has it (with reservations not yet recorded counted as
    refunded already)."""

    session_id: str
    charged: int
    fee: int
    refunded: int = 0
    fee_refunded: int = 0

    @property
    def refundable(self) -> int:
        """What is left of this payment to give back."""
        return self.charged - self.refunded


@dataclass(frozen=True)
class RefundPart:
    """The share of one refund that goes back through one payment."""

    session_id: str
    amount_cents: int
    fee_refund_cents: int


def allocate_refund(amount_cents: int, paid: Sequence[PaidPart]) -> tuple[RefundPart, ...]:
    """Spreads a refund of `amount_cents` over the payments `paid` (oldest first, as they were made):
    the latest payment first, each never beyond what is left of it, each with its own share of the
    platform's fee. ValidationError when more is asked than is left to refund."""
    if amount_cents <= 0:
        return ()
    left_in_all = sum(part.refundable for part in paid)
    if amount_cents > left_in_all:
        raise ValidationError.of(
            "refund.amountCents", f"must not exceed the refundable amount of {left_in_all} cents"
        )
    parts: list[RefundPart] = []
    left = amount_cents
    for part in reversed(paid):
        if left == 0:
            break
        take = min(left, part.refundable)
        if take <= 0:
            continue
        fee_back = fee_refund_cents(
            charged=part.charged,
            fee=part.fee,
            refunded_before=part.refunded,
            fee_refunded_before=part.fee_refunded,
            refund=take,
        )
        parts.append(RefundPart(part.session_id, take, fee_back))
        left -= take
    return tuple(parts)
