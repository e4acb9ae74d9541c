// The booking page's "Reschedule" section against a fake server: a whole-day booking moves to a date;
// a time-slot booking to one of the day's free times, read from the couples' slots route with the
// business's public key; one Idempotency-Key per target (a retry reuses it); the outcome in words;
// a refusal changes nothing on the page. And the calendar's day panel shows slot bookings' times.
import axe from "axe-core";
import type { ComponentChild } from "preact";
import { render } from "preact";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { longDate } from "../app/dates";
import type { AdminBooking } from "./api";
import { BookingDetail } from "./pages/BookingDetail";
import { byDay, Calendar } from "./pages/Calendar";
import { targetOf } from "./Reschedule";
import { button as buttonIn, click, field as fieldIn, submit as submitForm, text, type, type FakeServer, showSignedIn } from "./pages/testing";

const ME = {
  userId: "u1", email: "owner@rose.test", role: "tenant_admin" as const, tenantId: "t1", csrfToken: "csrf-1",
  tenant: { id: "t1", slug: "rose", name: "Rose & Thorn", active: true, timezone: "Europe/Berlin", currency: "eur", version: 1, policy: {} as never },
};
const DAY: AdminBooking = {
  id: "b1", status: "CONFIRMED", eventDate: "2027-06-15", coupleName: "Ana & Ben", email: "ana@x.test", phone: null, notes: null,
  packageId: "p1", totalCents: 120000, currency: "eur", kind: "DAY", startsAt: null, endsAt: null, resourceId: null,
  quote: { packageId: "p1", totalCents: 120000, currency: "eur", lines: [{ kind: "package", id: "p1", slug: "full", title: "Full day", priceCents: 120000 }] },
  amountPaidCents: 120000, amountRefundedCents: 0, holdExpiresAt: null, cancelReason: null, createdAt: null, updatedAt: null,
  customerId: "c1", paymentSessionId: null, history: [], schedule: null,
};
const SLOT: AdminBooking = {
  ...DAY, id: "b2", packageId: "p2", kind: "SLOT", eventDate: "2027-06-12", resourceId: "r1",
  startsAt: "2027-06-12T14:00:00+02:00", endsAt: "2027-06-12T15:30:00+02:00",
};
const slot = (time: string) => ({ startsAt: `2027-06-13T${time}:00+02:00`, endsAt: `2027-06-13T${time}:00+02:00`, date: "2027-06-13", time });

const fake: FakeServer = { routes: {}, calls: [] };
let root: HTMLElement;

const show = (node: ComponentChild) => showSignedIn(root, node, ME, "en-GB", fake);
const section = () => [...root.querySelectorAll("section")].find((s) => text(s.querySelector("h2")) === "Reschedule")!;
const moves = () => fake.calls.filter((c) => c.url.endsWith("/reschedule"));
const alerts = () => [...root.querySelectorAll('[role="alert"]')].map(text).filter(Boolean);
const said = () => [...root.querySelectorAll('[role="status"]')].map(text).filter(Boolean);

beforeEach(() => {
  fake.calls = [];
  fake.routes = {
    "GET /v1/tenant-admin/bookings/b1/ledger": () => ({ status: 404, body: { error: "NOT_FOUND", message: "no payment" } }),
    "GET /v1/tenant-admin/bookings/b2/ledger": () => ({ status: 404, body: { error: "NOT_FOUND", message: "no payment" } }),
    "GET /v1/tenant-admin/settings": () => ({ status: 200, body: { ...ME.tenant, publicKey: "pk_test_rose" } }),
  };
  root = document.createElement("div");
  document.body.append(root);
});
afterEach(() => {
  render(null, root);
  root.remove();
});

