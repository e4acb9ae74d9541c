"""The booking schema's queries and transactions (SQLAlchemy Core over asyncpg).

`BookingStore` opens transactions with the right row-level-security scope; `BookingTx` holds the
query verbs one transaction runs. The use cases (use_cases.py) decide what a change means, in which
order the checks run, what history says and which email goes out; this module only reads and writes.

Every change to which booking occupies a date (hold, confirm, release, cancel, blackout) runs in one
READ COMMITTED transaction that first takes a transaction-scoped advisory lock on a 64-bit key of
(tenant, date) (`lock_date`). Those transactions are therefore serialised per date and each one sees
what the one before it committed; the partial unique index over live rows is the last line of defence.
A new hold also takes the couple's and the client address's keys first (`lock_holder`), always in
that order and before the date's, so concurrent holds cannot exceed the per-couple and per-address
bounds and no two transactions wait on each other in a cycle.
"""

# Queries are assembled only from this module's constant column lists and clauses; every value is a
# bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from mais_runtime.db import AsyncConnection, Database, text
from mais_runtime.errors import NotFound
from mais_runtime.mail import Mail
from mais_runtime.outbox import QueuedMail, enqueue, enqueue_template
from services.booking import domain
from services.booking.domain import (
    Blackout,
    Booking,
    BookingFilter,
    CoupleDetails,
    HistoryEntry,
    LiveHolds,
    Quote,
    Reason,
    SlotHold,
    Status,
)
from services.booking.metrics import LOCK_WAIT
from services.booking.store_confirm import ConfirmQueries
from services.booking.store_hours import HoursQueries
from services.booking.store_slots import SlotQueries

_COLUMNS = (
    "id, tenant_id, event_date, status, customer_id, couple_name, email, phone, notes, package_id, quote,"
    " total_cents, currency, payment_session_id, hold_expires_at, amount_paid_cents, amount_refunded_cents,"
    " cancel_reason, created_at, updated_at, client_address, kind, starts_at, ends_at, resource_id,"
    " buffer_before_minutes, buffer_after_minutes"
)
_LIVE = "(status = 'CONFIRMED' OR (status = 'HELD' AND hold_expires_at > clock_timestamp()))"
_LIVE_HOLD = "status = 'HELD' AND hold_expires_at > clock_timestamp()"
_EXPIRED_HOLD = "status = 'HELD' AND hold_expires_at <= clock_timestamp()"
# The transaction's tenant, said in the query as well: row-level security already keeps other tenants'
# rows out, but its condition is no index condition, and every index of these tables leads with
# tenant_id. Without it a lookup by date, email or request id walks every tenant's entries (found by
# pg_stat_statements: the glance read 125 buffers per call with a few hundred bookings in the table).
# Only in a tenant's transaction (the platform's has no tenant).
_MINE = "tenant_id = CAST(:tenant AS uuid)"
# What a hold may be refused for before taking the date's lock, and what it must do under it (see
# BookingTx.glance).
_GLANCE = (
    f"SELECT EXISTS (SELECT 1 FROM bookings WHERE {_MINE} AND request_id = :rid) AS known,"
    f" EXISTS (SELECT 1 FROM blackouts WHERE {_MINE} AND date = :day) AS blacked_out,"
    f" (SELECT status FROM bookings WHERE {_MINE} AND event_date = :day AND " + _LIVE + " LIMIT 1) AS live,"
    f" EXISTS (SELECT 1 FROM bookings WHERE {_MINE} AND event_date = :day AND "
    + _LIVE_HOLD
    + " AND email = :email) AS own_hold,"
    f" EXISTS (SELECT 1 FROM bookings WHERE {_MINE} AND event_date = :day AND "
    + _EXPIRED_HOLD
    + ") AS expired"
)


# The public calendar's read: the live bookings of a range of dates.
_TAKEN_DATES = (
    f"SELECT event_date, status FROM bookings WHERE {_MINE} AND event_date BETWEEN :first AND :last"
    f" AND {_LIVE}"
)

# A date's live bookings read at most this many at once for a shared early refusal (a whole day has
# one; time slots may have more): beyond it the date is not judged on the shared read.
MAX_LIVE_SEEN = 50
_OCCUPANCY = (
    f"SELECT EXISTS (SELECT 1 FROM blackouts WHERE {_MINE} AND date = :day) AS blacked_out,"
    " b.status, b.email, b.request_id FROM (SELECT 1) AS one"
    " LEFT JOIN LATERAL (SELECT status, email, request_id FROM bookings"
    f" WHERE {_MINE} AND event_date = :day AND " + _LIVE + f" LIMIT {MAX_LIVE_SEEN + 1}) AS b ON true"
)


