"""Database access for one service: a fixed pool of raw asyncpg connections on the service's own login
role, and transactions that carry the tenant scope row-level security keys on.

Every tenant-owned table has a policy `USING (mais_tenant_visible(tenant_id))` (see
migrations.py): inside `tenant_transaction(t)` a query sees only tenant t's rows even when it
forgot its own tenant filter. `platform_transaction()` is the explicit, greppable opt-in for work
that spans tenants (dispatchers, key resolution, webhook intake before a tenant is known).

Stores speak SQL with `:name` parameters (`conn.execute(text("... :id"), {"id": ...})`, or a plain
string): each SQL text is translated once to asyncpg's `$n` and cached, and asyncpg keeps the
prepared statement per connection, so a hot statement costs one round trip and no parsing. Results
offer what the stores use of SQLAlchemy's (`one first all scalar scalar_one one_or_none mappings
scalars rowcount`, rows by attribute, index and `_mapping`); json and jsonb decode to Python values
and are written as JSON text, as SQLAlchemy's asyncpg dialect did.

A transaction's BEGIN and its scope travel in one round trip (a simple-query pair); COMMIT is the
other. The pool has a fixed size and never closes a healthy connection: a connection unused for
`idle_ping_seconds` (or returned before another one was found dead) is pinged at checkout and
replaced if it is gone, so a restarted server costs at most the one request that discovered it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import re
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Any, Generic, TypeVar

import asyncpg
from prometheus_client import Counter

from mais_runtime.errors import DependencyUnavailable
from mais_runtime.tenancy import parse_tenant_id

log = logging.getLogger(__name__)

T = TypeVar("T")
V = TypeVar("V")

# A pooled connection unused this long is pinged before it is handed out.
IDLE_PING_SECONDS = 10.0
# SQLSTATEs worth retrying: serialization failure, deadlock, lock timeout.
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01", "55P03"})
# The server is going away or not back yet (admin shutdown, crash shutdown, starting up / shutting
# down), or it ended this session (idle in a transaction, idle session): the database is unavailable,
# not the request wrong, and the connection is gone.
SERVER_GOING_AWAY_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "25P03", "57P05"})
# The database is up but could not do this work in time: a lock or statement timeout, a deadlock or a
# serialization failure (after the caller's retries, for the retryable ones), or its resources ran out
# (class 53: too many connections, out of memory, disk full). The platform is busy, not the request
# wrong: DatabaseBusy, answered 503 UNAVAILABLE like any dependency that did not answer.
BUSY_SQLSTATES = frozenset({"40001", "40P01", "55P03", "57014"})
# A COMMIT the server answered this recently is proof enough that the database answers (ping).
PING_EVIDENCE_SECONDS = 1.0
# How long ROLLBACK or a ping may take before the connection is given up on.
_HOUSEKEEPING_TIMEOUT_SECONDS = 2.0

CONNECTIONS_OPENED = Counter(
    "mais_db_connections_opened_total",
    "Database connections opened by this process's pool (a fixed pool opens each slot once)",
    ["reason"],
)

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


# --- errors ---------------------------------------------------------------------------------------


class DatabaseError(Exception):
    """PostgreSQL refused a statement. `sqlstate` and `constraint_name` say why; `orig` is the driver's
    error (its text names the constraint, as the stores' older checks read it)."""

    def __init__(self, orig: BaseException) -> None:
        super().__init__(str(orig))
        self.orig = orig
        self.sqlstate: str | None = getattr(orig, "sqlstate", None)
        self.constraint_name: str | None = getattr(orig, "constraint_name", None)


class IntegrityError(DatabaseError):
    """A constraint refused a write (SQLSTATE class 23: unique, exclusion, foreign key, check, not null)."""


class DatabaseBusy(DatabaseError):
    """The database could not do the work in time (BUSY_SQLSTATES, class 53): the platform being slow,
    not the request wrong. A DatabaseError like any other inside the service (`with_retries` and the
    stores read its `sqlstate`; nothing that catches domain errors mistakes it for a refusal); the
    server chain answers it UNAVAILABLE (`as_unavailable()`, 503 at the gateway), never INTERNAL."""

    def as_unavailable(self) -> DependencyUnavailable:
        """What the caller is told: the database is busy, and why in a few words (no server text)."""
        return DependencyUnavailable(f"database busy ({_BUSY_WORDS.get(self.sqlstate or '', 'overloaded')})")


_BUSY_WORDS = {
    "40001": "serialization failure",
    "40P01": "deadlock",
    "55P03": "lock timeout",
    "57014": "statement timeout",
}


class ResultError(LookupError):
    """A result did not have the number of rows the caller demanded (`one()`, `scalar_one()`)."""


def sqlstate(error: BaseException) -> str | None:
    """The SQLSTATE of a database error, however deep the driver wrapped it."""
    seen: BaseException | None = error
    while seen is not None:
        code = getattr(seen, "sqlstate", None) or getattr(seen, "pgcode", None)
        if isinstance(code, str):
            return code
        seen = getattr(seen, "orig", None) or seen.__cause__
    return None


# What the driver raises when the connection is gone or its protocol state is lost: the socket
# (OSError, ConnectionError's "unexpected connection_lost()"), its command timeout, its interface
# ("connection is closed", "another operation is in progress") and internal client errors.
_LOST = (OSError, TimeoutError, asyncpg.InterfaceError, asyncpg.InternalClientError)


def _unreachable(error: BaseException) -> bool:
    """The database could not be reached or went away (rather than refusing the statement)."""
    if isinstance(error, _LOST):
        return True
    state = getattr(error, "sqlstate", None) or ""
    return state.startswith("08") or state in SERVER_GOING_AWAY_SQLSTATES


def _translate(error: asyncpg.PostgresError) -> DatabaseError:
    state = error.sqlstate or ""
    if state.startswith("23"):
        return IntegrityError(error)
    if state in BUSY_SQLSTATES or state.startswith("53"):
        return DatabaseBusy(error)
    return DatabaseError(error)


class _ConnectionLost(Exception):
    """Internal: the connection died under a statement; the transaction answers DependencyUnavailable."""


# --- SQL text -------------------------------------------------------------------------------------


def text(sql: str) -> str:
    """The SQL as given: kept so that `conn.execute(text("..."), {...})` reads as it always did."""
    return sql


# Quoted literals, quoted identifiers, dollar-quoted bodies and comments are copied untouched; `::` is a
# cast; `:name` (not after a word character, a colon or a backslash) is a parameter; `\:` a literal colon.
_SQL_TOKENS = re.compile(
    r"""
      (?P<skip>'(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|/\*.*?\*/|(?P<tag>\$[A-Za-z_]*\$).*?(?P=tag)|::)
    | (?P<escaped>\\:)
    | (?<![\w\\:]):(?P<name>[A-Za-z_]\w*)
    """,
    re.VERBOSE | re.DOTALL,
)


@lru_cache(maxsize=4096)
def compile_sql(sql: str) -> tuple[str, tuple[str, ...]]:
    """`:name` parameters to asyncpg's `$n` (a name used twice is one `$n`), and the names in order."""
    names: list[str] = []

    def replace(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return ":"
        name = match.group("name")
        if name is None:
            return match.group(0)
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return _SQL_TOKENS.sub(replace, sql), tuple(names)


def _sql_of(statement: Any) -> str:
    if isinstance(statement, str):
        return statement
    sql = getattr(statement, "text", None)  # a SQLAlchemy text() clause
    if not isinstance(sql, str):
        raise TypeError(f"SQL must be a str or a text() clause, not {type(statement).__name__}")
    return sql


# --- rows and results -----------------------------------------------------------------------------


class Row(asyncpg.Record):  # type: ignore[misc]  # asyncpg ships no types
    """A result row: by index (`row[0]`), by column name as an attribute (`row.id`) or key
    (`row["id"]`), and as a mapping (`row._mapping`)."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def _mapping(self) -> RowMapping:
        return RowMapping(self)

    def _asdict(self) -> dict[str, Any]:
        return dict(self.items())


class RowMapping(Mapping[str, Any]):
    """A row as a read-only mapping of column name to value."""

    __slots__ = ("_record",)

    def __init__(self, record: asyncpg.Record) -> None:
        self._record = record

    def __getitem__(self, key: str) -> Any:
        return self._record[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._record.keys())

    def __len__(self) -> int:
        return len(self._record)

    def __repr__(self) -> str:
        return f"RowMapping({dict(self._record.items())!r})"


def _exactly_one(rows: Sequence[Any]) -> Any:
    if len(rows) != 1:
        raise ResultError(f"expected exactly one row, got {'none' if not rows else 'several'}")
    return rows[0]


def _one_or_none(rows: Sequence[Any]) -> Any:
    if len(rows) > 1:
        raise ResultError("expected at most one row, got several")
    return rows[0] if rows else None


class _Rows(Generic[V]):
    """The mapping and scalar views of a result."""

    __slots__ = ("_items",)

    def __init__(self, items: list[V]) -> None:
        self._items = items

    def __iter__(self) -> Iterator[V]:
        return iter(self._items)

    def all(self) -> list[V]:
        return list(self._items)

    def first(self) -> V | None:
        return self._items[0] if self._items else None

    def one(self) -> V:
        return _exactly_one(self._items)  # type: ignore[no-any-return]

    def one_or_none(self) -> V | None:
        return _one_or_none(self._items)  # type: ignore[no-any-return]


class Result:
    """The rows of one statement (fetched whole) and its row count."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list[Row], status: bytes | str | None) -> None:
        self._rows = rows
        self.rowcount = _rowcount(status)

    def __iter__(self) -> Iterator[Row]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def keys(self) -> list[str]:
        return list(self._rows[0].keys()) if self._rows else []

    def all(self) -> list[Row]:
        return list(self._rows)

    def first(self) -> Row | None:
        return self._rows[0] if self._rows else None

    def one(self) -> Row:
        return _exactly_one(self._rows)  # type: ignore[no-any-return]

    def one_or_none(self) -> Row | None:
        return _one_or_none(self._rows)  # type: ignore[no-any-return]

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None

    def scalar_one(self) -> Any:
        return _exactly_one(self._rows)[0]

    def scalar_one_or_none(self) -> Any:
        row = _one_or_none(self._rows)
        return None if row is None else row[0]

    def scalars(self) -> _Rows[Any]:
        return _Rows([row[0] for row in self._rows])

    def mappings(self) -> _Rows[RowMapping]:
        return _Rows([RowMapping(row) for row in self._rows])


def _rowcount(status: bytes | str | None) -> int:
    """The row count of a command tag ("INSERT 0 1", "UPDATE 3", "SELECT 2"); -1 when it has none."""
    if not status:
        return -1
    word = (status.decode() if isinstance(status, bytes) else status).rpartition(" ")[2]
    return int(word) if word.isdigit() else -1


# --- connections ----------------------------------------------------------------------------------


class Connection:
    """A connection inside one transaction, as the stores see it."""

    __slots__ = ("_raw", "_savepoints", "lost")

    def __init__(self, raw: asyncpg.Connection) -> None:
        self._raw = raw
        self._savepoints = 0
        self.lost = False

    async def execute(
        self, statement: Any, parameters: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None
    ) -> Result:
        """Runs one statement with `:name` parameters taken from `parameters`; a list of mappings runs
        it once for each (no rows come back)."""
        sql, names = compile_sql(_sql_of(statement))
        if isinstance(parameters, Sequence):
            return await self._execute_many(sql, names, parameters)
        if names:
            if parameters is None:
                raise ValueError(f"SQL parameter :{names[0]} has no value")
            try:
                args = [parameters[name] for name in names]
            except KeyError as missing:
                raise ValueError(f"SQL parameter :{missing.args[0]} has no value") from None
        else:
            args = []
        try:
            rows, status, _ = await self._raw._execute(
                sql, args, 0, None, return_status=True, record_class=Row
            )
        except asyncpg.PostgresError as error:
            if _unreachable(error):
                self.lost = True
                raise _ConnectionLost() from error
            raise _translate(error) from error
        except _LOST as error:
            self.lost = True
            raise _ConnectionLost() from error
        return Result(rows, status)

    async def _execute_many(
        self, sql: str, names: tuple[str, ...], rows: Sequence[Mapping[str, Any]]
    ) -> Result:
        try:
            args = [[row[name] for name in names] for row in rows]
        except KeyError as missing:
            raise ValueError(f"SQL parameter :{missing.args[0]} has no value") from None
        try:
            await self._raw.executemany(sql, args)
        except asyncpg.PostgresError as error:
            if _unreachable(error):
                self.lost = True
                raise _ConnectionLost() from error
            raise _translate(error) from error
        except _LOST as error:
            self.lost = True
            raise _ConnectionLost() from error
        return Result([], None)

    async def scalar(self, statement: Any, parameters: Mapping[str, Any] | None = None) -> Any:
        """The first column of the first row, or None."""
        return (await self.execute(statement, parameters)).scalar()

    @asynccontextmanager
    async def begin_nested(self) -> AsyncIterator[Connection]:
        """A savepoint: an error inside undoes only what was done inside, and passes on."""
        self._savepoints += 1
        name = f"mais_sp_{self._savepoints}"
        await self._simple(f"SAVEPOINT {name}")
        try:
            yield self
        except BaseException:
            if not self.lost:
                await self._simple(f"ROLLBACK TO SAVEPOINT {name}")
            raise
        else:
            await self._simple(f"RELEASE SAVEPOINT {name}")

    async def _simple(self, sql: str) -> None:
        try:
            await self._raw.execute(sql)
        except asyncpg.PostgresError as error:
            if _unreachable(error):
                self.lost = True
                raise _ConnectionLost() from error
            raise _translate(error) from error
        except _LOST as error:
            self.lost = True
            raise _ConnectionLost() from error


# SQLAlchemy's name, kept for the stores' annotations.
AsyncConnection = Connection


class _Slot:
    __slots__ = ("conn", "opened", "returned_at")

    def __init__(self) -> None:
        self.conn: asyncpg.Connection | None = None
        self.opened = False
        self.returned_at = 0.0


async def _json_codecs(conn: asyncpg.Connection) -> None:
    """json and jsonb as SQLAlchemy's asyncpg dialect registered them: written as JSON text, read as
    Python values."""
    await conn.set_type_codec(
        "json",
        encoder=str.encode,
        decoder=lambda b: json.loads(b.decode()),
        schema="pg_catalog",
        format="binary",
    )
    await conn.set_type_codec(
        "jsonb",
        encoder=lambda s: b"\x01" + s.encode(),
        decoder=lambda b: json.loads(b[1:].decode()),
        schema="pg_catalog",
        format="binary",
    )


class Database:
    """One service's fixed pool of connections with per-statement/lock timeouts."""

    def __init__(
        self,
        url: str,
        *,
        schema: str,
        application_name: str,
        pool_size: int = 10,
        pool_timeout_seconds: float = 5.0,
        statement_timeout_ms: int = 5000,
        lock_timeout_ms: int = 2000,
        connect_timeout_seconds: float = 5.0,
        idle_ping_seconds: float = IDLE_PING_SECONDS,
        statement_cache_size: int = 100,
        transaction_pooler: bool = False,
    ) -> None:
        if pool_size < 1:
            raise ValueError("pool_size must be at least 1")
        if statement_cache_size < 0:
            raise ValueError("statement_cache_size must be 0 (off) or more")
        if not _IDENTIFIER.match(schema):
            raise ValueError("schema must be a plain lower-case identifier")
        self.schema = schema
        self._dsn = dsn(url)
        self._pool_timeout = pool_timeout_seconds
        self._connect_timeout = connect_timeout_seconds
        self._idle_ping = idle_ping_seconds
        # Behind a transaction-mode pooler (PgBouncer) a server connection is not ours between
        # transactions: no named prepared statements, and the session settings go with every BEGIN.
        self._statement_cache_size = 0 if transaction_pooler else statement_cache_size
        self._command_timeout = statement_timeout_ms / 1000 + 5
        self._settings = {
            "search_path": schema,
            "application_name": application_name,
            "statement_timeout": str(statement_timeout_ms),
            "lock_timeout": str(lock_timeout_ms),
            "idle_in_transaction_session_timeout": str(max(statement_timeout_ms * 4, 10000)),
        }
        if self._statement_cache_size:
            # Each prepared statement planned once per connection, not five times with its values
            # before PostgreSQL settles on the generic plan: the stores' statements are key lookups
            # whose plan does not depend on the values (their constants, such as a status a partial
            # index names, are in the text). A fresh pool otherwise plans its first few hundred
            # executions: 13 % of PostgreSQL's CPU in a 300-booking run on a fresh stack (perf).
            self._settings["plan_cache_mode"] = "force_generic_plan"
        local = ""
        if transaction_pooler:
            # PgBouncer refuses startup parameters it does not track: only the name goes at connect.
            local = "".join(
                f"; SET LOCAL {name} = '{value}'"
                for name, value in self._settings.items()
                if name != "application_name"
            )
            self._settings = {"application_name": application_name}
        self._begin_platform = f"BEGIN{local}; SELECT set_config('mais.scope', 'platform', true)"
        self._begin_tenant = f"BEGIN{local}; SELECT set_config('mais.tenant_id', '{{}}', true)"
        self._idle: deque[_Slot] = deque(_Slot() for _ in range(pool_size))
        self._waiters: deque[asyncio.Future[_Slot]] = deque()
        self._suspect_before = 0.0
        self._closed = False
        self.connects = 0  # connections opened over the pool's life (a fixed pool: each slot once)
        self._last_commit = -math.inf  # time.monotonic() of the latest COMMIT the server answered

    # --- transactions -----------------------------------------------------------------------------

    @asynccontextmanager
    async def tenant_transaction(self, tenant_id: str) -> AsyncIterator[Connection]:
        """A READ COMMITTED transaction that sees only `tenant_id`'s rows."""
        tenant_id = parse_tenant_id(tenant_id)
        if not _UUID.match(tenant_id):  # inlined below: only the canonical spelling may pass
            raise ValueError("tenant id must be a canonical UUID")
        async with self._transaction(self._begin_tenant.format(tenant_id)) as conn:
            yield conn

    @asynccontextmanager
    async def platform_transaction(self) -> AsyncIterator[Connection]:
        """A transaction that may see every tenant's rows. Use only for cross-tenant work."""
        async with self._transaction(self._begin_platform) as conn:
            yield conn

    @asynccontextmanager
    async def _transaction(self, begin: str) -> AsyncIterator[Connection]:
        slot, conn = await self._begin(begin)
        try:
            try:
                yield conn
            except BaseException:
                if not conn.lost:
                    await self._rollback(conn)
                raise
            await conn._simple("COMMIT")
            self._last_commit = time.monotonic()
        except _ConnectionLost as lost:
            self._suspect_before = time.monotonic()
            raise DependencyUnavailable("database unavailable") from lost.__cause__
        except DatabaseBusy as busy:
            log.warning("database busy: %s", busy.sqlstate, extra={"sqlstate": busy.sqlstate})
            raise
        except (TimeoutError, OSError) as error:
            raise DependencyUnavailable("database unavailable") from error
        finally:
            self._release(slot, healthy=not conn.lost)

    async def _begin(self, begin: str) -> tuple[_Slot, Connection]:
        """A slot with its transaction begun. A pooled connection that BEGIN finds dead (its backend
        ended while it sat in the pool, and the driver had not yet seen the socket close) had nothing
        done on it: BEGIN runs once more on a fresh connection, so a restart costs no request there."""
        for attempt in (1, 2):
            slot = await self._acquire()
            assert slot.conn is not None
            conn = Connection(slot.conn)
            try:
                await conn._simple(begin)
            except _ConnectionLost as lost:
                self._suspect_before = time.monotonic()
                self._release(slot, healthy=False)
                if attempt == 2:
                    raise DependencyUnavailable("database unavailable") from lost.__cause__
                continue
            except BaseException:
                if not conn.lost:
                    await self._rollback(conn)
                self._release(slot, healthy=not conn.lost)
                raise
            return slot, conn
        raise AssertionError("unreachable")

    async def _rollback(self, conn: Connection) -> None:
        try:
            await asyncio.wait_for(conn._raw.execute("ROLLBACK"), _HOUSEKEEPING_TIMEOUT_SECONDS)
        except (Exception, asyncio.CancelledError):
            conn.lost = True  # whatever state it is in, it is not handed out again

    # --- the pool ---------------------------------------------------------------------------------

    async def _acquire(self) -> _Slot:
        if self._closed:
            raise DependencyUnavailable("database pool is closed")
        slot = self._idle.pop() if self._idle and not self._waiters else await self._wait_for_slot()
        try:
            await self._ready(slot)
        except BaseException:
            self._release(slot, healthy=slot.conn is not None)
            raise
        return slot

    async def _wait_for_slot(self) -> _Slot:
        """First come, first served: a returned slot goes to the longest waiter, never to a newcomer."""
        waiter: asyncio.Future[_Slot] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        expiry = asyncio.get_running_loop().call_later(self._pool_timeout, _expire, waiter)
        try:
            return await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self._release(waiter.result(), healthy=True)  # handed over as this caller gave up
            raise
        finally:
            expiry.cancel()
            if not waiter.done():
                waiter.cancel()

    async def _ready(self, slot: _Slot) -> None:
        """Makes the slot's connection usable: opened if missing, pinged (and replaced) if it sat idle
        or predates a connection found dead."""
        reason = "first" if not slot.opened else "replaced"
        if slot.conn is not None and not slot.conn.is_closed():
            idle = time.monotonic() - slot.returned_at
            if slot.returned_at >= self._suspect_before and idle < self._idle_ping:
                return
            try:
                await asyncio.wait_for(slot.conn.execute("SELECT 1"), _HOUSEKEEPING_TIMEOUT_SECONDS)
                return
            except asyncio.CancelledError:
                slot.conn.terminate()
                slot.conn = None
                raise
            except Exception as error:
                log.info("pooled connection is gone (%s); replacing it", type(error).__name__)
                slot.conn.terminate()
        slot.conn = None
        try:
            slot.conn = await self._connect()
        except (*_LOST, asyncpg.PostgresError) as error:
            raise DependencyUnavailable("database unavailable") from error
        slot.opened = True
        self.connects += 1
        CONNECTIONS_OPENED.labels(reason).inc()

    async def _connect(self) -> asyncpg.Connection:
        conn = await asyncpg.connect(
            self._dsn,
            timeout=self._connect_timeout,
            command_timeout=self._command_timeout,
            statement_cache_size=self._statement_cache_size,
            server_settings=self._settings,
        )
        try:
            await _json_codecs(conn)
        except BaseException:
            conn.terminate()
            raise
        return conn

    def _release(self, slot: _Slot, *, healthy: bool) -> None:
        if not healthy and slot.conn is not None:
            slot.conn.terminate()
            slot.conn = None
        if self._closed and slot.conn is not None:
            slot.conn.terminate()
            slot.conn = None
        slot.returned_at = time.monotonic()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(slot)
                return
        self._idle.append(slot)  # taken from the same end: the busiest connections stay warm

    # --- the rest of the API ----------------------------------------------------------------------

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled asyncpg connection outside any transaction, for what runs its own (migrations)."""
        slot = await self._acquire()
        assert slot.conn is not None
        healthy = False
        try:
            yield slot.conn
            healthy = not slot.conn.is_closed() and not slot.conn.is_in_transaction()
        finally:
            self._release(slot, healthy=healthy)

    async def ping(self) -> bool:
        """True when the database answers: a COMMIT answered in the last `PING_EVIDENCE_SECONDS` is
        the answer (a pool saturated by a busy but working database is not a database down, so the
        health watch does not report one while every slot is busy), otherwise a trivial query within
        the pool's timeouts."""
        if not self._closed and time.monotonic() - self._last_commit < PING_EVIDENCE_SECONDS:
            return True
        try:
            async with self.connection() as conn:
                await conn.execute("SELECT 1")
        except Exception:  # any failure means "not ready"; the reason goes to the log
            log.warning("database ping failed", exc_info=True)
            return False
        return True

    async def close(self) -> None:
        """Closes every pooled connection (one in use is closed when it comes back)."""
        self._closed = True
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(DependencyUnavailable("database pool is closed"))
        for slot in self._idle:
            if slot.conn is not None:
                try:
                    await asyncio.wait_for(slot.conn.close(), _HOUSEKEEPING_TIMEOUT_SECONDS)
                except (Exception, asyncio.CancelledError):
                    slot.conn.terminate()
                slot.conn = None


def _expire(waiter: asyncio.Future[_Slot]) -> None:
    if not waiter.done():
        waiter.set_exception(DependencyUnavailable("database pool exhausted"))


def dsn(url: str) -> str:
    """The URL as asyncpg takes it (SQLAlchemy's `postgresql+asyncpg://` spelling accepted)."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    raise ValueError("database URL must start with postgresql://")


async def with_retries(attempt: Callable[[], Awaitable[T]], *, tries: int = 4, base_delay: float = 0.02) -> T:
    """Runs `attempt` again on serialization failures, deadlocks and lock timeouts, with jittered
    exponential backoff, at most `tries` times. Other errors pass through at once."""
    for n in range(tries):
        try:
            return await attempt()
        except DatabaseError as error:
            if sqlstate(error) not in RETRYABLE_SQLSTATES or n == tries - 1:
                raise
            delay = base_delay * (2**n) * (0.5 + random.random())  # noqa: S311 - jitter, not crypto
            log.info("retrying after %s", sqlstate(error), extra={"sqlstate": sqlstate(error)})
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")
