// Each page, rendered with typical answers, has no axe violation that happy-dom can judge (names,
// labels, roles, ids; colour contrast needs a real browser and is left to the browser suite).
import axe from "axe-core";
import { describe, expect, it } from "vitest";
import { Catalog } from "./Catalog";
import { Exports } from "./Exports";
import { Payments } from "./Payments";
import { PlatformStats } from "./PlatformStats";
import { PlatformTenants } from "./PlatformTenants";
import { PlatformWebhooks } from "./PlatformWebhooks";
import type { PageProps } from "./request";
import { Settings } from "./Settings";
import { Team } from "./Team";
import { button, click, fakeRequest, field, mount } from "./testing";
import type { ComponentType } from "preact";

const PKG = { id: "p1", slug: "full", title: "Full day", description: "", priceCents: 240000, currency: "usd", active: true, sortOrder: 0, photos: [], segmentId: null, maxGuests: null, version: 3 };
const TENANT = {
  id: "t1", slug: "rose", name: "Rose", active: true, currency: "usd", timezone: "UTC", contactEmail: "", commissionPercent: 10,
  branding: { primaryColor: "#ffee00", secondaryColor: "", logoUrl: null, font: "" },
  policy: { minNoticeDays: 2, maxAdvanceDays: 0, holdMinutes: 30, reminderDays: 7, coupleCancelDays: 30, maxLiveHoldsPerEmail: 0, maxLiveHoldsPerAddress: 0 },
  allowedOrigins: ["https://rose.test"], connectState: "not_started", stripeAccountId: null, version: 1,
};
const EVENT = { id: "e1", stripeEventId: "evt_1", type: "charge.refunded", status: "FAILED", attempts: 1, lastError: "X", bookingId: null, receivedAt: null, processedAt: null, tenantId: "t1" };
const { request } = fakeRequest({
  "GET /v1/tenant-admin/settings": TENANT,
  "GET /v1/tenant-admin/stripe/connect": { connectState: "not_started", stripeAccountId: null },
  "GET /v1/tenant-admin/packages*": { items: [PKG], nextCursor: "n" },
  "GET /v1/tenant-admin/segments*": { items: [], nextCursor: null },
  "GET /v1/tenant-admin/add-ons*": { items: [], nextCursor: null },
  "GET /v1/tenant-admin/payments/events*": { items: [EVENT], nextCursor: null },
  "GET /v1/tenant-admin/users*": { items: [{ id: "u1", email: "a@rose.test", role: "tenant_admin", active: true, createdAt: null }], nextCursor: null },
  "GET /v1/tenant-admin/calendar-feed": { url: "https://x.test/v1/calendar-feeds/a.ics" },
  "GET /v1/admin/tenants*": { items: [TENANT], nextCursor: null },
  "GET /v1/admin/stats": { tenants: { total: 1, active: 1, connectOnboarded: 0 }, bookings: { liveHolds: 0, confirmed: 1, upcoming: 1, released: 0, cancelled: 0 }, money: [], failedStripeEvents: 0, byMonth: [{ month: "2027-05", bookings: { held: 0, confirmed: 1, released: 0, cancelled: 0 }, money: [{ currency: "usd", grossCents: 100000, refundedCents: 0, feeCents: 10000 }] }] },
  "GET /v1/admin/webhook-health": { failed: 1, deadLetters: 0, oldestUnprocessedAt: null, tenants: [{ tenantId: "t1", failed: 1 }] },
  "GET /v1/admin/payments/events*": { items: [EVENT], nextCursor: null },
});

const PAGES: [string, ComponentType<PageProps>][] = [
  ["Catalog", Catalog], ["Settings", Settings], ["Payments", Payments], ["Team", Team], ["Exports", Exports],
  ["PlatformTenants", PlatformTenants], ["PlatformStats", PlatformStats], ["PlatformWebhooks", PlatformWebhooks],
];

async function violations(root: HTMLElement) {
  const result = await axe.run(root, { rules: { "color-contrast": { enabled: false }, region: { enabled: false } } });
  return result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.html).join(" ")}`);
}

describe("axe", () => {
  for (const [name, Page] of PAGES) {
    it(`${name} has no violations`, async () => {
      const root = await mount(<Page request={request} />);
      expect(await violations(root)).toEqual([]);
    });
  }

  it("the catalog's editor has no violations", async () => {
    const root = await mount(<Catalog request={request} />);
    await click(button(root, "Edit Full day"));
    expect(await violations(root)).toEqual([]);
  });

  it("the catalog's editor with a time slot's terms open has no violations", async () => {
    const root = await mount(<Catalog request={request} />);
    await click(button(root, "Edit Full day"));
    await click(field(root, "Time slot"));
    expect(field(root, "Duration (minutes)").value).toBe("60");
    expect(await violations(root)).toEqual([]);
  });
});
