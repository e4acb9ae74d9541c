"""A booking's payment schedule as booking sees it: payments owns schedules (the instalments, what
was paid, the notices' timing) and sends them along with each payment and notice; booking only checks
that what it is told adds up, records it in the history and words the couple's emails from it.

No I/O here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum

from mais_runtime.errors import FieldViolation, ValidationError
from mais_runtime.money import decimal_amount
from mais_runtime.payment_policy import OverdueAction

# As payments bounds a schedule (services/payments/domain/schedule.py MAX_INSTALMENTS, MAX_NOTE).
MAX_INSTALMENTS = 12
MAX_NOTE = 500

# The cancellation reason payments gives when a balance stayed unpaid past the grace days; the
# cancellation email words it for the couple.
BALANCE_UNPAID = "balance_unpaid"

_KINDS = ("FULL", "DEPOSIT", "BALANCE")
_STATUSES = ("DUE", "PAID", "OVERDUE", "WAIVED", "REFUNDED", "CANCELLED")


@dataclass(frozen=True)
class Instalment:
    """One part of a booking's price, as payments reported it."""

    seq: int
    kind: str
    amount_cents: int
    currency: str
    due_date: date
    status: str = "DUE"
    paid_cents: int = 0
    refunded_cents: int = 0
    paid_offline: bool = False
    note: str = ""

    @property
    def owed(self) -> bool:
        """Still to be paid."""
        return self.status in ("DUE", "OVERDUE")

    @property
    def label(self) -> str:
        """What a couple calls this part: "Deposit", "Balance", "Payment"."""
        return {"DEPOSIT": "Deposit", "BALANCE": "Balance"}.get(self.kind, "Payment")

    def checked(self, where: str) -> Instalment:
        """This instalment, or a ValidationError naming the bad field (`<where>.<field>`)."""
        problems: list[FieldViolation] = []
        if not 1 <= self.seq <= MAX_INSTALMENTS:
            problems.append(FieldViolation(f"{where}.seq", f"must be between 1 and {MAX_INSTALMENTS}"))
        if self.kind not in _KINDS:
            problems.append(FieldViolation(f"{where}.kind", "must be FULL, DEPOSIT or BALANCE"))
        if self.status not in _STATUSES:
            problems.append(FieldViolation(f"{where}.status", "is not an instalment status"))
        if self.amount_cents <= 0:
            problems.append(FieldViolation(f"{where}.amountCents", "must be positive"))
        if not 0 <= self.paid_cents <= self.amount_cents:
            problems.append(FieldViolation(f"{where}.paidCents", "must be between 0 and the amount"))
        if not 0 <= self.refunded_cents <= self.paid_cents:
            problems.append(FieldViolation(f"{where}.refundedCents", "must be between 0 and the paid amount"))
        if len(self.note) > MAX_NOTE:
            problems.append(FieldViolation(f"{where}.note", f"must be at most {MAX_NOTE} characters"))
        if problems:
            raise ValidationError("the instalment is not valid", problems)
        return self


def check_schedule(schedule: Sequence[Instalment], *, total_cents: int, currency: str) -> None:
    """A schedule must be numbered 1..n in order, in the booking's currency, and add up to its total
    (payments plans it so; anything else is a caller's bug that must not reach a couple's email)."""
    if len(schedule) > MAX_INSTALMENTS:
        raise ValidationError.of("schedule", f"must have at most {MAX_INSTALMENTS} instalments")
    for index, instalment in enumerate(schedule):
        instalment.checked(f"schedule[{index}]")
        if instalment.seq != index + 1:
            raise ValidationError.of(
                f"schedule[{index}].seq", "instalments must be numbered 1, 2, ... in order"
            )
        if instalment.currency.lower() != currency.lower():
            raise ValidationError.of(f"schedule[{index}].currency", "must be the booking's currency")
    if schedule and sum(i.amount_cents for i in schedule) != total_cents:
        raise ValidationError.of("schedule", "the instalments must add up to the booking's total")


def first_payment_cents(schedule: Sequence[Instalment], total_cents: int) -> int:
    """What the checkout's payment must have been: the first instalment (the deposit, or the whole),
    or the whole total when no schedule was given (bookings before schedules)."""
    return schedule[0].amount_cents if schedule else total_cents


def with_paid(schedule: Sequence[Instalment], seq: int) -> tuple[Instalment, ...]:
    """The schedule with instalment `seq` shown paid: the payment being recorded paid it, whether or
    not payments had marked it so in the copy it sent (the couple's email must not ask for it)."""
    return tuple(
        replace(i, status="PAID", paid_cents=i.amount_cents) if i.seq == seq and i.owed else i
        for i in schedule
    )


def outstanding_cents(schedule: Sequence[Instalment]) -> int:
    """What is still owed over the schedule."""
    return sum(i.amount_cents - i.paid_cents for i in schedule if i.owed)


def has_balance(schedule: Sequence[Instalment]) -> bool:
    """Whether anything is still owed after what was paid (the couple has more to pay)."""
    return any(i.owed for i in schedule)


