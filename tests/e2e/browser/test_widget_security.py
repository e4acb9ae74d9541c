"""The browser enforces what the platform asks: a site the business does not list cannot frame the
widget, and messages from any other origin or window are ignored by the loader and by the app."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.browser.conftest import Shop
from tests.e2e.browser.host import forger_page, serve, widget_page
from tests.e2e.browser.pages import WIDGET_IFRAME, host_events, step_heading, widget_frame
from tools.stack.demo_site import HostSite
from tools.stack.launcher import Stack


def test_a_site_the_business_does_not_list_cannot_frame_the_widget(
    page: Page, stack: Stack, shop: Shop, foreign_site: HostSite
) -> None:
    url = serve(foreign_site, "/copycat", widget_page(stack.url, shop.tenant.public_key))
    with page.expect_console_message(lambda m: "frame-ancestors" in m.text) as refused:
        page.goto(url)
    # Chromium's words: "Framing '<platform>/' violates the following Content Security Policy directive:
    # "frame-ancestors 'self' <the shop's origins>". The request has been blocked."
    said = refused.value.text
    assert "blocked" in said or "Refused" in said, said
    assert shop_origin_listed(said, foreign_site.origin) is False, said
    iframe = page.locator(WIDGET_IFRAME)
    expect(iframe).to_have_count(1)
    handle = iframe.element_handle()
    assert handle is not None
    frame = handle.content_frame()
    # Chromium puts its own error document in the frame: none of the app's markup, no event.
    assert frame is None or frame.url.startswith("chrome-error:") or frame.locator("main").count() == 0
    assert host_events(page) == []


def shop_origin_listed(message: str, origin: str) -> bool:
    """Whether the refused directive quoted in `message` names `origin`."""
    directive = message.split("frame-ancestors", 1)[1].split('"', 1)[0]
    return origin in directive.split()


def test_messages_from_a_foreign_origin_are_ignored_by_the_loader_and_by_the_app(
    page: Page, stack: Stack, shop: Shop, host_site: HostSite, foreign_site: HostSite
) -> None:
    """An advert framed by the business's page (another origin) knows the widget's id and posts the
    protocol's messages, well-formed, to the page and to the widget's frame. The loader must not
    resize, navigate or re-emit anything; the app must not react. Then the business's page itself
    posts the same `opened` to the app, which does react: the check above was not vacuous."""
    forger = serve(foreign_site, "/advert", forger_page(host_site.origin))
    advert = f'<iframe id="advert" title="Advert" src="{forger}" width="300" height="80"></iframe>'
    url = serve(host_site, "/with-advert", widget_page(stack.url, shop.tenant.public_key, extra=advert))
    page.goto(url)
    app = widget_frame(page)
    expect(step_heading(app, "Choose a package")).to_be_visible()
    advert_frame = page.frame_locator("#advert")
    expect(advert_frame.get_by_text("An advert from another site.")).to_be_visible()
    app.evaluate("() => document.activeElement && document.activeElement.blur()")
    before = page.evaluate(
        f"""() => {{
            const iframe = document.querySelector("{WIDGET_IFRAME}");
            return {{height: iframe.getBoundingClientRect().height, title: iframe.title,
                     events: window.maisEvents.length}};
        }}"""
    )
    assert before["height"] != 4321
    # The app's side: a listener after the app's own hears the end marker once the app had its turn.
    app.evaluate(
        """() => { window.forgeryDone = false; window.addEventListener("message", (event) => {
            if (event.data && event.data.forgeryDone) window.forgeryDone = true; }); }"""
    )
    page.evaluate(
        f"""([platformOrigin, navigateTo]) => new Promise((done) => {{
            window.addEventListener("message", (event) => {{
                if (event.data && event.data.forgeryDone) done();
            }});
            const iframe = document.querySelector("{WIDGET_IFRAME}");
            const widget = new URL(iframe.src).searchParams.get("widget");
            const frameIndex = Array.from({{length: window.frames.length}}, (_, n) => window.frames[n])
                .indexOf(iframe.contentWindow);
            document.getElementById("advert").contentWindow.postMessage(
                {{forge: {{widget, platformOrigin, frameIndex, navigateTo}}}}, "{foreign_site.origin}");
        }})""",
        [stack.url, foreign_site.origin + "/forged-checkout"],
    )
    app.wait_for_function("() => window.forgeryDone === true")

    after = page.evaluate(
        f"""() => {{
            const iframe = document.querySelector("{WIDGET_IFRAME}");
            return {{height: iframe.getBoundingClientRect().height, title: iframe.title,
                     events: window.maisEvents.length}};
        }}"""
    )
    assert after == before, (before, after)
    assert page.url == url
    assert all(e["detail"].get("tenant") != "Forged" for e in host_events(page))
    assert app.evaluate("() => document.activeElement === document.body || !document.activeElement")

    # The same message from the app's real parent (the business's page) is heard.
    page.evaluate(
        f"""(platformOrigin) => {{
            const iframe = document.querySelector("{WIDGET_IFRAME}");
            const widget = new URL(iframe.src).searchParams.get("widget");
            const opened = {{mais: 1, widget, type: "opened", detail: {{}}}};
            iframe.contentWindow.postMessage(opened, platformOrigin);
        }}""",
        stack.url,
    )
    app.wait_for_function("() => document.activeElement && document.activeElement !== document.body")
