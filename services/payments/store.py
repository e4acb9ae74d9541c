"""The payments schema's queries and transactions (SQLAlchemy Core over asyncpg).

`PaymentsStore` opens transactions with the right row-level-security scope; `PaymentsTx` holds the
queries one transaction runs. Use cases keep a transaction open across a peer or Stripe call only where
exactly-once needs it (the inbox's row lock, the checkout key's lock), and then with explicit, bounded
lock and statement timeouts.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from mais_runtime.db import AsyncConnection, Database, text
from mais_runtime.errors import Conflict
from services.payments.domain import EntryKind, EventStatus, LedgerEntry, LedgerTotals
from services.payments.domain.instalments import Instalment
from services.payments.store_notices import NoticeQueries
from services.payments.store_refunds import RefundQueries, instalment_columns, instalment_of

# How long a transaction may wait for another one holding the same key or event (a concurrent
# duplicate is being processed; its work is short, but longer than the default lock timeout allows).
WAIT_FOR_PEER_MS = 15_000


@dataclass(frozen=True)
class Payment:
    """One Checkout Session of one hold, and what became of its money."""

    session_id: str
    tenant_id: str
    booking_id: str
    amount_cents: int
    currency: str
    commission_bps: int
    fee_cents: int
    destination_account: str | None
    status: str
    checkout_url: str
    expires_at: datetime
    payment_intent_id: str | None = None
    charge_id: str | None = None
    application_fee_id: str | None = None
    # The instalment this session pays (1: the checkout's).
    instalment_seq: int = 1


@dataclass(frozen=True)
class NewInstalment:
    """An instalment as checkout plans it, with the policy's terms it keeps."""

    seq: int
    kind: str
    amount_cents: int
    due_date: date


@dataclass(frozen=True)
class InboxEvent:
    """One stored Stripe event."""

    id: str
    stripe_event_id: str
    type: str
    tenant_id: str | None
    booking_id: str | None
    status: EventStatus
    attempts: int
    last_error: str | None
    payload: Mapping[str, Any]
    received_at: datetime
    processed_at: datetime | None


@dataclass(frozen=True)
class RefundRequest:
    """A cancellation's refund, reserved before Stripe is called."""

    request_id: str
    booking_id: str
    session_id: str
    choice: str
    amount_cents: int
    fee_refund_cents: int
    status: str
    stripe_refund_id: str | None
    stripe_fee_refund_id: str | None
    # What the couple's own cancellation keeps back (a non-refundable deposit); 0 otherwise.
    kept_cents: int = 0


_PAYMENT_COLUMNS = (
    "session_id, tenant_id::text AS tenant_id, booking_id, amount_cents, currency, commission_bps,"
    " fee_cents, destination_account, status, checkout_url, expires_at, payment_intent_id, charge_id,"
    " application_fee_id, instalment_seq"
)
_INSTALMENT_COLUMNS = instalment_columns()
_EVENT_COLUMNS = (
    "id::text AS id, stripe_event_id, type, tenant_id::text AS tenant_id, booking_id, status, attempts,"
    " last_error, payload, received_at, processed_at"
)
_REFUND_COLUMNS = (
    "request_id, booking_id, session_id, choice, amount_cents, fee_refund_cents, status,"
    " stripe_refund_id, stripe_fee_refund_id, kept_cents"
)


def _payment(row: Any) -> Payment:
    return Payment(**dict(row._mapping))


def _event(row: Any) -> InboxEvent:
    values = dict(row._mapping)
    payload = values["payload"]
    values["payload"] = json.loads(payload) if isinstance(payload, str) else payload
    values["status"] = EventStatus(values["status"])
    return InboxEvent(**values)


def _refund(row: Any) -> RefundRequest:
    return RefundRequest(**dict(row._mapping))


