"""Hostile input on the time-slot routes (issue 16), chosen by hand, through Envoy: a malformed or
absurd start, slot range, opening hours, resource name or reschedule body is a 400 VALIDATION_ERROR
naming the field, and nothing changes (no hold, no claim, the hours and resources as they were)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import MakeTenant
from tests.reliability.figures import Figures
from tests.reliability.shop import (
    Sandbox,
    Shop,
    a_free_day,
    assert_error,
    booking_as_admin,
    bookings_of,
    counting,
    couple_link,
    wait_for,
)
from tests.reliability.test_slot_holds import slot_body, slot_shop, starts_on
from tools.stack.launcher import Stack

CATEGORY = "hostile input"


@pytest.fixture(scope="module")
def shop(api: httpx.Client, make_tenant: MakeTenant) -> Shop:
    return slot_shop(api, make_tenant, "slothand")


@pytest.fixture
def sent(http: httpx.Client, figures: Figures) -> Iterator[httpx.Client]:
    """The public client, each answer counted in the figures."""
    with counting(http, figures, CATEGORY) as client:
        yield client


def _hours(http: httpx.Client, shop: Shop) -> dict[str, Any]:
    resource = shop.extra["resource_id"]
    answer = http.get(f"/v1/tenant-admin/resources/{resource}/hours", headers=shop.tenant.admin_headers())
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _resources(http: httpx.Client, shop: Shop) -> list[dict[str, Any]]:
    answer = http.get("/v1/tenant-admin/resources", headers=shop.tenant.admin_headers())
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


# --- startsAt at checkout ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        "2027-06-12 10:00",
        "2027-06-12T10:00:00",
        "2027-06-12",
        "10:00",
        "2027-06-12T10:00:00+24:00",
        "2027-06-12T10:00:00+99:99",
        "2027-06-12T10:00:00-23:59:59.999999999",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:00:00Z",
        "9500-01-01T10:00:00Z",
        "2027-02-30T10:00:00Z",
        "2027-06-12T25:00:00Z",
        "\uff12\uff10\uff12\uff17-06-12T10:00:00Z",
        "x" * 40,
        "2027-06-12T10:00:00Z\x00",
    ],
    ids=[
        "space",
        "no-offset",
        "date-only",
        "time-only",
        "offset-24h",
        "offset-99",
        "offset-fractional",
        "year-1-east",
        "year-9999-west",
        "year-1",
        "year-9999",
        "year-9500",
        "impossible-day",
        "hour-25",
        "fullwidth-digits",
        "long-junk",
        "nul",
    ],
)
def test_a_malformed_or_absurd_start_is_refused_naming_startsAt_and_holds_nothing(
    sent: httpx.Client, shop: Shop, bad: str
) -> None:
    before = len(bookings_of(sent, shop))
    answer = sent.post(
        "/v1/bookings/checkout", json=slot_body(shop, bad), headers=shop.tenant.public_headers()
    )
    # A well-formed instant far from any offered start is unavailable (409), never a 5xx.
    if answer.status_code == 409:
        assert_error(answer, 409, "DATE_UNAVAILABLE")
    else:
        assert_error(answer, 400, "VALIDATION_ERROR", "startsAt")
    assert len(bookings_of(sent, shop)) == before


@pytest.mark.parametrize("bad", [20270612, ["2027-06-12T10:00:00Z"], {"at": "x"}, True], ids=str)
def test_a_start_of_the_wrong_type_is_refused_naming_startsAt(
    sent: httpx.Client, shop: Shop, bad: Any
) -> None:
    answer = sent.post(
        "/v1/bookings/checkout", json=slot_body(shop, bad), headers=shop.tenant.public_headers()
    )
    assert_error(answer, 400, "VALIDATION_ERROR", "startsAt")


def test_a_day_package_refuses_a_start_and_a_slot_package_requires_one(
    sent: httpx.Client, shop: Shop, api: httpx.Client
) -> None:
    day = a_free_day()
    [start, *_] = starts_on(api, shop, day)
    before = len(bookings_of(sent, shop))
    neither = slot_body(shop, start)
    del neither["startsAt"]
    answer = sent.post("/v1/bookings/checkout", json=neither, headers=shop.tenant.public_headers())
    # Payments checks the body before it knows the package's kind: it names eventDate and says why.
    assert_error(answer, 400, "VALIDATION_ERROR", "eventDate")
    assert "startsAt" in answer.json()["fields"][0]["message"]
    day_package = api.post(
        "/v1/tenant-admin/packages",
        json={"slug": "whole-day", "title": "Whole day", "priceCents": 9_000, "active": True},
        headers=shop.tenant.admin_headers(),
    )
    assert day_package.status_code == 201, day_package.text
    both = {**slot_body(shop, start), "packageId": day_package.json()["id"], "eventDate": day}
    answer = sent.post("/v1/bookings/checkout", json=both, headers=shop.tenant.public_headers())
    assert_error(answer, 400, "VALIDATION_ERROR", "startsAt")
    assert len(bookings_of(sent, shop)) == before
    assert start in starts_on(api, shop, day)


# --- the slot list ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field_name"),
    [
        ({"from": "2027-07-10", "to": "2027-07-01"}, "to"),
        ({"from": "2027-07-01", "to": "2027-08-15"}, "to"),
        ({"from": "0001-01-01", "to": "9999-12-31"}, "from"),
        ({"from": "2027-02-30", "to": "2027-03-01"}, "from"),
        ({"from": "2027-07-01", "to": "2027-7-2"}, "to"),
        ({"from": "9999-12-31", "to": "9999-12-31"}, None),
        ({"from": "", "to": ""}, None),
    ],
    ids=["reversed", "over-31-days", "year-1-to-9999", "impossible", "short-month", "year-9999", "empty"],
)
def test_slot_ranges_reversed_too_long_or_malformed_are_refused_naming_the_field(
    sent: httpx.Client, shop: Shop, params: dict[str, str], field_name: str | None
) -> None:
    answer = sent.get(
        "/v1/availability/slots",
        params={"packageId": shop.package_id, **params},
        headers=shop.tenant.public_headers(),
    )
    if field_name is None:
        # Far future or the default range: an answer (possibly empty), never a 5xx.
        assert answer.status_code in (200, 400), answer.text
        if answer.status_code == 400:
            assert_error(answer, 400, "VALIDATION_ERROR")
        return
    assert_error(answer, 400, "VALIDATION_ERROR", field_name)


@pytest.mark.parametrize("package_id", ["", "not-a-uuid", "00000000-0000-0000-0000-000000000000", "x" * 64])
def test_slots_of_a_missing_or_malformed_package_are_refused(
    sent: httpx.Client, shop: Shop, package_id: str
) -> None:
    answer = sent.get(
        "/v1/availability/slots",
        params={"packageId": package_id, "from": "2027-07-01", "to": "2027-07-02"},
        headers=shop.tenant.public_headers(),
    )
    assert answer.status_code in (400, 404), answer.text
    assert_error(answer, answer.status_code, "VALIDATION_ERROR" if answer.status_code == 400 else "NOT_FOUND")
    if answer.status_code == 400:
        assert_error(answer, 400, "VALIDATION_ERROR", "packageId")


# --- opening hours ----------------------------------------------------------------------------------


def _weekly(*ranges: tuple[str, str], weekday: int = 1) -> dict[str, Any]:
    return {"weekly": [{"weekday": weekday, "ranges": [{"opens": o, "closes": c} for o, c in ranges]}]}


@pytest.mark.parametrize(
    ("body", "field_name"),
    [
        (_weekly(("25:00", "26:00")), "weekly[0].ranges[0]"),
        (_weekly(("09:00", "24:01")), "weekly[0].ranges[0]"),
        (_weekly(("09:60", "10:00")), "weekly[0].ranges[0]"),
        (_weekly(("9:00", "10:00")), "weekly[0].ranges[0]"),
        (_weekly(("10:00", "09:00")), "weekly[0].ranges[0]"),
        (_weekly(("10:00", "10:00")), "weekly[0].ranges[0]"),
        (_weekly(("09:00", "12:00"), ("11:00", "14:00")), "weekly[0].ranges"),
        (_weekly(("09:00", "12:00"), weekday=8), "weekly[0].weekday"),
        (_weekly(("09:00", "12:00"), weekday=0), "weekly[0].weekday"),
        (_weekly(("09:00", "12:00"), weekday=2**40), "weekly.0.weekday"),
        ({"weekly": [_weekly(("09:00", "10:00"))["weekly"][0]] * 2}, "weekly"),
        ({"weekly": [{"weekday": 1, "ranges": [{"opens": "09:00", "closes": "10:00"}] * 10_000}]}, "ranges"),
        ({"weekly": [{"weekday": d % 7 + 1, "ranges": []} for d in range(10_000)]}, "weekly"),
        ({"exceptions": [{"date": "2027-02-30", "ranges": []}]}, "exceptions[0].date"),
        (
            {"exceptions": [{"date": "2027-07-01", "ranges": [{"opens": "25:00", "closes": "26:00"}]}]},
            "exceptions[0]",
        ),
        (
            {
                "exceptions": [
                    {
                        "date": "2027-07-01",
                        "ranges": [
                            {"opens": "08:00", "closes": "12:00"},
                            {"opens": "11:00", "closes": "13:00"},
                        ],
                    }
                ]
            },
            "exceptions[0].ranges",
        ),
        ({"exceptions": [{"date": "2027-07-01", "ranges": [], "reason": "x" * 10_000}]}, "reason"),
        ({"exceptions": [{"date": "2027-07-01", "ranges": []}] * 10_000}, "exceptions"),
        ({"from": "2027-07-10", "to": "2027-07-01"}, "to"),
        ({"from": "0001-01-01", "to": "9999-12-31"}, "to"),
        ({"weekly": "Mondays"}, "weekly"),
    ],
    ids=[
        "hour-25",
        "past-midnight",
        "minute-60",
        "short-hour",
        "reversed",
        "empty-range",
        "overlapping",
        "weekday-8",
        "weekday-0",
        "weekday-huge",
        "weekday-twice",
        "10000-ranges",
        "10000-days",
        "impossible-exception-date",
        "exception-hour-25",
        "exception-overlapping",
        "reason-10kb",
        "10000-exceptions",
        "span-reversed",
        "span-years",
        "weekly-string",
    ],
)
def test_bad_opening_hours_are_refused_naming_the_field_and_change_nothing(
    sent: httpx.Client, shop: Shop, body: dict[str, Any], field_name: str
) -> None:
    before = _hours(sent, shop)
    resource = shop.extra["resource_id"]
    answer = sent.put(
        f"/v1/tenant-admin/resources/{resource}/hours", json=body, headers=shop.tenant.admin_headers()
    )
    assert_error(answer, 400, "VALIDATION_ERROR", field_name)
    assert _hours(sent, shop) == before


# --- resources ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "field_name"),
    [("x" * 10_240, "name"), ("", "name"), ("   ", "name"), ("Ana\x00", "name"), (7, "name"), (None, "name")],
    ids=["10kb", "empty", "blank", "nul", "number", "null"],
)
def test_bad_resource_names_are_refused_naming_the_field_and_create_or_rename_nothing(
    sent: httpx.Client, shop: Shop, name: Any, field_name: str
) -> None:
    admin = shop.tenant.admin_headers()
    before = _resources(sent, shop)
    assert_error(
        sent.post("/v1/tenant-admin/resources", json={"name": name}, headers=admin),
        400,
        "VALIDATION_ERROR",
        field_name,
    )
    resource = shop.extra["resource_id"]
    if name is not None:
        patched = sent.patch(f"/v1/tenant-admin/resources/{resource}", json={"name": name}, headers=admin)
        assert_error(patched, 400, "VALIDATION_ERROR", field_name)
    assert _resources(sent, shop) == before


def test_a_resource_patch_with_a_bad_version_or_unknown_field_changes_nothing(
    sent: httpx.Client, shop: Shop
) -> None:
    admin = shop.tenant.admin_headers()
    before = _resources(sent, shop)
    resource = shop.extra["resource_id"]
    for body, field_name in (
        ({"name": "Bo", "version": 0}, "version"),
        ({"name": "Bo", "version": 2**64}, "version"),
        ({"name": "Bo", "version": "1"}, "version"),
        ({"name": "Bo", "active": "yes"}, "active"),
        ({"name": "Bo", "isDefault": False}, "isDefault"),
    ):
        answer = sent.patch(f"/v1/tenant-admin/resources/{resource}", json=body, headers=admin)
        assert_error(answer, 400, "VALIDATION_ERROR", field_name)
    assert _resources(sent, shop) == before


# --- reschedule bodies --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def paid_slot(api: httpx.Client, stack: Stack, shop: Shop) -> dict[str, Any]:
    """A confirmed slot booking of the shop, and a free start to move it to."""
    day = a_free_day()
    first, *others = starts_on(api, shop, day)
    body = slot_body(shop, first)
    started = api.post("/v1/bookings/checkout", json=body, headers=shop.tenant.public_headers())
    assert started.status_code == 201, started.text
    sandbox = Sandbox(stack)
    try:
        paid = sandbox.pay(started.json()["checkoutUrl"])
        assert paid.status_code == 200, paid.text
    finally:
        sandbox.close()
    booking_id = started.json()["bookingId"]
    wait_for(lambda: booking_as_admin(api, shop, booking_id)["status"] == "CONFIRMED", "the slot booking")
    return {"bookingId": booking_id, "free": others[-1], "email": body["email"]}


@pytest.mark.parametrize(
    ("body", "field_name"),
    [
        # Neither: the service asks for "a new date (eventDate) or start (startsAt)" on eventDate.
        ({}, "eventDate"),
        ({"reason": "moved"}, "eventDate"),
        ({"eventDate": "2027-07-01", "startsAt": "2027-07-01T10:00:00Z"}, "eventDate"),
        ({"eventDate": "2027-07-01"}, "eventDate"),
        ({"startsAt": "2027-07-01T10:00:00"}, "startsAt"),
        ({"startsAt": "0001-01-01T00:00:00+01:00"}, "startsAt"),
        ({"startsAt": "9999-12-31T23:59:59-01:00"}, "startsAt"),
        ({"startsAt": 1}, "startsAt"),
        ({"startsAt": None, "eventDate": None}, "eventDate"),
        ({"startsAt": "2027-07-01T10:00:00Z", "reason": "x" * 10_000}, "reason"),
        ({"startsAt": "2027-07-01T10:00:00Z", "when": "now"}, "when"),
    ],
    ids=[
        "neither",
        "reason-only",
        "both",
        "date-for-a-slot",
        "no-offset",
        "year-1",
        "year-9999",
        "number",
        "nulls",
        "reason-10kb",
        "unknown-field",
    ],
)
def test_reschedule_bodies_with_both_neither_or_bad_targets_are_refused_and_move_nothing(
    sent: httpx.Client, shop: Shop, paid_slot: dict[str, Any], body: dict[str, Any], field_name: str
) -> None:
    booking_id = paid_slot["bookingId"]
    before = booking_as_admin(sent, shop, booking_id)
    answer = sent.post(
        f"/v1/tenant-admin/bookings/{booking_id}/reschedule", json=body, headers=shop.tenant.admin_headers()
    )
    assert_error(answer, 400, "VALIDATION_ERROR", field_name)
    after = booking_as_admin(sent, shop, booking_id)
    assert (after["startsAt"], after["endsAt"], after["eventDate"]) == (
        before["startsAt"],
        before["endsAt"],
        before["eventDate"],
    )


@pytest.mark.parametrize(
    ("params", "field_name"),
    [
        ({"from": "2027-07-10", "to": "2027-07-01"}, "to"),
        ({"from": "0001-01-01", "to": "9999-12-31"}, "to"),
        ({"from": "2027-02-30"}, "from"),
        ({"to": "tomorrow"}, "to"),
    ],
    ids=["reversed", "years", "impossible", "word"],
)
def test_reading_hours_over_a_bad_span_is_refused_naming_the_field(
    sent: httpx.Client, shop: Shop, params: dict[str, str], field_name: str
) -> None:
    resource = shop.extra["resource_id"]
    answer = sent.get(
        f"/v1/tenant-admin/resources/{resource}/hours", params=params, headers=shop.tenant.admin_headers()
    )
    assert_error(answer, 400, "VALIDATION_ERROR", field_name)


def test_a_start_whose_event_date_is_another_day_is_refused_naming_eventDate_and_holds_nothing(
    sent: httpx.Client, api: httpx.Client, shop: Shop
) -> None:
    day = a_free_day()
    [start, *_] = starts_on(api, shop, day)
    before = len(bookings_of(sent, shop))
    body = {**slot_body(shop, start), "eventDate": a_free_day()}
    answer = sent.post("/v1/bookings/checkout", json=body, headers=shop.tenant.public_headers())
    assert_error(answer, 400, "VALIDATION_ERROR", "eventDate")
    assert len(bookings_of(sent, shop)) == before
    assert start in starts_on(api, shop, day)


@pytest.mark.parametrize(
    ("body", "field_name"),
    [
        ({}, "eventDate"),
        ({"eventDate": "2027-07-01", "startsAt": "2027-07-01T10:00:00Z"}, "eventDate"),
        ({"startsAt": "2027-07-01T10:00Z"}, "startsAt"),
        ({"startsAt": "9999-12-31T23:59:59-01:00"}, "startsAt"),
        ({"startsAt": ["2027-07-01T10:00:00Z"]}, "startsAt"),
    ],
    ids=["neither", "both", "no-seconds", "year-9999", "list"],
)
def test_the_couples_reschedule_refuses_the_same_bodies_and_moves_nothing(
    sent: httpx.Client,
    stack: Stack,
    shop: Shop,
    paid_slot: dict[str, Any],
    body: dict[str, Any],
    field_name: str,
) -> None:
    booking_id, token = couple_link(stack, paid_slot["email"])
    assert booking_id == paid_slot["bookingId"]
    before = booking_as_admin(sent, shop, booking_id)
    answer = sent.post(f"/v1/bookings/{booking_id}/reschedule", params={"token": token}, json=body)
    assert_error(answer, 400, "VALIDATION_ERROR", field_name)
    after = booking_as_admin(sent, shop, booking_id)
    assert after == before
