// A small router on the History API for the dashboards under /admin/: patterns with `:name` segments,
// navigation that other parts of the page can hear, links that stay in the page, and the sign-in's
// return path (only ever a path of the dashboards, never another site).
import type { AnchorHTMLAttributes } from "preact";
import { useEffect, useState } from "preact/hooks";

export const BASE = "/admin";
const CHANGE = "mais:navigate";

export interface Location {
  /** The path without a trailing slash ("/admin" for the overview). */
  path: string;
  /** The query string with its "?", or "". */
  search: string;
  /** The fragment with its "#", or "". */
  hash: string;
}

/** "/admin/bookings/" → "/admin/bookings"; "/admin/" → "/admin". */
export function normalize(path: string): string {
  const trimmed = path.replace(/\/+$/, "");
  return trimmed || "/";
}

export function currentLocation(win: Window = window): Location {
  return { path: normalize(win.location.pathname), search: win.location.search, hash: win.location.hash };
}

/** The params of `path` when it matches `pattern` ("/admin/bookings/:id"), else null. */
export function matchPath(pattern: string, path: string): Record<string, string> | null {
  const want = normalize(pattern).split("/");
  const have = normalize(path).split("/");
  if (want.length !== have.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    if (want[i].startsWith(":")) {
      if (!have[i]) return null;
      try {
        params[want[i].slice(1)] = decodeURIComponent(have[i]);
      } catch {
        return null;
      }
    } else if (want[i] !== have[i]) {
      return null;
    }
  }
  return params;
}

/** The first route whose pattern matches `path`, with its params. */
export function resolve<R extends { path: string }>(
  routes: readonly R[],
  path: string,
): { route: R; params: Record<string, string> } | null {
  for (const route of routes) {
    const params = matchPath(route.path, path);
    if (params) return { route, params };
  }
  return null;
}

/** Goes to `to` (a same-origin path) without reloading; every useLocation hears it. */
export function navigate(to: string, options: { replace?: boolean } = {}, win: Window = window): void {
  const here = win.location.pathname + win.location.search + win.location.hash;
  if (to !== here) {
    if (options.replace) win.history.replaceState(null, "", to);
    else win.history.pushState(null, "", to);
  }
  win.dispatchEvent(new Event(CHANGE));
}

/** The location, re-rendering on back/forward and on navigate(). */
export function useLocation(): Location {
  const [location, setLocation] = useState(currentLocation);
  useEffect(() => {
    const update = () => setLocation(currentLocation());
    window.addEventListener("popstate", update);
    window.addEventListener(CHANGE, update);
    return () => {
      window.removeEventListener("popstate", update);
      window.removeEventListener(CHANGE, update);
    };
  }, []);
  return location;
}

/** A click that the page should handle itself: a plain left click on a same-origin link. */
export function isPlainClick(event: MouseEvent): boolean {
  return !event.defaultPrevented && event.button === 0 && !event.metaKey && !event.ctrlKey && !event.shiftKey && !event.altKey;
}

/** An <a> whose plain clicks navigate inside the page; new tabs and the like work as links do. */
export function Link(props: AnchorHTMLAttributes<HTMLAnchorElement> & { href: string }) {
  const { onClick, ...rest } = props;
  return (
    <a
      {...rest}
      onClick={(event) => {
        if (onClick) (onClick as (e: MouseEvent) => void)(event);
        if (!isPlainClick(event) || (rest.target && rest.target !== "_self")) return;
        event.preventDefault();
        navigate(props.href);
      }}
    />
  );
}

/** Where sign-in goes afterwards: a dashboards' path only (no other site, no protocol-relative URL). */
export function safeNext(value: string | null | undefined): string | null {
  if (!value || !value.startsWith(`${BASE}`) || value.startsWith("//") || value.includes("\\")) return null;
  const rest = value.slice(BASE.length);
  if (rest && !/^[/?#]/.test(rest)) return null;
  const path = normalize(value.split(/[?#]/)[0]);
  if (["/admin/sign-in", "/admin/forgot-password", "/admin/reset-password", "/admin/set-password"].includes(path)) return null;
  return value;
}

/** The sign-in page's address that comes back to `location` afterwards. */
export function signInPath(location: Location): string {
  const back = location.path + location.search;
  const next = safeNext(back);
  return next && normalize(location.path) !== BASE ? `${BASE}/sign-in?${new URLSearchParams({ next })}` : `${BASE}/sign-in`;
}
