"""What a booking costs PostgreSQL (issue 17, docs/performance.md "PostgreSQL's share"), on a real
server: the hot lookups name their tenant so that the indexes (all leading with tenant_id) find the
tenant's rows without walking every other tenant's, and the change feed is told only of changes the
public reads show."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import asyncpg
import pytest

from mais_runtime.db import Database, compile_sql, text
from services.booking.store import _GLANCE, _MINE, _TAKEN_DATES, BookingStore
from services.booking.use_cases import Bookings
from tests.integration.test_booking_store import booking_db, hold, store  # noqa: F401 - fixtures

CROWDED_DAY = date(2033, 3, 3)
OTHER_TENANTS = 3000
CHANNEL = "mais_booking_changes"


@pytest.fixture
async def crowded_day(admin: asyncpg.Connection, booking_db: Database) -> AsyncIterator[date]:  # noqa: F811
    """CROWDED_DAY confirmed at OTHER_TENANTS other tenants, the table analysed."""
    customer = f"cu_cost_{uuid.uuid4().hex[:12]}"
    await admin.execute(
        "INSERT INTO booking.customers (id, tenant_id, email, name) VALUES ($1, gen_random_uuid(), $2, 'C')",
        customer,
        f"{customer}@example.com",
    )
    await admin.execute(
        "INSERT INTO booking.bookings (id, tenant_id, customer_id, event_date, status, couple_name, email,"
        " package_id, quote, total_cents, currency, request_id)"
        " SELECT 'bk_cost_' || n, gen_random_uuid(), $1, $2, 'CONFIRMED', 'C', 'c' || n || '@example.com',"
        " 'pkg_1', '{}'::jsonb, 100, 'usd', 'rq_cost_' || n FROM generate_series(1, $3) AS n",
        customer,
        CROWDED_DAY,
        OTHER_TENANTS,
    )
    await admin.execute("ANALYZE booking.bookings")
    try:
        yield CROWDED_DAY
    finally:
        await admin.execute("DELETE FROM booking.bookings WHERE id LIKE 'bk_cost_%'")
        await admin.execute("DELETE FROM booking.customers WHERE id = $1", customer)


async def _buffers(db: Database, tenant: str, sql: str, params: dict[str, Any]) -> int:
    """Shared buffers the statement touched, run as the tenant with the plan a pooled connection
    uses (its generic plan: Database sets plan_cache_mode), by EXPLAIN ANALYZE of the prepared
    statement."""
    compiled, names = compile_sql(sql)
    async with db.tenant_transaction(tenant) as conn:
        raw = conn._raw  # EXPLAIN's JSON arrives as text; the store's Result is for rows of a query
        assert await raw.fetchval("SHOW plan_cache_mode") == "force_generic_plan"
        name = f"cost_{uuid.uuid4().hex[:8]}"
        await raw.execute(f"PREPARE {name} AS {compiled}")
        # EXECUTE takes no bound parameters: the test's own values, as literals.
        arguments = ", ".join("'" + str(params[n]).replace("'", "''") + "'" for n in names)
        plan = await raw.fetchval(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE {name}({arguments})")
        await raw.execute(f"DEALLOCATE {name}")
    top = (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]
    return int(top["Shared Hit Blocks"]) + int(top["Shared Read Blocks"])


async def test_a_glance_reads_its_tenant_s_entries_not_every_tenant_s(
    booking_db: Database,  # noqa: F811
    crowded_day: date,
    new_tenant_id: str,
) -> None:
    params = {"tenant": new_tenant_id, "rid": "rq_cost_7", "day": crowded_day, "email": "x@example.com"}
    mine = await _buffers(booking_db, new_tenant_id, _GLANCE, params)
    # The same read without its tenant, as it was: row-level security gives the same answer, but
    # its condition is no index condition, so the date's entries of every tenant are walked.
    everyone = await _buffers(booking_db, new_tenant_id, _GLANCE.replace(f"{_MINE} AND ", ""), params)
    async with BookingStore(booking_db).tenant(new_tenant_id) as tx:
        look = await tx.glance(crowded_day, "rq_cost_7", "x@example.com")
    # Another tenant's request id and confirmed booking of the date are not this tenant's.
    assert (look.request_known, look.live, look.own_hold, look.expired_hold) == (False, None, False, False)
    assert mine <= 30, mine
    assert everyone > 5 * mine, (mine, everyone)


async def test_the_calendar_s_year_reads_its_tenant_s_entries_not_every_tenant_s(
    booking_db: Database,  # noqa: F811
    crowded_day: date,
    new_tenant_id: str,
) -> None:
    # The public calendar's read (BookingTx.taken_dates), a year around the crowded date.
    first, last = date(crowded_day.year, 1, 1), date(crowded_day.year, 12, 31)
    params = {"tenant": new_tenant_id, "first": first, "last": last}
    mine = await _buffers(booking_db, new_tenant_id, _TAKEN_DATES, params)
    everyone = await _buffers(booking_db, new_tenant_id, _TAKEN_DATES.replace(f"{_MINE} AND ", ""), params)
    async with BookingStore(booking_db).tenant(new_tenant_id) as tx:
        assert await tx.taken_dates(first, last) == {}
    assert mine <= 30, mine
    assert everyone > 5 * mine, (mine, everyone)


async def _notifications(admin: asyncpg.Connection) -> asyncio.Queue[str]:
    heard: asyncio.Queue[str] = asyncio.Queue()
    await admin.add_listener(CHANNEL, lambda _c, _p, _ch, payload: heard.put_nowait(payload))
    return heard


async def _drain(heard: asyncio.Queue[str], wait: float) -> list[str]:
    """What arrives within `wait` seconds of quiet."""
    got = []
    while True:
        try:
            got.append(await asyncio.wait_for(heard.get(), timeout=wait))
        except TimeoutError:
            return got


async def test_only_changes_the_public_reads_show_are_told_to_the_change_feed(
    admin: asyncpg.Connection,
    booking_db: Database,  # noqa: F811
    store: Bookings,  # noqa: F811
    new_tenant_id: str,
) -> None:
    heard = await _notifications(admin)
    booking = await hold(store, new_tenant_id, date(2033, 4, 4))
    assert new_tenant_id in await _drain(heard, 0.5)  # a new hold takes a date
    async with BookingStore(booking_db).tenant(new_tenant_id) as tx:
        await tx.set_payment_session(booking.id, "cs_cost_1")
    assert await _drain(heard, 0.5) == []  # the checkout's link shows nowhere public
    async with BookingStore(booking_db).tenant(new_tenant_id) as tx:
        await tx.mark_confirmed(booking.id, session_id="cs_cost_1", amount_paid_cents=250000, remind_at=None)
    assert await _drain(heard, 0.5) == [new_tenant_id]  # held → booked does
    async with BookingStore(booking_db).tenant(new_tenant_id) as tx:
        await tx.conn.execute(
            text("UPDATE bookings SET event_date = :d WHERE id = :id"),
            {"d": date(2033, 4, 5), "id": booking.id},
        )
    assert await _drain(heard, 0.5) == [new_tenant_id]  # so does a move to another date
