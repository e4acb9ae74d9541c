"""python -m tools.stack run: the whole platform for a developer, until Ctrl-C."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from pathlib import Path

from tools.stack.demo import ensure_demo
from tools.stack.launcher import DEV_WEBHOOK_SECRET, Ports, Stack, StackOptions


def options_from_environment() -> StackOptions:
    """The operating contract: MAIS_DATA_DIR, MAIS_PUBLIC_PORT, DATABASE_URL, STRIPE_*, POSTMARK_*."""
    env = {k: v for k, v in os.environ.items() if k.startswith(("POSTMARK_", "MAIS_ADMIN_"))}
    return StackOptions(
        data_dir=Path(os.environ.get("MAIS_DATA_DIR", ".data")),
        ports=Ports.from_environment(),
        database_url=os.environ.get("DATABASE_URL") or None,
        stripe_secret_key=os.environ.get("STRIPE_SECRET_KEY", ""),
        webhook_secret=os.environ.get("STRIPE_WEBHOOK_SECRET", DEV_WEBHOOK_SECRET),
        env=env,
    )


def run() -> int:
    """Starts the stack, prints how to reach it, and stops everything on Ctrl-C or SIGTERM."""
    options = options_from_environment()
    stack = Stack(options)
    started = time.monotonic()
    print(f"starting MAIS (data in {options.data_dir.resolve()}) ...", flush=True)
    stack.start()
    print(f"\nMAIS is ready in {time.monotonic() - started:.1f}s at {stack.url}", flush=True)
    print(f"  health:  {stack.url}/health/ready", flush=True)
    print(f"  logs:    {stack.data_dir / 'logs'}", flush=True)
    print("  traces:  make trace ID=<X-Request-ID of a response>", flush=True)
    if stack.uses_sandbox:
        print(f"  stripe:  local sandbox at {stack.sandbox_url}", flush=True)
    try:
        demo_lines = ensure_demo(stack)
    except Exception as error:  # the platform still runs; say why the demo data is missing
        demo_lines = [f"\n  demo data not ensured: {type(error).__name__}: {error}"]
    for line in demo_lines:
        print(line, flush=True)
    print("\nCtrl-C stops everything.", flush=True)

    done = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: done.set())
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    done.wait()
    print("\nstopping ...", flush=True)
    stack.stop()
    print("stopped.", flush=True)
    return 0


def main() -> int:
    """Command-line entry."""
    parser = argparse.ArgumentParser(prog="python -m tools.stack")
    parser.add_argument("command", choices=["run"])
    parser.parse_args()
    return run()


if __name__ == "__main__":
    sys.exit(main())
