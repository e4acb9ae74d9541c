"""End-to-end suites: the whole platform as real processes (embedded PostgreSQL, four services,
two gateways, Envoy, the Stripe sandbox) on free 127.0.0.1 ports, once per session."""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest

from tools.stack.launcher import Ports, Stack, StackOptions


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The running platform; tests that stop a process must start it again."""
    options = StackOptions(
        data_dir=tmp_path_factory.mktemp("stack"),
        ports=Ports.free(gateways=2),
        database_url=os.environ.get("DATABASE_URL") or None,
        durable=False,
        restart=False,
        gateways=2,
        env={"MAIS_SIGNIN_WINDOW_SECONDS": "900"},
    )
    running = Stack(options)
    running.start(timeout=120)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def http(stack: Stack) -> Iterator[httpx.Client]:
    """An HTTP client on the public entry (Envoy)."""
    with httpx.Client(base_url=stack.url, timeout=10.0) as client:
        yield client
