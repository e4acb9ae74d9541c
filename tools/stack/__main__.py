"""python -m tools.stack run: the whole platform for a developer, until Ctrl-C."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from tools.stack.demo import ensure_demo, ensure_demo_site
from tools.stack.demo_site import HostSite
from tools.stack.launcher import (
    STACK_RECORD,
    DataFolderInUse,
    PortInUse,
    Ports,
    Stack,
    StackOptions,
    port_is_free,
)
from tools.stack.settings import StackSettings, passed_through


def options_from_environment() -> StackOptions:
    """The operating contract: the launcher's own settings (StackSettings) plus every other MAIS_*,
    POSTMARK_* and STRIPE_SANDBOX_* variable, handed to the processes (each reads what it knows).
    Internal ports are last run's when still free, else free ones."""
    settings = StackSettings()
    env, _ = passed_through()
    data_dir = settings.data_dir
    return StackOptions(
        data_dir=data_dir,
        ports=Ports.choose(settings.public_port, _recorded_ports(data_dir), replicas=settings.replicas),
        replicas=settings.replicas,
        database_url=settings.database_url or None,
        stripe_secret_key=settings.stripe_secret_key,
        webhook_secret=settings.stripe_webhook_secret,
        log_level=settings.log_level,
        public_host=settings.public_host,
        public_url=settings.public_url,
        env=env,
        pgbouncer=settings.pgbouncer,
    )


def setting_problem(error: ValueError) -> str:
    """A refused setting in one line: pydantic's message per setting (named MAIS_*), without its
    boilerplate; any other ValueError as it is."""
    if not isinstance(error, ValidationError):
        return str(error)
    problems = []
    for item in error.errors():
        message = str(item["msg"]).removeprefix("Value error, ")
        name = "MAIS_" + "_".join(str(part) for part in item["loc"]).upper()
        problems.append(message if name in message else f"{name}: {message}")
    return "; ".join(problems)


def _recorded_ports(data_dir: Path) -> dict[str, Any] | None:
    """The ports the last run on this data folder used (None on a first run)."""
    path = data_dir / STACK_RECORD
    try:
        ports = json.loads(path.read_text())["ports"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return ports if isinstance(ports, dict) else None


def _check_demo_site_port(port: int, options: StackOptions) -> None:
    """Refuses before anything starts, naming the port, when the demo site's port is taken."""
    if port == options.ports.public:
        raise PortInUse(f"port {port} is given to both the public entry and the demo site")
    if not port_is_free(port):
        raise PortInUse(f"port {port} on 127.0.0.1 (the demo site, MAIS_DEMO_SITE_PORT) is already in use")


def _record_demo_site(data_dir: Path, url: str) -> None:
    """Adds the demo site's URL to `<data>/stack.json` (beside the stack's own ports)."""
    path = data_dir / STACK_RECORD
    record = json.loads(path.read_text())
    record["demo_site"] = url
    temp = path.with_name(STACK_RECORD + ".tmp")
    temp.write_text(json.dumps(record, indent=2) + "\n")
    temp.replace(path)


def _start_demo_site(stack: Stack, port: int) -> tuple[HostSite | None, list[str]]:
    """The demo host page on its own origin, embedding the demo tenant's widget (and the lines to
    print); none when MAIS_DEMO_SITE_PORT is 0 or it cannot start (the platform still runs)."""
    if not port:
        return None, []
    try:
        site = HostSite(port=port)
    except OSError as error:
        return None, [f"  try the widget:  demo site not started on port {port}: {error}"]
    try:
        lines = ensure_demo_site(stack, site)
        _record_demo_site(stack.data_dir, site.url)
    except Exception as error:
        site.close()
        return None, [f"  try the widget:  demo site not ready: {type(error).__name__}: {error}"]
    return site, lines


def run() -> int:
    """Starts the stack, prints how to reach it, and stops everything on Ctrl-C or SIGTERM."""
    try:
        settings = StackSettings()
        options = options_from_environment()
        stack = Stack(options)
    except ValueError as error:  # a setting that cannot work (bad log level, unresolvable host)
        print(f"make run: {setting_problem(error)}", file=sys.stderr)
        return 2
    _, ignored = passed_through()
    for name in ignored:
        print(f"  ignoring {name}: the stack sets it for each process", flush=True)
    started = time.monotonic()
    print(f"starting MAIS (data in {options.data_dir.resolve()}) ...", flush=True)
    try:
        if settings.demo_site_port:
            _check_demo_site_port(settings.demo_site_port, options)
        stack.start()
    except (PortInUse, DataFolderInUse) as error:
        print(f"make run: {error}", file=sys.stderr)
        return 1
    print(f"\nMAIS is ready in {time.monotonic() - started:.1f}s at {stack.public_url}", flush=True)
    if stack.public_url != stack.url:
        print(f"  listens: {stack.url}", flush=True)
    print(f"  health:  {stack.url}/health/ready", flush=True)
    print(f"  metrics: {stack.operator_urls()['gateway']} (every port: {stack.data_dir / STACK_RECORD})")
    print(f"  logs:    {stack.data_dir / 'logs'}", flush=True)
    if stack.replicas > 1:
        names = ", ".join(stack.replicas_of("booking"))
        print(f"  replicas: {stack.replicas} of every service and gateway ({names} …)", flush=True)
    trace_hint = "" if stack.data_dir == Path(".data").resolve() else f" MAIS_DATA_DIR={options.data_dir}"
    print(f"  traces:  make trace ID=<X-Request-ID of a response>{trace_hint}", flush=True)
    if stack.uses_sandbox:
        print(f"  stripe:  local sandbox at {stack.sandbox_url}", flush=True)
    if stack.uses_mail_sink:
        mail = stack.data_dir / "mail"
        print(f"  mail:    local Postmark sink at {stack.mail_sink_url}, writing {mail}", flush=True)
    try:
        demo_lines = ensure_demo(stack)
    except Exception as error:  # the platform still runs; say why the demo data is missing
        demo_lines = [f"\n  demo data not ensured: {type(error).__name__}: {error}"]
    site, site_lines = _start_demo_site(stack, settings.demo_site_port)
    for line in demo_lines + site_lines:
        print(line, flush=True)
    print("\nCtrl-C stops everything.", flush=True)

    done = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: done.set())
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    done.wait()
    print("\nstopping ...", flush=True)
    if site is not None:
        site.close()
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
