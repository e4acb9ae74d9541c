"""Browser suites: real Chromium (Debian's, never one a test tool downloads) against the e2e session's
stack, on host pages served from other 127.0.0.1 ports, as a business's own site would embed the widget.

One browser per test session, a fresh context per test (no cookies, cache or storage shared between
tests), one shared shop (a tenant with two packages, an add-on and a blackout) whose tests each book
their own date, and host sites: one on an origin the shop allows, one on an origin it does not.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright

from tests.e2e.conftest import MakeTenant, TenantHandle, eventually
from tools.chromium import CHROMIUM, launch
from tools.stack.demo_site import HostSite
from tools.stack.launcher import Stack

ROOT = Path(__file__).resolve().parents[3]
BUILT_WEB = ROOT / "build" / "web"
DESKTOP = {"width": 1280, "height": 800}
MOBILE = {"width": 360, "height": 740}
# Every wait of these suites is bounded: Playwright's actions and expectations, and navigations.
ACTION_TIMEOUT_MS = 15_000
NAVIGATION_TIMEOUT_MS = 20_000
expect.set_options(timeout=10_000)

# The browsers' locale and time zone: a couple west of UTC (the tenant's time zone) is where a date
# handled as a UTC instant shows as the day before.
LOCALE = "en-US"
TIMEZONE = "America/New_York"

BUSINESS_NAME = "Willow & Vine Weddings"
PACKAGES = (
    # (slug, title, description, price in cents)
    ("garden-day", "Garden day", "Ceremony and reception in the walled garden.", 450_000),
    ("barn-weekend", "Barn weekend", "Friday to Sunday in the old barn, for up to 120 guests.", 780_000),
)
ADD_ON = ("second-photographer", "Second photographer", 40_000)
# Dates booked by the tests start this far ahead: past the couple's cancellation window (14 days by
# default), so that a booking made here can be cancelled by its couple with a full refund.
FIRST_DAY_AHEAD = 40


@dataclass
class Shop:
    """The shared tenant the browser tests book with."""

    tenant: TenantHandle
    name: str
    packages: dict[str, dict[str, Any]]  # by title: id, priceCents
    add_on: dict[str, Any]  # id, title, priceCents
    blackout: dt.date
    dates: Iterator[dt.date]

    def next_date(self) -> dt.date:
        """A date no other test of the session books."""
        return next(self.dates)


def _require_built() -> None:
    """The suites test the real thing: a missing browser or front-end build fails, it never skips."""
    problems = []
    if not CHROMIUM.exists():
        problems.append(f"{CHROMIUM} is missing (`make test` installs Debian's chromium package)")
    for needed in (BUILT_WEB / "index.html", BUILT_WEB / "widget" / "v1" / "mais.js"):
        if not needed.exists():
            problems.append(f"{needed.relative_to(ROOT)} is missing (`make web` builds it)")
    if problems:
        pytest.fail("browser tests cannot run: " + "; ".join(problems), pytrace=False)


@pytest.fixture(scope="package")
def playwright_driver(stack: Stack) -> Iterator[Playwright]:
    """Playwright's driver, for this package's tests only: while it runs, its event loop counts as
    the thread's running loop, so asyncio.run (the stack's start, other suites' helpers) would fail.
    The stack therefore starts first, and the driver stops when the browser suites are done."""
    _require_built()
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="package")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    """The one Chromium of the browser suites."""
    running = launch(playwright_driver)
    yield running
    running.close()


NewPage = Callable[..., Page]


@pytest.fixture
def new_page(browser: Browser) -> Iterator[NewPage]:
    """A factory: `new_page(width=1280, height=800)` gives a page in a context of its own (closed after
    the test). Console messages of every frame are kept on `page.console_lines` for assertions."""
    contexts: list[BrowserContext] = []

    def make(width: int = DESKTOP["width"], height: int = DESKTOP["height"], **options: Any) -> Page:
        context = browser.new_context(
            viewport={"width": width, "height": height}, locale=LOCALE, timezone_id=TIMEZONE, **options
        )
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        lines: list[str] = []
        page.on("console", lambda message: lines.append(f"{message.type}: {message.text}"))
        page.on("pageerror", lambda error: lines.append(f"pageerror: {error}"))
        page.console_lines = lines  # type: ignore[attr-defined]
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page: NewPage) -> Page:
    """A desktop-sized page (1280x800)."""
    return new_page()


@pytest.fixture(scope="session")
def host_site() -> Iterator[HostSite]:
    """The business's own site, on an origin the shop allows."""
    with HostSite(port=0) as site:
        yield site


