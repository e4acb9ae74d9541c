// A time-slot service in the couple's pages, against the real API client over a mocked fetch: the
// date step lists the chosen day's starts from GET /v1/availability/slots (the business's clock and
// zone, as the API writes them), checkout sends the chosen startsAt, a start just taken is not offered
// again, and the return and manage pages show the date with its start and end.
import { render } from "preact";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createApi, type Package, type Slot, type Tenant } from "../shared/api";
import type { PageConfig } from "./config";
import type { AppContext } from "./context";
import { JUST_TAKEN_TIME } from "./flow";
import { gateway, type Sent, noEmbed, screen, violations } from "./testing";

const ui = screen();
const { $, $$, text, button, labelled, labelOf, click, type } = ui;

const TENANT: Tenant = {
  slug: "studio", name: "Studio Licht", timezone: "Europe/Berlin", currency: "eur",
  branding: { primaryColor: "#1f4d3a", secondaryColor: "", logoUrl: null, font: "" },
  policy: { minNoticeDays: 2, maxAdvanceDays: 60, holdMinutes: 30, reminderDays: 7, coupleCancelDays: 30 },
};
const SESSION: Package = {
  id: "p-slot", slug: "portrait", title: "Portrait session", description: "Ninety minutes", priceCents: 30000, currency: "eur",
  sortOrder: 0, photos: [], segmentId: null, maxGuests: null, addOns: [],
  kind: "SLOT", slot: { durationMinutes: 90, bufferBeforeMinutes: 0, bufferAfterMinutes: 15, intervalMinutes: 90, leadTimeMinutes: 0 },
};
const FULL_DAY: Package = {
  id: "p-day", slug: "day", title: "Full day", description: "", priceCents: 200000, currency: "eur", sortOrder: 1,
  photos: [], segmentId: null, maxGuests: null, addOns: [], kind: "DAY", slot: null,
};
const slot = (date: string, start: string, end: string): Slot => ({
  startsAt: `${date}T${start}:00+01:00`, endsAt: `${date}T${end}:00+01:00`, date, time: start,
});
const MONDAY = [slot("2026-12-14", "10:00", "11:30"), slot("2026-12-14", "11:30", "13:00")];
const TUESDAY = [slot("2026-12-16", "09:00", "10:30")];


const BASE_ROUTES = {
  "GET /v1/tenant": (): [number, unknown] => [200, TENANT],
  "GET /v1/packages": (): [number, unknown] => [200, { items: [SESSION, FULL_DAY], nextCursor: null }],
  "GET /v1/availability/calendar": (s: Sent): [number, unknown] => [200, { from: s.query.get("from"), to: s.query.get("to"), unavailable: [] }],
  "GET /v1/checkout/schedule": (): [number, unknown] => [200, { totalCents: 30000, currency: "eur", policy: {}, instalments: [] }],
};

function slotsRoute(answers: Slot[][]) {
  let n = 0;
  return (): [number, unknown] => {
    const slots = answers[Math.min(n++, answers.length - 1)];
    return [200, { packageId: "p-slot", resourceId: "r1", timezone: "Europe/Berlin", slots }];
  };
}

const assigned: string[] = [];

async function mount(config: PageConfig, fetchImpl: typeof fetch) {
  const api = createApi({ publicKey: "pk_test_slots", fetch: fetchImpl });
  const context: AppContext = { api, embed: noEmbed, config, locale: "en-GB", assign: (url) => void assigned.push(url) };
  await ui.mount(context);
}


const day = (iso: string) => $<HTMLButtonElement>(`button[data-date="${iso}"]`)!;
const slotRadios = () => $$("input[type=radio][name=slot]") as HTMLInputElement[];


beforeEach(() => {
  ui.open();
  assigned.length = 0;
});

afterEach(() => ui.close());

const BOOK: PageConfig = { page: "book", embedded: false, publicKey: "pk_test_slots", slug: "studio" };

async function openSlotStep(routes: Record<string, (sent: Sent) => [number, unknown]>) {
  const server = gateway({ ...BASE_ROUTES, ...routes });
  await mount(BOOK, server.impl);
  await click(labelled("Portrait session"));
  await click(button("Choose a date"));
  return server;
}

