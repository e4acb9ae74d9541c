"""python -m tools.bench (make bench): the platform's speed beside this machine's ceilings, in one run.

Starts its own stack on free 127.0.0.1 ports (throw-away data), seeds 20 tenants, and measures:
1. public reads through Envoy (packages, a year's calendar) at 32 connections;
2. the booking flow: checkout → sandbox payment → webhook → CONFIRMED on distinct dates;
3. contention: 200 concurrent checkouts for one date;
4. ceilings: Envoy answering directly on the same load, and pgbench running the hold transaction
   straight against the same PostgreSQL;
5. cost: resident memory of every process, and start-up time when already built.
Every load is bounded in count and time and targets 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path

from tools.bench.report import Report
from tools.bench.scenarios import (
    booking_flow,
    ceiling_envoy_direct,
    ceiling_pgbench,
    contention,
    memory,
    public_reads,
    seed_tenants,
    startup_time,
)
from tools.stack.launcher import Ports, Stack, StackOptions, free_port

ADMIN_EMAIL = "bench-admin@mais.local"
ADMIN_PASSWORD = "bench-admin-password-1"  # noqa: S105 - a throw-away stack's admin


def main() -> int:
    """Runs every measurement and prints the table."""
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each read load")
    parser.add_argument("--bookings", type=int, default=300, help="booking flows to run")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="mais-bench-"))
    options = StackOptions(
        data_dir=root / "stack",
        ports=Ports.free(gateways=2),
        durable=False,
        restart=False,
        gateways=2,
        log_level="WARNING",
        envoy_direct_port=free_port(),
        env={
            "MAIS_ADMIN_EMAIL": ADMIN_EMAIL,
            "MAIS_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "STRIPE_SANDBOX_RETRY_SCALE": "0.05",
        },
    )
    report = Report()
    stack = Stack(options)
    started = time.monotonic()
    stack.start(timeout=180)
    report.note(f"stack started in {time.monotonic() - started:.1f}s (fresh data)")
    try:
        tenants = seed_tenants(stack, ADMIN_EMAIL, ADMIN_PASSWORD, count=20)
        asyncio.run(ceiling_envoy_direct(stack, report, args.seconds))
        asyncio.run(public_reads(stack, tenants, report, args.seconds))
        asyncio.run(booking_flow(stack, tenants, report, args.bookings))
        asyncio.run(contention(stack, tenants, report, contenders=200))
        ceiling_pgbench(stack, report)
        memory(stack, report)
    finally:
        stack.stop()
    startup_time(options, report)
    shutil.rmtree(root, ignore_errors=True)
    report.print(sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
