// Test helpers of the couple's pages: a fetch that answers like the gateway, route by route, and
// keeps what it was sent (the pages run against the real API client over it); and the page under test.
import axe from "axe-core";
import { h, render } from "preact";
import { act } from "preact/test-utils";
import { vi } from "vitest";
import { App } from "./App";
import type { AppContext } from "./context";
import type { Embed } from "./embed";

export interface Sent {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Record<string, string>;
  body: unknown;
}

/** A fetch that answers like the gateway, one route ("METHOD /path") at a time, and keeps what it was sent. */
export function gateway(routes: Record<string, (sent: Sent) => [number, unknown]>) {
  const sent: Sent[] = [];
  const impl = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input), "http://platform.test");
    const request: Sent = {
      method: init?.method ?? "GET",
      path: url.pathname,
      query: url.searchParams,
      headers: (init?.headers ?? {}) as Record<string, string>,
      body: init?.body ? JSON.parse(String(init.body)) : undefined,
    };
    sent.push(request);
    const route = routes[`${request.method} ${request.path}`];
    const [status, body] = route ? route(request) : [404, { error: "NOT_FOUND", message: "not found" }];
    return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
  }) as typeof fetch;
  return { impl, sent };
}

/** The page under test in happy-dom: its root, the queries and actions the tests use, mounting the
 * couple's App with a context, and axe. `open()` before each test (the clock stands at
 * 2026-12-10 12:00 UTC), `close()` after. */
export function screen() {
  let current: HTMLElement | null = null;
  const root = () => {
    if (!current) throw new Error("the screen is not open");
    return current;
  };
  const $ = <T extends Element = HTMLElement>(selector: string) => root().querySelector<T>(selector);
  const $$ = (selector: string) => [...root().querySelectorAll<HTMLElement>(selector)];
  const text = (el: Element | null) => el?.textContent?.replace(/\s+/g, " ").trim() ?? "";
  const nameOf = (b: Element) => b.getAttribute("aria-label") ?? text(b);

  async function settle() {
    for (let i = 0; i < 5; i++) {
      await act(async () => {
        await new Promise((resolve) => setTimeout(resolve, 0));
      });
    }
  }
  function button(name: string): HTMLButtonElement {
    const found = $$("button").find((b) => nameOf(b) === name);
    if (!found) throw new Error(`no button "${name}" in: ${$$("button").map(nameOf).join(" | ")}`);
    return found as HTMLButtonElement;
  }
  /** The field whose label reads `name` (a label `for` it, or one wrapping it). */
  function labelled(name: string): HTMLInputElement {
    const label = $$("label").find((l) => text(l) === name);
    const target = label?.getAttribute("for");
    const input = target ? root().querySelector<HTMLInputElement>(`#${target}`) : label?.querySelector("input");
    if (!input) throw new Error(`no field labelled "${name}" in: ${$$("label").map(text).join(" | ")}`);
    return input as HTMLInputElement;
  }
  const labelOf = (input: Element) => text(root().querySelector(`label[for="${input.id}"]`));
  async function click(el: HTMLElement) {
    await act(async () => el.click());
    await settle();
  }
  async function type(el: HTMLInputElement, value: string) {
    await act(async () => {
      el.value = value;
      el.dispatchEvent(new Event("input", { bubbles: true }));
    });
  }
  async function mount(context: AppContext) {
    await act(async () => {
      render(h(App, { context }), root());
    });
    await settle();
  }
  function open() {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(new Date("2026-12-10T12:00:00Z"));
    current = document.createElement("div");
    document.body.append(current);
  }
  function close() {
    if (current) {
      render(null, current);
      current.remove();
      current = null;
    }
    vi.useRealTimers();
  }
  return { get root() { return root(); }, open, close, mount, settle, $, $$, text, button, labelled, labelOf, click, type };
}

/** A host that is not there: the page runs standalone. */
export const noEmbed: Embed = { connected: false, post: () => {}, onHost: () => () => {}, watchHeight: () => () => {} };

/** axe's findings in `where`, one line each (contrast and landmarks are checked in the browser tests). */
export async function violations(where: HTMLElement) {
  const result = await axe.run(where, { rules: { "color-contrast": { enabled: false }, region: { enabled: false } } });
  return result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.html).join(" ")}`);
}
