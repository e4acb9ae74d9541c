"""The dashboards' main journey, as one business lives it: its admin signs in, adds a package and an
add-on in the catalog and sees them in the widget's live preview; a couple books both through the widget
on the business's own site and pays; the admin finds the booking on the calendar and in the overview's
totals, then cancels it with a partial refund using the keyboard alone; and the booking's ledger and the
couple's own page agree on what was paid and refunded. Every dashboard page on the way is checked with
axe-core and kept as screenshots (admin-journey-*)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import httpx
from playwright.sync_api import Locator, Page, expect

from tests.e2e.browser.admin import check_admin_page, open_from_nav, open_sign_in, sign_in_with_the_form
from tests.e2e.browser.conftest import FIRST_DAY_AHEAD, NewPage, couple_email, frame_allows
from tests.e2e.browser.host import serve, widget_page
from tests.e2e.browser.pages import (
    CONFIRMATION_TIMEOUT_MS,
    choose_date,
    choose_package,
    continue_to_payment,
    day_label,
    fill_details,
    focused,
    manage_link,
    money,
    month_label,
    on_checkout,
    session_id_of,
    tab_to,
    widget_frame,
)
from tests.e2e.conftest import MakeTenant, TenantHandle
from tools.stack.demo_site import HostSite
from tools.stack.launcher import Stack

BUSINESS = "Juniper Hall Weddings"
PACKAGE = ("Orchard day", "orchard-day", "Ceremony under the apple trees, dinner in the hall.", 320_000)
ADD_ON = ("Lantern walk", "lantern-walk", 25_000)
REFUND_CENTS = 50_000
COMMISSION_PERCENT = 10  # the platform's fee, refunded in proportion to the refund


def _prepare(stack: Stack, make_tenant: MakeTenant, host_site: HostSite) -> TenantHandle:
    """A business of its own, whose widget the host site may frame and which lets one address (every
    browser of the suite is 127.0.0.1) hold more than a few dates, as the shared shop does."""
    tenant = make_tenant("journey", commission_percent=COMMISSION_PERCENT, name=BUSINESS)
    answer = httpx.patch(
        f"{stack.url}/v1/tenant-admin/settings",
        json={"allowedOrigins": [host_site.origin], "policy": {"maxLiveHoldsPerAddress": 100}},
        headers=tenant.admin_headers(),
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    frame_allows(stack, tenant, host_site.origin)
    return tenant


def _api(stack: Stack, tenant: TenantHandle, path: str) -> dict[str, Any]:
    answer = httpx.get(f"{stack.url}{path}", headers=tenant.admin_headers(), timeout=10)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _figure(within: Locator, term: str) -> Locator:
    """The value (dd) of a figure list's term (dt)."""
    return within.locator(f"dt:text-is('{term}') + dd")


def _create_in_catalog(page: Page) -> None:
    """A package, then an add-on offered with it, through the catalog's forms."""
    title, slug, description, price = PACKAGE
    packages = page.get_by_role("region", name="Packages")
    packages.get_by_role("button", name="New package").click()
    expect(packages.get_by_role("heading", name="New package")).to_be_focused()
    packages.get_by_label("Title", exact=True).fill(title)
    packages.get_by_label("Slug", exact=True).fill(slug)
    packages.get_by_label("Description", exact=True).fill(description)
    packages.get_by_label("Price (USD)").fill(f"{price / 100:.2f}")
    check_admin_page(page, "admin-journey-catalog-new-package", "the catalog's new package form")
    packages.get_by_role("button", name="Create package").click()
    expect(packages.get_by_role("status").filter(has_text="The package was created.")).to_be_visible()
    row = packages.get_by_role("row").filter(has_text=title)
    expect(row).to_contain_text(money(page, price))

    title, slug, price = ADD_ON
    add_ons = page.get_by_role("region", name="Add-ons")
    add_ons.get_by_role("button", name="New add-on").click()
    add_ons.get_by_label("Title", exact=True).fill(title)
    add_ons.get_by_label("Slug", exact=True).fill(slug)
    add_ons.get_by_label("Price (USD)").fill(f"{price / 100:.2f}")
    add_ons.get_by_role("group", name="Offered with").get_by_label(PACKAGE[0]).check()
    add_ons.get_by_role("button", name="Create add-on").click()
    expect(add_ons.get_by_role("status").filter(has_text="The add-on was created.")).to_be_visible()
    row = add_ons.get_by_role("row").filter(has_text=title)
    expect(row).to_contain_text(money(page, price))
    expect(row).to_contain_text(PACKAGE[0])
    check_admin_page(page, "admin-journey-catalog", "the catalog with the new package and add-on")


