"""A business moves a couple's time slot from its dashboard: a Berlin studio's 90-minute session,
booked through the API and paid on the sandbox, is rescheduled from the booking page's "Reschedule"
section to another day's free start (the day's times listed from the public slots route, as a couple
would see them); the page says where it moved, the couple gets "your booking moved" naming the new
day and times, and their manage page (from that email's link) shows the new times. And the couple
moves a whole-day booking themselves from their manage page (inside their cancellation window), in
the widget's calendar."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Page, expect

from services.booking.emails import day_for_people
from tests.e2e.browser.admin import check_admin_page, confirmed_booking, sign_in_as
from tests.e2e.browser.conftest import FIRST_DAY_AHEAD, Shop, couple_email
from tests.e2e.browser.pages import MANAGE_LINK, check_page, manage_link
from tests.e2e.conftest import MakeTenant, TenantHandle, eventually, mails_to
from tools.stack.launcher import Stack

ZONE = "Europe/Berlin"
# Open 10:00-14:00 every day; 90 minutes every 90: starts at 10:00 and 11:30.
OPEN = [{"opens": "10:00", "closes": "14:00"}]
EVERY_DAY = {"weekly": [{"weekday": d, "ranges": OPEN} for d in range(1, 8)]}
SLOT = {"durationMinutes": 90, "intervalMinutes": 90}
NEW_SPAN = "11:30\u201313:00"


@pytest.fixture
def studio(stack: Stack, make_tenant: MakeTenant) -> tuple[TenantHandle, str]:
    """A Berlin business with one time-slot package on its default resource's hours; its package id."""
    tenant = make_tenant("slotmove", timezone=ZONE, name="Studio Hell")
    with httpx.Client(base_url=stack.url, timeout=10.0, headers=tenant.admin_headers()) as admin:

        def ok(answer: httpx.Response) -> dict[str, Any]:
            assert answer.status_code in (200, 201), f"{answer.request.url}: {answer.text}"
            return dict(answer.json())

        ok(admin.patch("/v1/tenant-admin/settings", json={"policy": {"maxLiveHoldsPerAddress": 100}}))
        [default] = [r for r in ok(admin.get("/v1/tenant-admin/resources"))["items"] if r["isDefault"]]
        ok(admin.put(f"/v1/tenant-admin/resources/{default['id']}/hours", json=EVERY_DAY))
        package = {
            "slug": "session",
            "title": "Studio session",
            "priceCents": 20_000,
            "kind": "SLOT",
            "slot": SLOT,
        }
        made = ok(admin.post("/v1/tenant-admin/packages", json=package))
    return tenant, str(made["id"])


def _moved_mail_link(stack: Stack, address: str) -> tuple[str, str]:
    """The "your booking moved" email's text and its manage link."""

    def find() -> tuple[str, str] | None:
        for message in mails_to(stack, address):
            if "your booking moved" not in str(message["Subject"]):
                continue
            body = message.get_body(preferencelist=("plain",))
            text = body.get_content() if body is not None else ""
            links = MANAGE_LINK.findall(text)
            if links:
                return text, str(links[0])
        return None

    found = eventually(find, timeout=20)
    assert found, f"no 'your booking moved' email to {address}"
    return found


