"""A couple books a time slot through the widget on the business's own site: a Berlin studio sells a
90-minute portrait session on its default resource's weekly hours (set through the API, as its owner
would); the couple, whose browser is in New York, picks a day and a start from the list of radios
(with the keyboard), sees the times on the studio's clock with its zone's name, pays on the sandbox's
Checkout page, and the done page and the manage page show the date with the start and end."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.browser.conftest import FIRST_DAY_AHEAD, couple_email, frame_allows
from tests.e2e.browser.host import serve, widget_page
from tests.e2e.browser.pages import (
    CONFIRMATION_TIMEOUT_MS,
    check_page,
    continue_to_payment,
    day_button,
    day_label,
    fill_details,
    manage_link,
    on_checkout,
    session_id_of,
    show_month,
    step_heading,
    widget_frame,
)
from tests.e2e.conftest import MakeTenant, TenantHandle
from tools.stack.demo_site import HostSite
from tools.stack.launcher import Stack

ZONE = "Europe/Berlin"
TITLE = "Portrait session"
# Open 10:00-14:00 every day; 90 minutes every 90: starts at 10:00 and 11:30 (13:00 would end after closing).
OPEN = [{"opens": "10:00", "closes": "14:00"}]
EVERY_DAY = {"weekly": [{"weekday": d, "ranges": OPEN} for d in range(1, 8)]}
SLOT = {"durationMinutes": 90, "intervalMinutes": 90}
SPAN = "11:30\u201313:00"


@pytest.fixture
def studio(stack: Stack, make_tenant: MakeTenant, host_site: HostSite) -> TenantHandle:
    """A Berlin business with one time-slot package, framed by `host_site`."""
    tenant = make_tenant("slotweb", timezone=ZONE, name="Studio Licht")
    with httpx.Client(base_url=stack.url, timeout=10.0, headers=tenant.admin_headers()) as admin:

        def ok(answer: httpx.Response) -> dict[str, Any]:
            assert answer.status_code in (200, 201), f"{answer.request.url}: {answer.text}"
            return dict(answer.json())

        settings = {"allowedOrigins": [host_site.origin], "policy": {"maxLiveHoldsPerAddress": 100}}
        ok(admin.patch("/v1/tenant-admin/settings", json=settings))
        [default] = [r for r in ok(admin.get("/v1/tenant-admin/resources"))["items"] if r["isDefault"]]
        ok(admin.put(f"/v1/tenant-admin/resources/{default['id']}/hours", json=EVERY_DAY))
        package = {"slug": "portrait", "title": TITLE, "priceCents": 30_000, "kind": "SLOT", "slot": SLOT}
        ok(admin.post("/v1/tenant-admin/packages", json=package))
    frame_allows(stack, tenant, host_site.origin)
    return tenant


def _couple_booking(link: str) -> dict[str, Any]:
    api = link.replace("/booking/", "/v1/bookings/", 1)
    answer = httpx.get(api, timeout=10)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_a_couple_books_a_time_slot_in_the_widget_and_sees_its_times(
    page: Page, stack: Stack, studio: TenantHandle, host_site: HostSite
) -> None:
    day = dt.date.today() + dt.timedelta(days=FIRST_DAY_AHEAD)
    starts_at = dt.datetime.combine(day, dt.time(11, 30), tzinfo=ZoneInfo(ZONE)).isoformat()
    url = serve(host_site, "/portraits", widget_page(stack.url, studio.public_key))
    page.goto(url)
    app = widget_frame(page)

    app.get_by_role("radio", name=TITLE).check()
    with page.expect_response(lambda r: "/v1/availability/slots?" in r.url) as listed:
        app.get_by_role("button", name="Choose a date", exact=True).click()
    assert listed.value.status == 200
    expect(step_heading(app, "Choose a date and time")).to_be_focused()
    show_month(app, day)
    label = day_label(app, day)
    expect(day_button(app, day)).to_have_attribute("aria-label", label)
    day_button(app, day).click()

    times = app.get_by_role("group", name=f"Times on {label}")
    expect(times).to_be_visible()
    expect(app.get_by_text(f"Times are in {ZONE}.")).to_be_visible()
    first, second = times.get_by_role("radio", name="10:00\u201311:30"), times.get_by_role("radio", name=SPAN)
    expect(times.get_by_role("radio")).to_have_count(2)
    # A native radio group: focus the first start, the arrow key moves to (and chooses) the next.
    first.focus()
    page.keyboard.press("Space")
    expect(first).to_be_checked()
    page.keyboard.press("ArrowDown")
    expect(second).to_be_checked()
    expect(second).to_be_focused()
    expect(app.get_by_text(f"Selected: {label}, {SPAN} ({ZONE})")).to_be_visible()
    check_page(page, app, "slot-2-time")

    app.get_by_role("button", name="Continue", exact=True).click()
    expect(step_heading(app, "Your details")).to_be_focused()
    expect(app.get_by_text(f"{label}, {SPAN} ({ZONE})")).to_be_visible()
    address = couple_email()
    fill_details(app, "Ana & Bo", address)
    to_checkout = re.compile(r"/v1/bookings/checkout$")
    with page.expect_request(to_checkout) as sent, page.expect_response(to_checkout) as checkout:
        continue_to_payment(app).click()
    assert checkout.value.status == 201, checkout.value.text()
    body = json.loads(sent.value.post_data or "{}")
    assert (body["startsAt"], body["eventDate"]) == (starts_at, day.isoformat()), body

    on_checkout(page, stack.sandbox_url)
    session_id = session_id_of(page)
    page.locator("#pay").click()
    expect(page.get_by_role("heading", name="You're booked!", level=1)).to_be_visible(
        timeout=CONFIRMATION_TIMEOUT_MS
    )
    expect(page.get_by_text(f"{label}, {SPAN} ({ZONE})")).to_be_visible()
    check_page(page, page, "slot-done")
    session = httpx.get(
        f"{stack.url}/v1/checkout/sessions/{session_id}", headers=studio.public_headers(), timeout=10
    ).json()
    assert (session["kind"], session["startsAt"], session["status"]) == ("SLOT", starts_at, "CONFIRMED")
    ends_at = dt.datetime.fromisoformat(starts_at) + dt.timedelta(minutes=90)
    assert dt.datetime.fromisoformat(session["endsAt"]) == ends_at

    link = manage_link(stack, address, session["bookingId"])
    page.goto(link)
    expect(page.get_by_role("heading", name="Your booking", level=1)).to_be_visible()
    facts = page.locator(".booking-facts")
    expect(facts).to_contain_text(label)
    if "startsAt" in _couple_booking(link):
        expect(facts).to_contain_text(f"{label}, {SPAN} ({ZONE})")
    else:
        # The couple's booking JSON gains kind/startsAt/endsAt with helper "reschedule" (issue 16):
        # until then the page can only show the date, which it does.
        expect(facts).not_to_contain_text(re.compile(r"\d\d:\d\d"))
    check_page(page, page, "slot-manage")
