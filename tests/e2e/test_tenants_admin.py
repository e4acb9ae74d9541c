"""Platform administration and a tenant admin's own settings, through Envoy: creation with keys
shown once, validation that changes nothing, pagination, versions, and isolation between tenants."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import MakeTenant


def _platform(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _create_body(**overrides: Any) -> dict[str, Any]:
    slug = f"adm-{secrets.token_hex(4)}"
    return {
        "slug": slug,
        "name": "Bella Weddings",
        "commissionPercent": 12.5,
        "adminEmail": f"Owner@{slug}.Example",
        **overrides,
    }


def test_creating_a_tenant_returns_its_keys_and_a_generated_password_once(
    http: httpx.Client, platform_token: str
) -> None:
    body = _create_body()
    created = http.post("/v1/admin/tenants", json=body, headers=_platform(platform_token))
    assert created.status_code == 201, created.text
    answer = created.json()
    assert answer["tenant"]["slug"] == body["slug"]
    assert answer["tenant"]["commissionBps"] == 1250
    assert answer["tenant"]["active"] is True
    assert answer["admin"]["email"] == body["adminEmail"].lower()
    password = answer["admin"]["password"]

    read = http.get(f"/v1/admin/tenants/{answer['tenant']['id']}", headers=_platform(platform_token))
    assert read.status_code == 200
    assert answer["secretKey"] not in read.text and password not in read.text
    assert read.json() == answer["tenant"]

    signin = http.post("/v1/auth/login", json={"email": body["adminEmail"], "password": password})
    assert signin.status_code == 200
    assert signin.json()["role"] == "tenant_admin"
    assert signin.json()["tenantId"] == answer["tenant"]["id"]


def test_a_chosen_admin_password_is_never_echoed(http: httpx.Client, platform_token: str) -> None:
    body = _create_body(adminPassword="Chosen-pass-123")
    created = http.post("/v1/admin/tenants", json=body, headers=_platform(platform_token))
    assert created.status_code == 201
    assert "password" not in created.json()["admin"]
    assert "Chosen-pass-123" not in created.text


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"slug": "admin"}, "slug"),
        ({"slug": "Bella"}, "slug"),
        ({"slug": "ab"}, "slug"),
        ({"commissionPercent": 50.01}, "commissionPercent"),
        ({"commissionPercent": -1}, "commissionPercent"),
        ({"commissionPercent": 12.345}, "commissionPercent"),
        ({"adminEmail": "not-an-address"}, "adminEmail"),
        ({"adminPassword": "short"}, "adminPassword"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"unexpected": 1}, "unexpected"),
        ({"name": None}, "name"),
    ],
)
def test_invalid_tenants_are_refused_naming_the_field_and_nothing_is_created(
    http: httpx.Client, platform_token: str, override: dict[str, Any], field: str
) -> None:
    body = _create_body(**override)
    answer = http.post("/v1/admin/tenants", json=body, headers=_platform(platform_token))
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "VALIDATION_ERROR"
    assert field in [f["field"] for f in answer.json()["fields"]]
    if field != "adminEmail":
        # The admin address was not taken by a half-made tenant.
        retry = http.post(
            "/v1/admin/tenants",
            json=_create_body(adminEmail=body["adminEmail"]),
            headers=_platform(platform_token),
        )
        assert retry.status_code == 201, retry.text


def test_a_taken_slug_is_409_slug_taken(
    http: httpx.Client, platform_token: str, make_tenant: MakeTenant
) -> None:
    tenant = make_tenant("taken")
    answer = http.post(
        "/v1/admin/tenants", json=_create_body(slug=tenant.slug), headers=_platform(platform_token)
    )
    assert answer.status_code == 409
    assert answer.json()["error"] == "SLUG_TAKEN"


def test_tenants_are_listed_in_bounded_pages(
    http: httpx.Client, platform_token: str, make_tenant: MakeTenant
) -> None:
    for _ in range(3):
        make_tenant("page")
    seen: list[str] = []
    cursor = None
    for _ in range(1000):
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = http.get("/v1/admin/tenants", params=params, headers=_platform(platform_token))
        assert page.status_code == 200
        assert len(page.json()["items"]) <= 2
        seen += [t["slug"] for t in page.json()["items"]]
        cursor = page.json()["nextCursor"]
        if cursor is None:
            break
    assert seen == sorted(seen) and len(seen) == len(set(seen)) >= 3
    default = http.get("/v1/admin/tenants", headers=_platform(platform_token)).json()
    assert len(default["items"]) == min(50, len(seen))
    for params in ({"limit": 0}, {"limit": 101}, {"limit": "x"}, {"cursor": "!!not-a-cursor!!"}):
        bad = http.get("/v1/admin/tenants", params=params, headers=_platform(platform_token))
        assert bad.status_code == 400, params
        assert bad.json()["error"] == "VALIDATION_ERROR"


def test_the_platform_admin_searches_tenants_by_name_slug_or_admin_email_in_pages(
    http: httpx.Client, platform_token: str, make_tenant: MakeTenant
) -> None:
    mark = secrets.token_hex(3)
    found = [make_tenant(f"find{mark}", onboarded=False) for _ in range(3)]
    make_tenant("other", onboarded=False)

    def search(q: str, **params: Any) -> httpx.Response:
        return http.get("/v1/admin/tenants", params={"q": q, **params}, headers=_platform(platform_token))

    first = search(f"  FIND{mark} ", limit=2)
    assert first.status_code == 200, first.text
    assert [t["slug"] for t in first.json()["items"]] == sorted(t.slug for t in found)[:2]
    rest = search(f"find{mark}", limit=2, cursor=first.json()["nextCursor"]).json()
    assert [t["slug"] for t in rest["items"]] == sorted(t.slug for t in found)[2:] and rest[
        "nextCursor"
    ] is None
    by_email = search(found[1].admin_email.upper()).json()["items"]
    assert [t["id"] for t in by_email] == [found[1].id]
    assert search(f"find{mark}%").json() == {"items": [], "nextCursor": None}
    too_long = search("x" * 101)
    assert too_long.status_code == 400 and too_long.json()["error"] == "VALIDATION_ERROR", too_long.text
    assert [f["field"] for f in too_long.json()["fields"]] == ["q"]


def test_the_platform_admin_changes_commission_and_a_stale_version_is_409(
    http: httpx.Client, platform_token: str, make_tenant: MakeTenant
) -> None:
    tenant = make_tenant("commission")
    current = http.get(f"/v1/admin/tenants/{tenant.id}", headers=_platform(platform_token)).json()
    changed = http.patch(
        f"/v1/admin/tenants/{tenant.id}",
        json={"commissionPercent": 7.25, "version": current["version"]},
        headers=_platform(platform_token),
    )
    assert changed.status_code == 200
    assert changed.json()["commissionBps"] == 725
    stale = http.patch(
        f"/v1/admin/tenants/{tenant.id}",
        json={"commissionPercent": 9, "version": current["version"]},
        headers=_platform(platform_token),
    )
    assert stale.status_code == 409
    assert stale.json()["error"] == "VERSION_CONFLICT"
    after = http.get(f"/v1/admin/tenants/{tenant.id}", headers=_platform(platform_token)).json()
    assert after["commissionBps"] == 725


def test_unknown_and_malformed_tenant_ids_are_404(http: httpx.Client, platform_token: str) -> None:
    for tenant_id in ("00000000-0000-4000-8000-000000000000", "not-a-uuid"):
        for method in ("GET", "DELETE"):
            answer = http.request(method, f"/v1/admin/tenants/{tenant_id}", headers=_platform(platform_token))
            assert answer.status_code == 404, (method, tenant_id)
            assert answer.json()["error"] == "NOT_FOUND"


def test_a_tenant_admin_edits_its_own_settings(http: httpx.Client, make_tenant: MakeTenant) -> None:
    tenant = make_tenant("settings")
    changed = http.patch(
        "/v1/tenant-admin/settings",
        json={
            "name": "Bella & Co",
            "timezone": "Europe/Paris",
            "branding": {"primaryColor": "#AA3366", "font": "Playfair Display"},
            "allowedOrigins": ["https://Bella.Example", "http://localhost:5173"],
            "policy": {"minNoticeDays": 3, "holdMinutes": 45},
        },
        headers=tenant.admin_headers(),
    )
    assert changed.status_code == 200, changed.text
    settings = http.get("/v1/tenant-admin/settings", headers=tenant.admin_headers()).json()
    assert settings == changed.json()
    # The newest public key, for the dashboard's embed snippet and widget preview.
    assert settings["publicKey"] == tenant.public_key
    assert settings["id"] == tenant.id
    assert settings["name"] == "Bella & Co"
    assert settings["timezone"] == "Europe/Paris"
    assert settings["branding"]["primaryColor"] == "#aa3366"
    assert settings["branding"]["font"] == "Playfair Display"
    assert settings["branding"]["secondaryColor"] == "#f9fafb"  # untouched
    assert settings["allowedOrigins"] == ["https://bella.example", "http://localhost:5173"]
    assert settings["policy"]["minNoticeDays"] == 3
    assert settings["policy"]["holdMinutes"] == 45
    assert settings["policy"]["maxAdvanceDays"] == 730  # untouched


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"timezone": "Nowhere/Land"}, "timezone"),
        ({"branding": {"font": "Comic Sans MS"}}, "branding.font"),
        ({"branding": {"logoUrl": "javascript:alert(1)"}}, "branding.logoUrl"),
        ({"allowedOrigins": ["*"]}, "allowedOrigins[0]"),
        ({"policy": {"holdMinutes": 5}}, "policy.holdMinutes"),
        ({"commissionPercent": 0}, "commissionPercent"),
        ({"active": False}, "active"),
        ({"name": None}, "name"),
        ({"policy": {"holdMinutes": None}}, "policy.holdMinutes"),
        ({"policy": {"holdMinutes": 30}}, "policy.holdMinutes"),
        ({"policy": {"maxLiveHoldsPerEmail": -1}}, "policy.maxLiveHoldsPerEmail"),
        ({"policy": {"maxLiveHoldsPerEmail": 11}}, "policy.maxLiveHoldsPerEmail"),
        ({"policy": {"maxLiveHoldsPerAddress": 101}}, "policy.maxLiveHoldsPerAddress"),
        ({"contactEmail": "not an address"}, "contactEmail"),
        ({"contactEmail": None}, "contactEmail"),
    ],
)
def test_invalid_or_platform_only_settings_are_refused_and_change_nothing(
    http: httpx.Client, make_tenant: MakeTenant, body: dict[str, Any], field: str
) -> None:
    tenant = make_tenant("bad-settings")
    before = http.get("/v1/tenant-admin/settings", headers=tenant.admin_headers()).json()
    answer = http.patch("/v1/tenant-admin/settings", json=body, headers=tenant.admin_headers())
    assert answer.status_code == 400, answer.text
    assert field in [f["field"] for f in answer.json()["fields"]]
    assert http.get("/v1/tenant-admin/settings", headers=tenant.admin_headers()).json() == before


def test_a_new_tenant_answers_its_contact_email_and_the_hold_rules_that_apply(
    http: httpx.Client, make_tenant: MakeTenant
) -> None:
    tenant = make_tenant("contact")
    settings = http.get("/v1/tenant-admin/settings", headers=tenant.admin_headers()).json()
    assert settings["contactEmail"] == tenant.admin_email
    assert settings["policy"]["holdMinutes"] == 31
    assert (settings["policy"]["maxLiveHoldsPerEmail"], settings["policy"]["maxLiveHoldsPerAddress"]) == (
        0,
        0,
    )
    assert settings["policyInEffect"] == {
        "holdMinutes": 31,
        "maxLiveHoldsPerEmail": 2,
        "maxLiveHoldsPerAddress": 5,
    }


def test_a_tenant_admin_sets_the_contact_email_and_hold_limits(
    http: httpx.Client, make_tenant: MakeTenant
) -> None:
    tenant = make_tenant("limits")
    changed = http.patch(
        "/v1/tenant-admin/settings",
        json={
            "contactEmail": "  Hello@Bella.Example ",
            "policy": {"maxLiveHoldsPerEmail": 1, "maxLiveHoldsPerAddress": 20},
        },
        headers=tenant.admin_headers(),
    )
    assert changed.status_code == 200, changed.text
    settings = http.get("/v1/tenant-admin/settings", headers=tenant.admin_headers()).json()
    assert settings == changed.json()
    assert settings["contactEmail"] == "hello@bella.example"
    assert settings["policyInEffect"]["maxLiveHoldsPerEmail"] == 1
    assert settings["policyInEffect"]["maxLiveHoldsPerAddress"] == 20
    back = http.patch(
        "/v1/tenant-admin/settings",
        json={"policy": {"maxLiveHoldsPerEmail": 0}},
        headers=tenant.admin_headers(),
    )
    assert back.json()["policyInEffect"]["maxLiveHoldsPerEmail"] == 2


def test_a_tenant_admin_cannot_reach_platform_routes_or_another_tenants_things(
    http: httpx.Client, make_tenant: MakeTenant
) -> None:
    mine, theirs = make_tenant("iso-a"), make_tenant("iso-b")
    stored = http.put(
        "/v1/tenant-admin/secrets/calendar.token",
        json={"value": "their-calendar-token"},
        headers=theirs.admin_headers(),
    )
    assert stored.status_code == 200
    for method, path in (
        ("GET", "/v1/admin/tenants"),
        ("GET", f"/v1/admin/tenants/{theirs.id}"),
        ("PATCH", f"/v1/admin/tenants/{theirs.id}"),
        ("DELETE", f"/v1/admin/tenants/{theirs.id}"),
        ("POST", "/v1/admin/tenants"),
    ):
        answer = http.request(method, path, json={"active": False}, headers=mine.admin_headers())
        assert answer.status_code == 403, (method, path)
        assert answer.json()["error"] == "FORBIDDEN"
    secret = http.get("/v1/tenant-admin/secrets/calendar.token", headers=mine.admin_headers())
    assert secret.status_code == 404
    assert "their-calendar-token" not in secret.text
    assert http.get("/v1/tenant-admin/settings", headers=mine.admin_headers()).json()["id"] == mine.id
    # B is untouched by A's attempts.
    assert http.get("/v1/tenant", headers=theirs.public_headers()).status_code == 200


def test_a_platform_token_is_403_on_tenant_admin_routes_and_no_token_is_401(
    http: httpx.Client, platform_token: str
) -> None:
    assert http.get("/v1/tenant-admin/settings", headers=_platform(platform_token)).status_code == 403
    for headers in ({}, {"Authorization": "Bearer nonsense"}, {"Authorization": "Basic abc"}):
        answer = http.get("/v1/admin/tenants", headers=headers)
        assert answer.status_code == 401
        assert answer.json()["error"] == "UNAUTHENTICATED"


def test_secrets_are_stored_sealed_and_never_shown_back(http: httpx.Client, make_tenant: MakeTenant) -> None:
    tenant = make_tenant("secrets")
    stored = http.put(
        "/v1/tenant-admin/secrets/calendar.token",
        json={"value": "cal-credential-xyz"},
        headers=tenant.admin_headers(),
    )
    assert stored.status_code == 200
    assert stored.json()["keyId"] == "k1"
    described = http.get("/v1/tenant-admin/secrets/calendar.token", headers=tenant.admin_headers())
    assert described.status_code == 200
    assert described.json()["name"] == "calendar.token"
    assert "cal-credential-xyz" not in stored.text + described.text
    bad = http.put("/v1/tenant-admin/secrets/Bad%20Name", json={"value": "x"}, headers=tenant.admin_headers())
    assert bad.status_code == 400
    assert http.get("/v1/tenant-admin/secrets/missing", headers=tenant.admin_headers()).status_code == 404
