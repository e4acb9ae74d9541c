"""The schedule sweep's queries (services/payments/schedule_sweep.py), a part of `PaymentsTx`.

Which owed balances have a notice to send is decided in one query over every tenant, each row with
"today" in the calendar its schedule was made in (`instalments.timezone`, joined in as
store_refunds.LOCAL_TODAY), so a sweep needs no tenant look-ups to know whose balance is due. The
stage arithmetic mirrors schedule.notice_stage (a test holds the two together); schedule.next_notice
then picks the one notice to send.
"""

# Queries are assembled only from this module's constant column lists and clauses; every value is a
# bound parameter.
# ruff: noqa: S608

from __future__ import annotations

from datetime import datetime
from typing import Any

from mais_runtime.db import AsyncConnection, text
from mais_runtime.payment_policy import MAX_REMINDER_DAYS
from services.payments.domain.instalments import Instalment
from services.payments.domain.notices import OwedBalance
from services.payments.domain.schedule import MAX_INSTALMENTS, NoticeStage
from services.payments.store_refunds import LOCAL_TODAY, instalment_columns, instalment_of, local_todays

_OWED_BALANCE = "i.status IN ('DUE', 'OVERDUE') AND i.kind = 'BALANCE' AND i.notice_stage < 4"
# schedule.notice_stage in SQL.
_TARGET_STAGE = (
    "CASE WHEN l.today > i.due_date + i.grace_days THEN 4"
    " WHEN l.today > i.due_date THEN 3"
    " WHEN l.today = i.due_date THEN 2"
    " WHEN l.today >= i.due_date - i.reminder_days THEN 1"
    " ELSE 0 END"
)
# The balance of a booking whose first instalment (the deposit) is paid: a schedule still being
# checked out (the deposit's session open) has nothing to remind of yet.
_DEPOSIT_PAID = (
    "EXISTS (SELECT 1 FROM instalments d WHERE d.tenant_id = i.tenant_id AND d.booking_id = i.booking_id"
    " AND d.seq = 1 AND d.status = 'PAID')"
)


def _owed(row: Any) -> OwedBalance:
    return OwedBalance(tenant_id=row.tenant_id, instalment=instalment_of(row), today=row.today)


class NoticeQueries:
    """The schedule sweep's queries; `PaymentsTx` inherits them."""

    conn: AsyncConnection

    async def claim_owed_balances(self, now: datetime, limit: int) -> list[OwedBalance]:
        """Owed balances (of bookings whose deposit is paid) whose notices are behind their due date
        at `now`, earliest due first, locked: rows another sweep holds are skipped, so each is
        handled by one transaction at a time. A platform transaction."""
        sql = (
            f"SELECT i.tenant_id::text AS tenant_id, {instalment_columns('i')}, l.today"
            f" FROM instalments i {LOCAL_TODAY}"
            f" WHERE {_OWED_BALANCE}"
            # Uses the owed instalments' index: nothing further than the longest reminder (and a day
            # of time zones) from now can be due a notice.
            " AND i.due_date <= CAST(:now AS date) + CAST(:horizon AS integer)"
            f" AND {_TARGET_STAGE} > i.notice_stage AND {_DEPOSIT_PAID}"
            " ORDER BY i.due_date, i.booking_id, i.seq LIMIT :limit FOR UPDATE OF i SKIP LOCKED"
        )
        days = await local_todays(self.conn, now, _OWED_BALANCE)
        rows = await self.conn.execute(
            text(sql), {"now": now, "horizon": MAX_REMINDER_DAYS + 1, "limit": limit, **days}
        )
        return [_owed(r) for r in rows]

    async def owed_balance(
        self, tenant_id: str, booking_id: str, seq: int, now: datetime
    ) -> OwedBalance | None:
        """One balance as `claim_owed_balances` would see it at `now` (not locked), or None when it
        is no longer owed or its notices have gone as far as they go."""
        sql = (
            f"SELECT i.tenant_id::text AS tenant_id, {instalment_columns('i')}, l.today"
            f" FROM instalments i {LOCAL_TODAY}"
            " WHERE i.tenant_id = CAST(:t AS uuid) AND i.booking_id = :b AND i.seq = :seq"
            " AND i.status IN ('DUE', 'OVERDUE') AND i.notice_stage < 4"
        )
        days = await local_todays(
            self.conn,
            now,
            "i.tenant_id = CAST(:t AS uuid) AND i.booking_id = :b AND i.seq = :seq",
            {"t": tenant_id, "b": booking_id, "seq": seq},
        )
        row = (
            await self.conn.execute(text(sql), {"t": tenant_id, "b": booking_id, "seq": seq, **days})
        ).first()
        return _owed(row) if row else None

    async def schedule_for_notice(self, tenant_id: str, booking_id: str) -> list[Instalment]:
        """A booking's instalments in order (what booking shows the couple beside a notice); in a
        platform transaction, so by tenant as well as booking."""
        sql = (
            f"SELECT {instalment_columns('i')} FROM instalments i"
            " WHERE i.tenant_id = CAST(:t AS uuid) AND i.booking_id = :b ORDER BY i.seq LIMIT :limit"
        )
        rows = await self.conn.execute(text(sql), {"t": tenant_id, "b": booking_id, "limit": MAX_INSTALMENTS})
        return [instalment_of(r) for r in rows]

    async def record_notice_stage(
        self, tenant_id: str, booking_id: str, seq: int, stage: NoticeStage, *, cancelled: bool = False
    ) -> None:
        """The instalment's notices reached `stage` (never back): OVERDUE from the overdue notice on;
        CANCELLED (no longer owed) when its booking was cancelled for it."""
        await self.conn.execute(
            text(
                "UPDATE instalments SET notice_stage = GREATEST(notice_stage, CAST(:stage AS smallint)),"
                " status = CASE WHEN status IN ('DUE', 'OVERDUE') AND :cancelled THEN 'CANCELLED'"
                "  WHEN status = 'DUE' AND CAST(:stage AS smallint) >= 3 THEN 'OVERDUE' ELSE status END,"
                " updated_at = now()"
                " WHERE tenant_id = CAST(:t AS uuid) AND booking_id = :b AND seq = :seq"
            ),
            {"stage": int(stage), "cancelled": cancelled, "t": tenant_id, "b": booking_id, "seq": seq},
        )

    async def try_lock_overdue_action(self, tenant_id: str, booking_id: str, seq: int) -> bool:
        """The instalment's overdue-action lock until this transaction ends, if nobody holds it:
        one sweep at a time cancels a booking for an unpaid balance."""
        got = await self.conn.execute(
            text("SELECT pg_try_advisory_xact_lock(hashtextextended(:k, 0))"),
            {"k": f"mais.payments.overdue-action:{tenant_id}:{booking_id}:{seq}"},
        )
        return bool(got.scalar())