def test_the_admin_moves_a_slot_booking_to_another_time_and_the_couple_sees_it(
    page: Page, stack: Stack, studio: tuple[TenantHandle, str]
) -> None:
    tenant, package_id = studio
    day = dt.date.today() + dt.timedelta(days=FIRST_DAY_AHEAD)
    later = day + dt.timedelta(days=1)
    berlin = ZoneInfo(ZONE)
    starts_at = dt.datetime.combine(day, dt.time(10, 0), tzinfo=berlin).isoformat()
    new_start = dt.datetime.combine(later, dt.time(11, 30), tzinfo=berlin)
    address = couple_email()
    booking = confirmed_booking(
        stack,
        tenant,
        package_id=package_id,
        event_date=day,
        couple_name="Ana & Bo",
        email=address,
        starts_at=starts_at,
    )
    assert (booking["kind"], booking["startsAt"]) == ("SLOT", starts_at), booking

    sign_in_as(page, stack, tenant)
    page.goto(f"{stack.url}/admin/bookings/{booking['id']}")
    section = page.get_by_role("region", name="Reschedule")
    expect(section).to_be_visible()
    expect(section).to_contain_text("10:00\u201311:30 (Europe/Berlin)")
    with page.expect_response(lambda r: "/v1/availability/slots?" in r.url) as listed:
        section.get_by_label("New day").fill(later.isoformat())
    assert listed.value.status == 200, listed.value.text()
    times = section.get_by_role("group", name=f"Free times ({ZONE})")
    expect(times.get_by_role("radio")).to_have_count(2)
    times.get_by_role("radio", name="11:30").check()
    section.get_by_label("Reason (the couple sees it)").fill("the studio is being painted")
    check_admin_page(page, "slot-reschedule-form", "the booking page's reschedule form")

    to_move = re.compile(r"/v1/tenant-admin/bookings/[^/]+/reschedule$")
    with page.expect_request(to_move) as sent, page.expect_response(to_move) as moved:
        section.get_by_role("button", name="Move the booking").click()
    assert moved.value.status == 200, moved.value.text()
    assert json.loads(sent.value.post_data or "{}") == {
        "startsAt": new_start.isoformat(),
        "reason": "the studio is being painted",
    }
    assert sent.value.headers.get("idempotency-key"), "the reschedule carries an Idempotency-Key"
    expect(page.get_by_role("status").filter(has_text="The booking is moved to")).to_contain_text(
        f"{NEW_SPAN} (Europe/Berlin)"
    )
    check_admin_page(page, "slot-reschedule-done", "the booking page after the move")

    text, link = _moved_mail_link(stack, address)
    assert f"Now: {day_for_people(later)}, {NEW_SPAN} ({ZONE})" in text, text
    assert f"Was: {day_for_people(day)}, 10:00\u201311:30 ({ZONE})" in text, text

    page.goto(link)
    expect(page.get_by_role("heading", name="Your booking", level=1)).to_be_visible()
    facts = page.locator(".booking-facts")
    expect(facts).to_contain_text(f"{NEW_SPAN} ({ZONE})")
    expect(facts).not_to_contain_text("10:00")
    check_page(page, page, "slot-reschedule-manage")


def test_the_couple_moves_their_whole_day_booking_from_the_manage_page(
    page: Page, stack: Stack, shop: Shop
) -> None:
    day, later = shop.next_date(), shop.next_date()
    address = couple_email()
    booking = confirmed_booking(
        stack,
        shop.tenant,
        package_id=shop.packages["Garden day"]["id"],
        event_date=day,
        couple_name="Cy & Di",
        email=address,
    )
    page.goto(manage_link(stack, address, booking["id"]))
    section = page.get_by_role("region", name="Move to another date")
    expect(section).to_be_visible()
    with page.expect_response(lambda r: "/v1/availability/calendar?" in r.url) as listed:
        section.get_by_role("button", name="Choose another date").click()
    assert listed.value.status == 200, listed.value.text()
    if later.month != day.month:
        section.get_by_role("button", name="Next month").click()
    section.locator(f'button[data-date="{later.isoformat()}"]').click()
    check_page(page, page, "couple-move-date")

    to_move = re.compile(r"/v1/bookings/[^/]+/reschedule\?token=")
    with page.expect_request(to_move) as sent, page.expect_response(to_move) as moved:
        section.get_by_role("button", name="Move my booking to this date").click()
    assert moved.value.status == 200, moved.value.text()
    assert json.loads(sent.value.post_data or "{}") == {"eventDate": later.isoformat()}
    assert sent.value.headers.get("idempotency-key"), "the reschedule carries an Idempotency-Key"
    expect(section.get_by_role("status")).to_contain_text("Your booking is moved to")
    expect(section.get_by_role("status")).to_contain_text("An email with the new date is on its way.")
    check_page(page, page, "couple-move-done")

    text, _ = _moved_mail_link(stack, address)
    assert day_for_people(later) in text, text
    page.reload()
    facts = page.locator(".booking-facts")
    for word in (later.strftime("%A"), later.strftime("%B"), f"{later.day}"):
        expect(facts).to_contain_text(word)
    expect(facts).not_to_contain_text(day.strftime("%A"))
    with httpx.Client(base_url=stack.url, timeout=10.0, headers=shop.tenant.admin_headers()) as admin:
        admin_view = admin.get(f"/v1/tenant-admin/bookings/{booking['id']}").json()
    assert admin_view["eventDate"] == later.isoformat()