class Notice(StrEnum):
    """A schedule notice payments sends (booking_service.proto ScheduleNotice)."""

    REMINDER = "REMINDER"
    DUE_TODAY = "DUE_TODAY"
    OVERDUE = "OVERDUE"
    WAIVED = "WAIVED"
    DUE_DATE_CHANGED = "DUE_DATE_CHANGED"

    @property
    def emailed(self) -> bool:
        """Whether the couple gets an email (a waived instalment is the history's only)."""
        return self is not Notice.WAIVED


class RecordOutcome(StrEnum):
    """What a later instalment's payment did to the booking (booking_service.proto
    RecordPaymentOutcome)."""

    RECORDED = "RECORDED"
    ALREADY_RECORDED = "ALREADY_RECORDED"
    # Cancelled meanwhile: nothing changed; payments refunds the money.
    BOOKING_NOT_CONFIRMED = "BOOKING_NOT_CONFIRMED"


@dataclass(frozen=True)
class InstalmentPayment:
    """A later instalment's payment as payments reports it: through a Checkout Session, or marked
    paid offline by the business (then keyed by the request id)."""

    seq: int
    amount_cents: int
    total_paid_cents: int
    schedule: tuple[Instalment, ...]
    actor: str
    session_id: str = ""
    request_id: str = ""
    note: str = ""

    @property
    def offline(self) -> bool:
        """Paid outside Stripe (no session)."""
        return not self.session_id

    @property
    def effect_key(self) -> str:
        """What makes a retried report the same payment: the paying session, else the request."""
        return f"paid:{self.session_id}" if self.session_id else f"paid-offline:{self.request_id}"

    @property
    def instalment(self) -> Instalment | None:
        """The instalment paid, as the schedule has it now."""
        return next((i for i in self.schedule if i.seq == self.seq), None)

    def checked(self) -> InstalmentPayment:
        """This payment, or a ValidationError naming the bad field."""
        if not self.session_id and not self.request_id:
            raise ValidationError.of("request_id", "is required for a payment without a session")
        if self.amount_cents <= 0:
            raise ValidationError.of("amount_cents", "must be positive")
        if self.total_paid_cents < self.amount_cents:
            raise ValidationError.of("total_paid_cents", "must include this payment's amount")
        if len(self.note) > MAX_NOTE:
            raise ValidationError.of("note", f"must be at most {MAX_NOTE} characters")
        return self


def check_paid_total(total_paid_cents: int, total_cents: int) -> None:
    """Nobody pays more than the booking costs over all its instalments."""
    if total_paid_cents > total_cents:
        raise ValidationError.of("total_paid_cents", "must not exceed the booking's total")


@dataclass(frozen=True)
class ScheduleNotice:
    """One notice about one instalment, with the whole schedule as it now is."""

    kind: Notice
    instalment: Instalment
    schedule: tuple[Instalment, ...]
    actor: str
    request_id: str
    note: str = ""
    # OVERDUE: what the policy does after the grace days, and on which day.
    overdue_action: OverdueAction | None = None
    action_date: date | None = None

    @property
    def effect_key(self) -> str:
        """One effect per request id (payments derives it from the instalment and the notice)."""
        return f"notice:{self.request_id}"

    def checked(self) -> ScheduleNotice:
        """This notice, or a ValidationError naming the bad field."""
        if not self.request_id or len(self.request_id) > 255:
            raise ValidationError.of("request_id", "is required, at most 255 characters")
        self.instalment.checked("instalment")
        if len(self.note) > MAX_NOTE:
            raise ValidationError.of("note", f"must be at most {MAX_NOTE} characters")
        return self


def _amount(cents: int, currency: str) -> str:
    return f"{decimal_amount(cents, currency)} {currency.upper()}"


# --- history wording ---------------------------------------------------------------------------


def payment_recorded(payment: InstalmentPayment, currency: str) -> str:
    """The history line of a later instalment's payment."""
    instalment = payment.instalment
    what = instalment.label.lower() if instalment else "payment"
    line = f"{what} of {_amount(payment.amount_cents, currency)} paid"
    if payment.offline:
        line += " (marked paid offline" + (f": {payment.note}" if payment.note else "") + ")"
    else:
        line += f" (session {payment.session_id})"
    return line


def notice_recorded(notice: Notice, instalment: Instalment, *, note: str) -> str:
    """The history line of a schedule notice."""
    part = f"{instalment.label.lower()} of {_amount(instalment.amount_cents, instalment.currency)}"
    due = instalment.due_date.isoformat()
    if notice is Notice.REMINDER:
        return f"reminder sent: {part} due {due}"
    if notice is Notice.DUE_TODAY:
        return f"reminder sent: {part} due today ({due})"
    if notice is Notice.OVERDUE:
        return f"overdue notice sent: {part} was due {due}"
    if notice is Notice.WAIVED:
        return f"{part} waived" + (f": {note}" if note else "")
    return f"due date of the {part} moved to {due}" + (f": {note}" if note else "")


def overdue_consequence(action: OverdueAction | None) -> str:
    """What the overdue notice says happens once the grace days are over (without the date)."""
    if action is OverdueAction.CANCEL_KEEP_DEPOSIT:
        return "the booking will be cancelled and the deposit kept"
    if action is OverdueAction.CANCEL_REFUND_DEPOSIT:
        return "the booking will be cancelled and everything you paid refunded"
    return ""
