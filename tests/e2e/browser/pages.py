"""What the browser tests do and check on the couple's pages, by the UI contract's accessible names
(helpers/brief: "The UI contract"): the booking app's steps, axe-core, and screenshots.

An `App` is where the booking app runs: the widget's iframe (a Playwright `Frame`) or a standalone page
(a `Page`); both answer the same locators.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

from playwright.sync_api import Frame, Locator, Page, expect

from tests.e2e.conftest import eventually, mails_to
from tools.stack.launcher import Stack

ROOT = Path(__file__).resolve().parents[3]
AXE_SOURCE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "build" / "artifacts" / "screenshots"
MANAGE_LINK = re.compile(r"https?://[^\s\"'<>]+/booking/[A-Za-z0-9_-]+\?token=[^\s\"'<>]+")
WIDGET_IFRAME = "iframe[src*='/widget/v1/frame']"
# The done page polls for the webhook's confirmation (every second, up to about a minute).
CONFIRMATION_TIMEOUT_MS = 30_000

App = Page | Frame


# --- axe-core --------------------------------------------------------------------------------------

_axe_source: str | None = None


def assert_accessible(target: App, what: str, *, frames: bool = False) -> None:
    """axe-core (web/node_modules) finds no violation of impact serious or critical in `target`'s
    document. Evaluated through the driver, which the pages' CSP does not apply to. A host page is
    checked without its frames (`frames=False`): the widget's frame is checked in its own document."""
    global _axe_source
    if _axe_source is None:
        assert AXE_SOURCE.exists(), f"{AXE_SOURCE} is missing (`make web` installs web/node_modules)"
        _axe_source = AXE_SOURCE.read_text()
    if not target.evaluate("() => typeof window.axe === 'object'"):
        target.evaluate(_axe_source)
    violations: list[dict[str, Any]] = target.evaluate(
        """async (frames) => {
            const result = await window.axe.run(document, {resultTypes: ["violations"], iframes: frames});
            return result.violations
                .filter((v) => v.impact === "serious" || v.impact === "critical")
                .map((v) => ({id: v.id, impact: v.impact, help: v.help, url: v.helpUrl,
                    nodes: v.nodes.slice(0, 5).map((n) => ({target: n.target.join(" "),
                        html: n.html.slice(0, 200), summary: n.failureSummary}))}));
        }""",
        frames,
    )
    if violations:
        lines = [f"axe-core: {len(violations)} serious or critical violation(s) on {what}:"]
        for v in violations:
            lines.append(f"- [{v['impact']}] {v['id']}: {v['help']} ({v['url']})")
            for node in v["nodes"]:
                lines.append(f"    at {node['target']}: {node['html']}")
                lines.append("      " + str(node["summary"]).replace("\n", "\n      "))
        raise AssertionError("\n".join(lines))


# --- screenshots -----------------------------------------------------------------------------------


def settle(page: Page) -> None:
    """Two animation frames: a resize and the widget's answering resize message have been painted."""
    page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")


def screenshots(page: Page, name: str) -> None:
    """Keeps the page as it is now at 360 px and 1280 px wide (build/artifacts/screenshots/, whole
    page), then gives the page its own size back."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    assert size is not None
    for width in (360, 1280):
        page.set_viewport_size({"width": width, "height": size["height"]})
        settle(page)
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size(size)
    settle(page)


def check_page(page: Page, app: App, name: str) -> None:
    """axe on the app's document (and on the host page when the app is framed) and the screenshots."""
    assert_accessible(app, name)
    if app is not page:
        assert_accessible(page, f"{name} (the host page)")
    screenshots(page, name)


# --- the widget on a host page ---------------------------------------------------------------------


def widget_frame(page: Page, selector: str = WIDGET_IFRAME) -> Frame:
    """The booking app's frame on a host page, once the loader made it and the app shows itself."""
    iframe = page.locator(selector)
    expect(iframe).to_have_count(1)
    handle = iframe.element_handle()
    assert handle is not None
    frame = handle.content_frame()
    assert frame is not None, "the widget's iframe has no document"
    expect(frame.locator("main")).to_be_visible()
    return frame


def host_events(page: Page, type_: str | None = None, *, tab: bool = False) -> list[dict[str, Any]]:
    """The widget's DOM events the host page recorded (see host.widget_page): on this page, or with
    `tab` on every visit of the tab's host pages."""
    script = (
        "() => JSON.parse(sessionStorage.getItem('maisEvents') || '[]')" if tab else "() => window.maisEvents"
    )
    events: list[dict[str, Any]] = page.evaluate(script)
    return [e for e in events if type_ is None or e["type"] == type_]


# --- dates and amounts as the app writes them --------------------------------------------------------


