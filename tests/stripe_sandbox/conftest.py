"""Fixtures for the Stripe sandbox tests: the real server in a subprocess, a webhook receiver, SDK clients.

The sandbox runs as ``python -m stripe_sandbox`` on a free 127.0.0.1 port, exactly as the dev stack starts it,
with a compressed retry schedule so retries take tenths of a second. The receiver is a threaded HTTP server in
this process that records every delivery and can be told to fail or to answer slowly for a given object.
Every wait is bounded; every process and server started here is stopped by its fixture.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import stripe

from tools.stack.launcher import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
WEBHOOK_SECRET = "whsec_sandbox_tests_secret"
API_KEY = "sk_test_sandbox_tests"
STARTUP_TIMEOUT = 15.0
WAIT_TIMEOUT = 5.0


@dataclass
class Delivery:
    """One webhook request as the receiver saw it."""

    body: bytes
    signature: str
    event: dict[str, Any]
    status: int
    received_at: float
    # The sender's port: deliveries on one kept-alive connection share it.
    client_port: int = 0

    @property
    def object_id(self) -> str:
        return str(self.event["data"]["object"]["id"])


@dataclass
class Receiver:
    """A local webhook endpoint that records deliveries; ``fail``/``slow`` program it per object id."""

    url: str = ""
    deliveries: list[Delivery] = field(default_factory=list)
    fail: dict[str, int] = field(default_factory=dict)
    slow: dict[str, float] = field(default_factory=dict)
    in_flight: int = 0
    max_in_flight: int = 0
    cond: threading.Condition = field(default_factory=threading.Condition)

    def handle(self, body: bytes, signature: str, client_port: int = 0) -> int:
        event = json.loads(body)
        object_id = str(event["data"]["object"]["id"])
        with self.cond:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            status = 200
            if self.fail.get(object_id, 0) > 0:
                self.fail[object_id] -= 1
                status = 500
            delay = self.slow.get(object_id, 0.0)
        if delay:
            time.sleep(delay)
        with self.cond:
            self.in_flight -= 1
            self.deliveries.append(Delivery(body, signature, event, status, time.monotonic(), client_port))
            self.cond.notify_all()
        return status

    def matching(self, event_type: str | None = None, object_id: str | None = None) -> list[Delivery]:
        with self.cond:
            return [
                d
                for d in self.deliveries
                if (event_type is None or d.event["type"] == event_type)
                and (object_id is None or d.object_id == object_id)
            ]

    def wait_for(
        self,
        event_type: str | None = None,
        object_id: str | None = None,
        *,
        count: int = 1,
        timeout: float = WAIT_TIMEOUT,
    ) -> list[Delivery]:
        """Block until at least ``count`` matching deliveries arrived; fail the test after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                found = [
                    d
                    for d in self.deliveries
                    if (event_type is None or d.event["type"] == event_type)
                    and (object_id is None or d.object_id == object_id)
                ]
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"expected {count} x {event_type} for {object_id} within {timeout}s, got {len(found)}"
                    )
                self.cond.wait(remaining)


class _Receiver(ThreadingHTTPServer):
    """The endpoint's server; a listen backlog for a burst of concurrent deliveries (the default 5 resets
    connections beyond it, which a real endpoint behind a load balancer would not)."""

    request_queue_size = 128


