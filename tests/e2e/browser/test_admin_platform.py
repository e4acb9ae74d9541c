"""The platform admin in the dashboard: creates a business (its keys shown once), changes its commission,
deactivates it, after which its booking page says it takes no bookings, and the statistics page counts it."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from tests.e2e.browser.admin import sign_in
from tests.e2e.browser.pages import assert_accessible, screenshots
from tests.e2e.conftest import PLATFORM_ADMIN_EMAIL, PLATFORM_ADMIN_PASSWORD, eventually
from tools.stack.launcher import Stack


def _stats(http: httpx.Client, token: str) -> dict[str, Any]:
    answer = http.get("/v1/admin/stats", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_the_platform_admin_creates_prices_and_deactivates_a_business(
    page: Page, stack: Stack, platform_token: str
) -> None:
    slug = f"rosewood-{secrets.token_hex(3)}"
    name = f"Rosewood Barn {slug[-6:]}"
    with httpx.Client(base_url=stack.url, timeout=10.0) as http:
        before = _stats(http, platform_token)["tenants"]
        sign_in(page, stack, PLATFORM_ADMIN_EMAIL, PLATFORM_ADMIN_PASSWORD)

        page.goto(f"{stack.url}/admin/platform")
        expect(page.get_by_role("heading", level=1, name="Tenants")).to_be_visible()
        page.get_by_label("Business name").fill(name)
        page.get_by_label("Slug", exact=True).fill(slug)
        page.get_by_label("Commission (%)").fill("12.5")
        page.get_by_label("First admin").fill(f"owner@{slug}.example")
        page.get_by_role("button", name="Create the business").click()
        expect(page.get_by_text(f"{name} was created.")).to_be_visible()
        keys = page.get_by_label("The new business's keys")
        expect(keys).to_contain_text("pk_live_")
        assert_accessible(page, "the tenants page with a new business's keys")
        screenshots(page, "admin-platform-tenants")

        # The list is paged by slug and other tests' businesses fill its first page: find it by name.
        page.get_by_label("Search by name, slug or admin email").fill(name)
        page.get_by_role("link", name=name).click()
        expect(page.get_by_role("heading", level=1, name=name)).to_be_visible()
        page.get_by_label("Commission (%)").fill("15")
        page.get_by_role("button", name="Save the commission").click()
        expect(page.get_by_text("The commission is now 15% for new bookings.")).to_be_visible()
        listed = http.get(
            "/v1/admin/tenants", params={"limit": 100}, headers={"Authorization": f"Bearer {platform_token}"}
        ).json()["items"]
        created = next(t for t in listed if t["slug"] == slug)
        assert float(created["commissionPercent"]) == 15.0 and created["active"] is True

        page.get_by_role("button", name=f"Deactivate {name}").click()
        page.get_by_role("button", name="Yes, deactivate").click()
        expect(page.get_by_text(f"{name} was deactivated.")).to_be_visible()

        # Its booking page says so (within the gateways' short tenant cache).
        couple = page.context.new_page()

        def unavailable() -> bool:
            couple.goto(f"{stack.url}/book/{slug}")
            return couple.get_by_role("heading", level=1, name="Booking is not available").count() == 1

        assert eventually(unavailable, 10.0, 0.5)

        after = _stats(http, platform_token)["tenants"]
        assert after["total"] == before["total"] + 1
        page.goto(f"{stack.url}/admin/platform/stats")
        counts = page.get_by_role("region", name="Businesses")
        expect(counts.locator("dt:text-is('All') + dd")).to_have_text(str(after["total"]))
        expect(counts.locator("dt:text-is('Active') + dd")).to_have_text(str(after["active"]))
        assert_accessible(page, "the platform statistics")
        screenshots(page, "admin-platform-stats")
