"""The data layer through a real PgBouncer in transaction mode (Debian's, configured as the stack renders it,
tools/stack/pgbouncer.py) with ONE server connection per role, so every transaction of every client shares
one PostgreSQL backend: tenants' transactions interleaved on it never see each other's scope or rows, no
setting outlives its transaction, no prepared statement is left on the server, and the statement and
lock timeouts still apply."""

from __future__ import annotations

import asyncio
import signal
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import asyncpg
import pytest

from mais_runtime.db import Database, DatabaseError, dsn, text
from mais_runtime.errors import DependencyUnavailable
from mais_runtime.provision import SERVICES, role_name
from services.catalog.domain import PackageDraft
from services.catalog.store import CatalogStore
from tests.integration.conftest import Cluster, service_database
from tools.stack import pgbouncer
from tools.stack.launcher import free_port
from tools.stack.processes import ManagedProcess


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _start_bouncer(cluster: Cluster, folder: Path, port: int) -> ManagedProcess:
    """PgBouncer as the stack renders it, one server connection per role, listening on `port`."""
    passwords = {role_name(s): unquote(urlsplit(cluster.role_urls[s]).password or "") for s in SERVICES}
    config = pgbouncer.config_from_admin_url(cluster.admin_url, port, passwords)
    ini = pgbouncer.render(config, folder, pool_size=1)
    process = ManagedProcess("pgbouncer", pgbouncer.argv(ini), {}, folder / "pgbouncer.log", restart=False)
    process.start()
    deadline = time.monotonic() + 15
    while not _listening(port):
        assert process.alive(), (folder / "pgbouncer.log").read_text()
        assert time.monotonic() < deadline, "PgBouncer did not listen within 15 s"
        time.sleep(0.05)
    return process


@pytest.fixture(scope="module")
def bouncer(cluster: Cluster, data_root: Path) -> Iterator[int]:
    """A PgBouncer on its own port with one server connection per role; yields the port."""
    port = free_port()
    process = _start_bouncer(cluster, data_root / f"pgbouncer-{uuid.uuid4().hex[:6]}", port)
    try:
        yield port
    finally:
        process.stop()


def _pooled(cluster: Cluster, port: int, name: str, **more: object) -> Database:
    return Database(
        pgbouncer.pooled_url(cluster.role_urls["catalog"], port),
        schema="catalog",
        application_name=name,
        transaction_pooler=True,
        **more,  # type: ignore[arg-type]
    )


@pytest.fixture
async def catalog_migrated(cluster: Cluster) -> None:
    """The catalog's migrations, applied directly (as the services do: migrations never go through it)."""
    db = await service_database(cluster, "catalog")
    await db.close()


@pytest.fixture
async def pooled(cluster: Cluster, bouncer: int, catalog_migrated: None) -> AsyncIterator[Database]:
    db = _pooled(cluster, bouncer, "test-pgbouncer", pool_size=8)
    yield db
    await db.close()


async def test_interleaved_tenants_on_one_server_connection_never_see_each_others_scope(
    pooled: Database, cluster: Cluster, bouncer: int
) -> None:
    other = _pooled(cluster, bouncer, "test-pgbouncer-2", pool_size=8)
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    backends: set[int] = set()
    try:

        async def write(db: Database, tenant: str, n: int) -> None:
            async with CatalogStore(db).writing(tenant) as tx:
                await tx.insert_package(
                    PackageDraft(slug=f"p{n}", title=f"P {n}", price_cents=1000 + n, currency="usd")
                )
            async with db.tenant_transaction(tenant) as conn:
                backends.add(await conn.scalar(text("SELECT pg_backend_pid()")))
                assert await conn.scalar(text("SELECT current_setting('mais.tenant_id', true)")) == tenant
                # Row-level security on the shared backend: only this tenant's packages, whatever ran before.
                seen = (
                    (await conn.execute(text("SELECT DISTINCT tenant_id::text FROM packages")))
                    .scalars()
                    .all()
                )
                assert seen == [tenant]
                await asyncio.sleep(0)  # let the other tenant's transaction queue behind this one

        # 16 client connections, 40 transactions of two tenants, one PostgreSQL backend.
        await asyncio.gather(
            *(write(pooled if n % 2 else other, a if n % 4 < 2 else b, n) for n in range(40))
        )
        assert len(backends) == 1, f"expected one server connection, saw backends {backends}"

        # Outside any transaction (PgBouncer hands the same backend over): no tenant scope, no platform
        # scope, and the timeouts SET LOCAL with each BEGIN are the server's defaults again.
        async with pooled.connection() as raw:
            assert await raw.fetchval("SELECT pg_backend_pid()") in backends
            assert await raw.fetchval("SELECT current_setting('mais.tenant_id', true)") in ("", None)
            assert await raw.fetchval("SELECT current_setting('mais.scope', true)") in ("", None)
            assert await raw.fetchval("SHOW statement_timeout") == "0"
            assert await raw.fetchval("SHOW lock_timeout") == "0"
            assert await raw.fetchval("SELECT count(*) FROM pg_prepared_statements") == 0
            # Without a scope, row-level security shows nothing at all.
            assert await raw.fetchval("SELECT count(*) FROM catalog.packages") == 0
        async with pooled.tenant_transaction(a) as conn:
            count = await conn.scalar(text("SELECT count(*) FROM packages"))
            assert count == 20
    finally:
        await other.close()


