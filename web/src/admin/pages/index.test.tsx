// The registration: every page of admin-ui-2 under its path and role, bound to the shell's client.
import { describe, expect, it } from "vitest";
import { Admin, type AdminContext } from "../context";
import { pages } from "./index";
import { mount, text } from "./testing";

describe("registered pages", () => {
  it("lists each page once under /admin with its role", () => {
    const paths = pages.map((p) => p.path);
    expect(new Set(paths).size).toBe(paths.length);
    expect(paths.every((p) => p.startsWith("/admin/"))).toBe(true);
    expect(pages.filter((p) => p.path.startsWith("/admin/platform")).every((p) => p.role === "platform_admin")).toBe(true);
    expect(pages.filter((p) => !p.path.startsWith("/admin/platform")).every((p) => p.role === "tenant_admin")).toBe(true);
  });

  it("calls the shell's client with the method, path and body", async () => {
    const calls: { path: string; spec: unknown }[] = [];
    const api = {
      request: async (path: string, spec: unknown) => {
        calls.push({ path, spec });
        return { tenants: { total: 1, active: 1, connectOnboarded: 0 }, bookings: { liveHolds: 0, confirmed: 2, upcoming: 1, released: 0, cancelled: 0 }, money: [], failedStripeEvents: 0, byMonth: [] };
      },
    };
    const context = { api, me: null, locale: "en", refreshMe: async () => undefined, setMe: () => undefined } as unknown as AdminContext;
    const Stats = pages.find((p) => p.path === "/admin/platform/stats")!.component;
    const root = await mount(
      <Admin.Provider value={context}>
        <Stats params={{}} />
      </Admin.Provider>,
    );
    expect(calls).toEqual([{ path: "/v1/admin/stats", spec: { method: "GET", body: undefined, headers: undefined } }]);
    expect(text(root.querySelector("h1"))).toBe("Platform statistics");
  });
});