@dataclass(frozen=True)
class LiveBooking:
    """A live booking of a date, as much as an early refusal needs of it."""

    status: Status
    email: str
    request_id: str


@dataclass(frozen=True)
class DateOccupancy:
    """A date's blackout and live bookings without its lock: what any couple's hold would be refused
    for before its lock, read once for every hold of the date asking at that moment."""

    blacked_out: bool
    live: tuple[LiveBooking, ...]

    @property
    def complete(self) -> bool:
        """False when the date has more live bookings than were read."""
        return len(self.live) <= MAX_LIVE_SEEN


@dataclass(frozen=True)
class DateGlance:
    """What a date looks like before its lock is taken: enough to refuse a hopeless hold early."""

    request_known: bool
    blacked_out: bool
    live: Status | None
    own_hold: bool
    # A hold of the date whose time ran out (it still takes the date's place in the unique index).
    expired_hold: bool = False


class BookingStore:
    """Transactions on the booking schema."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @asynccontextmanager
    async def tenant(self, tenant_id: str) -> AsyncIterator[BookingTx]:
        """A transaction that sees only `tenant_id`'s rows."""
        async with self.db.tenant_transaction(tenant_id) as conn:
            yield BookingTx(conn, tenant_id)

    @asynccontextmanager
    async def platform(self) -> AsyncIterator[BookingTx]:
        """A cross-tenant transaction: the reminder and expiry sweeps, the platform admin's counts."""
        async with self.db.platform_transaction() as conn:
            yield BookingTx(conn, "")


