"""The booking service's tables, queries and transactions.

Every change to which booking occupies a date (hold, confirm, release, cancel, blackout) runs in one
READ COMMITTED transaction that first takes a transaction-scoped advisory lock on a 64-bit key of
(tenant, date). Those transactions are therefore serialised per date and each one sees what the one
before it committed; the partial unique index over live rows is the last line of defence. Retries on
serialization failures, deadlocks and lock timeouts are bounded and jittered (`with_retries`).
Emails are enqueued in the same transaction as the change that causes them (transactional outbox).
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from mais_runtime.db import Database, with_retries
from mais_runtime.errors import Conflict, NotFound, PreconditionFailed
from mais_runtime.mail import Mail
from mais_runtime.outbox import enqueue
from services.booking import domain
from services.booking.domain import (
    Booking,
    ConfirmOutcome,
    CoupleDetails,
    HistoryEntry,
    Policy,
    Quote,
    Reason,
    Status,
)
from services.booking.metrics import LOCK_WAIT

T = TypeVar("T")

# Builds the email a change causes, from the booking as it is after the change.
Compose = Callable[[Booking], Mail]

_COLUMNS = (
    "id, tenant_id, event_date, status, customer_id, couple_name, email, phone, notes, package_id, quote,"
    " total_cents, currency, payment_session_id, hold_expires_at, amount_paid_cents, amount_refunded_cents,"
    " cancel_reason, created_at, updated_at"
)
_LIVE_ON_DATE = (
    "event_date = :day"
    " AND (status = 'CONFIRMED' OR (status = 'HELD' AND hold_expires_at > clock_timestamp()))"
)
# What hold() may refuse before taking the date's lock (see _refuse_taken_date_early).
_TAKEN_BEFORE_LOCK = (
    "SELECT EXISTS (SELECT 1 FROM bookings WHERE request_id = :rid) AS known,"  # noqa: S608 - fixed text
    " EXISTS (SELECT 1 FROM blackouts WHERE date = :day) AS blacked_out,"
    " (SELECT status FROM bookings WHERE " + _LIVE_ON_DATE + " LIMIT 1) AS live"
)


@dataclass(frozen=True)
class BookingFilter:
    """The admin list's filters; empty fields do not filter."""

    status: Status | None = None
    from_date: date | None = None
    to_date: date | None = None
    customer_email: str = ""


@dataclass(frozen=True)
class Blackout:
    """A date the tenant does not take bookings on."""

    id: str
    day: date
    reason: str


@dataclass(frozen=True)
class HoldResult:
    """A hold, and whether this call created it (False: an earlier call with the same request id did)."""

    booking: Booking
    created: bool


