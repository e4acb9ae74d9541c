"""Deposits and balances keep money and bookings agreeing however Stripe delivers: a balance paid by two
sessions at once, the balance's event 20 times at once beside the deposit's, a balance paid just before
the business cancelled (its event after), a balance page left open at the cancellation (closed by it),
and payments SIGKILLed between a balance payment and its webhook. Each balance is kept once or refunded
in full (recorded NOT_OWED), each receipt is sent once, and in the end every booking's ledger
reconciles with Stripe and with its instalments (charges - refunds = net = paid - refunded over the
instalments).

The tenants take a 30 % deposit with the balance due 30 days before the event (set as their admin
would, `PATCH /v1/tenant-admin/settings` `paymentPolicy`); every date is at least 40 days away."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest

from tests.e2e.conftest import MakeTenant
from tests.reliability.figures import Figures
from tests.reliability.shop import (
    Sandbox,
    Shop,
    a_free_day,
    booking_as_admin,
    bookings_of,
    couple_link,
    envelope_problem,
    every_item,
    mails_to,
    onboard,
    open_shop,
    session_of,
    wait_for,
)
from tools.stack.launcher import WEBHOOK_WORKER, Stack

CATEGORY = "webhooks"
TERMS = {"depositKind": "percent", "depositBps": 3_000, "balanceDueDays": 30}
# open_shop's package with its add-on: 100.00, so a deposit of 30.00 and a balance of 70.00.
DEPOSIT, BALANCE = 3_000, 7_000
# make_tenant's commission (10 %) on each payment.
DEPOSIT_FEE, BALANCE_FEE = 300, 700


@pytest.fixture(scope="module")
def sandbox(stack: Stack) -> Iterator[Sandbox]:
    running = Sandbox(stack)
    yield running
    running.close()


@pytest.fixture
def held_deliveries(sandbox: Sandbox) -> Iterator[Sandbox]:
    """Stripe's deliveries are queued during the test (it delivers what it wants, when it wants) and
    released at its end."""
    sandbox.hold_deliveries()
    try:
        yield sandbox
    finally:
        sandbox.release_deliveries()


def deposit_shop(http: httpx.Client, make_tenant: MakeTenant, sandbox: Sandbox, prefix: str) -> Shop:
    """An onboarded tenant on TERMS, its Connect account under extra["account"]."""
    shop = open_shop(http, make_tenant, prefix)
    shop.extra["account"] = onboard(http, sandbox, shop)
    changed = http.patch(
        "/v1/tenant-admin/settings", json={"paymentPolicy": TERMS}, headers=shop.tenant.admin_headers()
    )
    assert changed.status_code == 200, changed.text
    # Payments keeps a payable tenant's terms for a moment: the shop opens once its quotes show them.
    wait_for(lambda: quoted_due_now(http, shop, a_free_day()) == DEPOSIT, "the deposit terms to apply")
    # That answer came from one replica; each replica keeps its own copy of a tenant for a moment (payments
    # 1 s, booking MAIS_TENANT_CACHE_SECONDS 5 s): the shop opens once every copy from before the change
    # ran out.
    time.sleep(6)
    return shop


def quoted_due_now(http: httpx.Client, shop: Shop, day: str) -> int:
    """What the widget's schedule quote says is due today for the package with its add-on on `day`."""
    answer = http.get(
        "/v1/checkout/schedule",
        params={"packageId": shop.package_id, "addOnIds": shop.add_on_ids[0], "eventDate": day},
        headers=shop.tenant.public_headers(),
    )
    assert answer.status_code == 200, answer.text
    return int(answer.json()["instalments"][0]["amountCents"])


@pytest.fixture(scope="module")
def shop(api: httpx.Client, make_tenant: MakeTenant, sandbox: Sandbox) -> Shop:
    return deposit_shop(api, make_tenant, sandbox, "balance")


@dataclass
class Deposited:
    """A booking confirmed on its deposit: the couple's address and manage token, the deposit's event."""

    booking_id: str
    email: str
    token: str
    deposit_event: dict[str, Any]


