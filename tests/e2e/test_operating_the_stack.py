"""The operator's side of `make run`, through one stack started the way `make run` starts it: from an
environment holding every documented setting (tools.stack's `options_from_environment`), with internal
ports chosen free and recorded in the data folder.

Each test checks one setting's or one operator promise's effect through the public API, the operator
ports or the files the stack writes (mail, logs, traces, its record)."""

from __future__ import annotations

import email
import email.policy
import json
import re
import secrets
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from mais.catalog.v1 import catalog_service_pb2 as catalog_pb
from mais.catalog.v1 import catalog_service_pb2_grpc as catalog_grpc
from opentelemetry.sdk.trace.sampling import TraceIdRatioBased

from tests.e2e.conftest import (
    PLATFORM_ADMIN_EMAIL,
    PLATFORM_ADMIN_PASSWORD,
    eventually,
    mails_to,
    stack_options,
)
from tools.stack.__main__ import options_from_environment
from tools.stack.launcher import STACK_RECORD, PortInUse, Stack, StackOptions, free_port

PUBLIC_HOST = "127.0.0.2"
PUBLIC_URL = "https://bookings.example.test"
MAIL_FROM_ADDRESS = "desk@weddings.example.test"
SAMPLE_RATIO = 0.5
CHECKOUT_LIMIT = 2
CHECKOUT_WINDOW = 3600
WAIT = 20.0


@pytest.fixture(scope="module")
def stack(data_root: Path) -> Iterator[Stack]:
    """One stack whose environment sets every documented variable at once."""
    data_dir = data_root / "operated"
    environ = {
        **stack_options(data_dir).env,  # the e2e suite's own tuning (cheap argon2, a known admin)
        "MAIS_DATA_DIR": str(data_dir),
        "MAIS_PUBLIC_PORT": str(free_port()),
        "MAIS_PUBLIC_HOST": PUBLIC_HOST,
        "MAIS_PUBLIC_URL": PUBLIC_URL,
        "MAIS_LOG_LEVEL": "WARNING",
        "MAIS_MAIL_FROM": f"Weddings Desk <{MAIL_FROM_ADDRESS}>",
        "MAIS_TRACE_SAMPLE_RATIO": str(SAMPLE_RATIO),
        "MAIS_CHECKOUT_RATE_LIMIT": str(CHECKOUT_LIMIT),
        "MAIS_CHECKOUT_RATE_WINDOW_SECONDS": str(CHECKOUT_WINDOW),
    }
    with pytest.MonkeyPatch.context() as env:
        for name, value in environ.items():
            env.setenv(name, value)
        for name in (
            "DATABASE_URL",
            "STRIPE_SECRET_KEY",
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "POSTMARK_SERVER_TOKEN",
        ):
            env.delenv(name, raising=False)
        options = options_from_environment()
    options.durable = False
    options.restart = False
    with Stack(options).running(timeout=180) as running:
        yield running


@pytest.fixture(scope="module")
def http(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.url, timeout=15.0) as client:
        yield client


_addresses = iter(range(10, 250))


def from_new_address(stack: Stack) -> httpx.Client:
    """A client connecting from its own loopback address (the checkout limit counts per address)."""
    transport = httpx.HTTPTransport(local_address=f"127.0.9.{next(_addresses)}")
    return httpx.Client(base_url=stack.url, timeout=15.0, transport=transport)


@dataclass
class Shop:
    tenant_id: str
    public_key: str
    admin_email: str
    admin_token: str
    package_id: str
    slug: str


