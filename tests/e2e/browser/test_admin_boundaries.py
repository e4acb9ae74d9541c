"""What a tenant admin's dashboard will not open: the platform admin's pages read "Not found", and another
business's booking, opened by its id, reads "Booking not found" and shows nothing of it (the API answers 404
for it, as for any id the tenant does not own)."""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from tests.e2e.browser.admin import sign_in
from tests.e2e.browser.conftest import Shop, couple_email
from tests.e2e.browser.pages import assert_accessible, screenshots
from tests.e2e.conftest import MakeTenant
from tools.stack.launcher import Stack


def test_a_tenant_admin_cannot_open_platform_pages_or_another_businesss_booking(
    page: Page, stack: Stack, shop: Shop, make_tenant: MakeTenant
) -> None:
    # Another business's booking: a couple holds a date of the shared shop.
    couple = couple_email()
    with httpx.Client(base_url=stack.url, timeout=15.0) as http:
        held = http.post(
            "/v1/bookings/checkout",
            json={
                "packageId": next(iter(shop.packages.values()))["id"],
                "eventDate": shop.next_date().isoformat(),
                "coupleName": "Someone Else",
                "email": couple,
            },
            headers=shop.tenant.public_headers(),
        )
    assert held.status_code == 201, held.text
    theirs = held.json()["bookingId"]

    mine = make_tenant("admin-bounds", onboarded=False)
    sign_in(page, stack, mine.admin_email, mine.admin_password)

    for path in ("/admin/platform", "/admin/platform/stats", f"/admin/platform/tenants/{shop.tenant.id}"):
        page.goto(f"{stack.url}{path}")
        expect(page.get_by_role("heading", level=1, name="Not found")).to_be_visible()
        expect(page.get_by_role("main")).not_to_contain_text(shop.name)
    nav = page.get_by_role("navigation", name="Dashboard")
    expect(nav.get_by_role("link", name="Overview")).to_be_visible()
    expect(nav.get_by_role("link", name="Tenants")).to_have_count(0)

    page.goto(f"{stack.url}/admin/bookings/{theirs}")
    expect(page.get_by_role("heading", level=1, name="Booking not found")).to_be_visible()
    main = page.get_by_role("main")
    expect(main).not_to_contain_text("Someone Else")
    expect(main).not_to_contain_text(couple)
    assert_accessible(page, "a booking the business does not own")
    screenshots(page, "admin-booking-not-found")