def confirmed_on_deposit(stack: Stack, http: httpx.Client, sandbox: Sandbox, shop: Shop) -> Deposited:
    """A couple checks out (the deposit is due now) and pays; its event delivered once (deliveries may
    be held), the booking CONFIRMED, the couple's link from the deposit receipt."""
    body = shop.checkout_body(a_free_day())
    started = http.post("/v1/bookings/checkout", json=body, headers=shop.tenant.public_headers())
    assert started.status_code == 201, started.text
    answer = started.json()
    assert (answer["amountDueNowCents"], answer["totalCents"]) == (DEPOSIT, DEPOSIT + BALANCE), answer
    session = session_of(answer["checkoutUrl"])
    assert sandbox.pay(answer["checkoutUrl"]).status_code == 200
    event = sandbox.event_for(session, "checkout.session.completed")
    assert [a["status_code"] for a in sandbox.deliver(event["id"], 1)] == [200]
    wait_for(
        lambda: booking_as_admin(http, shop, answer["bookingId"])["status"] == "CONFIRMED",
        "the deposit to confirm the booking",
    )
    booking_id, token = couple_link(stack, body["email"])
    assert booking_id == answer["bookingId"]
    return Deposited(booking_id, body["email"], token, event)


def balance_checkout(http: httpx.Client, figures: Figures, booking: Deposited) -> dict[str, Any]:
    """The couple's `POST /v1/bookings/{id}/pay` from their link: the balance's session."""
    answer = http.post(f"/v1/bookings/{booking.booking_id}/pay", params={"token": booking.token}, json={})
    figures.request(CATEGORY, answer.status_code, ok=answer.status_code == 200)
    assert answer.status_code == 200, answer.text
    body = dict(answer.json())
    assert (body["instalment"]["seq"], body["instalment"]["amountCents"]) == (2, BALANCE), body
    return body


def raced_session(sandbox: Sandbox, shop: Shop, booking_id: str, email: str) -> str:
    """A second balance session made straight at Stripe with the same metadata as ours (a session we
    lost track of, or a race with another replica): its URL."""
    created = sandbox.http.post(
        "/v1/checkout/sessions",
        auth=("sk_test_reliability", ""),
        data={
            "mode": "payment",
            "line_items[0][quantity]": "1",
            "line_items[0][price_data][currency]": "usd",
            "line_items[0][price_data][unit_amount]": str(BALANCE),
            "line_items[0][price_data][product_data][name]": "Balance \u2014 Garden day",
            "customer_email": email,
            "client_reference_id": booking_id,
            "success_url": "http://127.0.0.1:9/paid",
            **{
                f"{where}[{key}]": value
                for where in ("metadata", "payment_intent_data[metadata]")
                for key, value in (
                    ("tenant_id", shop.tenant.id),
                    ("booking_id", booking_id),
                    ("instalment_seq", "2"),
                )
            },
            "payment_intent_data[transfer_data][destination]": shop.extra["account"],
            "payment_intent_data[application_fee_amount]": str(BALANCE_FEE),
        },
    )
    assert created.status_code == 200, created.text
    return str(created.json()["url"])


def deliver_at_once(sandbox: Sandbox, figures: Figures, events: list[tuple[str, int]]) -> None:
    """Each (event id, copies) delivered concurrently with the others; every attempt must get a 200."""
    with ThreadPoolExecutor(len(events)) as pool:
        attempts = [
            a
            for batch in pool.map(lambda e: sandbox.deliver(e[0], e[1], concurrent=True), events)
            for a in batch
        ]
    codes = [int(a["status_code"] or 0) for a in attempts]
    for code in codes:
        figures.request(CATEGORY, code, ok=code == 200)
    assert all(code == 200 for code in codes), codes


