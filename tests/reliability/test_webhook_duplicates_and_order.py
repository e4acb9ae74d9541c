"""Money and bookings agree however Stripe delivers: one event many times at once, events out of order,
and a payment that arrives after its hold ran out and the date was sold again. In every case: one
booking per date, a ledger that reconciles with Stripe, and each email sent once."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.conftest import MakeTenant
from tests.reliability.figures import Figures
from tests.reliability.shop import (
    Sandbox,
    Shop,
    a_free_day,
    booking_as_admin,
    count_settlement,
    envelope_problem,
    every_item,
    expired_twin,
    live_bookings,
    mails_to,
    onboard,
    open_shop,
    post_webhook,
    session_of,
    settlement,
    wait_for,
)
from tools.stack.launcher import Stack

CATEGORY = "webhooks"


@pytest.fixture(scope="module")
def sandbox(stack: Stack) -> Iterator[Sandbox]:
    running = Sandbox(stack)
    yield running
    running.close()


@pytest.fixture
def held_deliveries(sandbox: Sandbox) -> Iterator[Sandbox]:
    """Stripe's deliveries are queued during the test (the test delivers what it wants, when it wants)
    and released at its end."""
    sandbox.hold_deliveries()
    try:
        yield sandbox
    finally:
        sandbox.release_deliveries()


@pytest.fixture(scope="module")
def shop(api: httpx.Client, make_tenant: MakeTenant, sandbox: Sandbox) -> Shop:
    """A tenant onboarded on Stripe Connect, so every payment carries the platform's fee as well."""
    opened = open_shop(api, make_tenant, "hooks")
    onboard(api, sandbox, opened)
    return opened


def _start(http: httpx.Client, shop: Shop, day: str) -> tuple[dict[str, str], str]:
    body = shop.checkout_body(day)
    answer = http.post("/v1/bookings/checkout", json=body, headers=shop.tenant.public_headers())
    assert answer.status_code == 201, answer.text
    return answer.json(), body["email"]


def _deliver(http: httpx.Client, stack: Stack, figures: Figures, event: dict[str, object]) -> httpx.Response:
    answer = post_webhook(http, stack, event)
    figures.request(
        CATEGORY, answer.status_code, ok=answer.status_code == 200 and envelope_problem(answer) is None
    )
    assert answer.status_code == 200, answer.text
    return answer


def _tags(stack: Stack, address: str) -> list[str]:
    return sorted(str(m["X-MAIS-Tag"]) for m in mails_to(stack, address))


def _event_rows(http: httpx.Client, shop: Shop, stripe_event_id: str) -> list[dict[str, object]]:
    events = every_item(http, "/v1/tenant-admin/payments/events", shop.tenant.admin_headers())
    return [e for e in events if e["stripeEventId"] == stripe_event_id]


def test_one_event_delivered_twenty_times_at_once_confirms_once_charges_once_and_mails_once(
    stack: Stack, http: httpx.Client, shop: Shop, held_deliveries: Sandbox, figures: Figures
) -> None:
    sandbox = held_deliveries
    started, couple = _start(http, shop, a_free_day())
    session = session_of(started["checkoutUrl"])
    assert sandbox.pay(started["checkoutUrl"]).status_code == 200
    event = sandbox.event_for(session, "checkout.session.completed")
    attempts = sandbox.deliver(event["id"], 20, concurrent=True)
    for attempt in attempts:
        figures.request(CATEGORY, int(attempt["status_code"] or 0))
    statuses = sorted(int(a["status_code"] or 0) for a in attempts)
    assert all(code == 200 for code in statuses), statuses
    booking = booking_as_admin(http, shop, started["bookingId"])
    assert booking["status"] == "CONFIRMED"
    settled = settlement(http, sandbox, shop, started["bookingId"], session)
    count_settlement(figures, settled)
    assert settled.confirmed and settled.duplicate_entries == 0, settled
    rows = _event_rows(http, shop, event["id"])
    assert [(r["status"]) for r in rows] == ["PROCESSED"], rows
    wait_for(lambda: _tags(stack, couple), "the confirmation email")
    assert _tags(stack, couple) == ["booking.confirmation"]


