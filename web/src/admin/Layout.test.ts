import { describe, expect, it } from "vitest";
import { navOwner } from "./Layout";

const overview = { path: "/admin" };
const bookings = { path: "/admin/bookings" };
const booking = { path: "/admin/bookings/:id" };
const tenants = { path: "/admin/platform" };
const tenant = { path: "/admin/platform/tenants/:id" };
const stats = { path: "/admin/platform/stats" };
const nav = [overview, bookings, tenants, stats];

describe("the nav's current page", () => {
  it("is the page itself when the nav lists it, never also the page above it", () => {
    expect(navOwner(nav, stats, "/admin/platform/stats")).toBe(stats);
    expect(navOwner(nav, tenants, "/admin/platform")).toBe(tenants);
    expect(navOwner(nav, overview, "/admin")).toBe(overview);
  });

  it("is the entry a page lives under otherwise", () => {
    expect(navOwner(nav, booking, "/admin/bookings/b1")).toBe(bookings);
    expect(navOwner(nav, tenant, "/admin/platform/tenants/t1")).toBe(tenants);
  });

  it("is none for a page under no entry (the overview owns only itself)", () => {
    expect(navOwner(nav, null, "/admin/nowhere")).toBeNull();
  });
});