async def _seq2_payments(stack: Stack, booking_id: str) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(stack.admin_database_url)
    try:
        rows = await conn.fetch(
            "SELECT session_id, status, amount_cents, fee_cents FROM payments.payments"
            " WHERE booking_id = $1 AND instalment_seq = 2 ORDER BY session_id",
            booking_id,
        )
    finally:
        await conn.close()
    return [dict(r) for r in rows]


def balance_payments(stack: Stack, booking_id: str) -> dict[str, str]:
    """Payments' record of each balance session: session id -> status."""
    return {r["session_id"]: r["status"] for r in asyncio.run(_seq2_payments(stack, booking_id))}


def ledger_of(http: httpx.Client, shop: Shop, booking_id: str) -> dict[str, Any]:
    answer = http.get(f"/v1/tenant-admin/bookings/{booking_id}/ledger", headers=shop.tenant.admin_headers())
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def intent_of(sandbox: Sandbox, checkout_url: str) -> str:
    intent = sandbox.session(session_of(checkout_url))["payment_intent"]
    return str(intent["id"] if isinstance(intent, dict) else intent)


def tags(stack: Stack, address: str) -> list[str]:
    return sorted(str(m["X-MAIS-Tag"]) for m in mails_to(stack, address))


def reconciles(http: httpx.Client, sandbox: Sandbox, shop: Shop, booking_id: str, figures: Figures) -> None:
    """One booking's books: charges - refunds = net in our ledger; each charge and refund as Stripe has
    it; the net equal to what its instalments say was paid and not refunded, and to booking's own
    figures; no Stripe object twice. A break counts as a lost or duplicated payment."""
    answer = http.get(f"/v1/tenant-admin/bookings/{booking_id}/ledger", headers=shop.tenant.admin_headers())
    if answer.status_code == 404:
        entries: list[dict[str, Any]] = []
        totals = {"chargedCents": 0, "refundedCents": 0, "netPaidCents": 0}
    else:
        assert answer.status_code == 200, answer.text
        entries, totals = answer.json()["entries"], answer.json()["totals"]
    by_kind: dict[str, int] = {}
    for entry in entries:
        by_kind[entry["kind"]] = by_kind.get(entry["kind"], 0) + entry["amountCents"]
    booking = booking_as_admin(http, shop, booking_id)
    schedule = booking["schedule"]
    instalments_net = sum(i["paidCents"] - i["refundedCents"] for i in schedule["instalments"])
    stripe_charged = sum(
        sandbox.api(f"/v1/charges/{e['stripeObjectId']}")["amount"] for e in entries if e["kind"] == "charge"
    )
    stripe_refunded = sum(
        sandbox.api(f"/v1/refunds/{e['stripeObjectId']}")["amount"] for e in entries if e["kind"] == "refund"
    )
    objects = [(e["kind"], e["stripeObjectId"]) for e in entries]
    found = {
        "ledger": totals["netPaidCents"] == totals["chargedCents"] - totals["refundedCents"],
        "charges": by_kind.get("charge", 0) == totals["chargedCents"] == stripe_charged,
        "refunds": by_kind.get("refund", 0) == totals["refundedCents"] == stripe_refunded,
        "instalments": instalments_net == totals["netPaidCents"]
        and schedule["paidCents"] - schedule["refundedCents"] == instalments_net,
        "booking": booking["amountPaidCents"] - booking["amountRefundedCents"] == totals["netPaidCents"],
        "once": len(objects) == len(set(objects)),
    }
    broken = [name for name, ok in found.items() if not ok]
    if broken:
        if found["once"] and totals["refundedCents"] <= totals["chargedCents"]:
            figures.lost_payments += 1
        else:
            figures.duplicated_payments += 1
    assert not broken, (booking_id, broken, totals, schedule, booking["amountPaidCents"])


def reconciles_every_booking(http: httpx.Client, sandbox: Sandbox, shop: Shop, figures: Figures) -> int:
    """`reconciles` for every booking of the shop's tenant; how many there were."""
    items = bookings_of(http, shop)
    for booking in items:
        reconciles(http, sandbox, shop, booking["id"], figures)
    return len(items)


