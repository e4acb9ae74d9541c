"""The queries a claim on a resource's time needs (issue 16): resources, their hours as a hold reads
them, the advisory locks on (tenant, resource, local day), live claims in `occupancy`, and writing
and giving back claims. `BookingTx` inherits them, so one transaction holds a booking and its claims.

Lock discipline (beside store.py's): every change to who occupies a resource's day takes the lock
of (tenant, resource, day) for every local day its claim touches, all keys sorted, after the
couple's and address's locks and after the date lock when it takes one (a whole day, a confirmation),
so that no two transactions wait on each other in a cycle. A whole-day hold also takes the tenant's
resource-set lock in shared mode before reading which resources there are: adding a resource takes it
exclusively, so a new resource never misses a whole-day claim made at that moment. The exclusion
constraint on `occupancy` is the last line of defence behind all of them.
"""

# Queries are assembled only from this module's constant clauses; every value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from mais_runtime.db import AsyncConnection, text
from services.booking.domain import Status
from services.booking.metrics import LOCK_WAIT
from services.booking.slots import Busy, TimeRange

# A tenant's resources are a handful of people and rooms; a whole-day claim takes all of them.
MAX_RESOURCES = 200
_LIVE_B = "(b.status = 'CONFIRMED' OR (b.status = 'HELD' AND b.hold_expires_at > clock_timestamp()))"
_EXPIRED_B = "b.status = 'HELD' AND b.hold_expires_at <= clock_timestamp()"
_DURING = "tstzrange(:lo, :hi, '[)')"
# The transaction's tenant in the query (see store.py's _MINE): the claims' exclusion index and the
# bookings' indexes lead with tenant_id, which row-level security's condition cannot use.
_MINE_O = "o.tenant_id = CAST(:tenant AS uuid)"
_MINE_B = "b.tenant_id = CAST(:tenant AS uuid)"
_MINE = "tenant_id = CAST(:tenant AS uuid)"


@dataclass(frozen=True)
class Claim:
    """A live claim on a resource: whose, what status, which stretch of time."""

    booking_id: str
    status: Status
    busy: Busy


@dataclass(frozen=True)
class Hours:
    """A resource's opening hours as a hold reads them: weekly ranges by ISO weekday, and the dates
    whose exceptions replace them (an empty list: closed)."""

    weekly: dict[int, list[TimeRange]]
    exceptions: dict[date, list[TimeRange]]

    def of(self, day: date) -> Sequence[TimeRange]:
        """The day's ranges: its exception's, else its weekday's."""
        if day in self.exceptions:
            return self.exceptions[day]
        return self.weekly.get(day.isoweekday(), [])


