"""A signed-in dashboard session cannot be used by another site: a page elsewhere that auto-submits a
`<form method=post>` to a tenant admin's mutation changes nothing.

The mutation is `POST /v1/tenant-admin/api-keys/rotate`, which needs no body, so an empty form post is
a complete request: only the session's checks stand in its way. Two attackers are tried, because a
port is not a site: a page on 127.0.0.1 under another port is same-site with the platform (the browser
does send the SameSite=Strict cookie) and is stopped by the CSRF check (no X-CSRF-Token, a foreign
Origin); a page on `localhost` is cross-site, and the browser keeps the cookie off. Then the same
rotation made the dashboards' way (the cookie plus the session's X-CSRF-Token) does happen: the check
for "nothing changed" can see a change."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page

from tests.e2e.browser.admin import sign_in_as
from tests.e2e.browser.host import serve
from tests.e2e.conftest import MakeTenant, TenantHandle, eventually
from tools.stack.demo_site import HostSite
from tools.stack.launcher import Stack

ROTATE = "/v1/tenant-admin/api-keys/rotate"
# How long a gateway may answer a slug's newest key from its cache (gateway/auth.py), plus a margin.
SLUG_CACHE_SECONDS = 2.5


@pytest.fixture(scope="module")
def cross_site() -> Iterator[HostSite]:
    """Somebody else's site on another site altogether (`localhost`, not 127.0.0.1)."""
    with HostSite(port=0, host="localhost") as site:
        yield site


def _forger(stack: Stack) -> str:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>You won a prize</title></head>
<body><h1>Claim your prize</h1>
<form method="post" action="{stack.url}{ROTATE}"><button>Claim</button></form>
<script>document.forms[0].submit();</script>
</body></html>
"""


def _newest_public_key(stack: Stack, tenant: TenantHandle) -> str:
    """The key the business's booking page carries: the newest of its pairs."""
    page = httpx.get(f"{stack.url}/book/{tenant.slug}", timeout=10)
    assert page.status_code == 200, page.text
    config = re.search(r'<script type="application/json" id="mais-config">(.*?)</script>', page.text)
    assert config
    return str(json.loads(config.group(1))["publicKey"])


def _submit_forged_form(page: Page, url: str) -> tuple[int, str, str]:
    """Opens the attacker's page; (status, error code, Cookie header sent) of the form's request."""
    with page.expect_response(lambda r: r.url.endswith(ROTATE)) as caught:
        page.goto(url)
    response = caught.value
    body = response.json()
    return response.status, str(body.get("error")), response.request.all_headers().get("cookie", "")


def test_a_cross_site_form_cannot_use_a_signed_in_session(
    page: Page, stack: Stack, make_tenant: MakeTenant, foreign_site: HostSite, cross_site: HostSite
) -> None:
    tenant = make_tenant("csrf-form", onboarded=False)
    csrf = sign_in_as(page, stack, tenant)["csrfToken"]
    cookies = {c["name"]: c for c in page.context.cookies(stack.url)}
    assert cookies["mais_admin"]["httpOnly"] is True
    assert cookies["mais_admin"]["sameSite"] == "Strict"
    # The context is signed in: the cookie alone reads the tenant's settings.
    assert page.request.get(f"{stack.url}/v1/tenant-admin/settings").status == 200

    # Same site, other origin: the cookie goes along, the CSRF check refuses.
    same_site = serve(foreign_site, "/prize", _forger(stack))
    status, error, cookie = _submit_forged_form(page, same_site)
    assert (status, error) == (403, "CSRF_FAILED")
    assert "mais_admin=" in cookie, "the same-site page's post should have carried the cookie"
    # Another site: SameSite=Strict keeps the cookie off, so the post is not even signed in.
    other_site = serve(cross_site, "/prize", _forger(stack))
    assert httpx.URL(other_site).host == "localhost"
    status, error, cookie = _submit_forged_form(page, other_site)
    assert (status, error) == (401, "UNAUTHENTICATED")
    assert "mais_admin=" not in cookie

    # Nothing changed: once no gateway can answer from an older cache entry, the booking page still
    # carries the tenant's first key (a rotation would have put its new key there).
    time.sleep(SLUG_CACHE_SECONDS)
    assert [_newest_public_key(stack, tenant) for _ in range(4)] == [tenant.public_key] * 4
    # The session still works, and the dashboards' own way of rotating does rotate.
    rotated = page.request.post(f"{stack.url}{ROTATE}", headers={"X-CSRF-Token": csrf})
    assert rotated.status == 200, rotated.text()
    new_key = rotated.json()["publicKey"]
    assert new_key != tenant.public_key
    assert eventually(
        lambda: all(_newest_public_key(stack, tenant) == new_key for _ in range(4)), timeout=10
    ), "a rotation that happened must show on the booking page"
