"""Payments against the real local Stripe sandbox and a real PostgreSQL.

First the Stripe adapter alone (the official SDK over HTTP): sessions with the commission as a
destination charge's fee, refunds with our own fee split, Connect accounts, webhook signatures checked on
the exact bytes Stripe sent. Then the payments service as a real process beside real tenant, catalog and
booking services, driven over gRPC: checkout, concurrent deliveries of one event, lost holds, expiry,
refunds that never exceed what was paid, a failed event processed again."""

from __future__ import annotations

import asyncio
import itertools
import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import asyncpg
import grpc
import httpx
import pytest
import stripe
from grpc_health.v1 import health_pb2, health_pb2_grpc
from mais.booking.v1 import booking_service_pb2 as booking_pb
from mais.booking.v1 import booking_service_pb2_grpc as booking_grpc
from mais.catalog.v1 import catalog_service_pb2 as catalog_pb
from mais.catalog.v1 import catalog_service_pb2_grpc as catalog_grpc
from mais.payments.v1 import payments_service_pb2 as pb
from mais.payments.v1 import payments_service_pb2_grpc as payments_grpc
from mais.tenant.v1 import tenant_service_pb2 as tenant_pb
from mais.tenant.v1 import tenant_service_pb2_grpc as tenant_grpc

from mais_runtime.rpc_errors import from_rpc_error
from services.payments.stripe_adapter import (
    InvalidSignature,
    LineItem,
    PaymentProviderError,
    SessionSpec,
    StripeAdapter,
)
from tests.integration.conftest import FAST_ARGON2, INTERNAL_TOKEN, Cluster, RunningService, spawn_service
from tools.stack.launcher import free_port

# The SDK's own httpx client posts form bodies with `data=`, which httpx deprecates; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>' to upload raw bytes:DeprecationWarning")

REPO = Path(__file__).resolve().parents[2]
SECRET = "whsec_payments_adapter_tests"


