"""The measurements of `make bench`, each bounded in count and time, all against 127.0.0.1."""

from __future__ import annotations

import asyncio
import datetime as dt
import resource
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
import psutil

from tools.bench.loadgen import HttpConnection, build_request, run_load
from tools.bench.report import Report
from tools.stack.demo import ensure_demo
from tools.stack.launcher import Ports, Stack, StackOptions

CONNECTIONS = 32
TENANT_PACKAGES = 5
# A 5xx while seeding is retried (the stack may still be warming up); the figures never are.
SEED_TRIES = 5
# Every flow and every wait of the booking scenarios is bounded by this.
FLOW_SECONDS = 120.0
SECTION_READS = "public reads (20 tenants, 32 conns)"
SECTION_FLOW = "booking flow"


@dataclass
class BenchTenant:
    """A seeded tenant: its public key, an admin token and a package to book."""

    tenant_id: str
    public_key: str
    admin_token: str
    package_id: str
    slug: str


@dataclass
class Cpu:
    """This process's CPU time over a phase, as a share of one core."""

    started_cpu: float
    started_wall: float

    @classmethod
    def start(cls) -> Cpu:
        """Starts counting."""
        return cls(_own_cpu_seconds(), time.perf_counter())

    def share(self) -> float:
        """CPU seconds used per wall-clock second since start."""
        wall = time.perf_counter() - self.started_wall
        return (_own_cpu_seconds() - self.started_cpu) / wall if wall > 0 else 0.0


def _own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


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
                BenchTenant(body["tenant"]["id"], body["publicKey"], token, package_ids[0], f"bench-{n}")
            )
        # The read scenarios would measure nothing if the packages were not on offer.
        listed = _send(http, "GET", "/v1/packages", headers={"X-Tenant-Key": tenants[0].public_key})
        assert len(listed.json()["items"]) == TENANT_PACKAGES, listed.text
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


async def gateway_health(stack: Stack, report: Report, seconds: float) -> None:
    """GET /health through Envoy: the cost of the gateway's HTTP stack alone (no service call)."""
    request = build_request("GET", "/health")
    result = await run_load(
        "GET /health (no service call)",
        stack.ports.public,
        lambda n: request,
        connections=CONNECTIONS,
        seconds=seconds,
    )
    report.load("ceiling", result)


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
        report.load(SECTION_READS, result)
        if report.ceiling_rate:
            report.add(SECTION_READS, f"{label} / envoy ceiling", f"{result.rate / report.ceiling_rate:.1%}")


def _checkout_request(tenant: BenchTenant, date: dt.date, n: int) -> bytes:
    body = orjson.dumps(
        {
            "packageId": tenant.package_id,
            "eventDate": date.isoformat(),
            "coupleName": f"Couple {n}",
            "email": f"couple{n}@bench.local",
        }
    )
    headers = {"X-Tenant-Key": tenant.public_key, "Content-Type": "application/json"}
    return build_request("POST", "/v1/bookings/checkout", headers, body)


def _pay_request(checkout_url: str) -> tuple[int, bytes]:
    """The sandbox's port and the request its hosted page's form sends (`{url}/pay`, as the e2e tests)."""
    url = urlsplit(checkout_url)
    if url.hostname != "127.0.0.1" or url.port is None:
        raise ValueError(f"the benchmark pays only on a loopback sandbox, not {url.hostname}")
    return url.port, build_request("POST", f"{url.path}/pay", {"Accept": "application/json"})


async def booking_flow(
    stack: Stack, tenants: list[BenchTenant], report: Report, bookings: int, first_day: int = 60
) -> float:
    """Checkout → sandbox payment → webhook → CONFIRMED on distinct dates, CONNECTIONS flows at a time.

    Confirmations are timed by the payments inbox itself (the webhook event's processing end), so that
    no polling adds load while the flows run; every booking is then checked to be CONFIRMED.
    Returns confirmed bookings per second."""
    first = dt.date.today() + dt.timedelta(days=first_day)
    booked: list[tuple[BenchTenant, str]] = []
    failures: Counter[str] = Counter()
    flows = iter(range(bookings))

    async def worker() -> None:
        platform = HttpConnection(stack.ports.public)
        sandbox: HttpConnection | None = None
        try:
            for n in flows:
                tenant = tenants[n % len(tenants)]
                date = first + dt.timedelta(days=n // len(tenants))
                try:
                    status, body = await platform.send(_checkout_request(tenant, date, n))
                    if status != 201:
                        failures[f"checkout {status}"] += 1
                        continue
                    answer = orjson.loads(body)
                    port, pay = _pay_request(answer["checkoutUrl"])
                    sandbox = sandbox or HttpConnection(port)
                    status, _ = await sandbox.send(pay)
                except (OSError, TimeoutError, asyncio.IncompleteReadError) as error:
                    failures[type(error).__name__] += 1
                    continue
                if status != 200:
                    failures[f"pay {status}"] += 1
                    continue
                booked.append((tenant, answer["bookingId"]))
        finally:
            platform.close()
            if sandbox is not None:
                sandbox.close()

    cpu = Cpu.start()
    started_at = dt.datetime.now(dt.UTC)
    try:
        await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(CONNECTIONS))), FLOW_SECONDS)
    except TimeoutError:
        failures["not run in time"] += bookings - len(booked) - sum(failures.values())
    load_share = cpu.share()
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as http:
        events = await _processed_checkout_events(http, tenants, len(booked), time.monotonic() + FLOW_SECONDS)
        confirmed_at = await _confirmation_times(http, booked)
    report.add(
        SECTION_FLOW,
        "bookings CONFIRMED",
        f"{len(confirmed_at)} of {bookings} (failures: {dict(failures) or 0}; "
        f"load generator at {load_share:.0%} of a core)",
    )
    if not confirmed_at:
        return 0.0
    # The webhook's arrival is the inbox row's receipt; CONFIRMED is the booking's own history entry.
    received = {
        e["bookingId"]: dt.datetime.fromisoformat(e["receivedAt"]) for e in events if e.get("bookingId")
    }
    elapsed = (max(confirmed_at.values()) - started_at).total_seconds()
    rate = len(confirmed_at) / elapsed if elapsed > 0 else 0.0
    report.add(
        SECTION_FLOW,
        "throughput",
        f"{rate:,.1f} confirmed bookings/s ({len(confirmed_at)} in {elapsed:.1f}s)",
    )
    lags = sorted(
        (at - received[booking_id]).total_seconds() * 1000
        for booking_id, at in confirmed_at.items()
        if booking_id in received
    )
    if lags:
        report.add(
            SECTION_FLOW,
            "webhook arrival → CONFIRMED",
            f"p50 {_rank(lags, 50):.1f} ms  p99 {_rank(lags, 99):.1f} ms  max {lags[-1]:.1f} ms",
        )
    return rate


