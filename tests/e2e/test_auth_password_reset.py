"""Forgot/reset password through the HTTP API and the mail sink: identical answers whatever the
address, a link by email, a token that works once and ends earlier sessions."""

from __future__ import annotations

import email
import email.policy
import re
import secrets

import httpx

from tests.e2e.conftest import MakeTenant, eventually, fresh_client_ip, mails_to
from tools.stack.launcher import Stack


def _reset_token(message: email.message.EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    match = re.search(r"#token=([A-Za-z0-9_-]+)", body.get_content())
    assert match, "the mail has no reset link"
    return match.group(1)


def _forgot(http: httpx.Client, address: object) -> httpx.Response:
    return http.post("/v1/auth/forgot-password", json={"email": address})


def test_forgot_password_answers_the_same_for_known_unknown_and_odd_addresses(
    stack: Stack, http: httpx.Client, make_tenant: MakeTenant
) -> None:
    tenant = make_tenant("forgot")
    unknown = f"nobody-{secrets.token_hex(4)}@example.com"
    answers = [
        _forgot(http, a) for a in (tenant.admin_email, unknown, "not an address", tenant.admin_email.upper())
    ]
    assert {a.status_code for a in answers} == {202}
    bodies = [{k: v for k, v in a.json().items() if k != "requestId"} for a in answers]
    assert all(body == bodies[0] for body in bodies)
    assert {tuple(sorted(a.headers.keys() - {"x-request-id", "date"})) for a in answers} == {
        tuple(sorted(answers[0].headers.keys() - {"x-request-id", "date"}))
    }
    assert eventually(lambda: len(mails_to(stack, tenant.admin_email)) == 2, timeout=10)
    assert mails_to(stack, unknown) == []


def test_a_reset_link_sets_a_new_password_once_and_ends_earlier_sessions(
    stack: Stack, http: httpx.Client, gateways: list[httpx.Client], make_tenant: MakeTenant
) -> None:
    tenant = make_tenant("reset")
    assert _forgot(http, tenant.admin_email).status_code == 202
    mails = eventually(lambda: mails_to(stack, tenant.admin_email), timeout=10)
    assert len(mails) == 1
    assert mails[0]["Subject"] == "Reset your MAIS password"
    token = _reset_token(mails[0])

    weak = http.post("/v1/auth/reset-password", json={"token": token, "newPassword": "short"})
    assert weak.status_code == 400
    assert weak.json()["fields"][0]["field"] == "newPassword"

    done = http.post("/v1/auth/reset-password", json={"token": token, "newPassword": "Fresh-pass-456"})
    assert done.status_code == 200
    again = http.post("/v1/auth/reset-password", json={"token": token, "newPassword": "Other-pass-789"})
    assert again.status_code == 400
    assert again.json()["fields"][0]["field"] == "token"

    assert eventually(
        lambda: http.get("/v1/auth/me", headers=tenant.admin_headers()).status_code == 401, timeout=5
    ), "a token from before the reset still works"
    old = gateways[0].post(
        "/v1/auth/login",
        json={"email": tenant.admin_email, "password": tenant.admin_password},
        headers={"X-Forwarded-For": fresh_client_ip()},
    )
    assert old.status_code == 401
    new = http.post("/v1/auth/login", json={"email": tenant.admin_email, "password": "Fresh-pass-456"})
    assert new.status_code == 200


def test_made_up_reset_tokens_are_refused(http: httpx.Client) -> None:
    for token in (secrets.token_urlsafe(32), "x", "' OR 1=1 --"):
        answer = http.post("/v1/auth/reset-password", json={"token": token, "newPassword": "Fresh-pass-456"})
        assert answer.status_code == 400
        assert answer.json()["error"] == "VALIDATION_ERROR"
    assert http.post("/v1/auth/reset-password", json={"newPassword": "Fresh-pass-456"}).status_code == 400
