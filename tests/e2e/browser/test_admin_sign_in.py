"""A tenant admin signs in to the dashboards with the keyboard alone: the address they opened sends them
to sign-in, Tab reaches the fields and Enter submits, and they land back where they were going, on the
overview, with the business's name in the header. axe-core finds nothing serious on either page, and
both are kept as screenshots."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.browser.pages import assert_accessible, screenshots
from tests.e2e.conftest import MakeTenant
from tools.stack.launcher import Stack


def test_a_tenant_admin_signs_in_with_the_keyboard(page: Page, stack: Stack, make_tenant: MakeTenant) -> None:
    tenant = make_tenant("admin-sign-in", onboarded=False)
    page.goto(f"{stack.url}/admin/bookings")

    expect(page.get_by_role("heading", level=1, name="Sign in")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/admin/sign-in\?next=%2Fadmin%2Fbookings$"))
    assert_accessible(page, "the sign-in page")
    screenshots(page, "admin-sign-in")

    # A wrong password first: the error is said in words and the admin stays on the page.
    page.keyboard.press("Tab")
    expect(page.get_by_label("Email")).to_be_focused()
    page.keyboard.type(tenant.admin_email)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type("not-the-password-1")
    page.keyboard.press("Enter")
    expect(page.get_by_role("alert").filter(has_text="do not match")).to_be_visible()
    expect(page.get_by_label("Password")).to_be_focused()

    page.keyboard.type(tenant.admin_password)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1, name="Bookings")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/admin/bookings$"))
    cookies = {c["name"]: c for c in page.context.cookies(stack.url)}
    assert cookies["mais_admin"]["httpOnly"] is True

    # Focus starts on the page's heading; the overview from the side nav, with the keyboard.
    expect(page.get_by_role("heading", level=1, name="Bookings")).to_be_focused()
    nav = page.get_by_role("navigation", name="Dashboard")
    overview = nav.get_by_role("link", name="Overview")
    for _ in range(10):
        page.keyboard.press("Shift+Tab")
        if overview.evaluate("(link) => link === document.activeElement"):
            break
    expect(overview).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1, name="Overview")).to_be_focused()
    expect(page).to_have_url(re.compile(r"/admin/$"))
    expect(page.get_by_role("banner")).to_contain_text(f"Tenant {tenant.slug}")
    expect(page.get_by_role("main")).to_be_visible()
    # After a reload (still signed in), the skip link is the first stop and lands in the main landmark.
    page.reload()
    expect(page.get_by_role("heading", level=1, name="Overview")).to_be_visible()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("main")).to_be_focused()
    assert_accessible(page, "the overview")
    screenshots(page, "admin-overview")
