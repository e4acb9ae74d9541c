"""Payment terms through Envoy: a tenant admin's `paymentPolicy` in the settings (partial changes,
field errors that change nothing, versions) and a package's own terms (set, changed in part, null
back to the business's), and another tenant never sees them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.conftest import MakeTenant, TenantHandle

PAY_IN_FULL = {
    "depositKind": "none",
    "depositBps": 0,
    "depositCents": 0,
    "balanceDueDays": 30,
    "graceDays": 3,
    "overdueAction": "remind",
    "depositRefundable": True,
    "reminderDays": 7,
}


@pytest.fixture
def tenant(make_tenant: MakeTenant) -> TenantHandle:
    return make_tenant(prefix="terms", onboarded=False)


def _settings(http: httpx.Client, tenant: TenantHandle) -> dict[str, Any]:
    read = http.get("/v1/tenant-admin/settings", headers=tenant.admin_headers())
    assert read.status_code == 200, read.text
    return dict(read.json())


def _patch_settings(http: httpx.Client, tenant: TenantHandle, body: dict[str, Any]) -> httpx.Response:
    return http.patch("/v1/tenant-admin/settings", json=body, headers=tenant.admin_headers())


def _package(http: httpx.Client, tenant: TenantHandle, **more: Any) -> dict[str, Any]:
    created = http.post(
        "/v1/tenant-admin/packages",
        json={"slug": "full-day", "title": "Full day", "priceCents": 300000, **more},
        headers=tenant.admin_headers(),
    )
    assert created.status_code == 201, created.text
    return dict(created.json())


# --- the business's terms ---------------------------------------------------------------------------


def test_a_new_business_takes_payment_in_full(http: httpx.Client, tenant: TenantHandle) -> None:
    assert _settings(http, tenant)["paymentPolicy"] == PAY_IN_FULL


def test_a_partial_change_keeps_the_other_terms_and_reads_back(
    http: httpx.Client, tenant: TenantHandle
) -> None:
    first = _patch_settings(
        http, tenant, {"paymentPolicy": {"depositKind": "percent", "depositBps": 2500, "graceDays": 5}}
    )
    assert first.status_code == 200, first.text
    second = _patch_settings(
        http, tenant, {"name": "Rose & Oak", "paymentPolicy": {"overdueAction": "cancel_keep_deposit"}}
    )
    assert second.status_code == 200, second.text

    expected = {
        **PAY_IN_FULL,
        "depositKind": "percent",
        "depositBps": 2500,
        "graceDays": 5,
        "overdueAction": "cancel_keep_deposit",
    }
    assert second.json()["paymentPolicy"] == expected
    read = _settings(http, tenant)
    assert (read["name"], read["paymentPolicy"]) == ("Rose & Oak", expected)
    assert read["version"] == first.json()["version"] + 1


@pytest.mark.parametrize(
    ("terms", "fields"),
    [
        ({"depositKind": "percent"}, ["paymentPolicy.depositBps"]),
        ({"depositKind": "fixed", "depositCents": -5}, ["paymentPolicy.depositCents"]),
        ({"depositKind": "half"}, ["paymentPolicy.depositKind"]),
        ({"balanceDueDays": 0, "graceDays": 61}, ["paymentPolicy.balanceDueDays", "paymentPolicy.graceDays"]),
        ({"reminderDays": "7"}, ["paymentPolicy.reminderDays"]),
        ({"depositRefundable": 1}, ["paymentPolicy.depositRefundable"]),
        ({"overdueAction": "shout"}, ["paymentPolicy.overdueAction"]),
        ({"lateFee": 100}, ["paymentPolicy.lateFee"]),
        ({"depositKind": "none", "depositBps": 2**40}, ["paymentPolicy.depositBps"]),
    ],
)
def test_bad_terms_are_refused_by_field_and_change_nothing(
    http: httpx.Client, tenant: TenantHandle, terms: dict[str, Any], fields: list[str]
) -> None:
    before = _settings(http, tenant)
    refused = _patch_settings(http, tenant, {"name": "Should not stick", "paymentPolicy": terms})

    assert refused.status_code == 400, refused.text
    assert refused.json()["error"] == "VALIDATION_ERROR"
    assert sorted(f["field"] for f in refused.json()["fields"]) == fields
    after = _settings(http, tenant)
    assert (after["name"], after["paymentPolicy"], after["version"]) == (
        before["name"],
        before["paymentPolicy"],
        before["version"],
    )


def test_null_or_non_object_terms_are_refused(http: httpx.Client, tenant: TenantHandle) -> None:
    for body in ({"paymentPolicy": None}, {"paymentPolicy": [1]}):
        refused = _patch_settings(http, tenant, body)
        assert refused.status_code == 400, refused.text
        assert next(f["field"] for f in refused.json()["fields"]).startswith("paymentPolicy")


def test_terms_sent_with_a_stale_version_are_a_version_conflict(
    http: httpx.Client, tenant: TenantHandle
) -> None:
    version = _settings(http, tenant)["version"]
    assert _patch_settings(http, tenant, {"name": "Someone else's edit"}).status_code == 200

    stale = _patch_settings(http, tenant, {"version": version, "paymentPolicy": {"graceDays": 9}})
    assert stale.status_code == 409, stale.text
    assert stale.json()["error"] == "VERSION_CONFLICT"
    assert _settings(http, tenant)["paymentPolicy"]["graceDays"] == 3


def test_the_platform_admin_sets_a_businesss_terms_too(
    http: httpx.Client, tenant: TenantHandle, platform_token: str
) -> None:
    changed = http.patch(
        f"/v1/admin/tenants/{tenant.id}",
        json={"paymentPolicy": {"depositKind": "fixed", "depositCents": 50000}},
        headers={"Authorization": f"Bearer {platform_token}"},
    )
    assert changed.status_code == 200, changed.text
    assert _settings(http, tenant)["paymentPolicy"]["depositCents"] == 50000


# --- a package's own terms --------------------------------------------------------------------------


def test_a_package_follows_the_business_until_it_has_terms_of_its_own(
    http: httpx.Client, tenant: TenantHandle
) -> None:
    package = _package(http, tenant)
    assert package["paymentPolicy"] is None

    own = http.patch(
        f"/v1/tenant-admin/packages/{package['id']}",
        json={"paymentPolicy": {"depositKind": "fixed", "depositCents": 80000}},
        headers=tenant.admin_headers(),
    )
    assert own.status_code == 200, own.text
    assert own.json()["paymentPolicy"] == {**PAY_IN_FULL, "depositKind": "fixed", "depositCents": 80000}

    partly = http.patch(
        f"/v1/tenant-admin/packages/{package['id']}",
        json={"paymentPolicy": {"balanceDueDays": 60}, "version": own.json()["version"]},
        headers=tenant.admin_headers(),
    )
    assert partly.status_code == 200, partly.text
    assert partly.json()["paymentPolicy"]["depositCents"] == 80000
    assert partly.json()["paymentPolicy"]["balanceDueDays"] == 60

    back = http.patch(
        f"/v1/tenant-admin/packages/{package['id']}",
        json={"paymentPolicy": None},
        headers=tenant.admin_headers(),
    )
    assert back.status_code == 200, back.text
    assert back.json()["paymentPolicy"] is None
    read = http.get(f"/v1/tenant-admin/packages/{package['id']}", headers=tenant.admin_headers())
    assert read.json()["paymentPolicy"] is None


def test_a_package_created_with_terms_keeps_them(http: httpx.Client, tenant: TenantHandle) -> None:
    package = _package(
        http, tenant, paymentPolicy={"depositKind": "percent", "depositBps": 3000, "depositRefundable": False}
    )
    assert package["paymentPolicy"] == {
        **PAY_IN_FULL,
        "depositKind": "percent",
        "depositBps": 3000,
        "depositRefundable": False,
    }
    listed = http.get("/v1/tenant-admin/packages", headers=tenant.admin_headers()).json()["items"]
    assert [p["paymentPolicy"] for p in listed] == [package["paymentPolicy"]]


def test_bad_package_terms_are_refused_by_field_and_nothing_is_written(
    http: httpx.Client, tenant: TenantHandle
) -> None:
    refused = http.post(
        "/v1/tenant-admin/packages",
        json={"slug": "bad", "title": "Bad", "priceCents": 1000, "paymentPolicy": {"depositKind": "fixed"}},
        headers=tenant.admin_headers(),
    )
    assert refused.status_code == 400, refused.text
    assert [f["field"] for f in refused.json()["fields"]] == ["paymentPolicy.depositCents"]
    assert http.get("/v1/tenant-admin/packages", headers=tenant.admin_headers()).json()["items"] == []

    package = _package(http, tenant)
    bad_patch = http.patch(
        f"/v1/tenant-admin/packages/{package['id']}",
        json={"title": "Renamed", "paymentPolicy": {"depositKind": "percent", "depositBps": 10000}},
        headers=tenant.admin_headers(),
    )
    assert bad_patch.status_code == 400, bad_patch.text
    read = http.get(f"/v1/tenant-admin/packages/{package['id']}", headers=tenant.admin_headers()).json()
    assert (read["title"], read["paymentPolicy"], read["version"]) == ("Full day", None, package["version"])


def test_another_business_cannot_change_a_packages_terms(
    http: httpx.Client, tenant: TenantHandle, make_tenant: MakeTenant
) -> None:
    package = _package(http, tenant)
    other = make_tenant(prefix="terms-other", onboarded=False)
    refused = http.patch(
        f"/v1/tenant-admin/packages/{package['id']}",
        json={"paymentPolicy": {"depositKind": "fixed", "depositCents": 100}},
        headers=other.admin_headers(),
    )
    assert refused.status_code == 404, refused.text
    read = http.get(f"/v1/tenant-admin/packages/{package['id']}", headers=tenant.admin_headers()).json()
    assert read["paymentPolicy"] is None
