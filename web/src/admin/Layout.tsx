// The signed-in frame: a skip link, the header (the business's name, who is signed in, Sign out),
// the side nav (a top bar on narrow screens) and the main landmark, which takes focus on navigation.
import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { useAdmin } from "./context";
import { errorText } from "./format";
import type { AdminPage } from "./pages/types";
import { BASE, Link, matchPath, navigate } from "./router";

export function Layout(props: { routes: readonly AdminPage[]; current: AdminPage | null; path: string; children: ComponentChildren }) {
  const { api, me, setMe } = useAdmin();
  const main = useRef<HTMLElement>(null);
  const first = useRef(true);
  const [signOutError, setSignOutError] = useState<string | null>(null);

  // A new page: focus its heading (or the main landmark), as a page load would start there.
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    const heading = main.current?.querySelector<HTMLElement>("h1");
    if (heading && !heading.hasAttribute("tabindex")) heading.setAttribute("tabindex", "-1");
    (heading ?? main.current)?.focus();
  }, [props.path]);

  const business = me?.tenant?.name ?? (me?.role === "platform_admin" ? "MAIS platform" : "MAIS");
  const nav = props.routes.filter((r) => r.nav ?? !r.path.includes(":")).filter((r) => r.nav !== false);
  const isCurrent = (route: AdminPage) =>
    route === props.current || (route.path !== BASE && matchPath(`${route.path}/:id`, props.path) !== null);

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
