"""No response, log line or trace attribute carries a password, a secret key or a reset token:
one whole identity flow runs, then every log file and trace file of the stack is searched."""

from __future__ import annotations

import email
import email.policy
import re

import httpx

from tests.e2e.conftest import PLATFORM_ADMIN_PASSWORD, MakeTenant, eventually, fresh_client_ip
from tools.stack.launcher import Stack


def _stack_text(stack: Stack) -> str:
    parts = []
    for folder in (stack.data_dir / "logs", stack.data_dir / "traces"):
        for path in folder.glob("*"):
            if path.is_file():
                parts.append(path.read_text(errors="replace"))
    return "\n".join(parts)


def _reset_token(stack: Stack, address: str) -> str:
    for path in sorted((stack.data_dir / "mail").glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if message["To"] == address:
            body = message.get_body(("plain",))
            assert body is not None
            match = re.search(r"#token=([A-Za-z0-9_-]+)", body.get_content())
            if match:
                return match.group(1)
    return ""


def test_no_password_secret_key_or_reset_token_reaches_responses_logs_or_traces(
    stack: Stack,
    http: httpx.Client,
    gateways: list[httpx.Client],
    platform_token: str,
    make_tenant: MakeTenant,
) -> None:
    tenant = make_tenant("hygiene")
    admin = tenant.admin_headers()
    responses: list[httpx.Response] = []
    rotated = http.post("/v1/tenant-admin/api-keys/rotate", json={"graceSeconds": 60}, headers=admin)
    new_secret_key = rotated.json()["secretKey"]
    secret_value = "calendar-credential-hygiene-4242"
    responses.append(
        http.put("/v1/tenant-admin/secrets/calendar.token", json={"value": secret_value}, headers=admin)
    )
    responses.append(http.get("/v1/tenant-admin/secrets/calendar.token", headers=admin))
    wrong_password = "Wrong-hygiene-pass-1"
    responses.append(
        gateways[0].post(
            "/v1/auth/login",
            json={"email": tenant.admin_email, "password": wrong_password},
            headers={"X-Forwarded-For": fresh_client_ip()},
        )
    )
    responses.append(http.post("/v1/auth/forgot-password", json={"email": tenant.admin_email}))
    token = eventually(lambda: _reset_token(stack, tenant.admin_email), timeout=10)
    assert token
    new_password = "Hygiene-new-pass-2"
    responses.append(http.post("/v1/auth/reset-password", json={"token": token, "newPassword": new_password}))
    responses.append(http.post("/v1/auth/reset-password", json={"token": token, "newPassword": new_password}))
    responses.append(
        http.post("/v1/auth/login", json={"email": tenant.admin_email, "password": new_password})
    )
    session_token = responses[-1].json()["token"]
    responses.append(http.get("/v1/auth/me", headers={"Authorization": f"Bearer {session_token}"}))
    responses.append(
        http.get("/v1/tenant-admin/settings", headers={"Authorization": f"Bearer {session_token}"})
    )
    responses.append(
        http.get(f"/v1/admin/tenants/{tenant.id}", headers={"Authorization": f"Bearer {platform_token}"})
    )
    responses.append(http.get("/v1/admin/tenants", headers={"Authorization": f"Bearer {platform_token}"}))
    responses.append(http.get("/v1/tenant", headers={"X-Tenant-Key": rotated.json()["publicKey"]}))

    sensitive = {
        "tenant admin password": tenant.admin_password,
        "platform admin password": PLATFORM_ADMIN_PASSWORD,
        "wrong password": wrong_password,
        "new password": new_password,
        "secret key": tenant.secret_key,
        "rotated secret key": new_secret_key,
        "reset token": token,
        "tenant secret": secret_value,
    }
    for answer in responses:
        for name, value in sensitive.items():
            assert value not in answer.text, f"{name} in the answer to {answer.request.url.path}"

    # Spans leave in batches: wait until the last request's spans are written.
    last = responses[-1].headers["x-request-id"]
    assert eventually(lambda: _stack_text(stack).count(last) >= 3, timeout=10)
    everything = _stack_text(stack)
    assert tenant.id in everything, "the search would not find anything: no logs or traces of this flow"
    # Sign-in tokens are answered to their owner, but must not be written down either.
    for name, value in {**sensitive, "bearer token": session_token}.items():
        assert value not in everything, f"{name} found in the stack's logs or traces"
