"""What the browser tests do on the dashboards (/admin/): sign in (through the form, or straight through
the session API when signing in is not what the test is about), open a page from the side nav, and
check a page (axe-core and the screenshots)."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.browser.pages import assert_accessible, screenshots
from tools.stack.launcher import Stack


def sign_in_by_api(page: Page, stack: Stack, email: str, password: str) -> None:
    """The page's context gets an admin session cookie from `POST /v1/auth/session`, as the sign-in
    form would: for tests about what comes after signing in."""
    signed_in = page.request.post(f"{stack.url}/v1/auth/session", data={"email": email, "password": password})
    assert signed_in.status == 200, signed_in.text()


def open_sign_in(page: Page, stack: Stack) -> None:
    """Opens /admin/sign-in."""
    page.goto(f"{stack.url}/admin/sign-in")
    expect(page.get_by_role("heading", level=1, name="Sign in")).to_be_visible()


def sign_in(page: Page, email: str, password: str) -> None:
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
