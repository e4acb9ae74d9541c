"""A whole stack with PgBouncer in front of PostgreSQL (`StackOptions.pgbouncer`, MAIS_PGBOUNCER=1): it is
ready, a couple books and pays and the booking is confirmed with money and ledger agreeing, the change
feeds work on both gateways, and PostgreSQL sees the services' pooled work only through PgBouncer's
server connections (the only direct sessions are the LISTEN connections)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import psutil
import pytest

from mais_runtime.db import dsn
from mais_runtime.provision import SERVICES, role_name
from tests.e2e.conftest import (
    platform_admin_token,
    stack_options,
    tenant_maker,
)
from tests.e2e.test_change_feeds import FEEDS, gateway_metrics, healthy, heard
from tests.e2e.test_payments_flows import (
    Sandbox,
    a_free_day,
    ledger,
    make_shop,
    started,
    status_becomes,
    wait_until,
)
from tools.stack import pgbouncer
from tools.stack.launcher import Stack


@pytest.fixture(scope="module")
def bounced(data_root: Path) -> Iterator[Stack]:
    options = stack_options(data_root / "stack-pgbouncer", MAIS_CHECKOUT_RATE_LIMIT="0")
    options.pgbouncer = True
    with Stack(options).running(timeout=150) as running:
        yield running


async def _backends(stack: Stack) -> list[tuple[str, str, int]]:
    """(role, application name, client port) of every session of a service role."""
    conn = await asyncpg.connect(dsn(stack.admin_database_url), timeout=10)
    try:
        rows = await conn.fetch(
            "SELECT usename, application_name, client_port FROM pg_stat_activity WHERE usename = ANY($1)",
            [role_name(s) for s in SERVICES],
        )
    finally:
        await conn.close()
    return [(r["usename"], r["application_name"], r["client_port"]) for r in rows]


def test_a_stack_behind_pgbouncer_books_confirms_and_its_change_feeds_work(bounced: Stack) -> None:
    stack = bounced
    assert "pgbouncer" in stack.processes and stack.processes["pgbouncer"].alive()
    booking_env = stack.processes["booking"].env
    assert f":{stack.ports.pgbouncer}/" in booking_env["MAIS_DATABASE_URL"]
    assert booking_env["MAIS_DB_TRANSACTION_POOLER"] == "true"
    assert f":{stack.ports.pgbouncer}/" not in booking_env["MAIS_DATABASE_DIRECT_URL"]

    urls = gateway_metrics(stack)
    assert len(urls) == 2
    assert wait_until(lambda: all(healthy(url) for url in urls), "every gateway's feeds healthy")
    before = [heard(url, "catalog") for url in urls]

    sandbox = Sandbox(stack)
    with httpx.Client(base_url=stack.url, timeout=10.0) as http:
        shop = make_shop(stack, tenant_maker(stack, platform_admin_token(stack)))
        # The package made over catalog's gRPC notified at commit: both gateways heard it over their feeds.
        wait_until(
            lambda: all(heard(url, "catalog") > b for url, b in zip(urls, before, strict=True)),
            "both gateways to hear the catalog change",
        )
        answer = started(http, shop, a_free_day(), email_address=f"c-{uuid.uuid4().hex[:8]}@example.com")
        assert answer["status"] == "HELD"
        sandbox.pay(answer["checkoutUrl"])
        confirmed = status_becomes(http, shop, answer["bookingId"], "CONFIRMED")
        assert confirmed["amountPaidCents"] == shop.total_cents
        assert ledger(http, sandbox, shop, answer["bookingId"])["totals"]["chargedCents"] == shop.total_cents
    sandbox.http.close()
    assert all(healthy(url, FEEDS) for url in urls)

    # Every session of a service role is one of PgBouncer's server connections, except the LISTEN ones
    # (and the migrators', closed after start): the pools do not reach PostgreSQL directly.
    bouncer = psutil.Process(stack.processes["pgbouncer"].pid)
    upstream = {
        c.laddr.port
        for c in bouncer.net_connections("tcp")
        if c.raddr and c.raddr.port == stack.ports.postgres
    }
    sessions = asyncio.run(_backends(stack))
    direct = sorted({app for _, app, port in sessions if port not in upstream})
    assert direct and all(app.endswith("-changes") for app in direct), direct
    assert any(port in upstream for _, _, port in sessions)
    limit = len(SERVICES) * (pgbouncer.POOL_SIZE + pgbouncer.RESERVE_POOL_SIZE)
    assert len(upstream) <= limit
