"""A tenant admin's reports through the whole stack (Envoy, gateway, booking, payments, the Stripe
sandbox): the overview's numbers after a paid and a partly refunded booking, the bookings export as CSV
(exactly the tenant's bookings of the range, never another tenant's, no formula cells), and the
platform admin's webhook health."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import icalendar
import pytest

from tests.e2e.conftest import MakeTenant, mails_to
from tests.e2e.test_payments_flows import (
    Sandbox,
    Shop,
    a_free_day,
    error_of,
    make_shop,
    started,
    status_becomes,
    wait_until,
)
from tools.stack.launcher import Stack


@pytest.fixture(scope="module")
def sandbox(stack: Stack) -> Iterator[Sandbox]:
    running = Sandbox(stack)
    yield running
    running.http.close()


def overview(http: httpx.Client, shop: Shop) -> dict[str, Any]:
    answer = http.get("/v1/tenant-admin/overview", headers=shop.tenant.admin_headers())
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def paid(http: httpx.Client, sandbox: Sandbox, shop: Shop, day: str, **more: Any) -> str:
    answer = started(http, shop, day, **more)
    sandbox.pay(answer["checkoutUrl"])
    status_becomes(http, shop, answer["bookingId"], "CONFIRMED")
    return str(answer["bookingId"])


def test_the_overview_shows_holds_the_next_bookings_and_the_money_after_a_partial_refund(
    http: httpx.Client, stack: Stack, sandbox: Sandbox, make_tenant: MakeTenant
) -> None:
    # 9,000 + a 1,000 add-on, 10 % to the platform.
    shop = make_shop(stack, make_tenant, percent=10)
    empty = overview(http, shop)
    assert (empty["currency"], empty["holds"], empty["upcoming"]) == ("usd", [], [])
    zero = {
        "currency": "usd",
        "bookings": 0,
        "grossCents": 0,
        "feeCents": 0,
        "refundedCents": 0,
        "netCents": 0,
    }
    assert empty["month"] == empty["year"] == zero
    months = [m["month"] for m in empty["byMonth"]]
    assert len(months) == 12 and months == sorted(months) and months[-1] == empty["today"][:7]

    kept, refunded = a_free_day(), a_free_day()
    kept_id = paid(http, sandbox, shop, kept)
    refunded_id = paid(http, sandbox, shop, refunded)
    cancel = http.post(
        f"/v1/tenant-admin/bookings/{refunded_id}/cancel",
        json={"reason": "Rain", "refund": {"amountCents": 4_000}},
        headers=shop.tenant.admin_headers(),
    )
    assert cancel.status_code == 200, cancel.text
    held = started(http, shop, a_free_day())

    # Two charges of 10,000 with 1,000 fees; 4,000 refunded with 400 of the fee.
    expected = {
        "currency": "usd",
        "bookings": 2,
        "grossCents": 20_000,
        "feeCents": 1_600,
        "refundedCents": 4_000,
        "netCents": 14_400,
    }
    body = wait_until(
        lambda: (o := overview(http, shop))["month"] == expected and o, "the refund in the ledger"
    )
    assert body["year"] == expected
    assert body["byMonth"][-1] == {
        "month": body["today"][:7],
        "currency": "usd",
        "bookings": 2,
        "grossCents": 20_000,
        "refundedCents": 4_000,
        "netCents": 14_400,
    }
    assert all(m["bookings"] == 0 for m in body["byMonth"][:-1])
    assert [b["id"] for b in body["upcoming"]] == [kept_id]
    assert body["upcoming"][0]["status"] == "CONFIRMED"
    assert [b["id"] for b in body["holds"]] == [held["bookingId"]]
    assert body["otherCurrencies"] == []

    # Another tenant's overview holds none of it.
    other = make_shop(stack, make_tenant)
    theirs = overview(http, other)
    assert (theirs["month"]["grossCents"], theirs["upcoming"], theirs["holds"]) == (0, [], [])


def export(http: httpx.Client, shop: Shop, **params: str) -> httpx.Response:
    return http.get(
        "/v1/tenant-admin/exports/bookings.csv", params=params, headers=shop.tenant.admin_headers()
    )


def test_the_csv_export_holds_exactly_the_tenants_bookings_of_the_range_and_no_formulas(
    http: httpx.Client, stack: Stack, sandbox: Sandbox, make_tenant: MakeTenant
) -> None:
    shop = make_shop(stack, make_tenant)
    other = make_shop(stack, make_tenant)
    first, inside, last, after = (date.fromisoformat(a_free_day()) for _ in range(4))
    ours = {
        paid(
            http, sandbox, shop, first.isoformat(), coupleName='=HYPERLINK("http://x")', phone="+1 555 0100"
        ),
        started(http, shop, inside.isoformat())["bookingId"],
        started(http, shop, last.isoformat(), coupleName='@Ana, "Bo"')["bookingId"],
    }
    started(http, shop, after.isoformat())
    started(http, other, inside.isoformat())

    answer = export(http, shop, **{"from": first.isoformat(), "to": last.isoformat()})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.headers["content-disposition"] == (
        f'attachment; filename="bookings-{first.isoformat()}-{last.isoformat()}.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8"))))
    assert answer.text.split("\r\n", 1)[0] == (
        "booking_id,status,event_date,couple_name,email,phone,package,total,currency,paid,refunded,created_at"
    )
    assert {r["booking_id"] for r in rows} == ours
    assert [r["event_date"] for r in rows] == sorted(r["event_date"] for r in rows)
    by_name = {r["couple_name"]: r for r in rows}
    formula = by_name['\'=HYPERLINK("http://x")']
    assert (formula["status"], formula["phone"], formula["package"]) == (
        "CONFIRMED",
        "'+1 555 0100",
        "Garden day",
    )
    assert (formula["total"], formula["currency"], formula["paid"], formula["refunded"]) == (
        "100.00",
        "usd",
        "100.00",
        "0.00",
    )
    assert '\'@Ana, "Bo"' in by_name
    assert not any(cell.startswith(("=", "+", "-", "@")) for r in rows for cell in r.values())

    # The other tenant's export of the same range holds only its own booking.
    theirs = export(http, other, **{"from": first.isoformat(), "to": last.isoformat()})
    assert len(list(csv.DictReader(io.StringIO(theirs.text)))) == 1
    assert not ours & {r["booking_id"] for r in csv.DictReader(io.StringIO(theirs.text))}


def test_the_csv_export_needs_a_range_of_at_most_366_days(
    http: httpx.Client, stack: Stack, make_tenant: MakeTenant
) -> None:
    shop = make_shop(stack, make_tenant, onboarded=False)
    today = date.today()
    assert error_of(export(http, shop)) == (400, "VALIDATION_ERROR", ["from", "to"])
    assert error_of(export(http, shop, to=today.isoformat())) == (400, "VALIDATION_ERROR", ["from"])
    assert error_of(export(http, shop, **{"from": "2024-13-01", "to": "2024-12-01"})) == (
        400,
        "VALIDATION_ERROR",
        ["from"],
    )
    year = {"from": today.isoformat(), "to": (today + timedelta(days=365)).isoformat()}
    assert export(http, shop, **year).status_code == 200
    too_long = {"from": today.isoformat(), "to": (today + timedelta(days=366)).isoformat()}
    assert error_of(export(http, shop, **too_long)) == (400, "VALIDATION_ERROR", ["to"])
    backwards = {"from": today.isoformat(), "to": (today - timedelta(days=1)).isoformat()}
    assert error_of(export(http, shop, **backwards)) == (400, "VALIDATION_ERROR", ["to"])
    assert http.get("/v1/tenant-admin/exports/bookings.csv", params=year).status_code == 401


def test_webhook_health_is_the_platform_admins_only(
    http: httpx.Client, stack: Stack, platform_token: str, make_tenant: MakeTenant
) -> None:
    answer = http.get("/v1/admin/webhook-health", headers={"Authorization": f"Bearer {platform_token}"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {"failed", "deadLetters", "oldestUnprocessedAt", "tenants"}
    assert body["failed"] >= body["deadLetters"] >= 0
    assert len(body["tenants"]) <= 20
    assert all(set(t) == {"tenantId", "failed"} for t in body["tenants"])
    tenant = make_tenant(f"wh{uuid.uuid4().hex[:4]}", onboarded=False)
    assert http.get("/v1/admin/webhook-health", headers=tenant.admin_headers()).status_code == 403


def feed_of(http: httpx.Client, url: str) -> httpx.Response:
    # The URL names the platform's public origin; the test reaches the same stack at its own address.
    return http.get("/v1/calendar-feeds/" + url.rsplit("/v1/calendar-feeds/", 1)[1])


def test_the_calendar_feed_holds_exactly_the_tenants_confirmed_bookings_and_rotation_kills_the_old_url(
    http: httpx.Client, stack: Stack, sandbox: Sandbox, make_tenant: MakeTenant
) -> None:
    shop = make_shop(stack, make_tenant)
    other = make_shop(stack, make_tenant)
    long_name = "Ana; Bo, \\ and a name long enough to be folded across several lines — ünïcode " * 2
    confirmed = {
        paid(http, sandbox, shop, a_free_day(), coupleName=long_name.strip()),
        paid(http, sandbox, shop, a_free_day(), coupleName="Cy & Di"),
    }
    started(http, shop, a_free_day())
    paid(http, sandbox, other, a_free_day())

    first = http.get("/v1/tenant-admin/calendar-feed", headers=shop.tenant.admin_headers())
    assert first.status_code == 200, first.text
    url = first.json()["url"]
    assert (
        http.get("/v1/tenant-admin/calendar-feed", headers=shop.tenant.admin_headers()).json()["url"] == url
    )

    answer = feed_of(http, url)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/calendar; charset=utf-8"
    assert all(len(line.encode()) <= 75 for line in answer.content.decode().split("\r\n"))
    parsed = icalendar.Calendar.from_ical(answer.content)
    events = {str(e["UID"]): e for e in parsed.walk("VEVENT")}
    assert set(events) == confirmed
    summaries = {str(e["SUMMARY"]) for e in events.values()}
    assert summaries == {f"{long_name.strip()} — Garden day", "Cy & Di — Garden day"}
    for event in events.values():
        assert isinstance(event.decoded("DTSTART"), date)
        assert set(event) <= {"UID", "DTSTAMP", "DTSTART", "DTEND", "SUMMARY", "TRANSP"}
    assert "@example.com" not in answer.text

    rotated = http.post("/v1/tenant-admin/calendar-feed/rotate", headers=shop.tenant.admin_headers())
    assert rotated.status_code == 200, rotated.text
    new_url = rotated.json()["url"]
    assert new_url != url
    assert error_of(feed_of(http, url))[:2] == (404, "NOT_FOUND")
    assert feed_of(http, new_url).status_code == 200
    assert (
        http.get("/v1/tenant-admin/calendar-feed", headers=shop.tenant.admin_headers()).json()["url"]
        == new_url
    )
    assert error_of(http.get("/v1/calendar-feeds/" + "A" * 43 + ".ics"))[:2] == (404, "NOT_FOUND")

    # The other tenant's feed is its own.
    theirs = http.get("/v1/tenant-admin/calendar-feed", headers=other.tenant.admin_headers()).json()["url"]
    their_events = icalendar.Calendar.from_ical(feed_of(http, theirs).content).walk("VEVENT")
    assert len(their_events) == 1 and not {str(e["UID"]) for e in their_events} & confirmed


def test_the_confirmation_is_sent_again_once_per_request_and_only_for_a_confirmed_booking(
    http: httpx.Client, stack: Stack, sandbox: Sandbox, make_tenant: MakeTenant
) -> None:
    shop = make_shop(stack, make_tenant)
    couple = f"resend-{uuid.uuid4().hex[:8]}@example.com"
    booking_id = paid(http, sandbox, shop, a_free_day(), email_address=couple)
    path = f"/v1/tenant-admin/bookings/{booking_id}/resend-confirmation"

    def confirmations() -> int:
        return sum("confirmed" in str(m["Subject"]) for m in mails_to(stack, couple))

    wait_until(lambda: confirmations() == 1, "the first confirmation")
    key = {"Idempotency-Key": f"resend-{uuid.uuid4()}"}
    for _ in range(2):  # the same request twice: one more email
        answer = http.post(path, headers={**shop.tenant.admin_headers(), **key})
        assert (answer.status_code, answer.json()) == (202, {"queued": True}), answer.text
    wait_until(lambda: confirmations() == 2, "the resent confirmation")
    assert http.post(path, headers=shop.tenant.admin_headers()).status_code == 202
    wait_until(lambda: confirmations() == 3, "a second resend")
    resent = [m for m in mails_to(stack, couple) if "confirmed" in str(m["Subject"])][-1]
    assert f"/booking/{booking_id}?token=" in resent.get_body(("plain",)).get_content()

    held = started(http, shop, a_free_day())
    held_path = f"/v1/tenant-admin/bookings/{held['bookingId']}/resend-confirmation"
    refused = http.post(held_path, headers=shop.tenant.admin_headers())
    assert refused.status_code == 409, refused.text
    other = make_tenant(prefix="resend-other", onboarded=False)
    assert http.post(path, headers=other.admin_headers()).status_code == 404
