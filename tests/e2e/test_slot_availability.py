"""Time slots over HTTP through Envoy, against the whole running platform: a tenant admin keeps
resources and their opening hours; couples list a time-slot service's starts in RFC 3339 with the
business's offset (a Berlin and a New York business on their clock-change days); bad input is refused
naming the field; one tenant never reaches another's resources."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.conftest import MakeTenant, TenantHandle
from tests.e2e.test_catalog_routes import create, error, package_body

HOURLY = {"durationMinutes": 60, "intervalMinutes": 60}
SUNDAY_NIGHTS = {"weekly": [{"weekday": 7, "ranges": [{"opens": "00:00", "closes": "06:00"}]}]}


def default_resource(http: httpx.Client, tenant: TenantHandle) -> dict[str, Any]:
    answer = http.get("/v1/tenant-admin/resources", headers=tenant.admin_headers())
    assert answer.status_code == 200, answer.text
    [default] = [r for r in answer.json()["items"] if r["isDefault"]]
    return dict(default)


def slot_shop(http: httpx.Client, tenant: TenantHandle) -> str:
    """Sunday nights open on the default resource, and an hourly service on it; the package's id."""
    resource = default_resource(http, tenant)
    put = http.put(
        f"/v1/tenant-admin/resources/{resource['id']}/hours",
        json=SUNDAY_NIGHTS,
        headers=tenant.admin_headers(),
    )
    assert put.status_code == 200, put.text
    return str(create(http, tenant, "packages", package_body("shoot", kind="SLOT", slot=HOURLY))["id"])


def slots(http: httpx.Client, tenant: TenantHandle, package_id: str, first: str, last: str) -> httpx.Response:
    return http.get(
        "/v1/availability/slots",
        params={"packageId": package_id, "from": first, "to": last},
        headers=tenant.public_headers(),
    )


@pytest.mark.parametrize(
    ("zone", "first", "last", "expected"),
    [
        # Berlin springs forward on 28 March 2027: no 02:00, and the 01:00 hour ends at 03:00 +02:00.
        (
            "Europe/Berlin",
            "2027-03-27",
            "2027-03-29",
            [
                ("2027-03-28T00:00:00+01:00", "2027-03-28T01:00:00+01:00", "00:00"),
                ("2027-03-28T01:00:00+01:00", "2027-03-28T03:00:00+02:00", "01:00"),
                ("2027-03-28T03:00:00+02:00", "2027-03-28T04:00:00+02:00", "03:00"),
                ("2027-03-28T04:00:00+02:00", "2027-03-28T05:00:00+02:00", "04:00"),
                ("2027-03-28T05:00:00+02:00", "2027-03-28T06:00:00+02:00", "05:00"),
            ],
        ),
        # New York falls back on 7 November 2027: 01:00 once (-04:00), and it ends at 01:00 -05:00.
        (
            "America/New_York",
            "2027-11-06",
            "2027-11-08",
            [
                ("2027-11-07T00:00:00-04:00", "2027-11-07T01:00:00-04:00", "00:00"),
                ("2027-11-07T01:00:00-04:00", "2027-11-07T01:00:00-05:00", "01:00"),
                ("2027-11-07T02:00:00-05:00", "2027-11-07T03:00:00-05:00", "02:00"),
                ("2027-11-07T03:00:00-05:00", "2027-11-07T04:00:00-05:00", "03:00"),
                ("2027-11-07T04:00:00-05:00", "2027-11-07T05:00:00-05:00", "04:00"),
                ("2027-11-07T05:00:00-05:00", "2027-11-07T06:00:00-05:00", "05:00"),
            ],
        ),
    ],
)
def test_couples_see_a_change_days_starts_with_the_business_offsets(
    http: httpx.Client,
    make_tenant: MakeTenant,
    zone: str,
    first: str,
    last: str,
    expected: list[tuple[str, str, str]],
) -> None:
    tenant = make_tenant("slots", onboarded=False, timezone=zone)
    package_id = slot_shop(http, tenant)
    answer = slots(http, tenant, package_id, first, last)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["packageId"], body["timezone"]) == (package_id, zone)
    assert body["resourceId"] == default_resource(http, tenant)["id"]
    assert [(s["startsAt"], s["endsAt"], s["time"]) for s in body["slots"]] == expected
    assert {s["date"] for s in body["slots"]} == {expected[0][0][:10]}


