import { beforeEach, describe, expect, it } from "vitest";
import { ApiError } from "../../shared/api";
import { exportLink, Exports, thisYear } from "./Exports";
import { Payments, replayOutcome } from "./Payments";
import { healthLine, PlatformWebhooks } from "./PlatformWebhooks";
import { Team } from "./Team";
import { alertText, button, click, fakeRequest, field, mount, statusText, submit, text, type } from "./testing";

const EVENT = { id: "e1", stripeEventId: "evt_1", type: "checkout.session.completed", status: "FAILED", attempts: 3, lastError: "BOOKING_NOT_FOUND", bookingId: "b1", receivedAt: "2026-11-30T10:00:00Z", processedAt: null };

beforeEach(() => void (document.body.innerHTML = ""));

describe("Payments", () => {
  it("words a replay's end", () => {
    expect(replayOutcome({ ...EVENT, status: "PROCESSED" } as never)).toEqual({ ok: true, text: "The event evt_1 was processed." });
    expect(replayOutcome(EVENT as never)).toEqual({ ok: false, text: "The event evt_1 failed again: BOOKING_NOT_FOUND." });
  });

  it("filters by state, replays a failed event and shows how it ended", async () => {
    const fake = fakeRequest({
      "GET /v1/tenant-admin/payments/events?limit=25": { items: [EVENT, { ...EVENT, id: "e2", stripeEventId: "evt_2", status: "PROCESSED" }], nextCursor: null },
      "GET /v1/tenant-admin/payments/events?status=FAILED&limit=25": { items: [EVENT], nextCursor: null },
      "POST /v1/tenant-admin/payments/events/e1/replay": { ...EVENT, status: "PROCESSED", attempts: 4, lastError: null },
    });
    const root = await mount(<Payments request={fake.request} />);
    expect(root.querySelectorAll("tbody tr").length).toBe(2);
    expect(() => button(root, "Replay evt_2")).toThrow();
    const select = field(root, "Show") as unknown as HTMLSelectElement;
    await type(select as unknown as HTMLInputElement, "FAILED");
    expect(root.querySelectorAll("tbody tr").length).toBe(1);
    await click(button(root, "Replay evt_1"));
    expect(statusText(root)).toContain("The event evt_1 was processed.");
    expect(text(root.querySelector("tbody"))).toContain("Processed");
  });

  it("shows a refused replay in words", async () => {
    const fake = fakeRequest({
      "GET /v1/tenant-admin/payments/events?limit=25": { items: [EVENT], nextCursor: null },
      "POST /v1/tenant-admin/payments/events/e1/replay": () => {
        throw new ApiError(409, "FAILED_PRECONDITION", "the event was already processed");
      },
    });
    const root = await mount(<Payments request={fake.request} />);
    await click(button(root, "Replay evt_1"));
    expect(alertText(root)).toContain("The event was already processed");
  });
});

describe("Team", () => {
  const USERS = { items: [{ id: "u1", email: "me@rose.test", role: "tenant_admin", active: true, createdAt: null }], nextCursor: null };

  it("invites with an idempotency key, and says so", async () => {
    const fake = fakeRequest({
      "GET /v1/tenant-admin/users?limit=25": USERS,
      "POST /v1/tenant-admin/users": { id: "u2", email: "new@rose.test", role: "tenant_admin", active: false, createdAt: null },
    });
    const root = await mount(<Team request={fake.request} />);
    await type(field(root, "Email"), "not-an-email");
    await submit(field(root, "Email").closest("form")!);
    expect(text(field(root, "Email").closest(".field"))).toContain("Write an email address");
    expect(fake.calls.some((c) => c.method === "POST")).toBe(false);
    await type(field(root, "Email"), "new@rose.test");
    await submit(field(root, "Email").closest("form")!);
    const post = fake.calls.find((c) => c.method === "POST")!;
    expect(post.body).toEqual({ email: "new@rose.test" });
    expect(post.headers?.["Idempotency-Key"]).toMatch(/^[0-9a-f]{32}$/);
    expect(statusText(root)).toContain("An invitation was sent to new@rose.test.");
  });

  it("removing the last admin shows the API's refusal", async () => {
    const fake = fakeRequest({
      "GET /v1/tenant-admin/users?limit=25": USERS,
      "DELETE /v1/tenant-admin/users/u1": () => {
        throw new ApiError(409, "FAILED_PRECONDITION", "the business needs at least one active admin");
      },
    });
    const root = await mount(<Team request={fake.request} />);
    await click(button(root, "Remove me@rose.test"));
    await click(button(root, "Yes, remove"));
    expect(alertText(root)).toContain("The business needs at least one active admin");
  });
});

