// What the dashboard pages need from the admin API client: one call. The pages take it as a prop, so the
// shell passes its client (web/src/admin/api.ts) and the tests pass a fake. Errors are the shared
// ApiError (web/src/shared/api.ts): pages switch on its code, and show its message in words.
import { ApiError } from "../../shared/api";

export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

export interface CallOptions {
  headers?: Record<string, string>;
}

/** One JSON call of the admin API (same-origin, with the session's credentials and CSRF token). */
export type AdminRequest = <T = unknown>(method: Method, path: string, body?: unknown, options?: CallOptions) => Promise<T>;

export interface PageProps {
  request: AdminRequest;
  /** Path parameters of the route (`id` of /admin/platform/tenants/{id}). */
  params?: Record<string, string>;
  /** The shell's navigation (History API); plain links work without it. */
  navigate?: (path: string) => void;
}

/** A cursor page of any admin list. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** An error as a sentence for the admin: the API's message, with its per-field problems. */
export function errorText(error: unknown): string {
  if (error instanceof ApiError) {
    const message = error.message ? error.message.charAt(0).toUpperCase() + error.message.slice(1) : "The request failed";
    const fields = error.fields.map((f) => `${f.field}: ${f.message}`).join("; ");
    const base = fields && !message.includes(fields) ? `${message} (${fields})` : message;
    return error.retryAfter ? `${base}. Try again in ${error.retryAfter} s.` : base;
  }
  return "Something went wrong. Please try again.";
}

export function isCode(error: unknown, code: string): error is ApiError {
  return error instanceof ApiError && error.code === code;
}

/** `path?query` with only the non-empty parameters. */
export function withQuery(path: string, query: Record<string, string | number | null | undefined>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== null && value !== undefined && value !== "") params.set(key, String(value));
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

/** Every item of a cursor list (at most `maxPages` pages of 100): for pickers (packages of an add-on ...). */
export async function allPages<T>(request: AdminRequest, path: string, maxPages = 10): Promise<T[]> {
  const items: T[] = [];
  let cursor = "";
  for (let i = 0; i < maxPages; i++) {
    const page = await request<Page<T>>("GET", withQuery(path, { limit: 100, cursor }));
    items.push(...page.items);
    if (!page.nextCursor) break;
    cursor = page.nextCursor;
  }
  return items;
}
