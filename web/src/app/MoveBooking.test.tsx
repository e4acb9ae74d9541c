// Moving a booking from the couple's manage page, against the real API client over a mocked fetch:
// a whole day picks another date in the widget's calendar, a time slot another start in its day view;
// the move is POSTed with the signed token and an Idempotency-Key, and its answer or refusal is said in
// words; outside the cancellation window the page says whom to ask.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createApi, type CoupleBooking, type Slot } from "../shared/api";
import type { AppContext } from "./context";
import { gateway, type Sent, noEmbed, screen, violations } from "./testing";

const ui = screen();
const { $, text, button, click } = ui;


const BRANDING = { primaryColor: "#1f4d3a", secondaryColor: "", logoUrl: null, font: "" };
const DAY_BOOKING: CoupleBooking = {
  id: "b1", status: "CONFIRMED", eventDate: "2026-12-30", kind: "DAY", startsAt: null, endsAt: null, coupleName: "Ana & Bo",
  email: "ana@example.com", phone: null, notes: null, packageId: "p-day", totalCents: 200000, currency: "eur",
  quote: { packageId: "p-day", lines: [{ kind: "package", id: "p-day", slug: "day", title: "Full day", priceCents: 200000 }], totalCents: 200000, currency: "eur" },
  amountPaidCents: 200000, amountRefundedCents: 0, holdExpiresAt: null, cancelReason: null, packageTitle: "Full day",
  business: {
    name: "Studio Licht", slug: "studio", branding: BRANDING, timezone: "Europe/Berlin", contactEmail: "hello@studio.example",
    publicKey: "pk_test_studio", policy: { minNoticeDays: 2, maxAdvanceDays: 90 },
  },
  cancellation: { allowedNow: true, lastDay: "2026-12-21", refundCents: 200000 },
} as CoupleBooking;
const slot = (date: string, start: string, end: string): Slot => ({
  startsAt: `${date}T${start}:00+01:00`, endsAt: `${date}T${end}:00+01:00`, date, time: start,
});
const SLOT_BOOKING: CoupleBooking = {
  ...DAY_BOOKING, kind: "SLOT", eventDate: "2026-12-14", startsAt: "2026-12-14T10:00:00+01:00", endsAt: "2026-12-14T11:30:00+01:00",
  packageId: "p-slot", packageTitle: "Portrait session",
};
const FREE = [slot("2026-12-16", "09:00", "10:30"), slot("2026-12-16", "13:00", "14:30")];


async function mount(fetchImpl: typeof fetch) {
  const api = createApi({ fetch: fetchImpl });
  const context: AppContext = { api, embed: noEmbed, config: { page: "manage", embedded: false, bookingId: "b1" }, locale: "en-GB", assign: () => {} };
  await ui.mount(context);
}


const day = (iso: string) => $<HTMLButtonElement>(`button[data-date="${iso}"]`)!;
const radio = (startsAt: string) => $<HTMLInputElement>(`input[type=radio][name=slot][value="${startsAt}"]`)!;


beforeEach(() => {
  ui.open();
  history.replaceState(null, "", "/booking/b1?token=tok");
});

afterEach(() => ui.close());

const reschedules = (server: { sent: Sent[] }) => server.sent.filter((s) => s.method === "POST" && s.path === "/v1/bookings/b1/reschedule");

