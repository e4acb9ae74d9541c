"""The demo host page and its server (tools/stack/demo_site.py) without a stack: what the page
embeds, that every value is escaped, what the server answers, and how `make run` wires it (its port
setting, the allowed origin it adds to the demo tenant)."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from mais.tenant.v1 import tenant_service_pb2 as pb

from tools.stack.__main__ import _check_demo_site_port
from tools.stack.demo import _allow_widget_origin
from tools.stack.demo_site import Embed, HostSite, host_page_csp, render_host_page
from tools.stack.launcher import PortInUse, Ports, StackOptions
from tools.stack.settings import StackSettings, passed_through

PLATFORM = "http://127.0.0.1:8080"


class Elements(HTMLParser):
    """Every start tag with its attributes, and the text, as a browser would read them."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def having(self, attribute: str) -> list[dict[str, str | None]]:
        return [attrs for _, attrs in self.tags if attribute in attrs]


def test_the_demo_page_has_the_snippet_an_inline_widget_and_a_book_now_button() -> None:
    page = Elements(render_host_page(PLATFORM, "pk_test_rose"))
    scripts = [attrs for tag, attrs in page.tags if tag == "script"]
    loader = [s for s in scripts if (s.get("src") or "").endswith("/widget/v1/mais.js")]
    assert loader == [
        {"src": f"{PLATFORM}/widget/v1/mais.js", "data-tenant-key": "pk_test_rose", "async": None}
    ]
    assert [s["src"] for s in scripts if s not in loader] == ["/site.js"]
    assert len(page.having("data-mais-booking")) == 1
    (button,) = [attrs for tag, attrs in page.tags if tag == "button" and "data-mais-button" in attrs]
    assert "Book now" in page.text
    assert "data-tenant-key" not in button
    assert "Rose & Oak Weddings" in "".join(page.text)
    assert "demo" in "".join(page.text).lower()


def test_every_value_on_the_page_is_escaped() -> None:
    hostile = '"><script>alert(1)</script>'
    html = render_host_page(
        f"https://platform.test/{hostile}",
        f"pk_{hostile}",
        (Embed("button", tenant_key=f"pk_b{hostile}", label=f"Book {hostile}", element_id=hostile),),
        business=f"Rose {hostile}",
    )
    page = Elements(html)
    assert [tag for tag, _ in page.tags].count("script") == 2  # the site's and the loader: nothing injected
    (loader,) = page.having("data-tenant-key")[:1]
    assert loader["data-tenant-key"] == f"pk_{hostile}"
    (button,) = page.having("data-mais-button")
    assert button["data-tenant-key"] == f"pk_b{hostile}"
    assert button["id"] == hostile
    assert f"Book {hostile}" in page.text


def test_several_widgets_each_with_its_own_key() -> None:
    embeds = (Embed("inline", element_id="a"), Embed("inline", tenant_key="pk_test_b", element_id="b"))
    page = Elements(render_host_page(PLATFORM, "pk_test_a", embeds))
    widgets = page.having("data-mais-booking")
    assert [(w["id"], w.get("data-tenant-key")) for w in widgets] == [("a", None), ("b", "pk_test_b")]
    assert page.having("data-mais-button") == []


def test_the_host_pages_csp_allows_the_platforms_script_and_frame_and_nothing_inline() -> None:
    csp = host_page_csp("https://book.example.test/mais/")
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["script-src"] == "'self' https://book.example.test"
    assert directives["frame-src"] == "https://book.example.test"
    assert directives["default-src"] == "'none'"
    assert "unsafe-inline" not in csp


@pytest.fixture
def site() -> Iterator[HostSite]:
    with HostSite(port=0) as running:
        yield running


def _get(url: str) -> tuple[int, dict[str, str], str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 - our own local server
            return answer.status, dict(answer.headers), answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def test_the_host_site_serves_the_pages_it_is_given_on_its_own_origin(site: HostSite) -> None:
    assert site.url == f"http://127.0.0.1:{site.port}" == site.origin
    site.set_page("/two.html", "<p>two</p>", headers={"X-Test": "yes"})
    status, headers, body = _get(f"{site.url}/two.html?mais_session=cs_1")
    assert (status, body) == (200, "<p>two</p>")
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Cache-Control"] == "no-cache"
    assert headers["X-Test"] == "yes"
    assert _get(f"{site.url}/missing")[0] == 404
    status, headers, body = _get(f"{site.url}/site.js")
    assert status == 200 and headers["Content-Type"].startswith("text/javascript")
    assert "mais:booked" in body


def test_a_host_page_comes_with_its_csp(site: HostSite) -> None:
    site.set_host_page("/", PLATFORM, "pk_test_rose")
    status, headers, body = _get(f"{site.url}/")
    assert status == 200
    assert headers["Content-Security-Policy"] == host_page_csp(PLATFORM)
    assert 'data-tenant-key="pk_test_rose"' in body


def test_closing_the_host_site_frees_its_port() -> None:
    site = HostSite(port=0)
    port = site.port
    site.close()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_the_demo_site_port_is_the_launchers_setting_and_a_taken_one_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("MAIS_DEMO_SITE_PORT", raising=False)
    assert StackSettings().demo_site_port == 8090
    monkeypatch.setenv("MAIS_DEMO_SITE_PORT", "0")
    assert StackSettings().demo_site_port == 0
    assert passed_through({"MAIS_DEMO_SITE_PORT": "9000"}) == ({}, [])
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        options = StackOptions(data_dir=tmp_path, ports=Ports.free())
        with pytest.raises(PortInUse, match=f"port {port} .*MAIS_DEMO_SITE_PORT"):
            _check_demo_site_port(port, options)
    with pytest.raises(PortInUse, match="public entry"):
        _check_demo_site_port(options.ports.public, options)


@dataclass
class FakeTenants:
    """The two tenant RPCs the demo site's origin needs, over one stored tenant."""

    tenant: pb.Tenant
    updates: list[pb.UpdateTenantRequest] = field(default_factory=list)

    def GetTenant(self, request: pb.GetTenantRequest, **_: Any) -> pb.GetTenantResponse:
        return pb.GetTenantResponse(tenant=self.tenant)

    def UpdateTenant(self, request: pb.UpdateTenantRequest, **_: Any) -> pb.UpdateTenantResponse:
        self.updates.append(request)
        del self.tenant.allowed_origins[:]
        self.tenant.allowed_origins.extend(request.tenant.allowed_origins)
        self.tenant.version += 1
        return pb.UpdateTenantResponse(tenant=self.tenant)


def test_the_demo_sites_origin_is_added_beside_the_admins_once() -> None:
    tenants = FakeTenants(
        pb.Tenant(id="t1", name="Rose & Oak Weddings", version=4, allowed_origins=["https://rose.example"])
    )
    for _ in range(2):
        name = _allow_widget_origin(tenants, (), "t1", "http://127.0.0.1:8090")  # type: ignore[arg-type]
        assert name == "Rose & Oak Weddings"
    assert list(tenants.tenant.allowed_origins) == ["https://rose.example", "http://127.0.0.1:8090"]
    (update,) = tenants.updates
    assert list(update.update_mask) == ["allowed_origins"]
    assert update.expected_version == 4
