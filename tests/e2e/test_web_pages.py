"""The couple's pages and the widget's files through the whole stack (Envoy → gateways → services), as a
browser fetches them: the headers of every page (CSP with the tenant's frame-ancestors, no
X-Frame-Options where the tenant's sites may frame, caching, gzip), the configuration each page gets
(and what a link cannot smuggle into it), the return pages Stripe sends the couple to, the checkout
session the done page asks about, and the couple's manage page from their email.

The stack serves build/web: `make web` builds it (make test does, before the suites)."""

from __future__ import annotations

import gzip
import json
import re
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import pytest

from gateway.settings import GatewaySettings
from tests.e2e.conftest import MakeTenant, TenantHandle, eventually, mails_to
from tests.e2e.test_payments_flows import (
    Sandbox,
    Shop,
    a_free_day,
    checkout,
    make_shop,
    session_of,
    started,
    status_becomes,
    text_of,
)
from tools.stack.launcher import Stack

BUILD = GatewaySettings().web_dir
BASE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "
    "font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors "
)
ORIGINS = ["https://bella.example", "http://localhost:5173"]
_CONFIG = re.compile(r'<script type="application/json" id="mais-config">(.*?)</script>', re.S)


@pytest.fixture(autouse=True, scope="module")
def built() -> None:
    """The stack serves the repository's build; without one every page is 503 (tested in the unit
    tests), and these tests say what to do rather than fail one by one."""
    assert (BUILD / "index.html").exists(), f"no web build in {BUILD}: run `make web` first"


@pytest.fixture(scope="module")
def sandbox(stack: Stack) -> Any:
    running = Sandbox(stack)
    yield running
    running.http.close()


@pytest.fixture(scope="module")
def shop(stack: Stack, make_tenant: MakeTenant, http_module: httpx.Client) -> Shop:
    """A business selling on its own site (two widget origins) and through the platform."""
    sold = make_shop(stack, make_tenant)
    changed = http_module.patch(
        "/v1/tenant-admin/settings", json={"allowedOrigins": ORIGINS}, headers=sold.tenant.admin_headers()
    )
    assert changed.status_code == 200, changed.text
    return sold


@pytest.fixture(scope="module")
def http_module(stack: Stack) -> Any:
    with httpx.Client(base_url=stack.url, timeout=10.0) as client:
        yield client


def config_of(answer: httpx.Response) -> dict[str, Any]:
    """The page's #mais-config, checking it is the one script block the gateway added to the shell."""
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    found = _CONFIG.findall(answer.text)
    assert len(found) == 1, answer.text
    return dict(json.loads(found[0]))


def shell_of(answer: httpx.Response) -> str:
    """The page with its configuration taken out: exactly build/web/index.html."""
    return _CONFIG.sub("", answer.text)


def frame_csp(origins: list[str]) -> str:
    return BASE_CSP + " ".join(["'self'", *origins])


NOT_FRAMED = BASE_CSP + "'none'"


def assert_page_headers(answer: httpx.Response, csp: str) -> None:
    assert answer.headers["content-security-policy"] == csp
    assert answer.headers["cache-control"] == "no-cache"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "no-referrer"
    if csp == NOT_FRAMED:
        assert answer.headers["x-frame-options"] == "DENY"
    else:
        # frame-ancestors decides; DENY would also refuse the tenant's own sites.
        assert "x-frame-options" not in answer.headers


# --- the loader and the app's files ----------------------------------------------------------------


