"""No 500 for a database that is slow, busy or gone. A database gone (a backend killed mid-transaction:
in a statement, between statements, at COMMIT; a server hanging up while a connection starts; kills at
random moments under a busy pool) is DependencyUnavailable; a database busy (a lock or statement timeout,
retries running out) is DatabaseBusy, which the server chain answers UNAVAILABLE (503 at the gateway,
tests/integration/test_platform_gateway_errors.py); only a statement refused on its merits stays a plain
DatabaseError. Each cause reproduced on a real server, and a pooled connection killed while idle costs
no request at all."""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections import Counter
from collections.abc import AsyncIterator

import asyncpg
import pytest

from mais_runtime.db import Database, DatabaseBusy, DatabaseError, IntegrityError, text, with_retries
from mais_runtime.errors import DependencyUnavailable, DomainError, GrpcCode
from tests.integration.conftest import Cluster

LOCK_KEY = "SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"


def _db(cluster: Cluster, name: str, **options: int | float) -> Database:
    return Database(cluster.role_urls["booking"], schema="booking", application_name=name, **options)  # type: ignore[arg-type]


@pytest.fixture
async def holder(cluster: Cluster) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection that takes locks other transactions then wait for."""
    conn = await asyncpg.connect(cluster.admin_url, timeout=10)
    yield conn
    await conn.close()


async def _terminate(cluster: Cluster, application_name: str) -> int:
    admin = await asyncpg.connect(cluster.admin_url, timeout=10)
    try:
        return int(
            await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
                application_name,
            )
        )
    finally:
        await admin.close()


async def test_a_lock_wait_past_the_lock_timeout_is_the_database_busy_not_an_internal_error(
    cluster: Cluster, holder: asyncpg.Connection
) -> None:
    key = f"errors-lock-{uuid.uuid4()}"
    db = _db(cluster, "test-err-lock", lock_timeout_ms=100)
    try:
        async with holder.transaction():
            await holder.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", key)
            with pytest.raises(DatabaseBusy) as caught:
                async with db.platform_transaction() as conn:
                    await conn.execute(text(LOCK_KEY), {"k": key})
        error = caught.value
        # A DatabaseError with its SQLSTATE (retries and the stores read it), never a domain refusal;
        # what the server chain answers for it is UNAVAILABLE.
        assert isinstance(error, DatabaseError) and not isinstance(error, DomainError)
        assert error.sqlstate == "55P03"
        told = error.as_unavailable()
        assert (told.code, told.reason, told.message) == (
            GrpcCode.UNAVAILABLE,
            "UNAVAILABLE",
            "database busy (lock timeout)",
        )
        async with db.platform_transaction() as conn:  # the connection was fine: rolled back, reused
            await conn.execute(text(LOCK_KEY), {"k": key})
        assert db.connects == 1
    finally:
        await db.close()


async def test_a_statement_past_the_statement_timeout_is_the_database_busy(cluster: Cluster) -> None:
    db = _db(cluster, "test-err-statement", statement_timeout_ms=100)
    try:
        with pytest.raises(DatabaseBusy) as caught:
            async with db.platform_transaction() as conn:
                await conn.execute(text("SELECT pg_sleep(2)"))
        assert caught.value.sqlstate == "57014"
    finally:
        await db.close()


async def test_retries_that_run_out_on_a_held_lock_answer_busy_after_every_attempt(
    cluster: Cluster, holder: asyncpg.Connection
) -> None:
    key = f"errors-retry-{uuid.uuid4()}"
    db = _db(cluster, "test-err-retries", lock_timeout_ms=50)
    attempts = 0

    async def attempt() -> None:
        nonlocal attempts
        attempts += 1
        async with db.platform_transaction() as conn:
            await conn.execute(text(LOCK_KEY), {"k": key})

    try:
        async with holder.transaction():
            await holder.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", key)
            with pytest.raises(DatabaseBusy):
                await with_retries(attempt, tries=3, base_delay=0.001)
        assert attempts == 3
    finally:
        await db.close()


async def test_a_statement_refused_on_its_merits_stays_a_database_error(
    cluster: Cluster,
) -> None:
    db = _db(cluster, "test-err-refused")
    try:
        with pytest.raises(DatabaseError) as caught:
            async with db.platform_transaction() as conn:
                await conn.execute(text("SELECT no_such_column FROM pg_class"))
        assert not isinstance(caught.value, DatabaseBusy) and caught.value.sqlstate == "42703"
        with pytest.raises(DatabaseError) as caught:
            async with db.platform_transaction() as conn:
                await conn.execute(text("SELECT 1 / :zero"), {"zero": 0})
        assert not isinstance(caught.value, (DatabaseBusy, IntegrityError))
    finally:
        await db.close()


@pytest.mark.parametrize("moment", ["in a statement", "between statements", "at commit"])
async def test_a_backend_killed_mid_transaction_answers_unavailable_and_costs_only_that_request(
    cluster: Cluster, moment: str
) -> None:
    name = f"test-err-kill-{uuid.uuid4().hex[:6]}"
    db = _db(cluster, name, pool_size=2)
    try:
        with pytest.raises(DependencyUnavailable, match="database unavailable"):
            async with db.platform_transaction() as conn:
                await conn.execute(text("SELECT 1"))
                if moment == "in a statement":
                    killer = asyncio.create_task(_kill_soon(cluster, name))
                    await conn.execute(text("SELECT pg_sleep(3)"))
                    await killer
                else:
                    assert await _terminate(cluster, name) == 1
                    await asyncio.sleep(0.1)  # the FATAL and the hang-up reach the client
                    if moment == "between statements":
                        await conn.execute(text("SELECT 2"))
                # "at commit": nothing more in the body; COMMIT meets the dead connection
        async with db.platform_transaction() as conn:  # the next request gets a fresh connection
            assert await conn.scalar(text("SELECT 3")) == 3
    finally:
        await db.close()


async def _kill_soon(cluster: Cluster, name: str) -> None:
    await asyncio.sleep(0.3)
    assert await _terminate(cluster, name) == 1


async def test_a_server_that_hangs_up_while_the_connection_starts_answers_unavailable() -> None:
    # What an overloaded or restarting server does to a new connection: accepts it and closes it (asyncpg:
    # ConnectionError "unexpected connection_lost() call" during its SSL request).
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            await reader.read(8)
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    db = Database(
        f"postgresql://nobody:x@127.0.0.1:{port}/mais", schema="booking", application_name="test-err-hangup"
    )
    try:
        for _ in range(2):
            with pytest.raises(DependencyUnavailable, match="database unavailable"):
                async with db.platform_transaction():
                    pass
    finally:
        await db.close()
        server.close()
        await server.wait_closed()


async def test_connections_killed_at_random_moments_under_load_fail_only_as_unavailable(
    cluster: Cluster,
) -> None:
    name = f"test-err-chaos-{uuid.uuid4().hex[:6]}"
    db = _db(cluster, name, pool_size=4, pool_timeout_seconds=2.0)
    outcomes: Counter[str] = Counter()
    stop = asyncio.Event()

    async def couple(n: int) -> None:
        rng = random.Random(n)
        while not stop.is_set():
            try:
                async with db.platform_transaction() as conn:
                    await conn.execute(text("SELECT pg_sleep(:s)"), {"s": rng.random() * 0.02})
                    async with conn.begin_nested():
                        await conn.execute(
                            text("SELECT count(*) FROM pg_class WHERE relname = :r"), {"r": "x"}
                        )
                    await asyncio.sleep(rng.random() * 0.01)
                    await conn.execute(text("SELECT :n::int"), {"n": n})
                outcomes["ok"] += 1
            except DependencyUnavailable:
                outcomes["unavailable"] += 1
            except Exception as error:  # anything else would be a 500
                outcomes[f"{type(error).__name__}: {error}"] += 1

    workers = [asyncio.create_task(couple(n)) for n in range(12)]
    try:
        for _ in range(10):
            await asyncio.sleep(0.15)
            await _terminate(cluster, name)
        await asyncio.sleep(0.3)
    finally:
        stop.set()
        await asyncio.gather(*workers)
    try:
        assert set(outcomes) <= {"ok", "unavailable"}, outcomes
        assert outcomes["unavailable"] >= 1 and outcomes["ok"] >= 10, outcomes
        async with db.platform_transaction() as conn:  # and the pool is whole afterwards
            assert await conn.scalar(text("SELECT 1")) == 1
    finally:
        await db.close()


async def test_a_pooled_connection_killed_while_idle_costs_no_request(cluster: Cluster) -> None:
    # What a PostgreSQL restart or a failover does to a warm pool between requests: the next BEGIN
    # finds the connection dead (often before the driver saw the socket close: "another operation is
    # in progress") with nothing done on it, so the transaction begins again on a fresh connection.
    name = f"test-err-idle-{uuid.uuid4().hex[:6]}"
    db = _db(cluster, name, pool_size=1)
    admin = await asyncpg.connect(cluster.admin_url, timeout=10)
    failures: list[str] = []
    try:
        for n in range(12):
            async with db.platform_transaction() as conn:
                await conn.execute(text("SELECT 1"))
            kill = "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1"
            assert await admin.fetchval(kill, name) == 1
            await asyncio.sleep(0.002 * n)  # from "at once" to "the hang-up has arrived"
            try:
                async with db.platform_transaction() as conn:
                    assert await conn.scalar(text("SELECT :n::int"), {"n": n}) == n
            except DependencyUnavailable as error:
                failures.append(f"{n}: {error.__cause__!r}")
        assert not failures, failures
        assert db.connects == 13
    finally:
        await admin.close()
        await db.close()


async def test_a_pool_saturated_by_a_working_database_still_pings_as_reachable(cluster: Cluster) -> None:
    # The health watch pings every second with a 2 s bound: a pool whose every slot is busy with
    # transactions that commit is a busy database, not one that is down (readiness must not flip).
    db = _db(cluster, "test-err-saturated", pool_size=1, pool_timeout_seconds=10.0)
    stop = asyncio.Event()

    async def busy() -> None:
        while not stop.is_set():
            async with db.platform_transaction() as conn:
                await conn.execute(text("SELECT pg_sleep(0.05)"))

    workers = [asyncio.create_task(busy()) for _ in range(30)]
    try:
        await asyncio.sleep(0.5)
        answers = []
        for _ in range(5):
            try:
                answers.append(await asyncio.wait_for(db.ping(), timeout=0.5))
            except TimeoutError:
                answers.append(False)
        assert answers == [True] * 5
    finally:
        stop.set()
        await asyncio.gather(*workers)
    await asyncio.sleep(1.1)  # no commit lately: a ping is a real round trip again
    assert await db.ping()
    await db.close()
    assert not await db.ping()  # and a closed pool is not reachable
