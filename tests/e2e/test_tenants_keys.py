"""Public tenant keys through Envoy and both gateways: formats, every rejection, rotation with a
grace period, revocation, and deactivation seen by every replica within 5 s."""

from __future__ import annotations

import asyncio
import secrets
import time
from datetime import UTC, datetime, timedelta
from functools import partial

import asyncpg
import httpx

from tests.e2e.conftest import MakeTenant, TenantHandle, eventually
from tools.stack.launcher import Stack

# The gateway caches key -> tenant for at most 2 s; the contract is that changes show within 5 s.
PROPAGATION_SECONDS = 5.0


def _profile(client: httpx.Client, key: str | None) -> httpx.Response:
    headers = {"X-Tenant-Key": key} if key is not None else {}
    return client.get("/v1/tenant", headers=headers)


def _error(answer: httpx.Response) -> tuple[int, str]:
    return answer.status_code, answer.json().get("error", "")


def _answers(client: httpx.Client, key: str, expected: tuple[int, str]) -> bool:
    return _error(_profile(client, key)) == expected


def _settings_status(client: httpx.Client, tenant: TenantHandle) -> int:
    return client.get("/v1/tenant-admin/settings", headers=tenant.admin_headers()).status_code


def test_the_public_key_names_its_tenant(http: httpx.Client, make_tenant: MakeTenant) -> None:
    tenant = make_tenant("keys")
    answer = _profile(http, tenant.public_key)
    assert answer.status_code == 200
    body = answer.json()
    assert body["slug"] == tenant.slug
    # The public profile says nothing about money or accounts.
    assert "commissionBps" not in body and "stripeAccountId" not in body


def test_keys_have_the_published_formats(make_tenant: MakeTenant) -> None:
    tenant = make_tenant("fmt")
    for key, prefix in ((tenant.public_key, "pk_live_"), (tenant.secret_key, "sk_live_")):
        assert key.startswith(f"{prefix}{tenant.slug}_")
        random_part = key.rsplit("_", 1)[1]
        assert len(random_part) == 32 and int(random_part, 16) >= 0


def test_a_missing_key_is_401_tenant_key_required(http: httpx.Client) -> None:
    assert _error(_profile(http, None)) == (401, "TENANT_KEY_REQUIRED")
    assert _error(_profile(http, "")) == (401, "TENANT_KEY_REQUIRED")


def test_malformed_keys_are_401_invalid_tenant_key_without_asking_the_tenant_service(
    stack: Stack, http: httpx.Client, make_tenant: MakeTenant
) -> None:
    tenant = make_tenant("malformed")
    malformed = [
        "pk_test_" + tenant.public_key[8:],
        tenant.secret_key,
        tenant.public_key.upper(),
        tenant.public_key + "0",
        tenant.public_key[:-1],
        f"pk_live_{tenant.slug}_{'g' * 32}",
        "pk_live_' OR 1=1 --_" + "0" * 32,
    ]
    request_ids = []
    for key in malformed:
        answer = _profile(http, key)
        assert _error(answer) == (401, "INVALID_TENANT_KEY"), key
        request_ids.append(answer.headers["x-request-id"])
    # A well-formed unknown key is looked up (and its trace reaches the tenant service's log) ...
    unknown = _profile(http, f"pk_live_{tenant.slug}_{secrets.token_hex(16)}")
    assert _error(unknown) == (401, "INVALID_TENANT_KEY")
    tenant_log = stack.data_dir / "logs" / "tenant.log"
    assert eventually(lambda: unknown.headers["x-request-id"] in tenant_log.read_text(), timeout=5)
    # ... while no malformed one ever reached it.
    text = tenant_log.read_text()
    assert not [rid for rid in request_ids if rid in text]


