"""Moving a booking through Envoy, against the whole running platform (issue 16): a couple checks out
a time slot with its start and pays; the business moves it to another start; the booking JSON shows
the new times with the business's offset, history says so and the couple hears of it. A whole day
moves by date; refused moves name why or the field; the couple moves their own booking only inside
their cancellation window."""

from __future__ import annotations

import re
import secrets
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.e2e.conftest import MakeTenant, TenantHandle, eventually
from tests.e2e.test_catalog_routes import create, package_body
from tests.e2e.test_payments_flows import Sandbox, error_of, mail_to, text_of, wait_until
from tests.e2e.test_slot_availability import default_resource
from tools.stack.launcher import Stack

WEEKDAYS = {
    "weekly": [{"weekday": d, "ranges": [{"opens": "09:00", "closes": "17:00"}]} for d in range(1, 8)]
}
NINETY = {"durationMinutes": 90, "intervalMinutes": 30}


@pytest.fixture(scope="module")
def sandbox(stack: Stack) -> Any:
    running = Sandbox(stack)
    yield running
    running.http.close()


def a_day() -> date:
    return (datetime.now(UTC) + timedelta(days=40 + secrets.randbelow(200))).date()


def slot_tenant(http: httpx.Client, make_tenant: MakeTenant) -> tuple[TenantHandle, str]:
    """A Berlin business open 09:00-17:00 every day with a 90-minute service; its package id."""
    tenant = make_tenant("mv", timezone="Europe/Berlin")
    resource = default_resource(http, tenant)
    put = http.put(
        f"/v1/tenant-admin/resources/{resource['id']}/hours", json=WEEKDAYS, headers=tenant.admin_headers()
    )
    assert put.status_code == 200, put.text
    package = create(http, tenant, "packages", package_body("shoot", price=40000, kind="SLOT", slot=NINETY))
    return tenant, str(package["id"])


def starts_on(http: httpx.Client, tenant: TenantHandle, package_id: str, day: date) -> list[dict[str, Any]]:
    answer = http.get(
        "/v1/availability/slots",
        params={"packageId": package_id, "from": day.isoformat(), "to": day.isoformat()},
        headers=tenant.public_headers(),
    )
    assert answer.status_code == 200, answer.text
    return list(answer.json()["slots"])


def paid(http: httpx.Client, sandbox: Sandbox, tenant: TenantHandle, couple: str, **choice: str) -> str:
    answer = http.post(
        "/v1/bookings/checkout",
        json={"coupleName": "Ana & Bo", "email": couple, **choice},
        headers=tenant.public_headers(),
    )
    assert answer.status_code == 201, answer.text
    sandbox.pay(answer.json()["checkoutUrl"])
    booking_id = str(answer.json()["bookingId"])
    wait_until(lambda: booking_of(http, tenant, booking_id)["status"] == "CONFIRMED", "confirmation")
    return booking_id


def booking_of(http: httpx.Client, tenant: TenantHandle, booking_id: str) -> dict[str, Any]:
    answer = http.get(f"/v1/tenant-admin/bookings/{booking_id}", headers=tenant.admin_headers())
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def reschedule(
    http: httpx.Client, tenant: TenantHandle, booking_id: str, body: dict[str, Any], key: str = ""
) -> httpx.Response:
    headers = tenant.admin_headers()
    if key:
        headers["Idempotency-Key"] = key
    return http.post(f"/v1/tenant-admin/bookings/{booking_id}/reschedule", json=body, headers=headers)


def couple_link(stack: Stack, couple: str, subject: str) -> tuple[str, str]:
    """(booking id, token) of the manage link in the couple's email about `subject`."""
    link = re.search(r"(http\S+/booking/\S+)", text_of(mail_to(stack, couple, subject)))
    assert link is not None
    parts = urlsplit(link.group(1))
    return parts.path.removeprefix("/booking/"), parts.query.removeprefix("token=")