describe("rescheduling from the booking page", () => {
  it("moves a whole-day booking to a date, with an Idempotency-Key, and says so", async () => {
    let current = DAY;
    fake.routes["GET /v1/tenant-admin/bookings/b1"] = () => ({ status: 200, body: current });
    fake.routes["POST /v1/tenant-admin/bookings/b1/reschedule"] = (body) => {
      current = { ...DAY, eventDate: (body as { eventDate: string }).eventDate };
      return { status: 200, body: current };
    };
    await show(<BookingDetail params={{ id: "b1" }} />);
    const box = section();
    expect(text(box)).toContain(`Now: ${longDate("2027-06-15", "en-GB")}`);
    await type(fieldIn(box, "New date"), "2027-07-01");
    await type(fieldIn(box, "Reason (the couple sees it)"), "venue moved");
    await click(buttonIn(box, "Move the booking"));
    expect(moves()).toHaveLength(1);
    expect(moves()[0].body).toEqual({ eventDate: "2027-07-01", reason: "venue moved" });
    expect(moves()[0].headers["Idempotency-Key"]).toMatch(/^[0-9a-f]{32}$/);
    expect(said().join(" ")).toContain(`The booking is moved to ${longDate("2027-07-01", "en-GB")}. The couple is emailed.`);
    expect(text(root.querySelector("h1"))).toContain("1 July 2027");
  });

  it("asks for a day before sending anything", async () => {
    fake.routes["GET /v1/tenant-admin/bookings/b1"] = () => ({ status: 200, body: DAY });
    await show(<BookingDetail params={{ id: "b1" }} />);
    await submitForm(section().querySelector("form")!);
    expect(moves()).toHaveLength(0);
    expect(text(section())).toContain("Choose a day.");
    expect(fieldIn(section(), "New date").getAttribute("aria-invalid")).toBe("true");
  });

  it("offers a slot booking the day's free times from the public slots route and moves it to one", async () => {
    let current = SLOT;
    fake.routes["GET /v1/tenant-admin/bookings/b2"] = () => ({ status: 200, body: current });
    fake.routes["GET /v1/availability/slots"] = (_b, url) => {
      const q = new URL(url, "http://x").searchParams;
      expect([q.get("packageId"), q.get("from"), q.get("to")]).toEqual(["p2", "2027-06-13", "2027-06-13"]);
      return { status: 200, body: { packageId: "p2", resourceId: "r1", timezone: "Europe/Berlin", slots: [slot("10:00"), slot("11:30")] } };
    };
    fake.routes["POST /v1/tenant-admin/bookings/b2/reschedule"] = (body) => {
      const startsAt = (body as { startsAt: string }).startsAt;
      current = { ...SLOT, eventDate: "2027-06-13", startsAt, endsAt: "2027-06-13T13:00:00+02:00" };
      return { status: 200, body: current };
    };
    await show(<BookingDetail params={{ id: "b2" }} />);
    expect(text(root)).toContain(`${longDate("2027-06-12", "en-GB")}, 14:00\u201315:30 (Europe/Berlin)`);
    const box = section();
    await type(fieldIn(box, "New day"), "2027-06-13");
    const slotsCall = fake.calls.find((c) => c.url.startsWith("/v1/availability/slots"))!;
    expect(slotsCall.headers["X-Tenant-Key"]).toBe("pk_test_rose");
    expect(text(box.querySelector("legend"))).toBe("Free times (Europe/Berlin)");
    const radios = [...box.querySelectorAll<HTMLInputElement>('input[type="radio"]')];
    expect(radios.map((r) => text(r.closest("label")))).toEqual(["10:00", "11:30"]);
    // No time chosen yet: nothing is sent.
    await click(buttonIn(box, "Move the booking"));
    expect(moves()).toHaveLength(0);
    expect(text(box)).toContain("Choose a free time on that day.");
    await click(radios[1]);
    await click(buttonIn(section(), "Move the booking"));
    expect(moves()).toHaveLength(1);
    expect(moves()[0].body).toEqual({ startsAt: "2027-06-13T11:30:00+02:00", reason: "" });
    expect(said().join(" ")).toContain(`The booking is moved to ${longDate("2027-06-13", "en-GB")}, 11:30\u201313:00 (Europe/Berlin).`);
    const results = await axe.run(root, { rules: { "color-contrast": { enabled: false } } });
    expect(results.violations.map((v) => v.id)).toEqual([]);
  });

  it("says an empty day is empty, and a refused move in words, the booking unchanged", async () => {
    fake.routes["GET /v1/tenant-admin/bookings/b2"] = () => ({ status: 200, body: SLOT });
    let free = [slot("09:00")];
    fake.routes["GET /v1/availability/slots"] = () => ({ status: 200, body: { packageId: "p2", resourceId: "r1", timezone: "Europe/Berlin", slots: free } });
    fake.routes["POST /v1/tenant-admin/bookings/b2/reschedule"] = () => ({
      status: 409, body: { error: "SLOT_UNAVAILABLE", message: "that time was just taken" },
    });
    await show(<BookingDetail params={{ id: "b2" }} />);
    await type(fieldIn(section(), "New day"), "2027-06-13");
    await click(section().querySelector<HTMLInputElement>('input[type="radio"]')!);
    await click(buttonIn(section(), "Move the booking"));
    await click(buttonIn(section(), "Move the booking"));
    expect(moves()).toHaveLength(2);
    // A definite refusal: the retry is a new request.
    expect(moves()[0].headers["Idempotency-Key"]).not.toBe(moves()[1].headers["Idempotency-Key"]);
    expect(alerts().join(" ")).toContain("The booking was not moved: That time was just taken");
    expect(text(root)).toContain(`Now: ${longDate("2027-06-12", "en-GB")}, 14:00\u201315:30`);
    free = [];
    await type(fieldIn(section(), "New day"), "2027-06-14");
    expect(text(section())).toContain("No free time on this day.");
  });

  it("checks the target before sending", () => {
    expect(targetOf(false, "", "")).toEqual({ field: "eventDate", error: "Choose a day." });
    expect(targetOf(false, "2027-01-02", "")).toEqual({ target: { eventDate: "2027-01-02" } });
    expect(targetOf(true, "2027-01-02", "")).toEqual({ field: "startsAt", error: "Choose a free time on that day." });
    expect(targetOf(true, "2027-01-02", "2027-01-02T10:00:00+01:00")).toEqual({ target: { startsAt: "2027-01-02T10:00:00+01:00" } });
  });
});

