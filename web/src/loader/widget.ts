// The loader's work on a tenant's page: one iframe per host element (inline, or in a modal dialog
// opened by a button), sized and titled from the app's messages, whose events it re-dispatches on
// the host element. Every message is checked by origin, source window, version and widget id; it
// posts only to the platform's origin. Styles are set through element.style (the CSSOM), which a
// host's strict CSP (no inline <style>) still allows.
import { HOST_EVENTS, isProtocolMessage, PROTOCOL_VERSION, type HostMessage } from "../shared/messages";

/** `window.MAIS`: the one global the loader defines. */
export interface MaisApi {
  version: 1;
  /** Makes `element` a widget (inline, or a popup button when it has `data-mais-button`); twice is once. */
  mount(element: Element): void;
}

declare global {
  interface Window {
    MAIS?: MaisApi;
  }
}

/** Where the platform is, as the loader's own script URL says. */
export interface Platform {
  origin: string;
  /** `{platform}/widget/v1/frame`, beside the script. */
  frameUrl: string;
}

export const MIN_HEIGHT = 200;
export const MAX_HEIGHT = 5000;
const SESSION_PARAM = "mais_session";
// Which widget of the page a couple came back to from Checkout (its mount order, in its return URL).
const SLOT_PARAM = "mais_widget";

interface Widget {
  id: string;
  frame: HTMLIFrameElement;
  host: HTMLElement;
  ready?: boolean;
  dialog?: HTMLDialogElement;
}

/** The platform of the loader script at `src` (the frame URL sits beside it). */
export function platformOf(src: string): Platform {
  return { origin: new URL(src).origin, frameUrl: new URL("frame", src).href };
}

/** The loader's own script: document.currentScript while it runs, else the one whose src ends in /widget/v1/mais.js. */
export function findScript(doc: Document): HTMLScriptElement | undefined {
  const current = doc.currentScript;
  if (current instanceof HTMLScriptElement && current.src) return current;
  return [...doc.querySelectorAll("script[src]")].find((s) =>
    new URL((s as HTMLScriptElement).src).pathname.endsWith("/widget/v1/mais.js"),
  ) as HTMLScriptElement | undefined;
}

function randomId(): string {
  return [...crypto.getRandomValues(new Uint32Array(3))].map((n) => n.toString(36)).join("");
}

function style(element: HTMLElement, rules: Partial<CSSStyleDeclaration>): void {
  Object.assign(element.style, rules);
}

let backdropDone = false;

/** A dimmed page behind the dialog: ::backdrop is out of element.style's reach, so one constructed
 * stylesheet (CSSOM, like element.style, not an inline <style> a strict CSP would refuse). */
function backdrop(): void {
  if (backdropDone) return;
  backdropDone = true;
  try {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync("dialog[data-mais]::backdrop{background:rgba(20,16,12,.6)}");
    document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
  } catch {
    // An older browser keeps its default backdrop.
  }
}