def test_a_bad_slot_question_names_its_field(http: httpx.Client, make_tenant: MakeTenant) -> None:
    tenant = make_tenant("slotq", onboarded=False)
    package_id = slot_shop(http, tenant)
    garden = create(http, tenant, "packages", package_body("garden"))
    assert error(slots(http, tenant, garden["id"], "2027-06-01", "2027-06-02")) == (
        400,
        "VALIDATION_ERROR",
        ["packageId"],
    )
    assert error(slots(http, tenant, "", "2027-06-01", "2027-06-02"))[2] == ["packageId"]
    assert error(slots(http, tenant, package_id, "2027-06-01", "2027-07-02")) == (
        400,
        "VALIDATION_ERROR",
        ["to"],
    )
    assert error(slots(http, tenant, package_id, "June", "2027-06-02"))[2] == ["from"]
    # Another business's key does not reach this package.
    other = make_tenant("slotq", onboarded=False)
    assert slots(http, other, package_id, "2027-06-01", "2027-06-02").status_code == 404


def test_an_admin_keeps_resources_and_their_hours(http: httpx.Client, make_tenant: MakeTenant) -> None:
    tenant = make_tenant("slotres", onboarded=False)
    headers = tenant.admin_headers()
    ana = http.post("/v1/tenant-admin/resources", json={"name": "Ana"}, headers=headers)
    assert ana.status_code == 201, ana.text
    resource = ana.json()
    assert (resource["name"], resource["active"], resource["isDefault"]) == ("Ana", True, False)
    assert error(http.post("/v1/tenant-admin/resources", json={"name": "ana"}, headers=headers)) == (
        409,
        "NAME_TAKEN",
        ["name"],
    )
    renamed = http.patch(
        f"/v1/tenant-admin/resources/{resource['id']}",
        json={"name": "Ana Lopez", "version": resource["version"]},
        headers=headers,
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["version"] == resource["version"] + 1
    stale = http.patch(
        f"/v1/tenant-admin/resources/{resource['id']}",
        json={"active": False, "version": resource["version"]},
        headers=headers,
    )
    assert error(stale)[:2] == (409, "VERSION_CONFLICT")

    hours_url = f"/v1/tenant-admin/resources/{resource['id']}/hours"
    body = {
        "weekly": [
            {
                "weekday": 6,
                "ranges": [{"opens": "10:00", "closes": "13:00"}, {"opens": "14:00", "closes": "24:00"}],
            }
        ],
        "exceptions": [{"date": "2027-06-05", "ranges": [], "reason": "Holiday"}],
        "from": "2027-06-01",
        "to": "2027-06-30",
    }
    put = http.put(hours_url, json=body, headers=headers)
    assert put.status_code == 200, put.text
    read = http.get(hours_url, params={"from": "2027-06-01", "to": "2027-06-30"}, headers=headers).json()
    assert (read["weekly"], read["exceptions"]) == (body["weekly"], body["exceptions"])

    overlapping = {
        "weekly": [
            {
                "weekday": 1,
                "ranges": [{"opens": "09:00", "closes": "12:00"}, {"opens": "11:00", "closes": "13:00"}],
            }
        ]
    }
    assert error(http.put(hours_url, json=overlapping, headers=headers)) == (
        400,
        "VALIDATION_ERROR",
        ["weekly[0].ranges[1]"],
    )
    assert http.get(hours_url, headers=headers).json()["weekly"] == body["weekly"]

    # Another business's admin does not reach it.
    other = make_tenant("slotres", onboarded=False)
    assert http.get(hours_url, headers=other.admin_headers()).status_code == 404
    assert (
        http.delete(f"/v1/tenant-admin/resources/{resource['id']}", headers=other.admin_headers()).status_code
        == 404
    )

    default = default_resource(http, tenant)
    assert http.delete(f"/v1/tenant-admin/resources/{default['id']}", headers=headers).status_code == 409
    gone = http.delete(f"/v1/tenant-admin/resources/{resource['id']}", headers=headers)
    assert gone.status_code == 204, gone.text
    assert http.get(hours_url, headers=headers).status_code == 404
