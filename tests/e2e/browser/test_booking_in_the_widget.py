"""A couple books through the widget on the business's own site (another origin), pays on the Stripe
sandbox's hosted Checkout page, lands on the platform's success page, goes back to the business's
site, then opens the booking from the confirmation email and cancels it with the refund shown before
they confirm. Once with the mouse and once with the keyboard only. Every page the couple sees is
checked with axe-core and kept as screenshots at 360 px and 1280 px."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from tests.e2e.browser.conftest import Shop, couple_email
from tests.e2e.browser.host import serve, widget_page
from tests.e2e.browser.pages import (
    CONFIRMATION_TIMEOUT_MS,
    App,
    arrow_to_day,
    calendar_loaded,
    check_page,
    choose_date,
    choose_package,
    continue_to_payment,
    day_label,
    expect_unavailable,
    fill_details,
    host_events,
    manage_link,
    money,
    on_checkout,
    session_id_of,
    step_heading,
    tab_to,
    total,
    widget_frame,
)
from tools.stack.demo_site import HostSite
from tools.stack.launcher import Stack


def booking_of(stack: Stack, shop: Shop, booking_id: str) -> dict[str, Any]:
    """The booking as the business's admin sees it."""
    answer = httpx.get(
        f"{stack.url}/v1/tenant-admin/bookings/{booking_id}", headers=shop.tenant.admin_headers(), timeout=10
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def booking_of_session(stack: Stack, shop: Shop, session_id: str) -> dict[str, Any]:
    """What the done page asks about a Checkout session (booking id, states, amounts). The checkout
    call's own answer cannot be read once the tab has left for Checkout."""
    answer = httpx.get(
        f"{stack.url}/v1/checkout/sessions/{session_id}", headers=shop.tenant.public_headers(), timeout=10
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def cancel_on_the_manage_page(
    page: Page, stack: Stack, shop: Shop, booking_id: str, *, keyboard: bool
) -> None:
    """The manage page shows the booking and its policy; the couple cancels with the refund shown
    before they confirm, and the API then reports exactly that amount refunded."""
    booked = booking_of(stack, shop, booking_id)
    paid = money(page, booked["amountPaidCents"], booked["currency"])
    expect(page.get_by_role("heading", name="Your booking", level=1)).to_be_visible()
    expect(
        page.get_by_text(re.compile(r"You can cancel until .+ for a full refund of " + re.escape(paid)))
    ).to_be_visible()
    check_page(page, page, "manage")
    cancel = page.get_by_role("button", name="Cancel booking", exact=True)
    if keyboard:
        tab_to(page, page, lambda f: f["name"] == "Cancel booking", "Cancel booking")
        page.keyboard.press("Enter")
    else:
        cancel.click()
    expect(page.get_by_text(f"You will be refunded {paid}.")).to_be_visible()
    confirm = page.get_by_role("button", name=f"Yes, cancel and refund {paid}", exact=True)
    expect(page.get_by_role("button", name="Keep my booking", exact=True)).to_be_visible()
    check_page(page, page, "manage-confirm-cancel")
    if keyboard:
        tab_to(page, page, lambda f: f["name"] == f"Yes, cancel and refund {paid}", "the confirmation")
        page.keyboard.press("Enter")
    else:
        confirm.click()
    expect(page.get_by_text("Cancelled", exact=True)).to_be_visible()
    expect(page.get_by_text(f"Refunded {paid}")).to_be_visible()
    check_page(page, page, "manage-cancelled")
    after = booking_of(stack, shop, booking_id)
    assert after["status"] == "CANCELLED"
    assert after["amountRefundedCents"] == booked["amountPaidCents"]
    assert money(page, after["amountRefundedCents"], after["currency"]) == paid


def test_a_couple_books_through_the_inline_widget_pays_and_cancels_from_the_email(
    page: Page, stack: Stack, shop: Shop, host_site: HostSite
) -> None:
    url = serve(host_site, "/weddings", widget_page(stack.url, shop.tenant.public_key))
    page.goto(url)
    app = widget_frame(page)
    expect(page.locator("iframe[src*='/widget/v1/frame']")).to_have_attribute(
        "title", f"Book with {shop.name}"
    )
    expect(app.get_by_role("heading", name=shop.name, level=1)).to_be_visible()
    ready = host_events(page, "mais:ready")
    assert [e["detail"] for e in ready] == [{"tenant": shop.name}], ready
    check_page(page, app, "book-1-package")

    barn, garden = shop.packages["Barn weekend"], shop.packages["Garden day"]
    app.get_by_role("radio", name="Garden day").check()
    expect(total(app)).to_have_text(f"Total: {money(app, garden['priceCents'])}")
    expect(app.get_by_role("checkbox", name=re.compile(r"Second photographer \(\+.+\)"))).to_be_visible()
    choose_package(app, "Barn weekend", add_on="Second photographer")
    price = barn["priceCents"] + shop.add_on["priceCents"]

    expect_unavailable(app, shop.blackout, "blackout")
    expect(app.get_by_role("button", name="Previous month", exact=True)).to_be_visible()
    date = shop.next_date()
    check_page(page, app, "book-2-date")
    choose_date(app, date)
    selected = host_events(page, "mais:date-selected")
    assert selected[-1]["detail"] == {"date": date.isoformat(), "packageId": barn["id"]}, selected

    address = couple_email()
    fill_details(app, "Ada & Grace", address, phone="+1 555 0100", notes="Sunset ceremony, please")
    expect(app.get_by_text(money(app, price)).first).to_be_visible()
    check_page(page, app, "book-3-details")
    with page.expect_response(lambda r: r.url.endswith("/v1/bookings/checkout")) as checkout:
        continue_to_payment(app).click()
    assert checkout.value.status == 201
    on_checkout(page, stack.sandbox_url)
    held = booking_of_session(stack, shop, session_id_of(page))
    assert held["status"] == "HELD" and held["totalCents"] == price
    # The sandbox writes amounts its own way ("USD 8,200.00").
    expect(page.locator("#pay")).to_contain_text(f"{price / 100:,.2f}")

    page.locator("#pay").click()
    expect(page).to_have_url(re.compile(rf"/book/{re.escape(shop.tenant.slug)}/done\?session_id=cs_"))
    expect(page.get_by_role("heading", name="You're booked!", level=1)).to_be_visible(
        timeout=CONFIRMATION_TIMEOUT_MS
    )
    expect(page.get_by_text("A confirmation email with your personal link is on its way.")).to_be_visible()
    expect(page.get_by_text(day_label(page, date)).first).to_be_visible()
    check_page(page, page, "done")
    booked = booking_of(stack, shop, held["bookingId"])
    assert booked["status"] == "CONFIRMED" and booked["eventDate"] == date.isoformat()
    assert booked["totalCents"] == price and booked["amountPaidCents"] == price

    # Back on the business's site, the widget checks the session itself and says so to the page.
    back = page.get_by_role("link", name=f"Back to {shop.name}")
    paid_in_this_widget = re.compile("^" + re.escape(url) + r"\?mais_widget=0&mais_session=cs_")
    expect(back).to_have_attribute("href", paid_in_this_widget)
    back.click()
    # The loader takes the session off the address bar at once: a reload announces nothing again.
    expect(page).to_have_url(url)
    app = widget_frame(page)
    expect(app.get_by_text("You're booked")).to_be_visible(timeout=CONFIRMATION_TIMEOUT_MS)
    page.wait_for_function("() => window.maisEvents.some((e) => e.type === 'mais:booked')")
    assert host_events(page, "mais:booked")[0]["detail"] == {
        "bookingId": held["bookingId"],
        "eventDate": date.isoformat(),
    }
    assert len(host_events(page, "mais:booked")) == 1
    # A reload is a fresh visit: the booking flow again, not the confirmation a second time.
    page.reload()
    expect(widget_frame(page).get_by_role("heading", name="Choose a package")).to_be_visible()
    page.wait_for_function("() => window.maisEvents.some((e) => e.type === 'mais:ready')")
    assert host_events(page, "mais:booked") == []
    # What the page heard before the tab went to Checkout, with each event's detail, on the host element.
    heard = host_events(page, tab=True)
    assert [e["target"] for e in heard] == ["booking"] * len(heard), heard
    assert [e["detail"] for e in heard if e["type"] == "mais:checkout-started"] == [
        {
            "bookingId": held["bookingId"],
            "expiresAt": started_expiry(heard),
            "totalCents": price,
            "currency": held["currency"],
        }
    ], heard

    page.goto(manage_link(stack, address, held["bookingId"]))
    cancel_on_the_manage_page(page, stack, shop, held["bookingId"], keyboard=False)


def test_the_same_booking_with_the_keyboard_only(
    page: Page, stack: Stack, shop: Shop, host_site: HostSite
) -> None:
    url = serve(host_site, "/keyboard", widget_page(stack.url, shop.tenant.public_key))
    page.goto(url)
    app = widget_frame(page)
    keys = page.keyboard

    first = tab_to(page, app, lambda f: f.get("type") == "radio", "a package")
    keys.press("Space")
    for _ in range(len(shop.packages)):
        if focused_radio_is(app, "Barn weekend"):
            break
        keys.press("ArrowDown")
    assert focused_radio_is(app, "Barn weekend"), first
    expect(app.get_by_role("radio", name="Barn weekend")).to_be_checked()
    tab_to(
        page, app, lambda f: f.get("type") == "checkbox" and "Second photographer" in f["name"], "the add-on"
    )
    keys.press("Space")
    expect(app.get_by_role("checkbox", name=re.compile("Second photographer"))).to_be_checked()
    price = shop.packages["Barn weekend"]["priceCents"] + shop.add_on["priceCents"]
    expect(total(app)).to_have_text(f"Total: {money(app, price)}")
    tab_to(page, app, lambda f: f["name"] == "Choose a date", "Choose a date")
    keys.press("Enter")
    expect(step_heading(app, "Choose a date")).to_be_focused()

    date = shop.next_date()
    tab_to(page, app, lambda f: bool(f.get("inGrid")), "the calendar's days")
    arrow_to_day(page, app, date)
    calendar_loaded(app)
    keys.press("Enter")
    day = app.get_by_role("gridcell").get_by_role("button", name=day_label(app, date), exact=True)
    expect(day).to_have_attribute("aria-pressed", "true")
    expect(app.get_by_text(f"Selected: {day_label(app, date)}")).to_be_visible()
    tab_to(page, app, lambda f: f["name"] == "Continue", "Continue")
    keys.press("Enter")
    expect(step_heading(app, "Your details")).to_be_focused()

    address = couple_email()
    tab_to(page, app, lambda f: f["name"] == "Your names", "Your names")
    keys.type("Lin & Mo")
    tab_to(page, app, lambda f: f["name"] == "Email", "Email")
    keys.type(address)
    with page.expect_response(lambda r: r.url.endswith("/v1/bookings/checkout")) as checkout:
        tab_to(page, app, lambda f: f["name"] == "Continue to payment", "Continue to payment")
        keys.press("Enter")
    assert checkout.value.status == 201
    on_checkout(page, stack.sandbox_url)
    held = booking_of_session(stack, shop, session_id_of(page))

    tab_to(page, page, lambda f: f.get("id") == "pay", "Pay on the Checkout page")
    keys.press("Enter")
    expect(page.get_by_role("heading", name="You're booked!", level=1)).to_be_visible(
        timeout=CONFIRMATION_TIMEOUT_MS
    )
    assert booking_of(stack, shop, held["bookingId"])["status"] == "CONFIRMED"

    page.goto(manage_link(stack, address, held["bookingId"]))
    cancel_on_the_manage_page(page, stack, shop, held["bookingId"], keyboard=True)


def started_expiry(heard: list[dict[str, Any]]) -> str:
    """The hold's end as mais:checkout-started told it: an ISO instant some minutes ahead."""
    expiry = next(e["detail"]["expiresAt"] for e in heard if e["type"] == "mais:checkout-started")
    ahead = dt.datetime.fromisoformat(str(expiry).replace("Z", "+00:00")) - dt.datetime.now(dt.UTC)
    assert dt.timedelta(minutes=5) < ahead < dt.timedelta(hours=25), expiry
    return str(expiry)


def focused_radio_is(app: App, title: str) -> bool:
    """Whether the focused radio is the package `title` (its label starts with the title)."""
    return bool(
        app.evaluate(
            """(title) => {
                const el = document.activeElement;
                const label = el && el.labels && el.labels.length ? el.labels[0].textContent : "";
                return !!el && el.type === "radio" && label.trim().startsWith(title);
            }""",
            title,
        )
    )
