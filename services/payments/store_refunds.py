"""The queries of refunds over several payments, of a tenant admin's instalment changes, and of what is
still owed (outstanding and overdue balances). A mixin of PaymentsTx: the same transaction, the same
row-level-security scope."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mais_runtime.db import AsyncConnection, text
from services.payments.domain import EntryKind, LedgerTotals
from services.payments.domain.instalments import Instalment
from services.payments.domain.schedule import InstalmentKind, InstalmentStatus, NoticeStage

# At most this many overdue instalments are listed (the overview's list).
MAX_OVERDUE = 20

_PAYMENT_COLUMNS = (
    "session_id, tenant_id::text AS tenant_id, booking_id, amount_cents, currency, commission_bps,"
    " fee_cents, destination_account, status, checkout_url, expires_at, payment_intent_id, charge_id,"
    " application_fee_id"
)
# An instalments row's columns, in the domain Instalment's order (every query of instalments reads
# them all and builds one with instalment_of).
_INSTALMENT_FIELDS = (
    "booking_id",
    "seq",
    "kind",
    "amount_cents",
    "currency",
    "due_date",
    "timezone",
    "status",
    "session_id",
    "paid_cents",
    "fee_cents",
    "refunded_cents",
    "paid_at",
    "paid_offline",
    "note",
    "notice_stage",
    "grace_days",
    "reminder_days",
    "overdue_action",
    "deposit_refundable",
)


def instalment_columns(alias: str = "") -> str:
    """The instalments columns instalment_of reads, for a SELECT (each prefixed `alias.` if given)."""
    prefix = f"{alias}." if alias else ""
    return ", ".join(prefix + c for c in _INSTALMENT_FIELDS)


# A booking is confirmed once its first instalment is paid (checkout's session, or offline); until then
# (a hold) nothing of it is owed.
_CONFIRMED = (
    "EXISTS (SELECT 1 FROM instalments f WHERE f.tenant_id = i.tenant_id AND f.booking_id = i.booking_id"
    " AND f.seq = 1 AND f.status = 'PAID')"
)
_OWED = "i.status IN ('DUE', 'OVERDUE')"
# An instalment's "today": the query's instant in the calendar its schedule was made in, joined in
# from local_todays. Each zone's date comes from Python's zoneinfo (an unknown zone counts as UTC, as
# booking's calendars do) rather than PostgreSQL's AT TIME ZONE: a zone PostgreSQL does not know would
# fail the whole query, and with it every tenant's notices or totals.
LOCAL_TODAY = (
    "JOIN unnest(CAST(:zones AS text[]), CAST(:todays AS date[])) AS l(zone, today) ON l.zone = i.timezone"
)
# Distinct zones of instalments are few (one per tenant at most); the bound keeps the list bounded.
MAX_ZONES = 2_000
_PAST_DUE = "i.due_date < l.today"


async def local_todays(
    conn: AsyncConnection, now: datetime, where: str, params: dict[str, Any] | None = None
) -> dict[str, list[Any]]:
    """The parameters of LOCAL_TODAY for the instalments `where` selects (over `instalments i`):
    their zones and each zone's date at `now`."""
    zones = await conn.execute(
        text(f"SELECT DISTINCT i.timezone FROM instalments i WHERE {where} LIMIT :zones_limit"),  # noqa: S608
        {**(params or {}), "zones_limit": MAX_ZONES},
    )
    names = [zone for (zone,) in zones]
    todays = []
    for zone in names:
        try:
            todays.append(now.astimezone(ZoneInfo(zone)).date())
        except (ZoneInfoNotFoundError, ValueError):
            todays.append(now.astimezone(UTC).date())
    return {"zones": names, "todays": todays}


