"""Admin sign-in through the HTTP API: tokens, normalised emails, identical refusals, and sign-in
limits (ADR 0014) that hold across both gateway processes: per account and client address, per
address across accounts, per account from anywhere, never against the owner's known address, and
lifted by a password reset."""

from __future__ import annotations

import email
import email.policy
import re
import secrets
from datetime import UTC, datetime, timedelta

import httpx
import jwt

from tests.e2e.conftest import (
    PLATFORM_ADMIN_EMAIL,
    MakeTenant,
    client_from_new_address,
    eventually,
    fresh_client_ip,
)
from tools.stack.launcher import Stack


def _login(client: httpx.Client, email: str, password: str, ip: str | None = None) -> httpx.Response:
    headers = {"X-Forwarded-For": ip} if ip else {}
    return client.post("/v1/auth/login", json={"email": email, "password": password}, headers=headers)


def _envelope(answer: httpx.Response) -> dict[str, object]:
    body = dict(answer.json())
    body.pop("requestId")
    return body


def test_a_tenant_admin_signs_in_with_a_mixed_case_padded_address(
    http: httpx.Client, make_tenant: MakeTenant
) -> None:
    tenant = make_tenant("case")
    answer = _login(http, f"  {tenant.admin_email.upper()}  ", tenant.admin_password)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["role"] == "tenant_admin"
    assert body["tenantId"] == tenant.id
    assert body["email"] == tenant.admin_email
    assert datetime.fromisoformat(body["expiresAt"]) > datetime.now(UTC)
    me = http.get("/v1/auth/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200
    assert (me.json()["tenantId"], me.json()["tenant"]["slug"]) == (tenant.id, tenant.slug)


def test_the_platform_admin_has_no_tenant(http: httpx.Client, platform_token: str) -> None:
    me = http.get("/v1/auth/me", headers={"Authorization": f"Bearer {platform_token}"})
    assert me.status_code == 200
    assert me.json()["role"] == "platform_admin"
    assert me.json()["tenantId"] is None
    assert me.json()["email"] == PLATFORM_ADMIN_EMAIL


def test_a_wrong_password_and_an_unknown_address_get_the_same_answer(
    gateways: list[httpx.Client], make_tenant: MakeTenant
) -> None:
    tenant = make_tenant("same")
    wrong = _login(gateways[0], tenant.admin_email, "Wrong-pass-123", fresh_client_ip())
    unknown = _login(
        gateways[0], f"nobody-{secrets.token_hex(4)}@example.com", "Wrong-pass-123", fresh_client_ip()
    )
    assert wrong.status_code == unknown.status_code == 401
    assert (
        _envelope(wrong)
        == _envelope(unknown)
        == {
            "error": "UNAUTHENTICATED",
            "message": "email or password is wrong",
        }
    )


def test_malformed_login_bodies_are_400(http: httpx.Client) -> None:
    for body in (
        {},
        {"email": "a@b.example"},
        {"email": 1, "password": 2},
        {"email": "a", "password": "b", "x": 1},
    ):
        answer = http.post("/v1/auth/login", json=body)
        assert answer.status_code == 400, body
        assert answer.json()["error"] == "VALIDATION_ERROR"


def test_five_failures_of_one_account_from_one_address_lock_that_pair_on_both_gateways(
    gateways: list[httpx.Client], make_tenant: MakeTenant
) -> None:
    tenant = make_tenant("lock-pair")
    ip = fresh_client_ip()
    for n in range(5):
        # Alternate replicas: the count is shared, not per process.
        answer = _login(gateways[n % 2], tenant.admin_email, "Wrong-pass-123", ip)
        assert answer.status_code == 401
    for gateway in gateways:
        locked = _login(gateway, tenant.admin_email, tenant.admin_password, ip)
        assert locked.status_code == 429
        assert locked.json()["error"] == "RATE_LIMITED"
        assert 1 <= int(locked.headers["retry-after"]) <= 900
    # The same owner from another address, and another admin, are not affected.
    assert (
        _login(gateways[1], tenant.admin_email, tenant.admin_password, fresh_client_ip()).status_code == 200
    )
    other = make_tenant("lock-other")
    assert _login(gateways[0], other.admin_email, other.admin_password, fresh_client_ip()).status_code == 200


def test_failures_from_one_address_do_not_lock_other_admins_out_of_it(
    stack: Stack, make_tenant: MakeTenant
) -> None:
    tenant = make_tenant("shared-wifi")
    with client_from_new_address(stack) as venue_wifi:
        for n in range(6):
            address = f"typo-{n}-{secrets.token_hex(3)}@example.com"
            assert _login(venue_wifi, address, "Wrong-pass-123").status_code == 401
        assert _login(venue_wifi, tenant.admin_email, tenant.admin_password).status_code == 200


def test_an_address_spraying_many_accounts_is_limited(gateways: list[httpx.Client]) -> None:
    ip = fresh_client_ip()
    answers = [
        _login(gateways[n % 2], f"spray-{n}-{secrets.token_hex(3)}@example.com", "Wrong-pass-123", ip)
        for n in range(51)
    ]
    assert [a.status_code for a in answers] == [401] * 50 + [429]


def test_an_attacker_elsewhere_cannot_lock_the_owner_out_of_an_address_they_signed_in_from(
    stack: Stack, gateways: list[httpx.Client], make_tenant: MakeTenant
) -> None:
    tenant = make_tenant("owner-home")
    with client_from_new_address(stack) as home:
        assert _login(home, tenant.admin_email, tenant.admin_password).status_code == 200
        # Ten wrong passwords from ten addresses: the account is locked for every new address...
        for n in range(10):
            attacker = _login(gateways[n % 2], tenant.admin_email, "Wrong-pass-123", fresh_client_ip())
            assert attacker.status_code == 401
        with client_from_new_address(stack) as stranger:
            locked = _login(stranger, tenant.admin_email, tenant.admin_password)
            assert locked.status_code == 429
            assert int(locked.headers["retry-after"]) >= 1
        # ... but not for the owner at home.
        assert _login(home, tenant.admin_email, tenant.admin_password).status_code == 200


def test_a_password_reset_lifts_the_account_lock(
    stack: Stack, http: httpx.Client, gateways: list[httpx.Client], make_tenant: MakeTenant
) -> None:
    tenant = make_tenant("reset-unlock")
    for n in range(10):
        assert (
            _login(gateways[n % 2], tenant.admin_email, "Wrong-pass-123", fresh_client_ip()).status_code
            == 401
        )
    assert (
        _login(gateways[0], tenant.admin_email, tenant.admin_password, fresh_client_ip()).status_code == 429
    )
    assert http.post("/v1/auth/forgot-password", json={"email": tenant.admin_email}).status_code == 202
    token = eventually(lambda: _reset_token_in_mail(stack, tenant.admin_email), timeout=10)
    assert token, "no reset mail"
    reset = http.post("/v1/auth/reset-password", json={"token": token, "newPassword": "Unlocked-pass-123"})
    assert reset.status_code == 200, reset.text
    assert _login(gateways[1], tenant.admin_email, "Unlocked-pass-123", fresh_client_ip()).status_code == 200


def _reset_token_in_mail(stack: Stack, address: str) -> str:
    folder = stack.data_dir / "mail"
    for path in sorted(folder.glob("*.eml")) if folder.exists() else []:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        body = message.get_body(("plain",))
        if message["To"] == address and body is not None:
            match = re.search(r"#token=([A-Za-z0-9_-]+)", body.get_content())
            if match:
                return match.group(1)
    return ""


def test_through_envoy_a_forged_forwarded_for_header_does_not_escape_the_pair_limit(
    stack: Stack, make_tenant: MakeTenant
) -> None:
    tenant = make_tenant("forged-ip")
    with client_from_new_address(stack) as client:
        for _ in range(5):
            assert _login(client, tenant.admin_email, "Wrong-pass-123", fresh_client_ip()).status_code == 401
        locked = _login(client, tenant.admin_email, tenant.admin_password, fresh_client_ip())
        assert locked.status_code == 429
        assert "retry-after" in locked.headers
    with client_from_new_address(stack) as elsewhere:
        assert _login(elsewhere, tenant.admin_email, tenant.admin_password).status_code == 200


def _signing_key(stack: Stack) -> str:
    return (stack.data_dir / "secrets" / "token-signing-key").read_text().strip()


def _claims(me: dict[str, object], **overrides: object) -> dict[str, object]:
    now = datetime.now(UTC)
    claims: dict[str, object] = {
        "iss": "mais.tenant",
        "aud": "mais.admin",
        "sub": me["userId"],
        "role": "tenant_admin",
        "tid": me["tenantId"],
        "ver": 1,
        "iat": now,
        "exp": now + timedelta(hours=1),
    }
    claims.update(overrides)
    return claims


def test_expired_tampered_and_forged_tokens_are_401(
    stack: Stack, http: httpx.Client, make_tenant: MakeTenant
) -> None:
    tenant = make_tenant("tokens")
    me = http.get("/v1/auth/me", headers=tenant.admin_headers()).json()
    key = _signing_key(stack)
    # The right key signs a well-formed token: accepted, which shows the forgeries below fail for
    # their one flaw only.
    control = jwt.encode(_claims(me), key, algorithm="HS256")
    assert http.get("/v1/auth/me", headers={"Authorization": f"Bearer {control}"}).status_code == 200
    header, payload, signature = tenant.admin_token.split(".")
    forged = {
        "expired": jwt.encode(
            _claims(me, exp=datetime.now(UTC) - timedelta(seconds=1)), key, algorithm="HS256"
        ),
        "audience": jwt.encode(_claims(me, aud="elsewhere"), key, algorithm="HS256"),
        "other key": jwt.encode(_claims(me), "not-the-key-" + "q" * 52, algorithm="HS256"),
        "alg none": jwt.encode(_claims(me), None, algorithm="none"),  # type: ignore[arg-type]
        "elevated role": jwt.encode(_claims(me, role="platform_admin", tid=""), key + "x", algorithm="HS256"),
        "signature cut": f"{header}.{payload}.",
        "signature swapped": f"{header}.{payload}.{signature[::-1]}",
    }
    for name, token in forged.items():
        answer = http.get("/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 401, name
        assert answer.json()["error"] == "UNAUTHENTICATED"