def test_the_loader_is_cached_five_minutes_gzipped_when_accepted_and_revalidated_by_etag(
    http: httpx.Client,
) -> None:
    on_disk = (BUILD / "widget/v1/mais.js").read_bytes()
    plain = http.get("/widget/v1/mais.js", headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200
    assert plain.headers["content-type"].startswith("text/javascript")
    assert plain.headers["cache-control"] == "public, max-age=300"
    assert "accept-encoding" in plain.headers["vary"].lower()
    assert "content-encoding" not in plain.headers
    assert plain.content == on_disk
    packed = http.get("/widget/v1/mais.js", headers={"Accept-Encoding": "br, gzip"})
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.content == on_disk  # httpx decoded it
    assert packed.headers["etag"] != plain.headers["etag"]
    again = http.get(
        "/widget/v1/mais.js",
        headers={"Accept-Encoding": "identity", "If-None-Match": plain.headers["etag"]},
    )
    assert (again.status_code, again.content) == (304, b"")
    assert again.headers["cache-control"] == "public, max-age=300"
    refused = http.get("/widget/v1/mais.js", headers={"Accept-Encoding": "gzip;q=0"})
    assert "content-encoding" not in refused.headers
    head = http.head("/widget/v1/mais.js", headers={"Accept-Encoding": "identity"})
    assert (head.status_code, head.content, head.headers["etag"]) == (200, b"", plain.headers["etag"])


def test_hashed_assets_are_immutable_for_a_year_and_gzipped_once(stack: Stack) -> None:
    assets = sorted((BUILD / "assets").glob("*.js")) + sorted((BUILD / "assets").glob("*.css"))
    assert assets, "the build has no assets"
    # A raw client: no transparent decoding, so the bytes on the wire are checked.
    with httpx.Client(base_url=stack.url, timeout=10.0) as raw:
        for path in assets:
            url = f"/assets/{path.name}"
            with raw.stream("GET", url, headers={"Accept-Encoding": "gzip"}) as answer:
                wire = b"".join(answer.iter_raw())
            assert answer.status_code == 200, url
            kind = "text/javascript" if path.suffix == ".js" else "text/css"
            assert answer.headers["content-type"].startswith(kind)
            assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
            assert answer.headers["content-encoding"] == "gzip"
            assert "accept-encoding" in answer.headers["vary"].lower()
            assert gzip.decompress(wire) == path.read_bytes()
            etag = answer.headers["etag"]
            cached = raw.get(url, headers={"Accept-Encoding": "gzip", "If-None-Match": etag})
            assert cached.status_code == 304
        missing = raw.get("/assets/no-such-file-abc123.js")
        assert missing.status_code == 404


# --- pages: headers and configuration --------------------------------------------------------------


def test_the_booking_pages_may_be_framed_by_the_tenants_sites_and_the_return_pages_by_nobody(
    http: httpx.Client, shop: Shop
) -> None:
    tenant = shop.tenant
    shell = (BUILD / "index.html").read_text()
    frame = http.get(
        "/widget/v1/frame",
        params={"key": tenant.public_key, "origin": "https://bella.example", "widget": "w-1_A"},
    )
    assert frame.status_code == 200
    assert_page_headers(frame, frame_csp(ORIGINS))
    assert shell_of(frame) == shell
    assert config_of(frame) == {
        "page": "book",
        "embedded": True,
        "publicKey": tenant.public_key,
        "slug": tenant.slug,
        "parentOrigin": "https://bella.example",
        "widgetId": "w-1_A",
    }
    book = http.get(f"/book/{tenant.slug}")
    assert book.status_code == 200
    assert_page_headers(book, frame_csp(ORIGINS))
    head = http.head(f"/book/{tenant.slug}")
    assert (head.status_code, head.content) == (200, b"")
    assert_page_headers(head, frame_csp(ORIGINS))
    assert config_of(book) == {
        "page": "book",
        "embedded": False,
        "publicKey": tenant.public_key,
        "slug": tenant.slug,
    }
    done = http.get(f"/book/{tenant.slug}/done", params={"session_id": "cs_test_abc123"})
    assert done.status_code == 200
    assert_page_headers(done, NOT_FRAMED)
    assert config_of(done) == {
        "page": "done",
        "embedded": False,
        "publicKey": tenant.public_key,
        "slug": tenant.slug,
        "sessionId": "cs_test_abc123",
    }
    cancelled = http.get(f"/book/{tenant.slug}/cancelled")
    assert cancelled.status_code == 200
    assert_page_headers(cancelled, NOT_FRAMED)
    assert config_of(cancelled)["page"] == "cancelled"
    manage = http.get("/booking/bk_" + "a" * 26, params={"token": "whatever"})
    assert manage.status_code == 200
    assert_page_headers(manage, NOT_FRAMED)
    assert config_of(manage) == {"page": "manage", "embedded": False, "bookingId": "bk_" + "a" * 26}
    # The API keeps its own headers.
    api = http.get("/v1/tenant", headers=tenant.public_headers())
    assert (api.headers["x-frame-options"], api.headers["cache-control"]) == ("DENY", "no-store")


def test_a_tenant_without_widget_origins_is_framed_by_the_platform_only(
    http: httpx.Client, make_tenant: MakeTenant
) -> None:
    tenant = make_tenant("noframe", onboarded=False)
    for answer in (
        http.get(f"/book/{tenant.slug}"),
        http.get("/widget/v1/frame", params={"key": tenant.public_key, "origin": "https://bella.example"}),
    ):
        assert answer.status_code == 200
        assert_page_headers(answer, frame_csp([]))
        assert "parentOrigin" not in config_of(answer)


def test_nothing_a_link_carries_reaches_the_page_unless_the_tenant_allows_it(
    http: httpx.Client, shop: Shop
) -> None:
    key = shop.tenant.public_key
    for origin in (
        "https://evil.example",
        "https://bella.example/path",
        "https://bella.example.evil.example",
        "https://user@bella.example",
        "http://bella.example",
        "",
    ):
        config = config_of(http.get("/widget/v1/frame", params={"key": key, "origin": origin}))
        assert "parentOrigin" not in config, origin
    for widget in ("", "x" * 33, "a b", "<b>", "w/1"):
        config = config_of(http.get("/widget/v1/frame", params={"key": key, "widget": widget}))
        assert "widgetId" not in config, widget
    for bad_return in (
        "https://evil.example/back",
        "javascript:alert(1)",
        "/relative/path",
        "https://bella.example@evil.example/",
        "//evil.example/",
        "https://bella.example:8443/",
    ):
        for page in (f"/book/{shop.tenant.slug}/done", f"/book/{shop.tenant.slug}/cancelled"):
            config = config_of(http.get(page, params={"return": bad_return}))
            assert "returnUrl" not in config, (page, bad_return)
        config = config_of(http.get("/widget/v1/frame", params={"key": key, "return": bad_return}))
        assert "returnUrl" not in config, bad_return
    for session in ("cs_", "pi_123", "cs_" + "a" * 300, "cs_x<y"):
        config = config_of(http.get(f"/book/{shop.tenant.slug}/done", params={"session_id": session}))
        assert "sessionId" not in config, session
        config = config_of(http.get("/widget/v1/frame", params={"key": key, "session": session}))
        assert "sessionId" not in config, session
    good = config_of(
        http.get(
            "/widget/v1/frame",
            params={
                "key": key,
                "return": "http://localhost:5173/weddings?x=1",
                "session": "cs_test_Z9",
            },
        )
    )
    assert (good["returnUrl"], good["sessionId"]) == ("http://localhost:5173/weddings?x=1", "cs_test_Z9")


def test_a_return_url_or_id_with_markup_cannot_end_the_config_script(http: httpx.Client, shop: Shop) -> None:
    hostile = "https://bella.example/</script><script>alert(1)</script><!--?a=1&b=<i>"
    answer = http.get(f"/book/{shop.tenant.slug}/cancelled", params={"return": hostile})
    # The one script the shell has, plus the config's: no third one, and the markup only escaped.
    assert answer.text.count("<script") == (BUILD / "index.html").read_text().count("<script") + 1
    assert "</script><script>" not in answer.text
    raw = _CONFIG.findall(answer.text)[0]
    assert "<" not in raw and ">" not in raw and "&" not in raw
    assert "\\u003c/script\\u003e" in raw
    assert config_of(answer)["returnUrl"] == hostile


def test_an_unknown_slug_or_key_and_an_inactive_business_get_the_unavailable_page(
    http: httpx.Client, make_tenant: MakeTenant, platform_token: str
) -> None:
    for path, params, embedded, csp in (
        ("/book/no-such-business-here", {}, False, frame_csp([])),
        ("/book/NOT_A_SLUG", {}, False, frame_csp([])),
        ("/book/no-such-business-here/done", {"session_id": "cs_test_1"}, False, NOT_FRAMED),
        ("/book/no-such-business-here/cancelled", {}, False, NOT_FRAMED),
        ("/widget/v1/frame", {"key": "pk_live_nobody_" + "0" * 32}, True, frame_csp([])),
        ("/widget/v1/frame", {"key": "garbage"}, True, frame_csp([])),
        ("/widget/v1/frame", {}, True, frame_csp([])),
    ):
        answer = http.get(path, params=params)
        assert answer.status_code == 404, path
        assert_page_headers(answer, csp)
        assert config_of(answer) == {"page": "unavailable", "embedded": embedded}, path
    tenant = make_tenant("closing", onboarded=False)
    assert http.get(f"/book/{tenant.slug}").status_code == 200
    closed = http.patch(
        f"/v1/admin/tenants/{tenant.id}",
        json={"active": False},
        headers={"Authorization": f"Bearer {platform_token}"},
    )
    assert closed.status_code == 200, closed.text
    # Within the gateways' short cache of slugs and keys (each gateway keeps its own).
    gone = eventually(
        lambda: all(
            http.get(path, params=params).status_code == 404
            for path, params in (
                (f"/book/{tenant.slug}", {}),
                ("/widget/v1/frame", {"key": tenant.public_key}),
            )
            for _ in range(4)
        ),
        timeout=10,
    )
    assert gone
    for path, params in (
        (f"/book/{tenant.slug}", {}),
        (f"/book/{tenant.slug}/done", {}),
        ("/widget/v1/frame", {"key": tenant.public_key}),
    ):
        answer = http.get(path, params=params)
        assert answer.status_code == 404, path
        assert config_of(answer)["page"] == "unavailable", path
        assert tenant.public_key not in answer.text


# --- checkout: the return pages Stripe sends the couple to --------------------------------------


def test_checkout_names_the_platforms_return_pages_and_only_an_allowed_return_url(
    http: httpx.Client, stack: Stack, sandbox: Sandbox, shop: Shop
) -> None:
    slug = shop.tenant.slug
    for bad in (
        "https://evil.example/",
        "javascript:alert(1)",
        "/weddings",
        "https://bella.example@evil.example/",
        "ftp://bella.example/",
        "https://bella.example/" + "x" * 2000,
    ):
        refused = checkout(http, shop, a_free_day(), returnUrl=bad)
        assert refused.status_code == 400, bad
        body = refused.json()
        assert body["error"] == "VALIDATION_ERROR"
        assert [f["field"] for f in body["fields"]] == ["returnUrl"], body

    back = "https://bella.example/weddings?from=widget&x=<1>"
    answer = started(http, shop, a_free_day(), returnUrl=back)
    session_id = session_of(answer["checkoutUrl"])
    session = sandbox.get(f"/v1/checkout/sessions/{session_id}")
    public = stack.public_url
    assert session["success_url"] == (
        f"{public}/book/{slug}/done?session_id={{CHECKOUT_SESSION_ID}}&return={quote(back, safe='')}"
    )
    assert session["cancel_url"] == f"{public}/book/{slug}/cancelled?return={quote(back, safe='')}"
    # Stripe fills in the session id; the done page gets it, and the way back.
    paid = sandbox.http.post(f"{answer['checkoutUrl']}/pay", headers={"Accept": "application/json"})
    assert paid.status_code == 200, paid.text
    redirect = urlsplit(paid.json()["redirect_url"])
    assert f"{redirect.scheme}://{redirect.netloc}" == public
    landed = http.get(f"{redirect.path}?{redirect.query}")
    assert landed.status_code == 200
    config = config_of(landed)
    assert (config["page"], config["sessionId"], config["returnUrl"]) == ("done", session_id, back)

    # Without returnUrl, the pages carry none; the platform's own origin is allowed too.
    plain = sandbox.get(
        f"/v1/checkout/sessions/{session_of(started(http, shop, a_free_day())['checkoutUrl'])}"
    )
    assert plain["success_url"] == f"{public}/book/{slug}/done?session_id={{CHECKOUT_SESSION_ID}}"
    assert plain["cancel_url"] == f"{public}/book/{slug}/cancelled"
    own = started(http, shop, a_free_day(), returnUrl=f"{public}/book/{slug}")
    assert sandbox.get(f"/v1/checkout/sessions/{session_of(own['checkoutUrl'])}")["cancel_url"].endswith(
        f"?return={quote(f'{public}/book/{slug}', safe='')}"
    )


def test_the_done_page_learns_a_sessions_booking_for_its_own_tenant_only(
    http: httpx.Client, sandbox: Sandbox, shop: Shop, stack: Stack, make_tenant: MakeTenant
) -> None:
    day = a_free_day()
    answer = started(http, shop, day, email_address="private-couple@example.com")
    session_id = session_of(answer["checkoutUrl"])
    url = f"/v1/checkout/sessions/{session_id}"
    held = http.get(url, headers=shop.tenant.public_headers())
    assert held.status_code == 200, held.text
    assert held.json() == {
        "bookingId": answer["bookingId"],
        "sessionStatus": "open",
        "status": "HELD",
        "eventDate": day,
        "packageTitle": "Garden day",
        "totalCents": shop.total_cents,
        "currency": "usd",
        "amountPaidCents": 0,
        "schedule": None,
        "kind": "DAY",
        "startsAt": None,
        "endsAt": None,
    }
    assert "private-couple" not in held.text and "Ana" not in held.text
    sandbox.pay(answer["checkoutUrl"])
    status_becomes(http, shop, answer["bookingId"], "CONFIRMED")
    paid = http.get(url, headers=shop.tenant.public_headers()).json()
    assert (paid["sessionStatus"], paid["status"], paid["amountPaidCents"]) == (
        "complete",
        "CONFIRMED",
        shop.total_cents,
    )
    # Confirmed: the schedule (the couple's view, no fees) says what was paid; here all of it at once.
    assert [(i["kind"], i["status"], i["paidCents"]) for i in paid["schedule"]["instalments"]] == [
        ("FULL", "PAID", shop.total_cents)
    ]
    assert "feeCents" not in paid["schedule"]["instalments"][0]
    other = make_tenant("other", onboarded=False)
    for path, headers, status, error in (
        (url, other.public_headers(), 404, "NOT_FOUND"),
        ("/v1/checkout/sessions/cs_test_unknown123", shop.tenant.public_headers(), 404, "NOT_FOUND"),
        ("/v1/checkout/sessions/not-a-session", shop.tenant.public_headers(), 404, "NOT_FOUND"),
        (url, {}, 401, "TENANT_KEY_REQUIRED"),
    ):
        refused = http.get(path, headers=headers)
        assert (refused.status_code, refused.json()["error"]) == (status, error), path
    assert answer["bookingId"] not in http.get(url, headers=other.public_headers()).text


# --- the couple's manage page ---------------------------------------------------------------------


def _booked(http: httpx.Client, sandbox: Sandbox, shop: Shop, stack: Stack, day: str) -> tuple[str, str]:
    """A confirmed booking on `day`: (booking id, the path and query of the email's link)."""
    couple = f"manage-{day}@example.com"
    answer = started(http, shop, day, email_address=couple)
    sandbox.pay(answer["checkoutUrl"])
    status_becomes(http, shop, answer["bookingId"], "CONFIRMED")

    def link() -> str | None:
        for message in mails_to(stack, couple):
            found = re.search(r"(http\S+/booking/\S+)", text_of(message))
            if found:
                return found.group(1)
        return None

    found = eventually(link, timeout=20)
    assert found, "no manage link in the confirmation email"
    parts = urlsplit(found)
    assert f"{parts.scheme}://{parts.netloc}" == stack.public_url
    assert parts.path == f"/booking/{answer['bookingId']}"
    return answer["bookingId"], f"{parts.path}?{parts.query}"


def _set_cancel_days(http: httpx.Client, tenant: TenantHandle, days: int) -> None:
    changed = http.patch(
        "/v1/tenant-admin/settings",
        json={"policy": {"coupleCancelDays": days}},
        headers=tenant.admin_headers(),
    )
    assert changed.status_code == 200, changed.text


def test_the_email_opens_the_manage_page_and_the_booking_says_until_when_the_couple_may_cancel(
    http: httpx.Client, stack: Stack, sandbox: Sandbox, make_tenant: MakeTenant
) -> None:
    shop = make_shop(stack, make_tenant)
    _set_cancel_days(http, shop.tenant, 14)
    day = a_free_day()
    booking_id, link = _booked(http, sandbox, shop, stack, day)
    page = http.get(link)
    assert page.status_code == 200
    assert_page_headers(page, NOT_FRAMED)
    assert config_of(page) == {"page": "manage", "embedded": False, "bookingId": booking_id}

    token = link.split("token=", 1)[1]

    def cancellation() -> dict[str, Any]:
        return dict(http.get(f"/v1/bookings/{booking_id}", params={"token": token}).json()["cancellation"])

    view = http.get(f"/v1/bookings/{booking_id}", params={"token": token})
    assert view.status_code == 200, view.text
    body = view.json()
    assert (body["id"], body["status"], body["packageTitle"]) == (booking_id, "CONFIRMED", "Garden day")
    assert body["business"] == {
        "name": shop.tenant.body["tenant"]["name"],
        "slug": shop.tenant.slug,
        "branding": shop.tenant.body["tenant"]["branding"],
        "timezone": "UTC",
        "contactEmail": shop.tenant.admin_email,
        # What moving the booking from the manage page needs: the availability routes' key, the window.
        "publicKey": shop.tenant.public_key,
        "policy": {
            "minNoticeDays": shop.tenant.body["tenant"]["policy"]["minNoticeDays"],
            "maxAdvanceDays": shop.tenant.body["tenant"]["policy"]["maxAdvanceDays"],
        },
    }
    last_day = (date.fromisoformat(day) - timedelta(days=14)).isoformat()
    assert body["cancellation"] == {
        "allowedNow": True,
        "lastDay": last_day,
        "refundCents": shop.total_cents,
        "keptCents": 0,
    }

    # A year's notice: the window closed long before this booking was made.
    _set_cancel_days(http, shop.tenant, 365)
    closed = eventually(lambda: cancellation()["allowedNow"] is False, timeout=10)
    assert closed
    after = cancellation()
    assert after["lastDay"] == (date.fromisoformat(day) - timedelta(days=365)).isoformat()
    refused = http.post(f"/v1/bookings/{booking_id}/cancel", params={"token": token}, json={})
    assert (refused.status_code, refused.json()["error"]) == (409, "CANCELLATION_WINDOW_CLOSED")

    # Cancelling inside the window refunds what the view said; the view then offers nothing more.
    _set_cancel_days(http, shop.tenant, 14)
    assert eventually(lambda: cancellation()["allowedNow"], timeout=10)
    done = http.post(f"/v1/bookings/{booking_id}/cancel", params={"token": token}, json={})
    assert done.status_code == 200, done.text
    assert done.json()["refund"]["totalRefundedCents"] == shop.total_cents
    final = {"allowedNow": False, "lastDay": last_day, "refundCents": 0, "keptCents": 0}
    seen = eventually(lambda: cancellation() == final, timeout=10)
    assert seen, cancellation()
    # A broken link still opens the page (the app tells the couple), and the JSON says 404.
    assert http.get(f"/v1/bookings/{booking_id}", params={"token": token[:-2] + "AA"}).status_code == 404
    assert http.get(f"/booking/{booking_id}", params={"token": "garbage"}).status_code == 200
    assert http.get("/booking/not-a-booking").status_code == 404


def test_the_openapi_lists_the_new_route_and_none_of_the_pages(http: httpx.Client) -> None:
    paths = http.get("/openapi.json").json()["paths"]
    assert "/v1/checkout/sessions/{session_id}" in paths
    assert "returnUrl" in json.dumps(
        http.get("/openapi.json").json()["components"]["schemas"]["CheckoutBody"]
    )
    for page in ("/book/{slug}", "/widget/v1/frame", "/widget/v1/mais.js", "/booking/{booking_id}"):
        assert page not in paths
    assert not any(path.startswith("/assets") for path in paths)
