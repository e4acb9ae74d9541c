"""The popup button's dialog (opened, closed with Escape, focus given back), and two couples racing
for one date in two browsers: exactly one reaches Checkout and pays, the other is told at once."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.browser.conftest import NewPage, Shop, couple_email
from tests.e2e.browser.host import serve, widget_page
from tests.e2e.browser.pages import (
    CONFIRMATION_TIMEOUT_MS,
    assert_accessible,
    choose_date,
    choose_package,
    continue_to_payment,
    day_button,
    day_label,
    fill_details,
    on_checkout,
    screenshots,
    session_id_of,
    step_heading,
    widget_frame,
)
from tests.e2e.browser.test_booking_in_the_widget import booking_of, booking_of_session
from tools.stack.demo_site import Embed, HostSite
from tools.stack.launcher import Stack


def test_the_button_opens_a_dialog_with_the_widget_escape_closes_it_and_focus_returns(
    page: Page, stack: Stack, shop: Shop, host_site: HostSite
) -> None:
    # The demo site's page: the README's snippet under a strict CSP of the host's own.
    host_site.set_host_page(
        "/popup",
        stack.url,
        shop.tenant.public_key,
        (Embed("button", element_id="book-now"),),
        business=shop.name,
    )
    page.goto(host_site.url + "/popup")
    button = page.get_by_role("button", name="Book now")
    expect(page.get_by_role("dialog")).to_have_count(0)
    button.focus()
    page.keyboard.press("Enter")

    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("iframe[src*='/widget/v1/frame']")).to_have_count(1)
    app = widget_frame(page, "dialog iframe[src*='/widget/v1/frame']")
    expect(step_heading(app, "Choose a package")).to_be_visible()
    expect(page.locator("#widget-events li").first).to_have_text(f'mais:ready {{"tenant":"{shop.name}"}}')
    assert [line for line in page.console_lines if "Content Security Policy" in line] == []  # type: ignore[attr-defined]
    # The keyboard's focus went into the dialog's frame (the app moves it to its first control).
    page.wait_for_function("() => document.activeElement && document.activeElement.tagName === 'IFRAME'")
    app.wait_for_function("() => document.activeElement && document.activeElement !== document.body")
    assert_accessible(page, "the host page with the widget's dialog open")
    assert_accessible(app, "the widget in the dialog")
    screenshots(page, "popup-open")

    # Escape where the couple is: inside the widget's frame.
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(button).to_be_focused()

    # Opened again, it still works (one dialog, one frame), and the couple's focus goes into the widget
    # again before they press Escape there (pressed while the focus was still moving, CI once saw the
    # dialog stay open).
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog")).to_be_visible()
    expect(page.locator("iframe[src*='/widget/v1/frame']")).to_have_count(1)
    page.wait_for_function("() => document.activeElement && document.activeElement.tagName === 'IFRAME'")
    app.wait_for_function("() => document.activeElement && document.activeElement !== document.body")
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(button).to_be_focused()


def test_two_couples_race_for_one_date_exactly_one_pays_the_other_is_told_it_was_just_taken(
    new_page: NewPage, stack: Stack, shop: Shop, host_site: HostSite
) -> None:
    url = serve(host_site, "/race", widget_page(stack.url, shop.tenant.public_key))
    date = shop.next_date()
    couples = []
    for names in ("Ana & Bo", "Cy & Dee"):
        page = new_page()
        page.goto(url)
        app = widget_frame(page)
        choose_package(app, "Garden day")
        choose_date(app, date)
        fill_details(app, names, couple_email())
        couples.append((page, app))
    (first, first_app), (second, second_app) = couples

    # Both saw the date free and press "Continue to payment" at once.
    def is_checkout(response: object) -> bool:
        return str(getattr(response, "url", "")).endswith("/v1/bookings/checkout")

    with (
        first.expect_response(is_checkout) as first_answer,
        second.expect_response(is_checkout) as second_answer,
    ):
        continue_to_payment(first_app).click()
        continue_to_payment(second_app).click()
    statuses = sorted([first_answer.value.status, second_answer.value.status])
    assert statuses == [201, 409], statuses
    (winner, _), (loser, loser_app) = couples if first_answer.value.status == 201 else couples[::-1]

    expect(loser_app.get_by_role("alert")).to_have_text(
        "Sorry, that date was just taken. Please choose another date."
    )
    expect(step_heading(loser_app, "Choose a date")).to_be_visible()
    # The calendar was loaded again: the date is now held by the couple who is paying.
    day = day_button(loser_app, date)
    expect(day).to_have_attribute("aria-label", f"{day_label(loser_app, date)}, unavailable: held")
    expect(day).to_have_attribute("aria-disabled", "true")
    assert_accessible(loser_app, "the calendar after 'just taken'")
    screenshots(loser, "book-2-date-just-taken")
    assert loser.url == url

    on_checkout(winner, stack.sandbox_url)
    held = booking_of_session(stack, shop, session_id_of(winner))
    assert held["eventDate"] == date.isoformat()
    winner.locator("#pay").click()
    expect(winner.get_by_role("heading", name="You're booked!", level=1)).to_be_visible(
        timeout=CONFIRMATION_TIMEOUT_MS
    )
    assert booking_of(stack, shop, held["bookingId"])["status"] == "CONFIRMED"
