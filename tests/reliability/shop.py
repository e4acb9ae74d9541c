"""What the suite's tests act on: a tenant with something on sale, couples checking out, the Stripe
sandbox paying and delivering, and the checks every answer must pass (the error envelope)."""

from __future__ import annotations

import asyncio
import contextlib
import email
import hashlib
import hmac
import itertools
import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import policy as email_policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal, TypeVar

import httpx

from tests.e2e.conftest import MakeTenant, TenantHandle
from tools.stack.launcher import Stack

T = TypeVar("T")

# Days ahead of today that no other test of the session uses (inside every tenant's default
# booking window of 1 to 730 days).
_days = itertools.count(40)


# Loopback source addresses of simulated couples (127.200.0.0/16: apart from the e2e suite's).
_couples = itertools.count(1)


def couple_address() -> str:
    """A loopback address no other simulated couple of the session uses: each couple of a burst
    connects from its own address, as real couples do (the checkout limit is per client address)."""
    n = next(_couples)
    return f"127.200.{n // 250 % 250}.{n % 250 + 1}"


def a_free_day() -> str:
    """A future date no other test of the session books."""
    return (datetime.now(UTC).date() + timedelta(days=next(_days))).isoformat()


def wait_for(
    check: Callable[[], T | Literal[False] | None], what: str, timeout: float = 20.0, interval: float = 0.05
) -> T:
    """Polls until `check()` is truthy and returns it; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(interval)


def envelope_problem(answer: httpx.Response) -> str | None:
    """Why an error answer is not in the public envelope `{error, message, requestId, fields?}`, or
    None when it is (or when the answer is not an error)."""
    if answer.status_code < 400:
        return None
    try:
        body = answer.json()
    except ValueError:
        return f"not JSON: {answer.text[:120]!r}"
    if not isinstance(body, dict):
        return f"not an object: {body!r:.120}"
    if not isinstance(body.get("error"), str) or not body["error"].replace("_", "").isupper():
        return f"no error code: {body!r:.200}"
    if not isinstance(body.get("message"), str):
        return f"no message: {body!r:.200}"
    if "requestId" not in body:
        return f"no requestId: {body!r:.200}"
    fields = body.get("fields")
    if fields is not None and not (
        isinstance(fields, list) and all(isinstance(f, dict) and "field" in f for f in fields)
    ):
        return f"malformed fields: {fields!r:.200}"
    return None


def assert_error(answer: httpx.Response, status: int, code: str, field_name: str | None = None) -> None:
    """The answer is `status` with error `code` in the envelope (naming `field_name` when given)."""
    assert answer.status_code == status, f"{answer.status_code} {answer.text[:300]}"
    assert envelope_problem(answer) is None, envelope_problem(answer)
    body = answer.json()
    assert body["error"] == code, body
    if field_name is not None:
        named = [f["field"] for f in body.get("fields", [])]
        assert any(field_name in name for name in named), f"{field_name} not in {named}"


@dataclass
class Shop:
    """A tenant with a package (and add-ons) on sale."""

    tenant: TenantHandle
    package_id: str
    package_slug: str
    add_on_ids: list[str]
    total_cents: int
    extra: dict[str, Any] = field(default_factory=dict)

    def checkout_body(self, day: str, **more: Any) -> dict[str, Any]:
        """A couple's checkout body for `day` (the package with its first add-on)."""
        return {
            "packageId": self.package_id,
            "addOnIds": self.add_on_ids[:1],
            "eventDate": day,
            "coupleName": "Ana & Bo",
            "email": f"couple-{uuid.uuid4().hex[:12]}@example.com",
            **more,
        }


