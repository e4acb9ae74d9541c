"""A tenant admin changes an owed instalment: waives it, marks it paid outside Stripe (a bank transfer,
cash), or moves its due date; each with a reason, recorded in the booking's history.

One transaction: the instalment's row lock (a balance webhook for it waits, then finds it no longer
owed and refunds that payment), the change, its request id, and booking told before the commit, so a
refused or failed call leaves nothing half-written. A retry with the same request id changes nothing
more and answers the schedule as it is (booking has one effect per request id too).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from mais_runtime.errors import Conflict, NotFound, PreconditionFailed
from services.payments.clients import Bookings
from services.payments.domain import BookingStatus
from services.payments.domain.instalments import (
    Instalment,
    InstalmentAction,
    InstalmentChange,
    shifted_due_date,
)
from services.payments.domain.notices import ScheduleNotice
from services.payments.domain.schedule import notice_stage
from services.payments.store import PaymentsStore, PaymentsTx, utc_now


@dataclass(frozen=True)
class ChangedSchedule:
    """A booking's instalments after a change, and today in the tenant's calendar (for the sums)."""

    booking_id: str
    instalments: list[Instalment]
    today: date


def change_request_id(tenant_id: str, booking_id: str, canonical: str) -> str:
    """A change's request id when the caller gave none: the same change asked twice is one change."""
    digest = hashlib.sha256(f"{tenant_id}\x1f{booking_id}\x1f{canonical}".encode()).hexdigest()[:40]
    return f"instalment-{digest}"


class InstalmentChanges:
    """Waive, mark paid offline, move the due date."""

    def __init__(
        self, store: PaymentsStore, bookings: Bookings, *, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self._store = store
        self._bookings = bookings
        self._clock = clock

    async def update(
        self, tenant_id: str, booking_id: str, change: InstalmentChange, *, actor: str, request_id: str = ""
    ) -> ChangedSchedule:
        """Applies `change` to the booking's instalment once per request id (NOT_FOUND for an unknown
        booking or instalment, FAILED_PRECONDITION unless the booking is CONFIRMED and the instalment
        owed, VALIDATION_ERROR dueDate for a date not after today or past the event)."""
        request_id = request_id or change_request_id(tenant_id, booking_id, change.canonical)
        booking = await self._bookings.get(tenant_id, booking_id)
        async with self._store.tenant(tenant_id) as tx:
            await tx.wait_for_peers()
            instalment = await tx.instalment(booking_id, change.seq, lock=True)
            if instalment is None:
                raise NotFound("instalment")
            today = self._clock().astimezone(ZoneInfo(instalment.timezone)).date()
            earlier = await tx.instalment_change(request_id)
            if earlier is not None:
                if earlier != (booking_id, change.canonical):
                    raise Conflict(
                        "this request id was used for another change", reason="IDEMPOTENCY_KEY_REUSED"
                    )
                return ChangedSchedule(booking_id, await tx.instalments(booking_id), today)
            if booking.status is not BookingStatus.CONFIRMED:
                raise PreconditionFailed(f"a {booking.status.value.lower()} booking's schedule cannot change")
            change.check_against(instalment, today=today, event_date=booking.event_date or date.max)
            await self._apply(tx, instalment, change, today)
            await tx.record_instalment_change(
                tenant_id,
                request_id,
                booking_id,
                seq=change.seq,
                action=change.action.value,
                note=change.note,
                due_date=change.due_date,
                actor=actor,
            )
            schedule = await tx.instalments(booking_id)
            await self._tell_booking(
                tenant_id, booking_id, change, schedule, actor=actor, request_id=request_id
            )
        return ChangedSchedule(booking_id, schedule, today)

    async def shift(self, tenant_id: str, booking_id: str, event_date: date) -> tuple[ChangedSchedule, int]:
        """After a reschedule: moves each owed instalment's due date with the event (see
        shifted_due_date), its notices restarting as on a due date change. Idempotent by value: the
        schedule keeps the event date it counts from, so asking again for the same date moves
        nothing. A booking without a schedule, or one that kept no event date (made before issue
        16), is answered unchanged. Answers the schedule and how many moved."""
        async with self._store.tenant(tenant_id) as tx:
            await tx.wait_for_peers()
            schedule = await tx.instalments(booking_id, lock=True)
            if not schedule:
                return ChangedSchedule(booking_id, [], self._clock().date()), 0
            today = self._clock().astimezone(ZoneInfo(schedule[0].timezone)).date()
            planned = await tx.schedule_event_date(booking_id)
            if planned is None or planned == event_date:
                return ChangedSchedule(booking_id, schedule, today), 0
            moved = 0
            for part in schedule:
                if not part.owed:
                    continue
                due = shifted_due_date(
                    part.due_date, planned_event=planned, event_date=event_date, today=today
                )
                if due == part.due_date:
                    continue
                stage = notice_stage(
                    due_date=due, today=today, reminder_days=part.reminder_days, grace_days=part.grace_days
                )
                await tx.move_instalment_due_date(booking_id, part.seq, due, stage, "")
                moved += 1
            await tx.set_schedule_event_date(booking_id, event_date)
            schedule = await tx.instalments(booking_id)
        return ChangedSchedule(booking_id, schedule, today), moved

    async def _apply(
        self, tx: PaymentsTx, instalment: Instalment, change: InstalmentChange, today: date
    ) -> None:
        booking_id, seq = instalment.booking_id, instalment.seq
        if change.action is InstalmentAction.WAIVE:
            await tx.waive_instalment(booking_id, seq, change.note)
        elif change.action is InstalmentAction.MARK_PAID:
            await tx.mark_instalment_paid_offline(booking_id, seq, change.note, self._clock())
        else:
            assert change.due_date is not None
            stage = change.notice_stage_after(instalment, today=today)
            await tx.move_instalment_due_date(booking_id, seq, change.due_date, stage, change.note)

    async def _tell_booking(
        self,
        tenant_id: str,
        booking_id: str,
        change: InstalmentChange,
        schedule: list[Instalment],
        *,
        actor: str,
        request_id: str,
    ) -> None:
        (changed,) = [i for i in schedule if i.seq == change.seq]
        if change.action is InstalmentAction.MARK_PAID:
            recorded = await self._bookings.record_offline_payment(
                tenant_id,
                booking_id,
                instalment=changed,
                schedule=schedule,
                actor=actor,
                note=change.note,
                request_id=request_id,
            )
            if not recorded:
                raise PreconditionFailed("the booking is no longer confirmed")
            return
        await self._bookings.notify_schedule(
            tenant_id,
            booking_id,
            notice=ScheduleNotice.WAIVED
            if change.action is InstalmentAction.WAIVE
            else ScheduleNotice.DUE_DATE_CHANGED,
            instalment=changed,
            schedule=schedule,
            actor=actor,
            note=change.note,
            request_id=request_id,
        )
