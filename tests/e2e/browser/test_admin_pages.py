"""Every page of the dashboards, one test each: it opens, loads without an error, axe-core finds no serious
or critical violation on it, and it is kept as screenshots at 360 and 1280 px (`admin-page-<name>-<width>.png`
under build/artifacts/screenshots). The signed-out pages, the tenant admin's pages of a business with a paid
booking (so that the overview, lists and ledger have something in them), the platform admin's pages, and the
forms that open on a page (the cancel form with its refund choices, a new package, the invitation)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.browser.admin import confirmed_booking, sign_in, sign_in_as
from tests.e2e.browser.conftest import MOBILE, couple_email
from tests.e2e.browser.pages import assert_accessible, no_horizontal_scroll, screenshots, settle
from tests.e2e.conftest import PLATFORM_ADMIN_EMAIL, PLATFORM_ADMIN_PASSWORD, MakeTenant, TenantHandle
from tools.stack.launcher import Stack

COUPLE = "Maya & Theo Lindqvist"


@dataclass
class Business:
    """A business with something to show: two packages, an add-on, a blackout and a paid booking."""

    tenant: TenantHandle
    name: str
    booking: dict[str, Any]


def _made(http: httpx.Client, tenant: TenantHandle, path: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = http.post(path, json=body, headers=tenant.admin_headers())
    assert answer.status_code == 201, f"{path}: {answer.status_code} {answer.text}"
    return dict(answer.json())


@pytest.fixture(scope="module")
def business(stack: Stack, make_tenant: MakeTenant) -> Business:
    name = "Juniper Hill Estate"
    tenant = make_tenant("admin-pages", name=name)
    with httpx.Client(base_url=stack.url, timeout=10.0) as http:
        garden = _made(
            http,
            tenant,
            "/v1/tenant-admin/packages",
            {
                "slug": "garden-ceremony",
                "title": "Garden ceremony",
                "description": "Ceremony under the old oak, drinks on the lawn, up to 80 guests.",
                "priceCents": 385_000,
            },
        )
        _made(
            http,
            tenant,
            "/v1/tenant-admin/packages",
            {"slug": "full-weekend", "title": "Full weekend", "priceCents": 1_240_000, "sortOrder": 1},
        )
        flowers = _made(
            http,
            tenant,
            "/v1/tenant-admin/add-ons",
            {
                "slug": "flowers",
                "title": "Seasonal flowers",
                "priceCents": 65_000,
                "packageIds": [garden["id"]],
            },
        )
        today = dt.date.today()
        _made(
            http,
            tenant,
            "/v1/tenant-admin/blackouts",
            {"date": (today + dt.timedelta(days=12)).isoformat(), "reason": "Estate closed"},
        )
    booking = confirmed_booking(
        stack,
        tenant,
        package_id=garden["id"],
        add_on_ids=(flowers["id"],),
        event_date=today + dt.timedelta(days=9),
        couple_name=COUPLE,
        email=couple_email(),
    )
    return Business(tenant=tenant, name=name, booking=booking)


def _loaded(page: Page) -> None:
    """Nothing is loading any more and no loading error is shown."""
    main = page.get_by_role("main")
    expect(main).to_be_visible()
    expect(main.locator(".loading")).to_have_count(0)
    expect(main.locator(".alert:not(.alert-empty)")).to_have_count(0)


Open = Callable[[Page], None]


def _open_cancel_form(page: Page) -> None:
    page.get_by_role("button", name="Cancel this booking…").click()
    form = page.get_by_role("form", name="Cancel the booking")
    form.get_by_role("radio", name="An amount").check()
    expect(form.get_by_label(re.compile(r"^Amount to refund"))).to_be_visible()


def _open_new_package(page: Page) -> None:
    page.get_by_role("button", name="New package", exact=True).click()
    expect(page.get_by_label("Title", exact=True)).to_be_visible()


def _type_an_invitation(page: Page) -> None:
    page.get_by_label("Email", exact=True).fill("new-admin@juniper-hill.example")


@dataclass(frozen=True)
class AdminPage:
    name: str
    path: str  # {booking} and {tenant} are filled in
    heading: str | re.Pattern[str]
    who: str  # "nobody", "tenant" or "platform"
    nav: str | None = None  # the side nav's entry marked as the current page
    then: Open | None = None


PAGES = [
    AdminPage("sign-in", "/admin/sign-in", "Sign in", "nobody"),
    AdminPage("forgot-password", "/admin/forgot-password", "Forgot password", "nobody"),
    AdminPage(
        "reset-password", "/admin/reset-password#token=from-the-email", "Choose a new password", "nobody"
    ),
    AdminPage("set-password", "/admin/set-password#token=from-the-invitation", "Set your password", "nobody"),
    AdminPage("overview", "/admin/", "Overview", "tenant", "Overview"),
    AdminPage("bookings", "/admin/bookings", "Bookings", "tenant", "Bookings"),
    AdminPage(
        "booking",
        "/admin/bookings/{booking}",
        re.compile("^" + re.escape(COUPLE) + ", "),
        "tenant",
        "Bookings",
    ),
    AdminPage(
        "booking-cancel",
        "/admin/bookings/{booking}",
        re.compile("^" + re.escape(COUPLE) + ", "),
        "tenant",
        "Bookings",
        _open_cancel_form,
    ),
    AdminPage("calendar", "/admin/calendar", "Calendar", "tenant", "Calendar"),
    AdminPage("catalog", "/admin/catalog", "Catalog", "tenant", "Catalog"),
    AdminPage("catalog-new-package", "/admin/catalog", "Catalog", "tenant", "Catalog", _open_new_package),
    AdminPage("settings", "/admin/settings", "Settings", "tenant", "Settings"),
    AdminPage("payments", "/admin/payments", "Payment events", "tenant", "Payments"),
    AdminPage("team", "/admin/team", "Team", "tenant", "Team"),
    AdminPage("team-invite", "/admin/team", "Team", "tenant", "Team", _type_an_invitation),
    AdminPage("exports", "/admin/exports", "Exports", "tenant", "Exports"),
    AdminPage("platform-tenants", "/admin/platform", "Tenants", "platform", "Tenants"),
    AdminPage(
        "platform-tenant", "/admin/platform/tenants/{tenant}", "Juniper Hill Estate", "platform", "Tenants"
    ),
    AdminPage("platform-stats", "/admin/platform/stats", "Platform statistics", "platform", "Statistics"),
    AdminPage("platform-webhooks", "/admin/platform/webhooks", "Webhook health", "platform", "Webhooks"),
]


@pytest.mark.parametrize("admin_page", PAGES, ids=[p.name for p in PAGES])
def test_every_dashboard_page_is_accessible_and_kept_as_screenshots(
    page: Page, stack: Stack, business: Business, admin_page: AdminPage
) -> None:
    if admin_page.who == "tenant":
        sign_in_as(page, stack, business.tenant)
    elif admin_page.who == "platform":
        sign_in(page, stack, PLATFORM_ADMIN_EMAIL, PLATFORM_ADMIN_PASSWORD)
    path = admin_page.path.format(booking=business.booking["id"], tenant=business.tenant.id)
    page.goto(f"{stack.url}{path}")

    expect(page.get_by_role("heading", level=1, name=admin_page.heading)).to_be_visible()
    _loaded(page)
    if admin_page.nav is not None:
        current = page.get_by_role("navigation", name="Dashboard").locator("[aria-current='page']")
        expect(current).to_have_count(1)
        expect(current).to_have_text(admin_page.nav)
    if admin_page.then is not None:
        admin_page.then(page)
    assert_accessible(page, f"the {admin_page.name} page")
    screenshots(page, f"admin-page-{admin_page.name}")
    page.set_viewport_size(MOBILE)
    settle(page)
    no_horizontal_scroll(page, f"the {admin_page.name} page at {MOBILE['width']} px")
