"""A measurement, not a test (no assertion on speed): the bench's closed loop (checkout -> sandbox
payment -> webhook -> CONFIRMED, tools/bench) on a fresh 1-replica stack, then every process's CPU per
booking from the first checkout until the mail folder stops growing, i.e. with every booking email
sent (the bench's own figure stops at the last CONFIRMED, before part of the mail is sent). Used for
docs/performance.md's booking-mail figures. Run alone, on a quiet machine:
`.venv/bin/python -m tools.stack.measure_mail_cpu [bookings, default 300]`."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from tools.bench.__main__ import ADMIN_EMAIL, ADMIN_PASSWORD, ROTATED_TENANTS, stack_env
from tools.bench.cpu import CpuSnapshot
from tools.bench.report import Report
from tools.bench.scenarios import _stack_roots, closed_loop_flow, seed_tenants
from tools.stack.launcher import Ports, Stack, StackOptions

SETTLE_SECONDS = 3.0
MAIL_WAIT_SECONDS = 120.0


def mail_count(folder: Path) -> int:
    return len(list(folder.glob("*.eml"))) if folder.exists() else 0


def main() -> int:
    bookings = min(max(int(sys.argv[1]) if len(sys.argv) > 1 else 300, 1), 2000)
    root = Path(tempfile.mkdtemp(prefix="mais-mailcpu-"))
    stack = Stack(
        StackOptions(
            data_dir=root / "stack",
            ports=Ports.free(),
            restart=False,
            log_level="WARNING",
            env=stack_env(),
        )
    )
    report = Report()
    print(f"load average before: {os.getloadavg()}", flush=True)
    stack.start(timeout=180)
    try:
        tenants = seed_tenants(stack, ADMIN_EMAIL, ADMIN_PASSWORD, count=len(ROTATED_TENANTS))
        mail = stack.data_dir / "mail"
        time.sleep(SETTLE_SECONDS)
        mails_before = mail_count(mail)
        roots = _stack_roots(stack)
        before = CpuSnapshot.take(roots)
        first = dt.date.today() + dt.timedelta(days=60)
        asyncio.run(closed_loop_flow(stack, tenants, report, bookings, first))
        # Until the mail folder stops growing (every confirmation's emails sent), bounded.
        deadline = time.monotonic() + MAIL_WAIT_SECONDS
        last, still = mail_count(mail), time.monotonic()
        while time.monotonic() < deadline and time.monotonic() - still < SETTLE_SECONDS:
            time.sleep(0.5)
            now = mail_count(mail)
            if now != last:
                last, still = now, time.monotonic()
        used = CpuSnapshot.take(roots).since(before)
        # The settling wait (3 s idle after the last mail) is included: a few ms per booking of sweeps.
        confirmed = bookings
        for line in report.rows:
            print(" | ".join(str(part) for part in line))
        written = last - mails_before
        print(f"mails written during the run: {written}")
        for name, seconds in sorted(used.items()):
            print(f"until mail written: {name} {seconds * 1000 / confirmed:.2f} ms CPU per booking")
        print(f"load average after: {os.getloadavg()}", flush=True)
    finally:
        stack.stop()
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