def open_shop(
    http: httpx.Client,
    make_tenant: MakeTenant,
    prefix: str = "rel",
    *,
    price: int = 9_000,
    add_ons: int = 1,
    onboarded: bool = True,
) -> Shop:
    """A fresh tenant whose admin puts a package and `add_ons` add-ons on sale through the admin API;
    Connect-onboarded (checkout refuses a tenant that is not) unless `onboarded=False`."""
    tenant = make_tenant(prefix, onboarded=onboarded)
    headers = tenant.admin_headers()
    slug = f"garden-{uuid.uuid4().hex[:6]}"
    package = http.post(
        "/v1/tenant-admin/packages",
        json={"slug": slug, "title": "Garden day", "priceCents": price, "active": True},
        headers=headers,
    )
    assert package.status_code == 201, package.text
    package_id = package.json()["id"]
    add_on_ids = []
    for n in range(add_ons):
        add_on = http.post(
            "/v1/tenant-admin/add-ons",
            json={
                "slug": f"extra-{n}",
                "title": f"Extra {n}",
                "priceCents": 1_000,
                "active": True,
                "packageIds": [package_id],
            },
            headers=headers,
        )
        assert add_on.status_code == 201, add_on.text
        add_on_ids.append(add_on.json()["id"])
    return Shop(tenant, package_id, slug, add_on_ids, price + (1_000 if add_ons else 0))


def checkout(http: httpx.Client, shop: Shop, day: str, **more: Any) -> httpx.Response:
    """A couple's `POST /v1/bookings/checkout` for `day`."""
    return http.post(
        "/v1/bookings/checkout", json=shop.checkout_body(day, **more), headers=shop.tenant.public_headers()
    )


def couple_checkout(stack: Stack, shop: Shop, day: str, **more: Any) -> httpx.Response:
    """`checkout` through Envoy from a couple's own address (the checkout limit is per address), for
    tests that start more checkouts for one tenant than one address may."""
    with httpx.Client(
        base_url=stack.url, timeout=30.0, transport=httpx.HTTPTransport(local_address=couple_address())
    ) as client:
        return checkout(client, shop, day, **more)


class Sandbox:
    """The stack's Stripe sandbox: its API (as Stripe's) and its test controls."""

    def __init__(self, stack: Stack) -> None:
        self.url = stack.sandbox_url
        self.http = httpx.Client(base_url=self.url, timeout=30.0, trust_env=False)

    def close(self) -> None:
        """Closes the client."""
        self.http.close()

    def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """A `/_sandbox` control call; fails the test on an error."""
        answer = self.http.request(method, path, json=body)
        assert answer.status_code < 300, f"{path}: {answer.status_code} {answer.text[:300]}"
        return answer.json()

    def api(self, path: str, **params: Any) -> dict[str, Any]:
        """A GET on the Stripe API."""
        answer = self.http.get(path, params=params, auth=("sk_test_reliability", ""))
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def pay(self, checkout_url: str) -> httpx.Response:
        """Pays a session the way its hosted page's form does."""
        return self.http.post(f"{checkout_url}/pay", headers={"Accept": "application/json"})

    def expire(self, session_id: str) -> None:
        """Expires an open session now (Stripe sends checkout.session.expired)."""
        self.control("POST", f"/_sandbox/sessions/{session_id}/expire_now")

    def listed(self, path: str, most: int = 10_000, **params: Any) -> list[dict[str, Any]]:
        """Every object of a Stripe list, newest first, page by page (`starting_after`), `most` at most.
        A suite's sandbox holds more than one page of events."""
        found: list[dict[str, Any]] = []
        after: dict[str, Any] = {}
        while len(found) < most:
            answer = self.api(path, limit=100, **params, **after)
            found.extend(answer["data"])
            if not answer["has_more"] or not answer["data"]:
                return found
            after = {"starting_after": answer["data"][-1]["id"]}
        raise AssertionError(f"more than {most} objects in {path} {params}")

    def events_about(self, object_id: str, event_type: str) -> list[dict[str, Any]]:
        """Stripe's events of `event_type` about `object_id`."""
        return [
            e for e in self.listed("/v1/events", type=event_type) if e["data"]["object"]["id"] == object_id
        ]

    def newest_event(self, object_id: str, event_type: str) -> dict[str, Any] | None:
        """The newest event of `event_type` about `object_id`, paging back only until it is found."""
        after: dict[str, Any] = {}
        for _ in range(100):
            answer = self.api("/v1/events", type=event_type, limit=100, **after)
            for event in answer["data"]:
                if event["data"]["object"]["id"] == object_id:
                    return dict(event)
            if not answer["has_more"] or not answer["data"]:
                return None
            after = {"starting_after": answer["data"][-1]["id"]}
        raise AssertionError(f"{event_type} of {object_id}: not within 10,000 events")

    def event_for(self, object_id: str, event_type: str) -> dict[str, Any]:
        """The (newest) event of `event_type` about `object_id`, once Stripe has it."""
        return wait_for(lambda: self.newest_event(object_id, event_type), f"{event_type} of {object_id}")

    def hold_deliveries(self) -> None:
        """New events are queued, not sent."""
        self.control("POST", "/_sandbox/hold_deliveries")

    def release_deliveries(self) -> None:
        """Sends the queued events not yet acknowledged (and stops queueing)."""
        self.control("POST", "/_sandbox/release_deliveries", {"deliver": True})

    def deliver(self, event_id: str, times: int, *, concurrent: bool = True) -> list[dict[str, Any]]:
        """Sends one stored event `times` times (one attempt each); their delivery records."""
        answer = self.control(
            "POST",
            f"/_sandbox/events/{event_id}/deliver",
            {"times": times, "concurrent": concurrent, "wait": True},
        )
        return list(answer["attempts"])

    def session(self, session_id: str) -> dict[str, Any]:
        """Stripe's view of a Checkout Session."""
        return self.api(f"/v1/checkout/sessions/{session_id}")

    def refunded_cents(self, payment_intent_id: str) -> int:
        """What Stripe has refunded of a payment."""
        refunds = self.listed("/v1/refunds", payment_intent=payment_intent_id)
        return sum(int(r["amount"]) for r in refunds if r.get("status") in ("succeeded", "pending"))