def test_a_rotated_key_works_for_its_grace_period_then_stops(
    stack: Stack, gateways: list[httpx.Client], make_tenant: MakeTenant
) -> None:
    tenant = make_tenant("rotate")
    grace = 2
    rotated = httpx.post(
        f"{stack.url}/v1/tenant-admin/api-keys/rotate",
        json={"graceSeconds": grace},
        headers=tenant.admin_headers(),
    )
    assert rotated.status_code == 200, rotated.text
    new_key = rotated.json()["publicKey"]
    assert new_key != tenant.public_key
    assert rotated.json()["secretKey"].startswith(f"sk_live_{tenant.slug}_")
    for gateway in gateways:
        assert _profile(gateway, new_key).status_code == 200
        assert _profile(gateway, tenant.public_key).status_code == 200  # still in grace
    for gateway in gateways:
        stopped = eventually(
            partial(_answers, gateway, tenant.public_key, (401, "INVALID_TENANT_KEY")),
            timeout=grace + PROPAGATION_SECONDS,
        )
        assert stopped, "the old key kept working after its grace period"
        assert _profile(gateway, new_key).status_code == 200


def test_rotation_without_grace_revokes_the_old_key_on_every_gateway_within_5_s(
    stack: Stack, gateways: list[httpx.Client], make_tenant: MakeTenant
) -> None:
    tenant = make_tenant("revoke")
    for gateway in gateways:  # both replicas have the old key cached now
        assert _profile(gateway, tenant.public_key).status_code == 200
    rotated = httpx.post(
        f"{stack.url}/v1/tenant-admin/api-keys/rotate",
        json={"graceSeconds": 0},
        headers=tenant.admin_headers(),
    )
    assert rotated.status_code == 200
    revoked_at = time.monotonic()
    for gateway in gateways:
        remaining = PROPAGATION_SECONDS - (time.monotonic() - revoked_at)
        assert eventually(
            partial(_answers, gateway, tenant.public_key, (401, "INVALID_TENANT_KEY")),
            timeout=max(remaining, 0),
        ), "a gateway still accepted the revoked key after 5 s"
        assert _profile(gateway, rotated.json()["publicKey"]).status_code == 200


def test_a_second_rotation_keeps_the_first_rotations_grace_for_the_key_before_it(
    stack: Stack, gateways: list[httpx.Client], make_tenant: MakeTenant
) -> None:
    tenant = make_tenant("rotate-twice")
    rotate = f"{stack.url}/v1/tenant-admin/api-keys/rotate"
    first = httpx.post(rotate, headers=tenant.admin_headers())
    assert first.status_code == 200
    promised = first.json()["previousKeyExpiresAt"]
    # A routine second rotation, an hour of grace for the key it retires.
    second = httpx.post(rotate, json={"graceSeconds": 3600}, headers=tenant.admin_headers())
    assert second.status_code == 200
    assert datetime.fromisoformat(promised) > datetime.now(UTC) + timedelta(hours=23)
    # The original key still stops when the first rotation said, not with the second's hour.
    assert asyncio.run(_key_expiry(stack, tenant.public_key)) == datetime.fromisoformat(promised)
    # Every key keeps what it was promised: the original its day, the first rotation's its hour.
    for gateway in gateways:
        for key in (tenant.public_key, first.json()["publicKey"], second.json()["publicKey"]):
            assert _profile(gateway, key).status_code == 200


async def _key_expiry(stack: Stack, public_key: str) -> datetime:
    conn = await asyncpg.connect(stack.admin_database_url)
    try:
        value = await conn.fetchval(
            "SELECT expires_at FROM tenant.api_keys WHERE public_key = $1", public_key
        )
    finally:
        await conn.close()
    assert isinstance(value, datetime)
    return value


def test_a_rotation_without_grace_stops_every_key_still_in_grace_at_once(
    stack: Stack, gateways: list[httpx.Client], make_tenant: MakeTenant
) -> None:
    tenant = make_tenant("rotate-leak")
    rotate = f"{stack.url}/v1/tenant-admin/api-keys/rotate"
    first = httpx.post(rotate, headers=tenant.admin_headers())
    assert first.status_code == 200
    # A key leaked (which one is not always known): grace 0 is the answer, and only the new pair works.
    second = httpx.post(rotate, json={"graceSeconds": 0}, headers=tenant.admin_headers())
    assert second.status_code == 200
    revoked_at = time.monotonic()
    for gateway in gateways:
        for key in (tenant.public_key, first.json()["publicKey"]):
            remaining = PROPAGATION_SECONDS - (time.monotonic() - revoked_at)
            assert eventually(
                partial(_answers, gateway, key, (401, "INVALID_TENANT_KEY")), timeout=max(remaining, 0)
            )
        assert _profile(gateway, second.json()["publicKey"]).status_code == 200


