// The loader on a host page (happy-dom): which iframe it makes, which messages it believes, what it
// tells the host page, and the popup dialog's keyboard and focus behaviour. Iframes load nothing in
// happy-dom, so each frame gets a stand-in window whose postMessage is recorded.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { HOST_EVENTS } from "../shared/messages";
import { createMais, findScript, MAX_HEIGHT, MIN_HEIGHT, platformOf, type MaisApi } from "./widget";

const PLATFORM = "https://platform.test";
const SCRIPT = `${PLATFORM}/widget/v1/mais.js`;

interface FakeWindow {
  postMessage: ReturnType<typeof vi.fn>;
}

let mais: MaisApi;
// happy-dom's page console is Node's own (not the test's): the "console" module's instance. A computed
// name keeps Node's types out of this browser project.
const pageConsole: Console = (await import(["node", "console"].join(":"))).default;

beforeEach(() => {
  // happy-dom loads no iframe or script and says so on the console: expected here, not news.
  // (It prints to Node's own console, not to the test's.)
  const error = pageConsole.error.bind(pageConsole);
  vi.spyOn(pageConsole, "error").mockImplementation((...args: unknown[]) => {
    if (!String(args[0]).includes("loading is disabled")) error(...args);
  });
  history.replaceState(null, "", "/weddings?from=ad");
  document.body.replaceChildren();
  mais = createMais(platformOf(SCRIPT), "pk_test_default");
});

afterEach(() => {
  document.body.replaceChildren();
  vi.restoreAllMocks();
});

function host(html: string): HTMLElement {
  const holder = document.createElement("div");
  holder.innerHTML = html;
  const element = holder.firstElementChild as HTMLElement;
  document.body.append(element);
  return element;
}

/** The iframe inside `container` (inline host, or the dialog a popup opened). */
function frameOf(container: ParentNode): HTMLIFrameElement {
  const frame = container.querySelector("iframe");
  if (!frame) throw new Error("no iframe");
  return frame;
}

const standIns = new WeakMap<HTMLIFrameElement, FakeWindow>();

/** The frame's stand-in window (its contentWindow from now on). */
function windowOf(frame: HTMLIFrameElement): FakeWindow {
  let window = standIns.get(frame);
  if (!window) {
    window = { postMessage: vi.fn() };
    Object.defineProperty(frame, "contentWindow", { value: window, configurable: true });
    standIns.set(frame, window);
  }
  return window;
}

function widgetId(frame: HTMLIFrameElement): string {
  return new URL(frame.src).searchParams.get("widget")!;
}

function send(
  frame: HTMLIFrameElement,
  type: string,
  detail: unknown,
  overrides: { origin?: string; source?: unknown; mais?: unknown; widget?: string } = {},
): void {
  const mais = "mais" in overrides ? overrides.mais : 1;
  const data = { mais, widget: overrides.widget ?? widgetId(frame), type, detail };
  const source = "source" in overrides ? overrides.source : windowOf(frame);
  window.dispatchEvent(
    new MessageEvent("message", { data, origin: overrides.origin ?? PLATFORM, source: source as Window }),
  );
}

