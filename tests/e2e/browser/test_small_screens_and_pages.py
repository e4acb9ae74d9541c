"""The booking on a 360 px phone and at 200 % zoom, the return page after going back from Checkout,
and the standalone pages (shareable link, unknown business, a link that does not work), each checked
with axe-core and kept as screenshots at 360 px and 1280 px.

200 % zoom: Chromium's page zoom lays a page out in a viewport of half the window's width and height
in CSS pixels (a 1280x800 window at 200 % is a 640x400 CSS px viewport, with each CSS pixel drawn on
2x2 device pixels). Layout is what zoom tests, so the zoomed runs use a 640x400 viewport; the device
scale factor of 2 only makes their screenshots look like the zoomed window.
"""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import Page, expect

from tests.e2e.browser.conftest import NewPage, Shop, couple_email
from tests.e2e.browser.host import serve, widget_page
from tests.e2e.browser.pages import (
    CONFIRMATION_TIMEOUT_MS,
    calendar_loaded,
    check_page,
    choose_date,
    choose_package,
    continue_to_payment,
    fill_details,
    no_horizontal_scroll,
    on_checkout,
    step_heading,
    widget_frame,
)
from tools.stack.demo_site import HostSite
from tools.stack.launcher import Stack


def test_a_couple_books_on_a_360_px_phone(
    new_page: NewPage, stack: Stack, shop: Shop, host_site: HostSite
) -> None:
    page = new_page(width=360, height=740, is_mobile=True, has_touch=True)
    url = serve(host_site, "/phone", widget_page(stack.url, shop.tenant.public_key))
    page.goto(url)
    app = widget_frame(page)
    no_horizontal_scroll(page, "the host page at 360 px")
    no_horizontal_scroll(app, "the widget at 360 px")
    choose_package(app, "Garden day", add_on="Second photographer")
    no_horizontal_scroll(app, "the calendar at 360 px")
    choose_date(app, shop.next_date())
    fill_details(app, "Ivo & Jun", couple_email())
    no_horizontal_scroll(app, "the details at 360 px")
    continue_to_payment(app).click()
    on_checkout(page, stack.sandbox_url)
    page.locator("#pay").click()
    expect(page.get_by_role("heading", name="You're booked!", level=1)).to_be_visible(
        timeout=CONFIRMATION_TIMEOUT_MS
    )
    no_horizontal_scroll(page, "the done page at 360 px")


def test_a_couple_books_at_200_percent_zoom_and_goes_back_from_checkout(
    new_page: NewPage, stack: Stack, shop: Shop, host_site: HostSite
) -> None:
    page = new_page(width=640, height=400, device_scale_factor=2)
    url = serve(host_site, "/zoomed", widget_page(stack.url, shop.tenant.public_key))
    page.goto(url)
    app = widget_frame(page)
    choose_package(app, "Barn weekend")
    no_horizontal_scroll(app, "the calendar at 200 %")
    choose_date(app, shop.next_date())
    fill_details(app, "Kit & Lou", couple_email())
    no_horizontal_scroll(app, "the details at 200 %")
    continue_to_payment(app).click()
    on_checkout(page, stack.sandbox_url)

    page.locator("#cancel").click()
    expect(page).to_have_url(re.compile(rf"/book/{re.escape(shop.tenant.slug)}/cancelled"))
    expect(page.get_by_role("heading", name="Payment not completed", level=1)).to_be_visible()
    expect(page.get_by_text("Nothing was charged.")).to_be_visible()
    no_horizontal_scroll(page, "the cancelled page at 200 %")
    check_page(page, page, "cancelled")
    page.get_by_role("link", name=f"Back to {shop.name}").click()
    expect(page).to_have_url(re.compile("^" + re.escape(url)))
    expect(step_heading(widget_frame(page), "Choose a package")).to_be_visible()


def test_the_shareable_booking_page_works_standalone(page: Page, stack: Stack, shop: Shop) -> None:
    page.goto(f"{stack.url}/book/{shop.tenant.slug}")
    expect(page.get_by_role("heading", name=shop.name, level=1)).to_be_visible()
    check_page(page, page, "standalone-1-package")
    choose_package(page, "Garden day", add_on="Second photographer")
    calendar_loaded(page)
    check_page(page, page, "standalone-2-date")
    choose_date(page, shop.next_date())
    check_page(page, page, "standalone-3-details")
    # The server's field errors are shown beside their field (an address a browser's own check of
    # type=email lets through; the server wants a dot in the domain).
    fill_details(page, "Mia & Ned", "mia@localhost")
    continue_to_payment(page).click()
    email = page.get_by_label("Email", exact=True)
    expect(email).to_have_attribute("aria-invalid", "true")
    described = email.get_attribute("aria-describedby")
    assert described, "the email field's error is not tied to it"
    expect(page.locator(f"[id='{described}']")).not_to_be_empty()
    check_page(page, page, "standalone-3-details-error")
    fill_details(page, "Mia & Ned", couple_email())
    continue_to_payment(page).click()
    on_checkout(page, stack.sandbox_url)


def test_an_unknown_business_and_a_link_that_does_not_work_get_clear_pages(page: Page, stack: Stack) -> None:
    answer = page.goto(f"{stack.url}/book/no-such-business-{uuid.uuid4().hex[:6]}")
    assert answer is not None and answer.status == 404
    expect(page.get_by_role("heading", name="Booking is not available", level=1)).to_be_visible()
    check_page(page, page, "unavailable")

    page.goto(f"{stack.url}/booking/{uuid.uuid4()}?token=not-a-token")
    expect(page.get_by_role("heading", name="This link does not work", level=1)).to_be_visible()
    check_page(page, page, "manage-link-does-not-work")
