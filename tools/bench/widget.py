"""The widget's measurements of `make bench`: what a couple's browser downloads for the widget's first
view, how long headless Chromium takes to show it, and the public reads the widget makes, as load.

Chromium is Debian's (/usr/bin/chromium, never one a test tool downloads), headless, driven by
Playwright; every page comes from 127.0.0.1 (the stack, and a host page on another port as a business's
own site), every run is bounded in count and every wait in time.
"""

from __future__ import annotations

import datetime as dt
import statistics
import time
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

import httpx

from tools.bench.loadgen import build_request, run_load
from tools.bench.report import Report
from tools.chromium import CHROMIUM, launch
from tools.stack.demo_site import Embed, HostSite
from tools.stack.launcher import Stack

SECTION_WEIGHT = "widget page weight (first view)"
SECTION_RENDER = "widget first render (headless Chromium)"
SECTION_READS = "widget-like public reads (32 conns)"
CONNECTIONS = 32
# The size budgets the build checks (web/scripts/check-size.mjs): the weight's ceilings.
LOADER_BUDGET = 3 * 1024
APP_JS_BUDGET = 60 * 1024
# Every navigation and wait of a browser run.
WAIT_MS = 20_000
MAX_RENDER_RUNS = 30
# Marks, in every frame, the moment (epoch ms, comparable across frames) the booking app first shows
# its packages and its calendar grid; the host page's navigation start is its performance.timeOrigin.
MARKS_SCRIPT = """
(() => {
  const marks = (window.__maisMarks = {});
  const now = () => performance.timeOrigin + performance.now();
  const look = () => {
    if (!marks.packages && document.querySelector("input[type=radio][name=package]")) marks.packages = now();
    // The calendar with its availability in (the app marks the grid aria-busy while it loads).
    if (!marks.grid && document.querySelector("[role=grid]:not([aria-busy=true]) [role=gridcell]")) {
      marks.grid = now();
    }
  };
  new MutationObserver(look).observe(document, {childList: true, subtree: true, attributes: true});
})();
"""


def allow_origin(stack: Stack, public_key: str, admin_token: str, origin: str) -> None:
    """The tenant's widget may be framed by `origin`, once every gateway says so in the frame's CSP
    (a gateway keeps what it knows of a tenant for a few seconds)."""
    answer = httpx.patch(
        f"{stack.url}/v1/tenant-admin/settings",
        json={"allowedOrigins": [origin]},
        headers={"Authorization": f"Bearer {admin_token}"},
        timeout=30,
        trust_env=False,
    )
    answer.raise_for_status()
    frame = f"{stack.url}/widget/v1/frame"
    deadline = time.monotonic() + 30
    with httpx.Client(timeout=10, trust_env=False) as http:
        # Several answers in a row, since Envoy spreads them over the gateways.
        while sum(origin in _frame_csp(http, frame, public_key, origin) for _ in range(4)) < 4:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the frame's CSP never named {origin}")
            time.sleep(0.2)


def _frame_csp(http: httpx.Client, frame: str, public_key: str, origin: str) -> str:
    answer = http.get(frame, params={"key": public_key, "origin": origin, "widget": "bench"})
    return str(answer.headers.get("content-security-policy", ""))


def _kind(url: str, platform: str) -> str:
    """What a request of the widget's first view is, by its URL."""
    if not url.startswith(platform):
        return "host page"
    path = urlsplit(url).path
    if path == "/widget/v1/mais.js":
        return "loader"
    if path.startswith(("/widget/v1/frame", "/book/")):
        return "frame HTML"
    if path.startswith("/assets/") and path.endswith(".js"):
        return "app JS"
    if path.startswith("/assets/") and path.endswith(".css"):
        return "app CSS"
    if path.startswith("/v1/"):
        return "API answers"
    return "other"


def _open_calendar(app: Any) -> None:
    """What a couple does first: the first package, then "Choose a date"; until the grid shows."""
    app.locator("input[type=radio][name=package]").first.check(timeout=WAIT_MS)
    app.get_by_role("button", name="Choose a date", exact=True).click(timeout=WAIT_MS)
    app.locator("[role=grid]:not([aria-busy=true]) [role=gridcell]").first.wait_for(timeout=WAIT_MS)


