"""The database foundation: one role and schema per service, row-level security, migrations."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from mais_runtime.db import Database, text
from mais_runtime.migrations import MigrationRefused, apply_migrations, checksum
from tests.integration.conftest import Cluster, service_database


async def test_booking_role_cannot_read_the_tenant_schema(cluster: Cluster) -> None:
    db = await service_database(cluster, "tenant")
    await db.close()
    conn = await asyncpg.connect(cluster.role_urls["booking"])
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.fetch("SELECT * FROM tenant.tenants")
    finally:
        await conn.close()


async def test_service_role_cannot_create_objects_outside_its_schema(cluster: Cluster) -> None:
    conn = await asyncpg.connect(cluster.role_urls["catalog"])
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("CREATE TABLE booking.intruder (id int)")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("CREATE TABLE public.intruder (id int)")
    finally:
        await conn.close()


async def _insert_tenant(db: Database, tenant_id: str, slug: str) -> None:
    async with db.tenant_transaction(tenant_id) as conn:
        await conn.execute(
            text("INSERT INTO tenants (id, slug, name) VALUES (:id, :slug, :name)"),
            {"id": tenant_id, "slug": slug, "name": slug},
        )


async def test_a_query_without_tenant_filter_sees_only_the_scoped_tenants_rows(tenant_db: Database) -> None:
    tenant_a, tenant_b = str(uuid.uuid4()), str(uuid.uuid4())
    await _insert_tenant(tenant_db, tenant_a, f"a-{tenant_a[:8]}")
    await _insert_tenant(tenant_db, tenant_b, f"b-{tenant_b[:8]}")

    async with tenant_db.tenant_transaction(tenant_a) as conn:
        ids = {str(row[0]) for row in await conn.execute(text("SELECT id FROM tenants"))}
    assert ids == {tenant_a}

    async with tenant_db.platform_transaction() as conn:
        ids = {str(row[0]) for row in await conn.execute(text("SELECT id FROM tenants"))}
    assert {tenant_a, tenant_b} <= ids


async def test_rows_cannot_be_written_for_another_tenant(tenant_db: Database) -> None:
    tenant_a, tenant_b = str(uuid.uuid4()), str(uuid.uuid4())
    with pytest.raises(Exception, match="row-level security"):
        async with tenant_db.tenant_transaction(tenant_a) as conn:
            await conn.execute(
                text("INSERT INTO tenants (id, slug, name) VALUES (:id, :slug, 'x')"),
                {"id": tenant_b, "slug": f"x-{tenant_b[:8]}"},
            )


async def test_outside_any_scope_a_connection_sees_no_tenant_rows(
    cluster: Cluster, tenant_db: Database
) -> None:
    tenant_a = str(uuid.uuid4())
    await _insert_tenant(tenant_db, tenant_a, f"c-{tenant_a[:8]}")
    conn = await asyncpg.connect(cluster.role_urls["tenant"])
    try:
        assert await conn.fetchval("SELECT count(*) FROM tenant.tenants") == 0
    finally:
        await conn.close()


async def test_migrations_apply_once_even_when_two_replicas_start_together(
    cluster: Cluster, tmp_path: Path
) -> None:
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "001_counter.sql").write_text(
        "CREATE TABLE IF NOT EXISTS migration_probe (n int);\nINSERT INTO migration_probe VALUES (1);"
    )
    (folder / "002_more.sql").write_text("INSERT INTO migration_probe VALUES (2);")
    replicas = [
        Database(cluster.role_urls["payments"], schema="payments", application_name=f"replica-{n}")
        for n in range(2)
    ]
    try:
        results = await asyncio.gather(*(apply_migrations(db, folder) for db in replicas))
        assert sorted(len(r) for r in results) == [0, 2]
        assert await apply_migrations(replicas[0], folder) == []
        async with replicas[0].platform_transaction() as conn:
            rows = [r[0] for r in await conn.execute(text("SELECT n FROM migration_probe ORDER BY n"))]
        assert rows == [1, 2]
    finally:
        async with replicas[0].platform_transaction() as conn:
            await conn.execute(text("DROP TABLE IF EXISTS migration_probe"))
            await conn.execute(
                text("DELETE FROM schema_migrations WHERE version IN ('001_counter', '002_more')")
            )
        for db in replicas:
            await db.close()


async def test_pooled_connections_dropped_while_idle_are_replaced_before_a_request_sees_them(
    cluster: Cluster,
) -> None:
    # As a proxy or a restarted server would: every pooled connection of this pool ends while it is idle.
    db = Database(
        cluster.role_urls["booking"], schema="booking", application_name="test-idle", idle_ping_seconds=0.2
    )
    try:
        async with db.platform_transaction() as conn:
            assert await conn.scalar(text("SELECT 1")) == 1
        admin = await asyncpg.connect(cluster.admin_url)
        try:
            ended = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE application_name = 'test-idle'"
            )
        finally:
            await admin.close()
        assert ended >= 1
        await asyncio.sleep(0.3)
        # The idle connection is pinged at checkout, found dead and replaced: no error reaches the caller.
        async with db.platform_transaction() as conn:
            assert await conn.scalar(text("SELECT 1")) == 1
    finally:
        await db.close()


@pytest.fixture
async def probe_db(cluster: Cluster) -> AsyncIterator[Database]:
    """The payments role's schema for migration probes; every probe table and record is removed after."""
    db = Database(cluster.role_urls["payments"], schema="payments", application_name="test-probe")
    yield db
    async with db.platform_transaction() as conn:
        await conn.execute(text("DROP TABLE IF EXISTS probe_rows, probe_leak"))
        await conn.execute(text("DELETE FROM schema_migrations WHERE version LIKE '%probe%'"))
    await db.close()


