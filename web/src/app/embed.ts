// The iframe's side of the message protocol (../shared/messages.ts). The app talks only to the host
// page the gateway vouched for (config.parentOrigin, one of the business's allowed origins) and only
// as the widget the loader named (config.widgetId). Without both it posts nothing at all.

import { isProtocolMessage, PROTOCOL_VERSION, type AppMessage, type HostMessage } from "../shared/messages";

type Detail<T extends AppMessage["type"]> = Extract<AppMessage, { type: T }>["detail"];
export type HostHandler = (message: HostMessage) => void;

export interface EmbedOptions {
  parentOrigin?: string;
  widgetId?: string;
}

export interface Embed {
  /** Whether there is a host to talk to. */
  readonly connected: boolean;
  post<T extends AppMessage["type"]>(type: T, detail: Detail<T>): void;
  /** Calls `handler` for every `opened` / `closed` that passes the checks; returns the unsubscribe. */
  onHost(handler: HostHandler): () => void;
  /** Posts `resize` whenever the document's height changes (once per animation frame at most). */
  watchHeight(root?: HTMLElement): () => void;
}

export function createEmbed(options: EmbedOptions, win: Window = window): Embed {
  const { parentOrigin, widgetId } = options;
  const connected = Boolean(parentOrigin && widgetId && win.parent && win.parent !== win);

  function post<T extends AppMessage["type"]>(type: T, detail: Detail<T>) {
    if (!connected) return;
    const message = { mais: PROTOCOL_VERSION, widget: widgetId!, type, detail } as AppMessage;
    win.parent.postMessage(message, parentOrigin!);
  }

  /** Whether an incoming message event is the host's, for this widget, of this protocol version. */
  function accepts(event: MessageEvent): boolean {
    return (
      connected &&
      event.origin === parentOrigin &&
      event.source === win.parent &&
      isProtocolMessage(event.data, widgetId!) &&
      (event.data.type === "opened" || event.data.type === "closed")
    );
  }

  function onHost(handler: HostHandler): () => void {
    const listener = (event: MessageEvent) => {
      if (accepts(event)) handler(event.data as HostMessage);
    };
    win.addEventListener("message", listener);
    return () => win.removeEventListener("message", listener);
  }

  function watchHeight(root: HTMLElement = win.document.documentElement): () => void {
    if (!connected || typeof ResizeObserver === "undefined") return () => {};
    let last = -1;
    let scheduled = false;
    let frame = 0;
    const measure = () => {
      scheduled = false;
      const height = Math.ceil(root.getBoundingClientRect().height);
      if (height !== last) {
        last = height;
        post("resize", { height });
      }
    };
    const observer = new ResizeObserver(() => {
      if (scheduled) return;
      scheduled = true;
      frame = win.requestAnimationFrame(measure);
    });
    observer.observe(root);
    return () => {
      observer.disconnect();
      if (scheduled) win.cancelAnimationFrame(frame);
    };
  }

  return { connected, post, onHost, watchHeight };
}
