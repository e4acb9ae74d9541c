"""Owed balances as their due dates come and go: the couple is reminded `reminder_days` before and on
the due date, told the day after that it is overdue (and what happens after the grace days), and once
the grace days are over the policy's overdue action is taken: nothing more (remind), or the booking is
cancelled by the system for "balance_unpaid" with the deposit kept or everything refunded.

A background job on every replica, with one effect per notice. A pass claims the balances whose
notices are behind `FOR UPDATE SKIP LOCKED` (one sweep per row at a time), asks booking for the one
notice schedule.next_notice picks (booking keeps one effect per request id, derived from the
instalment, the stage and the due date), and stores the stage in the same transaction: a pass that
dies between the two sends the same request again and booking does nothing twice.

A cancellation is not made under the instalment's row lock: cancelling refunds and marks the
schedule's instalments (Refunds.cancel_and_refund), which takes those rows itself. It runs after the
claiming transaction has ended, under the instalment's advisory lock (one sweep at a time), with a
request id derived like the notices' (a retry refunds nothing twice), and the stage is stored after.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from services.payments.clients import Bookings
from services.payments.domain import BookingStatus
from services.payments.domain.notices import (
    BALANCE_UNPAID,
    SYSTEM,
    OwedBalance,
    ScheduleNotice,
    cancels,
    notice_of,
    overdue_refund,
)
from services.payments.domain.schedule import NoticeStage
from services.payments.metrics import SCHEDULE_NOTICES
from services.payments.refunds import Refunds
from services.payments.store import PaymentsStore, PaymentsTx, utc_now

log = logging.getLogger("mais.payments.schedule_sweep")

# Balances handled per pass (each a booking call inside the claiming transaction); the next pass
# takes the rest.
BATCH = 50


class ScheduleSweep:
    """Notices and overdue actions for owed balances; `one_pass` is the background job's pass."""

    def __init__(
        self,
        store: PaymentsStore,
        bookings: Bookings,
        refunds: Refunds,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._store = store
        self._bookings = bookings
        self._refunds = refunds
        self._now = clock

    async def one_pass(self) -> int:
        """Sends the notices that are due and takes the overdue actions that are due (up to BATCH);
        answers how many balances moved on."""
        now = self._now()
        moved = 0
        to_cancel: list[OwedBalance] = []
        async with self._store.platform() as tx:
            await tx.wait_for_peers()
            for owed in await tx.claim_owed_balances(now, BATCH):
                stage = owed.next_notice()
                if stage is None:
                    continue
                if stage is NoticeStage.ACTION and cancels(owed.overdue_action):
                    to_cancel.append(owed)
                    continue
                try:
                    # One savepoint each: a balance that fails now (booking down) keeps its stage for
                    # the next pass and holds up none of the others.
                    async with tx.conn.begin_nested():
                        await self._notify(tx, owed, stage)
                except Exception:
                    log.warning("a schedule notice failed; the next pass retries", exc_info=True)
                    continue
                moved += 1
        for owed in to_cancel:
            try:
                if await self._cancel_for_non_payment(owed, now):
                    moved += 1
            except Exception:
                log.warning("cancelling for an unpaid balance failed; the next pass retries", exc_info=True)
        if moved:
            log.info("moved %d owed balances on", moved)
        return moved

    async def _notify(self, tx: PaymentsTx, owed: OwedBalance, stage: NoticeStage) -> None:
        """Sends the notice of `stage` (an ACTION that only reminds sends the overdue notice if it
        never went out) and stores the stage."""
        notice = notice_of(stage)
        if stage is NoticeStage.ACTION and owed.stage < NoticeStage.OVERDUE:
            notice = ScheduleNotice.OVERDUE
        # The stage first: the schedule booking words the notice from then shows it (OVERDUE).
        await tx.record_notice_stage(owed.tenant_id, owed.booking_id, owed.instalment.seq, stage)
        if notice is None:
            return
        schedule = await tx.schedule_for_notice(owed.tenant_id, owed.booking_id)
        instalment = next((i for i in schedule if i.seq == owed.instalment.seq), owed.instalment)
        overdue = notice is ScheduleNotice.OVERDUE
        done = await self._bookings.notify_schedule(
            owed.tenant_id,
            owed.booking_id,
            notice=notice,
            instalment=instalment,
            schedule=schedule,
            request_id=owed.request_id(stage),
            actor=SYSTEM,
            overdue_action=owed.overdue_action if overdue else None,
            action_date=owed.action_date if overdue and cancels(owed.overdue_action) else None,
        )
        if done:
            SCHEDULE_NOTICES.labels(notice.value).inc()

    async def _cancel_for_non_payment(self, owed: OwedBalance, now: datetime) -> bool:
        """Cancels the booking of a balance unpaid past its grace days as its policy says, once."""
        seq = owed.instalment.seq
        async with self._store.platform() as tx:
            if not await tx.try_lock_overdue_action(owed.tenant_id, owed.booking_id, seq):
                return False  # another sweep is at it
            current = await tx.owed_balance(owed.tenant_id, owed.booking_id, seq, now)
            if current is None or current.next_notice() is not NoticeStage.ACTION:
                return False  # paid, waived, moved or done meanwhile
            booking = await self._bookings.get(owed.tenant_id, owed.booking_id)
            if booking.status is BookingStatus.CONFIRMED:
                await self._refunds.cancel_and_refund(
                    owed.tenant_id,
                    owed.booking_id,
                    reason=BALANCE_UNPAID,
                    choice=overdue_refund(owed.overdue_action),
                    actor=SYSTEM,
                    request_id=owed.request_id(NoticeStage.ACTION),
                )
                SCHEDULE_NOTICES.labels("cancelled").inc()
            elif booking.status is not BookingStatus.CANCELLED:
                log.warning("balance of %s is owed but the booking is %s", owed.booking_id, booking.status)
                return False
            # Cancelled (now, or by someone else before): nothing is owed any more.
            await tx.record_notice_stage(
                owed.tenant_id, owed.booking_id, seq, NoticeStage.ACTION, cancelled=True
            )
        return True
