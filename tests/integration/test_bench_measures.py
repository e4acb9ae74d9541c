"""What the benchmark reads from PostgreSQL, against the real schemas: the confirmation and inbox
queries run on booking's and payments' migrated tables, the CONFIRMED wait is bounded, and the
connection count sees each role's backends and the sessions opened (the pool-churn figure)."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from tests.integration.conftest import Cluster, service_database
from tools.bench import flows
from tools.bench.flows import STATS_FLUSH_SECONDS, confirmations, pg_connections, wait_confirmed


async def test_the_confirmation_queries_fit_the_real_schemas(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    for service in ("booking", "payments"):
        db = await service_database(cluster, service)
        await db.close()
    found = await confirmations(cluster.admin_url, ["bk_not_there"])
    assert (found.confirmed_at, found.received_at) == ({}, {})
    # A booking that never becomes CONFIRMED is waited for no longer than the stall bound.
    monkeypatch.setattr(flows, "STALL_SECONDS", 0.3)
    assert await asyncio.wait_for(wait_confirmed(cluster.admin_url, ["bk_not_there"]), 10) == 0
    assert await wait_confirmed(cluster.admin_url, []) == 0


async def test_connections_are_counted_by_role_and_sessions_opened(cluster: Cluster) -> None:
    probe = await asyncpg.connect(cluster.admin_url, timeout=10)
    opened: list[asyncpg.Connection] = []
    try:
        await asyncio.sleep(STATS_FLUSH_SECONDS)
        before = await pg_connections(probe)
        opened = [await asyncpg.connect(cluster.role_urls["booking"], timeout=10) for _ in range(3)]
        for conn in opened:
            await conn.fetchval("SELECT 1")
        await asyncio.sleep(STATS_FLUSH_SECONDS)
        after = await pg_connections(probe)
    finally:
        for conn in opened:
            await conn.close()
        await probe.close()
    assert after.backends.get("mais_booking", 0) - before.backends.get("mais_booking", 0) == 3
    assert after.sessions - before.sessions >= 3
    # The probe itself is never counted among the backends.
    assert after.backends.get("postgres", 0) == before.backends.get("postgres", 0)
