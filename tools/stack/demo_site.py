"""A wedding business's own website, for trying the booking widget: a page on an origin of its own
(not the platform's) that embeds the widget the way a tenant pastes the snippet, inline and as a
"Book now" button. `make run` serves it on 127.0.0.1:MAIS_DEMO_SITE_PORT (8090) with the demo
tenant's public key; browser tests serve their own host pages with the same server.

    site = HostSite(port=0)                      # serving at once, in a daemon thread
    site.set_host_page("/", platform_url, public_key)          # the demo page (with its CSP)
    site.set_page("/two.html", render_host_page(platform_url, key_a,
                  (Embed("inline"), Embed("inline", tenant_key=key_b))))
    page.goto(site.url + "/two.html"); ...; site.close()

The page sends a strict CSP of its own (scripts and frames from itself and the platform only, no
inline script or style), so every run shows that the loader needs nothing more from a host. Its
script (/site.js) lists the widget's DOM events in `#widget-events`, one `<li>` per event
("mais:ready {json detail}"), as a tenant's page might use them.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal
from urllib.parse import urlsplit

DEFAULT_PORT = 8090
LOADER_PATH = "/widget/v1/mais.js"
DEMO_BUSINESS = "Rose & Oak Weddings"
HOST_EVENTS = ("mais:ready", "mais:date-selected", "mais:checkout-started", "mais:booked")


@dataclass(frozen=True)
class Embed:
    """One widget on a host page: `inline` (a `data-mais-booking` element) or `button` (a
    `data-mais-button` that opens the popup dialog)."""

    kind: Literal["inline", "button"]
    # The element's own data-tenant-key (a second tenant on the page); empty: the script's key.
    tenant_key: str = ""
    # The button's text (the host's own; the loader keeps it).
    label: str = "Book now"
    element_id: str = ""


DEMO_EMBEDS = (Embed("button", element_id="book-now"), Embed("inline", element_id="booking"))


def platform_origin(platform_url: str) -> str:
    """`scheme://host[:port]` of the platform's public URL."""
    parts = urlsplit(platform_url)
    return f"{parts.scheme}://{parts.netloc}"


def snippet(platform_url: str, public_key: str) -> str:
    """The script tag a tenant pastes into its site."""
    src = platform_url.rstrip("/") + LOADER_PATH
    return f'<script src="{escape(src)}" data-tenant-key="{escape(public_key)}" async></script>'


