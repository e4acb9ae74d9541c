"""The dashboards' browser sessions through Envoy and both gateways: `POST /v1/auth/session` puts the admin's
token in the HttpOnly, SameSite=Strict `mais_admin` cookie; the cookie authenticates like a bearer token,
but every change made with it needs the session's `X-CSRF-Token` and (when an Origin is sent) the
platform's own origin, else 403 CSRF_FAILED with nothing changed; sign-out and a removed admin end it at
once; and the `/admin/` pages serve the dashboards' shell."""

from __future__ import annotations

import json
import re
import secrets
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx

from tests.e2e.conftest import (
    PLATFORM_ADMIN_EMAIL,
    PLATFORM_ADMIN_PASSWORD,
    MakeTenant,
    TenantHandle,
    eventually,
    fresh_client_ip,
    mails_to,
)
from tests.e2e.test_auth_accounts import _link_token
from tools.stack.launcher import Stack

COOKIE = re.compile(r"^mais_admin=([^;]+); HttpOnly; SameSite=Strict; Path=/; Max-Age=(\d+)$")
CLEARED = "mais_admin=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"
ADMIN_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "
    "font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-src 'self'; "
    "frame-ancestors 'none'"
)
FOREIGN = "http://evil.example"


def _cookie(token: str) -> dict[str, str]:
    return {"Cookie": f"mais_admin={token}"}


def _origin(stack: Stack) -> str:
    parts = urlsplit(stack.public_url)
    return f"{parts.scheme}://{parts.netloc}"


def _session(
    client: httpx.Client, email: str, password: str, ip: str | None = None
) -> tuple[httpx.Response, str, str]:
    """Signs in for a session; (the answer, the cookie's token, the csrfToken). The client's own cookie
    jar is emptied: every test sends the cookie it means to, by hand."""
    headers = {"X-Forwarded-For": ip} if ip else {}
    answer = client.post("/v1/auth/session", json={"email": email, "password": password}, headers=headers)
    client.cookies.clear()
    if answer.status_code != 200:
        return answer, "", ""
    match = COOKIE.match(answer.headers["set-cookie"])
    assert match, answer.headers["set-cookie"]
    return answer, match.group(1), str(answer.json()["csrfToken"])


def _tenant_session(http: httpx.Client, tenant: TenantHandle) -> tuple[str, str]:
    answer, token, csrf = _session(http, tenant.admin_email, tenant.admin_password)
    assert answer.status_code == 200, answer.text
    return token, csrf