class PaymentsStore:
    """Transactions on the payments schema."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @asynccontextmanager
    async def tenant(self, tenant_id: str) -> AsyncIterator[PaymentsTx]:
        """A transaction that sees only `tenant_id`'s rows."""
        async with self.db.tenant_transaction(tenant_id) as conn:
            yield PaymentsTx(conn)

    @asynccontextmanager
    async def platform(self) -> AsyncIterator[PaymentsTx]:
        """A cross-tenant transaction: webhook intake before the tenant is known, the platform's
        dead-letter view."""
        async with self.db.platform_transaction() as conn:
            yield PaymentsTx(conn)

    async def record_event(
        self,
        *,
        stripe_event_id: str,
        event_type: str,
        tenant_id: str | None,
        booking_id: str,
        payload: bytes,
        stripe_created: int,
    ) -> InboxEvent:
        """Stores a verified event once (by Stripe's id) and returns the stored row, new or not."""
        async with self.platform() as tx:
            await tx.conn.execute(
                text(
                    "INSERT INTO stripe_events (id, stripe_event_id, type, tenant_id, booking_id, payload,"
                    " stripe_created_at)"
                    " VALUES (CAST(:id AS uuid), :stripe_event_id, :type, CAST(:tenant_id AS uuid),"
                    " NULLIF(:booking_id, ''), CAST(:payload AS jsonb),"
                    " CASE WHEN :created > 0 THEN to_timestamp(:created) END)"
                    " ON CONFLICT (stripe_event_id) DO NOTHING"
                ),
                {
                    "id": str(uuid.uuid4()),
                    "stripe_event_id": stripe_event_id,
                    "type": event_type,
                    "tenant_id": tenant_id,
                    "booking_id": booking_id,
                    "payload": payload.decode("utf-8"),
                    "created": stripe_created,
                },
            )
            event = await tx.event_by_stripe_id(stripe_event_id)
            assert event is not None
            return event


