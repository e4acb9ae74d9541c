"""A time slot's exact times reach the couple's mailbox and the business's calendar, through the whole
running platform: a Berlin business sells an hourly service; a couple books the hour that spans the
spring-forward change (01:00 +01:00 to 03:00 +02:00, one real hour), pays, and the confirmation's .eml
says the times on the business's clock and carries a .ics with the slot's two UTC instants; the tenant's
calendar feed gives the same instants."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import icalendar
import pytest

from tests.e2e.conftest import MakeTenant, mails_to
from tests.e2e.test_admin_reports import feed_of
from tests.e2e.test_catalog_routes import create, package_body
from tests.e2e.test_payments_flows import Sandbox, wait_until
from tests.e2e.test_slot_availability import HOURLY, SUNDAY_NIGHTS, default_resource
from tools.stack.launcher import Stack

ONE_AM_ON_THE_CHANGE = "2027-03-28T01:00:00+01:00"


@pytest.fixture(scope="module")
def sandbox(stack: Stack) -> Iterator[Sandbox]:
    running = Sandbox(stack)
    yield running
    running.http.close()


def booked_slot(http: httpx.Client, sandbox: Sandbox, make_tenant: MakeTenant) -> tuple[Any, str, str]:
    """(tenant, booking id, couple's address) of a paid, confirmed slot at ONE_AM_ON_THE_CHANGE."""
    tenant = make_tenant("slotmail", timezone="Europe/Berlin")
    resource = default_resource(http, tenant)
    hours = http.put(
        f"/v1/tenant-admin/resources/{resource['id']}/hours",
        json=SUNDAY_NIGHTS,
        headers=tenant.admin_headers(),
    )
    assert hours.status_code == 200, hours.text
    package = create(http, tenant, "packages", package_body("shoot", kind="SLOT", slot=HOURLY, active=True))
    address = f"couple-{uuid.uuid4().hex[:10]}@example.com"
    answer = http.post(
        "/v1/bookings/checkout",
        json={
            "packageId": package["id"],
            "startsAt": ONE_AM_ON_THE_CHANGE,
            "coupleName": "Ana & Bo",
            "email": address,
        },
        headers=tenant.public_headers(),
    )
    assert answer.status_code == 201, answer.text
    sandbox.pay(answer.json()["checkoutUrl"])
    booking_id = str(answer.json()["bookingId"])

    def confirmed() -> bool:
        got = http.get(f"/v1/tenant-admin/bookings/{booking_id}", headers=tenant.admin_headers())
        return got.status_code == 200 and got.json()["status"] == "CONFIRMED"

    wait_until(confirmed, f"booking {booking_id} to be CONFIRMED")
    return tenant, booking_id, address


def test_the_confirmation_eml_says_the_times_and_carries_the_slots_instants(
    http: httpx.Client, stack: Stack, sandbox: Sandbox, make_tenant: MakeTenant
) -> None:
    _, booking_id, address = booked_slot(http, sandbox, make_tenant)
    confirmation = wait_until(
        lambda: next(
            (m for m in mails_to(stack, address) if m["X-MAIS-Tag"] == "booking.confirmation"), None
        ),
        "the confirmation email",
    )
    when = "Sunday 28 March 2027, 01:00\u201303:00 (Europe/Berlin)"
    assert "your booking for Sunday 28 March 2027 at 01:00 is confirmed" in str(confirmation["Subject"])
    body = confirmation.get_body(preferencelist=("plain",))
    assert body is not None and when in body.get_content()
    (ics,) = [part for part in confirmation.iter_attachments() if part.get_filename() == "booking.ics"]
    assert ics.get_content_type() == "text/calendar"
    content = ics.get_payload(decode=True)
    assert isinstance(content, bytes)
    document = icalendar.Calendar.from_ical(content)
    assert document["METHOD"] == "PUBLISH"
    (event,) = document.walk("VEVENT")
    assert str(event["UID"]) == booking_id
    # 01:00 CET is 00:00 UTC; the hour ends at 03:00 CEST, 01:00 UTC.
    assert event.decoded("DTSTART") == datetime(2027, 3, 28, 0, 0, tzinfo=UTC)
    assert event.decoded("DTEND") == datetime(2027, 3, 28, 1, 0, tzinfo=UTC)


def test_the_calendar_feed_gives_the_slot_its_instants(
    http: httpx.Client, sandbox: Sandbox, make_tenant: MakeTenant
) -> None:
    tenant, booking_id, _ = booked_slot(http, sandbox, make_tenant)
    url = http.get("/v1/tenant-admin/calendar-feed", headers=tenant.admin_headers()).json()["url"]
    answer = feed_of(http, url)
    assert answer.status_code == 200, answer.text
    events = {str(e["UID"]): e for e in icalendar.Calendar.from_ical(answer.content).walk("VEVENT")}
    assert set(events) == {booking_id}
    assert events[booking_id].decoded("DTSTART") == datetime(2027, 3, 28, 0, 0, tzinfo=UTC)
    assert events[booking_id].decoded("DTEND") == datetime(2027, 3, 28, 1, 0, tzinfo=UTC)
