"""The database layer on raw asyncpg: results shaped as the stores read them, errors naming their
constraint, savepoints, a fixed fair pool, the pooler mode, and recovery from dead connections."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from mais_runtime.db import Database, DatabaseError, IntegrityError, text
from mais_runtime.errors import DependencyUnavailable, ValidationError
from tests.integration.conftest import Cluster


@pytest.fixture
async def scratch(cluster: Cluster) -> AsyncIterator[Database]:
    """The payments role with a scratch table (no tenant column), dropped after."""
    db = Database(cluster.role_urls["payments"], schema="payments", application_name="test-layer")
    async with db.platform_transaction() as conn:
        await conn.execute(
            text(
                "CREATE TABLE IF NOT EXISTS layer_probe (id int PRIMARY KEY, name text NOT NULL UNIQUE,"
                " doc jsonb, raw json, at timestamptz DEFAULT now())"
            )
        )
        await conn.execute(text("TRUNCATE layer_probe"))
    yield db
    async with db.platform_transaction() as conn:
        await conn.execute(text("DROP TABLE IF EXISTS layer_probe"))
    await db.close()


async def _count_backends(cluster: Cluster, application_name: str) -> int:
    admin = await asyncpg.connect(cluster.admin_url)
    try:
        return int(
            await admin.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", application_name
            )
        )
    finally:
        await admin.close()


async def _terminate(cluster: Cluster, application_name: str) -> int:
    admin = await asyncpg.connect(cluster.admin_url)
    try:
        return int(
            await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
                application_name,
            )
        )
    finally:
        await admin.close()


async def test_results_read_as_the_stores_read_them(scratch: Database) -> None:
    async with scratch.platform_transaction() as conn:
        inserted = await conn.execute(
            text(
                "INSERT INTO layer_probe (id, name, doc, raw) VALUES (:id, :name, CAST(:doc AS jsonb), :raw),"
                " (:id + 1, :name || '-2', NULL, NULL)"
            ),
            {"id": 1, "name": "one", "doc": '{"a": [1, 2]}', "raw": '{"b": true}'},
        )
        assert inserted.rowcount == 2
        rows = (await conn.execute("SELECT id, name, doc, raw FROM layer_probe ORDER BY id")).all()
        assert [(r.id, r.name) for r in rows] == [(1, "one"), (2, "one-2")]
        first = rows[0]
        assert first[0] == 1 and first["name"] == "one" and first._mapping["name"] == "one"
        assert first.doc == {"a": [1, 2]} and first.raw == {"b": True}  # json decoded, as before
        assert dict(first._mapping) == {"id": 1, "name": "one", "doc": {"a": [1, 2]}, "raw": {"b": True}}
        assert list(first._mapping) == ["id", "name", "doc", "raw"]
        with pytest.raises(AttributeError):
            _ = first.no_such_column
        mapping = (
            await conn.execute(text("SELECT name FROM layer_probe WHERE id = :id"), {"id": 2})
        ).mappings()
        assert mapping.one() == {"name": "one-2"}
        assert await conn.scalar(text("SELECT count(*) FROM layer_probe")) == 2
        names = (await conn.execute("SELECT name FROM layer_probe ORDER BY id")).scalars().all()
        assert names == ["one", "one-2"]
        assert (await conn.execute("SELECT 1 WHERE false")).one_or_none() is None
        updated = await conn.execute(
            text("UPDATE layer_probe SET name = name || '!' WHERE id > :n"), {"n": 0}
        )
        assert updated.rowcount == 2
        with pytest.raises(ValueError, match=":missing has no value"):
            await conn.execute(text("SELECT :present, :missing"), {"present": 1})


async def test_a_constraint_error_names_its_constraint_and_nothing_is_half_written(scratch: Database) -> None:
    with pytest.raises(IntegrityError) as caught:
        async with scratch.platform_transaction() as conn:
            await conn.execute(text("INSERT INTO layer_probe (id, name) VALUES (10, 'ten')"))
            await conn.execute(text("INSERT INTO layer_probe (id, name) VALUES (11, 'ten')"))
    assert caught.value.sqlstate == "23505"
    assert caught.value.constraint_name == "layer_probe_name_key"
    assert "layer_probe_name_key" in str(caught.value.orig)
    async with scratch.platform_transaction() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM layer_probe")) == 0
    with pytest.raises(DatabaseError) as refused:
        async with scratch.platform_transaction() as conn:
            await conn.execute(text("SELECT 1 / 0"))
    assert refused.value.sqlstate == "22012" and not isinstance(refused.value, IntegrityError)


async def test_a_savepoint_undoes_only_what_was_done_inside(scratch: Database) -> None:
    async with scratch.platform_transaction() as conn:
        await conn.execute(text("INSERT INTO layer_probe (id, name) VALUES (20, 'kept')"))
        with pytest.raises(IntegrityError):
            async with conn.begin_nested():
                await conn.execute(text("INSERT INTO layer_probe (id, name) VALUES (21, 'undone')"))
                await conn.execute(text("INSERT INTO layer_probe (id, name) VALUES (20, 'clash')"))
        async with conn.begin_nested():
            await conn.execute(text("INSERT INTO layer_probe (id, name) VALUES (22, 'inner')"))
    async with scratch.platform_transaction() as conn:
        names = (await conn.execute(text("SELECT name FROM layer_probe ORDER BY id"))).scalars().all()
    assert names == ["kept", "inner"]


async def test_the_tenant_scope_is_set_with_begin_and_only_a_uuid_is_accepted(scratch: Database) -> None:
    tenant = str(uuid.uuid4())
    async with scratch.tenant_transaction(tenant.upper()) as conn:
        assert await conn.scalar(text("SELECT current_setting('mais.tenant_id', true)")) == tenant
        assert await conn.scalar(text("SELECT current_setting('mais.scope', true)")) in (None, "")
    async with scratch.platform_transaction() as conn:
        assert await conn.scalar(text("SELECT current_setting('mais.scope', true)")) == "platform"
        # Both were transaction-local: a later transaction on the same connection starts clean.
    async with scratch.platform_transaction() as conn:
        assert await conn.scalar(text("SELECT current_setting('mais.tenant_id', true)")) in (None, "")
    with pytest.raises(ValidationError, match="tenant_id"):
        async with scratch.tenant_transaction("x', true); DROP TABLE layer_probe; --"):
            pass


async def test_the_pool_keeps_a_fixed_set_of_connections_under_load(cluster: Cluster) -> None:
    name = f"test-fixed-{uuid.uuid4().hex[:6]}"
    db = Database(cluster.role_urls["booking"], schema="booking", application_name=name, pool_size=4)
    try:

        async def one() -> None:
            async with db.platform_transaction() as conn:
                await conn.execute(text("SELECT pg_sleep(0.002)"))

        await asyncio.gather(*(one() for _ in range(200)))
        assert db.connects == 4  # each slot opened once, none closed and reopened
        assert await _count_backends(cluster, name) == 4
    finally:
        await db.close()
    assert await _count_backends(cluster, name) == 0


async def test_a_caller_waiting_longer_than_the_pool_timeout_gets_dependency_unavailable(
    cluster: Cluster,
) -> None:
    db = Database(
        cluster.role_urls["booking"],
        schema="booking",
        application_name="test-exhausted",
        pool_size=1,
        pool_timeout_seconds=0.2,
    )
    try:
        async with db.platform_transaction():
            with pytest.raises(DependencyUnavailable, match="pool exhausted"):
                async with db.platform_transaction():
                    pass
        async with db.platform_transaction() as conn:  # the slot came back
            assert await conn.scalar(text("SELECT 1")) == 1
    finally:
        await db.close()


async def test_behind_a_transaction_pooler_no_statement_is_named_and_settings_ride_with_begin(
    cluster: Cluster,
) -> None:
    pooled = Database(
        cluster.role_urls["booking"],
        schema="booking",
        application_name="test-pooler",
        statement_timeout_ms=1234,
        transaction_pooler=True,
    )
    direct = Database(cluster.role_urls["booking"], schema="booking", application_name="test-direct")
    try:
        for db in (pooled, direct):
            async with db.platform_transaction() as conn:
                await conn.execute(text("SELECT count(*) FROM pg_class WHERE relname = :s"), {"s": "x"})
        async with pooled.platform_transaction() as conn:
            assert await conn.scalar(text("SELECT count(*) FROM pg_prepared_statements")) == 0
            assert await conn.scalar(text("SHOW statement_timeout")) == "1234ms"
            assert await conn.scalar(text("SHOW search_path")) == "booking"
        async with direct.platform_transaction() as conn:
            assert await conn.scalar(text("SELECT count(*) FROM pg_prepared_statements")) >= 1
    finally:
        await pooled.close()
        await direct.close()


async def test_connections_killed_under_a_busy_pool_cost_only_the_request_in_flight(
    cluster: Cluster,
) -> None:
    name = f"test-killed-{uuid.uuid4().hex[:6]}"
    db = Database(cluster.role_urls["booking"], schema="booking", application_name=name, pool_size=3)
    try:

        async def one(seconds: float = 0.05) -> None:
            async with db.platform_transaction() as conn:
                await conn.execute(text("SELECT pg_sleep(:s)"), {"s": seconds})

        await asyncio.gather(*(one() for _ in range(3)))
        in_flight = asyncio.create_task(one(5))
        await asyncio.sleep(0.3)
        # As a restarting server would: every connection ends, warm idle ones and the busy one.
        assert await _terminate(cluster, name) == 3
        with pytest.raises(DependencyUnavailable):
            await in_flight
        await asyncio.gather(*(one() for _ in range(6)))  # each dead slot is replaced at checkout
        assert db.connects == 6
        assert await _count_backends(cluster, name) == 3
    finally:
        await db.close()