describe("the calendar's slot bookings", () => {
  it("keeps a day's bookings in time order", () => {
    const late = { ...SLOT, id: "late", startsAt: "2027-06-12T16:00:00+02:00", endsAt: "2027-06-12T17:30:00+02:00" };
    const data = byDay([late, SLOT], []);
    expect(data.bookings.get("2027-06-12")!.map((b) => b.id)).toEqual(["b2", "late"]);
  });

  it("shows a day's slot bookings with their times in the day panel, in time order", async () => {
    const late = { ...SLOT, id: "late", coupleName: "Cy & Di", startsAt: "2027-06-12T16:00:00+02:00", endsAt: "2027-06-12T17:30:00+02:00" };
    fake.routes["GET /v1/tenant-admin/bookings"] = () => ({ status: 200, body: { items: [late, SLOT], nextCursor: null } });
    fake.routes["GET /v1/tenant-admin/blackouts"] = () => ({ status: 200, body: { items: [], nextCursor: null } });
    history.replaceState(null, "", "/admin/calendar?month=2027-06");
    await show(<Calendar />);
    await click(root.querySelector<HTMLButtonElement>('[data-date="2027-06-12"]')!);
    const panel = root.querySelector(".day-panel")!;
    expect([...panel.querySelectorAll("li")].map(text)).toEqual([
      "14:00\u201315:30 Ana & Ben \u2014 Full day (Confirmed)",
      "16:00\u201317:30 Cy & Di \u2014 Full day (Confirmed)",
    ]);
    expect(text(root.querySelector('[data-date="2027-06-12"] + .day-items'))).toBe("14:00 Ana & Ben16:00 Cy & Di");
  });
});