async def test_statement_and_lock_timeouts_still_apply_through_pgbouncer(
    cluster: Cluster, bouncer: int, catalog_migrated: None
) -> None:
    db = _pooled(cluster, bouncer, "test-pgbouncer-timeouts", statement_timeout_ms=300, lock_timeout_ms=200)
    tenant = str(uuid.uuid4())
    holder = await asyncpg.connect(dsn(cluster.role_urls["catalog"]), timeout=5)
    try:
        with pytest.raises(DatabaseError) as slow:
            async with db.platform_transaction() as conn:
                await conn.execute(text("SELECT pg_sleep(3)"))
        assert slow.value.sqlstate == "57014"  # canceled by statement_timeout

        async with CatalogStore(db).writing(tenant) as tx:
            made = await tx.insert_package(
                PackageDraft(slug="locked", title="L", price_cents=5000, currency="usd")
            )
        # A direct session holds the row's lock; the pooled transaction waits 200 ms, not forever.
        await holder.execute(f"BEGIN; SELECT set_config('mais.tenant_id', '{tenant}', true)")
        await holder.execute("SELECT 1 FROM catalog.packages WHERE id = $1 FOR UPDATE", made.stamp.id)
        with pytest.raises(DatabaseError) as locked:
            async with db.tenant_transaction(tenant) as conn:
                await conn.execute(
                    text("UPDATE packages SET title = 'M' WHERE id = :id"), {"id": made.stamp.id}
                )
        assert locked.value.sqlstate == "55P03"
        await holder.execute("ROLLBACK")
        async with db.tenant_transaction(tenant) as conn:  # the backend is usable again, the lock gone
            await conn.execute(text("UPDATE packages SET title = 'M' WHERE id = :id"), {"id": made.stamp.id})
    finally:
        await holder.close()
        await db.close()


async def test_pgbouncer_killed_costs_dependency_unavailable_and_the_pool_recovers_when_it_is_back(
    cluster: Cluster, data_root: Path, catalog_migrated: None
) -> None:
    folder, port = data_root / f"pgbouncer-killed-{uuid.uuid4().hex[:6]}", free_port()
    process = _start_bouncer(cluster, folder, port)
    db = _pooled(cluster, port, "test-pgbouncer-killed", pool_size=3, connect_timeout_seconds=2)
    try:

        async def one() -> int:
            async with db.platform_transaction() as conn:
                return int(await conn.scalar(text("SELECT 1")))

        assert await asyncio.gather(one(), one(), one()) == [1, 1, 1]
        process.signal(signal.SIGKILL)
        assert process.process is not None
        process.process.wait(timeout=10)
        # A pooler gone is the database unavailable (503), never an unclassified error (500).
        for _ in range(3):
            with pytest.raises(DependencyUnavailable):
                await one()
        process = _start_bouncer(cluster, folder, port)
        assert await asyncio.gather(one(), one(), one()) == [1, 1, 1]
    finally:
        await db.close()
        process.stop()


def test_the_rendered_configuration_is_transaction_mode_with_its_pools_stated(tmp_path: Path) -> None:
    config = pgbouncer.PgBouncerConfig(6432, "127.0.0.1", 5432, "mais", {"mais_booking": 'pa"ss'})
    ini = pgbouncer.render(config, tmp_path).read_text()
    assert "pool_mode = transaction" in ini
    assert f"default_pool_size = {pgbouncer.POOL_SIZE}" in ini
    assert "listen_addr = 127.0.0.1" in ini and "listen_port = 6432" in ini
    assert "server_reset_query" not in ini  # nothing hides a leak: the services keep state transaction-local
    users = tmp_path / "pgbouncer-users.txt"
    assert users.read_text() == '"mais_booking" "pa""ss"\n'
    assert users.stat().st_mode & 0o077 == 0
    with pytest.raises(ValueError, match="pool_size"):
        pgbouncer.render(config, tmp_path, pool_size=0)
    with pytest.raises(ValueError, match="database"):
        pgbouncer.render(pgbouncer.PgBouncerConfig(1, "h", 2, "m ais; x", {}), tmp_path)