def _rank(ordered: list[float], p: float) -> float:
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


async def _processed_checkout_events(
    http: httpx.AsyncClient, tenants: list[BenchTenant], expected: int, deadline: float
) -> list[dict[str, Any]]:
    """Every tenant's processed checkout.session.completed events, once `expected` are in (or at the
    deadline)."""
    events: list[dict[str, Any]] = []
    while True:
        events = []
        for tenant in tenants:
            events.extend(await _events_of(http, tenant))
        if len(events) >= expected or time.monotonic() > deadline:
            return events
        await asyncio.sleep(0.25)


async def _events_of(http: httpx.AsyncClient, tenant: BenchTenant) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor = ""
    for _ in range(100):  # pages of 100: bounded
        params: dict[str, Any] = {"status": "PROCESSED", "limit": 100}
        if cursor:
            params["cursor"] = cursor
        answer = await http.get(
            "/v1/tenant-admin/payments/events",
            params=params,
            headers={"Authorization": f"Bearer {tenant.admin_token}"},
        )
        if answer.status_code != 200:
            return found
        body = answer.json()
        found.extend(e for e in body["items"] if e.get("type") == "checkout.session.completed")
        cursor = body.get("nextCursor") or ""
        if not cursor:
            return found
    return found


async def _confirmation_times(
    http: httpx.AsyncClient, booked: list[tuple[BenchTenant, str]]
) -> dict[str, dt.datetime]:
    """When each booking became CONFIRMED, from its history (bookings not CONFIRMED are left out)."""
    semaphore = asyncio.Semaphore(8)

    async def confirmed(tenant: BenchTenant, booking_id: str) -> dt.datetime | None:
        async with semaphore:
            answer = await http.get(
                f"/v1/tenant-admin/bookings/{booking_id}",
                headers={"Authorization": f"Bearer {tenant.admin_token}"},
            )
        if answer.status_code != 200 or answer.json().get("status") != "CONFIRMED":
            return None
        moments = [h["at"] for h in answer.json().get("history", []) if h.get("to") == "CONFIRMED"]
        return dt.datetime.fromisoformat(moments[0]) if moments else None

    moments = await asyncio.gather(*(confirmed(t, b) for t, b in booked))
    return {b: at for (_, b), at in zip(booked, moments, strict=True) if at is not None}


async def contention(stack: Stack, tenants: list[BenchTenant], report: Report, contenders: int) -> None:
    """`contenders` couples asking for one date of one tenant at once, each on its own connection."""
    tenant = tenants[-1]
    date = dt.date.today() + dt.timedelta(days=300)
    connections = [HttpConnection(stack.ports.public) for _ in range(contenders)]
    # Connections are opened first, so the figure is the platform's, not the client's connecting.
    await asyncio.gather(*(c.open() for c in connections))
    requests = [_checkout_request(tenant, date, 100_000 + n) for n in range(contenders)]

    async def one(connection: HttpConnection, request: bytes) -> tuple[int, float]:
        sent = time.perf_counter()
        try:
            status, _ = await connection.send(request)
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            status = 0
        return status, time.perf_counter() - sent

    started = time.perf_counter()
    answers = await asyncio.gather(*(one(c, r) for c, r in zip(connections, requests, strict=True)))
    elapsed = time.perf_counter() - started
    for connection in connections:
        connection.close()
    statuses = Counter(status for status, _ in answers)
    latencies = sorted(seconds * 1000 for _, seconds in answers)
    winners = statuses.get(201, 0)
    report.add(
        "contention",
        f"{contenders} checkouts, one date",
        f"all answered in {elapsed * 1000:,.0f} ms (p50 {_rank(latencies, 50):,.0f} ms); "
        f"winners {winners}{'' if winners == 1 else ' (MUST BE 1)'}; "
        f"statuses {dict(sorted(statuses.items()))}",
    )


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
            str(CONNECTIONS),
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
        f"pgbench hold transaction ({CONNECTIONS} clients)",
        f"{tps:,.0f} tx/s  latency average {latency}",
    )
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


def memory(stack: Stack, report: Report) -> None:
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


def startup_time(data_dir: Path, env: dict[str, str], report: Report) -> None:
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