def _migration(folder: Path, name: str, sql: str) -> None:
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(sql)


async def test_a_migration_changed_after_it_was_applied_stops_start_up_naming_the_file(
    probe_db: Database, tmp_path: Path
) -> None:
    folder = tmp_path / "migrations"
    _migration(folder, "001_probe_rows.sql", "CREATE TABLE probe_rows (n int);")
    assert await apply_migrations(probe_db, folder) == ["001_probe_rows"]
    _migration(folder, "001_probe_rows.sql", "CREATE TABLE probe_rows (n bigint);")
    _migration(folder, "002_probe_more.sql", "INSERT INTO probe_rows VALUES (1);")
    with pytest.raises(MigrationRefused, match=r"001_probe_rows\.sql changed after it was applied"):
        await apply_migrations(probe_db, folder)
    async with probe_db.platform_transaction() as conn:
        pending = await conn.scalar(
            text("SELECT count(*) FROM schema_migrations WHERE version = '002_probe_more'")
        )
    assert pending == 0


async def test_a_database_recorded_before_checksums_adopts_the_files_once(
    probe_db: Database, tmp_path: Path
) -> None:
    folder = tmp_path / "migrations"
    _migration(folder, "001_probe_rows.sql", "CREATE TABLE probe_rows (n int);")
    await apply_migrations(probe_db, folder)
    async with probe_db.platform_transaction() as conn:
        await conn.execute(
            text("UPDATE schema_migrations SET checksum = NULL WHERE version = '001_probe_rows'")
        )
    # The file's text today is taken as what ran (the rows cannot say otherwise) ...
    assert await apply_migrations(probe_db, folder) == []
    async with probe_db.platform_transaction() as conn:
        recorded = await conn.scalar(
            text("SELECT checksum FROM schema_migrations WHERE version = '001_probe_rows'")
        )
    assert recorded == checksum(folder / "001_probe_rows.sql")
    # ... once: from then on a change is refused like any other.
    _migration(folder, "001_probe_rows.sql", "CREATE TABLE probe_rows (n int, m int);")
    with pytest.raises(MigrationRefused, match=r"001_probe_rows\.sql"):
        await apply_migrations(probe_db, folder)


async def test_a_tenant_table_left_without_row_level_security_stops_start_up_naming_it(
    probe_db: Database, tmp_path: Path
) -> None:
    folder = tmp_path / "migrations"
    _migration(folder, "001_probe_leak.sql", "CREATE TABLE probe_leak (tenant_id uuid NOT NULL, note text);")
    with pytest.raises(
        MigrationRefused, match=r"payments\.probe_leak has a tenant_id column but is not isolated"
    ):
        await apply_migrations(probe_db, folder)
    # Enabled but not forced (the owning service role would still see every tenant) is refused too.
    async with probe_db.platform_transaction() as conn:
        await conn.execute(text("ALTER TABLE probe_leak ENABLE ROW LEVEL SECURITY"))
    with pytest.raises(MigrationRefused, match="probe_leak"):
        await apply_migrations(probe_db, folder)


async def test_the_isolation_helper_hides_other_tenants_rows_from_the_owning_role(
    probe_db: Database, tmp_path: Path
) -> None:
    folder = tmp_path / "migrations"
    _migration(
        folder,
        "001_probe_rows.sql",
        "CREATE TABLE probe_rows (tenant_id uuid NOT NULL, n int);\n"
        "SELECT mais_isolate_by_tenant('probe_rows');",
    )
    await apply_migrations(probe_db, folder)
    tenant_a, tenant_b = str(uuid.uuid4()), str(uuid.uuid4())
    for tenant, n in ((tenant_a, 1), (tenant_b, 2)):
        async with probe_db.tenant_transaction(tenant) as conn:
            await conn.execute(
                text("INSERT INTO probe_rows VALUES (CAST(:t AS uuid), :n)"), {"t": tenant, "n": n}
            )
    async with probe_db.tenant_transaction(tenant_a) as conn:
        assert [r[0] for r in await conn.execute(text("SELECT n FROM probe_rows"))] == [1]
    with pytest.raises(Exception, match="row-level security"):
        async with probe_db.tenant_transaction(tenant_a) as conn:
            await conn.execute(text("INSERT INTO probe_rows VALUES (CAST(:t AS uuid), 3)"), {"t": tenant_b})


async def test_every_services_tenant_tables_and_outbox_are_isolated(cluster: Cluster) -> None:
    for service in ("tenant", "catalog", "booking", "payments"):
        db = await service_database(cluster, service)  # the runner's own check passes on every schema
        await db.close()
    admin = await asyncpg.connect(cluster.admin_url)
    try:
        rows = await admin.fetch(
            "SELECT n.nspname, c.relname, c.relrowsecurity AND c.relforcerowsecurity AS isolated"
            " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname IN ('tenant', 'catalog', 'booking', 'payments') AND c.relkind = 'r'"
            " AND c.relname <> 'schema_migrations'"
        )
        outbox_columns = {
            r["column_name"]
            for r in await admin.fetch(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_schema = 'booking' AND table_name = 'outbox'"
            )
        }
    finally:
        await admin.close()
    assert [f"{r['nspname']}.{r['relname']}" for r in rows if not r["isolated"]] == []
    assert {"booking.outbox", "tenant.outbox", "tenant.tenants", "tenant.signin_failures"} <= {
        f"{r['nspname']}.{r['relname']}" for r in rows
    }
    assert {"from_name", "reply_to", "dedupe_key", "tenant_id"} <= outbox_columns