def session_of(checkout_url: str) -> str:
    """The Checkout Session id at the end of a hosted-page URL."""
    return checkout_url.rstrip("/").rsplit("/", 1)[-1]


def mail_to(stack: Stack, address: str, tag: str = "") -> EmailMessage | None:
    """The first email written to `address` (with X-MAIS-Tag `tag` when given), if any yet."""
    folder: Path = stack.data_dir / "mail"
    for path in sorted(folder.glob("*.eml")) if folder.exists() else []:
        message = email.message_from_bytes(path.read_bytes(), policy=email_policy.default)
        assert isinstance(message, EmailMessage)
        if address in str(message["To"]) and (not tag or message["X-MAIS-Tag"] == tag):
            return message
    return None


def mails_to(stack: Stack, address: str) -> list[EmailMessage]:
    """Every email written to `address`."""
    folder: Path = stack.data_dir / "mail"
    found = []
    for path in sorted(folder.glob("*.eml")) if folder.exists() else []:
        message = email.message_from_bytes(path.read_bytes(), policy=email_policy.default)
        assert isinstance(message, EmailMessage)
        if address in str(message["To"]):
            found.append(message)
    return found


# The manage page's link; the JSON route `/v1/bookings/{id}?token=` takes the same token.
_LINK = re.compile(r"/booking/(bk_[a-z0-9]+)\?token=([A-Za-z0-9._-]+)")


def couple_link(stack: Stack, address: str) -> tuple[str, str]:
    """(booking id, token) of the private link in the couple's confirmation email."""
    message = wait_for(lambda: mail_to(stack, address), f"the email to {address}")
    text = message.get_body(preferencelist=("plain",))
    assert text is not None
    found = _LINK.search(text.get_content())
    assert found, "no booking link in the confirmation email"
    return found.group(1), found.group(2)


def every_item(
    http: httpx.Client, path: str, headers: dict[str, str], most: int = 10_000, **params: Any
) -> list[dict[str, Any]]:
    """Every item of one of the platform's lists, page by page (`nextCursor` passed back as `cursor`),
    `most` at most: a check over a list sees all of it, not its first page."""
    found: list[dict[str, Any]] = []
    cursor: dict[str, str] = {}
    while len(found) < most:
        answer = http.get(path, params={"limit": 100, **params, **cursor}, headers=headers)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        found.extend(page["items"])
        if not page.get("nextCursor"):
            return found
        cursor = {"cursor": page["nextCursor"]}
    raise AssertionError(f"more than {most} items in {path} {params}")


def bookings_of(http: httpx.Client, shop: Shop) -> list[dict[str, Any]]:
    """Every booking of the shop's tenant, as its admin lists them."""
    return every_item(http, "/v1/tenant-admin/bookings", shop.tenant.admin_headers())