def _book_in_the_widget(new_page: NewPage, stack: Stack, tenant: TenantHandle, host_site: HostSite) -> str:
    """The couple books the new package with the add-on on the business's site and pays; the booking's id."""
    couple = new_page()
    couple.goto(serve(host_site, "/juniper", widget_page(stack.url, tenant.public_key)))
    app = widget_frame(couple)
    expect(app.get_by_role("heading", name=BUSINESS, level=1)).to_be_visible()
    choose_package(app, PACKAGE[0], add_on=ADD_ON[0])
    choose_date(app, dt.date.today() + dt.timedelta(days=FIRST_DAY_AHEAD))
    fill_details(app, "Rosa & Ines", couple_email())
    continue_to_payment(app).click()
    on_checkout(couple, stack.sandbox_url)
    session = httpx.get(
        f"{stack.url}/v1/checkout/sessions/{session_id_of(couple)}",
        headers=tenant.public_headers(),
        timeout=10,
    )
    assert session.status_code == 200, session.text
    couple.locator("#pay").click()
    expect(couple.get_by_role("heading", name="You're booked!", level=1)).to_be_visible(
        timeout=CONFIRMATION_TIMEOUT_MS
    )
    expect(couple.get_by_text(money(couple, PACKAGE[3] + ADD_ON[2]))).to_be_visible()
    couple.close()
    return str(session.json()["bookingId"])


def _cancel_with_the_keyboard(page: Page, paid: int) -> None:
    """On the booking's page: the cancel form, "An amount", the amount, the review with the amounts, the
    confirmation, with Tab, arrow keys, typing and Enter only."""
    keys = page.keyboard
    tab_to(page, page, lambda f: f["name"] == "Cancel this booking…", "Cancel this booking…")
    keys.press("Enter")
    expect(page.get_by_role("heading", name="Cancel the booking")).to_be_visible()
    # The refund choices are one radio group: Tab reaches the checked one, the arrows move the choice.
    tab_to(page, page, lambda f: f.get("type") == "radio", "the refund choices")
    for _ in range(3):
        if focused(page)["name"] == "An amount":
            break
        keys.press("ArrowDown")
    assert focused(page)["name"] == "An amount" and focused(page)["checked"], focused(page)
    tab_to(page, page, lambda f: f["name"].startswith("Amount to refund"), "the amount to refund")
    keys.type(f"{REFUND_CENTS / 100:.2f}")
    tab_to(page, page, lambda f: f["name"] == "Review the cancellation", "Review the cancellation")
    keys.press("Enter")

    review = page.get_by_role("heading", name="Please confirm")
    expect(review).to_be_focused()
    expect(page.get_by_test_id("refund-amount")).to_have_text(money(page, REFUND_CENTS))
    expect(page.get_by_test_id("kept-amount")).to_have_text(money(page, paid - REFUND_CENTS))
    check_admin_page(page, "admin-journey-cancel-review", "the cancellation's review")
    confirm = f"Cancel the booking and refund {money(page, REFUND_CENTS)}"
    tab_to(page, page, lambda f: f["name"] == confirm, "the confirmation")
    keys.press("Enter")
    expect(page.get_by_role("status").filter(has_text="The booking is cancelled")).to_contain_text(
        f"{money(page, REFUND_CENTS)} refunded"
    )