describe("a time-slot service's date step", () => {
  it("asks the slots route for the month's bookable days, not the whole-day calendar, and marks full days", async () => {
    const server = await openSlotStep({ "GET /v1/availability/slots": slotsRoute([[...MONDAY, ...TUESDAY]]) });
    expect(text($("section h2"))).toBe("Choose a date and time");
    const asked = server.sent.filter((s) => s.path === "/v1/availability/slots");
    expect(asked.map((s) => Object.fromEntries(s.query))).toEqual([{ packageId: "p-slot", from: "2026-12-12", to: "2026-12-31" }]);
    expect(asked[0].headers["X-Tenant-Key"]).toBe("pk_test_slots");
    expect(server.sent.some((s) => s.path === "/v1/availability/calendar")).toBe(false);
    expect(day("2026-12-15").getAttribute("aria-label")).toBe("Tuesday, 15 December 2026, unavailable: no free times");
    expect(day("2026-12-15").getAttribute("aria-disabled")).toBe("true");
    expect(day("2026-12-14").getAttribute("aria-label")).toBe("Monday, 14 December 2026");
    expect(day("2026-12-14").hasAttribute("aria-disabled")).toBe(false);
    // Past and inside the notice window keep their own reasons.
    expect(day("2026-12-11").getAttribute("aria-label")).toContain("unavailable: out of range");
    expect(text($(".legend"))).toContain("Full: no free times that day");
  });

  it("lists the chosen day's starts as radios with the business's clock and zone, and needs one before the details", async () => {
    await openSlotStep({ "GET /v1/availability/slots": slotsRoute([[...MONDAY, ...TUESDAY]]) });
    await click(day("2026-12-14"));
    const list = $("fieldset.slots")!;
    expect(text(list.querySelector("legend"))).toBe("Times on Monday, 14 December 2026");
    expect(text($(".slots-zone"))).toBe("Times are in Europe/Berlin.");
    expect(slotRadios().map(labelOf)).toEqual(["10:00–11:30", "11:30–13:00"]);
    expect(slotRadios().every((r) => !r.checked)).toBe(true);
    await click(button("Continue"));
    expect(text($("[role=alert]"))).toBe("Please choose a time first.");
    expect(text($("section h2"))).toBe("Choose a date and time");
    await click(labelled("11:30–13:00"));
    expect(labelled("11:30–13:00").checked).toBe(true);
    expect(text($(".selected-line"))).toBe("Selected: Monday, 14 December 2026, 11:30–13:00 (Europe/Berlin)");
    expect(await violations(ui.root)).toEqual([]);
    // Another day forgets the time: it is a start on that day only.
    await click(day("2026-12-16"));
    expect(slotRadios().map(labelOf)).toEqual(["09:00–10:30"]);
    expect(slotRadios()[0].checked).toBe(false);
    expect(text($(".selected-line"))).toBe("Selected: Wednesday, 16 December 2026");
  });

  it("sends the chosen start to checkout with its local date, and shows the time in the summary", async () => {
    const server = await openSlotStep({
      "GET /v1/availability/slots": slotsRoute([MONDAY]),
      "POST /v1/bookings/checkout": () => [201, { bookingId: "b1", status: "HELD", checkoutUrl: "https://checkout.example/cs_1", expiresAt: "2026-12-10T12:31:00Z", totalCents: 30000, currency: "eur" }],
    });
    await click(day("2026-12-14"));
    await click(labelled("10:00–11:30"));
    await click(button("Continue"));
    expect(text($("section h2"))).toBe("Your details");
    expect(text($(".summary"))).toContain("Date and timeMonday, 14 December 2026, 10:00–11:30 (Europe/Berlin)");
    await type(labelled("Your names"), "Ana & Bo");
    await type(labelled("Email"), "ana@example.com");
    await click(button("Continue to payment"));
    const checkout = server.sent.find((s) => s.path === "/v1/bookings/checkout")!;
    expect(checkout.body).toEqual({
      packageId: "p-slot", eventDate: "2026-12-14", startsAt: "2026-12-14T10:00:00+01:00", coupleName: "Ana & Bo", email: "ana@example.com",
    });
    expect(assigned).toEqual(["https://checkout.example/cs_1"]);
  });

  it("goes back to the day's times when the start was just taken, never offering it again, and says when none is left", async () => {
    const server = await openSlotStep({
      // The second list still has the taken start (a cached answer from before the other hold).
      "GET /v1/availability/slots": slotsRoute([MONDAY, [MONDAY[0]]]),
      "POST /v1/bookings/checkout": () => [409, { error: "DATE_UNAVAILABLE", message: "the date is not available" }],
    });
    await click(day("2026-12-14"));
    await click(labelled("10:00–11:30"));
    await click(button("Continue"));
    await type(labelled("Your names"), "Ana & Bo");
    await type(labelled("Email"), "ana@example.com");
    await click(button("Continue to payment"));
    expect(text($("section h2"))).toBe("Choose a date and time");
    expect(text($("[role=alert]"))).toBe(JUST_TAKEN_TIME);
    expect(server.sent.filter((s) => s.path === "/v1/availability/slots")).toHaveLength(2);
    expect(day("2026-12-14").getAttribute("aria-pressed")).toBe("true");
    expect(slotRadios()).toEqual([]);
    expect(text($("fieldset.slots"))).toContain("No times are free on this day. Please choose another day.");
    await click(button("Continue"));
    expect(text($("[role=alert]"))).toBe("Please choose a time first.");
  });

  it("keeps the whole-day calendar for a whole-day package", async () => {
    const server = gateway({ ...BASE_ROUTES });
    await mount(BOOK, server.impl);
    await click(labelled("Full day"));
    await click(button("Choose a date"));
    expect(text($("section h2"))).toBe("Choose a date");
    expect(server.sent.some((s) => s.path === "/v1/availability/slots")).toBe(false);
    expect(server.sent.some((s) => s.path === "/v1/availability/calendar")).toBe(true);
    expect($("fieldset.slots")).toBeNull();
  });
});