describe("moving a whole-day booking", () => {
  it("picks another date in the availability calendar with the business's key and says the new date", async () => {
    let current = DAY_BOOKING;
    const server = gateway({
      "GET /v1/bookings/b1": () => [200, current],
      "GET /v1/availability/calendar": (s) => [200, { from: s.query.get("from"), to: s.query.get("to"), unavailable: [{ date: "2026-12-19", reason: "booked" }] }],
      "POST /v1/bookings/b1/reschedule": (s) => {
        const { business: _b, cancellation: _c, packageTitle: _p, ...json } = DAY_BOOKING;
        current = { ...DAY_BOOKING, eventDate: (s.body as { eventDate: string }).eventDate };
        return [200, { ...json, eventDate: current.eventDate }];
      },
    });
    await mount(server.impl);
    expect(text($(".move-booking h2"))).toBe("Move to another date");
    expect(server.sent.some((s) => s.path === "/v1/availability/calendar")).toBe(false);
    await click(button("Choose another date"));
    const asked = server.sent.find((s) => s.path === "/v1/availability/calendar")!;
    expect(asked.headers["X-Tenant-Key"]).toBe("pk_test_studio");
    expect(day("2026-12-19").getAttribute("aria-label")).toContain("unavailable");
    expect(day("2026-12-11").getAttribute("aria-label")).toContain("unavailable: out of range");
    expect(await violations(ui.root)).toEqual([]);
    await click(day("2026-12-22"));
    await click(button("Move my booking to this date"));
    const [move] = reschedules(server);
    expect(move.query.get("token")).toBe("tok");
    expect(move.body).toEqual({ eventDate: "2026-12-22" });
    expect(move.headers["Idempotency-Key"]).toMatch(/.{8,}/);
    expect(move.headers["X-Tenant-Key"]).toBeUndefined();
    expect(text($(".move-booking [role=status]"))).toBe(
      "Your booking is moved to Tuesday, 22 December 2026. An email with the new date is on its way.",
    );
    expect(text($(".booking-facts"))).toContain("DateTuesday, 22 December 2026Package");
    expect(await violations(ui.root)).toEqual([]);
  });

  it("says a date taken meanwhile is no longer free, and a retry of another date uses a new key", async () => {
    let refuse = true;
    const server = gateway({
      "GET /v1/bookings/b1": () => [200, DAY_BOOKING],
      "GET /v1/availability/calendar": (s) => [200, { from: s.query.get("from"), to: s.query.get("to"), unavailable: [] }],
      "POST /v1/bookings/b1/reschedule": () =>
        refuse ? [409, { error: "DATE_UNAVAILABLE", message: "2026-12-22 is not available", details: { why: "booked" } }] : [200, { ...DAY_BOOKING, eventDate: "2026-12-23" }],
    });
    await mount(server.impl);
    await click(button("Choose another date"));
    await click(day("2026-12-22"));
    await click(button("Move my booking to this date"));
    expect(text($(".move-booking [role=alert]"))).toBe("That date is no longer free. Please choose another date.");
    expect(day("2026-12-22").getAttribute("aria-label")).toContain("unavailable");
    expect(text($(".booking-facts"))).toContain("Wednesday, 30 December 2026");
    refuse = false;
    await click(day("2026-12-23"));
    await click(button("Move my booking to this date"));
    const [first, second] = reschedules(server);
    expect(second.headers["Idempotency-Key"]).not.toBe(first.headers["Idempotency-Key"]);
    expect(text($(".move-booking [role=status]"))).toContain("Wednesday, 23 December 2026");
  });

  it("says moving is no longer possible when the window closed meanwhile, and whom to ask", async () => {
    let current = DAY_BOOKING;
    const server = gateway({
      "GET /v1/bookings/b1": () => [200, current],
      "GET /v1/availability/calendar": (s) => [200, { from: s.query.get("from"), to: s.query.get("to"), unavailable: [] }],
      "POST /v1/bookings/b1/reschedule": () => {
        current = { ...DAY_BOOKING, cancellation: { allowedNow: false, lastDay: "2026-12-09", refundCents: 0 } };
        return [409, { error: "CANCELLATION_WINDOW_CLOSED", message: "too late" }];
      },
    });
    await mount(server.impl);
    await click(button("Choose another date"));
    await click(day("2026-12-22"));
    await click(button("Move my booking to this date"));
    expect(text($(".move-closed"))).toBe("Moving this booking yourself is no longer possible; please ask Studio Licht at hello@studio.example to move it.");
    expect($(".move-booking")).toBeNull();
  });

  it("outside the window offers no move, only whom to ask", async () => {
    const closed = { ...DAY_BOOKING, cancellation: { allowedNow: false, lastDay: "2026-12-01", refundCents: 0 } };
    const server = gateway({ "GET /v1/bookings/b1": () => [200, closed] });
    await mount(server.impl);
    expect($(".move-booking")).toBeNull();
    expect(text($(".move-closed"))).toContain("please ask Studio Licht at hello@studio.example to move it");
    expect(await violations(ui.root)).toEqual([]);
  });
});

describe("moving a time-slot booking", () => {
  it("picks another start in the widget's day view and says the new time", async () => {
    const server = gateway({
      "GET /v1/bookings/b1": () => [200, SLOT_BOOKING],
      "GET /v1/availability/slots": () => [200, { packageId: "p-slot", resourceId: "r1", timezone: "Europe/Berlin", slots: FREE }],
      "POST /v1/bookings/b1/reschedule": (s) => {
        const startsAt = (s.body as { startsAt: string }).startsAt;
        return [200, { ...SLOT_BOOKING, eventDate: "2026-12-16", startsAt, endsAt: "2026-12-16T14:30:00+01:00" }];
      },
    });
    await mount(server.impl);
    expect(text($(".move-booking h2"))).toBe("Move to another time");
    await click(button("Choose another time"));
    const asked = server.sent.find((s) => s.path === "/v1/availability/slots")!;
    expect(asked.query.get("packageId")).toBe("p-slot");
    expect(asked.headers["X-Tenant-Key"]).toBe("pk_test_studio");
    await click(day("2026-12-16"));
    await click(radio("2026-12-16T13:00:00+01:00"));
    expect(await violations(ui.root)).toEqual([]);
    await click(button("Move my booking to this time"));
    expect(reschedules(server)[0].body).toEqual({ startsAt: "2026-12-16T13:00:00+01:00" });
    expect(text($(".move-booking [role=status]"))).toBe(
      "Your booking is moved to Wednesday, 16 December 2026, 13:00–14:30 (Europe/Berlin). An email with the new time is on its way.",
    );
  });

  it("says a start taken meanwhile is no longer free and stops offering it", async () => {
    const server = gateway({
      "GET /v1/bookings/b1": () => [200, SLOT_BOOKING],
      "GET /v1/availability/slots": () => [200, { packageId: "p-slot", resourceId: "r1", timezone: "Europe/Berlin", slots: FREE }],
      "POST /v1/bookings/b1/reschedule": () => [409, { error: "DATE_UNAVAILABLE", message: "taken", details: { why: "booked" } }],
    });
    await mount(server.impl);
    await click(button("Choose another time"));
    await click(day("2026-12-16"));
    await click(radio("2026-12-16T09:00:00+01:00"));
    await click(button("Move my booking to this time"));
    expect(text($(".move-booking [role=alert]"))).toBe("That time is no longer free. Please choose another time.");
    expect(radio("2026-12-16T09:00:00+01:00")).toBeNull();
    expect(radio("2026-12-16T13:00:00+01:00")).not.toBeNull();
  });
});