def test_a_business_sells_a_new_package_and_cancels_its_booking_with_a_partial_refund(
    page: Page, new_page: NewPage, stack: Stack, make_tenant: MakeTenant, host_site: HostSite
) -> None:
    tenant = _prepare(stack, make_tenant, host_site)
    price = PACKAGE[3] + ADD_ON[2]

    # 1. Signing in.
    open_sign_in(page, stack)
    check_admin_page(page, "admin-journey-sign-in", "the sign-in page")
    sign_in_with_the_form(page, tenant.admin_email, tenant.admin_password)
    expect(page.get_by_role("banner")).to_contain_text(BUSINESS)

    # 2. The catalog: a package and its add-on, through the forms.
    open_from_nav(page, "Catalog")
    _create_in_catalog(page)

    # 3. The widget's live preview in Settings shows them.
    open_from_nav(page, "Settings")
    preview = page.frame_locator("iframe[title='Preview of the booking widget']")
    preview.get_by_role("radio", name=re.compile("^" + PACKAGE[0])).check()
    expect(preview.get_by_role("checkbox", name=re.compile("^" + ADD_ON[0]))).to_be_visible()
    expect(preview.get_by_text(PACKAGE[2])).to_be_visible()
    check_admin_page(page, "admin-journey-settings", "the settings with the widget's preview")

    # 4. A couple books it with the add-on through the widget on the business's site, and pays.
    booking_id = _book_in_the_widget(new_page, stack, tenant, host_site)
    booked = _api(stack, tenant, f"/v1/tenant-admin/bookings/{booking_id}")
    assert booked["status"] == "CONFIRMED" and booked["amountPaidCents"] == price
    date = dt.date.fromisoformat(booked["eventDate"])

    # 5. The calendar marks the day booked; the overview counts the booking and its money.
    open_from_nav(page, "Calendar")
    for _ in range(3):
        if page.locator("#month-title").inner_text() == month_label(page, date):
            break
        page.get_by_role("button", name="Next month").click()
    expect(page.locator("#month-title")).to_have_text(month_label(page, date))
    day = page.get_by_role("button", name=f"{day_label(page, date)}, 1 confirmed booking", exact=True)
    expect(day.locator("xpath=..")).to_contain_text("Rosa & Ines")  # the names beside the day's number
    day.click()
    check_admin_page(page, "admin-journey-calendar", "the calendar with the booked day")

    open_from_nav(page, "Overview")
    this_month = page.get_by_role("region", name="This month")
    expect(_figure(this_month, "Bookings")).to_have_text("1")
    expect(_figure(this_month, "Gross")).to_have_text(money(page, price))
    expect(_figure(page.get_by_role("region", name="This year"), "Gross")).to_have_text(money(page, price))
    upcoming = page.get_by_role("region", name="Upcoming bookings")
    expect(upcoming).to_contain_text("Rosa & Ines")
    check_admin_page(page, "admin-journey-overview", "the overview with the booking")

    # 6. The booking's page: cancelled with a partial refund, with the keyboard only.
    upcoming.get_by_role("link", name=re.compile("Rosa & Ines")).click()
    expect(page).to_have_url(re.compile(f"/admin/bookings/{booking_id}$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Rosa & Ines")
    check_admin_page(page, "admin-journey-booking", "the booking's page")
    _cancel_with_the_keyboard(page, price)

    # 7. The ledger and the couple's page agree: cancelled, paid and refunded the same amounts.
    expect(page.get_by_role("paragraph").locator(".badge")).to_have_text("Cancelled")
    payments = page.get_by_role("region", name="Payments and refunds")
    ledger = payments.get_by_role("table", name="Ledger lines")
    fee, fee_refund = price * COMMISSION_PERCENT // 100, REFUND_CENTS * COMMISSION_PERCENT // 100
    for what, cents in (
        ("Payment", price),
        ("Platform fee", fee),
        ("Refund", REFUND_CENTS),
        ("Platform fee refunded", fee_refund),
    ):
        line = ledger.get_by_role("row").filter(has=page.get_by_role("cell", name=what, exact=True))
        expect(line).to_have_count(1)
        expect(line.get_by_role("cell").nth(2)).to_have_text(money(page, cents))
    totals = payments.locator(".ledger-totals")
    expect(_figure(totals, "Charged")).to_have_text(money(page, price))
    expect(_figure(totals, "Refunded")).to_have_text(money(page, REFUND_CENTS))
    expect(_figure(totals, "Net paid")).to_have_text(money(page, price - REFUND_CENTS))
    check_admin_page(page, "admin-journey-booking-cancelled", "the cancelled booking's page")
    after = _api(stack, tenant, f"/v1/tenant-admin/bookings/{booking_id}")
    assert after["status"] == "CANCELLED"
    assert (after["amountPaidCents"], after["amountRefundedCents"]) == (price, REFUND_CENTS)

    couple = new_page()
    couple.goto(manage_link(stack, booked["email"], booking_id))
    expect(couple.get_by_role("heading", name="Your booking", level=1)).to_be_visible()
    summary = couple.get_by_role("main")
    expect(_figure(summary, "Status")).to_have_text("Cancelled")
    expect(_figure(summary, "Paid")).to_have_text(money(couple, price))
    expect(_figure(summary, "Refunded")).to_have_text(money(couple, REFUND_CENTS))

    # And the overview's month counts the refund.
    open_from_nav(page, "Overview")
    this_month = page.get_by_role("region", name="This month")
    expect(_figure(this_month, "Refunds")).to_have_text(money(page, REFUND_CENTS))
    expect(_figure(this_month, "Gross")).to_have_text(money(page, price))
