"""The measurements of `make bench`, each bounded in count and time, all against 127.0.0.1."""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import psutil

from tools.bench.cpu import (
    APART,
    CpuSnapshot,
    find_postmaster,
    platform_sum,
    stack_roots,
)
from tools.bench.flows import (
    MAX_OPEN_SECONDS,
    OPEN_RATES,
    STATS_FLUSH_SECONDS,
    Couple,
    CpuPerBooking,
    checkout_request,
    closed_loop,
    confirmations,
    open_loop,
    pg_connections,
    rank,
    summary,
    wait_confirmed,
)
from tools.bench.loadgen import HttpConnection
from tools.bench.report import Report, ratio
from tools.bench.wrk import CONNECTIONS as READ_CONNECTIONS
from tools.bench.wrk import WrkRequest, WrkResult, run_wrk
from tools.stack.demo import ensure_demo
from tools.stack.launcher import Ports, Stack, StackOptions

# The booking flow's closed loop and pgbench's clients.
FLOW_CONNECTIONS = 32
TENANT_PACKAGES = 5
# A 5xx while seeding is retried (the stack may still be warming up); the figures never are.
SEED_TRIES = 5
SECTION_READS = f"public reads (20 tenants, wrk, {READ_CONNECTIONS} conns)"
SECTION_FLOW = "booking flow"
SECTION_OPEN = "booking flow, open loop"
SECTION_CPU = "booking cost"
READ_PACKAGES = "GET /v1/packages"
READ_CALENDAR = "GET /v1/availability/calendar (1 year)"
READ_SLOTS = "GET /v1/availability/slots (30 days)"
SLOT_HOURS = {"opens": "09:00", "closes": "17:00"}
SLOT_DAYS = 30
IDLE_SECONDS = 2.0


@dataclass
class BenchTenant:
    """A seeded tenant: its public key, an admin token and a package to book."""

    tenant_id: str
    public_key: str
    admin_token: str
    package_id: str
    slug: str
    # A time-slot package on the default resource, open every day (the slots route's reads).
    slot_package_id: str = ""


