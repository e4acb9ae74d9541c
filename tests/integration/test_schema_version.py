"""A service refuses to start on a schema newer or older than its release's migrations, and the
migrations Job's entry point (python -m mais_runtime.migrate) brings a schema to the release."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg
import pytest

from mais_runtime.db import Database, text
from mais_runtime.migrations import MigrationRefused, apply_migrations, check_schema
from mais_runtime.provision import SERVICES, provision
from mais_runtime.server import _migrate_when_reachable
from tests.integration.conftest import REPO, Cluster, spawn_service
from tools.stack.launcher import Ports, Stack, StackOptions
from tools.stack.pgserver import EmbeddedPostgres

SCHEMA = "schema_version_test"


@pytest.fixture
async def scratch_db(cluster: Cluster) -> AsyncIterator[Database]:
    """A scratch schema of the payments role, emptied before and after."""
    admin = await asyncpg.connect(cluster.admin_url)
    try:
        await admin.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        await admin.execute(f"CREATE SCHEMA {SCHEMA} AUTHORIZATION mais_payments")
    finally:
        await admin.close()
    db = Database(cluster.role_urls["payments"], schema=SCHEMA, application_name="schema-version-test")
    yield db
    await db.close()
    admin = await asyncpg.connect(cluster.admin_url)
    try:
        await admin.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    finally:
        await admin.close()


def _release(folder: Path, *names: str) -> Path:
    folder.mkdir(exist_ok=True)
    for name in names:
        (folder / name).write_text(f"CREATE TABLE {name.removesuffix('.sql')[4:]} (n int);")
    return folder


async def test_a_schema_never_migrated_is_older_and_refused_naming_the_missing_files(
    scratch_db: Database, tmp_path: Path
) -> None:
    release = _release(tmp_path / "m", "001_first.sql", "002_second.sql")
    with pytest.raises(MigrationRefused, match=r"older than this release: .* 001_first, 002_second"):
        await check_schema(scratch_db, release)
    # A service told not to migrate (the Job does) refuses to start on it; nothing was created.
    with pytest.raises(MigrationRefused, match="older"):
        await _migrate_when_reachable(scratch_db, release, attempts=1, apply=False)
    async with scratch_db.platform_transaction() as conn:
        assert (await conn.execute(text("SELECT to_regclass('first')"))).scalar() is None


async def test_a_schema_at_the_release_passes_and_a_release_behind_its_files_is_refused(
    scratch_db: Database, tmp_path: Path
) -> None:
    release = _release(tmp_path / "m", "001_first.sql")
    assert await apply_migrations(scratch_db, release) == ["001_first"]
    await check_schema(scratch_db, release)
    await _migrate_when_reachable(scratch_db, release, attempts=1, apply=False)
    # The next release ships 002: until it is applied, that release's services refuse.
    _release(release, "002_second.sql")
    with pytest.raises(MigrationRefused, match=r"older than this release: .* 002_second not applied"):
        await check_schema(scratch_db, release)
    # Migrating at start (one machine) applies it and then passes the check.
    await _migrate_when_reachable(scratch_db, release, attempts=1, apply=True)
    await check_schema(scratch_db, release)


async def test_a_schema_migrated_by_a_later_release_is_newer_and_refused_even_when_migrating_at_start(
    scratch_db: Database, tmp_path: Path
) -> None:
    later = _release(tmp_path / "later", "001_first.sql", "002_second.sql")
    await apply_migrations(scratch_db, later)
    earlier = _release(tmp_path / "earlier", "001_first.sql")
    with pytest.raises(MigrationRefused, match=r"newer than this release supports: .*002_second"):
        await check_schema(scratch_db, earlier)
    with pytest.raises(MigrationRefused, match="newer"):
        await _migrate_when_reachable(scratch_db, earlier, attempts=1, apply=True)


def _migrate(service: str, database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MAIS_DATABASE_URL": database_url, "MAIS_LOG_LEVEL": "INFO"}
    return subprocess.run(
        [sys.executable, "-m", "mais_runtime.migrate", service],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_the_migrations_job_entry_brings_a_service_schema_to_the_release(cluster: Cluster) -> None:
    done = _migrate("catalog", cluster.role_urls["catalog"])
    assert done.returncode == 0, done.stderr
    assert "schema catalog at this release" in done.stderr
    db = Database(cluster.role_urls["catalog"], schema="catalog", application_name="schema-version-check")
    try:
        await check_schema(db, REPO / "services" / "catalog" / "migrations")
    finally:
        await db.close()
    # Run again: nothing to apply, still at the release.
    again = _migrate("catalog", cluster.role_urls["catalog"])
    assert again.returncode == 0, again.stderr
    assert "applied nothing" in again.stderr


def test_the_migrations_job_entry_rejects_an_unknown_service_naming_it() -> None:
    wrong = _migrate("billing", "postgresql://nobody@127.0.0.1:1/none")
    assert wrong.returncode == 2
    assert "service must be one of tenant, catalog, booking, payments: 'billing'" in wrong.stderr


@pytest.fixture(scope="module")
def fresh_cluster(data_root: Path) -> Iterator[Cluster]:
    """A PostgreSQL of its own, provisioned (roles and schemas) but with no service migrated yet: what
    a new cluster's database administrator hands over before the first migrations Job."""
    data_dir = data_root / "fresh-cluster"
    passwords = {s: secrets.token_urlsafe(16) for s in SERVICES}
    server = EmbeddedPostgres(data_dir, Ports.free().postgres, durable=False)
    server.start()
    try:
        asyncio.run(provision(server.admin_url, passwords))
        helper = Stack(StackOptions(data_dir=data_dir, ports=Ports(), database_url=server.admin_url))
        helper.admin_database_url = server.admin_url
        yield Cluster(server.admin_url, {s: helper.role_url(s, passwords[s]) for s in SERVICES})
    finally:
        server.stop("immediate")


