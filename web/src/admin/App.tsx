// The dashboards' shell: who is signed in (GET /v1/auth/me), which page the address names, and the
// rules between them: the signed-out pages for anybody, every other page only signed in (else sign-in,
// and back here afterwards), and only for its role (a tenant admin on a platform page reads "Not found").
import { useEffect, useMemo, useState } from "preact/hooks";
import type { AdminApi, Me } from "./api";
import { Admin, type AdminContext } from "./context";
import { errorText } from "./format";
import { Layout } from "./Layout";
import { BookingDetail } from "./pages/BookingDetail";
import { Bookings } from "./pages/Bookings";
import { Calendar } from "./pages/Calendar";
import { pages as registered } from "./pages/index";
import { NotFound, PlatformHome } from "./pages/NotFound";
import { Overview } from "./pages/Overview";
import { ForgotPassword, ResetPassword, SignIn } from "./pages/SignIn";
import type { AdminPage } from "./pages/types";
import { BASE, navigate, resolve, safeNext, signInPath, useLocation } from "./router";
import { LoadingLine } from "./ui";

export const SIGNED_OUT_EVENT = "mais:signed-out";

/** The shell's own pages; admin-ui-2's come from pages/index.ts. */
export const OWN_PAGES: AdminPage[] = [
  { path: BASE, title: "Overview", component: Overview, role: "tenant_admin" },
  { path: `${BASE}/bookings`, title: "Bookings", component: Bookings, role: "tenant_admin" },
  { path: `${BASE}/bookings/:id`, title: "Booking", component: BookingDetail, role: "tenant_admin", nav: false },
  { path: `${BASE}/calendar`, title: "Calendar", component: Calendar, role: "tenant_admin" },
  { path: BASE, title: "Platform", component: PlatformHome, role: "platform_admin", nav: false },
];

const SIGNED_OUT: Record<string, { title: string; render: () => preact.JSX.Element }> = {
  [`${BASE}/sign-in`]: { title: "Sign in", render: () => <SignIn /> },
  [`${BASE}/forgot-password`]: { title: "Forgot password", render: () => <ForgotPassword /> },
  [`${BASE}/reset-password`]: { title: "Reset password", render: () => <ResetPassword mode="reset" /> },
  [`${BASE}/set-password`]: { title: "Set your password", render: () => <ResetPassword mode="set" /> },
};

/** Every page the router knows: the shell's, then admin-ui-2's (a registered page never shadows the shell's). */
export function allPages(extra: readonly AdminPage[] = registered): AdminPage[] {
  return [...OWN_PAGES, ...extra];
}

/** Where a signed-in admin lands by default. */
export function homeOf(me: Me, routes: readonly AdminPage[]): string {
  if (me.role === "platform_admin" && routes.some((r) => r.role === "platform_admin" && r.path === `${BASE}/platform`)) {
    return `${BASE}/platform`;
  }
  return `${BASE}/`;
}

export function App({ api, locale, extraPages = registered }: { api: AdminApi; locale: string; extraPages?: readonly AdminPage[] }) {
  const location = useLocation();
  // undefined: not known yet; null: nobody is signed in.
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  const [problem, setProblem] = useState<string | null>(null);
  const routes = useMemo(() => allPages(extraPages), [extraPages]);

  const load = () =>
    api.me().then(
      (answer) => {
        setProblem(null);
        setMe(answer);
      },
      (error) => {
        setProblem(errorText(error));
        setMe(null);
      },
    );

  useEffect(() => {
    load();
    const ended = () => setMe(null);
    window.addEventListener(SIGNED_OUT_EVENT, ended);
    return () => window.removeEventListener(SIGNED_OUT_EVENT, ended);
  }, []);

  const signedOutPage = SIGNED_OUT[location.path];
  // Signed out on a signed-in page: to sign-in, keeping where the admin was.
  useEffect(() => {
    if (me === null && !signedOutPage && !problem) navigate(signInPath(location), { replace: true });
  }, [me, signedOutPage, location.path, location.search, problem]);
  // Signed in on the sign-in page (a second tab, the back button): on to where they were going.
  useEffect(() => {
    if (me && location.path === `${BASE}/sign-in`) {
      navigate(safeNext(new URLSearchParams(location.search).get("next")) ?? homeOf(me, routes), { replace: true });
    }
  }, [me, location.path]);
  // The platform admin's home is the tenants' list once it exists.
  useEffect(() => {
    if (me?.role === "platform_admin" && location.path === BASE && homeOf(me, routes) !== `${BASE}/`) {
      navigate(homeOf(me, routes), { replace: true });
    }
  }, [me, location.path]);

  const context: AdminContext = {
    api,
    me: me ?? null,
    locale,
    refreshMe: load,
    setMe,
  };

  let title = "MAIS admin";
  let body: preact.JSX.Element;
  if (signedOutPage && !(me && location.path === `${BASE}/sign-in`)) {
    title = signedOutPage.title;
    body = <div class="signed-out">{signedOutPage.render()}</div>;
  } else if (!me) {
    body = (
      <main class="signed-out" id="main">
        {problem ? (
          <>
            <h1>MAIS admin</h1>
            <p role="alert" class="alert">
              {problem}
            </p>
            <button type="button" class="button" onClick={() => load()}>
              Try again
            </button>
          </>
        ) : (
          <LoadingLine />
        )}
      </main>
    );
  } else {
    const mine = routes.filter((r) => r.role === me.role);
    const match = resolve(mine, location.path);
    const Page = match?.route.component ?? NotFound;
    title = match ? match.route.title : "Not found";
    body = (
      <Layout routes={mine} current={match?.route ?? null} path={location.path}>
        <Page params={match?.params ?? {}} />
      </Layout>
    );
  }

  useEffect(() => {
    const business = me?.tenant?.name ?? (me?.role === "platform_admin" ? "Platform" : "");
    document.title = [title, business, "MAIS admin"].filter(Boolean).filter((v, i, a) => a.indexOf(v) === i).join(" · ");
  }, [title, me]);

  return <Admin.Provider value={context}>{body}</Admin.Provider>;
}