describe("the iframe", () => {
  it("inline: replaces the fallback with an eager, titled iframe on the platform's frame URL", () => {
    const element = host(`<div data-mais-booking><a href="/book/rose">Book online</a></div>`);
    mais.mount(element);
    const frame = frameOf(element);
    expect(element.children).toHaveLength(1);
    expect(frame.title).toBe("Booking");
    expect(frame.loading).toBe("eager");
    expect(frame.style.height).toBe("600px");
    expect(frame.style.width).toBe("100%");
    const src = new URL(frame.src);
    expect(src.origin + src.pathname).toBe(`${PLATFORM}/widget/v1/frame`);
    expect(src.searchParams.get("key")).toBe("pk_test_default");
    expect(src.searchParams.get("origin")).toBe(location.origin);
    expect(src.searchParams.get("widget")).toMatch(/^[A-Za-z0-9_-]{1,32}$/);
    // The return URL names this widget's place on the page, so the confirmation comes back to it.
    expect(src.searchParams.get("return")).toBe(`${location.origin}/weddings?from=ad&mais_widget=0`);
    expect(src.searchParams.has("session")).toBe(false);
  });

  it("an element's own data-tenant-key wins over the script's", () => {
    const element = host(`<div data-mais-booking data-tenant-key="pk_test_other"></div>`);
    mais.mount(element);
    expect(new URL(frameOf(element).src).searchParams.get("key")).toBe("pk_test_other");
  });

  it("passes the return session into that one frame, once, and takes it off the address bar", () => {
    history.replaceState(null, "", "/weddings?from=ad&mais_session=cs_test_123&mais_widget=1#book");
    mais = createMais(platformOf(SCRIPT), "pk_test_default");
    const first = host(`<div data-mais-booking></div>`);
    const second = host(`<div data-mais-booking></div>`);
    mais.mount(first);
    mais.mount(second);
    expect(new URL(frameOf(first).src).searchParams.get("session")).toBeNull();
    const query = new URL(frameOf(second).src).searchParams;
    expect(query.get("session")).toBe("cs_test_123");
    expect(query.get("return")).toBe(`${location.origin}/weddings?from=ad&mais_widget=1#book`);
    // A reload (or this address shared) does not announce the booking again.
    expect(location.href).toBe(`${location.origin}/weddings?from=ad#book`);
    const later = host(`<div data-mais-booking></div>`);
    mais.mount(later);
    expect(new URL(frameOf(later).src).searchParams.get("session")).toBeNull();
  });

  it("a session without a widget slot goes to the first widget only", () => {
    history.replaceState(null, "", "/weddings?mais_session=cs_test_9");
    mais = createMais(platformOf(SCRIPT), "pk_test_default");
    const first = host(`<div data-mais-booking></div>`);
    const second = host(`<div data-mais-booking></div>`);
    mais.mount(first);
    mais.mount(second);
    expect(new URL(frameOf(first).src).searchParams.get("session")).toBe("cs_test_9");
    expect(new URL(frameOf(second).src).searchParams.get("session")).toBeNull();
  });

  it("a popup the couple paid through opens again on the confirmation", () => {
    history.replaceState(null, "", "/weddings?mais_session=cs_test_7&mais_widget=0");
    mais = createMais(platformOf(SCRIPT), "pk_test_default");
    const button = host(`<button data-mais-button>Book now</button>`);
    mais.mount(button);
    const dialog = document.querySelector("dialog");
    expect(dialog?.open).toBe(true);
    expect(new URL(dialog!.querySelector("iframe")!.src).searchParams.get("session")).toBe("cs_test_7");
  });

  it("the title names the tenant once the app is ready", () => {
    const element = host(`<div data-mais-booking></div>`);
    mais.mount(element);
    const frame = frameOf(element);
    send(frame, "ready", { tenant: "Rose & Oak" });
    expect(frame.title).toBe("Book with Rose & Oak");
  });

  it("mounting an element twice makes one iframe", () => {
    const element = host(`<div data-mais-booking></div>`);
    mais.mount(element);
    mais.mount(element);
    expect(element.querySelectorAll("iframe")).toHaveLength(1);
    const button = host(`<button data-mais-button>Book now</button>`);
    mais.mount(button);
    mais.mount(button);
    button.click();
    expect(document.querySelectorAll("dialog")).toHaveLength(1);
    expect(document.querySelectorAll("dialog iframe")).toHaveLength(1);
  });

  it("an element without any tenant key is left alone", () => {
    const bare = createMais(platformOf(SCRIPT), undefined);
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const element = host(`<div data-mais-booking>Fallback</div>`);
    bare.mount(element);
    expect(element.querySelector("iframe")).toBeNull();
    expect(warn).toHaveBeenCalled();
  });
});