@pytest.fixture(scope="module")
def shop(stack: Stack, http: httpx.Client) -> Shop:
    """A tenant onboarded with the sandbox, selling one package."""
    login = http.post(
        "/v1/auth/login", json={"email": PLATFORM_ADMIN_EMAIL, "password": PLATFORM_ADMIN_PASSWORD}
    )
    assert login.status_code == 200, login.text
    slug = f"ops-{secrets.token_hex(4)}"
    admin_email, password = f"owner@{slug}.example", "Owner-" + secrets.token_urlsafe(16)
    created = http.post(
        "/v1/admin/tenants",
        json={
            "slug": slug,
            "name": f"Shop {slug}",
            "commissionPercent": 10,
            "adminEmail": admin_email,
            "adminPassword": password,
        },
        headers={"Authorization": f"Bearer {login.json()['token']}"},
    )
    assert created.status_code == 201, created.text
    tenant_id, public_key = created.json()["tenant"]["id"], created.json()["publicKey"]
    admin = http.post("/v1/auth/login", json={"email": admin_email, "password": password})
    assert admin.status_code == 200, admin.text
    token = admin.json()["token"]
    connect = http.post("/v1/tenant-admin/stripe/connect", headers={"Authorization": f"Bearer {token}"})
    assert connect.status_code == 200, connect.text
    onboard = httpx.post(f"{stack.sandbox_url}/_sandbox/accounts/{connect.json()['stripeAccountId']}/onboard")
    assert onboard.status_code < 300, onboard.text
    assert eventually(
        lambda: (
            http.get("/v1/tenant-admin/stripe/connect", headers={"Authorization": f"Bearer {token}"}).json()[
                "connectState"
            ]
            == "onboarded"
        ),
        timeout=WAIT,
    )
    with grpc.insecure_channel(f"127.0.0.1:{stack.ports.catalog}") as channel:
        package = (
            catalog_grpc.CatalogServiceStub(channel)
            .CreatePackage(
                catalog_pb.CreatePackageRequest(
                    tenant_id=tenant_id,
                    package=catalog_pb.Package(
                        slug="day", title="Garden day", price_cents=9_000, active=True
                    ),
                ),
                metadata=(("x-mais-internal", stack.internal_token),),
                timeout=10,
            )
            .package
        )
    return Shop(tenant_id, public_key, admin_email, token, package.id, slug)


_days = iter(range(90, 10_000))


def checkout(client: httpx.Client, shop: Shop, **headers: str) -> httpx.Response:
    day = (datetime.now(UTC).date() + timedelta(days=next(_days))).isoformat()
    return client.post(
        "/v1/bookings/checkout",
        json={
            "packageId": shop.package_id,
            "eventDate": day,
            "coupleName": "Ana & Bo",
            "email": f"couple-{uuid.uuid4().hex[:10]}@example.com",
        },
        headers={"X-Tenant-Key": shop.public_key, **headers},
    )


