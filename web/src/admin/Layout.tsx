// The signed-in frame: a skip link, the header (the business's name, who is signed in, Sign out),
// the side nav (a top bar on narrow screens) and the main landmark, which takes focus on navigation.
import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { arrival, useAdmin } from "./context";
import { errorText } from "./format";
import type { AdminPage } from "./pages/types";
import { BASE, Link, navigate } from "./router";

function within(base: string, path: string): boolean {
  const parent = base.split("/").filter(Boolean);
  const child = path.split("/").filter(Boolean);
  return parent.length <= child.length && parent.every((segment, i) => segment === child[i]);
}

/** The one nav entry marked as the current page: the page itself when it is in the nav, else the
 * nav entry the page lives under (a booking under Bookings, a tenant under Tenants), the deepest one
 * (the overview, at the root, owns only itself). */
export function navOwner<R extends { path: string }>(nav: readonly R[], current: R | null, path: string): R | null {
  if (current && nav.includes(current)) return current;
  let owner: R | null = null;
  for (const route of nav) {
    if (route.path !== BASE && within(route.path, path) && (!owner || route.path.length > owner.path.length)) owner = route;
  }
  return owner;
}

export function Layout(props: { routes: readonly AdminPage[]; current: AdminPage | null; path: string; children: ComponentChildren }) {
  const { api, me, setMe } = useAdmin();
  const main = useRef<HTMLElement>(null);
  const first = useRef(true);
  const [signOutError, setSignOutError] = useState<string | null>(null);

  // A new page: focus its heading (or the main landmark), as a page load would start there.
  useEffect(() => {
    if (first.current) {
      first.current = false;
      // A page load keeps the browser's own start (the skip link is the first stop); signed in just
      // now, the focused field is gone: start on the page's heading.
      if (!arrival.bySignIn) return;
      arrival.bySignIn = false;
    }
    const heading = main.current?.querySelector<HTMLElement>("h1");
    if (heading && !heading.hasAttribute("tabindex")) heading.setAttribute("tabindex", "-1");
    (heading ?? main.current)?.focus();
  }, [props.path]);

  const business = me?.tenant?.name ?? (me?.role === "platform_admin" ? "MAIS platform" : "MAIS");
  const nav = props.routes.filter((r) => r.nav ?? !r.path.includes(":")).filter((r) => r.nav !== false);
  const owner = navOwner(nav, props.current, props.path);
  const isCurrent = (route: AdminPage) => route === owner;

  async function signOut() {
    setSignOutError(null);
    try {
      await api.signOut();
    } catch (error) {
      setSignOutError(`Signing out did not work: ${errorText(error)}`);
      return;
    }
    setMe(null);
    navigate(`${BASE}/sign-in`);
  }

  return (
    <div class="admin">
      <a
        class="skip-link"
        href="#main"
        onClick={(event) => {
          event.preventDefault();
          main.current?.focus();
        }}
      >
        Skip to content
      </a>
      <header class="admin-header">
        <p class="admin-business">{business}</p>
        <div class="admin-user">
          <span class="admin-email">{me?.email}</span>
          <button type="button" class="button secondary small" onClick={signOut}>
            Sign out
          </button>
        </div>
        {signOutError && (
          <p role="alert" class="alert admin-header-alert">
            {signOutError}
          </p>
        )}
      </header>
      <div class="admin-body">
        <nav class="admin-nav" aria-label="Dashboard">
          <ul>
            {nav.map((route) => (
              <li key={route.path}>
                <Link href={route.path === BASE ? `${BASE}/` : route.path} aria-current={isCurrent(route) ? "page" : undefined}>
                  {route.title}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <main id="main" class="admin-main" tabIndex={-1} ref={main}>
          {props.children}
        </main>
      </div>
    </div>
  );
}