describe("messages from the frame", () => {
  let element: HTMLElement;
  let frame: HTMLIFrameElement;

  beforeEach(() => {
    element = host(`<div data-mais-booking></div>`);
    mais.mount(element);
    frame = frameOf(element);
  });

  it("resize sets the height, clamped to sane bounds", () => {
    send(frame, "resize", { height: 812.4 });
    expect(frame.style.height).toBe("812px");
    send(frame, "resize", { height: 10 });
    expect(frame.style.height).toBe(`${MIN_HEIGHT}px`);
    send(frame, "resize", { height: 1e9 });
    expect(frame.style.height).toBe(`${MAX_HEIGHT}px`);
    send(frame, "resize", { height: "900px" });
    send(frame, "resize", { height: Number.NaN });
    expect(frame.style.height).toBe(`${MAX_HEIGHT}px`);
  });

  it("from a foreign origin is ignored", () => {
    send(frame, "resize", { height: 900 }, { origin: "https://evil.test" });
    expect(frame.style.height).toBe("600px");
  });

  it("from the platform's origin but another window is ignored", () => {
    send(frame, "resize", { height: 900 }, { source: { postMessage() {} } });
    send(frame, "resize", { height: 900 }, { source: null });
    expect(frame.style.height).toBe("600px");
  });

  it("with another protocol version or widget id is ignored", () => {
    send(frame, "resize", { height: 900 }, { mais: 2 });
    send(frame, "resize", { height: 900 }, { widget: "someone-else" });
    send(frame, "resize", { height: 900 }, { widget: "__proto__" });
    expect(frame.style.height).toBe("600px");
    send(frame, "resize", { height: 900 });
    expect(frame.style.height).toBe("900px");
  });

  it("ready, date-selected, checkout-started and booked become bubbling DOM events with the detail", () => {
    const seen: [string, unknown][] = [];
    for (const name of Object.values(HOST_EVENTS))
      document.addEventListener(name, (event) => seen.push([name, (event as CustomEvent).detail]));
    const dispatched = new Set<Event>(); // (happy-dom calls dispatchEvent again for each phase)
    const dispatch = element.dispatchEvent.bind(element);
    vi.spyOn(element, "dispatchEvent").mockImplementation((event: Event) => {
      dispatched.add(event);
      return dispatch(event);
    });
    const checkout = { bookingId: "b1", expiresAt: "2026-12-01T10:00:00Z", totalCents: 195000, currency: "usd" };
    send(frame, "ready", { tenant: "Rose & Oak" });
    send(frame, "date-selected", { date: "2026-12-12", packageId: "p1" });
    send(frame, "checkout-started", checkout);
    send(frame, "booked", { bookingId: "b1", eventDate: "2026-12-12" });
    send(frame, "resize", { height: 700 });
    send(frame, "booked", { bookingId: "forged" }, { origin: "https://evil.test" });
    send(frame, "toString", {});
    expect(dispatched.size).toBe(4); // nothing else (not "toString" either)
    expect(seen).toEqual([
      ["mais:ready", { tenant: "Rose & Oak" }],
      ["mais:date-selected", { date: "2026-12-12", packageId: "p1" }],
      ["mais:checkout-started", checkout],
      ["mais:booked", { bookingId: "b1", eventDate: "2026-12-12" }],
    ]);
  });

  it("the events are dispatched on the host element itself", () => {
    const targets: EventTarget[] = [];
    document.addEventListener("mais:ready", (event) => targets.push(event.target!));
    send(frame, "ready", { tenant: "Rose & Oak" });
    expect(targets).toEqual([element]);
  });

  it("navigate opens http(s) URLs top-level and refuses any other scheme", () => {
    const assign = vi.fn();
    vi.spyOn(window, "location", "get").mockReturnValue({ ...window.location, assign } as unknown as Location);
    for (const url of ["javascript:alert(1)", " javascript:alert(1)", "data:text/html,hi", "//evil.test/", "/x"])
      send(frame, "navigate", { url });
    send(frame, "navigate", { url: 42 });
    expect(assign).not.toHaveBeenCalled();
    send(frame, "navigate", { url: "https://checkout.stripe.com/c/pay/cs_test_1" });
    expect(assign).toHaveBeenCalledExactlyOnceWith("https://checkout.stripe.com/c/pay/cs_test_1");
  });

  it("navigate from a foreign origin is ignored", () => {
    const assign = vi.fn();
    vi.spyOn(window, "location", "get").mockReturnValue({ ...window.location, assign } as unknown as Location);
    send(frame, "navigate", { url: "https://phish.test/" }, { origin: "https://evil.test" });
    expect(assign).not.toHaveBeenCalled();
  });

  it("two widgets on one page are independent", () => {
    const other = host(`<div data-mais-booking data-tenant-key="pk_test_b"></div>`);
    mais.mount(other);
    const b = frameOf(other);
    expect(widgetId(b)).not.toBe(widgetId(frame));
    const readyB = vi.fn();
    other.addEventListener("mais:ready", readyB);
    // A's frame, with A's id, then A's frame claiming B's id: B is untouched.
    send(frame, "resize", { height: 900 });
    send(frame, "resize", { height: 1200 }, { widget: widgetId(b) });
    send(frame, "ready", { tenant: "A" }, { widget: widgetId(b) });
    expect(frame.style.height).toBe("900px");
    expect(b.style.height).toBe("600px");
    expect(b.title).toBe("Booking");
    expect(readyB).not.toHaveBeenCalled();
    send(b, "resize", { height: 300 });
    expect(b.style.height).toBe("300px");
    expect(frame.style.height).toBe("900px");
  });
});