def day_label(app: App, date: dt.date) -> str:
    """The contract's day label: toLocaleDateString with weekday, day, month and year, in the
    browser's locale ("Saturday, December 12, 2026" in en-US)."""
    return str(
        app.evaluate(
            """([y, m, d]) => new Date(y, m - 1, d).toLocaleDateString(undefined,
                {weekday: "long", day: "numeric", month: "long", year: "numeric"})""",
            [date.year, date.month, date.day],
        )
    )


def month_label(app: App, date: dt.date) -> str:
    """The calendar heading of `date`'s month ("December 2026")."""
    return str(
        app.evaluate(
            """([y, m]) => new Date(y, m - 1, 1).toLocaleDateString(undefined,
                {month: "long", year: "numeric"})""",
            [date.year, date.month],
        )
    )


def money(app: App, cents: int, currency: str = "usd") -> str:
    """An amount as Intl writes it in the browser's locale ("$1,234.00")."""
    return str(
        app.evaluate(
            """([cents, currency]) => new Intl.NumberFormat(undefined,
                {style: "currency", currency: currency.toUpperCase()}).format(cents / 100)""",
            [cents, currency],
        )
    )


def date_of_label(app: App, label: str) -> dt.date | None:
    """The date a day button's label names (searched from 60 days back to 800 ahead)."""
    found = app.evaluate(
        """(label) => {
            const options = {weekday: "long", day: "numeric", month: "long", year: "numeric"};
            const today = new Date();
            for (let n = -60; n < 800; n++) {
                const day = new Date(today.getFullYear(), today.getMonth(), today.getDate() + n);
                const text = day.toLocaleDateString(undefined, options);
                if (label === text || label.startsWith(text + ",")) {
                    return [day.getFullYear(), day.getMonth() + 1, day.getDate()];
                }
            }
            return null;
        }""",
        label,
    )
    return dt.date(*found) if found else None


# --- the steps ---------------------------------------------------------------------------------------


def step_heading(app: App, name: str) -> Locator:
    return app.get_by_role("heading", name=name, exact=True)


def total(app: App) -> Locator:
    """The live total (role=status, "Total: $1,234.00")."""
    return app.get_by_role("status").filter(has_text="Total:")


def choose_package(app: App, title: str, add_on: str | None = None) -> None:
    """Step 1 with the mouse: the package, its add-on, then "Choose a date"."""
    expect(step_heading(app, "Choose a package")).to_be_visible()
    app.get_by_role("radio", name=title).check()
    if add_on is not None:
        app.get_by_role("checkbox", name=add_on).check()
    app.get_by_role("button", name="Choose a date", exact=True).click()
    expect(step_heading(app, "Choose a date")).to_be_focused()


def calendar_heading(app: App) -> Locator:
    """The calendar's month heading (the element that labels the grid)."""
    grid = app.get_by_role("grid")
    expect(grid).to_be_visible()
    heading_id = grid.get_attribute("aria-labelledby")
    assert heading_id, "the calendar grid is not labelled by its month heading"
    return app.locator(f"[id='{heading_id}']")


def calendar_loaded(app: App) -> None:
    """The shown month's availability has arrived (the grid is no longer aria-busy): until then the
    app cannot know which days are free, and a day chosen then is not taken."""
    expect(app.get_by_role("grid")).not_to_have_attribute("aria-busy", "true")


def show_month(app: App, date: dt.date) -> None:
    """Moves the calendar forward with "Next month" until it shows `date`'s month (at most 25 months)."""
    wanted = month_label(app, date)
    for _ in range(25):
        heading = calendar_heading(app)
        shown = heading.inner_text()
        if shown == wanted:
            calendar_loaded(app)
            return
        app.get_by_role("button", name="Next month", exact=True).click()
        expect(heading).not_to_have_text(shown)
    raise AssertionError(f"the calendar never showed {wanted}")


def day_button(app: App, date: dt.date) -> Locator:
    """The day's button in the calendar grid (its label may go on with ", unavailable: <reason>")."""
    label = day_label(app, date)
    return app.get_by_role("gridcell").get_by_role("button", name=re.compile("^" + re.escape(label)))


def expect_unavailable(app: App, date: dt.date, reason: str) -> None:
    """The day is marked unavailable with its reason, and disabled for assistive technology."""
    show_month(app, date)
    day = day_button(app, date)
    expect(day).to_have_attribute("aria-label", f"{day_label(app, date)}, unavailable: {reason}")
    expect(day).to_have_attribute("aria-disabled", "true")


def choose_date(app: App, date: dt.date) -> None:
    """Step 2 with the mouse: the day, then "Continue"."""
    show_month(app, date)
    day = day_button(app, date)
    expect(day).to_have_attribute("aria-label", day_label(app, date))
    day.click()
    expect(day).to_have_attribute("aria-pressed", "true")
    expect(app.get_by_text(f"Selected: {day_label(app, date)}")).to_be_visible()
    app.get_by_role("button", name="Continue", exact=True).click()
    expect(step_heading(app, "Your details")).to_be_focused()


