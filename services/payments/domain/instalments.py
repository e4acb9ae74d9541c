"""A booking's instalments after checkout: what a schedule adds up to, the changes a tenant admin may
make to an owed instalment (waive it, mark it paid outside Stripe, move its due date), and which
payments a cancellation refunds. Plain Python, no I/O; amounts in integer minor units."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from mais_runtime.errors import FieldViolation, PreconditionFailed, ValidationError
from services.payments.domain.schedule import (
    MAX_NOTE,
    InstalmentKind,
    InstalmentStatus,
    NoticeStage,
    PaidPart,
    notice_stage,
)


@dataclass(frozen=True)
class Instalment:
    """One instalment of a booking as payments keeps it."""

    booking_id: str
    seq: int
    kind: InstalmentKind
    amount_cents: int
    currency: str
    due_date: date
    timezone: str
    status: InstalmentStatus
    session_id: str | None
    paid_cents: int
    fee_cents: int
    refunded_cents: int
    paid_at: datetime | None
    paid_offline: bool
    note: str | None
    notice_stage: NoticeStage
    grace_days: int
    reminder_days: int
    overdue_action: str
    deposit_refundable: bool

    @property
    def owed(self) -> bool:
        """Still to be paid."""
        return self.status.owed


@dataclass(frozen=True)
class ScheduleSums:
    """What a schedule adds up to: the total, what was paid (offline too) and given back, what is owed,
    the next due date and whether anything owed is past its due date."""

    currency: str
    total_cents: int
    paid_cents: int
    refunded_cents: int
    outstanding_cents: int
    next_due_date: date | None
    overdue: bool


def schedule_sums(instalments: Sequence[Instalment], *, today: date) -> ScheduleSums:
    """The sums of a booking's instalments (seq order); `today` in the tenant's calendar."""
    owed = [i for i in instalments if i.status.owed]
    return ScheduleSums(
        currency=instalments[0].currency if instalments else "",
        total_cents=sum(i.amount_cents for i in instalments),
        paid_cents=sum(i.paid_cents for i in instalments),
        refunded_cents=sum(i.refunded_cents for i in instalments),
        outstanding_cents=sum(i.amount_cents - i.paid_cents for i in owed),
        next_due_date=min((i.due_date for i in owed), default=None),
        overdue=any(i.status is InstalmentStatus.OVERDUE or i.due_date < today for i in owed),
    )


# --- a tenant admin's changes -------------------------------------------------------------------


class InstalmentAction(StrEnum):
    """What a tenant admin does to an owed instalment."""

    WAIVE = "WAIVE"
    MARK_PAID = "MARK_PAID"
    SET_DUE_DATE = "SET_DUE_DATE"


@dataclass(frozen=True)
class InstalmentChange:
    """One checked change: the action, its reason and (for SET_DUE_DATE) the new due date."""

    seq: int
    action: InstalmentAction
    note: str
    due_date: date | None

    @classmethod
    def checked(
        cls, *, seq: int, action: InstalmentAction | None, note: str, due_date: str
    ) -> InstalmentChange:
        """The change as asked, or VALIDATION_ERROR naming each bad field (seq, action, note,
        dueDate). The dates' relation to today and the event is checked against the booking
        (`check_against`)."""
        problems = []
        note = note.strip()
        if not 1 <= seq <= 12:
            problems.append(FieldViolation("seq", "must be an instalment number from 1 to 12"))
        if action is None:
            problems.append(FieldViolation("action", "must be WAIVE, MARK_PAID or SET_DUE_DATE"))
        if len(note) > MAX_NOTE:
            problems.append(FieldViolation("note", f"at most {MAX_NOTE} characters"))
        elif not note and action in (InstalmentAction.WAIVE, InstalmentAction.MARK_PAID):
            problems.append(FieldViolation("note", "is required: say why, for the booking's history"))
        day: date | None = None
        if action is InstalmentAction.SET_DUE_DATE:
            try:
                day = date.fromisoformat(due_date) if len(due_date) == 10 else None
            except ValueError:
                day = None
            if day is None:
                problems.append(FieldViolation("dueDate", "must be a date, YYYY-MM-DD"))
        elif due_date:
            problems.append(FieldViolation("dueDate", "only a due date change takes a due date"))
        if problems or action is None:
            raise ValidationError("the instalment change is not valid", problems)
        return cls(seq, action, note, day)

    @property
    def canonical(self) -> str:
        """A stable spelling, to tell a reused request id with another change."""
        return f"{self.seq}:{self.action.value}:{self.due_date or ''}:{self.note}"

    def check_against(self, instalment: Instalment, *, today: date, event_date: date) -> None:
        """Only an owed instalment changes; a new due date is after today and no later than the event."""
        if not instalment.status.owed:
            status = instalment.status.value.lower()
            raise PreconditionFailed(f"instalment {instalment.seq} is {status}, not owed")
        if self.due_date is not None and not today < self.due_date <= event_date:
            raise ValidationError.of(
                "dueDate", f"must be after today ({today}) and no later than the event ({event_date})"
            )

    def notice_stage_after(self, instalment: Instalment, *, today: date) -> NoticeStage:
        """The stage the notices restart from on a new due date: what applies on that date today, so
        the sweep sends the next notice that falls due from it (the couple is told of the move itself)."""
        assert self.due_date is not None
        return notice_stage(
            due_date=self.due_date,
            today=today,
            reminder_days=instalment.reminder_days,
            grace_days=instalment.grace_days,
        )


def shifted_due_date(due_date: date, *, planned_event: date, event_date: date, today: date) -> date:
    """An owed instalment's due date after its event moved from `planned_event` to `event_date`: as
    many days before the new event as it was before the old one, never before tomorrow (a couple is
    not made overdue by a move) and never after the event."""
    moved = event_date - (planned_event - due_date)
    return min(max(moved, today + timedelta(days=1)), max(event_date, today + timedelta(days=1)))


# --- what a cancellation refunds ----------------------------------------------------------------


@dataclass(frozen=True)
class PaidInstalment:
    """A payment of a booking through Stripe, the instalment it paid, and its ledger so far."""

    seq: int
    kind: InstalmentKind
    part: PaidPart


@dataclass(frozen=True)
class CoupleCancellationTerms:
    """What a couple's own cancellation gives back and what stays with the business: `refundable`, the
    payments it refunds (oldest first, for allocate_refund); `refund_cents`, all that is left of them;
    `kept_cents`, what is left of a non-refundable deposit. A payment made outside Stripe (marked paid
    by the business) is neither: the platform never moved that money, so it cannot give it back."""

    refundable: tuple[PaidPart, ...]
    refund_cents: int
    kept_cents: int


def couple_cancellation_terms(
    paid: Sequence[PaidInstalment], *, deposit_refundable: bool
) -> CoupleCancellationTerms:
    """The one rule of a couple's own cancellation, for the money (refunds.py) and for what their
    manage page says: everything paid through Stripe and not yet refunded goes back, except a deposit
    the business's terms make non-refundable, which it keeps."""
    keeps = [not deposit_refundable and p.kind is InstalmentKind.DEPOSIT for p in paid]
    kept = tuple(p.part for p, keep in zip(paid, keeps, strict=True) if keep)
    refundable = tuple(p.part for p, keep in zip(paid, keeps, strict=True) if not keep)
    return CoupleCancellationTerms(
        refundable=refundable,
        refund_cents=sum(max(0, part.refundable) for part in refundable),
        kept_cents=sum(max(0, part.refundable) for part in kept),
    )


def refundable_parts(
    paid: Sequence[PaidInstalment], *, by_couple: bool, deposit_refundable: bool
) -> tuple[PaidPart, ...]:
    """The payments a cancellation may refund (oldest first): all of them, except that a couple's own
    cancellation keeps a non-refundable deposit with the business (couple_cancellation_terms)."""
    if by_couple:
        return couple_cancellation_terms(paid, deposit_refundable=deposit_refundable).refundable
    return tuple(p.part for p in paid)


def refund_part_request_id(cancellation_id: str, session_id: str) -> str:
    """The refund request id of one payment's part of a cancellation's refund (Stripe's idempotency
    keys derive from it): the same cancellation retried refunds each payment once."""
    digest = hashlib.sha256(f"{cancellation_id}\x1f{session_id}".encode()).hexdigest()[:40]
    return f"refund-part-{digest}"
