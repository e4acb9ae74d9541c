"""The booking flow of `make bench`: checkout → the sandbox's hosted payment → webhook → CONFIRMED.

- Closed loop: `CONNECTIONS` couples, each starting the next flow when the last is paid; confirmed
  bookings per second, and the CPU every process of the stack spent per confirmed booking.
- Open loop: checkouts started on a fixed schedule (10, 25, 50, 100 per second) whatever the answers'
  times, each flow on a free keep-alive connection (a new one when none is free, at most MAX_IN_FLIGHT
  flows at once: one beyond is counted as not started, never queued); webhook arrival → CONFIRMED
  p50/p99 and the achieved rate at each offered rate.

Times come from the platform's own records, read straight from PostgreSQL after the load (no polling
through the platform while it runs): the webhook's arrival is the payments inbox row's `received_at`,
CONFIRMED the booking history's entry (`clock_timestamp()` in booking). Every count and wait is bounded;
only 127.0.0.1 is reached.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import orjson

from tools.bench.cpu import APART, LOAD_GENERATOR, MAIL_SINK, SANDBOX, CpuSnapshot, platform_sum
from tools.bench.loadgen import HttpConnection, build_request

CONNECTIONS = 32
# Every flow phase, and every wait for its confirmations, is bounded by these.
FLOW_SECONDS = 120.0
SETTLE_SECONDS = 60.0
# Confirmations stop being waited for when none arrived for this long.
STALL_SECONDS = 10.0
MAX_IN_FLIGHT = 400
OPEN_RATES = (10, 25, 50, 100)
MAX_OPEN_SECONDS = 30.0


@dataclass
class Couple:
    """What a flow needs of a tenant: its key and a whole-day package."""

    public_key: str
    package_id: str


@dataclass
class FlowRun:
    """What a phase of flows did."""

    booked: list[str] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    started_wall: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    # Open loop: how late each checkout was sent against its schedule (ms).
    lateness_ms: list[float] = field(default_factory=list)
    load_share: float = 0.0


@dataclass
class Confirmations:
    """When each paid booking became CONFIRMED, and when its webhook arrived."""

    confirmed_at: dict[str, dt.datetime]
    received_at: dict[str, dt.datetime]

    def lags_ms(self) -> list[float]:
        """Webhook arrival → CONFIRMED of every booking with both, sorted."""
        return sorted(
            (at - self.received_at[b]).total_seconds() * 1000
            for b, at in self.confirmed_at.items()
            if b in self.received_at
        )

    def rate(self, since: dt.datetime) -> tuple[float, float]:
        """Confirmed bookings per second from `since` to the last CONFIRMED, and that span (s)."""
        if not self.confirmed_at:
            return 0.0, 0.0
        span = (max(self.confirmed_at.values()) - since).total_seconds()
        return (len(self.confirmed_at) / span if span > 0 else 0.0), span


def rank(ordered: list[float], p: float) -> float:
    """Nearest-rank percentile of a sorted list (nan when empty)."""
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def checkout_request(couple: Couple, date: dt.date, n: int, idempotency_key: str = "") -> bytes:
    """`POST /v1/bookings/checkout` of couple number `n` for `date`."""
    body = orjson.dumps(
        {
            "packageId": couple.package_id,
            "eventDate": date.isoformat(),
            "coupleName": f"Couple {n}",
            "email": f"couple{n}@bench.local",
        }
    )
    headers = {"X-Tenant-Key": couple.public_key, "Content-Type": "application/json"}
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    return build_request("POST", "/v1/bookings/checkout", headers, body)


def pay_request(checkout_url: str) -> tuple[int, bytes]:
    """The sandbox's port and the request its hosted page's form sends (`{url}/pay`, as the e2e tests)."""
    url = urlsplit(checkout_url)
    if url.hostname != "127.0.0.1" or url.port is None:
        raise ValueError(f"checkoutUrl: the benchmark pays only on a loopback sandbox, not {url.hostname}")
    return url.port, build_request("POST", f"{url.path}/pay", {"Accept": "application/json"})


class Connections:
    """Free keep-alive connections to one port: a flow takes one (a new one when none is free) and
    gives it back when its request is answered."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._free: list[HttpConnection] = []
        self.opened = 0

    def take(self) -> HttpConnection:
        if self._free:
            return self._free.pop()
        self.opened += 1
        return HttpConnection(self.port)

    def give_back(self, connection: HttpConnection) -> None:
        self._free.append(connection)

    def close(self) -> None:
        for connection in self._free:
            connection.close()
        self._free.clear()