def test_the_default_rotation_grace_is_a_day(stack: Stack, make_tenant: MakeTenant) -> None:
    tenant = make_tenant("default-grace")
    rotated = httpx.post(f"{stack.url}/v1/tenant-admin/api-keys/rotate", headers=tenant.admin_headers())
    assert rotated.status_code == 200
    expires = rotated.json()["previousKeyExpiresAt"]
    remaining = (datetime.fromisoformat(expires) - datetime.now(UTC)).total_seconds()
    assert 23 * 3600 < remaining <= 24 * 3600 + 60


def test_a_negative_or_huge_grace_is_refused_and_keeps_the_old_key(
    http: httpx.Client, make_tenant: MakeTenant
) -> None:
    tenant = make_tenant("bad-grace")
    for grace in (-1, 10**9, "soon"):
        answer = http.post(
            "/v1/tenant-admin/api-keys/rotate", json={"graceSeconds": grace}, headers=tenant.admin_headers()
        )
        assert answer.status_code == 400, grace
        assert answer.json()["fields"][0]["field"] == "graceSeconds"
    assert _profile(http, tenant.public_key).status_code == 200


def _deactivate_and_wait(
    stack: Stack, platform_token: str, tenant: TenantHandle, gateways: list[httpx.Client]
) -> None:
    answer = httpx.delete(
        f"{stack.url}/v1/admin/tenants/{tenant.id}", headers={"Authorization": f"Bearer {platform_token}"}
    )
    assert answer.status_code == 200 and answer.json()["active"] is False
    deactivated_at = time.monotonic()
    for gateway in gateways:
        remaining = PROPAGATION_SECONDS - (time.monotonic() - deactivated_at)
        assert eventually(
            partial(_answers, gateway, tenant.public_key, (403, "TENANT_INACTIVE")),
            timeout=max(remaining, 0),
        ), "a gateway still served a deactivated tenant after 5 s"


def test_deactivation_stops_public_calls_tokens_and_sign_in_within_5_s_and_deletes_nothing(
    stack: Stack,
    http: httpx.Client,
    gateways: list[httpx.Client],
    platform_token: str,
    make_tenant: MakeTenant,
) -> None:
    tenant = make_tenant("deactivate")
    for gateway in gateways:
        assert _profile(gateway, tenant.public_key).status_code == 200
        assert _settings_status(gateway, tenant) == 200
    _deactivate_and_wait(stack, platform_token, tenant, gateways)
    for gateway in gateways:
        refused = eventually(
            lambda g=gateway: _settings_status(g, tenant) == 401,  # type: ignore[misc]
            timeout=PROPAGATION_SECONDS,
        )
        assert refused, "a deactivated tenant's admin token still worked after 5 s"
    signin = http.post(
        "/v1/auth/login", json={"email": tenant.admin_email, "password": tenant.admin_password}
    )
    assert _error(signin) == (403, "TENANT_INACTIVE")

    platform = {"Authorization": f"Bearer {platform_token}"}
    kept = http.get(f"/v1/admin/tenants/{tenant.id}", headers=platform)
    assert kept.status_code == 200 and kept.json()["active"] is False
    back = http.patch(f"/v1/admin/tenants/{tenant.id}", json={"active": True}, headers=platform)
    assert back.status_code == 200 and back.json()["active"] is True
    assert eventually(
        lambda: _profile(http, tenant.public_key).status_code == 200, timeout=PROPAGATION_SECONDS
    )
    again = http.post("/v1/auth/login", json={"email": tenant.admin_email, "password": tenant.admin_password})
    assert again.status_code == 200