def host_page_csp(platform_url: str) -> str:
    """A strict host-page CSP that still lets the widget work: the loader from the platform, its
    iframe from the platform, nothing inline."""
    origin = platform_origin(platform_url)
    return (
        f"default-src 'none'; script-src 'self' {origin}; frame-src {origin}; style-src 'self'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


def _embed_html(embed: Embed) -> str:
    attributes = f' id="{escape(embed.element_id)}"' if embed.element_id else ""
    if embed.tenant_key:
        attributes += f' data-tenant-key="{escape(embed.tenant_key)}"'
    if embed.kind == "button":
        label = escape(embed.label)
        return f'<button type="button" class="cta"{attributes} data-mais-button>{label}</button>'
    fallback = '<p class="fallback">Loading the booking calendar…</p>'
    return f'<div class="booking"{attributes} data-mais-booking>{fallback}</div>'


def render_host_page(
    platform_url: str,
    public_key: str,
    embeds: Sequence[Embed] = DEMO_EMBEDS,
    *,
    business: str = DEMO_BUSINESS,
) -> str:
    """A wedding business's home page with the widget snippet and `embeds` (buttons in the
    welcome section, inline widgets in the booking section), every value HTML-escaped."""
    name = escape(business)
    buttons = "\n        ".join(_embed_html(e) for e in embeds if e.kind == "button")
    inline = "\n      ".join(_embed_html(e) for e in embeds if e.kind == "inline")
    return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{name} (a demo site)</title>
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="/site.css">
  <script src="/site.js" defer></script>
  {snippet(platform_url, public_key)}
</head>
<body>
  <p class="demo-note">A demo site for trying the MAIS booking widget: not a real business.</p>
  <header>
    <a class="brand" href="/">{name}</a>
    <nav aria-label="Site"><a href="#booking-section">Book</a> <a href="#about">About us</a></nav>
  </header>
  <main>
    <section class="welcome" aria-labelledby="welcome-heading">
      <h1 id="welcome-heading">Weddings among the roses</h1>
      <p>A walled garden, an old oak and a long table for everyone you love. Pick your day below, or
        open the booking in a window of its own.</p>
      <p class="actions">
        {buttons}
      </p>
    </section>
    <section id="booking-section" aria-labelledby="booking-heading">
      <h2 id="booking-heading">Check a date and book</h2>
      {inline}
    </section>
    <section id="about" aria-labelledby="about-heading">
      <h2 id="about-heading">About us</h2>
      <p>{name} is a made-up business. This page stands for a tenant's own website: it lives on its
        own origin, includes one script tag, and listens to the widget's events.</p>
      <h3>Widget events</h3>
      <ol id="widget-events" aria-live="polite"></ol>
    </section>
  </main>
  <footer><p>&copy; {name}. Demo content.</p></footer>
</body>
</html>
"""


SITE_CSS = """:root { color-scheme: light; --rose: #8c2f4b; --oak: #4a3a28; }
* { box-sizing: border-box; }
body { margin: 0; font: 17px/1.55 Georgia, "Times New Roman", serif; color: #2b2420; background: #fbf7f2; }
.demo-note { margin: 0; padding: 6px 16px; background: #2b2420; color: #fff;
  font: 14px/1.4 system-ui, sans-serif; }
header { display: flex; flex-wrap: wrap; gap: 12px; justify-content: space-between; align-items: center;
  padding: 16px clamp(16px, 5vw, 64px); border-bottom: 1px solid #e7dccf; background: #fff; }
.brand { font-size: 24px; color: var(--rose); text-decoration: none; font-style: italic; }
nav a { color: var(--oak); margin-left: 16px; }
main { max-width: 960px; margin: 0 auto; padding: 0 16px 48px; }
.welcome { padding: 48px 0 24px; text-align: center; }
h1 { font-size: clamp(30px, 6vw, 48px); font-weight: normal; color: var(--oak); margin: 0 0 12px; }
h2 { font-weight: normal; color: var(--oak); border-bottom: 1px solid #e7dccf; padding-bottom: 6px; }
.cta { font: 18px system-ui, sans-serif; padding: 12px 28px; border: 0; border-radius: 999px;
  background: var(--rose); color: #fff; cursor: pointer; }
.cta:focus-visible, a:focus-visible { outline: 3px solid #1a5fb4; outline-offset: 2px; }
.booking { background: #fff; border: 1px solid #e7dccf; border-radius: 12px; overflow: hidden; }
.fallback { padding: 24px; margin: 0; }
#widget-events { font: 13px/1.5 ui-monospace, monospace; word-break: break-all; }
footer { text-align: center; padding: 24px; color: #6b5d52; font-size: 14px; }
"""

SITE_JS = """// The demo site's own script: lists the widget's DOM events, as a tenant's page might use them.
for (const name of EVENTS) {
  document.addEventListener(name, (event) => {
    const item = document.createElement("li");
    item.textContent = name + " " + JSON.stringify(event.detail);
    document.getElementById("widget-events")?.append(item);
  });
}
""".replace("EVENTS", json.dumps(HOST_EVENTS))


@dataclass(frozen=True)
class _Page:
    body: bytes
    content_type: str
    headers: Mapping[str, str]


class HostSite:
    """A tiny web server for host pages on 127.0.0.1 (its own origin), serving from a daemon
    thread as soon as it is made: `.url` (no trailing slash), `.set_page(path, html)`, `.close()`.
    Serves /site.css and /site.js for rendered pages; every answer has `Cache-Control: no-cache`."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1") -> None:
        self._pages: dict[str, _Page] = {}
        self.set_page("/site.css", SITE_CSS, content_type="text/css; charset=utf-8")
        self.set_page("/site.js", SITE_JS, content_type="text/javascript; charset=utf-8")
        pages = self._pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._answer(send_body=True)

            def do_HEAD(self) -> None:
                self._answer(send_body=False)

            def _answer(self, send_body: bool) -> None:
                page = pages.get(urlsplit(self.path).path)
                if page is None:
                    page = _Page(b"not found\n", "text/plain; charset=utf-8", {})
                    self.send_response(HTTPStatus.NOT_FOUND)
                else:
                    self.send_response(HTTPStatus.OK)
                self.send_header("Content-Type", page.content_type)
                self.send_header("Content-Length", str(len(page.body)))
                self.send_header("Cache-Control", "no-cache")
                for name, value in page.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if send_body:
                    self.wfile.write(page.body)

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: a demo page's requests are not news."""

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="host-site", daemon=True)
        self._thread.start()

    @property
    def origin(self) -> str:
        """The origin to put in a tenant's allowed widget origins."""
        return self.url

    def set_page(
        self,
        path: str,
        body: str,
        *,
        content_type: str = "text/html; charset=utf-8",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Serves `body` at `path` (query strings are ignored) from now on, with extra `headers`."""
        self._pages[path] = _Page(body.encode(), content_type, dict(headers or {}))

    def set_host_page(
        self,
        path: str,
        platform_url: str,
        public_key: str,
        embeds: Sequence[Embed] = DEMO_EMBEDS,
        *,
        business: str = DEMO_BUSINESS,
    ) -> None:
        """Serves `render_host_page(...)` at `path` with the strict host CSP."""
        html = render_host_page(platform_url, public_key, embeds, business=business)
        self.set_page(path, html, headers={"Content-Security-Policy": host_page_csp(platform_url)})

    def close(self) -> None:
        """Stops serving and frees the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> HostSite:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
