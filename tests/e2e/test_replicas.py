"""A stack with two replicas of every service, of payments' webhook worker and of the gateway
(StackOptions.replicas, `MAIS_REPLICAS=2 make run`): ready, every process named as the contract says,
every replica recorded, and a couple books and pays with every service's calls spread over its
replicas (docs/adr/0032)."""

from __future__ import annotations

import json
import re
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from mais_runtime.provision import SERVICES
from tests.e2e.conftest import (
    eventually,
    platform_admin_token,
    stack_options,
    tenant_maker,
)
from tests.reliability.shop import Sandbox, booking_as_admin, open_shop, paid_booking
from tools.stack.launcher import STACK_RECORD, Stack, grpc_serving

_CALLS = re.compile(r'^mais_rpc_requests_total\{code="[A-Z_]+",method="/mais\.[^"]+"\} ([0-9.e+]+)$', re.M)


@pytest.fixture(scope="module")
def replicated(data_root: Path) -> Iterator[Stack]:
    """Its own stack at replicas=2 (the session's shared stack keeps one replica of each service)."""
    options = replace(stack_options(data_root / "replicas", MAIS_CHECKOUT_RATE_LIMIT="0"), replicas=2)
    with Stack(options).running(timeout=180) as running:
        yield running


@pytest.fixture
def http(replicated: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=replicated.url, timeout=15.0) as client:
        yield client


def _served(stack: Stack, name: str) -> float:
    """The MAIS RPCs (not health checks) one process has answered, from its own metrics port."""
    text = httpx.get(stack.operator_urls()[name], timeout=5.0).text
    return sum(float(n) for n in _CALLS.findall(text))


def test_a_two_replica_stack_is_ready_with_every_process_named_and_recorded(
    replicated: Stack, http: httpx.Client
) -> None:
    parts = [*SERVICES, "payments-webhooks", "gateway"]
    expected = [name for part in parts for name in (part, f"{part}-2")]
    assert sorted(replicated.processes) == sorted([*expected, "envoy", "stripe-sandbox", "mail-sink"])
    assert all(replicated.processes[name].alive() for name in expected)
    for part in parts:
        assert replicated.replicas_of(part) == [part, f"{part}-2"]
    record = json.loads((replicated.data_dir / STACK_RECORD).read_text())
    assert record["replicas"] == 2
    assert sorted(record["processes"]) == sorted(expected)
    ports = [port for process in record["processes"].values() for port in process.values()]
    assert len(ports) == len(set(ports)) == 2 * len(expected)
    for name in expected:
        assert httpx.get(record["operator"][name], timeout=5.0).status_code == 200, name
    ready = http.get("/health/ready")
    assert ready.status_code == 200, ready.text
    assert set(ready.json()["checks"].values()) == {"ok"}


def test_a_couple_books_and_pays_over_two_replicas_of_everything(
    replicated: Stack, http: httpx.Client
) -> None:
    sandbox = Sandbox(replicated)
    try:
        shop = open_shop(http, tenant_maker(replicated, platform_admin_token(replicated)), "rep")
        booking = paid_booking(http, sandbox, shop)
    finally:
        sandbox.close()
    # Reads on every service, through both gateways (Envoy's round robin) and each gateway's channels.
    headers = shop.tenant.admin_headers()
    for _ in range(10):
        assert booking_as_admin(http, shop, booking["bookingId"])["status"] == "CONFIRMED"
        assert http.get("/v1/tenant-admin/packages", headers=headers).status_code == 200
        assert http.get("/v1/tenant-admin/stripe/connect", headers=headers).status_code == 200
    for service in SERVICES:
        served = {name: _served(replicated, name) for name in replicated.replicas_of(service)}
        assert min(served.values()) > 0, served


def test_a_replica_killed_and_started_again_by_name_rejoins(replicated: Stack, http: httpx.Client) -> None:
    port = replicated.replica_ports()["booking-2"]["grpc"]
    replicated.kill("booking-2")
    assert not replicated.processes["booking-2"].alive()
    sandbox = Sandbox(replicated)
    try:
        shop = open_shop(http, tenant_maker(replicated, platform_admin_token(replicated)), "rep")
        # booking alone serves meanwhile: the checkout, the hold and the confirmation.
        booking = paid_booking(http, sandbox, shop)
        replicated.start_process("booking-2")
        assert eventually(lambda: grpc_serving(port), 60), "booking-2 did not serve again"
        before = _served(replicated, "booking-2")
        # Its callers' channels reconnect (backoff up to 2 s) and pick it again.
        assert eventually(
            lambda: (
                booking_as_admin(http, shop, booking["bookingId"])["status"] == "CONFIRMED"
                and _served(replicated, "booking-2") > before
            ),
            30,
        ), "no call reached booking-2 after its restart"
    finally:
        sandbox.close()


def test_a_gateway_on_sigterm_costs_no_request_through_envoy(replicated: Stack) -> None:
    stop = threading.Event()
    answers: list[int] = []

    def load() -> None:
        with httpx.Client(base_url=replicated.url, timeout=15.0) as client:
            while not stop.is_set():
                try:
                    answers.append(client.get("/health").status_code)
                except httpx.HTTPError:
                    answers.append(0)

    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.0)
        replicated.kill("gateway-2", signal.SIGTERM)
        time.sleep(2.0)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=20)
        replicated.start_process("gateway-2")
    assert len(answers) > 50
    assert [code for code in answers if code != 200] == []
    port = replicated.replica_ports()["gateway-2"]["http"]
    assert eventually(lambda: _ready(f"http://127.0.0.1:{port}"), 60), "gateway-2 did not come back"


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/health/ready", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False
