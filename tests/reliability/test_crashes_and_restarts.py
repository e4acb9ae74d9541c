"""Crashes and restarts under load: services SIGKILLed while Stripe's webhooks are being processed,
PostgreSQL restarted while couples check out, and the whole platform restarted. Afterwards every paid
session is exactly one confirmed booking (or one refund), no event is left unprocessed, every request
got an answer, and nothing stored is missing.

These tests stop parts of the suite's own stack; they run after every other test of the suite."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import MakeTenant
from tests.reliability.conftest import Size
from tests.reliability.figures import Figures
from tests.reliability.shop import (
    Sandbox,
    Shop,
    a_free_day,
    booking_as_admin,
    count_settlement,
    couple_checkout,
    envelope_problem,
    every_item,
    live_bookings,
    mails_to,
    onboard,
    open_shop,
    session_of,
    settlement,
    wait_for,
)
from tools.stack.launcher import Stack

CATEGORY = "crashes"
pytestmark = pytest.mark.disruptive


@pytest.fixture(scope="module")
def sandbox(stack: Stack) -> Iterator[Sandbox]:
    running = Sandbox(stack)
    yield running
    running.close()


def _ready(http: httpx.Client) -> bool:
    try:
        return http.get("/health/ready").status_code == 200
    except httpx.HTTPError:
        return False


def test_killing_booking_then_payments_while_webhooks_are_processed_loses_and_doubles_no_payment(
    stack: Stack, api: httpx.Client, make_tenant: MakeTenant, sandbox: Sandbox, figures: Figures, size: Size
) -> None:
    shop = open_shop(api, make_tenant, "crash")
    onboard(api, sandbox, shop)
    started = []
    for _ in range(size.crash_sessions):
        email = f"couple-{uuid.uuid4().hex[:12]}@example.com"
        answer = couple_checkout(stack, shop, a_free_day(), email=email)
        assert answer.status_code == 201, answer.text
        started.append({**answer.json(), "email": email})
    paid = 0
    lock = threading.Lock()

    def pay_all() -> None:
        nonlocal paid
        for session in started:
            assert sandbox.pay(session["checkoutUrl"]).status_code == 200
            with lock:
                paid += 1
            time.sleep(0.05)

    def paid_at_least(count: int) -> bool:
        with lock:
            return paid >= count

    with ThreadPoolExecutor(1) as payer:
        payments_made = payer.submit(pay_all)
        third = max(1, len(started) // 3)
        # Each kill lands while the sandbox is delivering the events of the payments just made.
        # Every replica of the part at once: the whole service is down (one replica at a time is
        # test_replicas_die_in_turn.py's).
        for service, after in (("booking", third), ("payments", 2 * third)):
            wait_for(lambda after=after: paid_at_least(after), f"{after} payments")  # type: ignore[misc]
            for name in stack.replicas_of(service):
                stack.kill(name)
            time.sleep(1.0)
            for name in stack.replicas_of(service):
                stack.start_process(name)
        payments_made.result(timeout=60)
    wait_for(lambda: _ready(api), "the restarted services to be ready", timeout=30)

    def all_settled() -> bool:
        return all(
            booking_as_admin(api, shop, s["bookingId"])["status"] in ("CONFIRMED", "RELEASED", "CANCELLED")
            for s in started
        )

    # Stripe's retries (compressed to seconds) bring every failed delivery back.
    wait_for(all_settled, "every paid session to settle", timeout=45, interval=0.5)
    for session in started:
        settled = settlement(api, sandbox, shop, session["bookingId"], session_of(session["checkoutUrl"]))
        count_settlement(figures, settled)
        assert settled.confirmed or settled.refunded_in_full, settled
        assert settled.duplicate_entries == 0, settled
        assert (
            len(live_bookings(api, shop, booking_as_admin(api, shop, session["bookingId"])["eventDate"])) <= 1
        )
    events = every_item(api, "/v1/tenant-admin/payments/events", shop.tenant.admin_headers())
    unsettled = [e for e in events if e["status"] in ("RECEIVED", "FAILED")]
    assert not unsettled, unsettled
    # What failed attempts left behind names an error, never a customer.
    assert not [e for e in events if "@" in (e["lastError"] or "")]
    # Every delivery got an answer in time (a 5xx while a service was down asks Stripe to retry).
    for session in started:
        event = sandbox.event_for(session_of(session["checkoutUrl"]), "checkout.session.completed")
        attempts = sandbox.control("GET", f"/_sandbox/deliveries?event_id={event['id']}")["deliveries"]
        assert attempts and attempts[-1]["status_code"] == 200, attempts
        for attempt in attempts:
            status = int(attempt["status_code"] or 0)
            answered = attempt["error"] is None and status in (200, 500, 502, 503)
            figures.request(CATEGORY, status, ok=answered, outage=True)
            assert answered, attempt
    # Each couple is told once, whatever was retried.
    wait_for(
        lambda: all(mails_to(stack, s["email"]) for s in started), "every confirmation email", timeout=20
    )
    for session in started:
        tags = [str(m["X-MAIS-Tag"]) for m in mails_to(stack, session["email"])]
        assert tags == ["booking.confirmation"], (session["email"], tags)


def test_restarting_postgresql_under_load_answers_every_request_and_recovers_by_itself(
    stack: Stack, api: httpx.Client, make_tenant: MakeTenant, figures: Figures, size: Size
) -> None:
    if stack.postgres is None:
        pytest.skip("the database is not ours to restart (DATABASE_URL)")
    shop = open_shop(api, make_tenant, "pg")
    stop_load = threading.Event()
    answers: list[int] = []
    problems: list[str] = []

    def load() -> None:
        # Each couple from its own address: the per-address checkout limit is not what is tested.
        while not stop_load.is_set():
            try:
                answer = couple_checkout(stack, shop, a_free_day())
            except httpx.HTTPError as error:
                problems.append(f"no answer: {error!r}")
                continue
            answers.append(answer.status_code)
            if answer.status_code not in (201, 503) or envelope_problem(answer):
                problems.append(f"{answer.status_code} {answer.text[:200]}")
            figures.request(CATEGORY, answer.status_code, ok=answer.status_code in (201, 503), outage=True)
            time.sleep(0.02)

    with ThreadPoolExecutor(2) as pool:
        workers = [pool.submit(load) for _ in range(2)]
        wait_for(lambda: len(answers) >= 5, "load before the restart")
        stack.postgres.stop("fast")
        try:
            down = wait_for(
                lambda: (r := api.get("/health/ready")).status_code == 503 and r,
                "readiness to report the database down",
                timeout=15,
            )
            assert "database" in down.json()["failing"]
            time.sleep(size.database_downtime_seconds)
        finally:
            stack.postgres.start()
        wait_for(lambda: _ready(api), "readiness to come back by itself", timeout=30)
        wait_for(lambda: answers[-3:] == [201, 201, 201], "checkouts to succeed again", timeout=30)
        stop_load.set()
        for worker in workers:
            worker.result(timeout=60)
    assert not problems, problems[:10]
    assert 503 in answers or len(answers) < 10, "the outage was never seen"
    recovered = api.post(
        "/v1/bookings/checkout", json=shop.checkout_body(a_free_day()), headers=shop.tenant.public_headers()
    )
    assert recovered.status_code == 201, recovered.text


def _everything(api: httpx.Client, shop: Shop, platform_token: str) -> dict[str, Any]:
    admin = shop.tenant.admin_headers()
    tenants = api.get(
        "/v1/admin/tenants", params={"limit": 100}, headers={"Authorization": f"Bearer {platform_token}"}
    )
    return {
        "tenants": sorted(t["id"] for t in tenants.json()["items"]),
        "settings": api.get("/v1/tenant-admin/settings", headers=admin).json(),
        "packages": api.get("/v1/tenant-admin/packages", headers=admin).json(),
        "add_ons": api.get("/v1/tenant-admin/add-ons", headers=admin).json(),
        "bookings": api.get("/v1/tenant-admin/bookings", params={"limit": 100}, headers=admin).json(),
        "events": api.get("/v1/tenant-admin/payments/events", headers=admin).json(),
        "public": api.get("/v1/packages", headers=shop.tenant.public_headers()).json(),
    }


def test_restarting_the_whole_platform_keeps_every_tenant_booking_payment_and_credential(
    stack: Stack,
    api: httpx.Client,
    make_tenant: MakeTenant,
    sandbox: Sandbox,
    figures: Figures,
    platform_token: str,
) -> None:
    shop = open_shop(api, make_tenant, "restart")
    body = shop.checkout_body(a_free_day())
    started = api.post("/v1/bookings/checkout", json=body, headers=shop.tenant.public_headers()).json()
    assert sandbox.pay(started["checkoutUrl"]).status_code == 200
    wait_for(
        lambda: booking_as_admin(api, shop, started["bookingId"])["status"] == "CONFIRMED", "the payment"
    )
    before = _everything(api, shop, platform_token)
    stack.stop()
    stack.start(timeout=120)
    # Same tokens and keys: the signing keys and the data outlived the processes.
    after = _everything(api, shop, platform_token)
    figures.request(CATEGORY, 200)
    assert after == before
    login = api.post(
        "/v1/auth/login", json={"email": shop.tenant.admin_email, "password": shop.tenant.admin_password}
    )
    assert login.status_code == 200, login.text
    taken = api.post(
        "/v1/bookings/checkout",
        json=shop.checkout_body(body["eventDate"]),
        headers=shop.tenant.public_headers(),
    )
    assert taken.status_code == 409 and taken.json()["error"] == "DATE_UNAVAILABLE"