def test_an_expiry_arriving_before_the_payment_of_a_still_free_date_keeps_the_booking(
    stack: Stack, http: httpx.Client, shop: Shop, held_deliveries: Sandbox, figures: Figures
) -> None:
    sandbox = held_deliveries
    day = a_free_day()
    started, couple = _start(http, shop, day)
    session = session_of(started["checkoutUrl"])
    assert sandbox.pay(started["checkoutUrl"]).status_code == 200
    completed = sandbox.event_for(session, "checkout.session.completed")
    _deliver(http, stack, figures, expired_twin(completed))
    assert booking_as_admin(http, shop, started["bookingId"])["status"] == "RELEASED"
    _deliver(http, stack, figures, completed)
    settled = settlement(http, sandbox, shop, started["bookingId"], session)
    count_settlement(figures, settled)
    # The money is there and nobody else took the date: the couple keeps it rather than a refund.
    assert settled.confirmed, settled
    assert len(live_bookings(http, shop, day)) == 1
    wait_for(lambda: _tags(stack, couple), "the confirmation email")
    assert _tags(stack, couple) == ["booking.confirmation"]


def test_an_expiry_arriving_after_the_payment_changes_nothing(
    stack: Stack, http: httpx.Client, shop: Shop, held_deliveries: Sandbox, figures: Figures
) -> None:
    sandbox = held_deliveries
    day = a_free_day()
    started, couple = _start(http, shop, day)
    session = session_of(started["checkoutUrl"])
    assert sandbox.pay(started["checkoutUrl"]).status_code == 200
    completed = sandbox.event_for(session, "checkout.session.completed")
    _deliver(http, stack, figures, completed)
    _deliver(http, stack, figures, expired_twin(completed))
    settled = settlement(http, sandbox, shop, started["bookingId"], session)
    count_settlement(figures, settled)
    assert settled.confirmed, settled
    assert len(live_bookings(http, shop, day)) == 1
    wait_for(lambda: _tags(stack, couple), "the confirmation email")
    assert _tags(stack, couple) == ["booking.confirmation"]


def test_a_payment_for_a_hold_that_expired_and_was_resold_is_refunded_in_full_once(
    stack: Stack, http: httpx.Client, shop: Shop, held_deliveries: Sandbox, figures: Figures
) -> None:
    sandbox = held_deliveries
    day = a_free_day()
    first, first_couple = _start(http, shop, day)
    first_session = session_of(first["checkoutUrl"])
    assert sandbox.pay(first["checkoutUrl"]).status_code == 200
    late = sandbox.event_for(first_session, "checkout.session.completed")
    # The first couple's hold runs out before their payment's event arrives, and the date is sold again.
    _deliver(http, stack, figures, expired_twin(late))
    second, second_couple = _start(http, shop, day)
    second_session = session_of(second["checkoutUrl"])
    assert sandbox.pay(second["checkoutUrl"]).status_code == 200
    _deliver(http, stack, figures, sandbox.event_for(second_session, "checkout.session.completed"))
    # Now the late event, and Stripe's retries of it.
    for _ in range(3):
        _deliver(http, stack, figures, late)
    lost = settlement(http, sandbox, shop, first["bookingId"], first_session)
    kept = settlement(http, sandbox, shop, second["bookingId"], second_session)
    for settled in (lost, kept):
        count_settlement(figures, settled)
    assert kept.confirmed, kept
    assert lost.refunded_in_full, lost
    live = live_bookings(http, shop, day)
    assert [b["id"] for b in live] == [second["bookingId"]]
    wait_for(lambda: _tags(stack, first_couple) and _tags(stack, second_couple), "both couples' emails")
    assert _tags(stack, first_couple) == ["booking.hold_lost_refund"]
    assert _tags(stack, second_couple) == ["booking.confirmation"]
