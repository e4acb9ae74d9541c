"""Accounts as people expect them, through Envoy and both gateways: a tenant's team (list, invite
with a set-password link by mail, remove, never the last admin), sign-out, password change, and the
tenant's secret key for server-to-server calls (ADR 0013)."""

from __future__ import annotations

import email
import email.policy
import re
import secrets

import httpx

from tests.e2e.conftest import MakeTenant, TenantHandle, eventually, fresh_client_ip, mails_to
from tools.stack.launcher import Stack


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _link_token(message: email.message.EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    match = re.search(r"/admin/set-password#token=([A-Za-z0-9_-]+)", body.get_content())
    assert match, "the invitation has no set-password link"
    return match.group(1)


def _login(http: httpx.Client, address: str, password: str) -> httpx.Response:
    return http.post(
        "/v1/auth/login",
        json={"email": address, "password": password},
        headers={"X-Forwarded-For": fresh_client_ip()},
    )


def _colleague(stack: Stack, http: httpx.Client, tenant: TenantHandle) -> tuple[str, str, str]:
    """Invites a colleague who accepts; returns (their id, address, token)."""
    address = f"planner-{secrets.token_hex(3)}@{tenant.slug}.example"
    invited = http.post("/v1/tenant-admin/users", json={"email": address}, headers=tenant.admin_headers())
    assert invited.status_code == 201, invited.text
    mails = eventually(lambda: mails_to(stack, address), timeout=10)
    assert mails, "no invitation mail"
    password = "Planner-" + secrets.token_urlsafe(12)
    accepted = http.post(
        "/v1/auth/reset-password", json={"token": _link_token(mails[0]), "newPassword": password}
    )
    assert accepted.status_code == 200, accepted.text
    signed = _login(http, address, password)
    assert signed.status_code == 200, signed.text
    return invited.json()["id"], address, signed.json()["token"]


def test_an_invited_colleague_is_inactive_until_they_set_a_password_from_the_mailed_link(
    stack: Stack, http: httpx.Client, make_tenant: MakeTenant
) -> None:
    tenant = make_tenant("team")
    address = f"Planner@{tenant.slug}.example"
    invited = http.post("/v1/tenant-admin/users", json={"email": address}, headers=tenant.admin_headers())
    assert invited.status_code == 201, invited.text
    assert (invited.json()["email"], invited.json()["active"]) == (address.lower(), False)
    listed = http.get("/v1/tenant-admin/users", headers=tenant.admin_headers()).json()
    assert [(u["email"], u["active"]) for u in listed["items"]] == [
        (tenant.admin_email, True),
        (address.lower(), False),
    ]
    assert listed["nextCursor"] is None
    mails = eventually(lambda: mails_to(stack, address.lower()), timeout=10)
    assert len(mails) == 1
    assert tenant.slug in str(mails[0]["From"]) and mails[0]["Reply-To"] == tenant.admin_email
    assert _login(http, address, "Anything-123").status_code == 401
    accepted = http.post(
        "/v1/auth/reset-password", json={"token": _link_token(mails[0]), "newPassword": "Planner-pass-123"}
    )
    assert accepted.status_code == 200, accepted.text
    signed = _login(http, address, "Planner-pass-123")
    assert signed.status_code == 200
    assert signed.json()["tenantId"] == tenant.id
    listed = http.get("/v1/tenant-admin/users", headers=tenant.admin_headers()).json()
    assert all(u["active"] for u in listed["items"])


def test_the_same_idempotency_key_invites_once_and_an_admins_address_is_409(
    stack: Stack, http: httpx.Client, make_tenant: MakeTenant
) -> None:
    tenant, other = make_tenant("invite-once"), make_tenant("invite-other")
    address = f"once@{tenant.slug}.example"
    headers = {**tenant.admin_headers(), "Idempotency-Key": "invite-" + secrets.token_hex(4)}
    first = http.post("/v1/tenant-admin/users", json={"email": address}, headers=headers)
    again = http.post("/v1/tenant-admin/users", json={"email": address}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert eventually(lambda: mails_to(stack, address), timeout=10)
    assert len(mails_to(stack, address)) == 1
    for taken in (tenant.admin_email, other.admin_email):
        answer = http.post("/v1/tenant-admin/users", json={"email": taken}, headers=tenant.admin_headers())
        assert (answer.status_code, answer.json()["error"]) == (409, "EMAIL_TAKEN")
    bad = http.post("/v1/tenant-admin/users", json={"email": "nobody"}, headers=tenant.admin_headers())
    assert (bad.status_code, bad.json()["fields"][0]["field"]) == (400, "email")


def test_a_removed_admins_token_stops_at_once_on_every_gateway(
    stack: Stack, http: httpx.Client, gateways: list[httpx.Client], make_tenant: MakeTenant
) -> None:
    tenant = make_tenant("remove")
    colleague_id, _, token = _colleague(stack, http, tenant)
    for gateway in gateways:
        assert gateway.get("/v1/tenant-admin/settings", headers=_bearer(token)).status_code == 200
    removed = http.delete(f"/v1/tenant-admin/users/{colleague_id}", headers=tenant.admin_headers())
    assert removed.status_code == 204, removed.text
    for gateway in gateways:
        answer = gateway.get("/v1/tenant-admin/settings", headers=_bearer(token))
        assert (answer.status_code, answer.json()["error"]) == (401, "UNAUTHENTICATED")
    listed = http.get("/v1/tenant-admin/users", headers=tenant.admin_headers()).json()
    assert [u["email"] for u in listed["items"]] == [tenant.admin_email]
    again = http.delete(f"/v1/tenant-admin/users/{colleague_id}", headers=tenant.admin_headers())
    assert again.status_code == 204


def test_the_last_active_admin_cannot_remove_themselves_and_nobody_removes_another_tenants_admin(
    http: httpx.Client, make_tenant: MakeTenant
) -> None:
    tenant, other = make_tenant("last-admin"), make_tenant("last-other")
    me = http.get("/v1/auth/me", headers=tenant.admin_headers()).json()["userId"]
    refused = http.delete(f"/v1/tenant-admin/users/{me}", headers=tenant.admin_headers())
    assert refused.status_code == 409
    assert "last active admin" in refused.json()["message"]
    assert http.get("/v1/tenant-admin/settings", headers=tenant.admin_headers()).status_code == 200
    theirs = http.get("/v1/auth/me", headers=other.admin_headers()).json()["userId"]
    for user_id in (theirs, "not-a-user-id"):
        answer = http.delete(f"/v1/tenant-admin/users/{user_id}", headers=tenant.admin_headers())
        assert answer.status_code == 404
    assert http.get("/v1/tenant-admin/settings", headers=other.admin_headers()).status_code == 200


def test_signing_out_ends_that_token_on_every_gateway_and_no_other(
    http: httpx.Client, gateways: list[httpx.Client], make_tenant: MakeTenant
) -> None:
    tenant = make_tenant("logout")
    laptop = _login(http, tenant.admin_email, tenant.admin_password).json()["token"]
    out = http.post("/v1/auth/logout", headers=_bearer(laptop))
    assert out.status_code == 204
    for gateway in gateways:
        assert gateway.get("/v1/auth/me", headers=_bearer(laptop)).status_code == 401
    assert http.get("/v1/auth/me", headers=tenant.admin_headers()).status_code == 200
    assert http.post("/v1/auth/logout", headers=_bearer(laptop)).status_code == 401


def test_changing_the_password_needs_the_current_one_and_ends_every_other_sign_in(
    http: httpx.Client, make_tenant: MakeTenant
) -> None:
    tenant = make_tenant("password")
    phone = _login(http, tenant.admin_email, tenant.admin_password).json()["token"]
    wrong = http.post(
        "/v1/auth/password",
        json={"currentPassword": "Not-the-password-1", "newPassword": "Changed-pass-123"},
        headers=tenant.admin_headers(),
    )
    assert (wrong.status_code, wrong.json()["fields"][0]["field"]) == (400, "currentPassword")
    weak = http.post(
        "/v1/auth/password",
        json={"currentPassword": tenant.admin_password, "newPassword": "short"},
        headers=tenant.admin_headers(),
    )
    assert (weak.status_code, weak.json()["fields"][0]["field"]) == (400, "newPassword")
    changed = http.post(
        "/v1/auth/password",
        json={"currentPassword": tenant.admin_password, "newPassword": "Changed-pass-123"},
        headers=tenant.admin_headers(),
    )
    assert changed.status_code == 200, changed.text
    for old in (phone, tenant.admin_token):
        assert http.get("/v1/auth/me", headers=_bearer(old)).status_code == 401
    assert http.get("/v1/auth/me", headers=_bearer(changed.json()["token"])).status_code == 200
    assert _login(http, tenant.admin_email, tenant.admin_password).status_code == 401
    assert _login(http, tenant.admin_email, "Changed-pass-123").status_code == 200


def test_the_secret_key_authenticates_server_to_server_calls_but_acts_for_no_person(
    http: httpx.Client, gateways: list[httpx.Client], make_tenant: MakeTenant
) -> None:
    tenant = make_tenant("secret-key")
    key = _bearer(tenant.secret_key)
    settings = http.get("/v1/tenant-admin/settings", headers=key)
    assert settings.status_code == 200, settings.text
    assert settings.json()["id"] == tenant.id
    assert http.get("/v1/tenant-admin/users", headers=key).status_code == 200
    assert http.get("/v1/auth/me", headers=key).json()["credential"] == "secret_key"
    for method, path, body in (
        ("POST", "/v1/tenant-admin/users", {"email": f"x@{tenant.slug}.example"}),
        ("POST", "/v1/tenant-admin/api-keys/rotate", {}),
        ("POST", "/v1/auth/password", {"currentPassword": "a", "newPassword": "b"}),
        ("POST", "/v1/auth/logout", None),
    ):
        answer = http.request(method, path, json=body, headers=key)
        assert (answer.status_code, answer.json()["error"]) == (403, "FORBIDDEN"), path
    assert http.get("/v1/admin/tenants", headers=key).status_code == 403
    forged = _bearer(f"sk_live_{tenant.slug}_{'0' * 32}")
    assert http.get("/v1/tenant-admin/settings", headers=forged).status_code == 401
    rotated = http.post(
        "/v1/tenant-admin/api-keys/rotate", json={"graceSeconds": 0}, headers=tenant.admin_headers()
    )
    assert rotated.status_code == 200
    for gateway in gateways:
        assert gateway.get("/v1/tenant-admin/settings", headers=key).status_code == 401
        fresh = gateway.get("/v1/tenant-admin/settings", headers=_bearer(rotated.json()["secretKey"]))
        assert fresh.status_code == 200