def fill_details(app: App, names: str, email: str, phone: str = "", notes: str = "") -> None:
    """Step 3's fields with the mouse and keyboard (not yet "Continue to payment")."""
    app.get_by_label("Your names", exact=True).fill(names)
    app.get_by_label("Email", exact=True).fill(email)
    if phone:
        app.get_by_label("Phone (optional)", exact=True).fill(phone)
    if notes:
        app.get_by_label("Notes (optional)", exact=True).fill(notes)


def continue_to_payment(app: App) -> Locator:
    return app.get_by_role("button", name="Continue to payment", exact=True)


def on_checkout(page: Page, sandbox_url: str) -> None:
    """The top window is on the sandbox's hosted Checkout page."""
    expect(page).to_have_url(re.compile("^" + re.escape(sandbox_url) + r"/pay/cs_"))
    expect(page.locator("#pay")).to_be_visible()


def session_id_of(page: Page) -> str:
    """The Checkout session's id, from the hosted page's URL."""
    return page.url.rstrip("/").rsplit("/", 1)[-1]


# --- the couple's email ----------------------------------------------------------------------------


def manage_link(stack: Stack, address: str, booking_id: str) -> str:
    """The couple's link in the confirmation email."""

    def find() -> str | None:
        for message in mails_to(stack, address):
            body = message.get_body(preferencelist=("plain", "html"))
            text = body.get_content() if body is not None else ""
            for link in MANAGE_LINK.findall(text):
                if f"/booking/{booking_id}?" in link:
                    return str(link)
        return None

    link = eventually(find, timeout=20)
    assert link, f"no confirmation email to {address} links to /booking/{booking_id}"
    return link


# --- the keyboard ------------------------------------------------------------------------------------


def focused(app: App) -> dict[str, Any]:
    """What has the keyboard focus in `app`'s document: tag, type, role, name (aria-label, the label,
    or the text), checked, id, and whether it is a day of the calendar."""
    return dict(
        app.evaluate(
            """() => {
                const el = document.activeElement;
                if (!el || el === document.body) return {tag: "body", name: "", focusIn: document.hasFocus()};
                const label = el.labels && el.labels.length ? el.labels[0].textContent : "";
                return {
                    tag: el.tagName.toLowerCase(), type: el.getAttribute("type") || "",
                    role: el.getAttribute("role") || "", id: el.id || "",
                    name: (el.getAttribute("aria-label") || label || el.textContent || "").trim(),
                    checked: !!el.checked, pressed: el.getAttribute("aria-pressed"),
                    inGrid: !!el.closest("[role=grid]"), focusIn: document.hasFocus(),
                };
            }"""
        )
    )


def tab_to(page: Page, app: App, wanted: Any, what: str, presses: int = 60) -> dict[str, Any]:
    """Presses Tab until `wanted(focused(app))` holds (at most `presses` times); returns the focused
    element's description."""
    seen = []
    for _ in range(presses):
        page.keyboard.press("Tab")
        now = focused(app)
        if wanted(now):
            return now
        seen.append(f"{now.get('tag')}:{now.get('name', '')[:40]}")
    raise AssertionError(f"Tab never reached {what}; went through: {seen}")


def arrow_to_day(page: Page, app: App, date: dt.date) -> None:
    """From the focused day of the calendar, arrow keys (+-1 and +-7 days) until `date` has the focus.
    After each key, the next day has the focus once the app has rendered (into another month, its
    days first) and moved it: the loop waits for that before it looks again."""
    for _ in range(150):
        now = focused(app)
        assert now.get("inGrid"), f"the focus is not on a day of the calendar: {now}"
        at = date_of_label(app, now["name"])
        assert at is not None, f"a day button's label names no date: {now['name']!r}"
        delta = (date - at).days
        if delta == 0:
            return
        if delta >= 7:
            page.keyboard.press("ArrowDown")
        elif delta <= -7:
            page.keyboard.press("ArrowUp")
        else:
            page.keyboard.press("ArrowRight" if delta > 0 else "ArrowLeft")
        app.wait_for_function(
            """(before) => {
                const el = document.activeElement;
                return !!el && !!el.closest("[role=grid]") && el.getAttribute("aria-label") !== before;
            }""",
            arg=now["name"],
            timeout=5_000,
        )
    raise AssertionError(f"the arrow keys never reached {date}")


def no_horizontal_scroll(app: App, what: str) -> None:
    """Nothing wider than the viewport (WCAG 1.4.10 reflow)."""
    widths = app.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], f"{what} scrolls sideways: {widths[0]} px of content in {widths[1]} px"
