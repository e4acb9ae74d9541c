"""The reliability and security suite: the platform's three promises (no date sold twice; money and
bookings agree; tenants isolated) under load, faults and hostile input, through Envoy against real
processes and a real PostgreSQL.

The suite runs its own stack (it kills services and restarts PostgreSQL and the whole platform, which
the shared end-to-end stack must not suffer). Its size is `smoke` (CI, part of `make test`) unless
`MAIS_RELIABILITY=full`. At the end it prints its figures: requests tried per category, failures,
5xx answers, double bookings, lost and duplicated payments.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

# The e2e fixtures work as they are on this suite's own `stack` (fixtures resolve by name where used).
from tests.e2e.conftest import (
    PLATFORM_ADMIN_EMAIL,
    PLATFORM_ADMIN_PASSWORD,
    gateways,
    http,
    make_tenant,
    platform_token,
)
from tests.reliability.figures import FIGURES_KEY, Figures
from tools.stack.launcher import Ports, Stack, StackOptions

__all__ = ["gateways", "http", "make_tenant", "platform_token"]

# Checkouts one tenant accepts from one client address per window in this suite's stack.
CHECKOUT_RATE_LIMIT = 30
CHECKOUT_RATE_WINDOW_SECONDS = 60


@dataclass(frozen=True)
class Size:
    """How hard the suite pushes. The contention figures of the issue (100 couples for one date, 10
    dates at once, 20 copies of one event) hold in both sizes; the rest scales."""

    name: str
    # Generated requests per API operation and generation mode (positive, negative).
    fuzz_examples: int
    # Couples per date when 10 dates are sold at once.
    buyers_per_date: int
    # Paid checkouts whose webhooks are in flight while a service is killed.
    crash_sessions: int
    # How long PostgreSQL stays down while couples keep checking out.
    database_downtime_seconds: float


SMOKE = Size("smoke", fuzz_examples=8, buyers_per_date=10, crash_sessions=12, database_downtime_seconds=1.0)
# 25 couples for each of 10 dates is 250 checkouts in flight at once: about what two cores serve inside
# the checkout deadline; beyond that the answer is a correct 503 UNAVAILABLE, which proves nothing more.
FULL = Size("full", fuzz_examples=100, buyers_per_date=25, crash_sessions=60, database_downtime_seconds=5.0)


def chosen_size() -> Size:
    """SMOKE unless MAIS_RELIABILITY=full."""
    return FULL if os.environ.get("MAIS_RELIABILITY", "smoke").strip().lower() == "full" else SMOKE


@pytest.fixture(scope="session")
def size() -> Size:
    """The suite's size for this run."""
    return chosen_size()


def stack_options(data_dir: Path) -> StackOptions:
    """The suite's stack: two gateways behind Envoy, processes restarted by hand (the tests decide
    when a killed service comes back), the same bootstrap admin as the end-to-end suite."""
    return StackOptions(
        data_dir=data_dir,
        ports=Ports.free(gateways=2),
        database_url=os.environ.get("DATABASE_URL") or None,
        durable=False,
        restart=False,
        gateways=2,
        env={
            "MAIS_SIGNIN_WINDOW_SECONDS": "900",
            "MAIS_ADMIN_EMAIL": PLATFORM_ADMIN_EMAIL,
            "MAIS_ADMIN_PASSWORD": PLATFORM_ADMIN_PASSWORD,
            "MAIS_ARGON2_TIME_COST": "1",
            "MAIS_ARGON2_MEMORY_KIB": "8192",
            "MAIS_ARGON2_PARALLELISM": "1",
            # Failed webhook deliveries come back within seconds (Stripe's schedule, compressed).
            "STRIPE_SANDBOX_RETRY_SCALE": "0.1",
            "MAIS_CHECKOUT_RATE_LIMIT": str(CHECKOUT_RATE_LIMIT),
            "MAIS_CHECKOUT_RATE_WINDOW_SECONDS": str(CHECKOUT_RATE_WINDOW_SECONDS),
        },
    )


@pytest.fixture(scope="session")
def stack(data_root: Path) -> Iterator[Stack]:
    """This suite's running platform. A test that stops a part starts it again before it ends."""
    running = Stack(stack_options(data_root / "reliability"))
    running.start(timeout=120)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def api(stack: Stack) -> Iterator[httpx.Client]:
    """A session-long HTTP client on the public entry (Envoy), for module-scoped set-ups."""
    with httpx.Client(base_url=stack.url, timeout=20.0) as client:
        yield client


@pytest.fixture(scope="session")
def figures(request: pytest.FixtureRequest) -> Figures:
    """The session's counters (printed at the end)."""
    return request.config.stash[FIGURES_KEY]


# --- hooks ---------------------------------------------------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    config.stash[FIGURES_KEY] = Figures()
    config.addinivalue_line(
        "markers", "disruptive: kills or restarts parts of the stack; runs after the rest of the suite"
    )


def _ours(nodeid: str) -> bool:
    return nodeid.startswith("tests/reliability/")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Tests that kill processes or restart the database run last, so nothing else sees them recover.
    disruptive = [item for item in items if _ours(item.nodeid) and item.get_closest_marker("disruptive")]
    if disruptive:
        moved = set(disruptive)
        items[:] = [item for item in items if item not in moved] + disruptive


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    figures = config.stash.get(FIGURES_KEY, None)
    if figures is None:
        return
    figures.failed_tests = sum(1 for r in terminalreporter.stats.get("failed", []) if _ours(r.nodeid))
    ran = any(
        _ours(r.nodeid)
        for reports in terminalreporter.stats.values()
        for r in reports
        if hasattr(r, "nodeid")
    )
    if not ran:
        return
    terminalreporter.write_sep("=", f"reliability figures ({chosen_size().name})")
    for line in figures.lines():
        terminalreporter.write_line(line)