describe("a time-slot booking after paying and on its own page", () => {
  const times = { kind: "SLOT", startsAt: "2026-12-14T10:00:00+01:00", endsAt: "2026-12-14T11:30:00+01:00" };

  it("shows the date with the start and end on the done page", async () => {
    const server = gateway({
      ...BASE_ROUTES,
      "GET /v1/checkout/sessions/cs_1": () => [200, {
        bookingId: "b1", sessionStatus: "complete", status: "CONFIRMED", eventDate: "2026-12-14", ...times,
        packageTitle: "Portrait session", totalCents: 30000, currency: "eur", amountPaidCents: 30000, schedule: null,
      }],
    });
    await mount({ page: "done", embedded: false, publicKey: "pk_test_slots", slug: "studio", sessionId: "cs_1" }, server.impl);
    expect(text($("h1"))).toBe("You're booked!");
    expect(text($(".summary"))).toContain("Date and timeMonday, 14 December 2026, 10:00–11:30 (Europe/Berlin)");
  });

  it("shows the date with the start and end on the manage page", async () => {
    const booking = {
      id: "b1", status: "CONFIRMED", eventDate: "2026-12-14", ...times, resourceId: "r1", coupleName: "Ana & Bo", email: "ana@example.com",
      phone: null, notes: null, packageId: "p-slot", totalCents: 30000, currency: "eur",
      quote: { packageId: "p-slot", lines: [{ kind: "package", id: "p-slot", slug: "portrait", title: "Portrait session", priceCents: 30000 }], totalCents: 30000, currency: "eur" },
      amountPaidCents: 30000, amountRefundedCents: 0, holdExpiresAt: null, cancelReason: null, packageTitle: "Portrait session",
      business: { name: "Studio Licht", slug: "studio", branding: TENANT.branding, timezone: "Europe/Berlin", contactEmail: null },
      cancellation: { allowedNow: true, lastDay: "2026-12-13", refundCents: 30000 },
    };
    const server = gateway({ "GET /v1/bookings/b1": () => [200, booking] });
    history.replaceState(null, "", "/booking/b1?token=tok");
    await mount({ page: "manage", embedded: false, bookingId: "b1" }, server.impl);
    expect(text($("h1"))).toBe("Your booking");
    expect(text($(".booking-facts"))).toContain("Date and timeMonday, 14 December 2026, 10:00–11:30 (Europe/Berlin)");
    // Without the fields (a whole day, or a gateway from before them): the date alone.
    const { startsAt: _s, endsAt: _e, kind: _k, ...whole } = booking;
    const older = gateway({ "GET /v1/bookings/b1": () => [200, whole] });
    render(null, ui.root);
    await mount({ page: "manage", embedded: false, bookingId: "b1" }, older.impl);
    expect(text($(".booking-facts"))).toContain("DateMonday, 14 December 2026Package");
  });
});