@pytest.fixture(scope="session")
def foreign_site() -> Iterator[HostSite]:
    """Somebody else's site, on an origin the shop does not allow."""
    with HostSite(port=0) as site:
        yield site


def _admin(
    stack: Stack, tenant: TenantHandle, method: str, path: str, body: dict[str, Any]
) -> dict[str, Any]:
    with httpx.Client(base_url=stack.url, timeout=10.0) as client:
        answer = client.request(method, path, json=body, headers=tenant.admin_headers())
    assert answer.status_code in (200, 201), f"{method} {path}: {answer.status_code} {answer.text}"
    return dict(answer.json())


def frame_allows(stack: Stack, tenant: TenantHandle, origin: str) -> None:
    """Waits (bounded) until every gateway's frame CSP names `origin`: a gateway keeps what it knows
    of a tenant for a moment, and Envoy spreads requests over both."""
    ok = eventually(
        lambda: all(
            origin
            in httpx.get(
                f"{stack.url}/widget/v1/frame",
                params={"key": tenant.public_key, "origin": origin, "widget": "probe"},
                timeout=10,
            ).headers.get("content-security-policy", "")
            for _ in range(4)
        ),
        timeout=30,
    )
    assert ok, f"the widget's frame never allowed {origin}"


@pytest.fixture(scope="session")
def shop(stack: Stack, make_tenant: MakeTenant, host_site: HostSite) -> Shop:
    """A business that sells two packages and an add-on, with one blacked-out date, whose widget may be
    framed by `host_site` only. Set up through the tenant admin's API, as its owner would."""
    tenant = make_tenant("browser", name=BUSINESS_NAME)
    _admin(
        stack,
        tenant,
        "PATCH",
        "/v1/tenant-admin/settings",
        {
            "allowedOrigins": [host_site.origin],
            "branding": {"primaryColor": "#7b2d43"},
            # Every browser of the suite books from 127.0.0.1; the per-address bound of live holds would
            # stop the suite after a few unpaid checkouts.
            "policy": {"maxLiveHoldsPerAddress": 100},
        },
    )
    packages = {}
    for n, (slug, title, description, price) in enumerate(PACKAGES):
        made = _admin(
            stack,
            tenant,
            "POST",
            "/v1/tenant-admin/packages",
            {"slug": slug, "title": title, "description": description, "priceCents": price, "sortOrder": n},
        )
        packages[title] = {"id": made["id"], "priceCents": price}
    slug, title, price = ADD_ON
    add_on = _admin(
        stack,
        tenant,
        "POST",
        "/v1/tenant-admin/add-ons",
        {
            "slug": slug,
            "title": title,
            "priceCents": price,
            "packageIds": [p["id"] for p in packages.values()],
        },
    )
    today = dt.date.today()
    blackout = today + dt.timedelta(days=FIRST_DAY_AHEAD - 1)
    _admin(
        stack,
        tenant,
        "POST",
        "/v1/tenant-admin/blackouts",
        {"date": blackout.isoformat(), "reason": "closed"},
    )
    frame_allows(stack, tenant, host_site.origin)
    dates = (today + dt.timedelta(days=FIRST_DAY_AHEAD + n) for n in itertools.count())
    return Shop(
        tenant=tenant,
        name=BUSINESS_NAME,
        packages=packages,
        add_on={"id": add_on["id"], "title": title, "priceCents": price},
        blackout=blackout,
        dates=dates,
    )


_couples = itertools.count(1)


def couple_email() -> str:
    """An address no other booking of the session uses (the live-hold bound per email is per address)."""
    return f"couple{next(_couples)}-{os.getpid()}@browser.example"