def _widget_frame(page: Any) -> Any:
    iframe = page.locator("iframe[src*='/widget/v1/frame']")
    iframe.wait_for(timeout=WAIT_MS)
    handle = iframe.element_handle(timeout=WAIT_MS)
    frame = handle.content_frame() if handle is not None else None
    if frame is None:
        raise RuntimeError("the widget's iframe has no document")
    return frame


def widget_in_browser(
    stack: Stack, public_key: str, slug: str, admin_token: str, report: Report, runs: int
) -> None:
    """Page weight of the widget's first view on a host page (bytes on the wire as Chromium counts them,
    gzip as it asks, per kind of file), then time to first render over `runs` cold runs, via the
    loader on a host page and standalone at /book/{slug}."""
    if not CHROMIUM.exists():
        report.note(f"widget browser figures skipped: {CHROMIUM} is missing (make bench installs it)")
        return
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    runs = min(max(runs, 1), MAX_RENDER_RUNS)
    with HostSite(port=0) as site, sync_playwright() as driver:
        # The demo site's page (the README's snippet, the host's strict CSP) with one inline widget.
        site.set_host_page("/venue", stack.url, public_key, (Embed("inline"),))
        origin = site.origin
        allow_origin(stack, public_key, admin_token, origin)
        browser = launch(driver)
        try:
            _page_weight(browser, stack.url, f"{origin}/venue", report)
            _first_render(browser, stack.url, f"{origin}/venue", f"{stack.url}/book/{slug}", report, runs)
        except (PlaywrightError, RuntimeError, KeyError, TypeError) as error:
            # The other figures of the run still count; this one says why it is missing.
            report.note(f"widget browser figures incomplete: {str(error).splitlines()[0]}")
        finally:
            browser.close()


def _page_weight(browser: Any, platform: str, url: str, report: Report) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    wire: Counter[str] = Counter()
    body: Counter[str] = Counter()
    decoded: Counter[str] = Counter()
    count: Counter[str] = Counter()
    encodings: Counter[str] = Counter()

    def finished(request: Any) -> None:
        kind = _kind(request.url, platform)
        sizes = request.sizes()
        wire[kind] += sizes["responseBodySize"] + sizes["responseHeadersSize"]
        body[kind] += sizes["responseBodySize"]
        count[kind] += 1
        response = request.response()
        if response is not None:
            decoded[kind] += len(response.body())
            if kind != "host page":
                encodings[response.headers.get("content-encoding", "identity")] += 1

    context.on("requestfinished", finished)
    try:
        page = context.new_page()
        page.goto(url, timeout=WAIT_MS)
        _open_calendar(_widget_frame(page))
        page.wait_for_load_state("networkidle", timeout=WAIT_MS)
    finally:
        # A request that finishes while the context closes has no body left to read.
        context.remove_listener("requestfinished", finished)
        context.close()
    widget = [k for k in wire if k != "host page"]
    for kind in ("loader", "frame HTML", "app JS", "app CSS", "API answers", "other"):
        if count[kind]:
            report.add(
                SECTION_WEIGHT,
                kind,
                f"{wire[kind] / 1024:,.1f} KiB on the wire, headers included, in {count[kind]} "
                f"response(s) ({decoded[kind] / 1024:,.1f} KiB of body decoded)",
            )
    total = sum(wire[k] for k in widget)
    report.add(
        SECTION_WEIGHT,
        "whole widget, up to the calendar",
        f"{total / 1024:,.1f} KiB on the wire, {sum(count[k] for k in widget)} requests "
        f"(content-encodings: {dict(encodings)})",
    )
    report.add(
        SECTION_WEIGHT,
        "loader / 3 KiB budget; app JS / 60 KiB budget",
        f"{body['loader'] / LOADER_BUDGET:.0%}; {body['app JS'] / APP_JS_BUDGET:.0%} "
        f"(gzip bodies: {body['loader']:,} B and {body['app JS']:,} B)",
    )