def _send(http: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """A seeding call, retried on 5xx and transport errors; anything else must succeed."""
    for attempt in range(SEED_TRIES):
        try:
            answer = http.request(method, path, **kwargs)
        except httpx.TransportError:
            if attempt == SEED_TRIES - 1:
                raise
            time.sleep(0.5 * (attempt + 1))
            continue
        if answer.status_code < 500 or attempt == SEED_TRIES - 1:
            answer.raise_for_status()
            return answer
        time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


def _onboard(stack: Stack, http: httpx.Client, admin: dict[str, str]) -> None:
    """Stripe Connect onboarding of a bench tenant on the sandbox (checkout refuses a tenant that is
    not onboarded): the account and link from payments, the sandbox's control completes it, and the
    account.updated webhook comes back through Envoy."""
    account = _send(http, "POST", "/v1/tenant-admin/stripe/connect", headers=admin).json()["stripeAccountId"]
    httpx.post(
        f"{stack.sandbox_url}/_sandbox/accounts/{account}/onboard", timeout=10, trust_env=False
    ).raise_for_status()
    deadline = time.monotonic() + 30
    while (
        _send(http, "GET", "/v1/tenant-admin/stripe/connect", headers=admin).json()["connectState"]
        != "onboarded"
    ):
        if time.monotonic() > deadline:
            raise RuntimeError("a bench tenant's onboarding was not recorded")
        time.sleep(0.1)


def seed_tenants(stack: Stack, admin_email: str, admin_password: str, count: int) -> list[BenchTenant]:
    """Creates `count` tenants through the admin API, each with five packages, Connect-onboarded."""
    tenants = []
    with httpx.Client(base_url=stack.url, timeout=30) as http:
        login = _send(http, "POST", "/v1/auth/login", json={"email": admin_email, "password": admin_password})
        platform = {"Authorization": f"Bearer {login.json()['token']}"}
        for n in range(count):
            password = f"bench-tenant-{n}-password"
            created = _send(
                http,
                "POST",
                "/v1/admin/tenants",
                headers=platform,
                json={
                    "slug": f"bench-{n}",
                    "name": f"Bench Venue {n}",
                    "commissionPercent": 10,
                    "adminEmail": f"admin{n}@bench.local",
                    "adminPassword": password,
                },
            )
            body = created.json()
            token = _send(
                http, "POST", "/v1/auth/login", json={"email": f"admin{n}@bench.local", "password": password}
            ).json()["token"]
            admin = {"Authorization": f"Bearer {token}"}
            package_ids = []
            for p in range(TENANT_PACKAGES):
                package = _send(
                    http,
                    "POST",
                    "/v1/tenant-admin/packages",
                    headers=admin,
                    json={
                        "slug": f"package-{p}",
                        "title": f"Package {p}",
                        "description": "Ceremony, reception and everything in between. " * 3,
                        "priceCents": 150_000 + p * 25_000,
                    },
                )
                package_ids.append(package.json()["id"])
            slot_package = _slot_package(http, admin)
            _onboard(stack, http, admin)
            # The load comes from one address, which the live-hold bound per address would stop after
            # five: a bench tenant allows as many as the tenant settings do.
            _send(
                http,
                "PATCH",
                "/v1/tenant-admin/settings",
                headers=admin,
                json={"policy": {"maxLiveHoldsPerAddress": 100}},
            )
            tenants.append(
                BenchTenant(
                    body["tenant"]["id"], body["publicKey"], token, package_ids[0], f"bench-{n}", slot_package
                )
            )
        # The read scenarios would measure nothing if the packages and slots were not on offer.
        key = {"X-Tenant-Key": tenants[0].public_key}
        listed = _send(http, "GET", "/v1/packages", headers=key)
        assert len(listed.json()["items"]) == TENANT_PACKAGES + 1, listed.text
        slots = _send(http, "GET", slots_path(tenants[0], dt.date.today()), headers=key)
        assert slots.json()["slots"], slots.text
    return tenants


def _slot_package(http: httpx.Client, admin: dict[str, str]) -> str:
    """An hourly service on the tenant's default resource, open 09:00-17:00 every day; its id. Its slug
    sorts after the whole-day packages, so the widget's first package is still a whole-day one."""
    resources = _send(http, "GET", "/v1/tenant-admin/resources", headers=admin).json()["items"]
    [default] = [r for r in resources if r["isDefault"]]
    hours = {"weekly": [{"weekday": d, "ranges": [SLOT_HOURS]} for d in range(1, 8)]}
    _send(http, "PUT", f"/v1/tenant-admin/resources/{default['id']}/hours", headers=admin, json=hours)
    package = _send(
        http,
        "POST",
        "/v1/tenant-admin/packages",
        headers=admin,
        json={
            "slug": "session-by-the-hour",
            "title": "Session by the hour",
            "priceCents": 20_000,
            "kind": "SLOT",
            "slot": {"durationMinutes": 60, "intervalMinutes": 60},
        },
    )
    return str(package.json()["id"])


def slots_path(tenant: BenchTenant, today: dt.date) -> str:
    """The slots route for the next 30 days of the tenant's slot package."""
    end = today + dt.timedelta(days=SLOT_DAYS)
    return f"/v1/availability/slots?packageId={tenant.slot_package_id}&from={today}&to={end}"


def ceiling_envoy_direct(stack: Stack, report: Report, seconds: float, folder: Path) -> None:
    """Envoy answering by itself, on the same load shape: the most any route through it can do."""
    port = stack.options.envoy_direct_port
    assert port is not None
    result = run_wrk("envoy direct_response", port, [WrkRequest("/")], folder=folder, seconds=seconds)
    report.wrk("ceiling", result)
    report.ceiling_rate = result.rate


def gateway_health(stack: Stack, report: Report, seconds: float, folder: Path) -> None:
    """GET /health through Envoy: the cost of the gateway's HTTP stack alone (no service call)."""
    result = run_wrk(
        "GET /health (no service call)",
        stack.ports.public,
        [WrkRequest("/health")],
        folder=folder,
        seconds=seconds,
    )
    report.wrk("ceiling", result)
    report.health_rate = result.rate


def read_requests(tenants: list[BenchTenant], today: dt.date) -> dict[str, list[WrkRequest]]:
    """The public reads, each rotated over every tenant's key: packages, a year's calendar, 30 days of
    slots."""
    end = today + dt.timedelta(days=365)

    def keyed(path: str, tenant: BenchTenant) -> WrkRequest:
        return WrkRequest(path, (("X-Tenant-Key", tenant.public_key),))

    return {
        READ_PACKAGES: [keyed("/v1/packages", t) for t in tenants],
        READ_CALENDAR: [keyed(f"/v1/availability/calendar?from={today}&to={end}", t) for t in tenants],
        READ_SLOTS: [keyed(slots_path(t, today), t) for t in tenants],
    }


def public_reads(
    stack: Stack,
    tenants: list[BenchTenant],
    report: Report,
    seconds: float,
    folder: Path,
    only: tuple[str, ...] = (),
) -> dict[str, WrkResult]:
    """Each public read (or those named in `only`) through Envoy with wrk, 64 connections, every
    tenant's key in turn, after a one-second warm-up at 8 connections (caches filled the way steady
    traffic would)."""
    results = {}
    roots = _stack_roots(stack)
    for label, requests in read_requests(tenants, dt.date.today()).items():
        if only and label not in only:
            continue
        run_wrk("warm-up", stack.ports.public, requests, folder=folder, seconds=1, connections=8)
        before, wall = CpuSnapshot.take(roots), time.perf_counter()
        result = run_wrk(label, stack.ports.public, requests, folder=folder, seconds=seconds)
        used = CpuSnapshot.take(roots).since(before)
        wall = time.perf_counter() - wall
        report.wrk(SECTION_READS, result)
        busiest = sorted(((n, t) for n, t in used.items() if n not in APART), key=lambda item: -item[1])
        report.add(
            SECTION_READS,
            f"{label}: CPU by process, % of a core",
            ", ".join(f"{n} {t / wall:.0%}" for n, t in busiest if t / wall >= 0.01)
            + f"; wrk {result.cpu_share:.0%}",
        )
        against = [
            ratio(result.rate, report.ceiling_rate, "Envoy direct"),
            ratio(result.rate, report.health_rate, "GET /health"),
        ]
        report.add(SECTION_READS, f"{label}: against the ceilings", "; ".join(a for a in against if a) or "-")
        results[label] = result
    return results


def _couples(tenants: list[BenchTenant]) -> list[Couple]:
    return [Couple(t.public_key, t.package_id) for t in tenants]


def _stack_roots(stack: Stack) -> dict[str, int]:
    postmaster = find_postmaster(str(stack.postgres.pgdata)) if stack.postgres is not None else None
    return stack_roots(((name, proc.pid) for name, proc in stack.processes.items()), postmaster)


async def closed_loop_flow(
    stack: Stack, tenants: list[BenchTenant], report: Report, bookings: int, first: dt.date
) -> tuple[float, CpuPerBooking | None]:
    """`bookings` flows on distinct dates, 32 at a time; confirmed/s, and the CPU of every process of
    the stack from the first checkout until the last booking is CONFIRMED, per confirmed booking."""
    roots = _stack_roots(stack)
    # What the stack spends doing nothing (sweeps, pings, telemetry), so the per-booking figure can be
    # read against it.
    idle_before = CpuSnapshot.take(roots)
    await asyncio.sleep(IDLE_SECONDS)
    idle_after = CpuSnapshot.take(roots)
    idle = platform_sum(idle_after.since(idle_before)) / IDLE_SECONDS
    probe = await asyncpg.connect(stack.admin_database_url, timeout=10)
    try:
        await asyncio.sleep(STATS_FLUSH_SECONDS)
        pg_before = await pg_connections(probe)
        before, window = CpuSnapshot.take(roots), time.perf_counter()
        run = await closed_loop(stack.ports.public, _couples(tenants), bookings, first, FLOW_CONNECTIONS)
        confirmed = await wait_confirmed(stack.admin_database_url, run.booked, probe)
        used = CpuSnapshot.take(roots).since(before)
        window = time.perf_counter() - window
        pg_during = await pg_connections(probe)
        await asyncio.sleep(STATS_FLUSH_SECONDS)
        pg_after = await pg_connections(probe)
    finally:
        await probe.close(timeout=5)
    times = await confirmations(stack.admin_database_url, run.booked)
    opened = pg_after.sessions - pg_before.sessions
    report.add(
        SECTION_CPU,
        "PostgreSQL connections",
        f"{opened} opened during the closed loop ({opened / max(bookings, 1):.2f} per booking); "
        f"{sum(pg_during.backends.values())} client backends at its end "
        f"({', '.join(f'{k} {v}' for k, v in sorted(pg_during.backends.items()))})",
    )
    report.add(
        SECTION_FLOW,
        f"closed loop, {FLOW_CONNECTIONS} couples: CONFIRMED",
        f"{confirmed} of {bookings} (failures: {summary(run.failures)}; "
        f"load generator at {run.load_share:.0%} of a core)",
    )
    if not times.confirmed_at:
        return 0.0, None
    rate, span = times.rate(run.started_wall)
    report.add(
        SECTION_FLOW,
        "closed loop: throughput",
        f"{rate:,.1f} confirmed bookings/s ({len(times.confirmed_at)} in {span:.1f}s)",
    )
    lags = times.lags_ms()
    if lags:
        report.add(
            SECTION_FLOW,
            "closed loop: webhook arrival → CONFIRMED",
            f"p50 {rank(lags, 50):.1f} ms  p99 {rank(lags, 99):.1f} ms  max {lags[-1]:.1f} ms",
        )
    cpu = CpuPerBooking.of(used, confirmed)
    report.add(SECTION_CPU, "CPU per confirmed booking (ms)", cpu.describe())
    report.add(
        SECTION_CPU,
        "the platform idle, for scale",
        f"{idle * 1000:,.0f} ms of CPU per second (over {IDLE_SECONDS:g}s before the load): "
        f"{idle * 1000 * window / max(confirmed, 1):.1f} ms per booking over the {window:.0f}s measured",
    )
    return rate, cpu


@dataclass
class OpenLoopFigures:
    """One offered rate's figures."""

    offered: float
    started: int
    confirmed: int
    achieved: float
    p50_ms: float
    p99_ms: float


async def open_loop_flows(
    stack: Stack, tenants: list[BenchTenant], report: Report, seconds: float, first: dt.date
) -> dict[float, OpenLoopFigures]:
    """Checkouts and payments started on schedule at each offered rate for `seconds`, then the
    confirmations waited for before the next rate; distinct dates throughout."""
    figures: dict[float, OpenLoopFigures] = {}
    couples = _couples(tenants)
    roots = _stack_roots(stack)
    day, numbered = first, 200_000
    for offered in OPEN_RATES:
        before = CpuSnapshot.take(roots)
        run = await open_loop(stack.ports.public, couples, offered, seconds, day, numbered)
        count = max(1, round(offered * min(max(seconds, 1.0), MAX_OPEN_SECONDS)))
        day += dt.timedelta(days=count // len(couples) + 1)
        numbered += count
        confirmed = await wait_confirmed(stack.admin_database_url, run.booked)
        cpu = CpuPerBooking.of(CpuSnapshot.take(roots).since(before), confirmed)
        times = await confirmations(stack.admin_database_url, run.booked)
        achieved, _ = times.rate(run.started_wall)
        lags = times.lags_ms()
        late = sorted(run.lateness_ms)
        figures[offered] = OpenLoopFigures(
            offered, len(run.lateness_ms), confirmed, achieved, rank(lags, 50), rank(lags, 99)
        )
        report.add(
            SECTION_OPEN,
            f"offered {offered}/s for {seconds:g}s",
            f"webhook → CONFIRMED p50 {rank(lags, 50):.1f} ms  p99 {rank(lags, 99):.1f} ms; "
            f"achieved {achieved:,.1f} confirmed/s; {confirmed} of {count} CONFIRMED; "
            f"platform CPU {cpu.platform_ms:.1f} ms per confirmed booking "
            f"(failures: {summary(run.failures)}; sent late p99 {rank(late, 99):.1f} ms; "
            f"load generator at {run.load_share:.0%} of a core)",
        )
    return figures


@dataclass
class ContentionFigures:
    """What the contention scenario saw."""

    elapsed_ms: float
    winners: int
    keyed_retry_ok: bool


async def contention(
    stack: Stack, tenants: list[BenchTenant], report: Report, contenders: int, date: dt.date
) -> ContentionFigures:
    """`contenders` couples asking for one date of one tenant at once, each on its own connection and
    with its own Idempotency-Key; then the winner's request sent again with its key must get its own
    hold back (same booking), and a loser's again still 409."""
    tenant = tenants[-1]
    couple = Couple(tenant.public_key, tenant.package_id)
    connections = [HttpConnection(stack.ports.public) for _ in range(contenders)]
    # Connections are opened first, so the figure is the platform's, not the client's connecting.
    await asyncio.gather(*(c.open() for c in connections))
    requests = [
        checkout_request(couple, date, 100_000 + n, f"bench-contender-{date}-{n}") for n in range(contenders)
    ]

    async def one(connection: HttpConnection, request: bytes) -> tuple[int, float, bytes]:
        sent = time.perf_counter()
        try:
            status, body = await connection.send(request)
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            status, body = 0, b""
        return status, time.perf_counter() - sent, body

    started = time.perf_counter()
    answers = await asyncio.gather(*(one(c, r) for c, r in zip(connections, requests, strict=True)))
    elapsed = time.perf_counter() - started
    statuses = Counter(status for status, _, _ in answers)
    latencies = sorted(seconds * 1000 for _, seconds, _ in answers)
    winners = [n for n, (status, _, _) in enumerate(answers) if status == 201]
    retry = "no winner to retry"
    keyed_ok = False
    if len(winners) == 1:
        won = winners[0]
        again = await one(connections[won], requests[won])
        loser = next((n for n, (status, _, _) in enumerate(answers) if status == 409), None)
        lost_again = await one(connections[loser], requests[loser]) if loser is not None else None
        own = orjson.loads(answers[won][2])["bookingId"]
        same = again[0] == 201 and orjson.loads(again[2])["bookingId"] == own
        keyed_ok = same and (lost_again is None or lost_again[0] == 409)
        retry = (
            f"keyed retry of the winner: {again[0]}, {'its own hold' if same else 'NOT its own hold'}; "
            f"of a loser: {lost_again[0] if lost_again else 'none'}"
        )
    for connection in connections:
        connection.close()
    report.add(
        "contention",
        f"{contenders} checkouts, one date",
        f"all answered in {elapsed * 1000:,.0f} ms (p50 {rank(latencies, 50):,.0f} ms); "
        f"winners {len(winners)}{'' if len(winners) == 1 else ' (MUST BE 1)'}; "
        f"statuses {dict(sorted(statuses.items()))}; {retry}",
    )
    return ContentionFigures(elapsed * 1000, len(winners), keyed_ok)


def ceiling_pgbench(stack: Stack, report: Report, seconds: int, booking_rate: float) -> None:
    """pgbench running the hold transaction (advisory lock, check, insert) straight against PostgreSQL."""
    if stack.postgres is None:
        report.note("pgbench ceiling skipped: DATABASE_URL points at an external server")
        return
    # Inside the stack's throw-away folder, so it goes with it.
    script = stack.data_dir / "bench-hold.sql"
    script.write_text(HOLD_TRANSACTION)
    setup = subprocess.run(
        [stack.postgres.bin("psql"), stack.admin_database_url, "-q", "-c", HOLD_SETUP],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if setup.returncode != 0:
        report.note(f"pgbench ceiling skipped: {setup.stderr.strip()[:200]}")
        return
    result = subprocess.run(
        [
            stack.postgres.bin("pgbench"),
            "-n",
            "-c",
            str(FLOW_CONNECTIONS),
            "-j",
            "2",
            "-T",
            str(seconds),
            "-f",
            str(script),
            stack.admin_database_url,
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=False,
    )
    tps = 0.0
    latency = ""
    for line in result.stdout.splitlines():
        if line.startswith("tps"):
            tps = float(line.split("=")[1].split()[0])
        elif line.startswith("latency average"):
            latency = line.split("=")[1].strip()
    if not tps:
        report.add("ceiling", "pgbench hold transaction", result.stderr.strip()[:200] or "no result")
        return
    report.add(
        "ceiling",
        f"pgbench hold transaction ({FLOW_CONNECTIONS} clients)",
        f"{tps:,.0f} tx/s  latency average {latency}",
    )
    report.pgbench_tps = tps
    if booking_rate:
        report.add(SECTION_FLOW, "confirmed/s / pgbench hold tx/s", f"{booking_rate / tps:.1%}")


# The same shape as a hold: a transaction-scoped advisory lock on (tenant, date), a check for a live row,
# an insert — on a scratch table with the same partial unique index, so the ceiling is the database's.
HOLD_SETUP = """
CREATE TABLE IF NOT EXISTS public.bench_holds (
    id bigserial PRIMARY KEY, tenant_id uuid NOT NULL, event_date date NOT NULL,
    status text NOT NULL, expires_at timestamptz);
CREATE UNIQUE INDEX IF NOT EXISTS bench_holds_live ON public.bench_holds (tenant_id, event_date)
    WHERE status IN ('HELD', 'CONFIRMED');
TRUNCATE public.bench_holds;
"""

HOLD_TRANSACTION = """
\\set day random(1, 3650000)
BEGIN;
SELECT pg_advisory_xact_lock(hashtextextended('00000000-0000-0000-0000-000000000001:' || :day, 0));
SELECT 1 FROM public.bench_holds WHERE tenant_id = '00000000-0000-0000-0000-000000000001'
    AND event_date = DATE '2000-01-01' + :day AND status IN ('HELD', 'CONFIRMED');
INSERT INTO public.bench_holds (tenant_id, event_date, status, expires_at)
    VALUES ('00000000-0000-0000-0000-000000000001', DATE '2000-01-01' + :day, 'HELD',
            now() + interval '30 minutes')
    ON CONFLICT DO NOTHING;
COMMIT;
"""


def memory(stack: Stack, report: Report) -> float:
    """Memory of every process of the stack, PostgreSQL's included: resident (RSS) per process, and the
    proportional share (PSS) for the whole, since PostgreSQL's backends all map the same shared buffers
    and summing their RSS would count those once per backend."""
    total_rss = 0
    total_pss = 0
    for name, proc in stack.processes.items():
        if proc.pid is None:
            continue
        try:
            info = psutil.Process(proc.pid).memory_full_info()
        except psutil.NoSuchProcess:
            continue
        total_rss += info.rss
        total_pss += info.pss
        report.add("memory", name, f"RSS {info.rss / 2**20:,.0f} MiB")
    if stack.postgres is not None:
        pg_rss = pg_pss = backends = 0
        for process in psutil.process_iter(["cmdline"]):
            cmdline = process.info.get("cmdline") or []
            if cmdline and "postgres" in cmdline[0] and str(stack.postgres.pgdata) in " ".join(cmdline):
                for member in [process, *process.children(recursive=True)]:
                    try:
                        info = member.memory_full_info()
                    except psutil.NoSuchProcess:
                        continue
                    pg_rss += info.rss
                    pg_pss += info.pss
                    backends += 1
        total_rss += pg_rss
        total_pss += pg_pss
        report.add(
            "memory",
            f"postgresql ({backends} processes)",
            f"PSS {pg_pss / 2**20:,.0f} MiB (RSS summed {pg_rss / 2**20:,.0f} MiB)",
        )
    report.add(
        "memory",
        "whole stack",
        f"PSS {total_pss / 2**20:,.0f} MiB (RSS summed {total_rss / 2**20:,.0f} MiB)",
    )
    return total_pss / 2**20


def startup_time(data_dir: Path, env: dict[str, str], report: Report) -> float:
    """`make run`'s start-up (the same Stack and demo data, one gateway, durable database, supervisor):
    once on a fresh data folder, then again on the data it left (built and provisioned)."""
    figures = []
    for _ in range(2):
        options = StackOptions(data_dir=data_dir, ports=Ports.free(gateways=1), env=env)
        stack = Stack(options)
        started = time.monotonic()
        try:
            stack.start(timeout=120)
            ensure_demo(stack)
            figures.append(time.monotonic() - started)
        finally:
            stack.stop()
    report.add(
        "cost",
        "make run start-up (ready + demo data)",
        f"{figures[1]:.1f} s when built (first run on fresh data: {figures[0]:.1f} s)",
    )
    return figures[1]