describe("the popup", () => {
  it("a button keeps its text and opens a modal dialog with the iframe, made on first open and kept", () => {
    const button = host(`<button data-mais-button>Book now</button>`);
    mais.mount(button);
    expect(button.textContent).toBe("Book now");
    expect(button.getAttribute("aria-haspopup")).toBe("dialog");
    expect(document.querySelector("iframe")).toBeNull();
    button.click();
    const dialog = document.querySelector("dialog")!;
    expect(dialog.open).toBe(true);
    const frame = frameOf(dialog);
    expect(frame.title).toBe("Booking");
    expect(new URL(frame.src).searchParams.get("key")).toBe("pk_test_default");
    expect(dialog.getAttribute("aria-label")).toBe("Booking");
    const close = [...dialog.querySelectorAll("button")].find((b) => b.textContent === "Close")!;
    close.click();
    expect(dialog.open).toBe(false);
    button.click();
    expect(dialog.open).toBe(true);
    expect(dialog.querySelector("iframe")).toBe(frame);
  });

  it("Escape closes it and focus returns to the button", () => {
    const button = host(`<button data-mais-button>Book now</button>`);
    mais.mount(button);
    button.focus();
    button.click();
    const dialog = document.querySelector("dialog")!;
    dialog.querySelector("button")!.focus();
    expect(document.activeElement).not.toBe(button);
    dialog.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true }));
    expect(dialog.open).toBe(false);
    expect(document.activeElement).toBe(button);
  });

  it("tells the app when it opens (once ready) and closes, only to the platform's origin", () => {
    const button = host(`<button data-mais-button>Book now</button>`);
    mais.mount(button);
    button.click();
    const dialog = document.querySelector("dialog")!;
    const frame = frameOf(dialog);
    const app = windowOf(frame);
    const id = widgetId(frame);
    expect(app.postMessage).not.toHaveBeenCalled(); // not ready yet: nothing would listen
    send(frame, "ready", { tenant: "Rose & Oak" });
    expect(dialog.getAttribute("aria-label")).toBe("Book with Rose & Oak");
    button.click(); // already open: nothing new to say
    dialog.close();
    button.click();
    expect(app.postMessage.mock.calls).toEqual([
      [{ mais: 1, widget: id, type: "opened", detail: {} }, PLATFORM],
      [{ mais: 1, widget: id, type: "closed", detail: {} }, PLATFORM],
      [{ mais: 1, widget: id, type: "opened", detail: {} }, PLATFORM],
    ]);
  });

  it("the app may ask to close it (Escape pressed inside the frame), and nobody else may", () => {
    const button = host(`<button data-mais-button>Book now</button>`);
    mais.mount(button);
    button.click();
    const dialog = document.querySelector("dialog")!;
    const frame = frameOf(dialog);
    send(frame, "close", {}, { origin: "https://evil.test" });
    send(frame, "close", {}, { source: { postMessage() {} } });
    expect(dialog.open).toBe(true);
    send(frame, "close", {});
    expect(dialog.open).toBe(false);
    expect(document.activeElement).toBe(button);
  });

  it("any element can be the button: it gets the role, focus and Enter/Space", () => {
    const element = host(`<span data-mais-button>Check dates</span>`);
    mais.mount(element);
    expect(element.getAttribute("role")).toBe("button");
    expect(element.tabIndex).toBe(0);
    element.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    expect(document.querySelector("dialog")!.open).toBe(true);
    expect(element.textContent).toBe("Check dates");
  });

  it("events of a popup's frame are dispatched on its button", () => {
    const button = host(`<button data-mais-button>Book now</button>`);
    mais.mount(button);
    button.click();
    const booked = vi.fn();
    button.addEventListener("mais:booked", booked);
    send(frameOf(document.querySelector("dialog")!), "booked", { bookingId: "b1", eventDate: "2026-12-12" });
    expect(booked).toHaveBeenCalledOnce();
  });
});

describe("the script", () => {
  it("finds itself by its src when document.currentScript is not set", () => {
    const script = document.createElement("script");
    script.src = `${PLATFORM}/widget/v1/mais.js?v=1`;
    document.head.append(script);
    try {
      expect(findScript(document)).toBe(script);
      expect(platformOf(script.src)).toEqual({ origin: PLATFORM, frameUrl: `${PLATFORM}/widget/v1/frame` });
    } finally {
      script.remove();
    }
  });
});
