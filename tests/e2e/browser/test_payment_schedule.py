"""A business asks for a 30 % deposit (its settings' payment terms, set through the API as its owner
would); a couple books through the widget on the business's own site, sees what is due today and when
the balance is due before they pay, pays the deposit on the sandbox's Checkout page, then later pays the
balance from their manage page; the manage page and the business's booking page then both show both
instalments paid. And a business whose terms cancel an unpaid balance after its grace day: the notice
sweep cancels a booking whose balance is overdue, refunds the deposit, and both pages say so, each
email once. Every page is checked with axe-core and kept as `schedule-*` screenshots."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import asyncpg
import httpx
from playwright.sync_api import Page, expect

from tests.e2e.browser.admin import check_admin_page, confirmed_booking, sign_in_as
from tests.e2e.browser.conftest import _admin, couple_email, frame_allows
from tests.e2e.browser.host import serve, widget_page
from tests.e2e.browser.pages import (
    CONFIRMATION_TIMEOUT_MS,
    App,
    check_page,
    choose_date,
    choose_package,
    continue_to_payment,
    fill_details,
    manage_link,
    money,
    on_checkout,
    session_id_of,
    widget_frame,
)
from tests.e2e.conftest import MakeTenant, TenantHandle, eventually, mails_to
from tools.stack.demo_site import HostSite
from tools.stack.launcher import Stack

BUSINESS = "Fern & Field Weddings"
PACKAGE = ("meadow-day", "Meadow day", "Ceremony and supper in the meadow.", 500_000)
# The balance is due 30 days before the event: an event 60 days ahead has one, due in 30 days.
TERMS = {"depositKind": "percent", "depositBps": 3000, "balanceDueDays": 30}
DAYS_AHEAD = 60


def medium_date(app: App, iso: str) -> str:
    """A due date as the app writes it ("June 12, 2027" in en-US): the date itself, in no time zone."""
    return str(
        app.evaluate(
            """(iso) => new Intl.DateTimeFormat(undefined, {day: "numeric", month: "long", year: "numeric",
                timeZone: "UTC"}).format(new Date(iso + "T00:00:00Z"))""",
            iso,
        )
    )


def admin_booking(stack: Stack, tenant: TenantHandle, booking_id: str) -> dict[str, Any]:
    answer = httpx.get(
        f"{stack.url}/v1/tenant-admin/bookings/{booking_id}", headers=tenant.admin_headers(), timeout=10
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_a_couple_pays_a_deposit_in_the_widget_then_the_balance_from_their_link(
    page: Page, stack: Stack, make_tenant: MakeTenant, host_site: HostSite
) -> None:
    tenant = make_tenant("deposit", name=BUSINESS)
    settings = _admin(
        stack,
        tenant,
        "PATCH",
        "/v1/tenant-admin/settings",
        {
            "allowedOrigins": [host_site.origin],
            "policy": {"maxLiveHoldsPerAddress": 100},
            "paymentPolicy": TERMS,
        },
    )
    assert {k: settings["paymentPolicy"][k] for k in TERMS} == TERMS
    slug, title, description, price = PACKAGE
    package = _admin(
        stack,
        tenant,
        "POST",
        "/v1/tenant-admin/packages",
        {"slug": slug, "title": title, "description": description, "priceCents": price},
    )
    frame_allows(stack, tenant, host_site.origin)
    date = dt.date.today() + dt.timedelta(days=DAYS_AHEAD)
    quote = httpx.get(
        f"{stack.url}/v1/checkout/schedule",
        params={"packageId": package["id"], "eventDate": date.isoformat()},
        headers=tenant.public_headers(),
        timeout=10,
    ).json()
    deposit, balance = quote["instalments"]
    assert (deposit["kind"], balance["kind"]) == ("DEPOSIT", "BALANCE"), quote
    assert deposit["amountCents"] + balance["amountCents"] == price == quote["totalCents"]
    assert deposit["amountCents"] == price * 3 // 10

    # The couple, on the business's site: the widget says what is due today and when the balance is.
    url = serve(host_site, "/deposit", widget_page(stack.url, tenant.public_key))
    page.goto(url)
    app = widget_frame(page)
    choose_package(app, title)
    choose_date(app, date)
    today_line = f"Due today: {money(app, deposit['amountCents'])}"
    later_line = f"Then {money(app, balance['amountCents'])} by {medium_date(app, balance['dueDate'])}"
    summary = app.get_by_role("region", name="Your choice")
    expect(summary.get_by_text(today_line, exact=True)).to_be_visible()
    expect(summary.get_by_text(later_line, exact=True)).to_be_visible()
    address = couple_email()
    fill_details(app, "Iris & June", address)
    check_page(page, app, "schedule-1-details")
    continue_to_payment(app).click()

    # Checkout charges the deposit only; the done page says what was paid and what is due when.
    on_checkout(page, stack.sandbox_url)
    expect(page.locator("#pay")).to_contain_text(f"{deposit['amountCents'] / 100:,.2f}")
    session_id = session_id_of(page)
    page.locator("#pay").click()
    expect(page.get_by_role("heading", name="You're booked!", level=1)).to_be_visible(
        timeout=CONFIRMATION_TIMEOUT_MS
    )
    expect(page.get_by_text(f"Paid today: {money(page, deposit['amountCents'])}")).to_be_visible()
    expect(page.get_by_text(f"Due by {medium_date(page, balance['dueDate'])}")).to_be_visible()
    check_page(page, page, "schedule-2-done")
    booking_id = httpx.get(
        f"{stack.url}/v1/checkout/sessions/{session_id}", headers=tenant.public_headers(), timeout=10
    ).json()["bookingId"]
    booked = admin_booking(stack, tenant, booking_id)
    assert booked["status"] == "CONFIRMED" and booked["amountPaidCents"] == deposit["amountCents"]

    # From the email's link: the balance is due, and paying it goes to Checkout and back.
    page.goto(manage_link(stack, address, booking_id))
    schedule = page.get_by_role("region", name="Payment schedule")
    expect(schedule.get_by_text(f"Due by {medium_date(page, balance['dueDate'])}")).to_be_visible()
    balance_money = money(page, balance["amountCents"])
    pay = page.get_by_role("button", name=f"Pay the balance ({balance_money})", exact=True)
    expect(pay).to_be_visible()
    check_page(page, page, "schedule-3-manage-due")
    pay.click()
    on_checkout(page, stack.sandbox_url)
    expect(page.locator("#pay")).to_contain_text(f"{balance['amountCents'] / 100:,.2f}")
    page.locator("#pay").click()
    expect(page).to_have_url(re.compile(rf"/booking/{re.escape(booking_id)}\?token="))
    expect(page.get_by_text("Thank you: your payment is received.", exact=False)).to_be_visible(
        timeout=CONFIRMATION_TIMEOUT_MS
    )
    expect(schedule.locator(".instalment-paid")).to_have_count(2)
    expect(pay).to_have_count(0)
    check_page(page, page, "schedule-4-manage-paid")

    paid = admin_booking(stack, tenant, booking_id)
    assert paid["amountPaidCents"] == price
    assert [(i["kind"], i["status"], i["paidCents"]) for i in paid["schedule"]["instalments"]] == [
        ("DEPOSIT", "PAID", deposit["amountCents"]),
        ("BALANCE", "PAID", balance["amountCents"]),
    ]
    assert paid["schedule"]["outstandingCents"] == 0

    # The business's booking page shows both instalments paid, with the platform's fee on each.
    sign_in_as(page, stack, tenant)
    page.goto(f"{stack.url}/admin/bookings/{booking_id}")
    section = page.get_by_role("region", name="Payment schedule")
    rows = section.locator("tbody tr")
    expect(rows).to_have_count(2)
    for row, kind in zip((rows.nth(0), rows.nth(1)), ("Deposit", "Balance"), strict=True):
        expect(row.get_by_role("rowheader")).to_have_text(kind)
        expect(row.locator(".badge")).to_have_text("Paid")
    expect(section.get_by_role("button", name=re.compile("^Waive"))).to_have_count(0)
    check_admin_page(page, "schedule-5-admin", "the booking's payment schedule")


# Cancelled with everything refunded one day after the balance's due date.
STRICT_TERMS = {**TERMS, "graceDays": 1, "overdueAction": "cancel_refund_deposit"}


def quoted_kinds(stack: Stack, tenant: TenantHandle, package_id: str, day: dt.date) -> list[str]:
    answer = httpx.get(
        f"{stack.url}/v1/checkout/schedule",
        params={"packageId": package_id, "eventDate": day.isoformat()},
        headers=tenant.public_headers(),
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return [i["kind"] for i in answer.json()["instalments"]]


async def _move_balance_due_date(stack: Stack, booking_id: str, due: dt.date) -> None:
    # What a clock running to past the due date would show, in payments' own record of the balance.
    conn = await asyncpg.connect(stack.admin_database_url)
    try:
        await conn.execute(
            "UPDATE payments.instalments SET due_date = $2 WHERE booking_id = $1 AND seq = 2", booking_id, due
        )
    finally:
        await conn.close()


def test_an_overdue_balance_cancels_the_booking_after_grace_and_both_pages_say_why(
    page: Page, stack: Stack, make_tenant: MakeTenant
) -> None:
    tenant = make_tenant("overdue", name=BUSINESS)
    _admin(stack, tenant, "PATCH", "/v1/tenant-admin/settings", {"paymentPolicy": STRICT_TERMS})
    slug, title, description, price = PACKAGE
    package = _admin(
        stack,
        tenant,
        "POST",
        "/v1/tenant-admin/packages",
        {"slug": slug, "title": title, "description": description, "priceCents": price},
    )
    date = dt.date.today() + dt.timedelta(days=DAYS_AHEAD)
    # Payments keeps a payable tenant's terms for a moment: book once its quotes show the deposit.
    # (each quote for another date: the gateway caches public reads per date for a few seconds).
    later = iter(range(1, 200))
    assert eventually(
        lambda: (
            quoted_kinds(stack, tenant, package["id"], date + dt.timedelta(days=next(later)))
            == ["DEPOSIT", "BALANCE"]
        ),
        timeout=10,
    )
    address = couple_email()
    booked = confirmed_booking(
        stack, tenant, package_id=package["id"], event_date=date, couple_name="Iris & June", email=address
    )
    booking_id = booked["id"]
    deposit = price * 3 // 10
    assert booked["amountPaidCents"] == deposit
    assert [i["status"] for i in booked["schedule"]["instalments"]] == ["PAID", "DUE"]

    # Three days past the due date with one day of grace: the sweep (every second here) cancels it.
    # (on a thread of its own: Playwright's sync API keeps an event loop running on this one).
    past = dt.date.today() - dt.timedelta(days=3)
    with ThreadPoolExecutor(1) as db:
        db.submit(asyncio.run, _move_balance_due_date(stack, booking_id, past)).result(timeout=30)

    def refunded() -> dict[str, Any] | None:
        view = admin_booking(stack, tenant, booking_id)
        return view if view["status"] == "CANCELLED" and view["amountRefundedCents"] == deposit else None

    cancelled = eventually(refunded, timeout=30)
    assert cancelled, "the overdue balance did not cancel and refund the booking"
    assert cancelled["cancelReason"] == "balance_unpaid"
    assert [(i["kind"], i["status"]) for i in cancelled["schedule"]["instalments"]] == [
        ("DEPOSIT", "REFUNDED"),
        ("BALANCE", "CANCELLED"),
    ]

    # The couple's page says why, and what came back.
    page.goto(manage_link(stack, address, booking_id))
    expect(page.get_by_role("heading", name="Your booking", level=1)).to_be_visible()
    expect(page.locator(".cancel-reason")).to_have_text(
        "This booking was cancelled because the balance was not paid by its due date."
        f" You were refunded {money(page, deposit)}."
    )
    expect(page.get_by_role("button", name=re.compile("^Pay the balance"))).to_have_count(0)
    expect(page.get_by_role("button", name="Cancel booking")).to_have_count(0)
    check_page(page, page, "schedule-6-manage-cancelled")

    # The business's booking page: cancelled, the deposit refunded, the balance cancelled.
    sign_in_as(page, stack, tenant)
    page.goto(f"{stack.url}/admin/bookings/{booking_id}")
    header = page.get_by_role("paragraph").filter(has=page.locator(".badge.status-cancelled"))
    expect(header).to_contain_text("Cancelled (the balance was not paid by its due date)")
    section = page.get_by_role("region", name="Payment schedule")
    rows = section.locator("tbody tr")
    expect(rows).to_have_count(2)
    for row, (kind, status) in zip(
        (rows.nth(0), rows.nth(1)), (("Deposit", "Refunded"), ("Balance", "Cancelled")), strict=True
    ):
        expect(row.get_by_role("rowheader")).to_have_text(kind)
        expect(row.locator(".badge")).to_have_text(status)
    expect(section.get_by_role("button", name=re.compile("^Waive"))).to_have_count(0)
    check_admin_page(page, "schedule-7-admin-cancelled", "the cancelled booking's payment schedule")

    # Each of the couple's emails once, however many sweeps went by: the deposit receipt, the overdue
    # notice, the cancellation for non-payment and the refund.
    wanted = ["booking.balance_overdue", "booking.cancellation", "booking.confirmation", "booking.refund"]

    def tags() -> list[str]:
        return sorted(str(m["X-MAIS-Tag"]) for m in mails_to(stack, address))

    assert eventually(lambda: set(wanted) <= set(tags()), timeout=20), tags()
    time.sleep(3)
    assert tags() == wanted