class SlotQueries:
    """Query verbs on resources and their claims (mixed into BookingTx)."""

    conn: AsyncConnection
    tenant_id: str

    # --- locks -------------------------------------------------------------------------------

    async def lock_resource_set(self, *, shared: bool) -> None:
        """The tenant's resource-set lock: shared by a whole-day claim while it reads the resources,
        exclusive while a resource is added."""
        function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
        await self._timed_lock(function, f"{self.tenant_id}:resources")

    async def lock_resource_days(self, resource_ids: Iterable[str], days: Iterable[date]) -> None:
        """Waits for, then holds until commit, the lock of every (resource, day), in sorted order."""
        keys = sorted({f"{self.tenant_id}:resource:{r}:{d.isoformat()}" for r in resource_ids for d in days})
        for key in keys:
            await self._timed_lock("pg_advisory_xact_lock", key)

    async def lock_booking_move(self, booking_id: str) -> None:
        """The booking's own lock, taken first by a reschedule (before any date or resource lock) so
        that the position it reads stays the booking's until it commits: two moves of one booking
        queue here instead of each locking the other's old place."""
        await self._timed_lock("pg_advisory_xact_lock", f"{self.tenant_id}:move:{booking_id}")

    async def _timed_lock(self, function: str, key: str) -> None:
        started = time.perf_counter()
        await self.conn.execute(text(f"SELECT {function}(hashtextextended(:key, 0))"), {"key": key})
        LOCK_WAIT.observe(time.perf_counter() - started)

    # --- resources and hours -----------------------------------------------------------------

    async def bookable_resource(self, resource_id: str) -> str | None:
        """The active resource a service takes: the one it names, or the tenant's default when it
        names none; None when there is no such active resource."""
        if resource_id:
            query, params = "SELECT id FROM resources WHERE id = :id AND active", {"id": resource_id}
        else:
            query, params = "SELECT id FROM resources WHERE is_default AND active", {}
        value = await self.conn.scalar(text(query), params)
        return None if value is None else str(value)

    async def resource_ids(self) -> list[str]:
        """Every resource of the tenant, active or not (a whole day takes them all), at most
        MAX_RESOURCES."""
        rows = await self.conn.execute(
            text("SELECT id FROM resources ORDER BY id LIMIT :n"), {"n": MAX_RESOURCES}
        )
        return [row.id for row in rows]

    async def hours(self, resource_id: str, first: date, last: date) -> Hours:
        """The resource's weekly hours and its exceptions between `first` and `last`."""
        weekly: dict[int, list[TimeRange]] = {}
        rows = await self.conn.execute(
            text(
                "SELECT weekday, to_char(opens, 'HH24:MI') AS opens, to_char(closes, 'HH24:MI') AS closes"
                " FROM opening_hours WHERE resource_id = :r ORDER BY weekday, opens"
            ),
            {"r": resource_id},
        )
        for row in rows:
            weekly.setdefault(row.weekday, []).append(TimeRange.parse(row.opens, row.closes))
        exceptions: dict[date, list[TimeRange]] = {}
        rows = await self.conn.execute(
            text(
                "SELECT date, ranges FROM hours_exceptions WHERE resource_id = :r"
                " AND date BETWEEN :first AND :last"
            ),
            {"r": resource_id, "first": first, "last": last},
        )
        for row in rows:
            exceptions[row.date] = [TimeRange.parse(x["opens"], x["closes"]) for x in row.ranges]
        return Hours(weekly, exceptions)

    async def blackout_days(self, first: date, last: date) -> set[date]:
        """The tenant's blacked-out dates between `first` and `last`."""
        rows = await self.conn.execute(
            text(f"SELECT date FROM blackouts WHERE {_MINE} AND date BETWEEN :first AND :last"),
            {"tenant": self.tenant_id, "first": first, "last": last},
        )
        return {row.date for row in rows}

    # --- claims ------------------------------------------------------------------------------

    async def live_claims(
        self, resource_ids: Sequence[str], lo: datetime, hi: datetime, *, other_than: str = ""
    ) -> list[Claim]:
        """Live bookings' claims on these resources overlapping [lo, hi), other than `other_than`'s;
        a hold past its expiry claims nothing."""
        rows = await self.conn.execute(
            text(
                "SELECT o.booking_id, b.status, lower(o.during) AS lo, upper(o.during) AS hi"
                " FROM occupancy o JOIN bookings b ON b.id = o.booking_id"
                f" WHERE {_MINE_O} AND o.resource_id = ANY(:rids) AND o.during && {_DURING} AND {_LIVE_B}"
                " AND o.booking_id <> :other ORDER BY lower(o.during) LIMIT 1000"
            ),
            {"tenant": self.tenant_id, "rids": list(resource_ids), "lo": lo, "hi": hi, "other": other_than},
        )
        return [Claim(row.booking_id, Status(row.status), Busy(row.lo, row.hi)) for row in rows]

    async def live_whole_days(self, first: date, last: date, *, other_than: str = "") -> dict[date, Status]:
        """Dates between `first` and `last` a live whole-day booking occupies (with its status): they
        block every resource, also one added after the booking (which the resource's creation gives
        a claim, but this check does not depend on it)."""
        rows = await self.conn.execute(
            text(
                f"SELECT b.event_date, b.status FROM bookings b WHERE {_MINE_B} AND b.kind = 'DAY'"
                f" AND b.event_date BETWEEN :first AND :last AND {_LIVE_B} AND b.id <> :other"
            ),
            {"tenant": self.tenant_id, "first": first, "last": last, "other": other_than},
        )
        return {row.event_date: Status(row.status) for row in rows}

    async def release_expired_claims(
        self, resource_ids: Sequence[str], lo: datetime, hi: datetime
    ) -> list[str]:
        """Moves holds past their expiry whose claims overlap [lo, hi) on these resources to RELEASED
        (their claims go with them, see the bookings_free_claims trigger); returns their ids."""
        rows = await self.conn.execute(
            text(
                "UPDATE bookings b SET status = 'RELEASED', updated_at = clock_timestamp()"
                " WHERE b.id IN (SELECT o.booking_id FROM occupancy o"
                f" WHERE {_MINE_O} AND o.resource_id = ANY(:rids) AND o.during && {_DURING})"
                f" AND {_EXPIRED_B} RETURNING b.id"
            ),
            {"tenant": self.tenant_id, "rids": list(resource_ids), "lo": lo, "hi": hi},
        )
        return [row.id for row in rows]

    async def claim(self, booking_id: str, resource_ids: Sequence[str], lo: datetime, hi: datetime) -> None:
        """Writes the booking's claim on each resource: [lo, hi). The exclusion constraint refuses an
        overlap with any other claim (IntegrityError naming occupancy_no_overlap)."""
        await self.conn.execute(
            text(
                "INSERT INTO occupancy (tenant_id, resource_id, booking_id, during)"
                f" SELECT CAST(:t AS uuid), r, :b, {_DURING} FROM unnest(CAST(:rids AS text[])) AS r"
                # A resource made in this transaction already wrote this booking's claim on it (its
                # backfill of live whole days): the same claim, kept once. An overlap with another
                # booking still fails on the exclusion constraint.
                " ON CONFLICT (booking_id, resource_id) DO NOTHING"
            ),
            {"t": self.tenant_id, "b": booking_id, "rids": list(resource_ids), "lo": lo, "hi": hi},
        )

    async def move_booking(
        self,
        booking_id: str,
        *,
        day: date,
        slot: tuple[datetime, datetime, int, int] | None,
        remind_at: datetime | None,
    ) -> None:
        """Puts a booking on its new date, and a slot booking on its new (start, end, buffer before,
        buffer after). The reminder goes out for the new date: one not sent yet is moved, and one sent
        for the old date is sent again when the new date's reminder moment is still ahead (a booking
        moved later in the year is reminded of again; one moved into the reminder window is not)."""
        starts, ends, before, after = slot if slot else (None, None, 0, 0)
        await self.conn.execute(
            text(
                "UPDATE bookings SET event_date = :day, starts_at = :starts, ends_at = :ends,"
                " buffer_before_minutes = :before, buffer_after_minutes = :after,"
                " remind_at = CASE WHEN reminder_enqueued_at IS NULL OR :remind_at > clock_timestamp()"
                "  THEN :remind_at ELSE remind_at END,"
                " reminder_enqueued_at = CASE WHEN :remind_at > clock_timestamp() THEN NULL"
                "  ELSE reminder_enqueued_at END,"
                " updated_at = clock_timestamp() WHERE id = :id"
            ),
            {
                "id": booking_id,
                "day": day,
                "starts": starts,
                "ends": ends,
                "before": before,
                "after": after,
                "remind_at": remind_at,
            },
        )

    async def free_claims(self, booking_id: str) -> None:
        """Removes the booking's claims (a booking that stays live but moves: a reschedule)."""
        await self.conn.execute(text("DELETE FROM occupancy WHERE booking_id = :b"), {"b": booking_id})