describe("Exports", () => {
  it("checks the range as the API does", () => {
    expect(exportLink("2026-01-01", "2026-12-31")).toEqual({ href: "/v1/tenant-admin/exports/bookings.csv?from=2026-01-01&to=2026-12-31" });
    expect(exportLink("2024-01-01", "2024-12-31")).toHaveProperty("href"); // 366 days (leap year)
    expect(exportLink("2026-01-01", "2027-01-02")).toEqual({ error: "At most 366 days at a time.", field: "to" });
    expect(exportLink("2026-02-01", "2026-01-01")).toEqual({ error: "The last date comes before the first.", field: "to" });
    expect(exportLink("", "2026-01-01")).toMatchObject({ field: "from" });
    expect(thisYear(new Date(2026, 5, 1))).toEqual({ from: "2026-01-01", to: "2026-12-31" });
  });

  it("links the CSV for the range and rotates the feed", async () => {
    const fake = fakeRequest({
      "GET /v1/tenant-admin/calendar-feed": { url: "https://book.test/v1/calendar-feeds/old.ics" },
      "POST /v1/tenant-admin/calendar-feed/rotate": { url: "https://book.test/v1/calendar-feeds/new.ics" },
    });
    const root = await mount(<Exports request={fake.request} />);
    await type(field(root, "From (event date)"), "2026-03-01");
    await type(field(root, "To (event date)"), "2026-06-30");
    const link = [...root.querySelectorAll("a")].find((a) => text(a) === "Download the CSV")!;
    expect(link.getAttribute("href")).toBe("/v1/tenant-admin/exports/bookings.csv?from=2026-03-01&to=2026-06-30");
    expect(field(root, "Feed address").value).toBe("https://book.test/v1/calendar-feeds/old.ics");
    await click(button(root, "Rotate the address"));
    await click(button(root, "Yes, rotate"));
    expect(field(root, "Feed address").value).toBe("https://book.test/v1/calendar-feeds/new.ics");
    expect(statusText(root)).toContain("the old one has stopped working");
    await type(field(root, "To (event date)"), "2026-02-01");
    expect([...root.querySelectorAll("a")].some((a) => text(a) === "Download the CSV")).toBe(false);
    expect(text(field(root, "To (event date)").closest(".field"))).toContain("The last date comes before the first.");
  });
});

describe("PlatformWebhooks", () => {
  it("sums up the inbox's health", () => {
    const now = Date.parse("2026-12-01T12:00:00Z");
    expect(healthLine({ failed: 0, deadLetters: 0, oldestUnprocessedAt: null, tenants: [] }, now).ok).toBe(true);
    expect(healthLine({ failed: 0, deadLetters: 0, oldestUnprocessedAt: "2026-12-01T11:59:00Z", tenants: [] }, now).ok).toBe(true);
    expect(healthLine({ failed: 2, deadLetters: 1, oldestUnprocessedAt: "2026-12-01T09:00:00Z", tenants: [] }, now).text).toBe(
      "Needs a look: 2 failed events, 1 dead letter (Stripe stopped retrying), an event waiting 3 hours.",
    );
  });

  it("shows failures per tenant and the failed events", async () => {
    const fake = fakeRequest({
      "GET /v1/admin/webhook-health": { failed: 1, deadLetters: 0, oldestUnprocessedAt: null, tenants: [{ tenantId: "t1", failed: 1 }] },
      "GET /v1/admin/payments/events?status=FAILED&limit=25": { items: [{ ...EVENT, tenantId: "t1" }], nextCursor: null },
    });
    const root = await mount(<PlatformWebhooks request={fake.request} />);
    expect(text(root)).toContain("Needs a look: 1 failed event.");
    expect(root.querySelector('a[href="/admin/platform/tenants/t1"]')).not.toBeNull();
    expect(text(root.querySelector("section[aria-labelledby='failed-events'] tbody"))).toContain("BOOKING_NOT_FOUND");
  });
});
