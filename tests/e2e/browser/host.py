"""Host pages for the browser tests: what a business's own site (or somebody else's) serves around the
widget, on a 127.0.0.1 port of its own (tools/stack/demo_site.py's HostSite), hence an origin other
than the platform's. `widget_page()` and `forger_page()` write pages with the test's own scripts
inline (these pages send no CSP); the demo site's page (`HostSite.set_host_page`) is the strict one.
"""

from __future__ import annotations

import html
import json

from tools.stack.demo_site import HostSite

# The DOM events the loader re-emits on the host element; the host page records every one it sees.
HOST_EVENTS = ("mais:ready", "mais:date-selected", "mais:checkout-started", "mais:booked")


def serve(site: HostSite, path: str, page: str) -> str:
    """Serves `page` at `path` of `site` from now on; returns its URL."""
    site.set_page(path, page)
    return site.url + path


def widget_page(platform_url: str, public_key: str, *, button: bool = False, extra: str = "") -> str:
    """A business's page embedding the widget inline (or, with `button`, as a button opening a dialog),
    with the snippet of the README. It records the widget's DOM events in `window.maisEvents` (this
    page's) and in sessionStorage `maisEvents` (every visit of the tab)."""
    # Also kept in the tab's sessionStorage (the host's own, not the widget's), so that what the page
    # heard before the tab went to Checkout can be read when the couple comes back.
    recorder = (
        "window.maisEvents = [];"
        f"for (const type of {json.dumps(HOST_EVENTS)}) document.addEventListener(type, (event) => {{"
        " const seen = {type, detail: event.detail, target: event.target.id || ''};"
        " window.maisEvents.push(seen);"
        " const kept = JSON.parse(sessionStorage.getItem('maisEvents') || '[]');"
        " sessionStorage.setItem('maisEvents', JSON.stringify([...kept, seen])); });"
    )
    host = (
        '<button type="button" id="book-button" data-mais-button>Check our dates</button>'
        if button
        else '<div id="booking" data-mais-booking></div>'
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Our weddings</title><script>{recorder}</script></head>"
        "<body><main><h1>Weddings at the old farm</h1>"
        f"<p>Pick your day below.</p>{host}{extra}</main>"
        f'<script src="{html.escape(platform_url)}/widget/v1/mais.js"'
        f' data-tenant-key="{html.escape(public_key)}" async></script>'
        "</body></html>"
    )


def forger_page(parent_origin: str) -> str:
    """A page of a foreign origin, framed by the host page beside the widget. On the host page's word
    (`{forge: {...}}`) it posts protocol messages, well-formed down to the widget's id, to the host page
    (where the loader must ignore them: wrong origin, wrong window) and to the widget's frame (where the
    app must ignore them: wrong origin, not its parent), then `{forgeryDone: true}` to both, so that
    the test knows the forgeries were handled before it looks."""
    script = f"""
const parentOrigin = {json.dumps(parent_origin)};
window.addEventListener("message", (event) => {{
  if (event.origin !== parentOrigin || !event.data || !event.data.forge) return;
  const {{widget, platformOrigin, frameIndex, navigateTo}} = event.data.forge;
  const forged = (type, detail) => ({{mais: 1, widget, type, detail}});
  const toLoader = [
    forged("resize", {{height: 4321}}),
    forged("navigate", {{url: navigateTo}}),
    forged("ready", {{tenant: "Forged"}}),
    forged("date-selected", {{date: "2031-01-01", packageId: "forged"}}),
    forged("checkout-started", {{bookingId: "forged", expiresAt: "", totalCents: 1, currency: "usd"}}),
    forged("booked", {{bookingId: "forged", eventDate: "2031-01-01"}}),
  ];
  for (const message of toLoader) parent.postMessage(message, parentOrigin);
  const widgetWindow = parent.frames[frameIndex];
  for (const message of [forged("opened", {{}}), forged("closed", {{}})]) {{
    widgetWindow.postMessage(message, platformOrigin);
  }}
  widgetWindow.postMessage({{forgeryDone: true}}, platformOrigin);
  parent.postMessage({{forgeryDone: true}}, parentOrigin);
}});
"""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>An advert</title></head>'
        f"<body><p>An advert from another site.</p><script>{script}</script></body></html>"
    )