@contextlib.contextmanager
def counting(http: httpx.Client, figures: Any, category: str) -> Iterator[httpx.Client]:
    """`http` with each answer counted in `figures` under `category` while the block runs (a 5xx, or an
    error outside the envelope, counts as a failure)."""

    def count(answer: httpx.Response) -> None:
        answer.read()
        figures.request(category, answer.status_code, ok=envelope_problem(answer) is None)

    http.event_hooks["response"].append(count)
    try:
        yield http
    finally:
        http.event_hooks["response"].remove(count)


def booking_as_admin(http: httpx.Client, shop: Shop, booking_id: str) -> dict[str, Any]:
    """The booking as the tenant's admin sees it."""
    answer = http.get(f"/v1/tenant-admin/bookings/{booking_id}", headers=shop.tenant.admin_headers())
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def paid_booking(http: httpx.Client, sandbox: Sandbox, shop: Shop, day: str | None = None) -> dict[str, Any]:
    """A couple checks out and pays; returns the checkout answer once the booking is CONFIRMED, with
    the couple's email address under "email"."""
    body = shop.checkout_body(day or a_free_day())
    started = http.post("/v1/bookings/checkout", json=body, headers=shop.tenant.public_headers())
    assert started.status_code == 201, started.text
    answer = dict(started.json())
    paid = sandbox.pay(answer["checkoutUrl"])
    assert paid.status_code == 200, paid.text
    wait_for(
        lambda: booking_as_admin(http, shop, answer["bookingId"])["status"] == "CONFIRMED",
        f"booking {answer['bookingId']} to be confirmed",
    )
    answer["email"] = body["email"]
    return answer


async def checkout_burst(
    stack: Stack, requests: list[tuple[Shop, dict[str, Any]]], *, timeout: float = 30.0
) -> list[httpx.Response]:
    """Sends every (shop, checkout body) at once through Envoy, each couple from its own address and
    connection, released together; the answers in the same order."""
    clients = [
        httpx.AsyncClient(
            base_url=stack.url,
            timeout=timeout,
            transport=httpx.AsyncHTTPTransport(local_address=couple_address()),
        )
        for _ in requests
    ]
    go = asyncio.Event()

    async def one(client: httpx.AsyncClient, shop: Shop, body: dict[str, Any]) -> httpx.Response:
        await go.wait()
        return await client.post("/v1/bookings/checkout", json=body, headers=shop.tenant.public_headers())

    try:
        tasks = [
            asyncio.create_task(one(c, shop, body)) for c, (shop, body) in zip(clients, requests, strict=True)
        ]
        await asyncio.sleep(0.05)
        go.set()
        return list(await asyncio.gather(*tasks))
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))


def database_log(stack: Stack) -> str:
    """The embedded PostgreSQL's server log ('' when the suite runs against DATABASE_URL)."""
    if stack.postgres is None:
        return ""
    path = stack.postgres.pgdata / "server.log"
    return path.read_text(errors="replace") if path.exists() else ""


def live_bookings(http: httpx.Client, shop: Shop, day: str) -> list[dict[str, Any]]:
    """The tenant's bookings that occupy `day` (HELD or CONFIRMED), as its admin lists them."""
    found = []
    for status in ("HELD", "CONFIRMED"):
        answer = http.get(
            "/v1/tenant-admin/bookings",
            params={"from": day, "to": day, "status": status, "limit": 100},
            headers=shop.tenant.admin_headers(),
        )
        assert answer.status_code == 200, answer.text
        found += answer.json()["items"]
    return found


