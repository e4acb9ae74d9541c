"""Time-slot packages over HTTP through Envoy, against the whole running platform: a tenant admin
makes a package a whole day or a time-slot service with its terms, bad terms are refused naming the
field, the kind cannot change under a live booking, and couples see the kind and terms (without
resource ids) in the public list."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import MakeTenant, TenantHandle
from tests.e2e.test_catalog_routes import create, error, package_body

CEREMONY = {
    "durationMinutes": 90,
    "bufferBeforeMinutes": 15,
    "bufferAfterMinutes": 30,
    "intervalMinutes": 30,
    "leadTimeMinutes": 1440,
}


@pytest.fixture
def tenant(make_tenant: MakeTenant) -> TenantHandle:
    return make_tenant("slotcat", onboarded=False)


def packages_of(http: httpx.Client, tenant: TenantHandle) -> list[dict[str, Any]]:
    answer = http.get("/v1/tenant-admin/packages", headers=tenant.admin_headers())
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


def test_an_admin_sells_a_time_slot_service_and_couples_see_its_terms_without_resource_ids(
    http: httpx.Client, tenant: TenantHandle
) -> None:
    resource = str(uuid.uuid4())
    slot = create(
        http,
        tenant,
        "packages",
        package_body("ceremony", kind="SLOT", slot={**CEREMONY, "resourceId": resource}),
    )
    day = create(http, tenant, "packages", package_body("garden"))
    assert slot["kind"] == "SLOT"
    assert slot["slot"] == {**CEREMONY, "resourceId": resource}
    assert (day["kind"], day["slot"]) == ("DAY", None)
    read = http.get(f"/v1/tenant-admin/packages/{slot['id']}", headers=tenant.admin_headers())
    assert read.json()["slot"] == slot["slot"]
    # The tenant's default resource is null, not "".
    shoot = create(http, tenant, "packages", package_body("shoot", kind="SLOT", slot={"durationMinutes": 60}))
    assert shoot["slot"] == {
        "durationMinutes": 60,
        "bufferBeforeMinutes": 0,
        "bufferAfterMinutes": 0,
        "intervalMinutes": 30,
        "leadTimeMinutes": 0,
        "resourceId": None,
    }

    public = http.get("/v1/packages", headers=tenant.public_headers())
    assert public.status_code == 200, public.text
    by_slug = {p["slug"]: p for p in public.json()["items"]}
    assert by_slug["ceremony"]["kind"] == "SLOT"
    assert by_slug["ceremony"]["slot"] == CEREMONY
    assert (by_slug["garden"]["kind"], by_slug["garden"]["slot"]) == ("DAY", None)
    assert resource not in public.text
    one = http.get("/v1/packages/ceremony", headers=tenant.public_headers()).json()
    assert one["slot"] == CEREMONY


def test_bad_kinds_and_slot_terms_are_refused_naming_the_field_and_nothing_is_created(
    http: httpx.Client, tenant: TenantHandle
) -> None:
    headers = tenant.admin_headers()
    cases = [
        (package_body(kind="SLOT"), ["slot"]),
        (package_body(kind="DAY", slot=CEREMONY), ["slot"]),
        (package_body(slot=CEREMONY), ["slot"]),
        (
            package_body(
                kind="SLOT",
                slot={
                    "durationMinutes": 721,
                    "intervalMinutes": 0,
                    "bufferAfterMinutes": -5,
                    "resourceId": "room",
                },
            ),
            ["slot.durationMinutes", "slot.intervalMinutes", "slot.bufferAfterMinutes", "slot.resourceId"],
        ),
        (
            package_body(kind="SLOT", slot={"durationMinutes": "90", "colour": "red"}),
            ["slot.durationMinutes", "slot.colour"],
        ),
        (package_body(kind="SLOT", slot={**CEREMONY, "durationMinutes": 2**40}), ["slot.durationMinutes"]),
    ]
    for body, fields in cases:
        answer = http.post("/v1/tenant-admin/packages", json=body, headers=headers)
        status, code, named = error(answer)
        assert (status, code) == (400, "VALIDATION_ERROR"), answer.text
        assert sorted(named) == sorted(fields), answer.text
    answer = http.post("/v1/tenant-admin/packages", json=package_body(kind="HOUR"), headers=headers)
    assert answer.status_code == 400 and answer.json()["error"] == "VALIDATION_ERROR"
    assert any("kind" in f["field"] for f in answer.json()["fields"]), answer.text
    assert packages_of(http, tenant) == []


def test_a_package_changes_kind_with_its_terms_and_a_whole_day_drops_them(
    http: httpx.Client, tenant: TenantHandle
) -> None:
    headers = tenant.admin_headers()
    package = create(http, tenant, "packages", package_body("garden"))
    path = f"/v1/tenant-admin/packages/{package['id']}"

    refused = http.patch(path, json={"kind": "SLOT"}, headers=headers)
    assert error(refused) == (400, "VALIDATION_ERROR", ["slot"])
    assert error(http.patch(path, json={"kind": None}, headers=headers)) == (
        400,
        "VALIDATION_ERROR",
        ["kind"],
    )
    slot = http.patch(
        path, json={"kind": "SLOT", "slot": CEREMONY, "version": package["version"]}, headers=headers
    )
    assert slot.status_code == 200, slot.text
    assert (slot.json()["kind"], slot.json()["slot"]["durationMinutes"]) == ("SLOT", 90)
    assert slot.headers["ETag"] == f'"{package["version"] + 1}"'

    # `slot` replaces the terms as a whole.
    shorter = http.patch(path, json={"slot": {"durationMinutes": 45}}, headers=headers).json()
    assert shorter["slot"]["durationMinutes"] == 45 and shorter["slot"]["bufferAfterMinutes"] == 0
    stale = http.patch(path, json={"kind": "DAY", "version": package["version"]}, headers=headers)
    assert error(stale)[:2] == (409, "VERSION_CONFLICT")

    day = http.patch(path, json={"kind": "DAY"}, headers=headers).json()
    assert (day["kind"], day["slot"]) == ("DAY", None)


def test_a_package_sold_to_a_couple_keeps_its_kind_while_the_booking_is_live(
    http: httpx.Client, make_tenant: MakeTenant
) -> None:
    tenant = make_tenant("slotcat")  # onboarded: a couple can check out
    headers = tenant.admin_headers()
    package = create(http, tenant, "packages", package_body("garden"))
    day = (datetime.now(UTC) + timedelta(days=60 + secrets.randbelow(200))).date().isoformat()
    held = http.post(
        "/v1/bookings/checkout",
        json={
            "packageId": package["id"],
            "eventDate": day,
            "coupleName": "Ada & Bo",
            "email": "ada@example.com",
        },
        headers=tenant.public_headers(),
    )
    assert held.status_code == 201, held.text

    path = f"/v1/tenant-admin/packages/{package['id']}"
    refused = http.patch(path, json={"kind": "SLOT", "slot": CEREMONY}, headers=headers)
    assert error(refused)[:2] == (409, "IN_USE"), refused.text
    assert http.get(path, headers=headers).json()["kind"] == "DAY"
    # Other changes go through; so does a kind that is no change.
    assert http.patch(path, json={"kind": "DAY", "title": "Garden day"}, headers=headers).status_code == 200


def test_another_tenant_cannot_change_a_packages_kind(
    http: httpx.Client, tenant: TenantHandle, make_tenant: MakeTenant
) -> None:
    package = create(http, tenant, "packages", package_body("ceremony", kind="SLOT", slot=CEREMONY))
    intruder = make_tenant("slotcat-other", onboarded=False)
    answer = http.patch(
        f"/v1/tenant-admin/packages/{package['id']}", json={"kind": "DAY"}, headers=intruder.admin_headers()
    )
    assert error(answer)[:2] == (404, "NOT_FOUND")
    assert (
        http.get(f"/v1/tenant-admin/packages/{package['id']}", headers=tenant.admin_headers()).json()["kind"]
        == "SLOT"
    )
