"""Database access for one service: an async SQLAlchemy engine on the service's own login role,
and transactions that carry the tenant scope row-level security keys on.

Every tenant-owned table has a policy `USING (mais_tenant_visible(tenant_id))` (see
migrations.py): inside `tenant_transaction(t)` a query sees only tenant t's rows even when it
forgot its own tenant filter. `platform_transaction()` is the explicit, greppable opt-in for work
that spans tenants (dispatchers, key resolution, webhook intake before a tenant is known).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import event, exc, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from mais_runtime.errors import DependencyUnavailable
from mais_runtime.tenancy import parse_tenant_id

log = logging.getLogger(__name__)

T = TypeVar("T")

# SQLSTATEs worth retrying: serialization failure, deadlock, lock timeout.
# A pooled connection unused this long is pinged before it is handed out.
IDLE_PING_SECONDS = 10.0
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01", "55P03"})
# The server is going away or not back yet (admin shutdown, crash shutdown, starting up / shutting
# down): the database is unavailable, not the request wrong.
SERVER_GOING_AWAY_SQLSTATES = frozenset({"57P01", "57P02", "57P03"})


def asyncpg_url(url: str) -> str:
    """SQLAlchemy's spelling of a postgres URL for the asyncpg driver."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise ValueError("database URL must start with postgresql://")


def sqlstate(error: BaseException) -> str | None:
    """The SQLSTATE of a database error, however deep the driver wrapped it."""
    seen: BaseException | None = error
    while seen is not None:
        code = getattr(seen, "sqlstate", None) or getattr(seen, "pgcode", None)
        if isinstance(code, str):
            return code
        seen = getattr(seen, "orig", None) or seen.__cause__
    return None


class Database:
    """One service's connection pool with explicit sizes and per-statement/lock timeouts."""

    def __init__(
        self,
        url: str,
        *,
        schema: str,
        application_name: str,
        pool_size: int = 10,
        max_overflow: int = 5,
        pool_timeout_seconds: float = 5.0,
        statement_timeout_ms: int = 5000,
        lock_timeout_ms: int = 2000,
        connect_timeout_seconds: float = 5.0,
        idle_ping_seconds: float = IDLE_PING_SECONDS,
    ) -> None:
        self.schema = schema
        self.engine: AsyncEngine = create_async_engine(
            asyncpg_url(url),
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_timeout=pool_timeout_seconds,
            # No ping before every checkout (a round trip per transaction under load); only a connection
            # that sat idle is pinged (see _ping_if_idle). One that died with a busy server fails its first
            # statement: SQLAlchemy then drops the whole pool, that request answers 503
            # (DependencyUnavailable) and the next one connects afresh.
            pool_pre_ping=False,
            pool_recycle=1800,
            connect_args={
                "timeout": connect_timeout_seconds,
                "command_timeout": statement_timeout_ms / 1000 + 5,
                "server_settings": {
                    "search_path": schema,
                    "application_name": application_name,
                    "statement_timeout": str(statement_timeout_ms),
                    "lock_timeout": str(lock_timeout_ms),
                    "idle_in_transaction_session_timeout": str(max(statement_timeout_ms * 4, 10000)),
                },
            },
        )

        _ping_if_idle(self.engine, idle_ping_seconds)

    @asynccontextmanager
    async def tenant_transaction(self, tenant_id: str) -> AsyncIterator[AsyncConnection]:
        """A READ COMMITTED transaction that sees only `tenant_id`'s rows."""
        tenant_id = parse_tenant_id(tenant_id)
        async with self._begin() as conn:
            await conn.execute(
                text("SELECT set_config('mais.tenant_id', :tenant_id, true)"), {"tenant_id": tenant_id}
            )
            yield conn

    @asynccontextmanager
    async def platform_transaction(self) -> AsyncIterator[AsyncConnection]:
        """A transaction that may see every tenant's rows. Use only for cross-tenant work."""
        async with self._begin() as conn:
            await conn.execute(text("SELECT set_config('mais.scope', 'platform', true)"))
            yield conn

    @asynccontextmanager
    async def _begin(self) -> AsyncIterator[AsyncConnection]:
        try:
            async with self.engine.begin() as conn:
                yield conn
        except (TimeoutError, OSError) as error:
            raise DependencyUnavailable("database unavailable") from error
        except DBAPIError as error:
            if _database_unreachable(error):
                raise DependencyUnavailable("database unavailable") from error
            raise

    async def ping(self) -> bool:
        """True when the database answers a trivial query within the pool's timeouts."""
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:  # any failure means "not ready"; the reason goes to the log
            log.warning("database ping failed", exc_info=True)
            return False
        return True

    async def close(self) -> None:
        """Closes every pooled connection."""
        await self.engine.dispose()


def _ping_if_idle(engine: AsyncEngine, idle_seconds: float) -> None:
    """Pings a pooled connection at checkout when it sat unused for `idle_seconds`: a proxy, a firewall
    or a restarted server may have dropped it meanwhile. A dead one is replaced before the caller sees
    it (SQLAlchemy's disconnect-handling recipe), so quiet periods never cost a request its answer."""

    @event.listens_for(engine.sync_engine, "checkin")
    def _returned(dbapi_connection: Any, record: Any) -> None:
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        returned = record.info.get("returned_at")
        if returned is None or time.monotonic() - returned < idle_seconds:
            return
        try:
            dbapi_connection.ping()
        except Exception as error:
            raise exc.DisconnectionError("idle connection is gone") from error


def _database_unreachable(error: DBAPIError) -> bool:
    """The database could not be reached or went away (rather than refusing the statement)."""
    state = sqlstate(error) or ""
    return (
        error.connection_invalidated
        # Class 08 (connection exception) arrives as any driver error class, e.g. a connection
        # closed while the pool was opening it.
        or state.startswith("08")
        or state in SERVER_GOING_AWAY_SQLSTATES
        or (isinstance(error, OperationalError) and _is_connect(error))
    )


def _is_connect(error: DBAPIError) -> bool:
    return sqlstate(error) is None or (sqlstate(error) or "").startswith("08")


async def with_retries(attempt: Callable[[], Awaitable[T]], *, tries: int = 4, base_delay: float = 0.02) -> T:
    """Runs `attempt` again on serialization failures, deadlocks and lock timeouts, with jittered
    exponential backoff, at most `tries` times. Other errors pass through at once."""
    for n in range(tries):
        try:
            return await attempt()
        except DBAPIError as error:
            if sqlstate(error) not in RETRYABLE_SQLSTATES or n == tries - 1:
                raise
            delay = base_delay * (2**n) * (0.5 + random.random())  # noqa: S311 - jitter, not crypto
            log.info("retrying after %s", sqlstate(error), extra={"sqlstate": sqlstate(error)})
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")