async def _flow(
    platform: Connections, sandboxes: dict[int, Connections], request: bytes, run: FlowRun
) -> None:
    """One couple: checkout, then pay on the sandbox's hosted page. Failures are counted by kind."""
    connection = platform.take()
    try:
        status, body = await connection.send(request)
    except (OSError, TimeoutError, asyncio.IncompleteReadError) as error:
        connection.close()
        run.failures[f"checkout {type(error).__name__}"] += 1
        return
    platform.give_back(connection)
    if status != 201:
        run.failures[f"checkout {status}"] += 1
        return
    try:
        answer = orjson.loads(body)
        checkout_url, booking_id = answer["checkoutUrl"], answer["bookingId"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        run.failures["checkout answer unreadable"] += 1
        return
    # Not loopback: the bench stops (ValueError), it never pays elsewhere.
    port, pay = pay_request(checkout_url)
    pool = sandboxes.setdefault(port, Connections(port))
    connection = pool.take()
    try:
        status, _ = await connection.send(pay)
    except (OSError, TimeoutError, asyncio.IncompleteReadError) as error:
        connection.close()
        run.failures[f"pay {type(error).__name__}"] += 1
        return
    pool.give_back(connection)
    if status != 200:
        run.failures[f"pay {status}"] += 1
        return
    run.booked.append(booking_id)


def _own_cpu() -> float:
    return CpuSnapshot.take({}).seconds[LOAD_GENERATOR]


async def closed_loop(
    port: int, couples: list[Couple], bookings: int, first: dt.date, connections: int = CONNECTIONS
) -> FlowRun:
    """`bookings` flows on distinct dates (couple n % len, day n // len after `first`), `connections`
    at a time, each starting when the previous one of its connection is paid."""
    run = FlowRun()
    flows = iter(range(bookings))
    platform = Connections(port)
    sandboxes: dict[int, Connections] = {}

    async def worker() -> None:
        for n in flows:
            couple = couples[n % len(couples)]
            date = first + dt.timedelta(days=n // len(couples))
            await _flow(platform, sandboxes, checkout_request(couple, date, n), run)

    cpu, wall = _own_cpu(), time.perf_counter()
    run.started_wall = dt.datetime.now(dt.UTC)
    try:
        await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(connections))), FLOW_SECONDS)
    except TimeoutError:
        run.failures["not run in time"] += bookings - len(run.booked) - sum(run.failures.values())
    run.load_share = (_own_cpu() - cpu) / max(time.perf_counter() - wall, 1e-9)
    platform.close()
    for pool in sandboxes.values():
        pool.close()
    return run


