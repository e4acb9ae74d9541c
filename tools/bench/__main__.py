"""python -m tools.bench (make bench): the platform's speed beside this machine's ceilings, in one run.

Starts its own stack on free 127.0.0.1 ports (throw-away data, durable like `make run`), seeds 20
tenants, and measures:
1. public reads through Envoy with `wrk` (packages, a year's calendar, 30 days of slots) at 64
   connections, 20 tenants' keys rotated per request, and the reads the widget makes per visitor;
2. the booking flow: checkout → sandbox payment → webhook → CONFIRMED on distinct dates, closed loop
   (confirmed/s, and the CPU of every process per confirmed booking) and open loop at offered rates of
   10, 25, 50 and 100 per second (webhook → CONFIRMED p50/p99 and the achieved rate at each);
3. contention: 200 concurrent checkouts for one date, then a keyed retry of the winner;
4. ceilings: Envoy answering directly on the same wrk load (and the gateway's bare /health), and
   pgbench running the hold transaction straight against the same PostgreSQL;
5. cost: memory of every process, and `make run`'s start-up time when already built;
6. the widget in headless Chromium (before any load, on a quiet stack): the bytes on the wire of its
   first view on a host page up to the calendar, against the build's size budgets, and the time to
   its first render, via the loader and standalone (median of cold runs).
Every load is bounded in count and time and targets 127.0.0.1 only; the whole run takes a few minutes.
Last, every target of issue 17 is printed with its figure, its ratio to the ceiling of the same run,
and met/missed (tools/bench/targets.py).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from tools.bench.flows import OPEN_RATES
from tools.bench.report import Report
from tools.bench.scenarios import (
    READ_PACKAGES,
    ceiling_envoy_direct,
    ceiling_pgbench,
    closed_loop_flow,
    contention,
    gateway_health,
    memory,
    open_loop_flows,
    public_reads,
    seed_tenants,
    startup_time,
)
from tools.bench.targets import Figures, judge
from tools.bench.widget import widget_in_browser, widget_reads
from tools.stack.launcher import Ports, Stack, StackOptions, free_port

ROTATED_TENANTS = range(20)

ADMIN_EMAIL = "bench-admin@mais.local"
ADMIN_PASSWORD = "bench-admin-password-1"  # noqa: S105 - a throw-away stack's admin


def stack_env() -> dict[str, str]:
    """What the benchmark's stack runs with beyond `make run`'s defaults."""
    return {
        "MAIS_ADMIN_EMAIL": ADMIN_EMAIL,
        "MAIS_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "STRIPE_SANDBOX_RETRY_SCALE": "0.05",
        # The load comes from one address; the per-address checkout limit would cap it.
        "MAIS_CHECKOUT_RATE_LIMIT": "0",
        # Seeding signs 21 admins in; sign-in is not measured, so its hashing need not be slow.
        "MAIS_ARGON2_TIME_COST": "1",
        "MAIS_ARGON2_MEMORY_KIB": "8192",
        "MAIS_ARGON2_PARALLELISM": "1",
        # `make run`'s default records every request's spans; MAIS_TRACE_SAMPLE_RATIO measures less.
        "MAIS_TRACE_SAMPLE_RATIO": os.environ.get("MAIS_TRACE_SAMPLE_RATIO", "1.0"),
    }


def loads(report: Report, when: str) -> None:
    """The machine's load average now, as a note: figures of a shared machine are read against it."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    report.note(f"load average {when}: {load} ({os.cpu_count()} cores)")


def replica_counts(text: str) -> tuple[int, ...]:
    """`--replicas 1,2`: distinct counts from 1 to 4, at most three (`none`: no replica runs)."""
    if text.strip().lower() == "none":
        return ()
    try:
        counts = tuple(dict.fromkeys(int(part) for part in text.split(",") if part.strip()))
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"--replicas: not a list of numbers: {text!r}") from error
    if not counts or len(counts) > 3 or not all(1 <= n <= 4 for n in counts):
        raise argparse.ArgumentTypeError("--replicas: one to three counts, each from 1 to 4")
    return counts


def replica_run(
    folder: Path, count: int, seconds: float, bookings: int, report: Report, *, pgbouncer: bool = False
) -> None:
    """A stack of its own with `count` replicas of every service, webhook worker and gateway
    (StackOptions.replicas), the same 20 tenants seeded: the packages read with wrk and the closed-loop
    booking flow (its PostgreSQL connections among its rows), its rows printed under `replicas=<count>`
    (with `PgBouncer on`: the services through PgBouncer)."""
    options = StackOptions(
        pgbouncer=pgbouncer,
        data_dir=folder,
        ports=Ports.free(gateways=count, replicas=count),
        restart=False,
        gateways=count,
        replicas=count,
        log_level="WARNING",
        env=stack_env(),
    )
    stack = Stack(options)
    stack.start(timeout=180)
    part = Report()
    try:
        tenants = seed_tenants(stack, ADMIN_EMAIL, ADMIN_PASSWORD, count=len(ROTATED_TENANTS))
        gateway_health(stack, part, seconds, folder / "wrk")
        public_reads(stack, tenants, part, seconds, folder / "wrk", only=(READ_PACKAGES,))
        first = dt.date.today() + dt.timedelta(days=60)
        asyncio.run(closed_loop_flow(stack, tenants, part, bookings, first))
    finally:
        stack.stop()
    label = f"replicas={count} (every service and gateway), PgBouncer {'on' if pgbouncer else 'off'}"
    for section, what, value in part.rows:
        report.add(label, f"{section}: {what}", value)


