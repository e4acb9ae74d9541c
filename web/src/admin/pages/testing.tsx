// Test helpers for the pages: a fake AdminRequest answering by "METHOD path" (recording every call),
// a mount in happy-dom, and finders by accessible name.
import type { ComponentChild } from "preact";
import { render } from "preact";
import { act } from "preact/test-utils";
import { ApiError } from "../../shared/api";
import { createAdminApi, type Me } from "../api";
import { Admin, type AdminContext } from "../context";
import type { AdminRequest } from "./request";

export interface Call {
  method: string;
  path: string;
  body: unknown;
  headers?: Record<string, string>;
}

type Answer = unknown | ((call: Call) => unknown);

/** Answers: "GET /v1/x" (exact path with query) or "GET /v1/x*" (prefix); a function may throw an ApiError. */
export function fakeRequest(answers: Record<string, Answer>) {
  const calls: Call[] = [];
  const request = (async (method: string, path: string, body?: unknown, options?: { headers?: Record<string, string> }) => {
    const call: Call = { method, path, body, headers: options?.headers };
    calls.push(call);
    const key = `${method} ${path}`;
    const found =
      key in answers
        ? answers[key]
        : Object.entries(answers).find(([k]) => k.endsWith("*") && key.startsWith(k.slice(0, -1)))?.[1];
    if (found === undefined) throw new ApiError(404, "NOT_FOUND", `no fake answer for ${key}`);
    return typeof found === "function" ? (found as (call: Call) => unknown)(call) : structuredClone(found);
  }) as AdminRequest;
  return { request, calls, answers };
}

export const conflict = () => new ApiError(409, "VERSION_CONFLICT", "the object changed meanwhile");

export async function mount(node: ComponentChild): Promise<HTMLElement> {
  document.body.innerHTML = "";
  const root = document.createElement("div");
  document.body.appendChild(root);
  await act(async () => {
    render(node, root);
  });
  await settle();
  return root;
}

export async function settle() {
  for (let i = 0; i < 4; i++) {
    await act(async () => {
      await new Promise((resolve) => setTimeout(resolve, 0));
    });
  }
}

export const text = (el: Element | null | undefined) => el?.textContent?.replace(/\s+/g, " ").trim() ?? "";

export function button(root: Element, name: string): HTMLButtonElement {
  const all = [...root.querySelectorAll("button")];
  const found = all.find((b) => (b.getAttribute("aria-label") ?? text(b)) === name);
  if (!found) throw new Error(`no button "${name}" in: ${all.map((b) => b.getAttribute("aria-label") ?? text(b)).join(" | ")}`);
  return found;
}

/** The input, textarea or select labelled `name` (its <label for>). */
export function field(root: Element, name: string): HTMLInputElement {
  const label = [...root.querySelectorAll("label")].find((l) => text(l) === name);
  if (!label) throw new Error(`no field "${name}" in: ${[...root.querySelectorAll("label")].map(text).join(" | ")}`);
  const control = label.htmlFor ? root.querySelector(`#${label.htmlFor}`) : label.querySelector("input,select,textarea");
  if (!control) throw new Error(`label "${name}" names no control`);
  return control as HTMLInputElement;
}

export async function click(el: HTMLElement) {
  await act(async () => {
    el.click();
  });
  await settle();
}

export async function type(el: HTMLInputElement, value: string) {
  await act(async () => {
    el.value = value;
    el.dispatchEvent(new Event("input", { bubbles: true }));
    el.dispatchEvent(new Event("change", { bubbles: true }));
  });
  await settle();
}

export async function submit(form: HTMLFormElement) {
  await act(async () => {
    form.dispatchEvent(new Event("submit", { bubbles: true, cancelable: true }));
  });
  await settle();
}

export const alertText = (root: Element) => [...root.querySelectorAll('[role="alert"]')].map(text).filter(Boolean).join(" | ");
export const statusText = (root: Element) => [...root.querySelectorAll('[role="status"]')].map(text).filter(Boolean).join(" | ");

/** A route of `fakeServer`: the request's parsed body and URL in, a status and a JSON body out. */
export type Route = (body: unknown, url: string) => { status: number; body?: unknown };
export interface FetchCall {
  method: string;
  url: string;
  body: unknown;
  headers: Record<string, string>;
}
export interface FakeServer {
  routes: Record<string, Route>;
  calls: FetchCall[];
}

/** A `fetch` behind the real admin API client: answers "METHOD path" (query aside) from `server.routes`
 * (404 otherwise) and records every call in `server.calls`; both may be replaced between tests. */
export function fakeFetch(server: FakeServer): typeof fetch {
  return (async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = String(input);
    const method = init.method ?? "GET";
    const body = init.body ? JSON.parse(String(init.body)) : undefined;
    server.calls.push({ method, url, body, headers: (init.headers ?? {}) as Record<string, string> });
    const route = server.routes[`${method} ${url.split("?")[0]}`];
    const answer = route ? route(body, url) : { status: 404, body: { error: "NOT_FOUND", message: "not found" } };
    return new Response(JSON.stringify(answer.body ?? {}), { status: answer.status, headers: { "Content-Type": "application/json" } });
  }) as typeof fetch;
}

/** Renders `node` into `root` inside the dashboard's context (`me` signed in, `locale`), its API client
 * on `server`. */
export async function showSignedIn(root: HTMLElement, node: ComponentChild, me: Me, locale: string, server: FakeServer) {
  const api = createAdminApi({ fetch: fakeFetch(server) });
  api.setCsrfToken(me.csrfToken ?? null);
  const context: AdminContext = { api, me, locale, refreshMe: async () => {}, setMe: () => {} };
  await act(() => render(<Admin.Provider value={context}>{node}</Admin.Provider>, root));
  await settle();
}