def test_a_session_sign_in_sets_the_cookie_with_its_exact_attributes_and_keeps_the_token_out_of_the_body(
    http: httpx.Client, make_tenant: MakeTenant
) -> None:
    tenant = make_tenant("session", onboarded=False)
    answer, token, csrf = _session(http, f" {tenant.admin_email.upper()} ", tenant.admin_password)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {"role", "tenantId", "email", "expiresAt", "csrfToken"}
    assert (body["role"], body["tenantId"], body["email"]) == ("tenant_admin", tenant.id, tenant.admin_email)
    assert token not in answer.text
    assert len(answer.headers.get_list("set-cookie")) == 1
    max_age = int(COOKIE.match(answer.headers["set-cookie"]).group(2))  # type: ignore[union-attr]
    left = (datetime.fromisoformat(body["expiresAt"]) - datetime.now(UTC)).total_seconds()
    assert max_age > 60 and abs(max_age - left) <= 5, (max_age, left)
    # The answer is an API answer: never stored, never readable cross-origin.
    assert answer.headers["cache-control"] == "no-store"
    # The cookie's value is an ordinary admin token.
    me = http.get("/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert (me.status_code, me.json()["tenantId"]) == (200, tenant.id)
    assert "csrfToken" not in me.json(), "a bearer call has no CSRF token to learn"
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", csrf)


def test_the_cookie_authenticates_reads_and_every_gateway_answers_the_same_csrf_token(
    http: httpx.Client, gateways: list[httpx.Client], make_tenant: MakeTenant
) -> None:
    tenant = make_tenant("cookie-read", onboarded=False)
    token, csrf = _tenant_session(http, tenant)
    settings = http.get("/v1/tenant-admin/settings", headers=_cookie(token))
    assert (settings.status_code, settings.json()["id"]) == (200, tenant.id)
    for gateway in gateways:
        me = gateway.get("/v1/auth/me", headers=_cookie(token))
        assert me.status_code == 200, me.text
        assert (me.json()["email"], me.json()["csrfToken"]) == (tenant.admin_email, csrf)
    # A read sent with a foreign Origin still carries no CORS headers (the page cannot read it).
    foreign = http.get("/v1/tenant-admin/settings", headers={**_cookie(token), "Origin": FOREIGN})
    assert foreign.status_code == 200
    assert "access-control-allow-origin" not in foreign.headers


def test_a_cookie_change_without_the_right_csrf_token_is_403_and_changes_nothing(
    stack: Stack, http: httpx.Client, make_tenant: MakeTenant
) -> None:
    tenant = make_tenant("csrf", onboarded=False)
    token, csrf = _tenant_session(http, tenant)
    # Another session of the same admin: a real CSRF token, but not this cookie's.
    _, _, other_csrf = _session(http, tenant.admin_email, tenant.admin_password)
    assert other_csrf != csrf
    before = http.get("/v1/tenant-admin/settings", headers=tenant.admin_headers()).json()
    for sent in ({}, {"X-CSRF-Token": ""}, {"X-CSRF-Token": csrf[:-1]}, {"X-CSRF-Token": other_csrf}):
        headers = {**_cookie(token), **sent}
        patched = http.patch("/v1/tenant-admin/settings", json={"name": "Forged"}, headers=headers)
        posted = http.post(
            "/v1/tenant-admin/blackouts", json={"date": "2030-06-01", "reason": "forged"}, headers=headers
        )
        for answer in (patched, posted):
            assert (answer.status_code, answer.json()["error"]) == (403, "CSRF_FAILED"), (sent, answer.text)
    # The right token from a foreign origin (or an opaque one) is refused too.
    for origin in (FOREIGN, "null", _origin(stack) + ".evil.example"):
        answer = http.patch(
            "/v1/tenant-admin/settings",
            json={"name": "Forged"},
            headers={**_cookie(token), "X-CSRF-Token": csrf, "Origin": origin},
        )
        assert (answer.status_code, answer.json()["error"]) == (403, "CSRF_FAILED"), origin
        assert "access-control-allow-origin" not in answer.headers
    after = http.get("/v1/tenant-admin/settings", headers=tenant.admin_headers()).json()
    assert after == before
    blackouts = http.get("/v1/tenant-admin/blackouts", headers=tenant.admin_headers()).json()
    assert blackouts["items"] == []


def test_a_cookie_change_with_the_token_from_the_platforms_origin_works(
    stack: Stack, http: httpx.Client, make_tenant: MakeTenant
) -> None:
    tenant = make_tenant("csrf-ok", onboarded=False)
    token, csrf = _tenant_session(http, tenant)
    same_origin = {**_cookie(token), "X-CSRF-Token": csrf, "Origin": _origin(stack)}
    patched = http.patch(
        "/v1/tenant-admin/settings", json={"name": "From the dashboard"}, headers=same_origin
    )
    assert patched.status_code == 200, patched.text
    assert "access-control-allow-origin" not in patched.headers
    # No Origin at all (a same-origin GET-then-POST in some browsers, or a script) is fine with the token.
    posted = http.post(
        "/v1/tenant-admin/blackouts",
        json={"date": "2030-06-02", "reason": "closed"},
        headers={**_cookie(token), "X-CSRF-Token": csrf},
    )
    assert posted.status_code == 201, posted.text
    read = http.get("/v1/tenant-admin/settings", headers=tenant.admin_headers()).json()
    assert read["name"] == "From the dashboard"
    blackouts = http.get("/v1/tenant-admin/blackouts", headers=tenant.admin_headers()).json()["items"]
    assert [b["date"] for b in blackouts] == ["2030-06-02"]


def test_a_bearer_token_needs_no_csrf_token_and_wins_over_a_cookie(
    http: httpx.Client, make_tenant: MakeTenant
) -> None:
    tenant, other = make_tenant("bearer", onboarded=False), make_tenant("bearer-other", onboarded=False)
    other_token, _ = _tenant_session(http, other)
    headers = {**tenant.admin_headers(), **_cookie(other_token)}
    patched = http.patch("/v1/tenant-admin/settings", json={"name": "By bearer"}, headers=headers)
    assert patched.status_code == 200, patched.text
    assert patched.json()["id"] == tenant.id
    assert http.get("/v1/tenant-admin/settings", headers=other.admin_headers()).json()["name"] != "By bearer"
    # A malformed Authorization header is not rescued by a good cookie.
    broken = http.get(
        "/v1/tenant-admin/settings", headers={"Authorization": "Basic x", **_cookie(other_token)}
    )
    assert (broken.status_code, broken.json()["error"]) == (401, "UNAUTHENTICATED")


def test_signing_out_ends_the_cookie_at_once_on_every_gateway_and_clears_it(
    http: httpx.Client, gateways: list[httpx.Client], make_tenant: MakeTenant
) -> None:
    tenant = make_tenant("signout", onboarded=False)
    token, csrf = _tenant_session(http, tenant)
    # Signing out is a change too: a forged sign-out is refused and the session goes on.
    forged = http.delete("/v1/auth/session", headers=_cookie(token))
    assert (forged.status_code, forged.json()["error"]) == (403, "CSRF_FAILED")
    assert http.get("/v1/auth/me", headers=_cookie(token)).status_code == 200
    out = http.delete("/v1/auth/session", headers={**_cookie(token), "X-CSRF-Token": csrf})
    assert out.status_code == 204, out.text
    assert out.headers.get_list("set-cookie") == [CLEARED]
    for gateway in gateways:
        answer = gateway.get("/v1/tenant-admin/settings", headers=_cookie(token))
        assert (answer.status_code, answer.json()["error"]) == (401, "UNAUTHENTICATED")
    # The stale cookie is cleared again by whoever still sends it; the admin's bearer sign-in goes on.
    again = http.delete("/v1/auth/session", headers={**_cookie(token), "X-CSRF-Token": csrf})
    assert again.status_code == 401
    assert again.headers.get_list("set-cookie") == [CLEARED]
    assert http.get("/v1/auth/me", headers=tenant.admin_headers()).status_code == 200


def test_a_removed_admins_cookie_stops_at_once(
    stack: Stack, http: httpx.Client, gateways: list[httpx.Client], make_tenant: MakeTenant
) -> None:
    tenant = make_tenant("session-team", onboarded=False)
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
    answer, token, _ = _session(http, address, password)
    assert answer.status_code == 200, answer.text
    assert http.get("/v1/tenant-admin/settings", headers=_cookie(token)).status_code == 200
    removed = http.delete(f"/v1/tenant-admin/users/{invited.json()['id']}", headers=tenant.admin_headers())
    assert removed.status_code == 204, removed.text
    for gateway in gateways:
        refused = gateway.get("/v1/tenant-admin/settings", headers=_cookie(token))
        assert (refused.status_code, refused.json()["error"]) == (401, "UNAUTHENTICATED")


def test_changing_the_password_with_the_cookie_replaces_the_cookie(
    http: httpx.Client, make_tenant: MakeTenant
) -> None:
    tenant = make_tenant("session-pw", onboarded=False)
    token, csrf = _tenant_session(http, tenant)
    new_password = "Changed-" + secrets.token_urlsafe(12)
    changed = http.post(
        "/v1/auth/password",
        json={"currentPassword": tenant.admin_password, "newPassword": new_password},
        headers={**_cookie(token), "X-CSRF-Token": csrf},
    )
    assert changed.status_code == 200, changed.text
    match = COOKIE.match(changed.headers["set-cookie"])
    assert match
    fresh = match.group(1)
    assert set(changed.json()) == {"expiresAt", "csrfToken"} and fresh not in changed.text
    assert http.get("/v1/auth/me", headers=_cookie(token)).status_code == 401
    me = http.get("/v1/auth/me", headers=_cookie(fresh))
    assert (me.status_code, me.json()["csrfToken"]) == (200, changed.json()["csrfToken"])


def test_a_wrong_password_is_401_and_counts_toward_the_same_limits_as_login(
    gateways: list[httpx.Client], make_tenant: MakeTenant
) -> None:
    tenant = make_tenant("session-lock", onboarded=False)
    ip = fresh_client_ip()
    headers = {"X-Forwarded-For": ip}
    wrong = {"email": tenant.admin_email, "password": "Wrong-pass-123"}
    for n in range(5):
        # Session and login failures count together, on either replica.
        path = "/v1/auth/session" if n % 2 == 0 else "/v1/auth/login"
        answer = gateways[n % 2].post(path, json=wrong, headers=headers)
        assert (answer.status_code, answer.json()["error"]) == (401, "UNAUTHENTICATED"), answer.text
        assert "set-cookie" not in answer.headers
    right = {"email": tenant.admin_email, "password": tenant.admin_password}
    for path in ("/v1/auth/session", "/v1/auth/login"):
        locked = gateways[0].post(path, json=right, headers=headers)
        assert (locked.status_code, locked.json()["error"]) == (429, "RATE_LIMITED"), path
        assert 1 <= int(locked.headers["retry-after"]) <= 900
        assert "set-cookie" not in locked.headers
    elsewhere = gateways[1].post(
        "/v1/auth/session", json=right, headers={"X-Forwarded-For": fresh_client_ip()}
    )
    assert elsewhere.status_code == 200, elsewhere.text


def test_a_tenant_admins_cookie_on_a_platform_route_is_403_and_the_platform_admins_works(
    http: httpx.Client, make_tenant: MakeTenant
) -> None:
    tenant = make_tenant("session-role", onboarded=False)
    token, csrf = _tenant_session(http, tenant)
    read = http.get("/v1/admin/tenants", headers=_cookie(token))
    assert (read.status_code, read.json()["error"]) == (403, "FORBIDDEN")
    write = http.patch(
        f"/v1/admin/tenants/{tenant.id}",
        json={"commissionPercent": 0},
        headers={**_cookie(token), "X-CSRF-Token": csrf},
    )
    assert (write.status_code, write.json()["error"]) == (403, "FORBIDDEN")
    answer, platform, platform_csrf = _session(http, PLATFORM_ADMIN_EMAIL, PLATFORM_ADMIN_PASSWORD)
    assert answer.status_code == 200, answer.text
    assert (answer.json()["role"], answer.json()["tenantId"]) == ("platform_admin", None)
    assert http.get("/v1/admin/tenants", headers=_cookie(platform)).status_code == 200
    own = http.get("/v1/tenant-admin/settings", headers=_cookie(platform))
    assert (own.status_code, own.json()["error"]) == (403, "FORBIDDEN")
    patched = http.patch(
        f"/v1/admin/tenants/{tenant.id}",
        json={"name": "Renamed by the platform"},
        headers={**_cookie(platform), "X-CSRF-Token": platform_csrf},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["name"] == "Renamed by the platform"


def test_the_admin_pages_serve_the_dashboards_shell_never_framed(stack: Stack, http: httpx.Client) -> None:
    scripts = None
    for path in ("/admin", "/admin/", "/admin/bookings/bk_x", "/admin/platform/tenants/t_1?x=<b>"):
        page = http.get(path)
        assert page.status_code == 200, path
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert page.headers["cache-control"] == "no-cache"
        assert page.headers["content-security-policy"] == ADMIN_CSP
        assert page.headers["x-frame-options"] == "DENY"
        assert "access-control-allow-origin" not in page.headers
        config = re.search(r'<script type="application/json" id="mais-config">(.*?)</script>', page.text)
        assert config and json.loads(config.group(1)) == {"page": "admin"}, path
        found = re.findall(r'<script type="module"[^>]* src="(/assets/[^"]+)"', page.text)
        assert scripts is None or found == scripts
        scripts = found
    assert scripts, "the dashboards' shell loads no script"
    for script in scripts:
        assert http.get(script).status_code == 200, script
    head = http.head("/admin/sign-in")
    assert (head.status_code, head.headers["content-security-policy"]) == (200, ADMIN_CSP)
    # Not the couple's shell, and not in the API's description.
    assert "mais-config" in http.get("/admin/").text
    assert http.get("/admin/").text != http.get("/book/no-such-business").text
    assert not [p for p in http.get("/openapi.json").json()["paths"] if p.startswith("/admin")]
