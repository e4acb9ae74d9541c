import { render } from "preact";
import { act } from "preact/test-utils";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Link, matchPath, navigate, normalize, resolve, safeNext, signInPath, useLocation } from "./router";

describe("matchPath", () => {
  it("matches literal paths, ignoring a trailing slash", () => {
    expect(matchPath("/admin", "/admin/")).toEqual({});
    expect(matchPath("/admin/bookings", "/admin/bookings/")).toEqual({});
    expect(matchPath("/admin/bookings", "/admin/calendar")).toBeNull();
    expect(normalize("/admin//")).toBe("/admin");
  });

  it("decodes :params and refuses a different depth", () => {
    expect(matchPath("/admin/bookings/:id", "/admin/bookings/b%201")).toEqual({ id: "b 1" });
    expect(matchPath("/admin/bookings/:id", "/admin/bookings")).toBeNull();
    expect(matchPath("/admin/bookings/:id", "/admin/bookings/b1/x")).toBeNull();
    expect(matchPath("/admin/bookings/:id", "/admin/bookings/%E0%A4%A")).toBeNull();
  });

  it("resolves to the first route that matches", () => {
    const routes = [{ path: "/admin/platform", name: "a" }, { path: "/admin/platform/tenants/:id", name: "b" }];
    expect(resolve(routes, "/admin/platform/tenants/t1")).toEqual({ route: routes[1], params: { id: "t1" } });
    expect(resolve(routes, "/admin/nope")).toBeNull();
  });
});

describe("return path after sign-in", () => {
  it("keeps only the dashboards' own paths", () => {
    expect(safeNext("/admin/bookings?status=HELD")).toBe("/admin/bookings?status=HELD");
    expect(safeNext("/admin")).toBe("/admin");
    expect(safeNext("https://evil.example/admin")).toBeNull();
    expect(safeNext("//evil.example/admin")).toBeNull();
    expect(safeNext("/adminevil")).toBeNull();
    expect(safeNext("/admin\\@evil")).toBeNull();
    expect(safeNext("/admin/sign-in?next=/admin")).toBeNull();
    expect(safeNext(null)).toBeNull();
  });

  it("builds the sign-in address with the page to come back to", () => {
    expect(signInPath({ path: "/admin/bookings/b1", search: "?x=1", hash: "#frag" })).toBe(
      "/admin/sign-in?next=%2Fadmin%2Fbookings%2Fb1%3Fx%3D1",
    );
    expect(signInPath({ path: "/admin", search: "", hash: "" })).toBe("/admin/sign-in");
  });
});

describe("navigation", () => {
  let root: HTMLElement;
  beforeEach(() => {
    window.history.replaceState(null, "", "/admin/");
    root = document.createElement("div");
    document.body.append(root);
  });
  afterEach(() => {
    render(null, root);
    root.remove();
  });

  function Where() {
    const location = useLocation();
    return (
      <p>
        <span id="where">{location.path + location.search}</span>
        <Link href="/admin/calendar">Calendar</Link>
      </p>
    );
  }

  it("navigate() pushes history and re-renders every useLocation; back comes back", async () => {
    await act(() => render(<Where />, root));
    expect(root.querySelector("#where")!.textContent).toBe("/admin");
    const before = window.history.length;
    await act(() => navigate("/admin/bookings?status=HELD"));
    expect(window.location.pathname).toBe("/admin/bookings");
    expect(window.history.length).toBe(before + 1);
    expect(root.querySelector("#where")!.textContent).toBe("/admin/bookings?status=HELD");
    await act(() => navigate("/admin/calendar", { replace: true }));
    expect(window.history.length).toBe(before + 1);
    expect(root.querySelector("#where")!.textContent).toBe("/admin/calendar");
  });

  it("a plain click on a Link stays in the page; a ctrl-click is left to the browser", async () => {
    await act(() => render(<Where />, root));
    const link = root.querySelector("a")!;
    const plain = new MouseEvent("click", { bubbles: true, cancelable: true, button: 0 });
    await act(() => {
      link.dispatchEvent(plain);
    });
    expect(plain.defaultPrevented).toBe(true);
    expect(root.querySelector("#where")!.textContent).toBe("/admin/calendar");
    await act(() => navigate("/admin"));
    const ctrl = new MouseEvent("click", { bubbles: true, cancelable: true, button: 0, ctrlKey: true });
    link.dispatchEvent(ctrl);
    expect(ctrl.defaultPrevented).toBe(false);
  });
});