# --- the tests ----------------------------------------------------------------------------------


def test_a_balance_paid_by_two_sessions_at_once_keeps_one_and_refunds_the_other_in_full(
    stack: Stack, http: httpx.Client, shop: Shop, held_deliveries: Sandbox, figures: Figures
) -> None:
    sandbox = held_deliveries
    booking = confirmed_on_deposit(stack, http, sandbox, shop)
    ours = balance_checkout(http, figures, booking)["checkoutUrl"]
    theirs = raced_session(sandbox, shop, booking.booking_id, booking.email)
    for url in (ours, theirs):
        assert sandbox.pay(url).status_code == 200
    events = [
        sandbox.event_for(session_of(url), "checkout.session.completed")["id"] for url in (ours, theirs)
    ]
    # Both payments' events at the same moment, each with two retries beside it.
    deliver_at_once(sandbox, figures, [(events[0], 3), (events[1], 3)])

    statuses = balance_payments(stack, booking.booking_id)
    assert sorted(statuses.values()) == ["NOT_OWED", "PAID"], statuses
    refunded_url = {session_of(u): u for u in (ours, theirs)}[
        next(s for s, status in statuses.items() if status == "NOT_OWED")
    ]
    kept_url = theirs if refunded_url == ours else ours
    books = wait_for(
        lambda: (b := ledger_of(http, shop, booking.booking_id))["totals"]["refundedCents"] == BALANCE and b,
        "the second balance's refund",
    )
    totals = books["totals"]
    assert (totals["chargedCents"], totals["feeCents"]) == (
        DEPOSIT + 2 * BALANCE,
        DEPOSIT_FEE + 2 * BALANCE_FEE,
    )
    assert (totals["refundedCents"], totals["feeRefundedCents"]) == (BALANCE, BALANCE_FEE), totals
    assert sandbox.refunded_cents(intent_of(sandbox, refunded_url)) == BALANCE
    assert sandbox.refunded_cents(intent_of(sandbox, kept_url)) == 0
    schedule = booking_as_admin(http, shop, booking.booking_id)["schedule"]
    assert [i["status"] for i in schedule["instalments"]] == ["PAID", "PAID"]
    assert (schedule["paidCents"], schedule["outstandingCents"]) == (DEPOSIT + BALANCE, 0)
    wait_for(lambda: "booking.balance_receipt" in tags(stack, booking.email), "the balance receipt")
    time.sleep(1.0)  # the outbox's next rounds: nothing more for the couple
    assert tags(stack, booking.email) == ["booking.balance_receipt", "booking.confirmation"]
    reconciles(http, sandbox, shop, booking.booking_id, figures)


def test_the_balance_event_twenty_times_at_once_beside_the_deposits_has_one_effect_each(
    stack: Stack, http: httpx.Client, shop: Shop, held_deliveries: Sandbox, figures: Figures
) -> None:
    sandbox = held_deliveries
    booking = confirmed_on_deposit(stack, http, sandbox, shop)
    url = balance_checkout(http, figures, booking)["checkoutUrl"]
    assert sandbox.pay(url).status_code == 200
    balance = sandbox.event_for(session_of(url), "checkout.session.completed")["id"]
    # The deposit's event comes again, late, in the middle of the balance's copies.
    deliver_at_once(sandbox, figures, [(balance, 20), (booking.deposit_event["id"], 5)])

    books = ledger_of(http, shop, booking.booking_id)
    kinds = sorted(e["kind"] for e in books["entries"])
    assert kinds == ["application_fee", "application_fee", "charge", "charge"], kinds
    assert (books["totals"]["chargedCents"], books["totals"]["refundedCents"]) == (DEPOSIT + BALANCE, 0)
    assert balance_payments(stack, booking.booking_id) == {session_of(url): "PAID"}
    events = every_item(http, "/v1/tenant-admin/payments/events", shop.tenant.admin_headers())
    for event_id in (balance, booking.deposit_event["id"]):
        assert [e["status"] for e in events if e["stripeEventId"] == event_id] == ["PROCESSED"]
    admin_view = booking_as_admin(http, shop, booking.booking_id)
    assert admin_view["amountPaidCents"] == DEPOSIT + BALANCE
    wait_for(lambda: "booking.balance_receipt" in tags(stack, booking.email), "the balance receipt")
    time.sleep(1.0)
    assert tags(stack, booking.email) == ["booking.balance_receipt", "booking.confirmation"]
    reconciles(http, sandbox, shop, booking.booking_id, figures)


