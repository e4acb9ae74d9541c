"""Payments through the whole stack: Envoy → gateways → services → PostgreSQL, with the local Stripe
sandbox paying, expiring, refunding and delivering signed webhooks back through Envoy.

Every scenario ends by checking the ledger's invariant (charged - refunded = net paid; fee - fee
refunded = the platform's part; net to tenant = the difference) and that Stripe agrees with it."""

from __future__ import annotations

import asyncio
import email
import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import policy as email_policy
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import grpc
import httpx
import pytest
import stripe
from mais.catalog.v1 import catalog_service_pb2 as catalog_pb
from mais.catalog.v1 import catalog_service_pb2_grpc as catalog_grpc

from tests.e2e.conftest import MakeTenant, TenantHandle
from tools.stack.launcher import Stack

WAIT_SECONDS = 20.0


# --- helpers -----------------------------------------------------------------------------------


def wait_until(check: Callable[[], Any], what: str, timeout: float = WAIT_SECONDS) -> Any:
    """Polls until `check()` is truthy and returns it; fails the test after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@dataclass
class Shop:
    """A tenant with one package and one add-on on sale."""

    tenant: TenantHandle
    package_id: str
    add_on_id: str
    total_cents: int


class Sandbox:
    """The stack's Stripe sandbox: its API (as Stripe's) and its test controls."""

    def __init__(self, stack: Stack) -> None:
        self.url = stack.sandbox_url
        self.webhook_url = f"{stack.url}/v1/webhooks/stripe"
        self.http = httpx.Client(base_url=self.url, timeout=10.0, trust_env=False)

    def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        answer = self.http.request(method, path, json=body)
        assert answer.status_code < 300, answer.text
        return dict(answer.json())

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        answer = self.http.get(path, params=params, auth=("sk_test_e2e", ""))
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def pay(self, checkout_url: str) -> None:
        # The hosted page's own form target, as a script would post it.
        answer = self.http.post(f"{checkout_url}/pay", headers={"Accept": "application/json"})
        assert answer.status_code == 200, answer.text

    def event_for(self, event_type: str, object_id: str) -> str:
        """The id of the event of `event_type` about `object_id`."""

        def find() -> str | None:
            # Newest first, page by page: the session's sandbox holds more than one page of events.
            after: dict[str, str] = {}
            for _ in range(100):
                listed = self.get("/v1/events", type=event_type, limit=100, **after)
                for event in listed["data"]:
                    if event["data"]["object"]["id"] == object_id:
                        return str(event["id"])
                if not listed["has_more"] or not listed["data"]:
                    return None
                after = {"starting_after": listed["data"][-1]["id"]}
            return None

        return str(wait_until(find, f"{event_type} for {object_id}"))

    def deliveries(self, event_id: str) -> list[dict[str, Any]]:
        return list(self.control("GET", f"/_sandbox/deliveries?event_id={event_id}")["deliveries"])


@pytest.fixture(scope="module")
def sandbox(stack: Stack) -> Iterator[Sandbox]:
    running = Sandbox(stack)
    yield running
    running.http.close()


def session_of(checkout_url: str) -> str:
    return checkout_url.rstrip("/").rsplit("/", 1)[-1]


def make_shop(
    stack: Stack, make_tenant: MakeTenant, *, percent: float = 10, price: int = 9_000, onboarded: bool = True
) -> Shop:
    """A tenant with a package and an add-on, Connect-onboarded unless `onboarded=False`. The catalog is
    set up over its gRPC port (as the platform's own tools would); everything under test goes through
    Envoy."""
    tenant = make_tenant("pay", commission_percent=percent, onboarded=onboarded)
    with grpc.insecure_channel(f"127.0.0.1:{stack.ports.catalog}") as channel:
        stub = catalog_grpc.CatalogServiceStub(channel)
        metadata = (("x-mais-internal", stack.internal_token),)
        package = stub.CreatePackage(
            catalog_pb.CreatePackageRequest(
                tenant_id=tenant.id,
                package=catalog_pb.Package(slug="garden", title="Garden day", price_cents=price, active=True),
            ),
            metadata=metadata,
            timeout=10,
        ).package
        add_on = stub.CreateAddOn(
            catalog_pb.CreateAddOnRequest(
                tenant_id=tenant.id,
                add_on=catalog_pb.AddOn(
                    slug="flowers", title="Flowers", price_cents=1_000, active=True, package_ids=[package.id]
                ),
            ),
            metadata=metadata,
            timeout=10,
        ).add_on
    return Shop(tenant, package.id, add_on.id, price + 1_000)


def connect(http: httpx.Client, sandbox: Sandbox, shop: Shop) -> str:
    """Connect onboarding: an account and a link from payments, onboarding in the sandbox, and the
    account.updated webhook coming back through Envoy makes the tenant onboarded."""
    headers = shop.tenant.admin_headers()
    started = http.post("/v1/tenant-admin/stripe/connect", headers=headers)
    assert started.status_code == 200, started.text
    account = started.json()["stripeAccountId"]
    assert started.json()["onboardingUrl"].startswith(sandbox.url)
    assert http.get("/v1/tenant-admin/stripe/connect", headers=headers).json()["connectState"] == "pending"
    sandbox.control("POST", f"/_sandbox/accounts/{account}/onboard")
    wait_until(
        lambda: (
            http.get("/v1/tenant-admin/stripe/connect", headers=headers).json()["connectState"] == "onboarded"
        ),
        "onboarding to be recorded",
    )
    return str(account)


_days = iter(range(60, 100_000))


def a_free_day() -> str:
    """A date no other payments test uses."""
    return (datetime.now(UTC).date() + timedelta(days=next(_days))).isoformat()


def checkout(
    http: httpx.Client, shop: Shop, day: str, *, email_address: str = "", key: str = "", **more: Any
) -> httpx.Response:
    headers = shop.tenant.public_headers()
    if key:
        headers["Idempotency-Key"] = key
    body = {
        "packageId": shop.package_id,
        "addOnIds": [shop.add_on_id],
        "eventDate": day,
        "coupleName": "Ana & Bo",
        "email": email_address or f"couple-{uuid.uuid4().hex[:10]}@example.com",
        **more,
    }
    return http.post("/v1/bookings/checkout", json=body, headers=headers)


def started(http: httpx.Client, shop: Shop, day: str, **more: Any) -> dict[str, Any]:
    answer = checkout(http, shop, day, **more)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def booking_of(http: httpx.Client, shop: Shop, booking_id: str) -> dict[str, Any]:
    answer = http.get(f"/v1/tenant-admin/bookings/{booking_id}", headers=shop.tenant.admin_headers())
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def status_becomes(http: httpx.Client, shop: Shop, booking_id: str, status: str) -> dict[str, Any]:
    return dict(
        wait_until(
            lambda: (b := booking_of(http, shop, booking_id))["status"] == status and b,
            f"booking {booking_id} to be {status}",
        )
    )


def ledger(http: httpx.Client, sandbox: Sandbox, shop: Shop, booking_id: str) -> dict[str, Any]:
    """The booking's ledger, checked against its invariant and against Stripe: every payment's charge
    and platform fee (a deposit and a balance are two), each with what was refunded of it."""
    answer = http.get(f"/v1/tenant-admin/bookings/{booking_id}/ledger", headers=shop.tenant.admin_headers())
    assert answer.status_code == 200, answer.text
    body = dict(answer.json())
    t = body["totals"]
    assert t["netPaidCents"] == t["chargedCents"] - t["refundedCents"] >= 0
    assert t["platformFeeCents"] == t["feeCents"] - t["feeRefundedCents"] >= 0
    assert t["netToTenantCents"] == t["netPaidCents"] - t["platformFeeCents"] >= 0
    for kind, total in (("charge", "chargedCents"), ("refund", "refundedCents")):
        assert sum(e["amountCents"] for e in body["entries"] if e["kind"] == kind) == t[total]
    stripe = [0, 0, 0, 0]  # charged, refunded, fee, fee refunded
    for entry in body["entries"]:
        if entry["kind"] != "charge":
            continue
        charge = sandbox.get(f"/v1/charges/{entry['stripeObjectId']}")
        assert charge["amount"] == entry["amountCents"]
        stripe[0] += charge["amount"]
        stripe[1] += charge["amount_refunded"]
        if charge["application_fee"]:
            fee = sandbox.get(f"/v1/application_fees/{charge['application_fee']}")
            stripe[2] += fee["amount"]
            stripe[3] += fee["amount_refunded"]
    assert stripe == [t["chargedCents"], t["refundedCents"], t["feeCents"], t["feeRefundedCents"]]
    return body


def mail_to(stack: Stack, address: str, subject_part: str) -> email.message.EmailMessage:
    """The message the outbox wrote to `address` whose subject contains `subject_part`."""
    folder = Path(stack.data_dir) / "mail"

    def find() -> email.message.EmailMessage | None:
        for path in folder.glob("*.eml"):
            message = email.message_from_bytes(path.read_bytes(), policy=email_policy.default)
            if address in str(message["To"]) and subject_part in str(message["Subject"]):
                assert isinstance(message, email.message.EmailMessage)
                return message
        return None

    found = wait_until(find, f"mail to {address} about {subject_part!r}")
    assert isinstance(found, email.message.EmailMessage)
    return found


def text_of(message: email.message.EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def events_of(http: httpx.Client, shop: Shop, **params: Any) -> list[dict[str, Any]]:
    answer = http.get("/v1/tenant-admin/payments/events", params=params, headers=shop.tenant.admin_headers())
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


def error_of(answer: httpx.Response) -> tuple[int, str, list[str]]:
    body = answer.json()
    return answer.status_code, body["error"], [f["field"] for f in body.get("fields", [])]


@pytest.fixture
def shop(stack: Stack, make_tenant: MakeTenant) -> Shop:
    return make_shop(stack, make_tenant)


# --- checkout ----------------------------------------------------------------------------------


def test_a_paid_checkout_confirms_the_booking_records_charge_and_fee_and_emails_a_working_link(
    http: httpx.Client, stack: Stack, sandbox: Sandbox, make_tenant: MakeTenant
) -> None:
    shop = make_shop(stack, make_tenant, percent=12.5, price=11_345, onboarded=False)
    account = connect(http, sandbox, shop)
    couple = f"ana-{uuid.uuid4().hex[:8]}@example.com"
    day = a_free_day()
    answer = started(http, shop, day, email_address=couple)
    assert (answer["status"], answer["totalCents"], answer["currency"]) == ("HELD", 12_345, "usd")
    assert answer["expiresAt"].endswith("Z")
    session = sandbox.get(f"/v1/checkout/sessions/{session_of(answer['checkoutUrl'])}")
    assert session["url"] == answer["checkoutUrl"]
    assert session["metadata"] == {"tenant_id": shop.tenant.id, "booking_id": answer["bookingId"]}
    assert session["expires_at"] == int(datetime.fromisoformat(answer["expiresAt"]).timestamp())
    # A second couple is turned away before paying.
    assert error_of(checkout(http, shop, day))[:2] == (409, "DATE_UNAVAILABLE")

    sandbox.pay(answer["checkoutUrl"])
    confirmed = status_becomes(http, shop, answer["bookingId"], "CONFIRMED")
    assert confirmed["amountPaidCents"] == 12_345
    books = ledger(http, sandbox, shop, answer["bookingId"])
    # 12.5 % of 123.45 is 15.43125: the platform's fee rounds up.
    assert books["totals"] == {
        "chargedCents": 12_345,
        "feeCents": 1_544,
        "refundedCents": 0,
        "feeRefundedCents": 0,
        "netPaidCents": 12_345,
        "platformFeeCents": 1_544,
        "netToTenantCents": 10_801,
    }
    intent = sandbox.get(f"/v1/checkout/sessions/{session['id']}")["payment_intent"]
    assert sandbox.get(f"/v1/payment_intents/{intent}")["transfer_data"] == {"destination": account}

    link = re.search(r"(http\S+/booking/\S+)", text_of(mail_to(stack, couple, "confirmed")))
    assert link is not None
    parts = urlsplit(link.group(1))
    assert (f"{parts.scheme}://{parts.netloc}", parts.path) == (stack.url, f"/booking/{answer['bookingId']}")
    # The manage page reads the booking with the link's own token.
    opened = http.get(f"/v1/bookings/{answer['bookingId']}?{parts.query}")
    assert opened.status_code == 200, opened.text
    assert (opened.json()["id"], opened.json()["status"]) == (answer["bookingId"], "CONFIRMED")


def test_a_tenant_not_onboarded_on_connect_cannot_take_a_checkout_and_nothing_is_held(
    http: httpx.Client, stack: Stack, sandbox: Sandbox, make_tenant: MakeTenant
) -> None:
    shop = make_shop(stack, make_tenant, onboarded=False)
    day = a_free_day()
    public = shop.tenant.public_headers()
    refused = checkout(http, shop, day)
    assert error_of(refused)[:2] == (409, "TENANT_NOT_ONBOARDED")
    assert http.get("/v1/availability", params={"date": day}, headers=public).json()["available"] is True
    listed = http.get("/v1/tenant-admin/bookings", headers=shop.tenant.admin_headers())
    assert listed.status_code == 200 and listed.json()["items"] == []
    # Halfway through onboarding is not enough either; once Stripe can pay the tenant, it sells.
    started_onboarding = http.post("/v1/tenant-admin/stripe/connect", headers=shop.tenant.admin_headers())
    assert started_onboarding.status_code == 200, started_onboarding.text
    assert error_of(checkout(http, shop, day))[:2] == (409, "TENANT_NOT_ONBOARDED")
    connect(http, sandbox, shop)
    assert started(http, shop, day)["status"] == "HELD"


def test_the_answer_the_stored_payment_the_stripe_session_and_the_hold_expire_at_the_same_instant(
    http: httpx.Client, stack: Stack, sandbox: Sandbox, shop: Shop
) -> None:
    answer = started(http, shop, a_free_day())
    expires = datetime.fromisoformat(answer["expiresAt"])
    session = sandbox.get(f"/v1/checkout/sessions/{session_of(answer['checkoutUrl'])}")
    hold = datetime.fromisoformat(booking_of(http, shop, answer["bookingId"])["holdExpiresAt"])
    stored = asyncio.run(_stored_payment_expiry(stack, session["id"]))
    # Stripe counts whole seconds, so the session closes on the hold's second, never after it: a
    # couple can never be charged for a date that is no longer held.
    assert session["expires_at"] == int(expires.timestamp()) == int(hold.timestamp())
    assert expires == stored
    assert expires <= hold < expires + timedelta(seconds=1)
    # Stripe's minimum: the session lives at least 30 minutes.
    assert session["expires_at"] - session["created"] >= 30 * 60


async def _stored_payment_expiry(stack: Stack, session_id: str) -> datetime:
    conn = await asyncpg.connect(stack.admin_database_url)
    try:
        value = await conn.fetchval(
            "SELECT expires_at FROM payments.payments WHERE session_id = $1", session_id
        )
    finally:
        await conn.close()
    assert isinstance(value, datetime)
    return value


def test_a_lapsed_hold_is_released_and_its_session_closed_so_no_late_payment_can_start(
    http: httpx.Client, stack: Stack, sandbox: Sandbox, shop: Shop
) -> None:
    day = a_free_day()
    answer = started(http, shop, day)
    session_id = session_of(answer["checkoutUrl"])
    # Time passes past the hold (and its session, which ends with it) while the couple's page is open.
    asyncio.run(_lapse(stack, answer["bookingId"], session_id))
    # Within a minute, with nothing from Stripe: the session is closed and the date free again.
    wait_until(
        lambda: sandbox.get(f"/v1/checkout/sessions/{session_id}")["status"] == "expired",
        "the lapsed session to be expired at Stripe",
        timeout=60,
    )
    released = status_becomes(http, shop, answer["bookingId"], "RELEASED")
    assert released["holdExpiresAt"] is None
    history = booking_of(http, shop, answer["bookingId"])["history"]
    assert history[-1]["to"] == "RELEASED"
    assert (
        sandbox.http.post(f"{answer['checkoutUrl']}/pay", headers={"Accept": "application/json"}).status_code
        >= 400
    )
    held = http.get(
        "/v1/tenant-admin/bookings", params={"status": "HELD"}, headers=shop.tenant.admin_headers()
    )
    assert answer["bookingId"] not in {b["id"] for b in held.json()["items"]}
    assert started(http, shop, day)["bookingId"] != answer["bookingId"]


async def _lapse(stack: Stack, booking_id: str, session_id: str) -> None:
    conn = await asyncpg.connect(stack.admin_database_url)
    try:
        await conn.execute(
            "UPDATE booking.bookings SET hold_expires_at = now() - interval '1 second' WHERE id = $1",
            booking_id,
        )
        await conn.execute(
            "UPDATE payments.payments SET expires_at = now() - interval '1 second' WHERE session_id = $1",
            session_id,
        )
    finally:
        await conn.close()


def test_the_same_idempotency_key_and_body_get_the_same_answer_and_another_body_409(
    http: httpx.Client, stack: Stack, shop: Shop
) -> None:
    day, key, couple = a_free_day(), f"key-{uuid.uuid4()}", f"c-{uuid.uuid4().hex[:8]}@example.com"

    def attempt(_: int) -> httpx.Response:
        # Each its own connection: the requests land on both gateways, at the same time.
        with httpx.Client(base_url=stack.url, timeout=15.0) as client:
            return checkout(client, shop, day, email_address=couple, key=key)

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(attempt, range(4)))
    assert [a.status_code for a in answers] == [201] * 4, [a.text for a in answers]
    assert len({a.text for a in answers}) == 1
    listed = http.get("/v1/tenant-admin/bookings", headers=shop.tenant.admin_headers()).json()["items"]
    assert [b["id"] for b in listed] == [answers[0].json()["bookingId"]]
    assert checkout(http, shop, day, email_address=couple, key=key).json() == answers[0].json()
    reused = checkout(http, shop, a_free_day(), email_address=couple, key=key)
    assert error_of(reused)[:2] == (409, "IDEMPOTENCY_KEY_REUSED")
    # Another key from the same couple resumes their hold; another couple finds the date held.
    resumed = checkout(http, shop, day, email_address=couple, key=f"{key}-2")
    assert resumed.status_code == 201, resumed.text
    assert resumed.json()["bookingId"] == answers[0].json()["bookingId"]
    assert error_of(checkout(http, shop, day, key=f"{key}-3"))[:2] == (409, "DATE_UNAVAILABLE")


def test_a_bad_checkout_is_refused_naming_the_fields_and_holds_nothing(
    http: httpx.Client, shop: Shop
) -> None:
    day = a_free_day()
    bad = http.post(
        "/v1/bookings/checkout",
        json={"packageId": shop.package_id, "eventDate": "31/12/2031", "coupleName": "", "email": "nope"},
        headers=shop.tenant.public_headers(),
    )
    assert error_of(bad)[0:2] == (400, "VALIDATION_ERROR")
    assert set(error_of(bad)[2]) == {"eventDate", "coupleName", "email"}
    priced = checkout(http, shop, day, totalCents=1)
    assert error_of(priced)[:2] == (400, "VALIDATION_ERROR")
    assert error_of(checkout(http, shop, day, packageId="pkg_unknown"))[:2] == (404, "NOT_FOUND")
    no_key = http.post("/v1/bookings/checkout", json={})
    assert error_of(no_key)[:2] == (401, "TENANT_KEY_REQUIRED")
    free = http.get("/v1/availability", params={"date": day}, headers=shop.tenant.public_headers()).json()
    assert free["available"] is True


# --- the webhook inbox -------------------------------------------------------------------------


def test_the_same_event_delivered_ten_times_at_once_makes_one_booking_and_one_charge(
    http: httpx.Client, stack: Stack, sandbox: Sandbox, make_tenant: MakeTenant
) -> None:
    shop = make_shop(stack, make_tenant)
    answer = started(http, shop, a_free_day())
    session_id = session_of(answer["checkoutUrl"])
    sandbox.control("POST", "/_sandbox/hold_deliveries")
    try:
        sandbox.pay(answer["checkoutUrl"])
        event_id = sandbox.event_for("checkout.session.completed", session_id)
        attempts = sandbox.control(
            "POST", f"/_sandbox/events/{event_id}/deliver", {"times": 10, "concurrent": True}
        )["attempts"]
    finally:
        sandbox.control("POST", "/_sandbox/release_deliveries")
    assert [a["status_code"] for a in attempts] == [200] * 10
    status_becomes(http, shop, answer["bookingId"], "CONFIRMED")
    books = ledger(http, sandbox, shop, answer["bookingId"])
    assert sorted(e["kind"] for e in books["entries"]) == ["application_fee", "charge"]
    [event] = [e for e in events_of(http, shop) if e["stripeEventId"] == event_id]
    # However many deliveries raced, the work ran once.
    assert (event["status"], event["attempts"], event["bookingId"]) == ("PROCESSED", 1, answer["bookingId"])
    listed = http.get("/v1/tenant-admin/bookings", headers=shop.tenant.admin_headers()).json()["items"]
    assert [b["id"] for b in listed] == [answer["bookingId"]]


def test_booking_killed_mid_webhook_answers_500_and_stripes_retry_after_restart_books_exactly_once(
    http: httpx.Client, stack: Stack, sandbox: Sandbox, shop: Shop
) -> None:
    day = a_free_day()
    answer = started(http, shop, day)
    stack.kill("booking")
    try:
        sandbox.pay(answer["checkoutUrl"])
        event_id = sandbox.event_for("checkout.session.completed", session_of(answer["checkoutUrl"]))
        first = wait_until(
            lambda: [d for d in sandbox.deliveries(event_id) if d["status_code"] == 500], "a failed delivery"
        )[0]
        assert json.loads(first["response_body"])["error"] == "INTERNAL"
        [failed] = [e for e in events_of(http, shop, status="FAILED") if e["stripeEventId"] == event_id]
        assert failed["lastError"] == "AioRpcError:UNAVAILABLE"
        assert ledger(http, sandbox, shop, answer["bookingId"])["totals"]["chargedCents"] == 0
    finally:
        stack.start_process("booking")
    wait_until(
        lambda: [d for d in sandbox.deliveries(event_id) if d["status_code"] == 200], "a retry that works"
    )
    codes = [d["status_code"] for d in sandbox.deliveries(event_id)]
    assert codes[0] == 500 and codes[-1] == 200 and codes.count(200) == 1
    status_becomes(http, shop, answer["bookingId"], "CONFIRMED")
    listed = http.get(
        "/v1/tenant-admin/bookings", params={"from": day, "to": day}, headers=shop.tenant.admin_headers()
    )
    assert listed.status_code == 200, listed.text
    assert [(b["id"], b["status"]) for b in listed.json()["items"]] == [(answer["bookingId"], "CONFIRMED")]
    books = ledger(http, sandbox, shop, answer["bookingId"])
    assert sorted(e["kind"] for e in books["entries"]) == ["application_fee", "charge"]
    [event] = [e for e in events_of(http, shop) if e["stripeEventId"] == event_id]
    assert event["status"] == "PROCESSED" and event["attempts"] >= 2 and event["lastError"] is None


def test_a_failed_event_is_replayed_from_the_admin_api_and_only_by_its_tenant(
    http: httpx.Client,
    stack: Stack,
    sandbox: Sandbox,
    shop: Shop,
    make_tenant: MakeTenant,
    platform_token: str,
) -> None:
    answer = started(http, shop, a_free_day())
    stack.kill("booking")
    try:
        sandbox.pay(answer["checkoutUrl"])
        event_id = sandbox.event_for("checkout.session.completed", session_of(answer["checkoutUrl"]))
        wait_until(lambda: [d for d in sandbox.deliveries(event_id) if d["status_code"] == 500], "a failure")
        # Stripe gives up on this endpoint for now: only the admin's replay can settle the event.
        sandbox.control("POST", "/_sandbox/webhook", {"url": None})
    finally:
        stack.start_process("booking")
    try:
        [dead] = [e for e in events_of(http, shop, status="FAILED") if e["stripeEventId"] == event_id]
        everyone = http.get(
            "/v1/admin/payments/events",
            params={"status": "FAILED", "limit": 100},
            headers={"Authorization": f"Bearer {platform_token}"},
        )
        assert dead["id"] in {e["id"] for e in everyone.json()["items"]}
        stranger = make_tenant("other", onboarded=False)
        assert dead["id"] not in {e["id"] for e in events_of(http, Shop(stranger, "", "", 0))}
        foreign = http.post(
            f"/v1/tenant-admin/payments/events/{dead['id']}/replay", headers=stranger.admin_headers()
        )
        assert error_of(foreign)[:2] == (404, "NOT_FOUND")

        replayed = wait_until(
            lambda: (
                (
                    r := http.post(
                        f"/v1/tenant-admin/payments/events/{dead['id']}/replay",
                        headers=shop.tenant.admin_headers(),
                    )
                ).status_code
                == 200
                and r.json()["status"] == "PROCESSED"
                and r
            ),
            "the replay to succeed once booking is back",
        )
        assert replayed.json()["attempts"] >= 2
        status_becomes(http, shop, answer["bookingId"], "CONFIRMED")
        assert ledger(http, sandbox, shop, answer["bookingId"])["totals"]["chargedCents"] == 10_000
        again = http.post(
            f"/v1/tenant-admin/payments/events/{dead['id']}/replay", headers=shop.tenant.admin_headers()
        )
        assert error_of(again)[:2] == (409, "FAILED_PRECONDITION")
        assert events_of(http, shop, status="FAILED") == []
    finally:
        sandbox.control("POST", "/_sandbox/webhook", {"url": sandbox.webhook_url})


def test_a_tampered_body_or_a_stale_timestamp_is_refused_and_nothing_is_stored(
    http: httpx.Client, sandbox: Sandbox, shop: Shop, stack: Stack, platform_token: str
) -> None:
    answer = started(http, shop, a_free_day())
    session = sandbox.get(f"/v1/checkout/sessions/{session_of(answer['checkoutUrl'])}")
    forged_id = f"evt_forged_{uuid.uuid4().hex}"
    event = {
        "id": forged_id,
        "object": "event",
        "type": "checkout.session.completed",
        "created": int(time.time()),
        "data": {
            "object": {**session, "status": "complete", "payment_status": "paid", "payment_intent": "pi_x"}
        },
    }
    body = json.dumps(event)
    signed = stripe.WebhookSignature.generate_signature_header(body, stack.options.webhook_secret)
    tampered = body.replace('"paid"', '"paid" ')
    stale = stripe.WebhookSignature.generate_signature_header(
        body, stack.options.webhook_secret, timestamp=int(time.time()) - 301
    )
    for payload, header in ((tampered, signed), (body, stale), (body, ""), (body, "t=1,v1=00")):
        refused = http.post(
            "/v1/webhooks/stripe",
            content=payload.encode(),
            headers={"Stripe-Signature": header, "Content-Type": "application/json"},
        )
        assert error_of(refused)[:2] == (400, "INVALID_SIGNATURE"), refused.text
    stored = http.get(
        "/v1/admin/payments/events",
        params={"limit": 100},
        headers={"Authorization": f"Bearer {platform_token}"},
    ).json()["items"]
    assert forged_id not in {e["stripeEventId"] for e in stored}
    assert booking_of(http, shop, answer["bookingId"])["status"] == "HELD"


def test_an_expired_session_frees_the_date_again(http: httpx.Client, sandbox: Sandbox, shop: Shop) -> None:
    day = a_free_day()
    answer = started(http, shop, day)
    public = shop.tenant.public_headers()
    assert http.get("/v1/availability", params={"date": day}, headers=public).json()["reason"] == "held"
    sandbox.control("POST", f"/_sandbox/sessions/{session_of(answer['checkoutUrl'])}/expire_now")
    wait_until(
        lambda: http.get("/v1/availability", params={"date": day}, headers=public).json()["available"],
        "the date to be free",
    )
    assert booking_of(http, shop, answer["bookingId"])["status"] == "RELEASED"
    again = started(http, shop, day)
    assert again["bookingId"] != answer["bookingId"]


def test_a_payment_for_a_lost_hold_is_refunded_in_full_automatically_and_the_couple_told(
    http: httpx.Client, stack: Stack, sandbox: Sandbox, make_tenant: MakeTenant
) -> None:
    shop = make_shop(stack, make_tenant)
    day = a_free_day()
    late_couple = f"late-{uuid.uuid4().hex[:8]}@example.com"
    late = started(http, shop, day, email_address=late_couple)
    # The first couple's hold runs out while their Checkout page is still open (as after 30 minutes):
    asyncio.run(_expire_hold(stack, late["bookingId"]))
    # a second couple takes the date and pays,
    second = started(http, shop, day)
    sandbox.pay(second["checkoutUrl"])
    status_becomes(http, shop, second["bookingId"], "CONFIRMED")
    # then the first couple pays too: their money goes back in full, the platform's fee included.
    sandbox.pay(late["checkoutUrl"])
    books = wait_until(
        lambda: (
            (b := ledger(http, sandbox, shop, late["bookingId"]))["totals"]["refundedCents"] == 10_000 and b
        ),
        "the automatic refund",
    )
    assert books["totals"] == {
        "chargedCents": 10_000,
        "feeCents": 1_000,
        "refundedCents": 10_000,
        "feeRefundedCents": 1_000,
        "netPaidCents": 0,
        "platformFeeCents": 0,
        "netToTenantCents": 0,
    }
    assert booking_of(http, shop, late["bookingId"])["status"] != "CONFIRMED"
    assert booking_of(http, shop, second["bookingId"])["status"] == "CONFIRMED"
    told = mail_to(stack, late_couple, "no longer available")
    assert "refund" in text_of(told).lower()


async def _expire_hold(stack: Stack, booking_id: str) -> None:
    conn = await asyncpg.connect(stack.admin_database_url)
    try:
        await conn.execute(
            "UPDATE booking.bookings SET hold_expires_at = now() - interval '1 minute' WHERE id = $1",
            booking_id,
        )
    finally:
        await conn.close()


# --- refunds -----------------------------------------------------------------------------------


def test_a_partial_then_a_full_refund_split_the_platform_fee_in_its_favour_and_free_the_date(
    http: httpx.Client, stack: Stack, sandbox: Sandbox, make_tenant: MakeTenant
) -> None:
    shop = make_shop(stack, make_tenant, percent=10.01)
    couple = f"refund-{uuid.uuid4().hex[:8]}@example.com"
    day = a_free_day()
    answer = started(http, shop, day, email_address=couple)
    sandbox.pay(answer["checkoutUrl"])
    status_becomes(http, shop, answer["bookingId"], "CONFIRMED")
    assert ledger(http, sandbox, shop, answer["bookingId"])["totals"]["feeCents"] == 1_001
    admin = shop.tenant.admin_headers()
    cancel = f"/v1/tenant-admin/bookings/{answer['bookingId']}/cancel"

    partial = http.post(
        cancel,
        json={"reason": "Rain", "refund": {"amountCents": 5_000}},
        headers={**admin, "Idempotency-Key": "r1"},
    )
    assert partial.status_code == 200, partial.text
    # Half of a 10.01 fee is 5.005: 5.00 goes back, the platform keeps the rounding.
    assert partial.json()["refund"] == {
        "refundedCents": 5_000,
        "totalRefundedCents": 5_000,
        "feeRefundedCents": 500,
    }
    assert partial.json()["status"] == "CANCELLED"
    assert http.get("/v1/availability", params={"date": day}, headers=shop.tenant.public_headers()).json()[
        "available"
    ]
    retried = http.post(
        cancel,
        json={"reason": "Rain", "refund": {"amountCents": 5_000}},
        headers={**admin, "Idempotency-Key": "r1"},
    )
    assert retried.json()["refund"]["totalRefundedCents"] == 5_000
    too_much = http.post(cancel, json={"refund": {"amountCents": 5_001}}, headers=admin)
    assert error_of(too_much) == (400, "VALIDATION_ERROR", ["refund.amountCents"])

    full = http.post(cancel, json={"refund": "full"}, headers=admin)
    assert full.status_code == 200, full.text
    assert full.json()["refund"] == {
        "refundedCents": 5_000,
        "totalRefundedCents": 10_000,
        "feeRefundedCents": 501,
    }
    totals = ledger(http, sandbox, shop, answer["bookingId"])["totals"]
    assert (totals["refundedCents"], totals["feeRefundedCents"], totals["netToTenantCents"]) == (
        10_000,
        1_001,
        0,
    )
    # The same request again, without a key, is the same cancellation: answered again, nothing moves.
    repeated = http.post(cancel, json={"refund": "full"}, headers=admin)
    assert repeated.status_code == 200 and repeated.json()["refund"] == full.json()["refund"]
    # A new request for more finds nothing left to refund.
    more = http.post(cancel, json={"refund": "full"}, headers={**admin, "Idempotency-Key": "r3"})
    assert error_of(more)[:2] == (400, "VALIDATION_ERROR")
    assert ledger(http, sandbox, shop, answer["bookingId"])["totals"]["refundedCents"] == 10_000
    wait_until(
        lambda: booking_of(http, shop, answer["bookingId"])["amountRefundedCents"] == 10_000,
        "booking to know",
    )
    mail_to(stack, couple, "cancelled")
    mail_to(stack, couple, "refund of")


def test_cancelling_a_confirmed_booking_without_saying_what_to_refund_is_refused_and_changes_nothing(
    http: httpx.Client, sandbox: Sandbox, shop: Shop
) -> None:
    couple = f"forgot-{uuid.uuid4().hex[:8]}@example.com"
    day = a_free_day()
    answer = started(http, shop, day, email_address=couple)
    sandbox.pay(answer["checkoutUrl"])
    status_becomes(http, shop, answer["bookingId"], "CONFIRMED")
    cancel = f"/v1/tenant-admin/bookings/{answer['bookingId']}/cancel"
    headers = shop.tenant.admin_headers()
    for forgotten in ({"json": {"reason": "double booked"}}, {"json": {}}, {}):
        assert error_of(http.post(cancel, headers=headers, **forgotten)) == (
            400,
            "VALIDATION_ERROR",
            ["refund"],
        )
    assert booking_of(http, shop, answer["bookingId"])["status"] == "CONFIRMED"
    assert ledger(http, sandbox, shop, answer["bookingId"])["totals"]["refundedCents"] == 0
    public = shop.tenant.public_headers()
    assert http.get("/v1/availability", params={"date": day}, headers=public).json()["reason"] == "booked"

    # Said, it is done once, even when the click is doubled without an Idempotency-Key, and the
    # answer is the booking with its history (one call behind the gateway).
    answers = [http.post(cancel, json={"refund": "full"}, headers=headers) for _ in range(2)]
    assert [a.status_code for a in answers] == [200, 200], answers[-1].text
    body = answers[0].json()
    assert (body["status"], body["refund"]["refundedCents"]) == ("CANCELLED", 10_000)
    assert body["history"][-1]["to"] == "CANCELLED"
    assert answers[1].json()["refund"]["totalRefundedCents"] == 10_000
    assert ledger(http, sandbox, shop, answer["bookingId"])["totals"]["refundedCents"] == 10_000


def test_a_tenant_never_sees_another_tenants_ledger_or_events(
    http: httpx.Client, sandbox: Sandbox, shop: Shop, make_tenant: MakeTenant
) -> None:
    answer = started(http, shop, a_free_day())
    sandbox.pay(answer["checkoutUrl"])
    status_becomes(http, shop, answer["bookingId"], "CONFIRMED")
    stranger = make_tenant("stranger", onboarded=False)
    peek = http.get(
        f"/v1/tenant-admin/bookings/{answer['bookingId']}/ledger", headers=stranger.admin_headers()
    )
    assert error_of(peek)[:2] == (404, "NOT_FOUND")
    refund = http.post(
        f"/v1/tenant-admin/bookings/{answer['bookingId']}/cancel",
        json={"refund": "full"},
        headers=stranger.admin_headers(),
    )
    assert error_of(refund)[:2] == (404, "NOT_FOUND")
    assert events_of(http, Shop(stranger, "", "", 0)) == []
    assert booking_of(http, shop, answer["bookingId"])["status"] == "CONFIRMED"


def test_event_lists_are_bounded_and_paged(http: httpx.Client, sandbox: Sandbox, shop: Shop) -> None:
    for _ in range(3):
        answer = started(http, shop, a_free_day())
        sandbox.pay(answer["checkoutUrl"])
        status_becomes(http, shop, answer["bookingId"], "CONFIRMED")
    admin = shop.tenant.admin_headers()
    first = http.get("/v1/tenant-admin/payments/events", params={"limit": 2}, headers=admin).json()
    assert len(first["items"]) == 2 and first["nextCursor"]
    rest = http.get(
        "/v1/tenant-admin/payments/events", params={"limit": 2, "cursor": first["nextCursor"]}, headers=admin
    ).json()
    seen = [e["id"] for e in first["items"] + rest["items"]]
    assert len(seen) == len(set(seen)) >= 3
    for bad in ({"limit": 0}, {"limit": 101}, {"status": "LOST"}, {"cursor": "garbage!"}):
        assert error_of(http.get("/v1/tenant-admin/payments/events", params=bad, headers=admin))[:2] == (
            400,
            "VALIDATION_ERROR",
        )


# --- the couple's own cancellation ---------------------------------------------------------------


def _couple_link(stack: Stack, couple: str) -> str:
    """The cancel route of the booking the manage link in the couple's confirmation email opens."""
    link = re.search(r"(http\S+/booking/\S+)", text_of(mail_to(stack, couple, "confirmed")))
    assert link is not None
    parts = urlsplit(link.group(1))
    booking_id = parts.path.removeprefix("/booking/")
    return f"/v1/bookings/{booking_id}/cancel?{parts.query}"


def test_a_couple_cannot_cancel_once_the_window_has_closed_and_no_money_moves(
    http: httpx.Client, stack: Stack, sandbox: Sandbox, shop: Shop
) -> None:
    # Couples of this tenant may cancel up to a year before the event: every date here is too late.
    policy = http.patch(
        "/v1/tenant-admin/settings",
        json={"policy": {"coupleCancelDays": 365}},
        headers=shop.tenant.admin_headers(),
    )
    assert policy.status_code == 200, policy.text
    couple = f"late-{uuid.uuid4().hex[:8]}@example.com"
    answer = started(http, shop, a_free_day(), email_address=couple)
    sandbox.pay(answer["checkoutUrl"])
    status_becomes(http, shop, answer["bookingId"], "CONFIRMED")
    closed = http.post(_couple_link(stack, couple), json={"reason": "Changed our minds"})
    assert error_of(closed)[:2] == (409, "CANCELLATION_WINDOW_CLOSED")
    assert booking_of(http, shop, answer["bookingId"])["status"] == "CONFIRMED"
    assert ledger(http, sandbox, shop, answer["bookingId"])["totals"]["refundedCents"] == 0


def test_a_couple_cancels_with_their_link_inside_the_window_and_is_refunded_in_full_once(
    http: httpx.Client, stack: Stack, sandbox: Sandbox, make_tenant: MakeTenant
) -> None:
    # The default policy lets couples cancel up to 14 days before the event; this one is months away.
    shop = make_shop(stack, make_tenant, percent=10)
    couple = f"self-{uuid.uuid4().hex[:8]}@example.com"
    day = a_free_day()
    answer = started(http, shop, day, email_address=couple)
    sandbox.pay(answer["checkoutUrl"])
    status_becomes(http, shop, answer["bookingId"], "CONFIRMED")
    cancel = _couple_link(stack, couple)

    # A link with its signature altered, or another booking's id, opens nothing.
    tampered = cancel[:-3] + ("BBB" if cancel.endswith("AAA") else "AAA")
    assert error_of(http.post(tampered))[:2] == (404, "NOT_FOUND")
    other = cancel.replace(answer["bookingId"], "bk_" + "a" * 26)
    assert error_of(http.post(other))[:2] == (404, "NOT_FOUND")
    assert booking_of(http, shop, answer["bookingId"])["status"] == "CONFIRMED"

    # Two clicks at once: one cancellation, one refund.
    with ThreadPoolExecutor(2) as pool:
        clicks = list(pool.map(lambda _: http.post(cancel, json={"reason": "Changed our minds"}), range(2)))
    for click in clicks:
        assert click.status_code == 200, click.text
        assert click.json()["status"] == "CANCELLED"
        assert click.json()["refund"]["totalRefundedCents"] == 10_000
    totals = ledger(http, sandbox, shop, answer["bookingId"])["totals"]
    assert (totals["refundedCents"], totals["feeRefundedCents"], totals["netToTenantCents"]) == (
        10_000,
        1_000,
        0,
    )
    refunds = [
        e for e in ledger(http, sandbox, shop, answer["bookingId"])["entries"] if e["kind"] == "refund"
    ]
    assert len(refunds) == 1
    history = booking_of(http, shop, answer["bookingId"])["history"]
    cancelled = [
        (h["actor"], h["reason"]) for h in history if h["from"] == "CONFIRMED" and h["to"] == "CANCELLED"
    ]
    assert cancelled == [("couple", "Changed our minds")]
    assert http.get("/v1/availability", params={"date": day}, headers=shop.tenant.public_headers()).json()[
        "available"
    ]
    mail_to(stack, couple, "cancelled")


def test_a_couple_cannot_cancel_a_booking_the_tenant_cancelled_to_get_a_refund(
    http: httpx.Client, stack: Stack, sandbox: Sandbox, shop: Shop
) -> None:
    couple = f"tenant-cancelled-{uuid.uuid4().hex[:8]}@example.com"
    answer = started(http, shop, a_free_day(), email_address=couple)
    sandbox.pay(answer["checkoutUrl"])
    status_becomes(http, shop, answer["bookingId"], "CONFIRMED")
    cancel = _couple_link(stack, couple)
    by_tenant = http.post(
        f"/v1/tenant-admin/bookings/{answer['bookingId']}/cancel",
        json={"refund": "none"},
        headers=shop.tenant.admin_headers(),
    )
    assert by_tenant.status_code == 200, by_tenant.text
    refused = http.post(cancel)
    assert error_of(refused)[:2] == (409, "FAILED_PRECONDITION")
    assert ledger(http, sandbox, shop, answer["bookingId"])["totals"]["refundedCents"] == 0


# --- the platform admin's totals -----------------------------------------------------------------


def _stats(http: httpx.Client, platform_token: str) -> dict[str, Any]:
    answer = http.get("/v1/admin/stats", headers={"Authorization": f"Bearer {platform_token}"})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _usd(stats: dict[str, Any]) -> dict[str, int]:
    found = [m for m in stats["money"] if m["currency"] == "usd"]
    return found[0] if found else dict.fromkeys(("chargedCents", "refundedCents", "platformFeeCents"), 0)


def test_platform_stats_count_tenants_bookings_and_money_across_tenants_for_platform_admins_only(
    http: httpx.Client, stack: Stack, sandbox: Sandbox, make_tenant: MakeTenant, platform_token: str
) -> None:
    before = _stats(http, platform_token)
    shop = make_shop(stack, make_tenant, percent=10)
    paid = started(http, shop, a_free_day())
    held = started(http, shop, a_free_day())
    sandbox.pay(paid["checkoutUrl"])
    status_becomes(http, shop, paid["bookingId"], "CONFIRMED")
    ledger(http, sandbox, shop, paid["bookingId"])
    after = _stats(http, platform_token)

    assert after["tenants"]["total"] == before["tenants"]["total"] + 1
    assert after["tenants"]["active"] == before["tenants"]["active"] + 1
    assert after["tenants"]["connectOnboarded"] == before["tenants"]["connectOnboarded"] + 1
    assert after["bookings"]["confirmed"] == before["bookings"]["confirmed"] + 1
    assert after["bookings"]["upcoming"] == before["bookings"]["upcoming"] + 1
    # Other tests' holds may be released meanwhile (their sessions expire); this one is live.
    assert after["bookings"]["liveHolds"] >= 1
    assert _usd(after)["chargedCents"] == _usd(before)["chargedCents"] + 10_000
    assert _usd(after)["platformFeeCents"] == _usd(before)["platformFeeCents"] + 1_000
    money = _usd(after)
    assert money["netToTenantsCents"] == money["netPaidCents"] - money["platformFeeCents"]
    assert held["status"] == "HELD"

    # Month by month: the last twelve (UTC), oldest first, this one last, moved by the same amounts.
    months = [m["month"] for m in after["byMonth"]]
    assert (
        len(months) == 12 and months == sorted(months) and months[-1] == datetime.now(UTC).strftime("%Y-%m")
    )
    this_before, this_after = before["byMonth"][-1], after["byMonth"][-1]
    assert this_after["bookings"]["confirmed"] == this_before["bookings"]["confirmed"] + 1
    usd_before, usd_after = (
        next((m for m in month["money"] if m["currency"] == "usd"), {"grossCents": 0, "feeCents": 0})
        for month in (this_before, this_after)
    )
    assert usd_after["grossCents"] == usd_before["grossCents"] + 10_000
    assert usd_after["feeCents"] == usd_before["feeCents"] + 1_000
    assert after["byMonth"][:-1] == before["byMonth"][:-1]

    # Nobody but a platform admin sees them.
    as_tenant = http.get("/v1/admin/stats", headers=shop.tenant.admin_headers())
    assert error_of(as_tenant)[:2] == (403, "FORBIDDEN")
    assert error_of(http.get("/v1/admin/stats"))[0] == 401


def test_after_paying_or_going_back_the_couple_lands_on_a_page_not_an_error(
    http: httpx.Client, sandbox: Sandbox, shop: Shop
) -> None:
    answer = started(http, shop, a_free_day())
    cancel_url = sandbox.get(f"/v1/checkout/sessions/{session_of(answer['checkoutUrl'])}")["cancel_url"]
    paid = sandbox.http.post(f"{answer['checkoutUrl']}/pay", headers={"Accept": "application/json"})
    assert paid.status_code == 200, paid.text
    # The platform's return pages of the business (tests/e2e/test_web_pages.py checks them closely),
    # and the older pages that sessions made before them still name.
    for url in (
        paid.json()["redirect_url"],
        cancel_url,
        f"/checkout/cancelled?booking_id={answer['bookingId']}",
    ):
        page = http.get(url)
        assert page.status_code == 200, (url, page.text)
        assert page.headers["content-type"].startswith("text/html")
        assert "default-src 'none'" in page.headers["content-security-policy"]
        assert answer["bookingId"] not in page.text
