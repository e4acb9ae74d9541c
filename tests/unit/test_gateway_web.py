"""The gateway's web pages without services: the rules of gateway/web.py (config escaping, CSP, which
origins and return URLs a page may carry, gzip negotiation), the security headers a response gets,
and the whole app over a build folder that is missing, then appears."""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from gateway import web
from gateway.app import create_app
from gateway.middleware import security_headers
from gateway.settings import GatewaySettings

ORIGINS = ("https://bella.example", "http://localhost:5173")
PUBLIC = "http://127.0.0.1:8080"
SHELL = (
    "<!doctype html><html><head><title>Book</title>"
    '<script type="module" src="/assets/app-abc.js"></script></head><body></body></html>'
)


def test_the_config_cannot_end_its_script_element() -> None:
    config = {"returnUrl": "https://x.example/</script><!--&\u2028", "page": "done"}
    raw = web.config_json(config)
    assert b"<" not in raw and b">" not in raw and b"&" not in raw and "\u2028".encode() not in raw
    assert json.loads(raw) == config
    page = web.Shell(SHELL.encode()).render(config).decode()
    assert page.count("</script>") == 2 and page.index('id="mais-config"') < page.index("</head>")


def test_the_csp_lists_only_origins_and_never_frames_the_return_pages() -> None:
    base = web.page_csp(None).rsplit("frame-ancestors ", 1)[0]
    assert web.page_csp(None) == base + "frame-ancestors 'none'"
    assert web.page_csp([]) == base + "frame-ancestors 'self'"
    assert web.page_csp(["https://Bella.example:443", "https://a.example; script-src *", "*", "x"]) == (
        base + "frame-ancestors 'self' https://bella.example"
    )
    assert "'unsafe-inline'" not in base and "script-src 'self';" in base


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://bella.example/weddings?x=1#top", True),
        ("https://BELLA.example:443/", True),
        ("http://localhost:5173/", True),
        (f"{PUBLIC}/book/bella", True),
        ("http://bella.example/", False),
        ("https://bella.example:8443/", False),
        ("https://bella.example@evil.example/", False),
        ("https://evil.example/?https://bella.example", False),
        ("javascript:alert(1)//https://bella.example", False),
        ("//bella.example/", False),
        ("/weddings", False),
        ("https://bella.example/a b", False),
        ("https://bella.example/\n", False),
        ("", False),
        # urlsplit raises on these: refused, never a 500.
        ("http://[::1", False),
        ("https://bella.example\uff03@evil.example/", False),
    ],
)
def test_a_return_url_must_be_on_an_origin_the_tenant_listed_or_the_platforms(
    url: str, allowed: bool
) -> None:
    assert (web.allowed_return_url(url, ORIGINS, PUBLIC) == url) is allowed


def test_the_parent_origin_is_the_host_pages_exact_origin_when_listed() -> None:
    assert web.allowed_parent_origin("https://bella.example", ORIGINS) == "https://bella.example"
    assert web.allowed_parent_origin("http://localhost:5173", ORIGINS) == "http://localhost:5173"
    for origin in (
        "https://bella.example/",
        "https://bella.example/x",
        "https://evil.example",
        PUBLIC,
        "",
        "http://[::1",
    ):
        assert web.allowed_parent_origin(origin, ORIGINS) is None, origin


@pytest.mark.parametrize(
    ("header", "gzipped"),
    [
        ("gzip, deflate, br", True),
        ("br;q=1, gzip;q=0.5", True),
        ("*", True),
        ("gzip;q=0", False),
        ("", False),
    ],
)
def test_gzip_is_sent_only_when_accepted(header: str, gzipped: bool) -> None:
    assert web.accepts_gzip(header) is gzipped


def test_a_responses_own_cache_control_wins_and_only_a_frameable_page_goes_without_deny() -> None:
    api = dict(security_headers([]))
    assert (api[b"cache-control"], api[b"x-frame-options"]) == (b"no-store", b"DENY")
    page = dict(
        security_headers(
            [(b"cache-control", b"no-cache"), (b"content-security-policy", web.page_csp(ORIGINS).encode())]
        )
    )
    assert b"cache-control" not in page and b"x-frame-options" not in page
    assert page[b"x-content-type-options"] == b"nosniff"
    closed = dict(security_headers([(b"content-security-policy", web.page_csp(None).encode())]))
    assert closed[b"x-frame-options"] == b"DENY"


@pytest.fixture
async def build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Path, httpx.AsyncClient]]:
    monkeypatch.setattr(web, "MISSING_RETRY_SECONDS", 0.0)
    folder = tmp_path / "web"
    app = create_app(GatewaySettings(web_dir=folder))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
            yield folder, client


async def test_a_missing_build_answers_503_saying_to_run_make_web_until_it_appears(
    build: tuple[Path, httpx.AsyncClient],
) -> None:
    folder, client = build
    for path in (
        "/book/bella",
        "/widget/v1/frame?key=x",
        "/booking/bk_x",
        "/widget/v1/mais.js",
        "/assets/a.js",
    ):
        answer = await client.get(path)
        assert answer.status_code == 503, path
        assert "make web" in answer.text and answer.headers["content-type"].startswith("text/html")
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    # The build is written in two steps (the app, then the loader): half a build is not taken.
    (folder / "assets").mkdir(parents=True)
    (folder / "assets/app-abc.js").write_text("console.log('app');" * 50)
    (folder / "index.html").write_text(SHELL)
    assert (await client.get("/book/bella")).status_code == 503
    (folder / "widget/v1").mkdir(parents=True)
    (folder / "widget/v1/mais.js").write_text("window.MAIS={};")
    booking_id = "bk_" + "0" * 26
    page = await client.get(f"/booking/{booking_id}?token=t")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-cache"
    assert '"bookingId":"bk_' in page.text
    asset = await client.get("/assets/app-abc.js", headers={"Accept-Encoding": "gzip"})
    assert asset.headers["content-encoding"] == "gzip"
    assert asset.text == "console.log('app');" * 50
    loader = await client.get("/widget/v1/mais.js", headers={"Accept-Encoding": "identity"})
    assert (loader.text, loader.headers["cache-control"]) == ("window.MAIS={};", "public, max-age=300")
    # Read once: a file changed under a running gateway is served as it was (a restart picks it up).
    (folder / "widget/v1/mais.js").write_text("changed")
    assert (await client.get("/widget/v1/mais.js")).text == "window.MAIS={};"
    assert gzip.decompress(web.StaticFile.of(b"x" * 100, ".js").gzipped or b"") == b"x" * 100