def test_a_balance_paid_after_the_business_cancelled_is_refunded_in_full(
    stack: Stack, http: httpx.Client, shop: Shop, held_deliveries: Sandbox, figures: Figures
) -> None:
    sandbox = held_deliveries
    booking = confirmed_on_deposit(stack, http, sandbox, shop)
    url = balance_checkout(http, figures, booking)["checkoutUrl"]
    # The couple pays the balance; its event is still on its way when the business cancels.
    assert sandbox.pay(url).status_code == 200
    late = sandbox.event_for(session_of(url), "checkout.session.completed")["id"]
    cancelled = http.post(
        f"/v1/tenant-admin/bookings/{booking.booking_id}/cancel",
        json={"refund": "none", "reason": "the venue closed"},
        headers={**shop.tenant.admin_headers(), "Idempotency-Key": str(uuid.uuid4())},
    )
    figures.request(CATEGORY, cancelled.status_code, ok=cancelled.status_code == 200)
    assert cancelled.status_code == 200, cancelled.text
    deliver_at_once(sandbox, figures, [(late, 3)])
    books = wait_for(
        lambda: (b := ledger_of(http, shop, booking.booking_id))["totals"]["refundedCents"] == BALANCE and b,
        "the late balance's refund",
    )
    assert (books["totals"]["chargedCents"], books["totals"]["feeRefundedCents"]) == (
        DEPOSIT + BALANCE,
        BALANCE_FEE,
    )
    assert sandbox.refunded_cents(intent_of(sandbox, url)) == BALANCE
    assert balance_payments(stack, booking.booking_id) == {session_of(url): "NOT_OWED"}
    view = booking_as_admin(http, shop, booking.booking_id)
    assert (view["status"], view["amountPaidCents"], view["amountRefundedCents"]) == ("CANCELLED", DEPOSIT, 0)
    assert [i["status"] for i in view["schedule"]["instalments"]] == ["PAID", "CANCELLED"]
    assert "booking.balance_receipt" not in tags(stack, booking.email)
    reconciles(http, sandbox, shop, booking.booking_id, figures)


def test_cancelling_closes_the_balance_page_so_it_cannot_be_paid(
    stack: Stack, http: httpx.Client, shop: Shop, sandbox: Sandbox, figures: Figures
) -> None:
    booking = confirmed_on_deposit(stack, http, sandbox, shop)
    url = balance_checkout(http, figures, booking)["checkoutUrl"]
    cancelled = http.post(
        f"/v1/tenant-admin/bookings/{booking.booking_id}/cancel",
        json={"refund": "full", "reason": "the couple called it off"},
        headers={**shop.tenant.admin_headers(), "Idempotency-Key": str(uuid.uuid4())},
    )
    figures.request(CATEGORY, cancelled.status_code, ok=cancelled.status_code == 200)
    assert cancelled.status_code == 200, cancelled.text
    assert sandbox.session(session_of(url))["status"] == "expired"
    assert sandbox.pay(url).status_code >= 400
    assert balance_payments(stack, booking.booking_id) == {session_of(url): "EXPIRED"}
    refused = http.post(f"/v1/bookings/{booking.booking_id}/pay", params={"token": booking.token}, json={})
    assert refused.status_code == 409, refused.text
    books = wait_for(
        lambda: (b := ledger_of(http, shop, booking.booking_id))["totals"]["refundedCents"] == DEPOSIT and b,
        "the deposit's refund",
    )
    assert books["totals"]["chargedCents"] == DEPOSIT
    reconciles(http, sandbox, shop, booking.booking_id, figures)


