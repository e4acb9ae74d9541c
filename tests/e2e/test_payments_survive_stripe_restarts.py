"""Payments keep working when the Stripe sandbox restarts, and recover when Stripe forgets a tenant's
Connect account: through Envoy, with the sandbox as a real process that is SIGKILLed and started again."""

from __future__ import annotations

import time

import httpx

from tests.e2e.conftest import MakeTenant
from tests.e2e.test_payments_flows import (
    Sandbox,
    a_free_day,
    checkout,
    connect,
    ledger,
    make_shop,
    sandbox,
    started,
    status_becomes,
    wait_until,
)
from tools.stack.launcher import Stack

__all__ = ["sandbox"]


def _restart_sandbox(stack: Stack) -> None:
    """SIGKILL the sandbox, as a crash or a stopped `make run` would, and start it again."""
    stack.kill("stripe-sandbox")
    stack.start_process("stripe-sandbox")

    def answers() -> bool:
        try:
            return httpx.get(f"{stack.sandbox_url}/_sandbox/health", timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(answers, "the restarted sandbox to answer", timeout=30)


def _onboard_through_link(http: httpx.Client, shop_headers: dict[str, str]) -> tuple[str, str]:
    """Start onboarding from the tenant-admin API and finish it on the hosted onboarding page."""
    answer = http.post("/v1/tenant-admin/stripe/connect", headers=shop_headers)
    assert answer.status_code == 200, answer.text
    account, url = str(answer.json()["stripeAccountId"]), str(answer.json()["onboardingUrl"])
    with httpx.Client(timeout=10.0, trust_env=False) as browser:
        assert browser.get(url).status_code == 200
        done = browser.post(f"{url}/complete", headers={"Accept": "application/json"})
    assert done.status_code == 200 and done.json()["onboarded"] is True, done.text
    wait_until(
        lambda: (
            http.get("/v1/tenant-admin/stripe/connect", headers=shop_headers).json()["connectState"]
            == "onboarded"
        ),
        "onboarding to be recorded",
    )
    return account, url


def test_after_the_sandbox_restarts_checkouts_refunds_old_urls_and_onboarding_still_work(
    http: httpx.Client, stack: Stack, sandbox: Sandbox, make_tenant: MakeTenant
) -> None:
    shop = make_shop(stack, make_tenant, onboarded=False)
    account = connect(http, sandbox, shop)
    paid = started(http, shop, a_free_day())
    sandbox.pay(paid["checkoutUrl"])
    status_becomes(http, shop, paid["bookingId"], "CONFIRMED")
    left_open = started(http, shop, a_free_day())

    _restart_sandbox(stack)

    # A new checkout pays the same Connect account (no "No such destination").
    fresh = checkout(http, shop, a_free_day())
    assert fresh.status_code == 201, fresh.text
    sandbox.pay(fresh.json()["checkoutUrl"])
    status_becomes(http, shop, fresh.json()["bookingId"], "CONFIRMED")
    assert ledger(http, sandbox, shop, fresh.json()["bookingId"])["totals"]["feeCents"] > 0
    # The checkout URL handed out before the restart still answers, and can still be paid.
    with httpx.Client(timeout=10.0, trust_env=False) as browser:
        assert browser.get(left_open["checkoutUrl"]).status_code == 200
    sandbox.pay(left_open["checkoutUrl"])
    status_becomes(http, shop, left_open["bookingId"], "CONFIRMED")
    # The booking paid before the restart is cancelled with its refund, and Stripe agrees.
    cancelled = http.post(
        f"/v1/tenant-admin/bookings/{paid['bookingId']}/cancel",
        json={"reason": "Moved", "refund": "full"},
        headers={**shop.tenant.admin_headers(), "Idempotency-Key": f"restart-{time.monotonic_ns()}"},
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["refund"]["totalRefundedCents"] == shop.total_cents
    assert ledger(http, sandbox, shop, paid["bookingId"])["totals"]["netPaidCents"] == 0
    # Onboarding can be asked for again: the same account, a fresh link that works.
    again = http.post("/v1/tenant-admin/stripe/connect", headers=shop.tenant.admin_headers())
    assert again.status_code == 200, again.text
    assert again.json()["stripeAccountId"] == account
    with httpx.Client(timeout=10.0, trust_env=False) as browser:
        assert browser.get(again.json()["onboardingUrl"]).status_code == 200


def test_when_stripe_forgets_the_tenants_account_checkout_says_re_onboard_and_re_onboarding_heals_it(
    http: httpx.Client, stack: Stack, sandbox: Sandbox, make_tenant: MakeTenant
) -> None:
    shop = make_shop(stack, make_tenant)
    headers = shop.tenant.admin_headers()
    forgotten, _ = _onboard_through_link(http, headers)
    # The account is deleted on Stripe's side (the dashboard, or the sandbox's data wiped).
    deleted = sandbox.http.delete(f"/v1/accounts/{forgotten}", auth=("sk_test_e2e", ""))
    assert deleted.status_code == 200 and deleted.json()["deleted"] is True, deleted.text

    day = a_free_day()
    refused = checkout(http, shop, day)
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"] == "TENANT_NOT_ONBOARDED"
    assert "onboard" in refused.json()["message"]
    # Nothing is held for the couple, and the tenant is told to onboard again.
    available = http.get("/v1/availability", params={"date": day}, headers=shop.tenant.public_headers())
    assert available.json()["available"] is True
    state = http.get("/v1/tenant-admin/stripe/connect", headers=headers).json()
    assert state["connectState"] == "not_started"

    replacement, _ = _onboard_through_link(http, headers)
    assert replacement != forgotten
    # Payments reads a tenant's Connect account afresh within a second (checkout's tenant cache).
    healed = wait_until(
        lambda: (answer := checkout(http, shop, day)).status_code == 201 and answer, "a healed checkout"
    )
    sandbox.pay(healed.json()["checkoutUrl"])
    status_becomes(http, shop, healed.json()["bookingId"], "CONFIRMED")
    intent = sandbox.get(
        "/v1/checkout/sessions/" + healed.json()["checkoutUrl"].rstrip("/").rsplit("/", 1)[-1]
    )["payment_intent"]
    assert sandbox.get(f"/v1/payment_intents/{intent}")["transfer_data"]["destination"] == replacement