/** The MAIS namespace for `platform`: `defaultKey` is the script's data-tenant-key (an element's own wins). */
export function createMais(platform: Platform, defaultKey: string | undefined): MaisApi {
  const widgets = new Map<string, Widget>();
  const mounted = new WeakSet<Element>();
  let slots = 0;

  // Back from Checkout: the done page's link carries the session and the widget it was paid in. Both are
  // read once and taken off the address bar, so a reload or a shared link does not announce the
  // booking again, and only that one widget (the first, for a link without a slot) is told.
  const here = new URL(location.href);
  let session = here.searchParams.get(SESSION_PARAM);
  const sessionSlot = here.searchParams.get(SLOT_PARAM) ?? "0";
  if (here.searchParams.has(SESSION_PARAM) || here.searchParams.has(SLOT_PARAM)) {
    here.searchParams.delete(SESSION_PARAM);
    here.searchParams.delete(SLOT_PARAM);
    try {
      history.replaceState(history.state, "", here.href);
    } catch {
      // A sandboxed host page: the address bar keeps it, the session still goes to one widget only.
    }
  }
  const sessionFor = (slot: number): string | null => {
    if (session === null || sessionSlot !== String(slot)) return null;
    const found = session;
    session = null;
    return found;
  };

  function post(widget: string, type: HostMessage["type"]): void {
    const message: HostMessage = { mais: PROTOCOL_VERSION, widget, type, detail: {} };
    widgets.get(widget)?.frame.contentWindow?.postMessage(message, platform.origin);
  }

  addEventListener("message", (event: MessageEvent) => {
    const data: unknown = event.data;
    const id = (data as { widget?: unknown } | null)?.widget;
    const widget = typeof id === "string" ? widgets.get(id) : undefined;
    if (
      !widget ||
      event.origin !== platform.origin ||
      !event.source ||
      event.source !== widget.frame.contentWindow ||
      !isProtocolMessage(data, id as string)
    )
      return;
    const { frame, host, dialog } = widget;
    const detail = data.detail as Record<string, unknown> | null;
    if (data.type === "resize") {
      const height = detail?.height;
      if (typeof height === "number" && isFinite(height))
        frame.style.height = Math.round(Math.min(MAX_HEIGHT, Math.max(MIN_HEIGHT, height))) + "px";
      return;
    }
    if (data.type === "navigate") {
      const url = detail?.url;
      if (typeof url === "string" && /^https?:\/\//i.test(url)) location.assign(url);
      return;
    }
    // Escape pressed inside the frame reaches the frame's document, not this dialog, so the app asks
    // for the dialog to close.
    if (data.type === "close") {
      dialog?.close();
      return;
    }
    if (data.type === "ready") {
      widget.ready = true;
      if (typeof detail?.tenant === "string") frame.title = "Book with " + detail.tenant;
      dialog?.setAttribute("aria-label", frame.title);
      if (dialog?.open) post(widget.id, "opened");
    }
    const name: unknown = HOST_EVENTS[data.type as keyof typeof HOST_EVENTS];
    if (typeof name === "string") host.dispatchEvent(new CustomEvent(name, { bubbles: true, detail }));
  });

  function createFrame(host: HTMLElement, key: string, inline: boolean, slot: number, returned: string | null): Widget {
    const id = randomId();
    const back = new URL(here.href);
    back.searchParams.set(SLOT_PARAM, String(slot));
    const src = new URL(platform.frameUrl);
    const query = src.searchParams;
    query.set("key", key);
    query.set("origin", location.origin);
    query.set("widget", id);
    query.set("return", back.href);
    if (returned) query.set("session", returned);
    const frame = document.createElement("iframe");
    frame.src = src.href;
    frame.title = "Booking";
    if (inline) frame.loading = "eager";
    style(frame, { width: "100%", height: "600px", border: "0", display: "block" });
    const widget = { id, frame, host };
    widgets.set(id, widget);
    return widget;
  }

  function mountButton(host: HTMLElement, key: string, slot: number, returned: string | null): void {
    let dialog: HTMLDialogElement | undefined;
    let widget: Widget | undefined;
    const close = () => dialog?.close();

    function open(event: Event): void {
      event.preventDefault();
      if (!dialog) {
        dialog = document.createElement("dialog");
        dialog.setAttribute("aria-label", "Booking");
        dialog.setAttribute("data-mais", "");
        style(dialog, {
          padding: "0",
          border: "0",
          borderRadius: "12px",
          width: "min(760px, calc(100vw - 16px))",
          maxWidth: "100vw",
          maxHeight: "calc(100vh - 16px)",
          overflow: "auto",
          background: "#fff",
          color: "#1a1a1a",
        });
        const bar = document.createElement("div");
        style(bar, {
          position: "sticky",
          top: "0",
          display: "flex",
          justifyContent: "flex-end",
          padding: "8px",
          background: "#fff",
        });
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = "Close";
        style(button, { font: "inherit", padding: "6px 14px", cursor: "pointer" });
        button.addEventListener("click", close);
        bar.append(button);
        widget = createFrame(host, key, false, slot, returned);
        widget.dialog = dialog;
        dialog.append(bar, widget.frame);
        dialog.addEventListener("keydown", (e) => {
          if (e.key === "Escape") {
            e.preventDefault();
            close();
          }
        });
        dialog.addEventListener("close", () => {
          post(widget!.id, "closed");
          host.focus();
        });
        document.body.append(dialog);
        backdrop();
      }
      if (dialog.open) return;
      dialog.showModal();
      if (widget!.ready) post(widget!.id, "opened");
    }

    const tag = host.tagName;
    if (tag !== "BUTTON" && tag !== "A" && tag !== "INPUT") {
      host.setAttribute("role", "button");
      if (!host.hasAttribute("tabindex")) host.tabIndex = 0;
      host.addEventListener("keydown", (e) => {
        if (e.key === "Enter" || e.key === " ") open(e);
      });
    }
    host.setAttribute("aria-haspopup", "dialog");
    host.addEventListener("click", open);
    // Paid through this popup: it opens again on the confirmation.
    if (returned) open(new Event("mais"));
  }

  function mount(element: Element): void {
    if (!(element instanceof HTMLElement) || mounted.has(element)) return;
    const key = element.dataset.tenantKey || defaultKey;
    if (!key) {
      console.warn("MAIS: no data-tenant-key for", element);
      return;
    }
    mounted.add(element);
    const slot = slots++;
    const returned = sessionFor(slot);
    if (element.hasAttribute("data-mais-button")) mountButton(element, key, slot, returned);
    else element.replaceChildren(createFrame(element, key, true, slot, returned).frame);
  }

  return { version: 1, mount };
}