def test_every_booking_of_the_tenant_reconciles_with_stripe_and_its_instalments(
    stack: Stack, http: httpx.Client, shop: Shop, sandbox: Sandbox, figures: Figures
) -> None:
    # After the tests above in this module (pytest keeps a module's order): every booking they made.
    assert reconciles_every_booking(http, sandbox, shop, figures) >= 1


@pytest.mark.disruptive
def test_payments_killed_between_a_balance_payment_and_its_webhook_records_it_once_after_restart(
    stack: Stack, api: httpx.Client, make_tenant: MakeTenant, sandbox: Sandbox, figures: Figures
) -> None:
    shop = deposit_shop(api, make_tenant, sandbox, "balance-crash")
    sandbox.hold_deliveries()
    try:
        booking = confirmed_on_deposit(stack, api, sandbox, shop)
        url = balance_checkout(api, figures, booking)["checkoutUrl"]
        assert sandbox.pay(url).status_code == 200
        event = sandbox.event_for(session_of(url), "checkout.session.completed")["id"]
        # Payments and its webhook worker (which takes Stripe's webhooks) both die, every replica.
        both = [
            name
            for part in ("payments", WEBHOOK_WORKER)
            if part in stack.processes
            for name in stack.replicas_of(part)
        ]
        for name in both:
            stack.kill(name)
        try:
            # Stripe sends the held event now, while payments is down; it retries until answered.
            sandbox.release_deliveries()
            time.sleep(1.0)
        finally:
            for name in both:
                stack.start_process(name)
    finally:
        sandbox.release_deliveries()

    def balance_paid() -> bool:
        try:
            return int(booking_as_admin(api, shop, booking.booking_id)["schedule"]["outstandingCents"]) == 0
        except (AssertionError, httpx.HTTPError):
            return False

    wait_for(balance_paid, "Stripe's retry to record the balance", timeout=45, interval=0.5)
    # And Stripe replays it once more for good measure, several copies at once.
    replayed = sandbox.deliver(event, 5, concurrent=True)
    for attempt in replayed:
        figures.request("crashes", int(attempt["status_code"] or 0))
    assert [a["status_code"] for a in replayed] == [200] * 5, replayed
    attempts = sandbox.control("GET", f"/_sandbox/deliveries?event_id={event}")["deliveries"]
    for attempt in attempts:
        status = int(attempt["status_code"] or 0)
        answered = attempt["error"] is None and status in (200, 500, 502, 503)
        figures.request("crashes", status, ok=answered, outage=True)
        assert answered, attempt
    assert any(int(a["status_code"] or 0) != 200 for a in attempts), "the outage was never seen"

    assert balance_payments(stack, booking.booking_id) == {session_of(url): "PAID"}
    books = ledger_of(api, shop, booking.booking_id)
    assert (books["totals"]["chargedCents"], books["totals"]["refundedCents"]) == (DEPOSIT + BALANCE, 0)
    assert sorted(e["kind"] for e in books["entries"]).count("charge") == 2
    events = every_item(api, "/v1/tenant-admin/payments/events", shop.tenant.admin_headers())
    assert [e["status"] for e in events if e["stripeEventId"] == event] == ["PROCESSED"]
    assert not [e for e in events if e["status"] in ("RECEIVED", "FAILED")]
    wait_for(lambda: "booking.balance_receipt" in tags(stack, booking.email), "the balance receipt")
    time.sleep(1.0)
    assert tags(stack, booking.email) == ["booking.balance_receipt", "booking.confirmation"]
    assert envelope_problem(api.get("/v1/tenant-admin/bookings", headers=shop.tenant.admin_headers())) is None
    assert reconciles_every_booking(api, sandbox, shop, figures) == 1