def text_of(message: email.message.EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def links_in(text: str) -> list[str]:
    return re.findall(r"https?://[^\s\"'<>]+", text)


def spans_of(stack: Stack, trace_id: str) -> list[dict[str, Any]]:
    spans = []
    for path in (stack.data_dir / "traces").glob("*.jsonl"):
        for line in path.read_text().splitlines():
            if trace_id in line:
                spans.append(json.loads(line))
    return spans


def metrics_text(port: int) -> str:
    answer = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    assert answer.status_code == 200
    return answer.text


# --- MAIS_PUBLIC_HOST, MAIS_PUBLIC_PORT, MAIS_DATA_DIR and the recorded ports ---------------------


def test_the_public_entry_listens_on_the_configured_host_and_port_only(
    stack: Stack, http: httpx.Client
) -> None:
    assert stack.url == f"http://{PUBLIC_HOST}:{stack.ports.public}"
    assert http.get("/health/ready").status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{stack.ports.public}/health", timeout=5)


def test_the_data_folder_records_every_port_the_stack_listens_on(stack: Stack) -> None:
    record = json.loads((stack.data_dir / STACK_RECORD).read_text())
    ports = record["ports"]
    assert ports["public"] == stack.ports.public
    assert record["public_url"] == PUBLIC_URL
    assert record["traces"] == str(stack.data_dir / "traces")
    # Each recorded port is where that part answers.
    assert httpx.get(f"http://127.0.0.1:{ports['gateway']}/health", timeout=5).status_code == 200
    assert httpx.get(f"http://127.0.0.1:{ports['envoy_admin']}/ready", timeout=5).status_code == 200
    sandbox = httpx.get(f"http://127.0.0.1:{ports['stripe']}/v1/events", auth=("sk_test_x", ""), timeout=5)
    assert sandbox.status_code == 200
    assert httpx.get(f"http://127.0.0.1:{ports['mail_sink']}/health", timeout=5).status_code == 200
    assert record["mail"] == f"http://127.0.0.1:{ports['mail_sink']}/email"
    for service in ("tenant", "catalog", "booking", "payments", "payments_webhooks"):
        assert "python_info" in metrics_text(ports[f"metrics_{service}"])
    assert record["operator"]["gateway"] == f"http://127.0.0.1:{ports['metrics_gateway']}/metrics"


def test_a_second_stack_on_a_taken_public_port_fails_at_once_naming_it(stack: Stack, data_root: Path) -> None:
    other = Stack(
        StackOptions(
            data_dir=data_root / "second",
            ports=type(stack.ports).free(),
            public_host=PUBLIC_HOST,
            durable=False,
            restart=False,
        )
    )
    other.ports.public = stack.ports.public
    with pytest.raises(
        PortInUse, match=rf"port {stack.ports.public} on {PUBLIC_HOST} \(the public entry, MAIS_PUBLIC_PORT\)"
    ):
        other.start(timeout=5)
    assert other.processes == {} and other.postgres is None
    assert not (data_root / "second" / "pg").exists()


def test_a_second_stack_with_its_own_port_and_data_folder_runs_beside_the_first_and_keeps_its_ports(
    stack: Stack, data_root: Path
) -> None:
    data_dir = data_root / "beside"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MAIS_DATA_DIR", str(data_dir))
        env.setenv("MAIS_PUBLIC_PORT", str(free_port()))
        for name in ("MAIS_PUBLIC_HOST", "MAIS_PUBLIC_URL", "DATABASE_URL", "STRIPE_SECRET_KEY"):
            env.delenv(name, raising=False)
        options = options_from_environment()
    options.durable, options.restart = False, False
    beside = Stack(options)
    beside.start(timeout=180)
    try:
        assert httpx.get(f"{beside.url}/health/ready", timeout=10).status_code == 200
        assert httpx.get(f"{stack.url}/health/ready", timeout=10).status_code == 200
        first = {v for v in asdict(stack.ports).values() if isinstance(v, int)}
        second = {v for v in asdict(beside.ports).values() if isinstance(v, int)}
        assert not first & second
    finally:
        beside.stop()
    # The next run on that folder gets the same ports back (they are free again).
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MAIS_DATA_DIR", str(data_dir))
        env.setenv("MAIS_PUBLIC_PORT", str(beside.ports.public))
        again = options_from_environment()
    assert again.ports == beside.ports


# --- MAIS_LOG_LEVEL ---------------------------------------------------------------------------


def test_log_level_warning_keeps_info_lines_out_of_every_process_log(
    stack: Stack, http: httpx.Client
) -> None:
    assert http.get("/v1/packages", headers={"X-Tenant-Key": "pk_live_nobody"}).status_code == 401
    logs = stack.data_dir / "logs"
    for name in ("gateway", "tenant", "catalog", "booking", "payments", "payments-webhooks"):
        for line in (logs / f"{name}.log").read_text().splitlines():
            if line.startswith("{"):
                assert json.loads(line)["level"] not in ("DEBUG", "INFO"), (name, line)


# --- MAIS_CHECKOUT_RATE_LIMIT and MAIS_CHECKOUT_RATE_WINDOW_SECONDS --------------------------


def test_checkouts_past_the_configured_limit_wait_for_the_configured_window(stack: Stack, shop: Shop) -> None:
    with from_new_address(stack) as couple:
        for _ in range(CHECKOUT_LIMIT):
            assert checkout(couple, shop).status_code == 201
        refused = checkout(couple, shop)
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"] == "RATE_LIMITED"
    # The default window is 60 s; the configured one is an hour.
    assert 60 < int(refused.headers["retry-after"]) <= CHECKOUT_WINDOW


# --- MAIS_PUBLIC_URL and MAIS_MAIL_FROM: links in emails, Stripe's redirects, the sender -----------


def test_stripe_redirects_and_the_couples_manage_link_use_the_public_url(stack: Stack, shop: Shop) -> None:
    with from_new_address(stack) as couple:
        answer = checkout(couple, shop)
    assert answer.status_code == 201, answer.text
    session_id = answer.json()["checkoutUrl"].rstrip("/").rsplit("/", 1)[-1]
    session = httpx.get(
        f"{stack.sandbox_url}/v1/checkout/sessions/{session_id}", auth=("sk_test_x", ""), timeout=5
    )
    assert session.json()["success_url"].startswith(f"{PUBLIC_URL}/")
    assert session.json()["cancel_url"].startswith(f"{PUBLIC_URL}/")
    paid = httpx.post(
        f"{answer.json()['checkoutUrl']}/pay", headers={"Accept": "application/json"}, timeout=10
    )
    assert paid.status_code == 200, paid.text
    assert paid.json()["redirect_url"] == f"{PUBLIC_URL}/book/{shop.slug}/done?session_id={session_id}"

    couple_email = session.json()["customer_email"]
    mails = eventually(lambda: mails_to(stack, couple_email), timeout=WAIT)
    assert mails, "no confirmation mail"
    links = links_in(text_of(mails[0]))
    assert any(link.startswith(f"{PUBLIC_URL}/booking/") for link in links), links
    assert not [link for link in links if "127.0.0." in link]
    assert parseaddr(str(mails[0]["From"]))[1] == MAIL_FROM_ADDRESS


def test_password_reset_links_use_the_public_url_and_come_from_the_configured_sender(
    stack: Stack, http: httpx.Client, shop: Shop
) -> None:
    assert http.post("/v1/auth/forgot-password", json={"email": shop.admin_email}).status_code == 202

    # The admin also hears of the shop's bookings; the reset mail is the one with a token link.
    def reset_mails() -> list[email.message.EmailMessage]:
        return [m for m in mails_to(stack, shop.admin_email) if "token=" in text_of(m)]

    mails = eventually(reset_mails, timeout=WAIT)
    assert mails, "no reset mail"
    links = links_in(text_of(mails[-1]))
    assert any(link.startswith(f"{PUBLIC_URL}/") and "token=" in link for link in links), links
    assert parseaddr(str(mails[-1]["From"]))[1] == MAIL_FROM_ADDRESS


# --- MAIS_TRACE_SAMPLE_RATIO, make trace with a data folder, the Stripe span ---------------------


def test_only_the_configured_share_of_requests_is_traced(stack: Stack, http: httpx.Client) -> None:
    bound = TraceIdRatioBased(SAMPLE_RATIO).bound

    def sampled(trace_id: str) -> bool:
        return int(trace_id, 16) & ((1 << 64) - 1) < bound

    ids: list[str] = []
    # Until both kinds were seen, ending on a sampled one (whose spans prove the files were flushed).
    for _ in range(60):
        ids.append(http.get("/health/ready").headers["x-request-id"])
        if any(sampled(i) for i in ids) and not all(sampled(i) for i in ids) and sampled(ids[-1]):
            break
    assert any(not sampled(i) for i in ids) and sampled(ids[-1])
    assert eventually(lambda: spans_of(stack, ids[-1]), timeout=WAIT)
    for trace_id in ids:
        assert bool(spans_of(stack, trace_id)) == sampled(trace_id), trace_id


def test_make_trace_finds_a_checkout_under_the_data_folder_with_its_call_to_stripe(
    stack: Stack, shop: Shop, tmp_path: Path
) -> None:
    trace_id = secrets.token_hex(16)
    # A caller's sampled traceparent is followed, so this request is recorded whatever the ratio.
    with from_new_address(stack) as couple:
        answer = checkout(couple, shop, traceparent=f"00-{trace_id}-{secrets.token_hex(8)}-01")
    assert answer.status_code == 201, answer.text
    assert answer.headers["x-request-id"] == trace_id

    def printed() -> str:
        result = subprocess.run(
            [sys.executable, "-m", "tools.trace", trace_id],
            env={"PATH": "/usr/bin:/bin", "MAIS_DATA_DIR": str(stack.data_dir)},
            cwd=tmp_path,  # not the checkout: the default .data is not this stack's folder
            capture_output=True,
            text=True,
            timeout=30,
        )
        return result.stdout if "stripe POST /v1/checkout/sessions" in result.stdout else ""

    tree = eventually(printed, timeout=WAIT, interval=0.5)
    assert tree, "make trace did not show the call to Stripe"
    stripe_span = next(
        s for s in spans_of(stack, trace_id) if s["name"] == "stripe POST /v1/checkout/sessions"
    )
    assert stripe_span["kind"] == "CLIENT" and stripe_span["service"] == "payments"
    assert stripe_span["attributes"]["http.response.status_code"] == 200


# --- defect 13: operator routes, Envoy's own answers, the access log, new metrics -----------------


def test_metrics_answer_only_on_the_operator_ports(stack: Stack, http: httpx.Client) -> None:
    public = http.get("/metrics")
    assert public.status_code == 404 and public.json()["error"] == "NOT_FOUND"
    on_api_port = httpx.get(f"http://127.0.0.1:{stack.ports.gateway}/metrics", timeout=5)
    assert on_api_port.status_code == 404
    assert "mais_http_requests_total" in metrics_text(stack.ports.metrics_gateway)


def test_money_metrics_are_labelled_by_currency(stack: Stack, shop: Shop) -> None:
    with from_new_address(stack) as couple:
        answer = checkout(couple, shop)
    assert answer.status_code == 201, answer.text
    currency = answer.json()["currency"].upper()
    assert (
        httpx.post(
            f"{answer.json()['checkoutUrl']}/pay", headers={"Accept": "application/json"}, timeout=10
        ).status_code
        == 200
    )
    wanted = f'mais_payments_charged_cents_total{{currency="{currency}"}}'
    # Counted where the webhook is processed: payments' webhook worker.
    assert eventually(lambda: wanted in metrics_text(stack.ports.metrics_payments_webhooks), timeout=WAIT)


def test_every_outbox_reports_the_age_of_its_oldest_pending_message(stack: Stack) -> None:
    for service in ("tenant", "booking"):
        port = getattr(stack.ports, f"metrics_{service}")
        found = eventually(
            lambda port=port: re.search(
                r"^mais_outbox_oldest_pending_age_seconds (\S+)$", metrics_text(port), re.M
            ),
            timeout=WAIT,
        )
        assert found, service
        assert float(found.group(1)) >= 0


def test_envoys_own_413_carries_a_request_id_found_in_the_access_log(
    stack: Stack, http: httpx.Client
) -> None:
    answer = http.post(
        "/v1/auth/login", content=b"x" * (1024 * 1024 + 1), headers={"content-type": "application/json"}
    )
    assert answer.status_code == 413
    request_id = answer.headers["x-request-id"]
    assert request_id and answer.json()["requestId"] == request_id
    assert answer.json()["error"] == "PAYLOAD_TOO_LARGE"
    access_log = stack.data_dir / "logs" / "envoy-access.log"
    assert eventually(lambda: request_id in access_log.read_text(), timeout=WAIT)


def test_the_access_log_keeps_tokens_and_emails_of_query_strings_out(
    stack: Stack, http: httpx.Client
) -> None:
    token, address = secrets.token_urlsafe(24), f"private-{secrets.token_hex(4)}@example.com"
    answer = http.get(f"/v1/bookings/{uuid.uuid4()}", params={"token": token, "email": address})
    request_id = answer.headers["x-request-id"]
    access_log = stack.data_dir / "logs" / "envoy-access.log"
    line = eventually(
        lambda: next((entry for entry in access_log.read_text().splitlines() if request_id in entry), ""),
        timeout=WAIT,
    )
    assert line, "the request is not in the access log"
    assert json.loads(line)["path"].startswith("/v1/bookings/")
    text = access_log.read_text()
    assert token not in text and address not in text


def test_with_every_gateway_down_envoys_503_carries_a_request_id(stack: Stack, http: httpx.Client) -> None:
    gateways = [name for name in stack.processes if name.startswith("gateway")]
    for name in gateways:
        stack.kill(name, 15)
    try:
        answer = eventually(lambda: (r := http.get("/health")).status_code == 503 and r, timeout=WAIT)
        assert answer, "Envoy did not answer 503 with no gateway"
        assert answer.headers["x-request-id"]
        assert answer.json()["requestId"] == answer.headers["x-request-id"]
        assert answer.json()["error"] == "UNAVAILABLE"
    finally:
        for name in gateways:
            stack.start_process(name)