class BookingTx(SlotQueries, HoursQueries, ConfirmQueries):
    """Queries inside one transaction (a tenant's, or the platform's when `tenant_id` is empty)."""

    def __init__(self, conn: AsyncConnection, tenant_id: str) -> None:
        self.conn = conn
        self.tenant_id = tenant_id

    # --- locks -------------------------------------------------------------------------------

    async def lock_date(self, day: date) -> None:
        """Waits for, then holds until commit, the (tenant, date) lock every occupying change takes."""
        await self._lock(f"{self.tenant_id}:{day.isoformat()}")

    async def lock_holder(self, email: str, client_address: str) -> None:
        """The couple's, then the client address's, lock: taken by a new hold before the date's, so
        that counting their live holds and adding one is atomic across dates."""
        if not client_address:
            await self._lock(f"{self.tenant_id}:email:{email}")
            return
        # Both in one round trip: a target list is evaluated in order, so the couple's lock is still
        # taken before the address's (and neither statement reads rows, so no snapshot goes stale).
        started = time.perf_counter()
        await self.conn.execute(
            text(
                "SELECT pg_advisory_xact_lock(hashtextextended(:email_key, 0)),"
                " pg_advisory_xact_lock(hashtextextended(:address_key, 0))"
            ),
            {
                "email_key": f"{self.tenant_id}:email:{email}",
                "address_key": f"{self.tenant_id}:address:{client_address}",
            },
        )
        LOCK_WAIT.observe(time.perf_counter() - started)

    async def _lock(self, key: str) -> None:
        # hashtextextended gives a 64-bit key: 32-bit hashes collide often enough to serialise
        # unrelated dates of unrelated tenants.
        started = time.perf_counter()
        await self.conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key})
        LOCK_WAIT.observe(time.perf_counter() - started)

    # --- bookings ----------------------------------------------------------------------------

    async def booking(
        self, booking_id: str, *, for_update: bool = False, with_history: bool = False
    ) -> Booking:
        """One booking of this tenant, or NotFound (also for another tenant's booking)."""
        lock = " FOR UPDATE" if for_update else ""
        row = (
            (
                await self.conn.execute(
                    text(f"SELECT {_COLUMNS} FROM bookings WHERE id = :id{lock}"), {"id": booking_id}
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            raise NotFound("booking")
        history: tuple[HistoryEntry, ...] = ()
        if with_history:
            entries = await self.conn.execute(
                text(
                    "SELECT from_status, to_status, actor, reason, at FROM booking_history"
                    " WHERE booking_id = :id ORDER BY id"
                ),
                {"id": booking_id},
            )
            history = tuple(
                HistoryEntry(e.from_status, e.to_status, e.actor, e.reason, e.at) for e in entries
            )
        return _booking(row, history)

    async def booking_by_request(self, request_id: str) -> Booking | None:
        """The booking an earlier hold with this request id created, if any."""
        if not request_id:
            return None
        row = (
            (
                await self.conn.execute(
                    text(f"SELECT {_COLUMNS} FROM bookings WHERE {_MINE} AND request_id = :rid"),
                    {"tenant": self.tenant_id, "rid": request_id},
                )
            )
            .mappings()
            .first()
        )
        return _booking(row) if row else None

    async def date_of(self, booking_id: str) -> date:
        """The event date of a booking (read before its date's lock is taken), or NotFound."""
        day = await self.conn.scalar(
            text("SELECT event_date FROM bookings WHERE id = :id"), {"id": booking_id}
        )
        if day is None:
            raise NotFound("booking")
        return day  # type: ignore[no-any-return]

    async def glance(self, day: date, request_id: str, email: str) -> DateGlance:
        """The date's state in one round trip: before its lock, enough to refuse a hopeless hold;
        under it (the date's and the couple's locks held), everything a whole-day hold decides on."""
        row = (
            await self.conn.execute(
                text(_GLANCE), {"tenant": self.tenant_id, "rid": request_id, "day": day, "email": email}
            )
        ).one()
        return DateGlance(
            bool(row.known),
            bool(row.blacked_out),
            Status(row.live) if row.live else None,
            bool(row.own_hold),
            bool(row.expired),
        )

    async def occupancy(self, day: date) -> DateOccupancy:
        """The date's blackout and live bookings (at most MAX_LIVE_SEEN + 1), in one round trip."""
        rows = (await self.conn.execute(text(_OCCUPANCY), {"tenant": self.tenant_id, "day": day})).all()
        return DateOccupancy(
            bool(rows[0].blacked_out) if rows else False,
            tuple(LiveBooking(Status(r.status), r.email or "", r.request_id or "") for r in rows if r.status),
        )

    async def live_status(self, day: date, *, other_than: str = "") -> Status | None:
        """The status of the live booking on `day` (other than `other_than`), if any."""
        status = await self.conn.scalar(
            text(
                f"SELECT status FROM bookings WHERE {_MINE} AND event_date = :day AND {_LIVE}"
                " AND id <> :other"
            ),
            {"tenant": self.tenant_id, "day": day, "other": other_than},
        )
        return Status(status) if status else None

    async def live_hold_of(self, day: date, email: str) -> Booking | None:
        """The couple's own live hold on `day`, locked, if they have one."""
        row = (
            (
                await self.conn.execute(
                    text(
                        f"SELECT {_COLUMNS} FROM bookings WHERE {_MINE} AND event_date = :day"
                        f" AND email = :email AND {_LIVE_HOLD} FOR UPDATE"
                    ),
                    {"tenant": self.tenant_id, "day": day, "email": email},
                )
            )
            .mappings()
            .first()
        )
        return _booking(row) if row else None

    async def live_slot_hold_of(self, resource_id: str, starts_at: datetime, email: str) -> Booking | None:
        """The couple's own live hold of the slot starting at `starts_at` on the resource, locked."""
        row = (
            (
                await self.conn.execute(
                    text(
                        f"SELECT {_COLUMNS} FROM bookings WHERE {_MINE} AND kind = 'SLOT'"
                        " AND resource_id = :r AND starts_at = :at AND email = :email"
                        f" AND {_LIVE_HOLD} FOR UPDATE"
                    ),
                    {"tenant": self.tenant_id, "r": resource_id, "at": starts_at, "email": email},
                )
            )
            .mappings()
            .first()
        )
        return _booking(row) if row else None

    async def live_holds_of(self, email: str, client_address: str) -> tuple[LiveHolds, LiveHolds | None]:
        """`live_holds` of the couple and (when given) of the client address, in one round trip."""
        if not client_address:
            return await self.live_holds(email=email), None
        row = (
            await self.conn.execute(
                text(
                    "SELECT count(*) FILTER (WHERE email = :e) AS ne,"
                    " min(hold_expires_at) FILTER (WHERE email = :e) AS fe,"
                    " count(*) FILTER (WHERE client_address = :a) AS na,"
                    " min(hold_expires_at) FILTER (WHERE client_address = :a) AS fa"
                    f" FROM bookings WHERE {_MINE} AND (email = :e OR client_address = :a) AND {_LIVE_HOLD}"
                ),
                {"tenant": self.tenant_id, "e": email, "a": client_address},
            )
        ).one()
        return LiveHolds(int(row.ne), row.fe), LiveHolds(int(row.na), row.fa)

    async def live_holds(self, *, email: str = "", client_address: str = "") -> LiveHolds:
        """How many live holds the couple (or the address) has in this tenant, and when the first ends."""
        column, value = ("email", email) if email else ("client_address", client_address)
        row = (
            await self.conn.execute(
                text(
                    "SELECT count(*) AS n, min(hold_expires_at) AS first FROM bookings"
                    f" WHERE {_MINE} AND {column} = :v AND {_LIVE_HOLD}"
                ),
                {"tenant": self.tenant_id, "v": value},
            )
        ).one()
        return LiveHolds(int(row.n), row.first)

    async def hold_expired(self, booking_id: str) -> bool:
        """True when the booking is a hold whose time ran out (by the database's clock)."""
        return bool(
            await self.conn.scalar(
                text("SELECT hold_expires_at <= clock_timestamp() FROM bookings WHERE id = :id"),
                {"id": booking_id},
            )
        )

    async def release_expired_holds_on(self, day: date, *, keep: str = "") -> list[str]:
        """Moves expired holds on `day` (other than `keep`) to RELEASED, so that they no longer occupy
        the date's slot in the unique index; returns their ids."""
        released = await self.conn.execute(
            text(
                "UPDATE bookings SET status = 'RELEASED', updated_at = clock_timestamp()"
                f" WHERE {_MINE} AND event_date = :day AND {_EXPIRED_HOLD} AND id <> :keep RETURNING id"
            ),
            {"tenant": self.tenant_id, "day": day, "keep": keep},
        )
        return [row.id for row in released]

    async def upsert_customer(self, couple: CoupleDetails) -> str:
        """The customer of this normalised email (the latest name and phone win)."""
        customer_id = await self.conn.scalar(
            text(
                "INSERT INTO customers (id, tenant_id, email, name, phone)"
                " VALUES (:id, CAST(:tenant_id AS uuid), :email, :name, :phone)"
                " ON CONFLICT (tenant_id, email) DO UPDATE SET name = EXCLUDED.name,"
                " phone = CASE WHEN EXCLUDED.phone <> '' THEN EXCLUDED.phone ELSE customers.phone END,"
                " updated_at = now() RETURNING id"
            ),
            {
                "id": domain.new_id("cu_"),
                "tenant_id": self.tenant_id,
                "email": couple.email,
                "name": couple.name,
                "phone": couple.phone,
            },
        )
        return str(customer_id)

    async def insert_hold(
        self,
        booking_id: str,
        *,
        customer_id: str,
        day: date,
        couple: CoupleDetails,
        quote: Quote,
        request_id: str,
        client_address: str,
        minutes: int,
        slot: SlotHold | None = None,
    ) -> None:
        """A new HELD row, expiring `minutes` from now (the database's clock): a whole day, or with
        `slot` a time slot of one resource (its claim is written beside it, see SlotQueries.claim)."""
        await self.conn.execute(
            text(
                "INSERT INTO bookings (id, tenant_id, customer_id, event_date, status, couple_name,"
                " email, phone, notes, package_id, quote, total_cents, currency, request_id, client_address,"
                " hold_expires_at, kind, resource_id, starts_at, ends_at, buffer_before_minutes,"
                " buffer_after_minutes) VALUES (:id, CAST(:tenant_id AS uuid), :customer_id, :day, 'HELD',"
                " :name, :email, :phone, :notes, :package_id, CAST(:quote AS jsonb), :total, :currency,"
                " :request_id, :address, clock_timestamp() + make_interval(mins => :minutes),"
                " :kind, :resource_id, :starts_at, :ends_at, :before, :after)"
            ),
            {
                "kind": "SLOT" if slot else "DAY",
                "resource_id": slot.resource_id if slot else None,
                "starts_at": slot.slot.starts_at if slot else None,
                "ends_at": slot.slot.ends_at if slot else None,
                "before": slot.terms.buffer_before_minutes if slot else 0,
                "after": slot.terms.buffer_after_minutes if slot else 0,
                "id": booking_id,
                "tenant_id": self.tenant_id,
                "customer_id": customer_id,
                "day": day,
                "name": couple.name,
                "email": couple.email,
                "phone": couple.phone,
                "notes": couple.notes,
                "package_id": quote.package_id,
                "quote": json.dumps(dict(quote.document)),
                "total": quote.total_cents,
                "currency": quote.currency,
                "request_id": request_id or None,
                "address": client_address,
                "minutes": minutes,
            },
        )

    async def renew_hold(
        self, booking_id: str, *, couple: CoupleDetails, quote: Quote, minutes: int
    ) -> datetime:
        """A resumed hold takes the couple's latest details and quote, and runs at least `minutes` from
        now (never less than it had), but never past twice `minutes` from when it was made: coming back
        keeps a couple's date while they pay, it does not keep it forever; returns its expiry."""
        expires = await self.conn.scalar(
            text(
                "UPDATE bookings SET couple_name = :name, phone = :phone, notes = :notes,"
                " package_id = :package_id, quote = CAST(:quote AS jsonb), total_cents = :total,"
                " currency = :currency, updated_at = clock_timestamp(), hold_expires_at ="
                " greatest(hold_expires_at, least(clock_timestamp() + make_interval(mins => :minutes),"
                " created_at + make_interval(mins => 2 * :minutes)))"
                " WHERE id = :id RETURNING hold_expires_at"
            ),
            {
                "id": booking_id,
                "name": couple.name,
                "phone": couple.phone,
                "notes": couple.notes,
                "package_id": quote.package_id,
                "quote": json.dumps(dict(quote.document)),
                "total": quote.total_cents,
                "currency": quote.currency,
                "minutes": minutes,
            },
        )
        return expires  # type: ignore[no-any-return]

    async def set_payment_session(self, booking_id: str, session_id: str) -> None:
        """Links a booking to its checkout session."""
        await self.conn.execute(
            text(
                "UPDATE bookings SET payment_session_id = :session, updated_at = clock_timestamp()"
                " WHERE id = :id"
            ),
            {"session": session_id, "id": booking_id},
        )

    async def mark_cancelled(self, booking_id: str, reason: str) -> None:
        """CANCELLED, with its reason; no reminder any more."""
        await self.conn.execute(
            text(
                "UPDATE bookings SET status = 'CANCELLED', cancel_reason = :reason,"
                " remind_at = NULL, updated_at = clock_timestamp() WHERE id = :id"
            ),
            {"reason": reason, "id": booking_id},
        )

    async def set_status(self, booking_id: str, status: Status) -> None:
        """A plain status change."""
        await self.conn.execute(
            text("UPDATE bookings SET status = :status, updated_at = clock_timestamp() WHERE id = :id"),
            {"status": status.value, "id": booking_id},
        )

    async def set_refunded(self, booking_id: str, total_cents: int) -> None:
        """The cumulative refunded amount."""
        await self.conn.execute(
            text(
                "UPDATE bookings SET amount_refunded_cents = :total, updated_at = clock_timestamp()"
                " WHERE id = :id"
            ),
            {"total": total_cents, "id": booking_id},
        )

    async def add_refunded(self, booking_id: str, cents: int) -> None:
        """Adds one refund to the refunded amount."""
        await self.conn.execute(
            text(
                "UPDATE bookings SET amount_refunded_cents = amount_refunded_cents + :cents,"
                " updated_at = clock_timestamp() WHERE id = :id"
            ),
            {"cents": cents, "id": booking_id},
        )

    async def set_paid(self, booking_id: str, total_cents: int) -> None:
        """The cumulative paid amount (a later instalment's payment)."""
        await self.conn.execute(
            text(
                "UPDATE bookings SET amount_paid_cents = :total, updated_at = clock_timestamp()"
                " WHERE id = :id"
            ),
            {"total": total_cents, "id": booking_id},
        )

    async def effect_known(self, effect_key: str) -> bool:
        """Whether a schedule call keyed `effect_key` had its effect already."""
        found = await self.conn.execute(
            text("SELECT 1 FROM schedule_effects WHERE effect_key = :key"), {"key": effect_key}
        )
        return found.first() is not None

    async def claim_effect(self, booking_id: str, effect_key: str) -> bool:
        """Records that the schedule call keyed `effect_key` has its effect in this transaction; False
        when an earlier (committed) call had it. A concurrent call with the same key waits on the key's
        row and then answers False."""
        result = await self.conn.execute(
            text(
                "INSERT INTO schedule_effects (tenant_id, effect_key, booking_id)"
                " VALUES (CAST(:tenant_id AS uuid), :key, :booking_id) ON CONFLICT DO NOTHING"
            ),
            {"tenant_id": self.tenant_id, "key": effect_key, "booking_id": booking_id},
        )
        return bool(result.rowcount)

    async def record(
        self, booking_id: str, from_status: Status | str, to_status: Status | str, actor: str, reason: str
    ) -> None:
        """One history entry."""
        await self.conn.execute(
            text(
                "INSERT INTO booking_history (tenant_id, booking_id, from_status, to_status, actor, reason)"
                " VALUES (CAST(:tenant_id AS uuid), :booking_id, :from_status, :to_status, :actor, :reason)"
            ),
            {
                "tenant_id": self.tenant_id,
                "booking_id": booking_id,
                "from_status": str(from_status),
                "to_status": str(to_status),
                "actor": actor,
                "reason": reason,
            },
        )

    async def enqueue(self, mail: Mail | QueuedMail) -> bool:
        """Puts a message in the outbox in this transaction, keyed by its id; False when that id was
        enqueued before (the email was already decided). A QueuedMail (`emails.later`) is rendered
        by the outbox dispatcher when it sends, off this transaction."""
        if isinstance(mail, QueuedMail):
            return await enqueue_template(self.conn, tenant_id=self.tenant_id, mail=mail)
        return await enqueue(self.conn, tenant_id=self.tenant_id, dedupe_key=mail.message_id, mail=mail)

    # --- reads -------------------------------------------------------------------------------

    async def taken_dates(self, first: date, last: date) -> dict[date, Reason]:
        """Dates of [first, last] occupied by a live booking (booked/held) or a blackout."""
        bookings = await self.conn.execute(
            text(_TAKEN_DATES), {"tenant": self.tenant_id, "first": first, "last": last}
        )
        blackouts = await self.conn.execute(
            text(f"SELECT date FROM blackouts WHERE {_MINE} AND date BETWEEN :first AND :last"),
            {"tenant": self.tenant_id, "first": first, "last": last},
        )
        taken: dict[date, Reason] = {row.date: Reason.BLACKOUT for row in blackouts}
        # A live booking says more than a blackout (both at once only when a blackout was forced in).
        for row in bookings:
            taken[row.event_date] = domain.occupying_reason(Status(row.status))
        return taken

    async def bookings(
        self, filters: BookingFilter, limit: int, after: tuple[date, str] | None
    ) -> tuple[list[Booking], tuple[date, str] | None]:
        """A page of bookings in event-date order and the position after it. A HELD row past its expiry
        is filtered as RELEASED, which is what the expiry sweep makes of it."""
        clauses = ["TRUE"]
        params: dict[str, Any] = {"limit": limit + 1}
        if filters.status is Status.HELD:
            clauses.append(_LIVE_HOLD)
        elif filters.status is Status.RELEASED:
            clauses.append(f"(status = 'RELEASED' OR ({_EXPIRED_HOLD}))")
        elif filters.status is not None:
            clauses.append("status = :status")
            params["status"] = filters.status.value
        if filters.from_date is not None:
            clauses.append("event_date >= :from_date")
            params["from_date"] = filters.from_date
        if filters.to_date is not None:
            clauses.append("event_date <= :to_date")
            params["to_date"] = filters.to_date
        if filters.customer_email:
            clauses.append("email = :email")
            params["email"] = filters.customer_email
        if after is not None:
            clauses.append("(event_date, id) > (:after_date, :after_id)")
            params["after_date"], params["after_id"] = after
        query = text(
            f"SELECT {_COLUMNS} FROM bookings WHERE {' AND '.join(clauses)}"
            " ORDER BY event_date, id LIMIT :limit"
        )
        rows = (await self.conn.execute(query, params)).mappings().all()
        page = [_booking(row) for row in rows[:limit]]
        return page, ((page[-1].event_date, page[-1].id) if len(rows) > limit else None)

    async def count_package_bookings(self, package_id: str) -> int:
        """How many live bookings (held or confirmed) were sold with this package."""
        value = await self.conn.scalar(
            text(
                "SELECT count(*) FROM bookings WHERE package_id = :package_id"
                " AND status IN ('HELD', 'CONFIRMED')"
            ),
            {"package_id": package_id},
        )
        return int(value or 0)

    # --- calendar feed -----------------------------------------------------------------------

    async def feed_generation(self) -> int | None:
        """The generation of this tenant's calendar feed, None before it has one."""
        value = await self.conn.scalar(text("SELECT generation FROM calendar_feeds"))
        return None if value is None else int(value)

    async def create_feed(self, token_hash: bytes) -> None:
        """This tenant's feed at generation 1, unless it has one already."""
        await self.conn.execute(
            text(
                "INSERT INTO calendar_feeds (tenant_id, token_hash) VALUES (CAST(:t AS uuid), :h)"
                " ON CONFLICT (tenant_id) DO NOTHING"
            ),
            {"t": self.tenant_id, "h": token_hash},
        )

    async def lock_feed(self) -> tuple[int, str | None] | None:
        """This tenant's feed row (generation, last rotation's request id), locked until commit."""
        row = (
            await self.conn.execute(
                text("SELECT generation, rotation_request_id FROM calendar_feeds FOR UPDATE")
            )
        ).one_or_none()
        return None if row is None else (int(row.generation), row.rotation_request_id)

    async def rotate_feed(self, generation: int, token_hash: bytes, request_id: str | None) -> None:
        """Sets this tenant's feed to `generation` and its token's hash (the old token stops at once)."""
        await self.conn.execute(
            text(
                "UPDATE calendar_feeds SET generation = :g, token_hash = :h, rotation_request_id = :r,"
                " rotated_at = now()"
            ),
            {"g": generation, "h": token_hash, "r": request_id},
        )

    async def feed_owner(self, token_hash: bytes) -> str | None:
        """The tenant whose feed token has this hash (platform scope)."""
        value = await self.conn.scalar(
            text("SELECT tenant_id::text FROM calendar_feeds WHERE token_hash = :h"), {"h": token_hash}
        )
        return None if value is None else str(value)

    async def feed_events(self, since: date, limit: int) -> list[domain.FeedEntry]:
        """This tenant's CONFIRMED bookings from `since` in date order (a day's slots by their start),
        at most `limit`, each with the package's title as quoted."""
        rows = (
            await self.conn.execute(
                text(
                    "SELECT id, event_date, couple_name, quote, starts_at, ends_at FROM bookings"
                    " WHERE status = 'CONFIRMED' AND event_date >= :since"
                    " ORDER BY event_date, starts_at NULLS FIRST, id LIMIT :n"
                ),
                {"since": since, "n": limit},
            )
        ).all()
        events = []
        for row in rows:
            quote = json.loads(row.quote) if isinstance(row.quote, str) else (row.quote or {})
            lines = quote.get("lines", [])
            title = next((str(x.get("title", "")) for x in lines if x.get("kind") == "package"), "")
            events.append(
                domain.FeedEntry(row.id, row.event_date, row.couple_name, title, row.starts_at, row.ends_at)
            )
        return events

    async def count_all(self) -> dict[str, int]:
        """Bookings by state across the transaction's scope. An expired hold counts as released."""
        row = (
            (
                await self.conn.execute(
                    text(
                        f"SELECT count(*) FILTER (WHERE {_LIVE_HOLD}) AS live_holds,"
                        " count(*) FILTER (WHERE status = 'CONFIRMED') AS confirmed,"
                        " count(*) FILTER (WHERE status = 'CONFIRMED'"
                        " AND event_date >= (now() AT TIME ZONE 'UTC')::date) AS upcoming,"
                        f" count(*) FILTER (WHERE status = 'RELEASED' OR ({_EXPIRED_HOLD})) AS released,"
                        " count(*) FILTER (WHERE status = 'CANCELLED') AS cancelled"
                        " FROM bookings"
                    )
                )
            )
            .mappings()
            .one()
        )
        return {name: int(value) for name, value in row.items()}

    async def count_by_month(self, months: int) -> list[tuple[str, dict[str, int]]]:
        """Bookings created in each of the last `months` calendar months (UTC), oldest first and every
        month present, by the state they are in now: (YYYY-MM, {held, confirmed, released,
        cancelled}). An expired hold counts as released."""
        rows = (
            await self.conn.execute(
                text(
                    "SELECT to_char(m.month, 'YYYY-MM') AS month,"
                    f" count(b.id) FILTER (WHERE {_LIVE_HOLD}) AS held,"
                    " count(b.id) FILTER (WHERE status = 'CONFIRMED') AS confirmed,"
                    f" count(b.id) FILTER (WHERE status = 'RELEASED' OR ({_EXPIRED_HOLD})) AS released,"
                    " count(b.id) FILTER (WHERE status = 'CANCELLED') AS cancelled"
                    " FROM generate_series(date_trunc('month', now() AT TIME ZONE 'UTC')"
                    " - make_interval(months => :back), date_trunc('month', now() AT TIME ZONE 'UTC'),"
                    " interval '1 month') AS m(month)"
                    " LEFT JOIN bookings b ON b.created_at >= m.month AT TIME ZONE 'UTC'"
                    " AND b.created_at < (m.month + interval '1 month') AT TIME ZONE 'UTC'"
                    " GROUP BY m.month ORDER BY m.month"
                ),
                {"back": months - 1},
            )
        ).mappings()
        return [
            (row["month"], {k: int(row[k]) for k in ("held", "confirmed", "released", "cancelled")})
            for row in rows
        ]

    # --- blackouts ---------------------------------------------------------------------------

    async def blacked_out(self, day: date) -> bool:
        """True when the tenant blacked out `day`."""
        return bool(
            await self.conn.scalar(
                text(f"SELECT EXISTS (SELECT 1 FROM blackouts WHERE {_MINE} AND date = :day)"),
                {"tenant": self.tenant_id, "day": day},
            )
        )

    async def blackouts(
        self, first: date | None, last: date | None, limit: int, after: tuple[date, str] | None
    ) -> tuple[list[Blackout], tuple[date, str] | None]:
        """A page of blackouts in date order and the position after it."""
        clauses = ["TRUE"]
        params: dict[str, Any] = {"limit": limit + 1}
        if first is not None:
            clauses.append("date >= :first")
            params["first"] = first
        if last is not None:
            clauses.append("date <= :last")
            params["last"] = last
        if after is not None:
            clauses.append("(date, id) > (:after_date, :after_id)")
            params["after_date"], params["after_id"] = after
        query = text(
            f"SELECT id, date, reason FROM blackouts WHERE {' AND '.join(clauses)}"
            " ORDER BY date, id LIMIT :limit"
        )
        rows = (await self.conn.execute(query, params)).all()
        page = [Blackout(row.id, row.date, row.reason) for row in rows[:limit]]
        return page, ((page[-1].day, page[-1].id) if len(rows) > limit else None)

    async def insert_blackout(self, blackout: Blackout) -> None:
        """A new blackout (the unique index refuses a second one for the date)."""
        await self.conn.execute(
            text(
                "INSERT INTO blackouts (id, tenant_id, date, reason)"
                " VALUES (:id, CAST(:tenant_id AS uuid), :day, :reason)"
            ),
            {"id": blackout.id, "tenant_id": self.tenant_id, "day": blackout.day, "reason": blackout.reason},
        )

    async def delete_blackout(self, blackout_id: str) -> bool:
        """Removes a blackout; False when there was none with that id."""
        result = await self.conn.execute(text("DELETE FROM blackouts WHERE id = :id"), {"id": blackout_id})
        return bool(result.rowcount)

    # --- sweeps (platform scope) -------------------------------------------------------------

    async def due_reminders(self, now: datetime, limit: int) -> list[tuple[str, str]]:
        """(tenant id, booking id) of confirmed bookings whose reminder is due and not yet enqueued."""
        rows = await self.conn.execute(
            text(
                "SELECT tenant_id, id FROM bookings WHERE status = 'CONFIRMED'"
                " AND reminder_enqueued_at IS NULL AND remind_at IS NOT NULL AND remind_at <= :now"
                " ORDER BY remind_at LIMIT :limit"
            ),
            {"now": now, "limit": limit},
        )
        return [(str(row.tenant_id), row.id) for row in rows]

    async def mark_reminder_enqueued(self, booking_id: str) -> bool:
        """Claims a booking's reminder; False when another sweeper (or replica) claimed it first. The
        conditional UPDATE makes concurrent sweepers agree."""
        marked = await self.conn.execute(
            text(
                "UPDATE bookings SET reminder_enqueued_at = clock_timestamp()"
                " WHERE id = :id AND status = 'CONFIRMED' AND reminder_enqueued_at IS NULL"
            ),
            {"id": booking_id},
        )
        return bool(marked.rowcount)

    async def release_expired_holds(self, limit: int, *, actor: str, reason: str) -> list[tuple[str, str]]:
        """Moves up to `limit` expired holds of every tenant to RELEASED and records why, in one
        statement; returns (tenant id, booking id) of each. Rows another transaction holds are skipped
        (SKIP LOCKED) and the UPDATE re-checks its condition, so two sweepers never release one hold
        twice, and a payment confirming the hold at that moment wins or loses cleanly."""
        rows = await self.conn.execute(
            text(
                "WITH due AS (SELECT id FROM bookings WHERE " + _EXPIRED_HOLD + " ORDER BY hold_expires_at"
                " LIMIT :limit FOR UPDATE SKIP LOCKED),"
                " released AS (UPDATE bookings b SET status = 'RELEASED', updated_at = clock_timestamp()"
                " FROM due WHERE b.id = due.id AND b.status = 'HELD'"
                " AND b.hold_expires_at <= clock_timestamp()"
                " RETURNING b.tenant_id, b.id),"
                " recorded AS (INSERT INTO booking_history"
                " (tenant_id, booking_id, from_status, to_status, actor, reason)"
                " SELECT tenant_id, id, 'HELD', 'RELEASED', :actor, :reason FROM released)"
                " SELECT tenant_id, id FROM released"
            ),
            {"limit": limit, "actor": actor, "reason": reason},
        )
        return [(str(row.tenant_id), row.id) for row in rows]


def _booking(row: Any, history: tuple[HistoryEntry, ...] = ()) -> Booking:
    document = row["quote"]
    if isinstance(document, str):
        document = json.loads(document)
    return Booking(
        id=row["id"],
        tenant_id=str(row["tenant_id"]),
        event_date=row["event_date"],
        status=Status(row["status"]),
        customer_id=row["customer_id"],
        couple_name=row["couple_name"],
        email=row["email"],
        phone=row["phone"],
        notes=row["notes"],
        quote=Quote(row["package_id"], row["total_cents"], row["currency"], document),
        payment_session_id=row["payment_session_id"] or "",
        hold_expires_at=row["hold_expires_at"],
        amount_paid_cents=row["amount_paid_cents"],
        amount_refunded_cents=row["amount_refunded_cents"],
        cancel_reason=row["cancel_reason"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        client_address=row["client_address"] or "",
        history=history,
        kind=row["kind"],
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        resource_id=row["resource_id"] or "",
        buffer_before_minutes=row["buffer_before_minutes"],
        buffer_after_minutes=row["buffer_after_minutes"],
    )
