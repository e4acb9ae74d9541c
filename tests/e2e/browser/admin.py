"""What the dashboards' browser tests share: signing a page's context in (the session cookie, as the
sign-in page gets it, or through the sign-in form itself), a booking a couple paid for (through the API
and the Stripe sandbox, as the e2e suites book), so that a dashboard has something to show, and the
steps of a page: open it from the side nav, check it (axe-core and the screenshots)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from tests.e2e.browser.pages import assert_accessible, screenshots
from tests.e2e.conftest import TenantHandle, eventually
from tools.stack.launcher import Stack

# The webhook's round trip (sandbox → Envoy → gateway → payments → booking) on a busy machine.
CONFIRMATION_TIMEOUT_S = 30.0


def sign_in(page: Page, stack: Stack, email: str, password: str) -> dict[str, Any]:
    """Signs the page's browser context in (`POST /v1/auth/session`: the HttpOnly cookie every tab of
    the context then sends), without going through the sign-in page; returns the session's answer
    (role, csrfToken, ...)."""
    answer = page.request.post(f"{stack.url}/v1/auth/session", data={"email": email, "password": password})
    assert answer.status == 200, answer.text()
    return dict(answer.json())


def sign_in_as(page: Page, stack: Stack, tenant: TenantHandle) -> dict[str, Any]:
    """Signs the page's context in as `tenant`'s admin."""
    return sign_in(page, stack, tenant.admin_email, tenant.admin_password)


def open_sign_in(page: Page, stack: Stack) -> None:
    """Opens /admin/sign-in."""
    page.goto(f"{stack.url}/admin/sign-in")
    expect(page.get_by_role("heading", level=1, name="Sign in")).to_be_visible()


def sign_in_with_the_form(page: Page, email: str, password: str) -> None:
    """On the sign-in page (`open_sign_in`): signs in with the form and lands on the overview."""
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="Overview")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/admin/$"))


def open_from_nav(page: Page, link: str, heading: str | None = None) -> None:
    """Follows the side nav's link `link` and waits for the page's heading (`heading`, else `link`)."""
    page.get_by_role("navigation", name="Dashboard").get_by_role("link", name=link, exact=True).click()
    expect(page.get_by_role("heading", level=1, name=heading or link)).to_be_visible()


def check_admin_page(page: Page, name: str, what: str) -> None:
    """axe-core on the dashboard page as it is now, then its screenshots as `name`."""
    assert_accessible(page, what)
    screenshots(page, name)


def confirmed_booking(
    stack: Stack,
    tenant: TenantHandle,
    *,
    package_id: str,
    event_date: dt.date,
    couple_name: str,
    email: str,
    add_on_ids: tuple[str, ...] = (),
    starts_at: str | None = None,
) -> dict[str, Any]:
    """A booking `tenant` sold and its couple paid for: a checkout through the public API, paid on the
    sandbox's hosted page (its form's own target), then CONFIRMED once the webhook came back. Returns
    the tenant admin's view of the booking. `starts_at` (RFC 3339) books a time-slot package's start."""
    body: dict[str, Any] = {
        "packageId": package_id,
        "eventDate": event_date.isoformat(),
        "coupleName": couple_name,
        "email": email,
    }
    if add_on_ids:
        body["addOnIds"] = list(add_on_ids)
    if starts_at:
        body["startsAt"] = starts_at
    with httpx.Client(base_url=stack.url, timeout=15.0) as http:
        held = http.post("/v1/bookings/checkout", json=body, headers=tenant.public_headers())
        assert held.status_code == 201, held.text
        checkout = held.json()
        paid = httpx.post(
            f"{checkout['checkoutUrl']}/pay",
            headers={"Accept": "application/json"},
            timeout=15.0,
            trust_env=False,
        )
        assert paid.status_code == 200, paid.text
        path = f"/v1/tenant-admin/bookings/{checkout['bookingId']}"

        def confirmed() -> dict[str, Any] | None:
            booking = http.get(path, headers=tenant.admin_headers()).json()
            return booking if booking.get("status") == "CONFIRMED" else None

        booking = eventually(confirmed, CONFIRMATION_TIMEOUT_S, 0.25)
    assert booking, f"booking {checkout['bookingId']} was never confirmed"
    return booking