class BookingStore:
    """Reads and writes bookings, customers, blackouts and the outbox inside tenant transactions."""

    def __init__(self, db: Database, *, retries: int = 4) -> None:
        self._db = db
        self._retries = retries

    async def _retrying(self, attempt: Callable[[], Awaitable[T]]) -> T:
        return await with_retries(attempt, tries=self._retries)

    # --- availability ------------------------------------------------------------------------

    async def taken_dates(self, tenant_id: str, first: date, last: date) -> dict[date, Reason]:
        """Dates of [first, last] occupied by a live booking (booked/held) or a blackout."""
        async with self._db.tenant_transaction(tenant_id) as conn:
            bookings = await conn.execute(
                text(
                    "SELECT event_date, status FROM bookings WHERE event_date BETWEEN :first AND :last"
                    " AND (status = 'CONFIRMED' OR (status = 'HELD' AND hold_expires_at > clock_timestamp()))"
                ),
                {"first": first, "last": last},
            )
            blackouts = await conn.execute(
                text("SELECT date FROM blackouts WHERE date BETWEEN :first AND :last"),
                {"first": first, "last": last},
            )
            taken: dict[date, Reason] = {row.date: Reason.BLACKOUT for row in blackouts}
            # A live booking says more than a blackout (both at once only when a blackout was forced in).
            for row in bookings:
                taken[row.event_date] = domain.occupying_reason(Status(row.status))
        return taken

    # --- holds -------------------------------------------------------------------------------

    async def find_by_request(self, tenant_id: str, request_id: str) -> Booking | None:
        """The booking an earlier HoldDate with this request id created, if any."""
        async with self._db.tenant_transaction(tenant_id) as conn:
            return await self._by_request(conn, request_id)

    async def hold(
        self,
        tenant_id: str,
        *,
        day: date,
        couple: CoupleDetails,
        quote: Quote,
        hold_minutes: int,
        request_id: str,
    ) -> HoldResult:
        """Holds `day` for a couple, or raises DATE_UNAVAILABLE (booked, held, blackout).

        Inside the date's lock: an earlier identical request answers with its own hold; an expired hold on
        the date is moved to RELEASED (recorded) so the new one can take its place."""

        async def attempt() -> HoldResult:
            async with self._db.tenant_transaction(tenant_id) as conn:
                await self._refuse_taken_date_early(conn, day, request_id)
                await self._lock_date(conn, tenant_id, day)
                if request_id:
                    earlier = await self._by_request(conn, request_id)
                    if earlier is not None:
                        if earlier.event_date != day or earlier.email != couple.email:
                            raise Conflict(
                                "this request id was used for another hold", reason="IDEMPOTENCY_KEY_REUSED"
                            )
                        return HoldResult(earlier, False)
                if await self._blacked_out(conn, day):
                    raise domain.date_unavailable(day, Reason.BLACKOUT)
                await self._release_expired_hold(conn, tenant_id, day)
                occupant = await self._live_status(conn, day)
                if occupant is not None:
                    raise domain.date_unavailable(day, domain.occupying_reason(occupant))
                customer_id = await self._upsert_customer(conn, tenant_id, couple)
                booking_id = domain.new_booking_id()
                await conn.execute(
                    text(
                        "INSERT INTO bookings (id, tenant_id, customer_id, event_date, status, couple_name,"
                        " email, phone, notes, package_id, quote, total_cents, currency, request_id,"
                        " hold_expires_at) VALUES (:id, CAST(:tenant_id AS uuid), :customer_id, :day, 'HELD',"
                        " :name, :email, :phone, :notes, :package_id, CAST(:quote AS jsonb), :total,"
                        " :currency,"
                        " :request_id, clock_timestamp() + make_interval(mins => :minutes))"
                    ),
                    {
                        "id": booking_id,
                        "tenant_id": tenant_id,
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
                        "minutes": hold_minutes,
                    },
                )
                await self._record(
                    conn, tenant_id, booking_id, "", Status.HELD, "couple", "date held for checkout"
                )
                return HoldResult(await self._get(conn, booking_id), True)

        try:
            return await self._retrying(attempt)
        except IntegrityError as error:
            # Unreachable while every writer takes the date lock; kept as a clear answer if one does not.
            if "bookings_one_live_per_date" in str(error.orig):
                raise domain.date_unavailable(day, Reason.HELD) from None
            if "bookings_by_request" in str(error.orig):
                raise Conflict(
                    "this request id was used for another hold", reason="IDEMPOTENCY_KEY_REUSED"
                ) from None
            raise

    async def attach_payment_session(self, tenant_id: str, booking_id: str, session_id: str) -> Booking:
        """Links a hold to its checkout session; attaching the same session again changes nothing."""

        async def attempt() -> Booking:
            async with self._db.tenant_transaction(tenant_id) as conn:
                booking = await self._get(conn, booking_id, for_update=True)
                if booking.payment_session_id == session_id:
                    return booking
                if booking.payment_session_id:
                    raise Conflict("another payment session is attached to this booking")
                if booking.status is not Status.HELD:
                    raise PreconditionFailed(f"a {booking.status.value} booking takes no payment session")
                await conn.execute(
                    text(
                        "UPDATE bookings SET payment_session_id = :session, updated_at = clock_timestamp()"
                        " WHERE id = :id"
                    ),
                    {"session": session_id, "id": booking_id},
                )
                return await self._get(conn, booking_id)

        try:
            return await self._retrying(attempt)
        except IntegrityError as error:
            if "bookings_by_payment_session" in str(error.orig):
                raise Conflict("this payment session belongs to another booking") from None
            raise

    # --- lifecycle ---------------------------------------------------------------------------

    async def confirm(
        self,
        tenant_id: str,
        booking_id: str,
        *,
        session_id: str,
        amount_paid_cents: int,
        remind_at: Callable[[date], datetime | None],
        compose: Compose,
    ) -> tuple[Booking, ConfirmOutcome]:
        """Applies a completed payment (see domain.decide_confirmation). On HOLD_LOST nothing changes and
        the outcome is returned for the caller to raise; on CONFIRM the confirmation email is enqueued."""

        async def attempt() -> tuple[Booking, ConfirmOutcome]:
            async with self._db.tenant_transaction(tenant_id) as conn:
                day = await self._date_of(conn, booking_id)
                await self._lock_date(conn, tenant_id, day)
                booking = await self._get(conn, booking_id, for_update=True)
                if booking.status in (Status.RELEASED, Status.HELD):
                    # Another couple's expired hold would keep the unique slot; it gives way like in hold().
                    await self._release_expired_hold(conn, tenant_id, day, keep=booking_id)
                taken = await self._live_status(conn, day, other_than=booking_id) is not None
                outcome = domain.decide_confirmation(
                    booking,
                    session_id,
                    date_taken_by_other=taken,
                    blacked_out=await self._blacked_out(conn, day),
                )
                if outcome is not ConfirmOutcome.CONFIRM:
                    return booking, outcome
                late = booking.status is Status.RELEASED or await self._hold_expired(conn, booking_id)
                await conn.execute(
                    text(
                        "UPDATE bookings SET status = 'CONFIRMED', payment_session_id = :session,"
                        " amount_paid_cents = :paid, remind_at = :remind_at, updated_at = clock_timestamp()"
                        " WHERE id = :id"
                    ),
                    {
                        "session": session_id,
                        "paid": amount_paid_cents,
                        "remind_at": remind_at(day),
                        "id": booking_id,
                    },
                )
                why = (
                    "payment received after the hold expired; the date was still free"
                    if late
                    else "payment received"
                )
                await self._record(
                    conn, tenant_id, booking_id, booking.status, Status.CONFIRMED, "payments", why
                )
                confirmed = await self._get(conn, booking_id)
                await enqueue(
                    conn,
                    tenant_id=tenant_id,
                    dedupe_key=f"confirmation:{booking_id}",
                    mail=compose(confirmed),
                )
                return confirmed, outcome

        return await self._retrying(attempt)

    async def release(self, tenant_id: str, booking_id: str, *, actor: str, reason: str) -> Booking:
        """HELD -> RELEASED; releasing a released hold changes nothing."""

        async def attempt() -> Booking:
            async with self._db.tenant_transaction(tenant_id) as conn:
                day = await self._date_of(conn, booking_id)
                await self._lock_date(conn, tenant_id, day)
                booking = await self._get(conn, booking_id, for_update=True)
                if not domain.check_release(booking):
                    return booking
                await self._set_status(conn, booking_id, Status.RELEASED)
                await self._record(
                    conn, tenant_id, booking_id, booking.status, Status.RELEASED, actor, reason
                )
                return await self._get(conn, booking_id)

        return await self._retrying(attempt)

    async def cancel(
        self,
        tenant_id: str,
        booking_id: str,
        *,
        actor: str,
        reason: str,
        today: Callable[[], date],
        policy: Policy,
        compose: Compose,
    ) -> Booking:
        """CONFIRMED -> CANCELLED, which frees the date at once; cancelling twice changes nothing."""

        async def attempt() -> Booking:
            async with self._db.tenant_transaction(tenant_id) as conn:
                day = await self._date_of(conn, booking_id)
                await self._lock_date(conn, tenant_id, day)
                booking = await self._get(conn, booking_id, for_update=True)
                if not domain.check_cancel(booking, actor=actor, today=today(), policy=policy):
                    return booking
                await conn.execute(
                    text(
                        "UPDATE bookings SET status = 'CANCELLED', cancel_reason = :reason,"
                        " remind_at = NULL, updated_at = clock_timestamp() WHERE id = :id"
                    ),
                    {"reason": reason, "id": booking_id},
                )
                await self._record(
                    conn, tenant_id, booking_id, booking.status, Status.CANCELLED, actor, reason
                )
                cancelled = await self._get(conn, booking_id)
                await enqueue(
                    conn,
                    tenant_id=tenant_id,
                    dedupe_key=f"cancellation:{booking_id}",
                    mail=compose(cancelled),
                )
                return cancelled

        return await self._retrying(attempt)

    async def record_refund(
        self,
        tenant_id: str,
        booking_id: str,
        *,
        total_refunded_cents: int,
        refund_cents: int,
        refund_id: str,
        compose: Compose,
    ) -> Booking:
        """Records payments' cumulative refunded amount and tells the couple once per refund id."""

        async def attempt() -> Booking:
            async with self._db.tenant_transaction(tenant_id) as conn:
                booking = await self._get(conn, booking_id, for_update=True)
                total = domain.refund_total(
                    booking.amount_paid_cents, booking.amount_refunded_cents, total_refunded_cents
                )
                await conn.execute(
                    text(
                        "UPDATE bookings SET amount_refunded_cents = :total, updated_at = clock_timestamp()"
                        " WHERE id = :id"
                    ),
                    {"total": total, "id": booking_id},
                )
                refreshed = await self._get(conn, booking_id)
                first_time = await enqueue(
                    conn,
                    tenant_id=tenant_id,
                    dedupe_key=f"refund:{booking_id}:{refund_id}",
                    mail=compose(refreshed),
                )
                if first_time:
                    await self._record(
                        conn,
                        tenant_id,
                        booking_id,
                        booking.status,
                        booking.status,
                        "payments",
                        f"refund {refund_id} of {refund_cents} cents",
                    )
                return refreshed

        return await self._retrying(attempt)

    async def record_hold_lost_refund(
        self, tenant_id: str, booking_id: str, *, refund_cents: int, refund_id: str, compose: Compose
    ) -> Booking:
        """Records the refund of a payment whose hold was lost and tells the couple, once per refund."""

        async def attempt() -> Booking:
            async with self._db.tenant_transaction(tenant_id) as conn:
                booking = await self._get(conn, booking_id, for_update=True)
                first_time = await enqueue(
                    conn,
                    tenant_id=tenant_id,
                    dedupe_key=f"hold-lost:{booking_id}:{refund_id}",
                    mail=compose(booking),
                )
                if first_time:
                    await conn.execute(
                        text(
                            "UPDATE bookings SET amount_refunded_cents = amount_refunded_cents + :cents,"
                            " updated_at = clock_timestamp() WHERE id = :id"
                        ),
                        {"cents": refund_cents, "id": booking_id},
                    )
                    await self._record(
                        conn,
                        tenant_id,
                        booking_id,
                        booking.status,
                        booking.status,
                        "payments",
                        f"payment refunded ({refund_cents} cents, {refund_id}): the date was taken",
                    )
                return await self._get(conn, booking_id)

        return await self._retrying(attempt)

    # --- reads -------------------------------------------------------------------------------

    async def get(self, tenant_id: str, booking_id: str, *, with_history: bool = False) -> Booking:
        """One booking of this tenant, or NotFound (also for another tenant's booking)."""
        async with self._db.tenant_transaction(tenant_id) as conn:
            return await self._get(conn, booking_id, with_history=with_history)

    async def list_bookings(
        self, tenant_id: str, *, filters: BookingFilter, limit: int, cursor: list[str] | None
    ) -> tuple[list[Booking], list[str] | None]:
        """A page of bookings in event-date order; the second value is the next page's cursor parts."""
        clauses = ["TRUE"]
        params: dict[str, Any] = {"limit": limit + 1}
        if filters.status is not None:
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
        if cursor is not None:
            clauses.append("(event_date, id) > (:after_date, :after_id)")
            params["after_date"] = domain.parse_date(cursor[0], "cursor")
            params["after_id"] = cursor[1]
        query = text(
            f"SELECT {_COLUMNS} FROM bookings WHERE {' AND '.join(clauses)}"  # noqa: S608 - fixed clauses
            " ORDER BY event_date, id LIMIT :limit"
        )
        async with self._db.tenant_transaction(tenant_id) as conn:
            rows = (await conn.execute(query, params)).mappings().all()
        page = [_booking(row) for row in rows[:limit]]
        more = len(rows) > limit
        return page, ([page[-1].event_date.isoformat(), page[-1].id] if more else None)

    async def count_package_bookings(self, tenant_id: str, package_id: str) -> int:
        """How many live bookings (held or confirmed) were sold with this package."""
        async with self._db.tenant_transaction(tenant_id) as conn:
            value = await conn.scalar(
                text(
                    "SELECT count(*) FROM bookings WHERE package_id = :package_id"
                    " AND status IN ('HELD', 'CONFIRMED')"
                ),
                {"package_id": package_id},
            )
        return int(value or 0)

    async def count_all(self) -> dict[str, int]:
        """Every tenant's bookings: live holds, confirmed, upcoming confirmed, released, cancelled
        (platform scope)."""
        async with self._db.platform_transaction() as conn:
            row = (
                (
                    await conn.execute(
                        text(
                            "SELECT count(*) FILTER (WHERE status = 'HELD'"
                            " AND hold_expires_at > clock_timestamp()) AS live_holds,"
                            " count(*) FILTER (WHERE status = 'CONFIRMED') AS confirmed,"
                            " count(*) FILTER (WHERE status = 'CONFIRMED'"
                            " AND event_date >= (now() AT TIME ZONE 'UTC')::date) AS upcoming,"
                            " count(*) FILTER (WHERE status = 'RELEASED') AS released,"
                            " count(*) FILTER (WHERE status = 'CANCELLED') AS cancelled"
                            " FROM bookings"
                        )
                    )
                )
                .mappings()
                .one()
            )
        return {name: int(value) for name, value in row.items()}

    # --- blackouts ---------------------------------------------------------------------------

    async def list_blackouts(
        self, tenant_id: str, *, first: date | None, last: date | None, limit: int, cursor: list[str] | None
    ) -> tuple[list[Blackout], list[str] | None]:
        """A page of blackouts in date order."""
        clauses = ["TRUE"]
        params: dict[str, Any] = {"limit": limit + 1}
        if first is not None:
            clauses.append("date >= :first")
            params["first"] = first
        if last is not None:
            clauses.append("date <= :last")
            params["last"] = last
        if cursor is not None:
            clauses.append("(date, id) > (:after_date, :after_id)")
            params["after_date"] = domain.parse_date(cursor[0], "cursor")
            params["after_id"] = cursor[1]
        query = text(
            f"SELECT id, date, reason FROM blackouts WHERE {' AND '.join(clauses)}"  # noqa: S608 - fixed clauses
            " ORDER BY date, id LIMIT :limit"
        )
        async with self._db.tenant_transaction(tenant_id) as conn:
            rows = (await conn.execute(query, params)).all()
        page = [Blackout(row.id, row.date, row.reason) for row in rows[:limit]]
        more = len(rows) > limit
        return page, ([page[-1].day.isoformat(), page[-1].id] if more else None)

    async def create_blackout(self, tenant_id: str, day: date, reason: str) -> Blackout:
        """Blacks out a date; 409 when it is already blacked out, or DATE_UNAVAILABLE when a live booking
        holds it (the booking must be cancelled or released first)."""

        async def attempt() -> Blackout:
            async with self._db.tenant_transaction(tenant_id) as conn:
                await self._lock_date(conn, tenant_id, day)
                if await self._blacked_out(conn, day):
                    raise Conflict(f"{day.isoformat()} is already blacked out")
                await self._release_expired_hold(conn, tenant_id, day)
                occupant = await self._live_status(conn, day)
                if occupant is not None:
                    raise domain.date_unavailable(day, domain.occupying_reason(occupant))
                blackout_id = domain.new_id("bo_")
                await conn.execute(
                    text(
                        "INSERT INTO blackouts (id, tenant_id, date, reason)"
                        " VALUES (:id, CAST(:tenant_id AS uuid), :day, :reason)"
                    ),
                    {"id": blackout_id, "tenant_id": tenant_id, "day": day, "reason": reason},
                )
                return Blackout(blackout_id, day, reason)

        try:
            return await self._retrying(attempt)
        except IntegrityError as error:
            if "blackouts_one_per_date" in str(error.orig):
                raise Conflict(f"{day.isoformat()} is already blacked out") from None
            raise

    async def delete_blackout(self, tenant_id: str, blackout_id: str) -> None:
        """Removes a blackout, or NotFound."""
        async with self._db.tenant_transaction(tenant_id) as conn:
            result = await conn.execute(text("DELETE FROM blackouts WHERE id = :id"), {"id": blackout_id})
        if not result.rowcount:
            raise NotFound("blackout")

    # --- reminders ---------------------------------------------------------------------------

    async def due_reminders(self, now: datetime, limit: int) -> list[tuple[str, str]]:
        """(tenant id, booking id) of confirmed bookings whose reminder is due and not yet enqueued,
        across tenants (the reminder sweep's explicit platform scope)."""
        async with self._db.platform_transaction() as conn:
            rows = await conn.execute(
                text(
                    "SELECT tenant_id, id FROM bookings WHERE status = 'CONFIRMED'"
                    " AND reminder_enqueued_at IS NULL AND remind_at IS NOT NULL AND remind_at <= :now"
                    " ORDER BY remind_at LIMIT :limit"
                ),
                {"now": now, "limit": limit},
            )
            return [(str(row.tenant_id), row.id) for row in rows]

    async def enqueue_reminder(self, tenant_id: str, booking_id: str, compose: Compose) -> bool:
        """Marks the reminder enqueued and puts it in the outbox, in one transaction; False when another
        sweeper (or replica) got there first. The conditional UPDATE makes concurrent sweepers agree."""
        async with self._db.tenant_transaction(tenant_id) as conn:
            marked = await conn.execute(
                text(
                    "UPDATE bookings SET reminder_enqueued_at = clock_timestamp()"
                    " WHERE id = :id AND status = 'CONFIRMED' AND reminder_enqueued_at IS NULL"
                ),
                {"id": booking_id},
            )
            if not marked.rowcount:
                return False
            booking = await self._get(conn, booking_id)
            return await enqueue(
                conn, tenant_id=tenant_id, dedupe_key=f"reminder:{booking_id}", mail=compose(booking)
            )

    # --- inside a transaction ----------------------------------------------------------------

    async def _lock_date(self, conn: AsyncConnection, tenant_id: str, day: date) -> None:
        # hashtextextended gives a 64-bit key: 32-bit hashes collide often enough to serialise
        # unrelated dates of unrelated tenants.
        started = time.perf_counter()
        await conn.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": f"{tenant_id}:{day.isoformat()}"},
        )
        LOCK_WAIT.observe(time.perf_counter() - started)

    async def _by_request(self, conn: AsyncConnection, request_id: str) -> Booking | None:
        row = (
            (
                await conn.execute(
                    text(f"SELECT {_COLUMNS} FROM bookings WHERE request_id = :rid"),  # noqa: S608 - fixed columns
                    {"rid": request_id},
                )
            )
            .mappings()
            .first()
        )
        return _booking(row) if row else None

    async def _refuse_taken_date_early(self, conn: AsyncConnection, day: date, request_id: str) -> None:
        """Refuses a date already blacked out or held/booked by someone else without waiting for its
        lock: when many couples want one date, the losers after the first answer in one round trip
        instead of queueing one by one behind the lock. It refuses only what the locked checks below
        would refuse for a request never seen before (a replay of a known request id goes the locked
        way, to be answered with its own hold); anything else, expired holds included, goes on to the
        lock, which alone decides that a date is free."""
        row = (
            await conn.execute(
                text(_TAKEN_BEFORE_LOCK),
                {"rid": request_id, "day": day},
            )
        ).one()
        if row.known:
            return
        if row.blacked_out:
            raise domain.date_unavailable(day, Reason.BLACKOUT)
        if row.live is not None:
            raise domain.date_unavailable(day, domain.occupying_reason(Status(row.live)))

    async def _blacked_out(self, conn: AsyncConnection, day: date) -> bool:
        return bool(
            await conn.scalar(text("SELECT EXISTS (SELECT 1 FROM blackouts WHERE date = :day)"), {"day": day})
        )

    async def _live_status(self, conn: AsyncConnection, day: date, *, other_than: str = "") -> Status | None:
        status = await conn.scalar(
            text(f"SELECT status FROM bookings WHERE {_LIVE_ON_DATE} AND id <> :other"),  # noqa: S608
            {"day": day, "other": other_than},
        )
        return Status(status) if status else None

    async def _hold_expired(self, conn: AsyncConnection, booking_id: str) -> bool:
        return bool(
            await conn.scalar(
                text("SELECT hold_expires_at <= clock_timestamp() FROM bookings WHERE id = :id"),
                {"id": booking_id},
            )
        )

    async def _release_expired_hold(
        self, conn: AsyncConnection, tenant_id: str, day: date, *, keep: str = ""
    ) -> None:
        """Moves an expired hold on `day` (other than `keep`) to RELEASED, recording why, so that it no
        longer occupies the date's slot in the unique index."""
        released = await conn.execute(
            text(
                "UPDATE bookings SET status = 'RELEASED', updated_at = clock_timestamp()"
                " WHERE event_date = :day AND status = 'HELD' AND hold_expires_at <= clock_timestamp()"
                " AND id <> :keep RETURNING id"
            ),
            {"day": day, "keep": keep},
        )
        for row in released.all():
            await self._record(
                conn,
                tenant_id,
                row.id,
                Status.HELD,
                Status.RELEASED,
                "system",
                "hold expired; the date was asked for again",
            )

    async def _upsert_customer(self, conn: AsyncConnection, tenant_id: str, couple: CoupleDetails) -> str:
        # One customer per normalised email; the latest name and phone win.
        customer_id = await conn.scalar(
            text(
                "INSERT INTO customers (id, tenant_id, email, name, phone)"
                " VALUES (:id, CAST(:tenant_id AS uuid), :email, :name, :phone)"
                " ON CONFLICT (tenant_id, email) DO UPDATE SET name = EXCLUDED.name,"
                " phone = CASE WHEN EXCLUDED.phone <> '' THEN EXCLUDED.phone ELSE customers.phone END,"
                " updated_at = now() RETURNING id"
            ),
            {
                "id": domain.new_id("cu_"),
                "tenant_id": tenant_id,
                "email": couple.email,
                "name": couple.name,
                "phone": couple.phone,
            },
        )
        return str(customer_id)

    async def _date_of(self, conn: AsyncConnection, booking_id: str) -> date:
        day = await conn.scalar(text("SELECT event_date FROM bookings WHERE id = :id"), {"id": booking_id})
        if day is None:
            raise NotFound("booking")
        return day  # type: ignore[no-any-return]

    async def _set_status(self, conn: AsyncConnection, booking_id: str, status: Status) -> None:
        await conn.execute(
            text("UPDATE bookings SET status = :status, updated_at = clock_timestamp() WHERE id = :id"),
            {"status": status.value, "id": booking_id},
        )

    async def _record(
        self,
        conn: AsyncConnection,
        tenant_id: str,
        booking_id: str,
        from_status: Status | str,
        to_status: Status | str,
        actor: str,
        reason: str,
    ) -> None:
        await conn.execute(
            text(
                "INSERT INTO booking_history (tenant_id, booking_id, from_status, to_status, actor, reason)"
                " VALUES (CAST(:tenant_id AS uuid), :booking_id, :from_status, :to_status, :actor, :reason)"
            ),
            {
                "tenant_id": tenant_id,
                "booking_id": booking_id,
                "from_status": str(from_status),
                "to_status": str(to_status),
                "actor": actor,
                "reason": reason,
            },
        )

    async def _get(
        self, conn: AsyncConnection, booking_id: str, *, for_update: bool = False, with_history: bool = False
    ) -> Booking:
        lock = " FOR UPDATE" if for_update else ""
        row = (
            (
                await conn.execute(
                    text(f"SELECT {_COLUMNS} FROM bookings WHERE id = :id{lock}"),  # noqa: S608 - fixed columns
                    {"id": booking_id},
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            raise NotFound("booking")
        history: tuple[HistoryEntry, ...] = ()
        if with_history:
            entries = await conn.execute(
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
        history=history,
    )