def main_stack_options(root: Path) -> StackOptions:
    """The main run's stack: two gateways behind Envoy, one process a service, no supervisor."""
    return StackOptions(
        data_dir=root / "stack",
        ports=Ports.free(gateways=2),
        restart=False,
        gateways=2,
        log_level="WARNING",
        env=stack_env(),
    )


def booking_cost(root: Path, bookings: int) -> int:
    """`--only booking-cost`: the closed loop alone on a fresh stack shaped like the main run's, and its
    CPU rows."""
    report = Report()
    loads(report, "before the run")
    stack = Stack(main_stack_options(root))
    try:
        stack.start(timeout=180)
        tenants = seed_tenants(stack, ADMIN_EMAIL, ADMIN_PASSWORD, count=len(ROTATED_TENANTS))
        first = dt.date.today() + dt.timedelta(days=60)
        asyncio.run(closed_loop_flow(stack, tenants, report, bookings, first))
    finally:
        stack.stop()
        shutil.rmtree(root, ignore_errors=True)
    loads(report, "after the run")
    report.print(sys.stdout)
    return 0


def main() -> int:
    """Runs every measurement and prints the table."""
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each read load (max 60)")
    parser.add_argument("--bookings", type=int, default=600, help="booking flows to run (max 5000)")
    parser.add_argument("--contenders", type=int, default=200, help="checkouts for one date (max 500)")
    parser.add_argument("--render-runs", type=int, default=7, help="cold widget renders to time (max 30)")
    parser.add_argument(
        "--open-seconds", type=float, default=5.0, help="duration of each open-loop offered rate (max 30)"
    )
    parser.add_argument(
        "--replicas",
        type=replica_counts,
        default=(1, 2),
        help="also compare throughput at these replica counts of every part (each 1-4, at most 3; default"
        " 1,2; none: skip)",
    )
    parser.add_argument(
        "--pgbouncer",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run the reads and the closed loop at 2 replicas through PgBouncer, beside the same run on"
        " direct connections (default on)",
    )
    parser.add_argument(
        "--only",
        choices=("all", "booking-cost"),
        default="all",
        help="booking-cost: only the closed loop on a fresh stack and its CPU per booking per process, the"
        " quick figure to compare two checkouts by (a minute or two)",
    )
    args = parser.parse_args()
    seconds = min(max(args.seconds, 1.0), 60.0)
    bookings = min(max(args.bookings, 1), 5000)
    contenders = min(max(args.contenders, 2), 500)
    open_seconds = min(max(args.open_seconds, 1.0), 30.0)

    root = Path(tempfile.mkdtemp(prefix="mais-bench-"))
    if args.only == "booking-cost":
        return booking_cost(root, bookings)
    options = dataclasses.replace(main_stack_options(root), envoy_direct_port=free_port())
    report = Report()
    loads(report, "before the run")
    run_started = time.monotonic()
    stack = Stack(options)
    started = time.monotonic()
    stack.start(timeout=180)
    report.note(f"benchmark stack (2 gateways) ready in {time.monotonic() - started:.1f}s on fresh data")
    figures = Figures()
    scratch = root / "wrk"
    try:
        tenants = seed_tenants(stack, ADMIN_EMAIL, ADMIN_PASSWORD, count=len(ROTATED_TENANTS))
        first = tenants[0]
        widget_in_browser(stack, first.public_key, first.slug, first.admin_token, report, args.render_runs)
        loads(report, "before the reads")
        ceiling_envoy_direct(stack, report, seconds, scratch)
        gateway_health(stack, report, seconds, scratch)
        figures.reads = public_reads(stack, tenants, report, seconds, scratch)
        asyncio.run(widget_reads(stack, [t.public_key for t in tenants], report, seconds))
        # Distinct dates for every flow: the closed loop's days, then each offered rate's, then the
        # contenders' one date after them all.
        today = dt.date.today()
        closed_first = today + dt.timedelta(days=60)
        open_first = closed_first + dt.timedelta(days=bookings // len(tenants) + 2)
        open_days = sum(round(r * open_seconds) // len(tenants) + 1 for r in OPEN_RATES)
        contended = open_first + dt.timedelta(days=open_days + 2)
        loads(report, "before the booking flows")
        closed = closed_loop_flow(stack, tenants, report, bookings, closed_first)
        figures.rate, figures.cpu = asyncio.run(closed)
        figures.open_loop = asyncio.run(open_loop_flows(stack, tenants, report, open_seconds, open_first))
        figures.contention = asyncio.run(contention(stack, tenants, report, contenders, contended))
        ceiling_pgbench(stack, report, int(seconds), figures.rate)
        figures.pss_mib = memory(stack, report)
    finally:
        stack.stop()
    try:
        figures.ready_s = startup_time(root / "make-run", stack_env(), report)
        for count in args.replicas:
            replica_run(root / f"replicas-{count}", count, seconds, bookings, report)
        if args.replicas:
            report.note(
                f"replicas share this machine's {os.cpu_count()} cores: a second replica of every part adds"
                " processes and connections, not CPU, so on this machine it bounds throughput where one"
                " replica does (the booking path is CPU-bound in Python); it shows what replicas cost and"
                " that they balance, and docs/scaling.md what they buy on more machines"
            )
        if args.pgbouncer:
            # PgBouncer off is the replicas=2 run when there was one (the same stack shape).
            if 2 not in args.replicas:
                replica_run(root / "pgbouncer-off", 2, seconds, bookings, report, pgbouncer=False)
            replica_run(root / "pgbouncer-on", 2, seconds, bookings, report, pgbouncer=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    judge(figures, report)
    loads(report, "after the run")
    report.note(f"whole benchmark run: {time.monotonic() - run_started:.0f}s")
    report.print(sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