def instalment_of(row: Any) -> Instalment:
    """An instalments row (the columns of instalment_columns, and maybe others) as the domain's
    Instalment."""
    values = {c: row._mapping[c] for c in _INSTALMENT_FIELDS}
    values["kind"] = InstalmentKind(values["kind"])
    values["status"] = InstalmentStatus(values["status"])
    values["notice_stage"] = NoticeStage(values["notice_stage"])
    return Instalment(**values)


@dataclass(frozen=True)
class Outstanding:
    """What a currency's confirmed bookings still owe, and how much of it is past due."""

    currency: str
    outstanding_cents: int
    bookings: int
    overdue_cents: int
    overdue_bookings: int


class RefundQueries:
    """Queries over a booking's payments, refund requests and instalments."""

    conn: AsyncConnection

    # --- refunds over several payments ---------------------------------------------------------

    async def paid_payments(self, booking_id: str, *, lock: bool = False) -> list[tuple[Any, int]]:
        """The booking's payments that took money and kept it (PAID, through a PaymentIntent), oldest
        first, each with the instalment it paid; locked in that order when `lock` (concurrent
        cancellations queue on the first)."""
        from services.payments.store import Payment

        sql = (
            f"SELECT {_PAYMENT_COLUMNS}, instalment_seq FROM payments"  # noqa: S608 - constant columns
            " WHERE booking_id = :b AND status = 'PAID' AND payment_intent_id IS NOT NULL"
            " ORDER BY created_at, session_id LIMIT 12"
        )
        rows = await self.conn.execute(text(sql + (" FOR UPDATE" if lock else "")), {"b": booking_id})
        answer = []
        for row in rows:
            values = dict(row._mapping)
            seq = int(values.pop("instalment_seq"))
            answer.append((Payment(**values), seq))
        return answer

    async def open_balance_payments(self, booking_id: str) -> list[Any]:
        """The booking's balance sessions (instalments after the first) still open for paying (not
        locked: they are closed at Stripe after this transaction, see `expire_open_payment`)."""
        from services.payments.store import Payment

        sql = (
            f"SELECT {_PAYMENT_COLUMNS}, instalment_seq FROM payments"  # noqa: S608 - constant columns
            " WHERE booking_id = :b AND status = 'OPEN' AND instalment_seq > 1"
            " ORDER BY created_at, session_id LIMIT 12"
        )
        return [Payment(**dict(r._mapping)) for r in await self.conn.execute(text(sql), {"b": booking_id})]

    async def expire_open_payment(self, session_id: str) -> bool:
        """EXPIRED for a session Stripe has closed, unless its payment moved on meanwhile (a webhook
        recorded it PAID or NOT_OWED, or EXPIRED already): False then."""
        result = await self.conn.execute(
            text(
                "UPDATE payments SET status = 'EXPIRED', updated_at = now()"
                " WHERE session_id = :s AND status = 'OPEN'"
            ),
            {"s": session_id},
        )
        return bool(result.rowcount)

    async def cancellation_parts(self, cancellation_id: str) -> list[Any]:
        """The refund requests (one per payment) of one cancellation, in the order they were reserved."""
        from services.payments.store import _REFUND_COLUMNS, RefundRequest

        sql = (
            f"SELECT {_REFUND_COLUMNS} FROM refund_requests"  # noqa: S608 - constant columns
            " WHERE cancellation_id = :c ORDER BY created_at, request_id LIMIT 12"
        )
        rows = await self.conn.execute(text(sql), {"c": cancellation_id})
        return [RefundRequest(**dict(r._mapping)) for r in rows]

    async def reserve_refund_part(self, tenant_id: str, cancellation_id: str, request: Any) -> None:
        """Reserves one payment's part of a cancellation's refund before Stripe is asked for it."""
        await self.conn.execute(
            text(
                "INSERT INTO refund_requests (tenant_id, request_id, cancellation_id, booking_id, session_id,"
                " choice, amount_cents, fee_refund_cents, kept_cents)"
                " VALUES (CAST(:t AS uuid), :r, :c, :b, :s, :ch, :a, :f, :k)"
            ),
            {
                "t": tenant_id,
                "r": request.request_id,
                "c": cancellation_id,
                "b": request.booking_id,
                "s": request.session_id,
                "ch": request.choice,
                "a": request.amount_cents,
                "f": request.fee_refund_cents,
                "k": request.kept_cents,
            },
        )

    async def booking_totals(self, booking_id: str) -> LedgerTotals:
        """The ledger totals of a booking over its payments (charges - refunds = net held), leaving out a
        payment nothing was owed for (NOT_OWED: charged and refunded in full apart from the booking, which
        never counted it as paid, so its refund is not the booking's either)."""
        rows = await self.conn.execute(
            text(
                "SELECT e.kind, COALESCE(SUM(e.amount_cents), 0) AS total FROM ledger_entries e"
                " WHERE e.booking_id = :b AND NOT EXISTS (SELECT 1 FROM payments p"
                "  WHERE p.session_id = e.session_id AND p.status = 'NOT_OWED') GROUP BY e.kind"
            ),
            {"b": booking_id},
        )
        return LedgerTotals.of((EntryKind(r.kind), int(r.total)) for r in rows)

    async def settle_instalments_after_refund(self, booking_id: str) -> None:
        """Carries the ledger's refunds onto the instalments their payments paid (REFUNDED when given
        back in full), and cancels what is still owed: the booking is cancelled, nothing more is due."""
        await self.conn.execute(
            text(
                "UPDATE instalments i SET refunded_cents = LEAST(i.paid_cents, r.refunded),"
                " status = CASE WHEN r.refunded >= i.paid_cents THEN 'REFUNDED' ELSE i.status END,"
                " updated_at = now()"
                " FROM (SELECT p.instalment_seq AS seq, SUM(e.amount_cents) AS refunded"
                "       FROM payments p JOIN ledger_entries e ON e.session_id = p.session_id"
                "       WHERE p.booking_id = :b AND p.status = 'PAID' AND e.kind = 'refund'"
                "       GROUP BY p.instalment_seq) r"
                " WHERE i.booking_id = :b AND i.seq = r.seq AND i.status IN ('PAID', 'REFUNDED')"
                " AND NOT i.paid_offline AND i.paid_cents > 0"
            ),
            {"b": booking_id},
        )
        await self.cancel_owed_instalments(booking_id)

    async def cancel_owed_instalments(self, booking_id: str) -> None:
        """Nothing more is owed on a booking that will not happen (hold released or lost, or cancelled)."""
        await self.conn.execute(
            text(
                "UPDATE instalments SET status = 'CANCELLED', updated_at = now()"
                " WHERE booking_id = :b AND status IN ('DUE', 'OVERDUE')"
            ),
            {"b": booking_id},
        )

    # --- instalments and a tenant admin's changes ----------------------------------------------

    async def instalment_change(self, request_id: str) -> tuple[str, str] | None:
        """(booking id, the change's canonical spelling) of an earlier change with this request id."""
        row = (
            await self.conn.execute(
                text(
                    "SELECT booking_id, seq, action, COALESCE(to_char(due_date, 'YYYY-MM-DD'), '') AS due,"
                    " COALESCE(note, '') AS note FROM instalment_changes WHERE request_id = :r"
                ),
                {"r": request_id},
            )
        ).first()
        if row is None:
            return None
        return row.booking_id, f"{row.seq}:{row.action}:{row.due}:{row.note}"

    async def record_instalment_change(
        self,
        tenant_id: str,
        request_id: str,
        booking_id: str,
        *,
        seq: int,
        action: str,
        note: str,
        due_date: date | None,
        actor: str,
    ) -> None:
        """Keeps a change under its request id (a retry finds it)."""
        await self.conn.execute(
            text(
                "INSERT INTO instalment_changes (tenant_id, request_id, booking_id, seq, action, note,"
                " due_date, actor) VALUES (CAST(:t AS uuid), :r, :b, :q, :a, NULLIF(:n, ''), :d, :actor)"
            ),
            {
                "t": tenant_id,
                "r": request_id,
                "b": booking_id,
                "q": seq,
                "a": action,
                "n": note,
                "d": due_date,
                "actor": actor,
            },
        )

    async def waive_instalment(self, booking_id: str, seq: int, note: str) -> None:
        """Nothing more is owed for it."""
        await self.conn.execute(
            text(
                "UPDATE instalments SET status = 'WAIVED', note = :n, updated_at = now()"
                " WHERE booking_id = :b AND seq = :q"
            ),
            {"b": booking_id, "q": seq, "n": note},
        )

    async def mark_instalment_paid_offline(self, booking_id: str, seq: int, note: str, at: datetime) -> None:
        """Paid in full outside Stripe: no fee, nothing in the Stripe ledger."""
        await self.conn.execute(
            text(
                "UPDATE instalments SET status = 'PAID', paid_cents = amount_cents, fee_cents = 0,"
                " paid_offline = true, paid_at = :at, note = :n, updated_at = now()"
                " WHERE booking_id = :b AND seq = :q"
            ),
            {"b": booking_id, "q": seq, "n": note, "at": at},
        )

    async def move_instalment_due_date(
        self, booking_id: str, seq: int, due_date: date, stage: NoticeStage, note: str
    ) -> None:
        """A new due date; owed again as DUE, its notices restarting from `stage`."""
        await self.conn.execute(
            text(
                "UPDATE instalments SET due_date = :d, status = 'DUE', notice_stage = :st,"
                " note = COALESCE(NULLIF(:n, ''), note), updated_at = now()"
                " WHERE booking_id = :b AND seq = :q"
            ),
            {"b": booking_id, "q": seq, "d": due_date, "st": int(stage), "n": note},
        )

    # --- what is still owed ---------------------------------------------------------------------

    async def outstanding(self, now: datetime) -> list[Outstanding]:
        """Per currency, what the transaction's confirmed bookings still owe (every tenant's in the
        platform scope), and what of it is past its due date in the instalment's own calendar."""
        sql = (
            "SELECT i.currency, SUM(i.amount_cents - i.paid_cents) AS owed,"  # noqa: S608 - constant SQL
            " COUNT(DISTINCT (i.tenant_id, i.booking_id)) AS bookings,"
            f" COALESCE(SUM(i.amount_cents - i.paid_cents) FILTER (WHERE {_PAST_DUE}), 0) AS overdue,"
            f" COUNT(DISTINCT (i.tenant_id, i.booking_id)) FILTER (WHERE {_PAST_DUE}) AS overdue_bookings"
            f" FROM instalments i {LOCAL_TODAY} WHERE {_OWED} AND {_CONFIRMED}"
            " GROUP BY i.currency ORDER BY i.currency"
        )
        rows = await self.conn.execute(text(sql), await local_todays(self.conn, now, _OWED))
        return [
            Outstanding(r.currency, int(r.owed), int(r.bookings), int(r.overdue), int(r.overdue_bookings))
            for r in rows
        ]

    async def overdue_instalments(self, now: datetime, limit: int = MAX_OVERDUE) -> list[Instalment]:
        """Owed instalments of confirmed bookings past their due date, the longest overdue first."""
        sql = (
            f"SELECT {instalment_columns('i')} FROM instalments i {LOCAL_TODAY}"  # noqa: S608 - constant SQL
            f" WHERE {_OWED} AND {_CONFIRMED} AND {_PAST_DUE}"
            " ORDER BY i.due_date, i.booking_id, i.seq LIMIT :limit"
        )
        days = await local_todays(self.conn, now, _OWED)
        rows = await self.conn.execute(text(sql), {**days, "limit": min(limit, MAX_OVERDUE)})
        return [instalment_of(r) for r in rows]