def sign_webhook(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """A `Stripe-Signature` header for `payload`, as Stripe computes it."""
    stamp = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{stamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={mac}"


def post_webhook(http: httpx.Client, stack: Stack, event: dict[str, Any]) -> httpx.Response:
    """Delivers `event` to the public webhook route, signed with the endpoint's secret."""
    payload = json.dumps(event).encode()
    return http.post(
        "/v1/webhooks/stripe",
        content=payload,
        headers={
            "Stripe-Signature": sign_webhook(payload, stack.options.webhook_secret),
            "content-type": "application/json",
        },
    )


def expired_twin(completed: dict[str, Any]) -> dict[str, Any]:
    """A `checkout.session.expired` event for the session of a `completed` one. Stripe never sends both
    for one session, but our hold can run out before a late payment's event arrives, and events come
    in any order: this is how the suite makes that happen on demand."""
    session = completed["data"]["object"]
    return {
        **completed,
        "id": f"evt_rel_{uuid.uuid4().hex[:20]}",
        "type": "checkout.session.expired",
        "created": int(time.time()),
        "data": {
            "object": {**session, "status": "expired", "payment_status": "unpaid", "payment_intent": None}
        },
    }


@dataclass
class Settlement:
    """Where the money of one Checkout Session ended up, by our ledger and by Stripe."""

    booking_id: str
    status: str
    charged: int
    refunded: int
    stripe_paid: int
    stripe_refunded: int
    duplicate_entries: int

    @property
    def confirmed(self) -> bool:
        """Kept as a booking: charged once, nothing refunded."""
        return self.status == "CONFIRMED" and self.charged == self.stripe_paid and self.refunded == 0

    @property
    def refunded_in_full(self) -> bool:
        """Given back: refunded exactly what was charged, and the booking holds no date."""
        return (
            self.status not in ("CONFIRMED", "HELD")
            and self.charged == self.stripe_paid
            and self.refunded == self.charged == self.stripe_refunded
        )


def settlement(
    http: httpx.Client, sandbox: Sandbox, shop: Shop, booking_id: str, session_id: str
) -> Settlement:
    """The session's settlement: our booking and ledger beside Stripe's session and refunds."""
    booking = booking_as_admin(http, shop, booking_id)
    ledger = http.get(f"/v1/tenant-admin/bookings/{booking_id}/ledger", headers=shop.tenant.admin_headers())
    assert ledger.status_code == 200, ledger.text
    entries = ledger.json()["entries"]
    objects = [(e["kind"], e["stripeObjectId"]) for e in entries]
    totals = ledger.json()["totals"]
    assert totals["netPaidCents"] == totals["chargedCents"] - totals["refundedCents"]
    assert totals["platformFeeCents"] == totals["feeCents"] - totals["feeRefundedCents"]
    assert totals["netToTenantCents"] == totals["netPaidCents"] - totals["platformFeeCents"]
    session = sandbox.session(session_id)
    paid = int(session["amount_total"]) if session.get("payment_status") == "paid" else 0
    intent = session.get("payment_intent")
    intent_id = intent["id"] if isinstance(intent, dict) else intent
    return Settlement(
        booking_id=booking_id,
        status=booking["status"],
        charged=int(totals["chargedCents"]),
        refunded=int(totals["refundedCents"]),
        stripe_paid=paid,
        stripe_refunded=sandbox.refunded_cents(intent_id) if intent_id else 0,
        duplicate_entries=len(objects) - len(set(objects)),
    )


def count_settlement(figures: Any, settled: Settlement) -> None:
    """A paid session that is neither kept nor refunded in full is lost; a ledger entry twice, or a
    refund beyond the charge, is a duplicated payment."""
    if settled.stripe_paid and not (settled.confirmed or settled.refunded_in_full):
        figures.lost_payments += 1
    if (
        settled.duplicate_entries
        or settled.refunded > settled.charged
        or settled.charged > settled.stripe_paid
    ):
        figures.duplicated_payments += 1


def onboard(http: httpx.Client, sandbox: Sandbox, shop: Shop) -> str:
    """Stripe Connect onboarding of the shop's tenant; its Connect account id once MAIS has seen it.
    For a shop already onboarded (`open_shop`'s default), it answers its account and changes nothing."""
    headers = shop.tenant.admin_headers()
    started = http.post("/v1/tenant-admin/stripe/connect", headers=headers)
    assert started.status_code == 200, started.text
    account = str(started.json()["stripeAccountId"])
    sandbox.control("POST", f"/_sandbox/accounts/{account}/onboard")
    wait_for(
        lambda: (
            http.get("/v1/tenant-admin/stripe/connect", headers=headers).json()["connectState"] == "onboarded"
        ),
        "the onboarding to be recorded",
    )
    return account