def test_a_paid_slot_moved_by_the_business_shows_its_new_times_with_the_business_offset(
    http: httpx.Client, stack: Stack, sandbox: Sandbox, make_tenant: MakeTenant
) -> None:
    tenant, package_id = slot_tenant(http, make_tenant)
    day = a_day()
    first, *rest = starts_on(http, tenant, package_id, day)
    couple = f"moved-{uuid.uuid4().hex[:8]}@example.com"
    booking_id = paid(http, sandbox, tenant, couple, packageId=package_id, startsAt=first["startsAt"])
    booked = booking_of(http, tenant, booking_id)
    assert (booked["kind"], booked["startsAt"], booked["endsAt"]) == (
        "SLOT",
        first["startsAt"],
        first["endsAt"],
    )
    assert booked["resourceId"] == default_resource(http, tenant)["id"]

    # The next day at 14:00, Berlin time, given in UTC: the answer speaks Berlin's offset.
    next_day = starts_on(http, tenant, package_id, day + timedelta(days=1))
    later = datetime.fromisoformat(next(s["startsAt"] for s in next_day if s["time"] == "14:00"))
    body = {"startsAt": later.astimezone(UTC).isoformat(), "reason": "rain"}
    moved = reschedule(http, tenant, booking_id, body, key=f"mv-{booking_id}")
    assert moved.status_code == 200, moved.text
    assert moved.json()["startsAt"] == later.isoformat()
    assert moved.json()["endsAt"] == (later + timedelta(minutes=90)).isoformat()
    assert moved.json()["eventDate"] == (day + timedelta(days=1)).isoformat()
    again = booking_of(http, tenant, booking_id)
    assert (again["startsAt"], again["status"]) == (later.isoformat(), "CONFIRMED")
    assert again["history"][-1]["reason"].endswith(": rain")
    assert again["history"][-1]["actor"].startswith("tenant_admin:")
    # A retry with the same key moves nothing more; the old start is free again, the new one is not.
    assert reschedule(http, tenant, booking_id, body, key=f"mv-{booking_id}").status_code == 200
    # (Public reads are cached for a moment, ADR 0009: the lists catch up within it.)
    assert eventually(
        lambda: first["startsAt"] in [s["startsAt"] for s in starts_on(http, tenant, package_id, day)],
        timeout=5,
    )
    assert eventually(
        lambda: (
            later.isoformat()
            not in [s["startsAt"] for s in starts_on(http, tenant, package_id, later.date())]
        ),
        timeout=5,
    )
    told = text_of(mail_to(stack, couple, "your booking moved"))
    assert "14:00\u201315:30 (Europe/Berlin)" in told

    # Refusals change nothing and say why or which field.
    other = f"other-{uuid.uuid4().hex[:8]}@example.com"
    paid(http, sandbox, tenant, other, packageId=package_id, startsAt=rest[-1]["startsAt"])
    taken = reschedule(http, tenant, booking_id, {"startsAt": rest[-1]["startsAt"]})
    assert error_of(taken)[:2] == (409, "DATE_UNAVAILABLE"), taken.text
    assert error_of(reschedule(http, tenant, booking_id, {"eventDate": day.isoformat()})) == (
        400,
        "VALIDATION_ERROR",
        ["eventDate"],
    )
    assert error_of(reschedule(http, tenant, booking_id, {"startsAt": "2030-01-01T10:00"})) == (
        400,
        "VALIDATION_ERROR",
        ["startsAt"],
    )
    for edge in ("0001-01-01T00:30:00+01:00", "9999-12-31T23:30:00+00:00"):
        refused = reschedule(http, tenant, booking_id, {"startsAt": edge})
        assert error_of(refused) == (400, "VALIDATION_ERROR", ["startsAt"]), refused.text
    assert booking_of(http, tenant, booking_id)["startsAt"] == later.isoformat()


def test_a_whole_day_moves_by_date_and_the_couple_moves_only_inside_their_window(
    http: httpx.Client, stack: Stack, sandbox: Sandbox, make_tenant: MakeTenant
) -> None:
    tenant = make_tenant("mvday")
    # Couples of this business may change their booking up to a year before it: too late for this
    # one (set before the first booking: booking keeps a tenant's policy for a few seconds).
    settings = {"policy": {"coupleCancelDays": 365}}
    closing = http.patch("/v1/tenant-admin/settings", json=settings, headers=tenant.admin_headers())
    assert closing.status_code == 200, closing.text
    package = create(http, tenant, "packages", package_body("garden"))
    day = a_day()
    couple = f"day-{uuid.uuid4().hex[:8]}@example.com"
    booking_id = paid(http, sandbox, tenant, couple, packageId=package["id"], eventDate=day.isoformat())
    moved = reschedule(http, tenant, booking_id, {"eventDate": (day + timedelta(days=7)).isoformat()})
    assert moved.status_code == 200, moved.text
    assert (moved.json()["kind"], moved.json()["eventDate"], moved.json()["startsAt"]) == (
        "DAY",
        (day + timedelta(days=7)).isoformat(),
        None,
    )

    # The couple's link, from the email telling them of the move.
    link_id, token = couple_link(stack, couple, "your booking moved")
    assert link_id == booking_id
    path = f"/v1/bookings/{booking_id}/reschedule"
    closed = http.post(path, params={"token": token}, json={"eventDate": day.isoformat()})
    assert error_of(closed)[:2] == (409, "CANCELLATION_WINDOW_CLOSED"), closed.text
    assert http.post(path, params={"token": "nope"}, json={"eventDate": day.isoformat()}).status_code == 404
    policy = http.patch(
        "/v1/tenant-admin/settings", json={"policy": {"coupleCancelDays": 7}}, headers=tenant.admin_headers()
    )
    assert policy.status_code == 200, policy.text
    # Once booking has the new policy (within seconds), the couple moves it back themselves.
    back = wait_until(
        lambda: (
            answer
            if (
                answer := http.post(path, params={"token": token}, json={"eventDate": day.isoformat()})
            ).status_code
            == 200
            else None
        ),
        "the couple's move",
    )
    assert back.json()["eventDate"] == day.isoformat()
    assert booking_of(http, tenant, booking_id)["history"][-1]["actor"] == "couple"