async def open_loop(
    port: int, couples: list[Couple], rate: float, seconds: float, first: dt.date, first_n: int
) -> FlowRun:
    """round(rate * seconds) flows, the i-th started at i / rate seconds whatever the earlier ones'
    answers (couple i % len, day i // len after `first`; couples numbered from `first_n`)."""
    if rate <= 0:
        raise ValueError(f"rate: must be positive, got {rate}")
    seconds = min(max(seconds, 1.0), MAX_OPEN_SECONDS)
    count = max(1, round(rate * seconds))
    run = FlowRun()
    platform = Connections(port)
    sandboxes: dict[int, Connections] = {}
    tasks: set[asyncio.Task[None]] = set()
    started_tasks: list[asyncio.Task[None]] = []
    cpu, wall = _own_cpu(), time.perf_counter()
    run.started_wall = dt.datetime.now(dt.UTC)
    started = time.perf_counter()
    for i in range(count):
        due = started + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        run.lateness_ms.append(max(0.0, time.perf_counter() - due) * 1000)
        if any(_error_of(t) is not None for t in tasks):
            break  # a flow failed in a way that stops the bench (raised below)
        tasks = {t for t in tasks if not t.done()}
        if len(tasks) >= MAX_IN_FLIGHT:
            run.failures[f"not started ({MAX_IN_FLIGHT} in flight)"] += 1
            continue
        couple = couples[i % len(couples)]
        date = first + dt.timedelta(days=i // len(couples))
        request = checkout_request(couple, date, first_n + i)
        task = asyncio.create_task(_flow(platform, sandboxes, request, run))
        tasks.add(task)
        started_tasks.append(task)
    pending = {t for t in tasks if not t.done()}
    if pending:
        _, late = await asyncio.wait(pending, timeout=FLOW_SECONDS)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
        if late:
            run.failures["not answered in time"] += len(late)
    run.load_share = (_own_cpu() - cpu) / max(time.perf_counter() - wall, 1e-9)
    platform.close()
    for pool in sandboxes.values():
        pool.close()
    # Every task's outcome is read (so none is reported as never retrieved); the first error stops the bench.
    errors = [_error_of(t) for t in started_tasks]
    first_error = next((e for e in errors if e is not None), None)
    if first_error is not None:
        raise first_error
    return run


def _error_of(task: asyncio.Task[None]) -> BaseException | None:
    return None if not task.done() or task.cancelled() else task.exception()


CONFIRMED_COUNT = "SELECT count(*) FROM booking.bookings WHERE id = ANY($1::text[]) AND status = 'CONFIRMED'"
CONFIRMED_AT = (
    "SELECT booking_id, min(at) FROM booking.booking_history"
    " WHERE booking_id = ANY($1::text[]) AND to_status = 'CONFIRMED' GROUP BY booking_id"
)
RECEIVED_AT = (
    "SELECT booking_id, min(received_at) FROM payments.stripe_events"
    " WHERE booking_id = ANY($1::text[]) AND type = 'checkout.session.completed' GROUP BY booking_id"
)


SESSIONS = "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
BACKENDS = (
    "SELECT usename, count(*) FROM pg_stat_activity"
    " WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
    " GROUP BY usename"
)
# PostgreSQL's shared statistics are flushed by each backend at most once a second.
STATS_FLUSH_SECONDS = 1.2


@dataclass
class PgConnections:
    """Sessions PostgreSQL has opened on the database so far, and its client backends by role."""

    sessions: int
    backends: dict[str, int]


async def pg_connections(conn: Any) -> PgConnections:
    """What `conn` (the bench's own, left out) sees of the database's connections now."""
    await conn.execute("SELECT pg_stat_clear_snapshot()", timeout=10)
    sessions = int(await conn.fetchval(SESSIONS, timeout=10) or 0)
    rows = await conn.fetch(BACKENDS, timeout=10)
    return PgConnections(sessions, {str(r[0]): int(r[1]) for r in rows})


async def wait_confirmed(database_url: str, booking_ids: list[str], conn: Any = None) -> int:
    """Waits (one count a tenth of a second on one connection: `conn`, else a new one) until every
    booking is CONFIRMED, or none was for STALL_SECONDS, or SETTLE_SECONDS pass; the count of those
    CONFIRMED."""
    if not booking_ids:
        return 0
    own = conn is None
    if own:
        conn = await asyncpg.connect(database_url, timeout=10)
    try:
        deadline = time.monotonic() + SETTLE_SECONDS
        last, last_change = -1, time.monotonic()
        while True:
            done = int(await conn.fetchval(CONFIRMED_COUNT, booking_ids, timeout=10))
            now = time.monotonic()
            if done != last:
                last, last_change = done, now
            if done >= len(booking_ids) or now > deadline or now - last_change > STALL_SECONDS:
                return done
            await asyncio.sleep(0.1)
    finally:
        if own:
            await conn.close(timeout=5)


async def confirmations(database_url: str, booking_ids: list[str]) -> Confirmations:
    """The CONFIRMED moments and webhook arrivals of `booking_ids` (only CONFIRMED bookings appear)."""
    if not booking_ids:
        return Confirmations({}, {})
    conn = await asyncpg.connect(database_url, timeout=10)
    try:
        confirmed = await conn.fetch(CONFIRMED_AT, booking_ids, timeout=30)
        received = await conn.fetch(RECEIVED_AT, booking_ids, timeout=30)
    finally:
        await conn.close(timeout=5)
    return Confirmations({r[0]: r[1] for r in confirmed}, {r[0]: r[1] for r in received})


@dataclass
class CpuPerBooking:
    """CPU milliseconds per confirmed booking, by process; the platform's sum without the sandbox and
    the load generator."""

    per_process_ms: dict[str, float]
    platform_ms: float

    @classmethod
    def of(cls, used_seconds: dict[str, float], confirmed: int) -> CpuPerBooking:
        if confirmed <= 0:
            return cls({}, float("nan"))
        per = {name: seconds * 1000 / confirmed for name, seconds in used_seconds.items()}
        return cls(per, platform_sum(used_seconds) * 1000 / confirmed)

    def describe(self) -> str:
        """`payments 24.5, booking 23.2, …` (highest first), the sandbox and load generator apart."""
        platform = sorted(
            ((n, ms) for n, ms in self.per_process_ms.items() if n not in APART),
            key=lambda item: -item[1],
        )
        shown = (SANDBOX, MAIL_SINK, LOAD_GENERATOR)
        apart = [(n, self.per_process_ms[n]) for n in shown if n in self.per_process_ms]
        inside = ", ".join(f"{n} {ms:.1f}" for n, ms in platform)
        outside = ", ".join(f"{n} {ms:.1f}" for n, ms in apart)
        return f"{self.platform_ms:.1f} ms summed over the platform ({inside}); apart: {outside}"


def summary(values: dict[str, Any]) -> str:
    """`k=v` pairs for a failure counter (or 0 when empty)."""
    return str(dict(values) or 0)