def test_a_service_waits_on_an_unmigrated_schema_until_the_job_ran_then_serves(
    fresh_cluster: Cluster, tmp_path: Path
) -> None:
    no_migrating = {"MAIS_MIGRATE_ON_START": "false"}

    def said(text: str) -> bool:
        return any(text in log.read_text() for log in tmp_path.glob("logs/*.log"))

    async def tables() -> int:
        admin = await asyncpg.connect(fresh_cluster.admin_url)
        try:
            return int(await admin.fetchval("SELECT count(*) FROM pg_tables WHERE schemaname = 'tenant'"))
        finally:
            await admin.close()

    with ThreadPoolExecutor(1) as pool:
        starting = pool.submit(
            spawn_service, fresh_cluster, "services.tenant", "tenant", tmp_path, no_migrating
        )
        # It does not serve on the older schema: it says it waits for the Job, and creates nothing itself.
        deadline = time.monotonic() + 90
        while not said("waiting for the migrations Job"):
            assert time.monotonic() < deadline, "the service never said it waits for the migrations Job"
            assert not starting.done(), starting.result()
            time.sleep(0.2)
        assert said("schema tenant is older than this release")
        assert asyncio.run(tables()) == 0
        done = _migrate("tenant", fresh_cluster.role_urls["tenant"])
        assert done.returncode == 0, done.stderr
        service = starting.result(timeout=120)
    service.stop()


def test_a_service_refuses_a_schema_a_later_release_migrated_even_when_it_migrates_at_start(
    fresh_cluster: Cluster, tmp_path: Path
) -> None:
    assert _migrate("catalog", fresh_cluster.role_urls["catalog"]).returncode == 0

    async def record(sql: str) -> None:
        admin = await asyncpg.connect(fresh_cluster.admin_url)
        try:
            await admin.execute(sql)
        finally:
            await admin.close()

    later = "999_from_a_later_release"
    asyncio.run(record(f"INSERT INTO catalog.schema_migrations (version) VALUES ('{later}')"))
    try:
        with pytest.raises(RuntimeError, match=rf"(?s)exited.*newer than this release supports.*{later}"):
            spawn_service(fresh_cluster, "services.catalog", "catalog", tmp_path)
        # The migrations Job of this (older) release refuses too, and says why.
        refused = _migrate("catalog", fresh_cluster.role_urls["catalog"])
        assert refused.returncode == 1
        assert later in refused.stderr
    finally:
        asyncio.run(record(f"DELETE FROM catalog.schema_migrations WHERE version = '{later}'"))
    service = spawn_service(fresh_cluster, "services.catalog", "catalog", tmp_path)
    service.stop()