class Captured:
    """Webhook deliveries as they arrived: (raw body, Stripe-Signature)."""

    def __init__(self) -> None:
        self.items: list[tuple[bytes, str]] = []
        self.lock = threading.Lock()

    def wait_for(self, event_type: str, object_id: str, timeout: float = 10.0) -> tuple[bytes, str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for body, signature in self.items:
                    event = json.loads(body)
                    if event["type"] == event_type and event["data"]["object"]["id"] == object_id:
                        return body, signature
            time.sleep(0.02)
        raise AssertionError(f"no {event_type} for {object_id} within {timeout}s")


@pytest.fixture(scope="module")
def captured() -> Iterator[tuple[Captured, str]]:
    sink = Captured()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with sink.lock:
                sink.items.append((body, self.headers.get("Stripe-Signature", "")))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield sink, f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def sandbox_url(captured: tuple[Captured, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = (tmp_path_factory.mktemp("sandbox") / "sandbox.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "stripe_sandbox",
            "--port",
            str(port),
            "--webhook-url",
            captured[1],
            "--webhook-secret",
            SECRET,
            "--retry-scale",
            "0.05",
            "--log-level",
            "warning",
            "--state-dir",
            str(tmp_path_factory.mktemp("sandbox-state")),
        ],
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while True:
        try:
            if httpx.get(f"{url}/_sandbox/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            raise RuntimeError("sandbox did not start")
        time.sleep(0.05)
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
async def adapter(sandbox_url: str) -> AsyncIterator[StripeAdapter]:
    client = StripeAdapter(
        secret_key="sk_test_adapter",
        webhook_secret=SECRET,
        api_base=sandbox_url,
        timeout_seconds=5,
        max_network_retries=1,
    )
    yield client
    await client.close()


def _spec(**changes: Any) -> SessionSpec:
    values: dict[str, Any] = {
        "line_items": (LineItem("Elopement", 9_000), LineItem("Flowers", 1_000)),
        "currency": "usd",
        "customer_email": "ana@example.com",
        "client_reference_id": "bk_1",
        "metadata": {"tenant_id": str(uuid.uuid4()), "booking_id": "bk_1"},
        "expires_at": int(time.time()) + 3600,
        "success_url": "http://127.0.0.1:9/ok?s={CHECKOUT_SESSION_ID}",
        "cancel_url": "http://127.0.0.1:9/cancel",
        "destination_account": None,
        "application_fee_cents": None,
        "idempotency_key": f"test-{uuid.uuid4()}",
    }
    values.update(changes)
    return SessionSpec(**values)


def _pay(sandbox_url: str, session_id: str) -> None:
    answer = httpx.post(f"{sandbox_url}/_sandbox/sessions/{session_id}/pay", json={}, timeout=5)
    assert answer.status_code == 200, answer.text


def _onboard(sandbox_url: str, account: str) -> None:
    assert httpx.post(f"{sandbox_url}/_sandbox/accounts/{account}/onboard", timeout=5).status_code == 200


def _stripe_get(sandbox_url: str, path: str) -> dict[str, Any]:
    answer = httpx.get(f"{sandbox_url}{path}", auth=("sk_test_reader", ""), timeout=5)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _expire_now(sandbox_url: str, session_id: str) -> None:
    answer = httpx.post(f"{sandbox_url}/_sandbox/sessions/{session_id}/expire_now", timeout=5)
    assert answer.status_code == 200, answer.text


def _intent_of(sandbox_url: str, session_id: str) -> str:
    answer = httpx.get(
        f"{sandbox_url}/v1/checkout/sessions/{session_id}", auth=("sk_test_adapter", ""), timeout=5
    )
    return str(answer.json()["payment_intent"])


async def _onboarded_account(adapter: StripeAdapter, sandbox_url: str) -> str:
    account = await adapter.create_account(
        tenant_id=str(uuid.uuid4()), email="", idempotency_key=str(uuid.uuid4())
    )
    _onboard(sandbox_url, account)
    return account


async def test_the_same_idempotency_key_gives_the_same_session(adapter: StripeAdapter) -> None:
    spec = _spec()
    first = await adapter.create_checkout_session(spec)
    again = await adapter.create_checkout_session(spec)
    assert first.id == again.id and first.url == again.url
    assert first.expires_at == spec.expires_at


async def test_a_destination_charge_carries_the_commission_as_the_platform_fee(
    adapter: StripeAdapter, sandbox_url: str
) -> None:
    account = await _onboarded_account(adapter, sandbox_url)
    session = await adapter.create_checkout_session(
        _spec(destination_account=account, application_fee_cents=1_000)
    )
    _pay(sandbox_url, session.id)
    intent = _intent_of(sandbox_url, session.id)
    facts = await adapter.payment_facts(intent)
    assert (facts.amount_cents, facts.application_fee_cents, facts.destination_account) == (
        10_000,
        1_000,
        account,
    )
    assert facts.charge_id.startswith("ch_") and facts.application_fee_id


async def test_a_refund_and_our_fee_refund_are_listed_with_our_request_id(
    adapter: StripeAdapter, sandbox_url: str
) -> None:
    account = await _onboarded_account(adapter, sandbox_url)
    session = await adapter.create_checkout_session(
        _spec(destination_account=account, application_fee_cents=1_001)
    )
    _pay(sandbox_url, session.id)
    intent = _intent_of(sandbox_url, session.id)
    facts = await adapter.payment_facts(intent)
    assert facts.application_fee_id is not None
    metadata = {"refund_request_id": "req-1"}
    refund = await adapter.refund(
        payment_intent_id=intent,
        amount_cents=5_000,
        refund_application_fee=False,
        reverse_transfer=True,
        metadata=metadata,
        idempotency_key="refund-req-1",
    )
    fee_back = await adapter.refund_fee(
        application_fee_id=facts.application_fee_id,
        amount_cents=500,
        metadata=metadata,
        idempotency_key="fee-req-1",
    )
    assert (refund.amount_cents, refund.request_id, fee_back.amount_cents) == (5_000, "req-1", 500)
    assert [r.id for r in await adapter.refunds(intent)] == [refund.id]
    assert [
        (r.id, r.amount_cents, r.request_id) for r in await adapter.fee_refunds(facts.application_fee_id)
    ] == [(fee_back.id, 500, "req-1")]
    # Stripe refuses more than is left; the adapter says it definitely did nothing.
    with pytest.raises(PaymentProviderError) as refused:
        await adapter.refund(
            payment_intent_id=intent,
            amount_cents=5_001,
            refund_application_fee=False,
            reverse_transfer=True,
            metadata=metadata,
            idempotency_key="refund-req-2",
        )
    assert refused.value.definite and refused.value.reason == "PAYMENT_PROVIDER_ERROR"


async def test_a_webhook_verifies_only_on_its_exact_bytes_and_within_the_tolerance(
    adapter: StripeAdapter, sandbox_url: str, captured: tuple[Captured, str]
) -> None:
    session = await adapter.create_checkout_session(_spec())
    _pay(sandbox_url, session.id)
    body, signature = captured[0].wait_for("checkout.session.completed", session.id)
    event = adapter.verify_event(body, signature)
    assert event["data"]["object"]["id"] == session.id

    tampered = body.replace(b'"amount_total": 10000', b'"amount_total": 1')
    assert tampered != body
    with pytest.raises(InvalidSignature):
        adapter.verify_event(tampered, signature)
    stale = stripe.WebhookSignature.generate_signature_header(
        body.decode(), SECRET, timestamp=int(time.time()) - 301
    )
    with pytest.raises(InvalidSignature):
        adapter.verify_event(body, stale)
    other_secret = stripe.WebhookSignature.generate_signature_header(body.decode(), "whsec_someone_else")
    with pytest.raises(InvalidSignature):
        adapter.verify_event(body, other_secret)
    with pytest.raises(InvalidSignature):
        adapter.verify_event(body, "")


async def test_an_unreachable_stripe_is_an_unknown_outcome_not_a_refusal() -> None:
    client = StripeAdapter(
        secret_key="sk_test_x",
        webhook_secret=SECRET,
        api_base=f"http://127.0.0.1:{free_port()}",
        timeout_seconds=1,
        max_network_retries=0,
    )
    try:
        with pytest.raises(PaymentProviderError) as error:
            await client.create_checkout_session(_spec())
        assert not error.value.definite
    finally:
        await client.close()


async def test_connect_accounts_are_created_once_per_key_and_get_onboarding_links(
    adapter: StripeAdapter, sandbox_url: str
) -> None:
    tenant = str(uuid.uuid4())
    first = await adapter.create_account(tenant_id=tenant, email="", idempotency_key=f"k-{tenant}")
    again = await adapter.create_account(tenant_id=tenant, email="", idempotency_key=f"k-{tenant}")
    assert first == again
    url = await adapter.onboarding_link(account_id=first, refresh_url="http://x/r", return_url="http://x/ok")
    assert url.startswith(sandbox_url)
    assert (await adapter.account(first))["metadata"] == {"tenant_id": tenant}


# --- the payments service with its real peers ---------------------------------------------------

CREDENTIAL = (("x-mais-internal", INTERNAL_TOKEN),)


@dataclass
class Platform:
    """The four services as processes, and where the sandbox and the database are."""

    tenant: RunningService
    catalog: RunningService
    booking: RunningService
    payments: RunningService
    payments_env: dict[str, str]
    sandbox_url: str


@pytest.fixture(scope="module")
def platform(
    cluster: Cluster, sandbox_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    started: list[RunningService] = []
    try:
        tenant = spawn_service(
            cluster, "services.tenant", "tenant", tmp_path_factory.mktemp("pt"), FAST_ARGON2
        )
        started.append(tenant)
        peers = {"MAIS_TENANT_ADDR": tenant.address}
        catalog = spawn_service(cluster, "services.catalog", "catalog", tmp_path_factory.mktemp("pc"), peers)
        started.append(catalog)
        booking = spawn_service(
            cluster,
            "services.booking",
            "booking",
            tmp_path_factory.mktemp("pb"),
            {
                **peers,
                "MAIS_CATALOG_ADDR": catalog.address,
                "MAIS_TENANT_CACHE_SECONDS": "0",
                "MAIS_BOOKING_LINK_KEY": "payments-integration-link-key-0123456789abcdef",
                "MAIS_OUTBOX_POLL_SECONDS": "0.1",
            },
        )
        started.append(booking)
        payments_env = {
            **peers,
            "MAIS_CATALOG_ADDR": catalog.address,
            "MAIS_BOOKING_ADDR": booking.address,
            "STRIPE_SECRET_KEY": "sk_test_payments_integration",
            "STRIPE_WEBHOOK_SECRET": SECRET,
            "MAIS_STRIPE_API_BASE": sandbox_url,
            "MAIS_RPC_TIMEOUT_SECONDS": "10",
        }
        payments = spawn_service(
            cluster, "services.payments", "payments", tmp_path_factory.mktemp("pp"), payments_env
        )
        started.append(payments)
        yield Platform(tenant, catalog, booking, payments, payments_env, sandbox_url)
    finally:
        for service in reversed(started):
            service.stop()


class Stub:
    """A service stub whose calls carry the internal credential and a deadline."""

    def __init__(self, stub: Any) -> None:
        self._stub = stub

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._stub, name)

        async def call(request: Any) -> Any:
            return await method(request, metadata=CREDENTIAL, timeout=20)

        return call


@dataclass
class Clients:
    tenant: Any
    catalog: Any
    booking: Any
    payments: Any


@pytest.fixture
async def clients(platform: Platform) -> AsyncIterator[Clients]:
    channels = [
        grpc.aio.insecure_channel(s.address)
        for s in (platform.tenant, platform.catalog, platform.booking, platform.payments)
    ]
    yield Clients(
        Stub(tenant_grpc.TenantServiceStub(channels[0])),
        Stub(catalog_grpc.CatalogServiceStub(channels[1])),
        Stub(booking_grpc.BookingServiceStub(channels[2])),
        Stub(payments_grpc.PaymentsServiceStub(channels[3])),
    )
    for channel in channels:
        await channel.close()


@pytest.fixture
async def admin_db(cluster: Cluster) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(cluster.admin_url)
    yield conn
    await conn.close()


@dataclass
class Shop:
    """A tenant with one package (and one add-on) to sell."""

    tenant_id: str
    package_id: str
    add_on_id: str
    total_cents: int


async def make_shop(
    clients: Clients,
    platform: Platform,
    *,
    onboarded: bool = True,
    commission_bps: int = 1_000,
    price: int = 9_000,
    extra: int = 1_000,
) -> Shop:
    """A tenant with a package and an add-on; `onboarded`, with a Connect account the sandbox has
    onboarded and the tenant service records (checkout refuses a tenant that is not)."""
    slug = "pay-" + uuid.uuid4().hex[:10]
    created = await clients.tenant.CreateTenant(
        tenant_pb.CreateTenantRequest(
            slug=slug,
            name=f"Studio {slug}",
            commission_bps=commission_bps,
            admin_email=f"owner@{slug}.example.com",
            timezone="UTC",
            currency="usd",
        )
    )
    tenant_id = created.tenant.id
    package = (
        await clients.catalog.CreatePackage(
            catalog_pb.CreatePackageRequest(
                tenant_id=tenant_id,
                package=catalog_pb.Package(slug="garden", title="Garden", price_cents=price, active=True),
            )
        )
    ).package
    add_on = (
        await clients.catalog.CreateAddOn(
            catalog_pb.CreateAddOnRequest(
                tenant_id=tenant_id,
                add_on=catalog_pb.AddOn(
                    slug="flowers", title="Flowers", price_cents=extra, active=True, package_ids=[package.id]
                ),
            )
        )
    ).add_on
    if onboarded:
        account = _bare_account(platform.sandbox_url)
        _onboard(platform.sandbox_url, account)
        await clients.tenant.SetStripeAccount(
            tenant_pb.SetStripeAccountRequest(
                tenant_id=tenant_id,
                stripe_account_id=account,
                connect_state=tenant_pb.CONNECT_STATE_ONBOARDED,
            )
        )
    return Shop(tenant_id, package.id, add_on.id, price + extra)


async def onboard(clients: Clients, platform: Platform, captured: Captured, shop: Shop) -> str:
    """Connect onboarding through payments; the account.updated event makes the tenant ONBOARDED."""
    started = await clients.payments.StartConnectOnboarding(
        pb.StartConnectOnboardingRequest(tenant_id=shop.tenant_id)
    )
    account = started.stripe_account_id
    pending = (await clients.tenant.GetTenant(tenant_pb.GetTenantRequest(tenant_id=shop.tenant_id))).tenant
    assert (pending.stripe_account_id, pending.connect_state) == (account, tenant_pb.CONNECT_STATE_PENDING)
    _onboard(platform.sandbox_url, account)
    body, signature = captured.wait_for("account.updated", account)
    answer = await clients.payments.HandleStripeWebhook(
        pb.HandleStripeWebhookRequest(payload=body, signature_header=signature)
    )
    assert answer.status == pb.EVENT_STATUS_PROCESSED
    tenant = (await clients.tenant.GetTenant(tenant_pb.GetTenantRequest(tenant_id=shop.tenant_id))).tenant
    assert tenant.connect_state == tenant_pb.CONNECT_STATE_ONBOARDED
    return account


_day_offsets = itertools.count(40)


def a_free_day() -> str:
    """A future date no other test of this module uses."""
    return (datetime.now(UTC).date() + timedelta(days=next(_day_offsets))).isoformat()


def checkout_request(shop: Shop, day: str, n: int = 0, key: str = "") -> pb.StartCheckoutRequest:
    return pb.StartCheckoutRequest(
        tenant_id=shop.tenant_id,
        package_id=shop.package_id,
        add_on_ids=[shop.add_on_id],
        event_date=day,
        couple_name=f"Couple {n}",
        email=f"couple{n}@example.com",
        idempotency_key=key,
    )


def session_of(checkout_url: str) -> str:
    return checkout_url.rstrip("/").rsplit("/", 1)[-1]


async def paid(clients: Clients, platform: Platform, captured: Captured, answer: Any) -> tuple[bytes, str]:
    """Pays a checkout in the sandbox and returns its checkout.session.completed delivery."""
    session_id = session_of(answer.checkout_url)
    _pay(platform.sandbox_url, session_id)
    return captured.wait_for("checkout.session.completed", session_id)


async def deliver(clients: Clients, delivery: tuple[bytes, str]) -> Any:
    body, signature = delivery
    return await clients.payments.HandleStripeWebhook(
        pb.HandleStripeWebhookRequest(payload=body, signature_header=signature)
    )


async def ledger(clients: Clients, shop: Shop, booking_id: str) -> Any:
    answer = await clients.payments.GetLedger(
        pb.GetLedgerRequest(tenant_id=shop.tenant_id, booking_id=booking_id)
    )
    # The invariant every scenario ends in.
    assert answer.charged_cents >= answer.refunded_cents >= 0
    assert answer.fee_cents >= answer.fee_refunded_cents >= 0
    assert answer.net_to_tenant_cents == (answer.charged_cents - answer.refunded_cents) - (
        answer.fee_cents - answer.fee_refunded_cents
    )
    return answer


async def booking_of(clients: Clients, shop: Shop, booking_id: str) -> Any:
    return (
        await clients.booking.GetBooking(
            booking_pb.GetBookingRequest(tenant_id=shop.tenant_id, booking_id=booking_id)
        )
    ).booking


def reason(error: grpc.aio.AioRpcError) -> str:
    return from_rpc_error(error).reason


async def test_checkout_holds_the_date_and_opens_a_session_with_the_commission_as_the_platform_fee(
    clients: Clients, platform: Platform, captured: tuple[Captured, str]
) -> None:
    shop = await make_shop(
        clients, platform, onboarded=False, commission_bps=1_250, price=11_345, extra=1_000
    )
    account = await onboard(clients, platform, captured[0], shop)
    day = a_free_day()
    answer = await clients.payments.StartCheckout(checkout_request(shop, day))
    assert (answer.status, answer.total_cents, answer.currency) == (
        booking_pb.BOOKING_STATUS_HELD,
        12_345,
        "usd",
    )
    held = await booking_of(clients, shop, answer.booking_id)
    assert held.status == booking_pb.BOOKING_STATUS_HELD
    # The session closes on the hold's second (Stripe counts whole seconds), never after it.
    assert held.hold_expires_at.seconds == answer.expires_at.seconds
    assert answer.expires_at.nanos == 0
    assert held.payment_session_id == session_of(answer.checkout_url)
    session = _stripe_get(platform.sandbox_url, f"/v1/checkout/sessions/{held.payment_session_id}")
    assert session["metadata"] == {"tenant_id": shop.tenant_id, "booking_id": answer.booking_id}
    assert session["expires_at"] == answer.expires_at.seconds
    # A second couple is refused the held date before anyone pays.
    with pytest.raises(grpc.aio.AioRpcError) as taken:
        await clients.payments.StartCheckout(checkout_request(shop, day, n=2))
    assert reason(taken.value) == "DATE_UNAVAILABLE"

    await deliver(clients, await paid(clients, platform, captured[0], answer))
    books = await ledger(clients, shop, answer.booking_id)
    # 12.5 % of 123.45 is 15.43125: the platform's fee rounds up to 15.44.
    assert (books.charged_cents, books.fee_cents, books.net_to_tenant_cents) == (12_345, 1_544, 10_801)
    assert (await booking_of(clients, shop, answer.booking_id)).status == booking_pb.BOOKING_STATUS_CONFIRMED
    assert account


async def test_a_tenant_not_onboarded_is_refused_before_anything_is_held(
    clients: Clients, platform: Platform
) -> None:
    shop = await make_shop(clients, platform, onboarded=False)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await clients.payments.StartCheckout(checkout_request(shop, a_free_day()))
    assert (refused.value.code(), reason(refused.value)) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "TENANT_NOT_ONBOARDED",
    )
    listed = await clients.booking.ListBookings(booking_pb.ListBookingsRequest(tenant_id=shop.tenant_id))
    assert list(listed.bookings) == []


async def test_one_event_delivered_ten_times_at_once_confirms_once_and_charges_once(
    clients: Clients, platform: Platform, captured: tuple[Captured, str]
) -> None:
    shop = await make_shop(clients, platform, onboarded=False)
    await onboard(clients, platform, captured[0], shop)
    answer = await clients.payments.StartCheckout(checkout_request(shop, a_free_day()))
    delivery = await paid(clients, platform, captured[0], answer)
    results = await asyncio.gather(*(deliver(clients, delivery) for _ in range(10)))
    assert {r.status for r in results} == {pb.EVENT_STATUS_PROCESSED}
    assert len({r.event_id for r in results}) == 1
    books = await ledger(clients, shop, answer.booking_id)
    assert sorted(e.kind for e in books.entries) == ["application_fee", "charge"]
    assert (books.charged_cents, books.fee_cents) == (10_000, 1_000)
    events = (await clients.payments.ListEvents(pb.ListEventsRequest(tenant_id=shop.tenant_id))).events
    [completed] = [e for e in events if e.type == "checkout.session.completed"]
    # The work ran once: one attempt, however many deliveries raced.
    assert (completed.status, completed.attempts) == (pb.EVENT_STATUS_PROCESSED, 1)
    booking = await booking_of(clients, shop, answer.booking_id)
    assert (booking.status, booking.amount_paid_cents) == (booking_pb.BOOKING_STATUS_CONFIRMED, 10_000)


async def test_concurrent_checkouts_with_one_idempotency_key_make_one_hold_and_one_answer(
    clients: Clients, platform: Platform
) -> None:
    shop = await make_shop(clients, platform)
    day = a_free_day()
    key = f"key-{uuid.uuid4()}"
    answers = await asyncio.gather(
        *(clients.payments.StartCheckout(checkout_request(shop, day, key=key)) for _ in range(5))
    )
    assert len({(a.booking_id, a.checkout_url) for a in answers}) == 1
    listed = await clients.booking.ListBookings(booking_pb.ListBookingsRequest(tenant_id=shop.tenant_id))
    assert [b.id for b in listed.bookings] == [answers[0].booking_id]
    with pytest.raises(grpc.aio.AioRpcError) as reused:
        await clients.payments.StartCheckout(checkout_request(shop, day, n=1, key=key))
    assert reason(reused.value) == "IDEMPOTENCY_KEY_REUSED"


async def test_a_taken_date_is_refused_before_any_quote_and_its_holder_still_gets_the_hold_back(
    clients: Clients, platform: Platform
) -> None:
    shop = await make_shop(clients, platform)
    day = a_free_day()
    key = f"key-{uuid.uuid4()}"
    first = await clients.payments.StartCheckout(checkout_request(shop, day, key=key))
    # Another couple names a package that does not exist: the date is refused first, so no quote was
    # taken (catalog would have answered NOT_FOUND).
    unknown = checkout_request(shop, day, n=2)
    unknown.package_id = str(uuid.uuid4())
    with pytest.raises(grpc.aio.AioRpcError) as taken:
        await clients.payments.StartCheckout(unknown)
    assert reason(taken.value) == "DATE_UNAVAILABLE"
    # The keyed retry replays its answer; the same couple without a key resumes their hold.
    again = await clients.payments.StartCheckout(checkout_request(shop, day, key=key))
    assert (again.booking_id, again.checkout_url) == (first.booking_id, first.checkout_url)
    resumed = await clients.payments.StartCheckout(checkout_request(shop, day))
    assert resumed.booking_id == first.booking_id
    # A hold whose request id booking has seen is never refused on the glance: it is replayed.
    direct = booking_pb.HoldDateRequest(
        tenant_id=shop.tenant_id,
        event_date=a_free_day(),
        couple_name="Couple 3",
        email="couple3@example.com",
        package_id=shop.package_id,
        request_id=f"direct-{uuid.uuid4()}",
    )
    held = (await clients.booking.HoldDate(direct)).booking
    assert (held.quote.package_id, held.quote.total_cents) == (shop.package_id, 9_000)
    replayed = (await clients.booking.HoldDate(direct)).booking
    assert replayed.id == held.id
    # A crowd for that date at once: the holder's retry (same request id) and the same couple (same
    # email, another request) get the hold back; every other couple is refused.
    crowd = []
    for n in range(30):
        other = booking_pb.HoldDateRequest()
        other.CopyFrom(direct)
        other.request_id, other.email = f"crowd-{n}-{uuid.uuid4()}", f"crowd{n}@example.com"
        crowd.append(other)
    same_couple = booking_pb.HoldDateRequest()
    same_couple.CopyFrom(direct)
    same_couple.request_id = f"again-{uuid.uuid4()}"
    answers = await asyncio.gather(
        *(clients.booking.HoldDate(r) for r in [*crowd[:15], direct, same_couple, *crowd[15:]]),
        return_exceptions=True,
    )
    kept = [a for a in answers if not isinstance(a, BaseException)]
    refused = [reason(a) for a in answers if isinstance(a, grpc.aio.AioRpcError)]
    assert [a.booking.id for a in kept] == [held.id, held.id]
    assert refused == ["DATE_UNAVAILABLE"] * 30
    # On a free date the unknown package is the answer, and nothing is held for it.
    unknown.event_date = a_free_day()
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await clients.payments.StartCheckout(unknown)
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    listed = await clients.booking.ListBookings(booking_pb.ListBookingsRequest(tenant_id=shop.tenant_id))
    assert sorted(b.id for b in listed.bookings) == sorted([first.booking_id, held.id])


async def test_a_payment_whose_hold_was_lost_is_refunded_in_full_with_the_platform_fee(
    clients: Clients, platform: Platform, captured: tuple[Captured, str], admin_db: asyncpg.Connection
) -> None:
    shop = await make_shop(clients, platform, onboarded=False)
    await onboard(clients, platform, captured[0], shop)
    day = a_free_day()
    late = await clients.payments.StartCheckout(checkout_request(shop, day, n=1))
    # The first couple's hold runs out while their Checkout page is still open ...
    await admin_db.execute(
        "UPDATE booking.bookings SET hold_expires_at = now() - interval '1 minute' WHERE id = $1",
        late.booking_id,
    )
    # ... and a second couple takes the date and pays.
    second = await clients.payments.StartCheckout(checkout_request(shop, day, n=2))
    await deliver(clients, await paid(clients, platform, captured[0], second))
    # Then the first couple pays: their money goes back, fee included.
    result = await deliver(clients, await paid(clients, platform, captured[0], late))
    assert result.status == pb.EVENT_STATUS_PROCESSED
    books = await ledger(clients, shop, late.booking_id)
    assert (books.charged_cents, books.refunded_cents, books.fee_cents, books.fee_refunded_cents) == (
        10_000,
        10_000,
        1_000,
        1_000,
    )
    assert books.net_to_tenant_cents == 0
    assert (await booking_of(clients, shop, second.booking_id)).status == booking_pb.BOOKING_STATUS_CONFIRMED
    assert (await booking_of(clients, shop, late.booking_id)).status != booking_pb.BOOKING_STATUS_CONFIRMED


async def test_an_expired_session_releases_the_hold_and_frees_the_date(
    clients: Clients, platform: Platform, captured: tuple[Captured, str]
) -> None:
    shop = await make_shop(clients, platform)
    day = a_free_day()
    answer = await clients.payments.StartCheckout(checkout_request(shop, day))
    session_id = session_of(answer.checkout_url)
    _expire_now(platform.sandbox_url, session_id)
    result = await deliver(clients, captured[0].wait_for("checkout.session.expired", session_id))
    assert result.status == pb.EVENT_STATUS_PROCESSED
    assert (await booking_of(clients, shop, answer.booking_id)).status == booking_pb.BOOKING_STATUS_RELEASED
    again = await clients.payments.StartCheckout(checkout_request(shop, day, n=3))
    assert again.booking_id != answer.booking_id


async def test_partial_then_full_refund_split_the_fee_in_the_platforms_favour(
    clients: Clients, platform: Platform, captured: tuple[Captured, str]
) -> None:
    shop = await make_shop(clients, platform, onboarded=False, commission_bps=1_001, price=9_000, extra=1_000)
    await onboard(clients, platform, captured[0], shop)
    answer = await clients.payments.StartCheckout(checkout_request(shop, a_free_day()))
    await deliver(clients, await paid(clients, platform, captured[0], answer))
    assert (await ledger(clients, shop, answer.booking_id)).fee_cents == 1_001

    def cancel(choice: pb.RefundChoice, request_id: str) -> pb.CancelAndRefundRequest:
        return pb.CancelAndRefundRequest(
            tenant_id=shop.tenant_id,
            booking_id=answer.booking_id,
            reason="couple asked",
            refund=choice,
            actor="tenant_admin:u1",
            request_id=request_id,
        )

    partial = await clients.payments.CancelAndRefund(cancel(pb.RefundChoice(amount_cents=5_000), "r1"))
    # 5000 / 10000 of a 1001 fee is 500.5: the platform keeps the half cent.
    assert (partial.refunded_cents, partial.fee_refunded_cents, partial.status) == (
        5_000,
        500,
        booking_pb.BOOKING_STATUS_CANCELLED,
    )
    # The answer is the booking as the cancellation left it: no second call needed.
    assert (partial.booking.id, partial.booking.status) == (
        answer.booking_id,
        booking_pb.BOOKING_STATUS_CANCELLED,
    )
    assert partial.booking.history[-1].to_status == "CANCELLED"
    assert (await booking_of(clients, shop, answer.booking_id)).status == booking_pb.BOOKING_STATUS_CANCELLED
    # The same request again refunds nothing more.
    assert (
        await clients.payments.CancelAndRefund(cancel(pb.RefundChoice(amount_cents=5_000), "r1"))
    ).total_refunded_cents == 5_000
    with pytest.raises(grpc.aio.AioRpcError) as too_much:
        await clients.payments.CancelAndRefund(cancel(pb.RefundChoice(amount_cents=5_001), "r2"))
    assert reason(too_much.value) == "VALIDATION_ERROR"
    rest = await clients.payments.CancelAndRefund(cancel(pb.RefundChoice(full=True), "r3"))
    assert (rest.refunded_cents, rest.fee_refunded_cents, rest.total_refunded_cents) == (5_000, 501, 10_000)
    books = await ledger(clients, shop, answer.booking_id)
    assert (books.refunded_cents, books.fee_refunded_cents, books.net_to_tenant_cents) == (10_000, 1_001, 0)
    # Stripe agrees with the ledger, to the cent.
    [charge_id] = [e.stripe_object_id for e in books.entries if e.kind == "charge"]
    charge = _stripe_get(platform.sandbox_url, f"/v1/charges/{charge_id}")
    fee = _stripe_get(platform.sandbox_url, f"/v1/application_fees/{charge['application_fee']}")
    assert (charge["amount_refunded"], fee["amount_refunded"]) == (
        books.refunded_cents,
        books.fee_refunded_cents,
    )


async def test_concurrent_refunds_never_give_back_more_than_was_paid(
    clients: Clients, platform: Platform, captured: tuple[Captured, str]
) -> None:
    shop = await make_shop(clients, platform, onboarded=False)
    await onboard(clients, platform, captured[0], shop)
    answer = await clients.payments.StartCheckout(checkout_request(shop, a_free_day()))
    await deliver(clients, await paid(clients, platform, captured[0], answer))

    async def refund(n: int) -> int:
        try:
            done = await clients.payments.CancelAndRefund(
                pb.CancelAndRefundRequest(
                    tenant_id=shop.tenant_id,
                    booking_id=answer.booking_id,
                    refund=pb.RefundChoice(amount_cents=3_000),
                    actor="tenant_admin:u1",
                    request_id=f"concurrent-{n}",
                )
            )
        except grpc.aio.AioRpcError as error:
            assert reason(error) == "VALIDATION_ERROR", error
            return 0
        return int(done.refunded_cents)

    refunded = await asyncio.gather(*(refund(n) for n in range(6)))
    # 10000 paid: three refunds of 3000 fit, the others are refused.
    assert sorted(refunded) == [0, 0, 0, 3_000, 3_000, 3_000]
    books = await ledger(clients, shop, answer.booking_id)
    assert (books.refunded_cents, books.fee_refunded_cents) == (9_000, 900)


async def test_a_failed_event_is_processed_again_when_delivered_again(
    clients: Clients, platform: Platform, captured: tuple[Captured, str], tmp_path: Path
) -> None:
    shop = await make_shop(clients, platform)
    answer = await clients.payments.StartCheckout(checkout_request(shop, a_free_day()))
    delivery = await paid(clients, platform, captured[0], answer)
    platform.booking.process.stop(grace=15)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await deliver(clients, delivery)
        assert failed.value.code() == grpc.StatusCode.INTERNAL
        [event] = (
            await clients.payments.ListEvents(
                pb.ListEventsRequest(tenant_id=shop.tenant_id, status=pb.EVENT_STATUS_FAILED)
            )
        ).events
        assert (event.attempts, event.last_error) == (1, "AioRpcError:UNAVAILABLE")
        assert "@" not in event.last_error
        assert (
            await clients.payments.GetLedger(
                pb.GetLedgerRequest(tenant_id=shop.tenant_id, booking_id=answer.booking_id)
            )
        ).charged_cents == 0
    finally:
        platform.booking.process.start()
        wait_serving(platform.booking)
    # Stripe keeps delivering a failed event; the first deliveries after the restart may still find
    # the channel to booking reconnecting, and fail the same way.
    again = None
    for _ in range(50):
        try:
            again = await deliver(clients, delivery)
            break
        except grpc.aio.AioRpcError as error:
            assert error.code() == grpc.StatusCode.INTERNAL
            await asyncio.sleep(0.2)
    assert again is not None and again.status == pb.EVENT_STATUS_PROCESSED
    books = await ledger(clients, shop, answer.booking_id)
    assert books.charged_cents == 10_000
    assert (await booking_of(clients, shop, answer.booking_id)).status == booking_pb.BOOKING_STATUS_CONFIRMED


async def test_bad_signatures_are_refused_and_nothing_is_stored(
    clients: Clients, platform: Platform, captured: tuple[Captured, str]
) -> None:
    shop = await make_shop(clients, platform)
    answer = await clients.payments.StartCheckout(checkout_request(shop, a_free_day()))
    body, signature = await paid(clients, platform, captured[0], answer)
    tampered = body.replace(b'"amount_total": 10000', b'"amount_total": 100')
    stale = stripe.WebhookSignature.generate_signature_header(
        body.decode(), SECRET, timestamp=int(time.time()) - 400
    )
    for payload, header in ((tampered, signature), (body, stale), (body, "")):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await deliver(clients, (payload, header))
        assert reason(refused.value) == "INVALID_SIGNATURE"
    events = (await clients.payments.ListEvents(pb.ListEventsRequest(tenant_id=shop.tenant_id))).events
    assert events == []
    assert (await booking_of(clients, shop, answer.booking_id)).status == booking_pb.BOOKING_STATUS_HELD


def wait_serving(service: RunningService, timeout: float = 60.0) -> None:
    """Blocks until a restarted service answers its health check."""
    deadline = time.monotonic() + timeout
    while True:
        with grpc.insecure_channel(service.address) as channel:
            try:
                answer = health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(), timeout=0.5
                )
                if answer.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
        assert time.monotonic() < deadline, "the service did not come back"
        time.sleep(0.1)


async def test_a_session_stripe_refuses_releases_the_hold_so_no_orphan_blocks_the_date(
    clients: Clients, platform: Platform
) -> None:
    # 0.30 is under Stripe's minimum charge: the hold is made, then Stripe refuses the session.
    shop = await make_shop(clients, platform, price=20, extra=10)
    day = a_free_day()
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await clients.payments.StartCheckout(checkout_request(shop, day))
    assert reason(refused.value) == "PAYMENT_PROVIDER_ERROR"
    availability = await clients.booking.GetAvailability(
        booking_pb.GetAvailabilityRequest(tenant_id=shop.tenant_id, date=day)
    )
    assert availability.availability.available
    listed = await clients.booking.ListBookings(booking_pb.ListBookingsRequest(tenant_id=shop.tenant_id))
    assert [b.status for b in listed.bookings] == [booking_pb.BOOKING_STATUS_RELEASED]


def _bare_account(sandbox_url: str) -> str:
    """A connected account made outside MAIS: its metadata names no tenant."""
    answer = httpx.post(
        f"{sandbox_url}/v1/accounts", data={"type": "express"}, auth=("sk_test_x", ""), timeout=5
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["id"])


async def test_a_connected_accounts_event_is_attributed_through_the_tenant_that_owns_the_account(
    clients: Clients, platform: Platform, captured: tuple[Captured, str]
) -> None:
    shop = await make_shop(clients, platform, onboarded=False)
    account = _bare_account(platform.sandbox_url)
    await clients.tenant.SetStripeAccount(
        tenant_pb.SetStripeAccountRequest(
            tenant_id=shop.tenant_id, stripe_account_id=account, connect_state=tenant_pb.CONNECT_STATE_PENDING
        )
    )
    _onboard(platform.sandbox_url, account)
    result = await deliver(clients, captured[0].wait_for("account.updated", account))
    assert result.status == pb.EVENT_STATUS_PROCESSED
    tenant = (await clients.tenant.GetTenant(tenant_pb.GetTenantRequest(tenant_id=shop.tenant_id))).tenant
    assert tenant.connect_state == tenant_pb.CONNECT_STATE_ONBOARDED
    [event] = (await clients.payments.ListEvents(pb.ListEventsRequest(tenant_id=shop.tenant_id))).events
    assert (event.type, event.tenant_id) == ("account.updated", shop.tenant_id)

    stranger = _bare_account(platform.sandbox_url)
    _onboard(platform.sandbox_url, stranger)
    ignored = await deliver(clients, captured[0].wait_for("account.updated", stranger))
    # Nobody's account: acknowledged, and visible to the platform only.
    assert ignored.status == pb.EVENT_STATUS_IGNORED
    everyone = await clients.payments.ListAllEvents(pb.ListAllEventsRequest(status=pb.EVENT_STATUS_IGNORED))
    assert ignored.event_id in {e.id for e in everyone.events}


async def session_answer(clients: Clients, tenant_id: str, session_id: str) -> Any:
    return await clients.payments.GetCheckoutSession(
        pb.GetCheckoutSessionRequest(tenant_id=tenant_id, payment_session_id=session_id)
    )


async def test_a_checkout_session_names_its_booking_and_state_for_its_own_tenant_only(
    clients: Clients, platform: Platform, captured: tuple[Captured, str]
) -> None:
    shop = await make_shop(clients, platform, onboarded=False)
    await onboard(clients, platform, captured[0], shop)
    other = await make_shop(clients, platform)
    day = a_free_day()
    first = await clients.payments.StartCheckout(checkout_request(shop, day))
    first_session = session_of(first.checkout_url)
    opened = await session_answer(clients, shop.tenant_id, first_session)
    assert (opened.booking_id, opened.session_status) == (first.booking_id, pb.CHECKOUT_SESSION_STATUS_OPEN)
    # The same couple comes back with another choice: their hold gets a new session, and the one it
    # replaced is still theirs to look up (a return page may carry it), closed.
    again = checkout_request(shop, day)
    del again.add_on_ids[:]
    resumed = await clients.payments.StartCheckout(again)
    resumed_session = session_of(resumed.checkout_url)
    assert (resumed.booking_id, resumed_session != first_session) == (first.booking_id, True)
    replaced = await session_answer(clients, shop.tenant_id, first_session)
    assert (replaced.booking_id, replaced.session_status) == (
        first.booking_id,
        pb.CHECKOUT_SESSION_STATUS_EXPIRED,
    )
    await deliver(clients, await paid(clients, platform, captured[0], resumed))
    complete = await session_answer(clients, shop.tenant_id, resumed_session)
    assert (complete.booking_id, complete.session_status) == (
        first.booking_id,
        pb.CHECKOUT_SESSION_STATUS_COMPLETE,
    )
    for tenant_id, session_id in (
        (other.tenant_id, resumed_session),
        (other.tenant_id, first_session),
        (shop.tenant_id, "cs_test_" + uuid.uuid4().hex),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await session_answer(clients, tenant_id, session_id)
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND


async def test_an_idempotency_key_reused_with_other_return_pages_is_another_body(
    clients: Clients, platform: Platform
) -> None:
    shop = await make_shop(clients, platform)
    day = a_free_day()
    key = f"key-{uuid.uuid4()}"

    def with_pages(success: str) -> pb.StartCheckoutRequest:
        request = checkout_request(shop, day, key=key)
        request.success_url = success
        request.cancel_url = "https://platform.example/book/x/cancelled"
        return request

    first = await clients.payments.StartCheckout(with_pages("https://platform.example/book/x/done"))
    again = await clients.payments.StartCheckout(with_pages("https://platform.example/book/x/done"))
    assert again.checkout_url == first.checkout_url
    with pytest.raises(grpc.aio.AioRpcError) as reused:
        await clients.payments.StartCheckout(with_pages("https://platform.example/book/x/done?return=y"))
    assert reason(reused.value) == "IDEMPOTENCY_KEY_REUSED"