def _first_render(
    browser: Any, platform: str, host_url: str, standalone_url: str, report: Report, runs: int
) -> None:
    """Cold runs (a new context each: empty cache): navigation start → the packages shown, and →
    the calendar grid shown once a package is chosen (the automation's two clicks included)."""
    figures: dict[str, list[float]] = {}
    floor: list[float] = []
    for _ in range(runs):
        for label, url, framed in (
            ("via the loader", host_url, True),
            ("standalone /book/{slug}", standalone_url, False),
        ):
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            context.add_init_script(MARKS_SCRIPT)
            try:
                page = context.new_page()
                page.goto(url, timeout=WAIT_MS)
                app = _widget_frame(page) if framed else page
                # The package radios may be drawn as cards (the input itself visually hidden).
                app.locator("input[type=radio][name=package]").first.wait_for(
                    state="attached", timeout=WAIT_MS
                )
                _open_calendar(app)
                start = page.evaluate("() => performance.timeOrigin")
                marks = app.evaluate("() => window.__maisMarks")
                figures.setdefault(f"{label}: packages shown", []).append(marks["packages"] - start)
                figures.setdefault(f"{label}: calendar with its free days", []).append(marks["grid"] - start)
            finally:
                context.close()
        # The floor: the same browser loading one small answer of the same gateway.
        context = browser.new_context()
        try:
            page = context.new_page()
            page.goto(f"{platform}/health", timeout=WAIT_MS, wait_until="load")
            floor.append(page.evaluate("() => performance.now()"))
        finally:
            context.close()
    bare = statistics.median(floor)
    report.add(
        SECTION_RENDER, "ceiling: a bare gateway answer loaded", f"median {bare:,.0f} ms over {runs} runs"
    )
    for label, values in figures.items():
        median = statistics.median(values)
        report.add(
            SECTION_RENDER,
            label,
            f"median {median:,.0f} ms (min {min(values):,.0f}, max {max(values):,.0f}; {runs} cold runs; "
            f"{median / bare:,.1f}x the bare answer)"
            if bare
            else f"median {median:,.0f} ms",
        )


def _month_bounds(first: dt.date) -> tuple[str, str]:
    following = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return first.isoformat(), (following - dt.timedelta(days=1)).isoformat()


def visitor_requests(public_keys: list[str], today: dt.date) -> list[list[bytes]]:
    """What one visitor's widget asks for, per tenant (web/src/shared/api.ts): the business, its
    packages, and the calendar of this month and of the next (the couple looks one month ahead)."""
    this_month = today.replace(day=1)
    next_month = (this_month + dt.timedelta(days=32)).replace(day=1)
    visits = []
    for key in public_keys:
        headers = {"X-Tenant-Key": key, "Accept": "application/json"}
        calendar = [
            build_request("GET", f"/v1/availability/calendar?from={start}&to={end}", headers)
            for start, end in (_month_bounds(this_month), _month_bounds(next_month))
        ]
        visits.append(
            [
                build_request("GET", "/v1/tenant", headers),
                build_request("GET", "/v1/packages?limit=100", headers),
                *calendar,
            ]
        )
    return visits


async def widget_reads(stack: Stack, public_keys: list[str], report: Report, seconds: float) -> None:
    """Simulated visitors, each making the widget's four public reads in order, spread over every
    tenant, through Envoy at CONNECTIONS connections."""
    visits = visitor_requests(public_keys, dt.date.today())
    per_visit = len(visits[0])

    def pick(n: int) -> bytes:
        visit = visits[(n // per_visit) % len(visits)]
        return visit[n % per_visit]

    await run_load("warm-up", stack.ports.public, pick, connections=8, total=400)
    result = await run_load(
        "GET tenant + packages + 2 calendar months",
        stack.ports.public,
        pick,
        connections=CONNECTIONS,
        seconds=seconds,
    )
    report.load(SECTION_READS, result)
    report.add(
        SECTION_READS,
        "visitors served",
        f"{result.rate / per_visit:,.0f} visitors/s ({per_visit} reads each)",
    )
    if report.ceiling_rate:
        report.add(SECTION_READS, "reads / envoy ceiling", f"{result.rate / report.ceiling_rate:.1%}")
