"""When Stripe forgets everything (the sandbox's data folder wiped: Stripe's "delete all test data"),
MAIS says what happened and lets the business recover, instead of answering 5xx: checkouts answer
TENANT_NOT_ONBOARDED until the business onboards again, and a refund of a payment Stripe no longer knows
is refused clearly with nothing changed.

It wipes the suite's own sandbox, so it runs with the disruptive tests, after the rest of the suite."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.conftest import MakeTenant
from tests.reliability.shop import (
    Sandbox,
    a_free_day,
    booking_as_admin,
    checkout,
    envelope_problem,
    onboard,
    open_shop,
    paid_booking,
    wait_for,
)
from tools.stack.launcher import Stack

pytestmark = pytest.mark.disruptive


@pytest.fixture(scope="module")
def sandbox(stack: Stack) -> Iterator[Sandbox]:
    running = Sandbox(stack)
    yield running
    running.close()


def _wipe_the_sandbox(stack: Stack) -> None:
    stack.processes["stripe-sandbox"].stop()
    shutil.rmtree(stack.sandbox_state_dir)
    stack.start_process("stripe-sandbox")

    def answers() -> bool:
        try:
            return httpx.get(f"{stack.sandbox_url}/_sandbox/health", timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(answers, "the wiped sandbox to answer", timeout=30)


def test_after_stripe_forgets_everything_the_business_is_told_to_re_onboard_and_can(
    stack: Stack, api: httpx.Client, make_tenant: MakeTenant, sandbox: Sandbox
) -> None:
    shop = open_shop(api, make_tenant, "wiped")
    before = onboard(api, sandbox, shop)
    paid = paid_booking(api, sandbox, shop)

    _wipe_the_sandbox(stack)

    refused = checkout(api, shop, a_free_day())
    assert envelope_problem(refused) is None
    assert (refused.status_code, refused.json()["error"]) == (409, "TENANT_NOT_ONBOARDED"), refused.text
    # The charge is gone from Stripe: the refund is refused, clearly, and the booking stays as it was.
    refund = api.post(
        f"/v1/tenant-admin/bookings/{paid['bookingId']}/cancel",
        json={"reason": "Rain", "refund": "full"},
        headers=shop.tenant.admin_headers(),
    )
    assert envelope_problem(refund) is None
    assert refund.status_code == 409 and refund.json()["error"] == "FAILED_PRECONDITION", refund.text
    assert "cannot be refunded" in refund.json()["message"]
    assert booking_as_admin(api, shop, paid["bookingId"])["status"] == "CONFIRMED"

    after = onboard(api, sandbox, shop)
    assert after != before
    # Payments reads a tenant's Connect account afresh within a second (checkout's tenant cache).
    day = a_free_day()
    again = wait_for(
        lambda: (answer := checkout(api, shop, day)).status_code == 201 and answer, "a checkout again"
    )
    assert sandbox.pay(again.json()["checkoutUrl"]).status_code == 200
    wait_for(
        lambda: booking_as_admin(api, shop, again.json()["bookingId"])["status"] == "CONFIRMED",
        "the new payment to confirm the booking",
    )
    new_session = sandbox.api("/v1/checkout/sessions/" + again.json()["checkoutUrl"].rsplit("/", 1)[-1])
    intent = sandbox.api(f"/v1/payment_intents/{new_session['payment_intent']}")
    assert intent["transfer_data"]["destination"] == after
