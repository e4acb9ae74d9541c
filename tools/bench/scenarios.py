"""The measurements of `make bench`, each bounded in count and time, all against 127.0.0.1."""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

from tools.bench.loadgen import build_request, run_load
from tools.bench.report import Report
from tools.stack.launcher import Stack, StackOptions

CONNECTIONS = 32


@dataclass
class BenchTenant:
    """A seeded tenant: its public key, an admin token and a package to book."""

    tenant_id: str
    public_key: str
    admin_token: str
    package_id: str


def seed_tenants(stack: Stack, admin_email: str, admin_password: str, count: int) -> list[BenchTenant]:
    """Creates `count` tenants through the admin API, each with five packages."""
    tenants = []
    with httpx.Client(base_url=stack.url, timeout=30) as http:
        login = http.post("/v1/auth/login", json={"email": admin_email, "password": admin_password})
        login.raise_for_status()
        platform = {"Authorization": f"Bearer {login.json()['token']}"}
        for n in range(count):
            password = f"bench-tenant-{n}-password"
            created = http.post(
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
            created.raise_for_status()
            body = created.json()
            token = http.post("/v1/auth/login", json={"email": f"admin{n}@bench.local", "password": password})
            token.raise_for_status()
            admin = {"Authorization": f"Bearer {token.json()['token']}"}
            package_ids = []
            for p in range(5):
                package = http.post(
                    "/v1/tenant-admin/packages",
                    headers=admin,
                    json={
                        "slug": f"package-{p}",
                        "title": f"Package {p}",
                        "priceCents": 150_000 + p * 25_000,
                    },
                )
                package.raise_for_status()
                package_ids.append(package.json()["id"])
            tenants.append(
                BenchTenant(body["tenant"]["id"], body["publicKey"], token.json()["token"], package_ids[0])
            )
    return tenants


async def ceiling_envoy_direct(stack: Stack, report: Report, seconds: float) -> None:
    """Envoy answering by itself, on the same load shape: the most any route through it can do."""
    port = stack.options.envoy_direct_port
    assert port is not None
    request = build_request("GET", "/v1/packages")
    result = await run_load(
        "envoy direct_response", port, lambda n: request, connections=CONNECTIONS, seconds=seconds
    )
    report.load("ceiling", result)
    report.ceiling_rate = result.rate


async def public_reads(stack: Stack, tenants: list[BenchTenant], report: Report, seconds: float) -> None:
    """GET /v1/packages and a year's calendar through Envoy, spread over every tenant."""
    packages = [build_request("GET", "/v1/packages", {"X-Tenant-Key": t.public_key}) for t in tenants]
    start = dt.date.today()
    end = start + dt.timedelta(days=365)
    calendar = [
        build_request(
            "GET", f"/v1/availability/calendar?from={start}&to={end}", {"X-Tenant-Key": t.public_key}
        )
        for t in tenants
    ]
    for label, requests in (
        ("GET /v1/packages", packages),
        ("GET /v1/availability/calendar (1 year)", calendar),
    ):
        # A short warm-up fills caches the way steady traffic would.
        def pick(n: int, pool: list[bytes] = requests) -> bytes:
            return pool[n % len(pool)]

        await run_load("warm-up", stack.ports.public, pick, connections=8, total=400)
        result = await run_load(label, stack.ports.public, pick, connections=CONNECTIONS, seconds=seconds)
        report.load("public reads (20 tenants)", result)
        ceiling = getattr(report, "ceiling_rate", 0.0)
        if ceiling:
            report.add(
                "public reads (20 tenants)", f"{label} / envoy ceiling", f"{result.rate / ceiling:.1%}"
            )


async def _checkout(http: httpx.AsyncClient, tenant: BenchTenant, date: dt.date, n: int) -> httpx.Response:
    return await http.post(
        "/v1/bookings/checkout",
        headers={"X-Tenant-Key": tenant.public_key},
        json={
            "packageId": tenant.package_id,
            "eventDate": date.isoformat(),
            "coupleName": f"Couple {n}",
            "email": f"couple{n}@bench.local",
        },
    )


async def booking_flow(stack: Stack, tenants: list[BenchTenant], report: Report, bookings: int) -> None:
    """Checkout → sandbox payment → webhook → CONFIRMED, on distinct dates, 16 flows at a time."""
    first = dt.date.today() + dt.timedelta(days=60)
    semaphore = asyncio.Semaphore(16)
    booked: list[tuple[BenchTenant, str]] = []
    errors = 0

    async def one(n: int, http: httpx.AsyncClient) -> None:
        nonlocal errors
        tenant = tenants[n % len(tenants)]
        date = first + dt.timedelta(days=n // len(tenants))
        async with semaphore:
            answer = await _checkout(http, tenant, date, n)
            if answer.status_code != 201:
                errors += 1
                return
            body = answer.json()
            paid = await http.post(f"{body['checkoutUrl']}/pay", headers={"Accept": "application/json"})
            if paid.status_code >= 300:
                errors += 1
                return
            booked.append((tenant, body["bookingId"]))

    started = time.perf_counter()
    async with httpx.AsyncClient(
        base_url=stack.url, timeout=30, limits=httpx.Limits(max_connections=64)
    ) as http:
        await asyncio.gather(*(one(n, http) for n in range(bookings)))
        confirmed_at = await _wait_confirmed(http, booked, deadline=time.monotonic() + 120)
    elapsed = max(confirmed_at, time.perf_counter()) - started if booked else 0.0
    confirmed = len(booked)
    report.add("booking flow", "confirmed bookings", f"{confirmed} of {bookings} ({errors} errors)")
    if elapsed:
        report.add("booking flow", "throughput", f"{confirmed / elapsed:,.1f} confirmed bookings/s")
    lags = await _webhook_to_confirmed_ms(stack, tenants)
    if lags:
        lags.sort()
        p50 = lags[len(lags) // 2]
        p99 = lags[min(len(lags) - 1, round(0.99 * len(lags)) - 1)]
        report.add("booking flow", "webhook arrival → CONFIRMED", f"p50 {p50:.1f} ms  p99 {p99:.1f} ms")


async def _wait_confirmed(
    http: httpx.AsyncClient, booked: list[tuple[BenchTenant, str]], deadline: float
) -> float:
    pending = list(booked)
    while pending and time.monotonic() < deadline:
        still = []
        for tenant, booking_id in pending:
            answer = await http.get(
                f"/v1/tenant-admin/bookings/{booking_id}",
                headers={"Authorization": f"Bearer {tenant.admin_token}"},
            )
            if answer.status_code != 200 or answer.json().get("status") != "CONFIRMED":
                still.append((tenant, booking_id))
        pending = still
        if pending:
            await asyncio.sleep(0.2)
    return time.perf_counter()


async def _webhook_to_confirmed_ms(stack: Stack, tenants: list[BenchTenant]) -> list[float]:
    """From the payments inbox: each processed event's receipt to the end of its processing."""
    lags: list[float] = []
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as http:
        for tenant in tenants:
            answer = await http.get(
                "/v1/tenant-admin/payments/events",
                params={"status": "PROCESSED", "limit": 100},
                headers={"Authorization": f"Bearer {tenant.admin_token}"},
            )
            if answer.status_code != 200:
                continue
            for event in answer.json()["items"]:
                if event.get("type") == "checkout.session.completed" and event.get("processedAt"):
                    received = dt.datetime.fromisoformat(event["receivedAt"])
                    processed = dt.datetime.fromisoformat(event["processedAt"])
                    lags.append((processed - received).total_seconds() * 1000)
    return lags


async def contention(stack: Stack, tenants: list[BenchTenant], report: Report, contenders: int) -> None:
    """`contenders` couples asking for one date of one tenant at once."""
    tenant = tenants[-1]
    date = dt.date.today() + dt.timedelta(days=300)
    async with httpx.AsyncClient(
        base_url=stack.url, timeout=30, limits=httpx.Limits(max_connections=contenders)
    ) as http:
        started = time.perf_counter()
        answers = await asyncio.gather(*(_checkout(http, tenant, date, n) for n in range(contenders)))
        elapsed = time.perf_counter() - started
    statuses: dict[int, int] = {}
    for answer in answers:
        statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1
    report.add(
        "contention",
        f"{contenders} checkouts, one date",
        f"all answered in {elapsed * 1000:,.0f} ms; winners {statuses.get(201, 0)}; statuses {statuses}",
    )


def ceiling_pgbench(stack: Stack, report: Report) -> None:
    """pgbench running the hold transaction (advisory lock, check, insert) straight against PostgreSQL."""
    if stack.postgres is None:
        report.note("pgbench ceiling skipped: DATABASE_URL points at an external server")
        return
    script = Path(tempfile.mkdtemp()) / "hold.sql"
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
            "16",
            "-j",
            "2",
            "-T",
            "10",
            "-f",
            str(script),
            stack.admin_database_url,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    tps = [line for line in result.stdout.splitlines() if line.startswith(("tps", "latency average"))]
    report.add(
        "ceiling", "pgbench hold transaction (16 clients)", "  ".join(tps) or result.stderr.strip()[:200]
    )


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


def memory(stack: Stack, report: Report) -> None:
    """Resident memory of every process of the stack, PostgreSQL's included."""
    total = 0
    for name, proc in stack.processes.items():
        if proc.pid is None:
            continue
        try:
            rss = psutil.Process(proc.pid).memory_info().rss
        except psutil.NoSuchProcess:
            continue
        total += rss
        report.add("memory (RSS)", name, f"{rss / 2**20:,.0f} MiB")
    if stack.postgres is not None:
        pg_rss = 0
        for process in psutil.process_iter(["cmdline"]):
            cmdline = process.info.get("cmdline") or []
            if cmdline and "postgres" in cmdline[0] and str(stack.postgres.pgdata) in " ".join(cmdline):
                pg_rss += sum(p.memory_info().rss for p in [process, *process.children(recursive=True)])
        total += pg_rss
        report.add("memory (RSS)", "postgresql (all backends)", f"{pg_rss / 2**20:,.0f} MiB")
    report.add("memory (RSS)", "whole stack", f"{total / 2**20:,.0f} MiB")


def startup_time(options: StackOptions, report: Report) -> None:
    """Time until ready when everything is already built and the data exists (a second `make run`)."""
    stack = Stack(options)
    started = time.monotonic()
    stack.start(timeout=120)
    elapsed = time.monotonic() - started
    stack.stop()
    report.add("cost", "start-up when built (to /health/ready 200)", f"{elapsed:.1f} s")
