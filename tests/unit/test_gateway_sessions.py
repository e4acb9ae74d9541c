"""The dashboards' browser sessions without services: the stateless CSRF token, the checks a cookie
request meets before its token is even verified, and the admin pages' shell over a build folder
(missing admin.html answers 503 until it appears)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from gateway import web
from gateway.app import create_app
from gateway.auth import csrf_token, own_origin
from gateway.routes.tenants import _session_cookie
from gateway.settings import GatewaySettings

PUBLIC = "http://127.0.0.1:8080"
TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.c2lnbmF0dXJl"
SHELL = "<!doctype html><html><head><title>{}</title></head><body></body></html>"


def test_the_csrf_token_is_an_hmac_of_the_token_under_a_key_derived_from_the_internal_token() -> None:
    value = csrf_token("internal-a", TOKEN)
    key = hmac.new(b"internal-a", b"mais gateway csrf key v1", hashlib.sha256).digest()
    mac = hmac.new(key, b"csrf:" + TOKEN.encode(), hashlib.sha256).digest()
    assert value == base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    # Every replica (same setting) agrees; another setting or another token gives another value.
    assert csrf_token("internal-a", TOKEN) == value
    assert csrf_token("internal-b", TOKEN) != value
    assert csrf_token("internal-a", TOKEN + "x") != value
    # The internal token itself never keys it.
    plain = hmac.new(b"internal-a", b"csrf:" + TOKEN.encode(), hashlib.sha256).digest()
    assert value != base64.urlsafe_b64encode(plain).rstrip(b"=").decode()


def test_the_platforms_own_origin_is_its_public_urls() -> None:
    assert own_origin("https://Book.Example:443/some/path") == "https://book.example"
    assert own_origin("http://127.0.0.1:8080/") == "http://127.0.0.1:8080"


@pytest.fixture
async def gateway(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Path, GatewaySettings, httpx.AsyncClient]]:
    monkeypatch.setattr(web, "MISSING_RETRY_SECONDS", 0.0)
    folder = tmp_path / "web"
    settings = GatewaySettings(web_dir=folder, public_url=PUBLIC, internal_token="unit-internal")
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
            yield folder, settings, client


@pytest.mark.parametrize(
    ("headers", "method", "path"),
    [
        ({}, "POST", "/v1/tenant-admin/blackouts"),
        ({"X-CSRF-Token": "nope"}, "PATCH", "/v1/tenant-admin/settings"),
        ({"X-CSRF-Token": ""}, "DELETE", "/v1/tenant-admin/blackouts/bo_1"),
        ({}, "DELETE", "/v1/auth/session"),
        # The right token from another origin (or an opaque one) is still refused.
        ({"X-CSRF-Token": "RIGHT", "Origin": "http://127.0.0.1:9999"}, "POST", "/v1/admin/tenants"),
        ({"X-CSRF-Token": "RIGHT", "Origin": "null"}, "PUT", "/v1/tenant-admin/secrets/x"),
    ],
)
async def test_a_cookie_change_without_the_csrf_token_or_from_elsewhere_is_403_before_any_service_call(
    gateway: tuple[Path, GatewaySettings, httpx.AsyncClient], headers: dict[str, str], method: str, path: str
) -> None:
    _, settings, client = gateway
    if headers.get("X-CSRF-Token") == "RIGHT":
        headers = {**headers, "X-CSRF-Token": csrf_token(settings.internal_token, TOKEN)}
    answer = await client.request(method, path, headers={**headers, "Cookie": f"mais_admin={TOKEN}"}, json={})
    # No service runs in this test: had the check let it through, the token's verification would fail
    # some other way (503), never with this code.
    assert answer.status_code == 403, answer.text
    assert answer.json()["error"] == "CSRF_FAILED"
    assert "access-control-allow-origin" not in answer.headers


async def test_without_cookie_or_bearer_an_admin_route_is_401(
    gateway: tuple[Path, GatewaySettings, httpx.AsyncClient],
) -> None:
    _, _, client = gateway
    answer = await client.patch("/v1/tenant-admin/settings", headers={"Cookie": "mais_admin="})
    assert (answer.status_code, answer.json()["error"]) == (401, "UNAUTHENTICATED")


async def test_the_admin_pages_are_the_admin_shell_and_503_until_it_is_built(
    gateway: tuple[Path, GatewaySettings, httpx.AsyncClient],
) -> None:
    folder, _, client = gateway
    (folder / "assets").mkdir(parents=True)
    (folder / "widget/v1").mkdir(parents=True)
    (folder / "index.html").write_text(SHELL.format("Book"))
    (folder / "widget/v1/mais.js").write_text("window.MAIS={};")
    for path in ("/admin", "/admin/", "/admin/bookings/bk_1"):
        missing = await client.get(path)
        assert missing.status_code == 503, path
        assert "make web" in missing.text
    # The couple's pages do not wait for the dashboards.
    assert (await client.get("/booking/bk_" + "0" * 26)).status_code == 200
    (folder / "admin.html").write_text(SHELL.format("Dashboard"))
    for path in ("/admin", "/admin/", "/admin/platform/tenants/t_1", "/admin/sign-in"):
        page = await client.get(path)
        assert page.status_code == 200, path
        assert "<title>Dashboard</title>" in page.text
        assert '<script type="application/json" id="mais-config">{"page":"admin"}</script>' in page.text
        assert page.headers["cache-control"] == "no-cache"
        assert page.headers["x-frame-options"] == "DENY"
        csp = page.headers["content-security-policy"]
        assert "frame-src 'self'" in csp and csp.endswith("frame-ancestors 'none'")
        assert csp.replace("frame-src 'self'; ", "") == web.page_csp(None)
    head = await client.head("/admin/bookings")
    assert (head.status_code, head.headers["content-type"]) == (200, "text/html; charset=utf-8")
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert not [p for p in paths if p.startswith("/admin")]
    assert {"post", "delete"} <= set(paths["/v1/auth/session"])


@pytest.mark.parametrize(
    ("public_url", "secure"),
    [("https://book.example", True), ("HTTPS://book.example/", True), ("http://127.0.0.1:8080", False)],
)
def test_the_cookie_is_secure_when_the_platform_is_served_over_https(public_url: str, secure: bool) -> None:
    request = SimpleNamespace(
        app=SimpleNamespace(state=SimpleNamespace(settings=SimpleNamespace(public_url=public_url)))
    )
    cookie = _session_cookie(request, TOKEN, 3600)  # type: ignore[arg-type]
    base = f"mais_admin={TOKEN}; HttpOnly; SameSite=Strict; Path=/; Max-Age=3600"
    assert cookie == (base + "; Secure" if secure else base)