def _handler_for(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # Keep-alive, as Envoy in front of the gateways speaks it.
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status = receiver.handle(body, self.headers.get("Stripe-Signature", ""), self.client_address[1])
            reply = json.dumps({"received": status == 200}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean

    return Handler


@pytest.fixture(scope="session")
def receiver() -> Iterator[Receiver]:
    """The webhook endpoint shared by the session's sandbox."""
    rec = Receiver()
    server = _Receiver(("127.0.0.1", free_port()), _handler_for(rec))
    server.daemon_threads = True
    rec.url = f"http://127.0.0.1:{server.server_address[1]}/webhooks/stripe"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass
class Sandbox:
    """A running sandbox process and handy ways to talk to it."""

    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    # Where this sandbox keeps its state (a restart on the same folder finds everything again).
    state_dir: Path

    def client(self, api_key: str = API_KEY) -> stripe.StripeClient:
        """The official SDK pointed at the sandbox (sync, requests-based, no SDK-side retries)."""
        session = requests.Session()
        session.trust_env = False  # never route 127.0.0.1 through a proxy from the environment
        return stripe.StripeClient(
            api_key,
            base_addresses={"api": self.base_url, "connect": self.base_url, "files": self.base_url},
            http_client=stripe.RequestsClient(timeout=10, session=session),
            max_network_retries=0,
        )

    def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        """Call a ``/_sandbox`` test control."""
        with httpx.Client(base_url=self.base_url, timeout=10, trust_env=False) as http:
            return http.request(method, path, json=body)

    def http(self) -> httpx.Client:
        """A plain HTTP client for the hosted pages (the caller closes it)."""
        return httpx.Client(base_url=self.base_url, timeout=10, trust_env=False, follow_redirects=False)


def start_sandbox(
    tmp_dir: Path, webhook_url: str, *extra: str, state_dir: Path | None = None, port: int | None = None
) -> Sandbox:
    """Start ``python -m stripe_sandbox`` and wait (bounded) until it answers its health check.

    Its state goes to a folder of its own under ``tmp_dir`` unless ``state_dir`` names one (a restart)."""
    port = port or free_port()
    state_dir = state_dir or tmp_dir / f"state-{port}"
    log_path = tmp_dir / f"sandbox-{port}-{time.monotonic_ns()}.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "stripe_sandbox",
            "--port",
            str(port),
            "--webhook-url",
            webhook_url,
            "--webhook-secret",
            WEBHOOK_SECRET,
            "--retry-scale",
            "0.05",
            "--delivery-timeout",
            "5",
            "--log-level",
            "warning",
            "--state-dir",
            str(state_dir),
            *extra,
        ],
        cwd=REPO_ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    sandbox = Sandbox(f"http://127.0.0.1:{port}", process, log_path, state_dir)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"sandbox exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            if sandbox.control("GET", "/_sandbox/health").status_code == 200:
                return sandbox
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            stop_sandbox(sandbox)
            raise RuntimeError(f"sandbox did not start within {STARTUP_TIMEOUT}s:\n{log_path.read_text()}")
        time.sleep(0.05)


def stop_sandbox(sandbox: Sandbox) -> None:
    """Terminate the process, escalating to kill if it does not stop within 5 s."""
    if sandbox.process.poll() is None:
        sandbox.process.terminate()
        try:
            sandbox.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            sandbox.process.kill()
            sandbox.process.wait(timeout=5)


@pytest.fixture(scope="session")
def sandbox(receiver: Receiver, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """One sandbox for the whole session (tests tell their data apart by object ids)."""
    running = start_sandbox(tmp_path_factory.mktemp("sandbox"), receiver.url)
    try:
        yield running
    finally:
        stop_sandbox(running)


@pytest.fixture
def fresh_sandbox(
    receiver: Receiver, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., Sandbox]]:
    """A factory for private sandboxes, for tests that move the clock or change global settings."""
    started: list[Sandbox] = []

    def factory(*extra: str, state_dir: Path | None = None, port: int | None = None) -> Sandbox:
        running = start_sandbox(
            tmp_path_factory.mktemp("sandbox"), receiver.url, *extra, state_dir=state_dir, port=port
        )
        started.append(running)
        return running

    try:
        yield factory
    finally:
        for running in started:
            stop_sandbox(running)


@pytest.fixture
def client(sandbox: Sandbox) -> stripe.StripeClient:
    """The SDK client for the shared sandbox."""
    return sandbox.client()


@pytest.fixture
def connected_account(client: stripe.StripeClient) -> stripe.Account:
    """A connected account to use as a destination."""
    return client.v1.accounts.create(params={"type": "express", "email": "venue@example.com"})


def build_session_params(
    *,
    amount: int = 10_000,
    fee: int | None = None,
    destination: str | None = None,
    expires_in: int = 3600,
    **extra: Any,
) -> Any:
    """Checkout Session parameters shaped like the payments service's.

    Typed ``Any`` because the SDK types ``params`` as its own TypedDicts and these are built dynamically.
    """
    params: dict[str, Any] = {
        "mode": "payment",
        "success_url": "http://127.0.0.1:9/booked?session={CHECKOUT_SESSION_ID}",
        "cancel_url": "http://127.0.0.1:9/cancelled",
        "customer_email": "couple@example.com",
        "client_reference_id": "booking_123",
        "metadata": {"booking_id": "bk_123", "tenant_id": "tn_1"},
        "expires_at": int(time.time()) + expires_in,
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": "usd",
                    "unit_amount": amount,
                    "product_data": {"name": "Elopement package"},
                },
            }
        ],
        **extra,
    }
    pi_data: dict[str, Any] = {"metadata": {"booking_id": "bk_123"}}
    if fee is not None:
        pi_data["application_fee_amount"] = fee
    if destination is not None:
        pi_data["transfer_data"] = {"destination": destination}
    params["payment_intent_data"] = pi_data
    return params


def pay_session(sandbox: Sandbox, session: stripe.checkout.Session) -> dict[str, Any]:
    """Pay through the hosted page's form target, asking for JSON as scripts do."""
    with sandbox.http() as http:
        response = http.post(f"{session.url}/pay", headers={"Accept": "application/json"})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def poll_until(predicate: Callable[[], bool], timeout: float = WAIT_TIMEOUT, interval: float = 0.02) -> None:
    """Poll ``predicate`` until true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


# Helpers reach the tests as fixtures: test modules cannot reliably import conftest under every import mode.


@pytest.fixture
def session_params() -> Callable[..., Any]:
    """Builder of Checkout Session parameters (see :func:`build_session_params`)."""
    return build_session_params


@pytest.fixture
def pay(sandbox: Sandbox) -> Callable[[stripe.checkout.Session], dict[str, Any]]:
    """Pay a session of the shared sandbox through ``{url}/pay``."""
    return lambda session: pay_session(sandbox, session)


@pytest.fixture
def wait_until() -> Callable[..., None]:
    """Bounded polling helper (see :func:`poll_until`)."""
    return poll_until


@pytest.fixture
def webhook_secret() -> str:
    """The secret the sandboxes sign with."""
    return WEBHOOK_SECRET