class PaymentsTx(RefundQueries, NoticeQueries):
    """The queries of one transaction."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def wait_for_peers(self) -> None:
        """Lets this transaction wait (bounded) for a row or key another transaction holds."""
        await self.conn.execute(
            text("SELECT set_config('lock_timeout', :ms, true), set_config('statement_timeout', :st, true)"),
            {"ms": f"{WAIT_FOR_PEER_MS}ms", "st": f"{WAIT_FOR_PEER_MS + 5000}ms"},
        )

    # --- checkout requests ----------------------------------------------------------------

    async def take_checkout_slot(
        self, tenant_id: str, client_ip: str, *, limit: int, window_seconds: int
    ) -> float | None:
        """Records a checkout of `client_ip` if fewer than `limit` were recorded in the last
        `window_seconds` (a sliding window) and answers None; otherwise records nothing and answers
        the seconds until the oldest of them leaves the window. Serialised per (tenant, address)."""
        params = {"t": tenant_id, "ip": client_ip, "w": window_seconds}
        await self.wait_for_peers()
        await self.conn.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
            {"k": f"mais.payments.checkout-rate:{tenant_id}:{client_ip}"},
        )
        await self.conn.execute(
            text(
                "DELETE FROM checkout_attempts WHERE tenant_id = :t AND client_ip = :ip"
                " AND attempted_at <= now() - make_interval(secs => :w)"
            ),
            params,
        )
        row = (
            await self.conn.execute(
                text(
                    "SELECT count(*) AS n, extract(epoch FROM min(attempted_at)"
                    " + make_interval(secs => :w) - clock_timestamp()) AS wait"
                    " FROM checkout_attempts WHERE tenant_id = :t AND client_ip = :ip"
                ),
                params,
            )
        ).one()
        if row.n >= limit:
            return max(float(row.wait or 0.0), 0.0)
        await self.conn.execute(
            text("INSERT INTO checkout_attempts (tenant_id, client_ip) VALUES (:t, :ip)"),
            params,
        )
        return None

    async def platform_totals(self) -> tuple[list[tuple[str, dict[str, int]]], int]:
        """Every tenant's ledger summed per currency and kind (destination charges only), and the count
        of FAILED events (platform scope)."""
        rows = (
            await self.conn.execute(
                # Only what was paid to a tenant's Connect account: a charge taken on the platform's
                # own account (before checkout required onboarding) is owed to nobody by Stripe.
                text(
                    "SELECT e.currency, e.kind, sum(e.amount_cents) AS total FROM ledger_entries e"
                    " JOIN payments p ON p.session_id = e.session_id"
                    " WHERE p.destination_account IS NOT NULL"
                    " GROUP BY e.currency, e.kind ORDER BY e.currency"
                )
            )
        ).all()
        per_currency: dict[str, dict[str, int]] = {}
        for row in rows:
            per_currency.setdefault(row.currency, {})[row.kind] = int(row.total)
        failed = await self.conn.scalar(text("SELECT count(*) FROM stripe_events WHERE status = 'FAILED'"))
        return list(per_currency.items()), int(failed or 0)

    async def platform_sums_by_month(self, months: int) -> list[tuple[str, str | None, str | None, int]]:
        """Every tenant's ledger (destination charges only, as platform_totals) summed per month of the
        last `months` calendar months (UTC, by when each line was recorded), currency and kind, oldest
        first: (YYYY-MM, currency, kind, cents); a month without lines is one row of (month, None,
        None, 0), so every month is present (platform scope)."""
        rows = (
            await self.conn.execute(
                text(
                    "SELECT to_char(m.month, 'YYYY-MM') AS month, e.currency, e.kind,"
                    " coalesce(sum(e.amount_cents), 0) AS total"
                    " FROM generate_series(date_trunc('month', now() AT TIME ZONE 'UTC')"
                    " - make_interval(months => :back), date_trunc('month', now() AT TIME ZONE 'UTC'),"
                    " interval '1 month') AS m(month)"
                    " LEFT JOIN (ledger_entries e JOIN payments p"
                    " ON p.session_id = e.session_id AND p.destination_account IS NOT NULL)"
                    " ON e.created_at >= m.month AT TIME ZONE 'UTC'"
                    " AND e.created_at < (m.month + interval '1 month') AT TIME ZONE 'UTC'"
                    " GROUP BY m.month, e.currency, e.kind ORDER BY m.month, e.currency, e.kind"
                ),
                {"back": months - 1},
            )
        ).all()
        return [(row.month, row.currency, row.kind, int(row.total)) for row in rows]

    async def tenant_sums(
        self, first: date, last: date, timezone: str
    ) -> list[tuple[str | None, str, str, int, int]]:
        """The transaction's tenant's ledger from `first` to `last` (days of `timezone`, both included)
        summed per (month, currency, kind), and per (currency, kind) for the whole period (month None):
        (month "YYYY-MM" | None, currency, kind, cents, distinct bookings)."""
        rows = (
            await self.conn.execute(
                text(
                    "SELECT to_char(created_at AT TIME ZONE :tz, 'YYYY-MM') AS month, currency, kind,"
                    " GROUPING(to_char(created_at AT TIME ZONE :tz, 'YYYY-MM')) AS whole,"
                    " sum(amount_cents) AS total, count(DISTINCT booking_id) AS bookings"
                    " FROM ledger_entries"
                    " WHERE created_at >= CAST(:first AS date)::timestamp AT TIME ZONE :tz"
                    " AND created_at < (CAST(:last AS date) + 1)::timestamp AT TIME ZONE :tz"
                    " GROUP BY GROUPING SETS"
                    " ((to_char(created_at AT TIME ZONE :tz, 'YYYY-MM'), currency, kind), (currency, kind))"
                    " ORDER BY whole, month, currency, kind"
                ),
                {"tz": timezone, "first": first, "last": last},
            )
        ).all()
        return [
            (None if row.whole else row.month, row.currency, row.kind, int(row.total), int(row.bookings))
            for row in rows
        ]

    async def webhook_health(
        self, *, dead_after_seconds: int, top: int
    ) -> tuple[int, int, datetime | None, list[tuple[str, int]]]:
        """Across tenants (platform scope): FAILED events, those FAILED and received longer than
        `dead_after_seconds` ago, when the oldest RECEIVED or FAILED event arrived, and the `top`
        tenants by FAILED events."""
        row = (
            await self.conn.execute(
                text(
                    "SELECT count(*) FILTER (WHERE status = 'FAILED') AS failed,"
                    " count(*) FILTER (WHERE status = 'FAILED'"
                    " AND received_at < now() - make_interval(secs => :dead)) AS dead,"
                    " min(received_at) AS oldest"
                    " FROM stripe_events WHERE status IN ('FAILED', 'RECEIVED')"
                ),
                {"dead": dead_after_seconds},
            )
        ).one()
        tenants = (
            await self.conn.execute(
                text(
                    "SELECT tenant_id::text AS tenant_id, count(*) AS failed FROM stripe_events"
                    " WHERE status = 'FAILED' AND tenant_id IS NOT NULL"
                    " GROUP BY tenant_id ORDER BY failed DESC, tenant_id LIMIT :top"
                ),
                {"top": top},
            )
        ).all()
        return int(row.failed), int(row.dead), row.oldest, [(t.tenant_id, int(t.failed)) for t in tenants]

    async def lock_idempotency_key(self, tenant_id: str, key: str) -> None:
        """Serialises checkouts with one Idempotency-Key until this transaction ends."""
        await self.wait_for_peers()
        await self.conn.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
            {"k": f"mais.payments.checkout:{tenant_id}:{key}"},
        )

    async def checkout_request(self, key: str) -> tuple[str, dict[str, Any]] | None:
        """(request hash, stored answer) for an Idempotency-Key of this tenant."""
        row = (
            await self.conn.execute(
                text("SELECT request_hash, response FROM checkout_requests WHERE idempotency_key = :k"),
                {"k": key},
            )
        ).first()
        if row is None:
            return None
        response = row.response if isinstance(row.response, dict) else json.loads(row.response)
        return str(row.request_hash), response

    async def save_checkout_request(
        self, tenant_id: str, key: str, request_hash: str, booking_id: str, response: dict[str, Any]
    ) -> None:
        """Keeps the answer given for an Idempotency-Key."""
        await self.conn.execute(
            text(
                "INSERT INTO checkout_requests"
                " (tenant_id, idempotency_key, request_hash, booking_id, response)"
                " VALUES (CAST(:t AS uuid), :k, :h, :b, CAST(:r AS jsonb))"
            ),
            {"t": tenant_id, "k": key, "h": request_hash, "b": booking_id, "r": json.dumps(response)},
        )

    async def delete_checkout_requests_before(self, cutoff: datetime, limit: int = 1000) -> int:
        """Forgets Idempotency-Key answers older than `cutoff` (Stripe keeps its own for 24 h)."""
        result = await self.conn.execute(
            text(
                "DELETE FROM checkout_requests WHERE ctid IN ("
                " SELECT ctid FROM checkout_requests WHERE created_at < :cutoff LIMIT :limit)"
            ),
            {"cutoff": cutoff, "limit": limit},
        )
        return int(result.rowcount or 0)

    # --- payments -------------------------------------------------------------------------

    async def insert_payment(self, payment: Payment) -> Payment:
        """Records a new Checkout Session (in `payment.status`: OPEN, or PAID for one rebuilt from
        its paid event); the row already there when the session is not new."""
        await self.conn.execute(
            text(
                "INSERT INTO payments (session_id, tenant_id, booking_id, amount_cents, currency,"
                " commission_bps, fee_cents, destination_account, checkout_url, expires_at, instalment_seq,"
                " status)"
                " VALUES (:session_id, CAST(:tenant_id AS uuid), :booking_id, :amount_cents, :currency,"
                " :commission_bps, :fee_cents, :destination_account, :checkout_url, :expires_at, :seq,"
                " :status)"
                " ON CONFLICT (session_id) DO NOTHING"
            ),
            {
                "session_id": payment.session_id,
                "tenant_id": payment.tenant_id,
                "booking_id": payment.booking_id,
                "amount_cents": payment.amount_cents,
                "currency": payment.currency,
                "commission_bps": payment.commission_bps,
                "fee_cents": payment.fee_cents,
                "destination_account": payment.destination_account,
                "checkout_url": payment.checkout_url,
                "expires_at": payment.expires_at,
                "seq": payment.instalment_seq,
                "status": str(payment.status),
            },
        )
        stored = await self.payment_by_session(payment.session_id)
        assert stored is not None
        return stored

    async def supersede(self, session_id: str) -> None:
        """Marks a resumed hold's old session REPLACED before its new one is recorded (never one that
        took money): the booking's live payment is always the session the couple may pay."""
        result = await self.conn.execute(
            text(
                "UPDATE payments SET status = 'REPLACED', updated_at = now()"
                " WHERE session_id = :s AND charge_id IS NULL AND status IN ('OPEN', 'EXPIRED')"
            ),
            {"s": session_id},
        )
        if not result.rowcount:
            raise Conflict("the booking's payment has moved on; it cannot take a new session")

    async def lapsed_open_payments(self, now: datetime, limit: int) -> list[Payment]:
        """OPEN payments whose session closed by `now`, oldest first, locked; rows another replica
        (or a webhook) holds are skipped, so every lapsed payment is handled by one transaction."""
        sql = (
            f"SELECT {_PAYMENT_COLUMNS} FROM payments"  # noqa: S608 - constant columns
            " WHERE status = 'OPEN' AND expires_at <= :now ORDER BY expires_at LIMIT :limit"
            " FOR UPDATE SKIP LOCKED"
        )
        return [_payment(r) for r in await self.conn.execute(text(sql), {"now": now, "limit": limit})]

    async def payment_by_session(self, session_id: str, *, lock: bool = False) -> Payment | None:
        """The payment of a Checkout Session (FOR UPDATE when `lock`)."""
        sql = f"SELECT {_PAYMENT_COLUMNS} FROM payments WHERE session_id = :s"  # noqa: S608 - constant columns
        row = (
            await self.conn.execute(text(sql + (" FOR UPDATE" if lock else "")), {"s": session_id})
        ).first()
        return None if row is None else _payment(row)

    async def payment_by_booking(self, booking_id: str, *, lock: bool = False) -> Payment | None:
        """The checkout's payment of a booking (instalment 1), not a session it replaced (FOR UPDATE
        when `lock`). Later instalments' payments: `instalment_payments`."""
        sql = (
            f"SELECT {_PAYMENT_COLUMNS} FROM payments"  # noqa: S608 - constant columns
            " WHERE booking_id = :b AND status <> 'REPLACED' AND instalment_seq = 1"
        )
        row = (
            await self.conn.execute(text(sql + (" FOR UPDATE" if lock else "")), {"b": booking_id})
        ).first()
        return None if row is None else _payment(row)

    async def instalment_payments(self, booking_id: str, seq: int) -> list[Payment]:
        """Every session ever opened for one instalment of a booking, oldest first (bounded: a few
        tries a day at most)."""
        sql = (
            f"SELECT {_PAYMENT_COLUMNS} FROM payments"  # noqa: S608 - constant columns
            " WHERE booking_id = :b AND instalment_seq = :q ORDER BY created_at, session_id LIMIT 200"
        )
        return [_payment(r) for r in await self.conn.execute(text(sql), {"b": booking_id, "q": seq})]

    # --- instalments ----------------------------------------------------------------------

    async def replace_schedule(
        self,
        tenant_id: str,
        booking_id: str,
        planned: list[NewInstalment],
        *,
        currency: str,
        timezone: str,
        grace_days: int,
        reminder_days: int,
        overdue_action: str,
        deposit_refundable: bool,
        event_date: date | None = None,
    ) -> None:
        """Writes a held booking's schedule, replacing the one an earlier session of the same hold
        planned (nothing of it was paid: the booking is not confirmed)."""
        await self.conn.execute(
            text(
                "DELETE FROM instalments WHERE booking_id = :b AND paid_cents = 0 AND NOT paid_offline"
                " AND status IN ('DUE', 'OVERDUE', 'CANCELLED')"
            ),
            {"b": booking_id},
        )
        for part in planned:
            await self.conn.execute(
                text(
                    "INSERT INTO instalments (tenant_id, booking_id, seq, kind, amount_cents, currency,"
                    " due_date, timezone, grace_days, reminder_days, overdue_action, deposit_refundable,"
                    " event_date) VALUES (CAST(:t AS uuid), :b, :q, :k, :a, :c, :d, :tz, :g, :r, :o, :dr, :e)"
                    " ON CONFLICT (tenant_id, booking_id, seq) DO NOTHING"
                ),
                {
                    "t": tenant_id,
                    "b": booking_id,
                    "q": part.seq,
                    "k": part.kind,
                    "a": part.amount_cents,
                    "c": currency,
                    "d": part.due_date,
                    "tz": timezone,
                    "g": grace_days,
                    "r": reminder_days,
                    "o": overdue_action,
                    "dr": deposit_refundable,
                    "e": event_date,
                },
            )

    async def instalments(self, booking_id: str, *, lock: bool = False) -> list[Instalment]:
        """A booking's schedule by seq (FOR UPDATE when `lock`)."""
        sql = (
            f"SELECT {_INSTALMENT_COLUMNS} FROM instalments"  # noqa: S608 - constant columns
            " WHERE booking_id = :b ORDER BY seq LIMIT 12"
        )
        rows = await self.conn.execute(text(sql + (" FOR UPDATE" if lock else "")), {"b": booking_id})
        return [instalment_of(r) for r in rows]

    async def schedule_event_date(self, booking_id: str) -> date | None:
        """The event date the booking's due dates were planned against (None before issue 16)."""
        row = (
            await self.conn.execute(
                text("SELECT max(event_date) AS e FROM instalments WHERE booking_id = :b"), {"b": booking_id}
            )
        ).first()
        return row.e if row is not None else None

    async def set_schedule_event_date(self, booking_id: str, event_date: date) -> None:
        """The booking's schedule now counts from `event_date`."""
        await self.conn.execute(
            text("UPDATE instalments SET event_date = :e, updated_at = now() WHERE booking_id = :b"),
            {"b": booking_id, "e": event_date},
        )

    async def instalment(self, booking_id: str, seq: int, *, lock: bool = False) -> Instalment | None:
        """One instalment (FOR UPDATE when `lock`: its payments queue here)."""
        sql = (
            f"SELECT {_INSTALMENT_COLUMNS} FROM instalments"  # noqa: S608 - constant columns
            " WHERE booking_id = :b AND seq = :q"
        )
        row = (
            await self.conn.execute(text(sql + (" FOR UPDATE" if lock else "")), {"b": booking_id, "q": seq})
        ).first()
        return None if row is None else instalment_of(row)

    async def mark_instalment_paid(
        self, booking_id: str, seq: int, *, session_id: str, paid_cents: int, fee_cents: int
    ) -> None:
        """An owed instalment paid in full by `session_id`."""
        await self.conn.execute(
            text(
                "UPDATE instalments SET status = 'PAID', session_id = :s, paid_cents = :p, fee_cents = :f,"
                " paid_at = now(), updated_at = now()"
                " WHERE booking_id = :b AND seq = :q AND status IN ('DUE', 'OVERDUE')"
            ),
            {"s": session_id, "p": paid_cents, "f": fee_cents, "b": booking_id, "q": seq},
        )

    async def set_instalment_session(self, booking_id: str, seq: int, session_id: str | None) -> None:
        """Names an owed instalment's open session (None: it has none any more)."""
        await self.conn.execute(
            text(
                "UPDATE instalments SET session_id = :s, updated_at = now()"
                " WHERE booking_id = :b AND seq = :q AND status IN ('DUE', 'OVERDUE')"
            ),
            {"s": session_id, "b": booking_id, "q": seq},
        )

    async def forget_instalment_session(self, booking_id: str, seq: int, session_id: str) -> None:
        """An owed instalment's session closed unpaid: it has no open session any more."""
        await self.conn.execute(
            text(
                "UPDATE instalments SET session_id = NULL, updated_at = now()"
                " WHERE booking_id = :b AND seq = :q AND session_id = :s AND status IN ('DUE', 'OVERDUE')"
            ),
            {"b": booking_id, "q": seq, "s": session_id},
        )

    async def cancel_schedule_of_session(self, booking_id: str, session_id: str) -> None:
        """The checkout session `session_id` closed unpaid and its hold went with it: the schedule it
        started is owed no more (a resumed hold's newer schedule, started by another session, stays)."""
        await self.conn.execute(
            text(
                "UPDATE instalments SET status = 'CANCELLED', updated_at = now()"
                " WHERE booking_id = :b AND status IN ('DUE', 'OVERDUE') AND EXISTS ("
                " SELECT 1 FROM instalments first WHERE first.tenant_id = instalments.tenant_id"
                " AND first.booking_id = :b AND first.seq = 1 AND first.session_id = :s"
                " AND first.status IN ('DUE', 'OVERDUE'))"
            ),
            {"b": booking_id, "s": session_id},
        )

    async def payment_by_intent(self, payment_intent_id: str, *, lock: bool = False) -> Payment | None:
        """The payment of a Stripe PaymentIntent (FOR UPDATE when `lock`)."""
        sql = f"SELECT {_PAYMENT_COLUMNS} FROM payments WHERE payment_intent_id = :p"  # noqa: S608
        row = (
            await self.conn.execute(text(sql + (" FOR UPDATE" if lock else "")), {"p": payment_intent_id})
        ).first()
        return None if row is None else _payment(row)

    async def set_payment_status(self, session_id: str, status: str) -> None:
        """Moves a payment to OPEN / PAID / EXPIRED / HOLD_LOST / REPLACED."""
        await self.conn.execute(
            text("UPDATE payments SET status = :st, updated_at = now() WHERE session_id = :s"),
            {"st": status, "s": session_id},
        )

    async def set_payment_objects(
        self, session_id: str, *, payment_intent_id: str, charge_id: str, application_fee_id: str | None
    ) -> None:
        """Records the Stripe objects the payment created."""
        await self.conn.execute(
            text(
                "UPDATE payments SET payment_intent_id = :pi, charge_id = :ch,"
                " application_fee_id = COALESCE(:fee, application_fee_id), updated_at = now()"
                " WHERE session_id = :s"
            ),
            {"pi": payment_intent_id, "ch": charge_id, "fee": application_fee_id, "s": session_id},
        )

    # --- ledger ---------------------------------------------------------------------------

    async def add_entry(
        self,
        payment: Payment,
        kind: EntryKind,
        amount_cents: int,
        stripe_object_id: str,
        *,
        refund_request_id: str | None = None,
    ) -> bool:
        """Records one money movement; False when that Stripe object is already in the ledger."""
        result = await self.conn.execute(
            text(
                "INSERT INTO ledger_entries (id, tenant_id, booking_id, session_id, kind, amount_cents,"
                " currency, stripe_object_id, refund_request_id)"
                " VALUES (CAST(:id AS uuid), CAST(:t AS uuid), :b, :s, :kind, :amount, :currency, :obj, :req)"
                " ON CONFLICT (kind, stripe_object_id) DO NOTHING"
            ),
            {
                "id": str(uuid.uuid4()),
                "t": payment.tenant_id,
                "b": payment.booking_id,
                "s": payment.session_id,
                "kind": kind.value,
                "amount": amount_cents,
                "currency": payment.currency,
                "obj": stripe_object_id,
                "req": refund_request_id,
            },
        )
        return bool(result.rowcount)

    async def ledger(self, booking_id: str) -> list[LedgerEntry]:
        """A booking's entries, oldest first (a booking has one payment, so at most a few rows)."""
        rows = await self.conn.execute(
            text(
                "SELECT e.id::text AS id, e.booking_id, e.kind, e.amount_cents, e.currency,"
                " e.stripe_object_id, e.created_at, COALESCE(p.instalment_seq, 0) AS instalment_seq"
                " FROM ledger_entries e LEFT JOIN payments p ON p.session_id = e.session_id"
                " WHERE e.booking_id = :b ORDER BY e.created_at, e.id LIMIT 1000"
            ),
            {"b": booking_id},
        )
        return [
            LedgerEntry(
                id=r.id,
                booking_id=r.booking_id,
                kind=EntryKind(r.kind),
                amount_cents=int(r.amount_cents),
                currency=r.currency,
                stripe_object_id=r.stripe_object_id,
                created_at=r.created_at,
                instalment_seq=int(r.instalment_seq),
            )
            for r in rows
        ]

    async def totals(self, session_id: str) -> LedgerTotals:
        """The ledger totals of one payment."""
        rows = await self.conn.execute(
            text(
                "SELECT kind, COALESCE(SUM(amount_cents), 0) AS total FROM ledger_entries"
                " WHERE session_id = :s GROUP BY kind"
            ),
            {"s": session_id},
        )
        return LedgerTotals.of((EntryKind(r.kind), int(r.total)) for r in rows)

    async def recorded_request_ids(self, session_id: str, kind: EntryKind) -> set[str]:
        """The refund request ids whose `kind` entry is already in the ledger."""
        rows = await self.conn.execute(
            text(
                "SELECT DISTINCT refund_request_id FROM ledger_entries"
                " WHERE session_id = :s AND kind = :k AND refund_request_id IS NOT NULL"
            ),
            {"s": session_id, "k": kind.value},
        )
        return {str(r.refund_request_id) for r in rows}

    # --- refund requests ------------------------------------------------------------------

    async def refund_request(self, request_id: str) -> RefundRequest | None:
        """One of this tenant's refund requests."""
        sql = f"SELECT {_REFUND_COLUMNS} FROM refund_requests WHERE request_id = :r"  # noqa: S608
        row = (await self.conn.execute(text(sql), {"r": request_id})).first()
        return None if row is None else _refund(row)

    async def pending_refunds(self, session_id: str) -> list[RefundRequest]:
        """Refunds reserved on a payment and not yet finished."""
        sql = (
            f"SELECT {_REFUND_COLUMNS} FROM refund_requests"  # noqa: S608 - constant columns
            " WHERE session_id = :s AND status = 'PENDING' ORDER BY created_at LIMIT 1000"
        )
        return [_refund(r) for r in await self.conn.execute(text(sql), {"s": session_id})]

    async def reserve_refund(self, payment: Payment, request: RefundRequest) -> None:
        """Reserves a refund before Stripe is asked for it."""
        await self.conn.execute(
            text(
                "INSERT INTO refund_requests (tenant_id, request_id, booking_id, session_id, choice,"
                " amount_cents, fee_refund_cents)"
                " VALUES (CAST(:t AS uuid), :r, :b, :s, :c, :a, :f)"
            ),
            {
                "t": payment.tenant_id,
                "r": request.request_id,
                "b": request.booking_id,
                "s": request.session_id,
                "c": request.choice,
                "a": request.amount_cents,
                "f": request.fee_refund_cents,
            },
        )

    async def finish_refund(self, request_id: str, refund_id: str, fee_refund_id: str | None) -> None:
        """Marks a reserved refund done, with the Stripe objects it made."""
        await self.conn.execute(
            text(
                "UPDATE refund_requests SET status = 'SUCCEEDED', stripe_refund_id = :re,"
                " stripe_fee_refund_id = :fr, updated_at = now() WHERE request_id = :r"
            ),
            {"re": refund_id, "fr": fee_refund_id, "r": request_id},
        )

    async def drop_refund(self, request_id: str) -> None:
        """Forgets a reservation Stripe definitely refused (nothing was refunded)."""
        await self.conn.execute(
            text("DELETE FROM refund_requests WHERE request_id = :r AND status = 'PENDING'"),
            {"r": request_id},
        )

    # --- the inbox ------------------------------------------------------------------------

    async def event_by_stripe_id(self, stripe_event_id: str, *, lock: bool = False) -> InboxEvent | None:
        """A stored event by Stripe's id (FOR UPDATE when `lock`: concurrent duplicates queue here)."""
        sql = f"SELECT {_EVENT_COLUMNS} FROM stripe_events WHERE stripe_event_id = :e"  # noqa: S608
        row = (
            await self.conn.execute(text(sql + (" FOR UPDATE" if lock else "")), {"e": stripe_event_id})
        ).first()
        return None if row is None else _event(row)

    async def event(self, event_id: str) -> InboxEvent | None:
        """A stored event by our id (visible ones only)."""
        try:
            uuid.UUID(event_id)
        except ValueError:
            return None
        sql = f"SELECT {_EVENT_COLUMNS} FROM stripe_events WHERE id = CAST(:i AS uuid)"  # noqa: S608
        row = (await self.conn.execute(text(sql), {"i": event_id})).first()
        return None if row is None else _event(row)

    async def set_event_tenant(self, stripe_event_id: str, tenant_id: str, booking_id: str) -> None:
        """Names the tenant an event turned out to belong to (platform transaction)."""
        await self.conn.execute(
            text(
                "UPDATE stripe_events SET tenant_id = CAST(:t AS uuid),"
                " booking_id = COALESCE(NULLIF(:b, ''), booking_id), updated_at = now()"
                " WHERE stripe_event_id = :e AND tenant_id IS NULL"
            ),
            {"t": tenant_id, "b": booking_id, "e": stripe_event_id},
        )

    async def mark_event(
        self, stripe_event_id: str, status: EventStatus, *, error: str | None = None, attempted: bool = True
    ) -> None:
        """Records an attempt's outcome: PROCESSED / IGNORED (done) or FAILED with a short error code."""
        await self.conn.execute(
            text(
                "UPDATE stripe_events SET status = :st, attempts = attempts + :n, last_error = :err,"
                " processed_at = CASE WHEN :st IN ('PROCESSED', 'IGNORED') THEN now() ELSE processed_at END,"
                " updated_at = now() WHERE stripe_event_id = :e"
            ),
            {"st": status.value, "n": 1 if attempted else 0, "err": error, "e": stripe_event_id},
        )

    async def mark_failed_unless_settled(self, stripe_event_id: str, error: str) -> None:
        """FAILED after an attempt whose own transaction broke; never overwrites a settled event."""
        await self.conn.execute(
            text(
                "UPDATE stripe_events SET status = 'FAILED', attempts = attempts + 1, last_error = :err,"
                " updated_at = now() WHERE stripe_event_id = :e AND status IN ('RECEIVED', 'FAILED')"
            ),
            {"err": error, "e": stripe_event_id},
        )

    async def list_events(
        self, *, status: EventStatus | None, limit: int, after: tuple[datetime, str] | None
    ) -> list[InboxEvent]:
        """Visible events newest first, `limit` of them after the cursor (received_at, id)."""
        where = ["TRUE"]
        params: dict[str, Any] = {"limit": limit}
        if status is not None:
            where.append("status = :status")
            params["status"] = status.value
        if after is not None:
            where.append("(received_at, id) < (:at, CAST(:id AS uuid))")
            params["at"], params["id"] = after
        sql = (
            f"SELECT {_EVENT_COLUMNS} FROM stripe_events WHERE {' AND '.join(where)}"  # noqa: S608 - ours
            " ORDER BY received_at DESC, id DESC LIMIT :limit"
        )
        return [_event(r) for r in await self.conn.execute(text(sql), params)]


def utc_now() -> datetime:
    """The current instant, timezone-aware."""
    return datetime.now(UTC)
