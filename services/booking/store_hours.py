"""Queries on resources, opening hours and occupancy; BookingTx inherits them (store.py).

Times of day go in and out of PostgreSQL as "HH:MM" text: '24:00'::time (a range closing at midnight)
is valid there but not as a Python `time`.

Which resources exist decides which resources a whole-day booking occupies, so adding one takes the
tenant's resource-set lock (`lock_resource_set`), and a whole-day hold takes the same lock shared before
it reads the resources it writes occupancy rows for: a resource made meanwhile is either seen by the
hold or made after it, when its own backfill sees the hold's booking.
"""

# Queries are assembled only from this module's constant column lists; every value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from mais_runtime.db import AsyncConnection, text
from mais_runtime.errors import NotFound
from services.booking.opening_hours import HoursException, Resource, ranges_text
from services.booking.slots import Busy, TimeRange

_RESOURCE_COLUMNS = "id, name, is_default, active, version"
_LIVE_BOOKING = "(b.status = 'CONFIRMED' OR (b.status = 'HELD' AND b.hold_expires_at > clock_timestamp()))"


class HoursQueries:
    """Resources, hours, exceptions and occupancy inside one tenant transaction."""

    conn: AsyncConnection
    tenant_id: str

    async def default_resource(self) -> Resource | None:
        """The tenant's default resource, if it has been made."""
        row = (
            (await self.conn.execute(text(f"SELECT {_RESOURCE_COLUMNS} FROM resources WHERE is_default")))
            .mappings()
            .first()
        )
        return _resource(row) if row else None

    async def resource(self, resource_id: str, *, for_update: bool = False) -> Resource:
        """One resource of this tenant, or NotFound (also for another tenant's)."""
        lock = " FOR UPDATE" if for_update else ""
        row = (
            (
                await self.conn.execute(
                    text(f"SELECT {_RESOURCE_COLUMNS} FROM resources WHERE id = :id{lock}"),
                    {"id": resource_id},
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            raise NotFound("resource")
        return _resource(row)

    async def resources(self, limit: int, after: tuple[bool, str, str] | None) -> list[Resource]:
        """Up to `limit` resources, the default first, then by name (case-insensitive) and id, after
        the position (not default, lower name, id)."""
        clause, params = "TRUE", dict[str, Any](limit=limit)
        if after is not None:
            clause = "(NOT is_default, lower(name), id) > (:d, :n, :i)"
            params |= {"d": after[0], "n": after[1], "i": after[2]}
        rows = await self.conn.execute(
            text(
                f"SELECT {_RESOURCE_COLUMNS} FROM resources WHERE {clause}"
                " ORDER BY NOT is_default, lower(name), id LIMIT :limit"
            ),
            params,
        )
        return [_resource(row) for row in rows.mappings()]

    async def count_resources(self) -> int:
        """How many resources the tenant has."""
        return int(await self.conn.scalar(text("SELECT count(*) FROM resources")) or 0)

    async def name_taken(self, name: str, *, other_than: str = "") -> bool:
        """True when another resource of the tenant has this name (case-insensitive)."""
        return bool(
            await self.conn.scalar(
                text("SELECT EXISTS (SELECT 1 FROM resources WHERE lower(name) = lower(:n) AND id <> :o)"),
                {"n": name, "o": other_than},
            )
        )

    async def insert_resource(self, resource: Resource) -> bool:
        """A new resource; False when it is a default and the tenant has one already."""
        inserted = await self.conn.execute(
            text(
                "INSERT INTO resources (id, tenant_id, name, is_default, active)"
                " VALUES (:id, CAST(:t AS uuid), :name, :d, :a)"
                " ON CONFLICT (tenant_id) WHERE is_default DO NOTHING"
            ),
            {
                "id": resource.id,
                "t": self.tenant_id,
                "name": resource.name,
                "d": resource.is_default,
                "a": resource.active,
            },
        )
        return bool(inserted.rowcount)

    async def write_resource(self, resource: Resource) -> Resource:
        """Writes a locked resource's name and active flag back with the next version."""
        row = (
            (
                await self.conn.execute(
                    text(
                        "UPDATE resources SET name = :name, active = :a, version = version + 1,"
                        f" updated_at = clock_timestamp() WHERE id = :id RETURNING {_RESOURCE_COLUMNS}"
                    ),
                    {"id": resource.id, "name": resource.name, "a": resource.active},
                )
            )
            .mappings()
            .one()
        )
        return _resource(row)

    async def resource_has_bookings(self, resource_id: str) -> bool:
        """True when any booking (live or not) was made on the resource: its history needs it."""
        return bool(
            await self.conn.scalar(
                text("SELECT EXISTS (SELECT 1 FROM bookings WHERE resource_id = :r)"), {"r": resource_id}
            )
        )

    async def delete_resource(self, resource_id: str) -> None:
        """Removes a resource, the whole-day claims copied onto it and (by cascade) its hours."""
        await self.conn.execute(text("DELETE FROM occupancy WHERE resource_id = :r"), {"r": resource_id})
        await self.conn.execute(text("DELETE FROM resources WHERE id = :r"), {"r": resource_id})

    # --- occupancy ---------------------------------------------------------------------------

    async def live_day_bookings(self, since: date) -> list[tuple[str, date]]:
        """(id, date) of the tenant's live whole-day bookings from `since`."""
        rows = await self.conn.execute(
            text(
                f"SELECT b.id, b.event_date FROM bookings b WHERE b.kind = 'DAY' AND {_LIVE_BOOKING}"
                " AND b.event_date >= :since ORDER BY b.event_date"
            ),
            {"since": since},
        )
        return [(row.id, row.event_date) for row in rows]

    async def insert_occupancy(
        self, resource_id: str, booking_id: str, start: datetime, end: datetime
    ) -> None:
        """A booking's claim [start, end) on a resource (the exclusion constraint refuses an overlap)."""
        await self.conn.execute(
            text(
                "INSERT INTO occupancy (tenant_id, resource_id, booking_id, during)"
                " VALUES (CAST(:t AS uuid), :r, :b, tstzrange(:s, :e, '[)'))"
                " ON CONFLICT (booking_id, resource_id) DO NOTHING"
            ),
            {"t": self.tenant_id, "r": resource_id, "b": booking_id, "s": start, "e": end},
        )

    async def busy(self, resource_id: str, start: datetime, end: datetime) -> list[Busy]:
        """The live claims on a resource that overlap [start, end) (an expired hold's claim is free)."""
        rows = await self.conn.execute(
            text(
                "SELECT lower(o.during) AS s, upper(o.during) AS e FROM occupancy o"
                f" JOIN bookings b ON b.id = o.booking_id WHERE o.resource_id = :r AND {_LIVE_BOOKING}"
                " AND o.during && tstzrange(:s, :e, '[)') ORDER BY lower(o.during)"
            ),
            {"r": resource_id, "s": start, "e": end},
        )
        return [Busy(row.s, row.e) for row in rows]

    async def closed_dates(self, first: date, last: date) -> set[date]:
        """Dates of [first, last] no slot may take: blackouts and live whole-day bookings (which
        occupy every resource; read here too so that a day booked before its claims were written
        still closes)."""
        rows = await self.conn.execute(
            text(
                "SELECT date AS d FROM blackouts WHERE date BETWEEN :f AND :l"
                " UNION SELECT b.event_date FROM bookings b WHERE b.kind = 'DAY'"
                f" AND b.event_date BETWEEN :f AND :l AND {_LIVE_BOOKING}"
            ),
            {"f": first, "l": last},
        )
        return {row.d for row in rows}

    # --- hours -------------------------------------------------------------------------------

    async def weekly_hours(self, resource_id: str) -> dict[int, tuple[TimeRange, ...]]:
        """The resource's weekly ranges by ISO weekday (closed weekdays absent)."""
        rows = await self.conn.execute(
            text(
                "SELECT weekday, to_char(opens, 'HH24:MI') AS o, to_char(closes, 'HH24:MI') AS c"
                " FROM opening_hours WHERE resource_id = :r ORDER BY weekday, opens"
            ),
            {"r": resource_id},
        )
        weekly: dict[int, list[TimeRange]] = {}
        for row in rows:
            weekly.setdefault(int(row.weekday), []).append(TimeRange.parse(row.o, row.c))
        return {day: tuple(ranges) for day, ranges in weekly.items()}

    async def hours_exceptions(self, resource_id: str, first: date, last: date) -> tuple[HoursException, ...]:
        """The resource's exceptions of [first, last] in date order."""
        rows = await self.conn.execute(
            text(
                "SELECT date, ranges, reason FROM hours_exceptions"
                " WHERE resource_id = :r AND date BETWEEN :f AND :l ORDER BY date"
            ),
            {"r": resource_id, "f": first, "l": last},
        )
        out = []
        for row in rows:
            ranges = json.loads(row.ranges) if isinstance(row.ranges, str) else row.ranges
            parsed = tuple(TimeRange.parse(r["opens"], r["closes"]) for r in ranges)
            out.append(HoursException(row.date, parsed, row.reason))
        return tuple(out)

    async def replace_weekly(self, resource_id: str, weekly: dict[int, tuple[TimeRange, ...]]) -> None:
        """The resource's weekly hours become `weekly`."""
        await self.conn.execute(text("DELETE FROM opening_hours WHERE resource_id = :r"), {"r": resource_id})
        rows = [
            {"t": self.tenant_id, "r": resource_id, "w": day, "o": o, "c": c}
            for day, ranges in weekly.items()
            for o, c in (r.text() for r in ranges)
        ]
        if rows:
            await self.conn.execute(
                text(
                    "INSERT INTO opening_hours (tenant_id, resource_id, weekday, opens, closes)"
                    " VALUES (CAST(:t AS uuid), :r, :w, CAST(CAST(:o AS text) AS time),"
                    " CAST(CAST(:c AS text) AS time))"
                ),
                rows,
            )

    async def replace_exceptions(
        self, resource_id: str, first: date, last: date, exceptions: tuple[HoursException, ...]
    ) -> None:
        """The resource's exceptions of [first, last] become `exceptions`."""
        await self.conn.execute(
            text("DELETE FROM hours_exceptions WHERE resource_id = :r AND date BETWEEN :f AND :l"),
            {"r": resource_id, "f": first, "l": last},
        )
        rows = [
            {
                "t": self.tenant_id,
                "r": resource_id,
                "d": e.day,
                "g": json.dumps(ranges_text(e.ranges)),
                "why": e.reason,
            }
            for e in exceptions
        ]
        if rows:
            await self.conn.execute(
                text(
                    "INSERT INTO hours_exceptions (tenant_id, resource_id, date, ranges, reason)"
                    " VALUES (CAST(:t AS uuid), :r, :d, CAST(:g AS jsonb), :why)"
                ),
                rows,
            )


def _resource(row: Any) -> Resource:
    return Resource(
        id=row["id"],
        name=row["name"],
        is_default=bool(row["is_default"]),
        active=bool(row["active"]),
        version=int(row["version"]),
    )
