"""Client CPU per transaction of the hold path's statements through `BookingStore`, on a throw-away
embedded PostgreSQL (loopback only, bounded, stops by itself).

    .venv/bin/python -m tools.db_micro [--transactions 2000] [--concurrency 16] [--loop uvloop]

Runs the read-and-lock half of a hold (glance, holder and date locks, the request, blackout, own-hold,
occupant and live-hold checks: ten statements in one tenant transaction) and prints this process's CPU
(utime + stime) and wall time per transaction, and the pool's connections opened. Run it on two
checkouts (`PYTHONPATH=<other checkout>`, both on the asyncpg layer) to compare them; CPU time barely
moves with the machine's load, wall time does.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import mais_runtime.db as db_module
from mais_runtime.db import Database
from mais_runtime.migrations import apply_migrations
from mais_runtime.provision import SERVICES, provision
from services.booking.store import BookingStore
from tools.stack.launcher import Ports, Stack, StackOptions
from tools.stack.pgserver import EmbeddedPostgres

REPO = Path(__file__).resolve().parents[1]


async def _hold_reads(store: BookingStore, tenant_id: str, n: int) -> None:
    day = date(2031, 1, 1) + timedelta(days=n % 300)
    email = f"c{n % 50}@example.com"
    async with store.tenant(tenant_id) as tx:
        await tx.glance(day, f"req-{n}", email)
        await tx.lock_holder(email, "203.0.113.7")
        await tx.lock_date(day)
        await tx.booking_by_request(f"req-{n}")
        await tx.blacked_out(day)
        await tx.live_hold_of(day, email)
        await tx.live_status(day)
        await tx.live_holds(email=email)
        await tx.live_holds(client_address="203.0.113.7")


async def _measure(db: Database, transactions: int, concurrency: int) -> tuple[float, float]:
    store = BookingStore(db)
    tenants = [str(uuid.uuid4()) for _ in range(8)]
    queue = iter(range(transactions))

    async def worker() -> None:
        for n in queue:
            await _hold_reads(store, tenants[n % len(tenants)], n)

    for n in range(50):  # warm: connections, prepared statements
        await _hold_reads(store, tenants[0], n)
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return (time.process_time() - cpu) / transactions, (time.perf_counter() - wall) / transactions


async def _run(args: argparse.Namespace, admin_url: str, data_dir: Path) -> None:
    passwords = {s: secrets.token_urlsafe(16) for s in SERVICES}
    await provision(admin_url, passwords)
    helper = Stack(StackOptions(data_dir=data_dir, ports=Ports(), database_url=admin_url))
    helper.admin_database_url = admin_url
    db = Database(
        helper.role_url("booking", passwords["booking"]), schema="booking", application_name="micro"
    )
    try:

        def opened() -> int:
            return int(db.connects)

        await apply_migrations(db, REPO / "services" / "booking" / "migrations")
        for concurrency in (1, args.concurrency):
            before = opened()
            cpu, wall = await _measure(db, args.transactions, concurrency)
            print(
                f"hold reads, {concurrency:>2} in flight: {cpu * 1000:.3f} ms CPU/tx,"
                f" {wall * 1000:.3f} ms wall/tx ({1 / wall:,.0f} tx/s), {args.transactions} tx,"
                f" connections opened: {opened() - before} (pool total {opened()})"
            )
    finally:
        await db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    args = parser.parse_args()
    if not 1 <= args.transactions <= 100_000 or not 1 <= args.concurrency <= 64:
        parser.error("--transactions must be 1..100000 and --concurrency 1..64")
    print(f"database layer: {Path(db_module.__file__).resolve()}; load average before: {os.getloadavg()}")
    with tempfile.TemporaryDirectory(prefix="mais-db-micro-") as folder:
        server = EmbeddedPostgres(Path(folder) / "pg", Ports.free().postgres, durable=False)
        server.start()
        try:
            if args.loop == "uvloop":
                import uvloop

                uvloop.run(_run(args, server.admin_url, Path(folder)))
            else:
                asyncio.run(_run(args, server.admin_url, Path(folder)))
        finally:
            server.stop("immediate")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
