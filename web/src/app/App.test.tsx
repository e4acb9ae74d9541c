// The pages rendered in happy-dom against a fake API: the structure and names the browser tests and
// screen readers rely on (the brief's UI contract), and the flow's wiring to the API and the host.
import { act } from "preact/test-utils";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ApiError, type Api, type CoupleBooking, type Instalment, type Package, type Schedule, type ScheduleQuote, type Tenant } from "../shared/api";
import type { PageConfig } from "./config";
import type { AppContext } from "./context";
import type { Embed } from "./embed";
import { screen, violations } from "./testing";

const ui = screen();
const { $, $$, text, button, labelled, click, type, settle } = ui;

const TENANT: Tenant = {
  slug: "rose", name: "Rose & Thorn", timezone: "UTC", currency: "usd",
  branding: { primaryColor: "#ffee00", secondaryColor: "", logoUrl: null, font: "" },
  policy: { minNoticeDays: 2, maxAdvanceDays: 60, holdMinutes: 30, reminderDays: 7, coupleCancelDays: 30 },
};
const PACKAGES: Package[] = [
  {
    id: "p1", slug: "full", title: "Full day", description: "Ten hours", priceCents: 240000, currency: "usd", sortOrder: 0,
    photos: [], segmentId: null, maxGuests: null,
    addOns: [{ id: "a1", slug: "second", title: "Second photographer", priceCents: 40000, currency: "usd" }],
  },
  { id: "p2", slug: "half", title: "Half day", description: "", priceCents: 140000, currency: "usd", sortOrder: 1, photos: [], segmentId: null, maxGuests: null, addOns: [] },
];

const FULL_QUOTE: ScheduleQuote = {
  totalCents: 140000, currency: "usd", policy: { depositKind: "none" },
  instalments: [{ seq: 1, kind: "FULL", amountCents: 140000, currency: "usd", dueDate: "2026-12-10", status: "DUE" }],
};
const DEPOSIT_QUOTE: ScheduleQuote = {
  totalCents: 280000, currency: "usd", policy: { depositKind: "percent", depositBps: 3000, balanceDueDays: 30 },
  instalments: [
    { seq: 1, kind: "DEPOSIT", amountCents: 84000, currency: "usd", dueDate: "2026-12-10", status: "DUE" },
    { seq: 2, kind: "BALANCE", amountCents: 196000, currency: "usd", dueDate: "2027-05-13", status: "DUE" },
  ],
};

function fakeApi(overrides: Partial<Api> = {}) {
  const calls: { name: string; args: unknown[] }[] = [];
  const record = <T,>(name: string, answer: (...args: never[]) => Promise<T>) => (...args: unknown[]) => {
    calls.push({ name, args });
    return answer(...(args as never[]));
  };
  const wrapped = Object.fromEntries(
    Object.entries(overrides).map(([name, fn]) => [name, record(name, fn as (...args: never[]) => Promise<unknown>)]),
  );
  const api = {
    tenant: record("tenant", async () => TENANT),
    packages: record("packages", async () => ({ items: PACKAGES, nextCursor: null })),
    calendar: record("calendar", async (from: string, to: string) => ({ from, to, unavailable: [{ date: "2026-12-19", reason: "booked" as const }] })),
    checkout: record("checkout", async () => ({ bookingId: "b1", status: "HELD" as const, checkoutUrl: "https://checkout.example/cs_1", expiresAt: "x", totalCents: 280000, currency: "usd" })),
    checkoutSchedule: record("checkoutSchedule", async () => FULL_QUOTE),
    payBalance: record("payBalance", async () => { throw new ApiError(409, "NOTHING_DUE", "nothing is due"); }),
    checkoutSession: record("checkoutSession", async () => { throw new ApiError(404, "NOT_FOUND", "not found"); }),
    booking: record("booking", async () => { throw new ApiError(404, "NOT_FOUND", "not found"); }),
    cancelBooking: record("cancelBooking", async () => { throw new ApiError(500, "INTERNAL", "x"); }),
    ...wrapped,
  } as unknown as Api;
  return { api, calls };
}

function fakeEmbed(connected = false) {
  const posted: { type: string; detail: unknown }[] = [];
  const embed: Embed = { connected, post: (type, detail) => void posted.push({ type, detail }), onHost: () => () => {}, watchHeight: () => () => {} };
  return { embed, posted };
}

const assigned: string[] = [];

async function mount(config: PageConfig, api: Api, embed: Embed = fakeEmbed().embed) {
  const context: AppContext = { api, embed, config, locale: "en-US", assign: (url) => void assigned.push(url) };
  await ui.mount(context);
}



beforeEach(() => {
  ui.open();
  assigned.length = 0;
});

afterEach(() => ui.close());

const BOOK: PageConfig = { page: "book", embedded: false, publicKey: "pk_test", slug: "rose" };

describe("the booking page", () => {
  it("names the business, offers the packages as radios and totals the choice", async () => {
    await mount(BOOK, fakeApi().api);
    expect(text($("h1"))).toBe("Rose & Thorn");
    expect(text($("section h2"))).toBe("Choose a package");
    expect($$("input[type=radio][name=package]").map((r) => text(ui.root.querySelector(`label[for="${r.id}"]`)))).toEqual(["Full day", "Half day"]);
    await click(labelled("Full day"));
    expect(labelled("Full day").checked).toBe(true);
    const addOn = $$("label.check").map(text);
    expect(addOn).toEqual(["Second photographer (+$400.00)"]);
    expect(text($("[role=status]"))).toBe("Total: $2,400.00");
    await click($<HTMLInputElement>("label.check input")!);
    expect(text($("[role=status]"))).toBe("Total: $2,800.00");
    // A primary colour white text cannot be read on falls back to the safe one.
    expect(document.documentElement.style.getPropertyValue("--mais-primary")).toBe("#1f4d3a");
  });

  it("shows the month with reasons, moves with the keyboard and books the chosen day", async () => {
    const { api, calls } = fakeApi();
    await mount(BOOK, api);
    await click(labelled("Full day"));
    await click(button("Choose a date"));
    expect(document.activeElement?.textContent).toBe("Choose a date");
    const grid = $("[role=grid]")!;
    expect(text(ui.root.querySelector(`#${grid.getAttribute("aria-labelledby")}`))).toBe("December 2026");
    expect(calls.find((c) => c.name === "calendar")?.args).toEqual(["2026-12-01", "2026-12-31"]);
    expect(button("Previous month").disabled).toBe(true);
    const day = (iso: string) => $<HTMLButtonElement>(`button[data-date="${iso}"]`)!;
    expect(day("2026-12-19").getAttribute("aria-label")).toBe("Saturday, December 19, 2026, unavailable: booked");
    expect(day("2026-12-19").getAttribute("aria-disabled")).toBe("true");
    expect(day("2026-12-09").getAttribute("aria-label")).toBe("Wednesday, December 9, 2026, unavailable: past");
    expect(day("2026-12-11").getAttribute("aria-label")).toBe("Friday, December 11, 2026, unavailable: out of range");
    expect(day("2026-12-11").className).toBe("day day-out-of-range");
    expect(day("2026-12-10").className).toBe("day day-out-of-range day-today");
    expect(day("2026-12-12").className).toBe("day day-free");
    // Focus starts on the first bookable day; the others are out of the tab order.
    expect(day("2026-12-12").tabIndex).toBe(0);
    expect($$("button[data-date]").filter((b) => b.tabIndex === 0)).toHaveLength(1);
    await click(day("2026-12-19"));
    expect(day("2026-12-19").getAttribute("aria-pressed")).toBe("false");
    await act(async () => {
      day("2026-12-12").focus();
      day("2026-12-12").dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowDown", bubbles: true }));
    });
    await settle();
    expect(document.activeElement?.getAttribute("data-date")).toBe("2026-12-19");
    await act(async () => {
      day("2026-12-19").dispatchEvent(new KeyboardEvent("keydown", { key: "PageDown", bubbles: true }));
    });
    await settle();
    expect(text(ui.root.querySelector(`#${$("[role=grid]")!.getAttribute("aria-labelledby")}`))).toBe("January 2027");
    expect(document.activeElement?.getAttribute("data-date")).toBe("2027-01-19");
    await click(day("2027-01-19"));
    expect(day("2027-01-19").getAttribute("aria-pressed")).toBe("true");
    expect(text($(".selected-line"))).toBe("Selected: Tuesday, January 19, 2027");
    await click(button("Continue"));
    expect(text($("section h2"))).toBe("Your details");
    expect(["Your names", "Email", "Phone (optional)", "Notes (optional)"].map((n) => labelled(n).id)).toHaveLength(4);
    await type(labelled("Your names"), "Ann & Bo");
    await type(labelled("Email"), "ann@example.com");
    await click(button("Continue to payment"));
    const checkout = calls.find((c) => c.name === "checkout")!;
    expect(checkout.args[0]).toEqual({ packageId: "p1", eventDate: "2027-01-19", coupleName: "Ann & Bo", email: "ann@example.com" });
    expect(typeof checkout.args[1]).toBe("string");
    expect(assigned).toEqual(["https://checkout.example/cs_1"]);
  });

  it("shows the server's field errors beside their fields", async () => {
    const { api } = fakeApi({
      checkout: async () => {
        throw new ApiError(400, "VALIDATION_ERROR", "the request is not valid", [{ field: "email", message: "is not a valid email address" }]);
      },
    });
    await mount(BOOK, api);
    await click(labelled("Half day"));
    await click(button("Choose a date"));
    await click($<HTMLButtonElement>('button[data-date="2026-12-14"]')!);
    await click(button("Continue"));
    await click(button("Continue to payment"));
    const email = labelled("Email");
    expect(email.getAttribute("aria-invalid")).toBe("true");
    expect(text(ui.root.querySelector(`#${email.getAttribute("aria-describedby")}`))).toBe("This is not a valid email address.");
    expect(document.activeElement).toBe(email);
  });

  it("goes back to a reloaded calendar when the date was just taken", async () => {
    let taken = false;
    const { api, calls } = fakeApi({
      checkout: async () => {
        taken = true;
        throw new ApiError(409, "DATE_UNAVAILABLE", "the date is not available");
      },
      calendar: async (from: string, to: string) => ({ from, to, unavailable: taken ? [{ date: "2026-12-14", reason: "held" as const }] : [] }),
    });
    await mount(BOOK, api);
    await click(labelled("Half day"));
    await click(button("Choose a date"));
    await click($<HTMLButtonElement>('button[data-date="2026-12-14"]')!);
    await click(button("Continue"));
    await click(button("Continue to payment"));
    expect(text($("section h2"))).toBe("Choose a date");
    expect(text($("[role=alert]"))).toBe("Sorry, that date was just taken. Please choose another date.");
    expect($('button[data-date="2026-12-14"]')!.getAttribute("aria-label")).toBe("Monday, December 14, 2026, unavailable: held");
    // The month was fetched when the step opened, and again after the date was taken.
    expect(calls.filter((c) => c.name === "calendar")).toHaveLength(2);
  });

  it("inside the widget, tells the host and asks it to open Checkout", async () => {
    const { embed, posted } = fakeEmbed(true);
    await mount({ ...BOOK, embedded: true, parentOrigin: "https://host.example", widgetId: "w1", returnUrl: "https://host.example/book" }, fakeApi().api, embed);
    expect(posted[0]).toEqual({ type: "ready", detail: { tenant: "Rose & Thorn" } });
    await click(labelled("Full day"));
    await click(button("Choose a date"));
    await click($<HTMLButtonElement>('button[data-date="2026-12-14"]')!);
    expect(posted.at(-1)).toEqual({ type: "date-selected", detail: { date: "2026-12-14", packageId: "p1" } });
    await click(button("Continue"));
    await click(button("Continue to payment"));
    expect(posted.slice(-2).map((p) => p.type)).toEqual(["checkout-started", "navigate"]);
    expect(posted.at(-1)!.detail).toEqual({ url: "https://checkout.example/cs_1" });
    expect(assigned).toEqual([]);
  });

  it("starts one checkout however often the button is pressed before the answer", async () => {
    let release: () => void = () => {};
    const { api, calls } = fakeApi({
      checkout: () =>
        new Promise((resolve) => {
          release = () => resolve({ bookingId: "b1", status: "HELD", checkoutUrl: "https://checkout.example/cs_1", expiresAt: "x", totalCents: 1, currency: "usd" });
        }),
    });
    await mount(BOOK, api);
    await click(labelled("Half day"));
    await click(button("Choose a date"));
    await click($<HTMLButtonElement>('button[data-date="2026-12-14"]')!);
    await click(button("Continue"));
    await act(async () => {
      button("Continue to payment").click();
      button("Continue to payment").click();
    });
    await settle();
    await act(async () => release());
    await settle();
    expect(calls.filter((c) => c.name === "checkout")).toHaveLength(1);
    expect(assigned).toEqual(["https://checkout.example/cs_1"]);
  });

  it("is unavailable for an unknown key", async () => {
    await mount(BOOK, fakeApi({ tenant: async () => { throw new ApiError(401, "INVALID_TENANT_KEY", "unknown public key"); } }).api);
    expect(text($("h1"))).toBe("Booking is not available");
  });
});

describe("the return pages", () => {
  it("says the couple is booked once the session's booking is confirmed, and links back with the session", async () => {
    const { api } = fakeApi({
      checkoutSession: async () => ({ bookingId: "b1", sessionStatus: "complete", status: "CONFIRMED", eventDate: "2027-01-19", packageTitle: "Full day", totalCents: 280000, currency: "usd", amountPaidCents: 280000 }),
    });
    await mount({ page: "done", embedded: false, publicKey: "pk", slug: "rose", sessionId: "cs_1", returnUrl: "https://host.example/wedding?x=1" }, api);
    expect(text($("h1"))).toBe("You're booked!");
    expect(text($("main"))).toContain("A confirmation email with your personal link is on its way.");
    const link = $$("a").find((a) => text(a) === "Back to Rose & Thorn")!;
    expect(link.getAttribute("href")).toBe("https://host.example/wedding?x=1&mais_session=cs_1");
  });

  it("says the payment is received while the booking is being confirmed", async () => {
    const { api } = fakeApi({
      checkoutSession: async () => ({ bookingId: "b1", sessionStatus: "complete", status: "HELD", eventDate: "2027-01-19", packageTitle: "Full day", totalCents: 1, currency: "usd", amountPaidCents: 0 }),
    });
    await mount({ page: "done", embedded: false, publicKey: "pk", slug: "rose", sessionId: "cs_1" }, api);
    expect(text($("h1"))).toBe("Payment received");
    expect(text($("[role=status]"))).toBe("We're confirming your booking…");
    expect($$("a").find((a) => text(a) === "Back to Rose & Thorn")!.getAttribute("href")).toBe("/book/rose");
  });

  it("inside the widget, announces `booked` only for a confirmed session", async () => {
    const { embed, posted } = fakeEmbed(true);
    const { api } = fakeApi({
      checkoutSession: async () => ({ bookingId: "b9", sessionStatus: "complete", status: "CONFIRMED", eventDate: "2027-01-19", packageTitle: "Full day", totalCents: 1, currency: "usd", amountPaidCents: 1 }),
    });
    await mount({ ...BOOK, embedded: true, parentOrigin: "https://host.example", widgetId: "w1", sessionId: "cs_9" }, api, embed);
    expect(text($("h1"))).toBe("You're booked!");
    expect(posted.filter((p) => p.type === "booked")).toEqual([{ type: "booked", detail: { bookingId: "b9", eventDate: "2027-01-19" } }]);
  });

  it("explains a cancelled payment", async () => {
    await mount({ page: "cancelled", embedded: false, publicKey: "pk", slug: "rose" }, fakeApi().api);
    expect(text($("h1"))).toBe("Payment not completed");
    expect(text($("main"))).toContain("Nothing was charged.");
    expect($$("a").find((a) => text(a) === "Back to Rose & Thorn")!.getAttribute("href")).toBe("/book/rose");
  });
});

describe("the manage page", () => {
  const BOOKING: CoupleBooking = {
    id: "b1", status: "CONFIRMED", eventDate: "2027-06-12", coupleName: "Ann", email: "a@example.com", phone: null, notes: null,
    packageId: "p1", totalCents: 280000, currency: "usd",
    quote: { packageId: "p1", totalCents: 280000, currency: "usd", lines: [
      { kind: "package", id: "p1", slug: "full", title: "Full day", priceCents: 240000 },
      { kind: "add_on", id: "a1", slug: "second", title: "Second photographer", priceCents: 40000 },
    ] },
    amountPaidCents: 280000, amountRefundedCents: 0, holdExpiresAt: null, cancelReason: null, packageTitle: "Full day",
    business: { name: "Rose & Thorn", slug: "rose", branding: TENANT.branding, timezone: "UTC", contactEmail: "hi@rose.example" },
    cancellation: { allowedNow: true, lastDay: "2027-05-13", refundCents: 280000 },
  };

  beforeEach(() => {
    history.replaceState(null, "", "/booking/b1?token=tok");
  });

  it("shows the booking and the refund before cancelling, then the refund made", async () => {
    const { api, calls } = fakeApi({
      booking: async () => BOOKING,
      cancelBooking: async () => ({ ...BOOKING, status: "CANCELLED", amountRefundedCents: 280000, refund: { refundedCents: 280000, totalRefundedCents: 280000, feeRefundedCents: 0 } }),
    });
    await mount({ page: "manage", embedded: false, bookingId: "b1" }, api);
    expect(calls[0]).toEqual({ name: "booking", args: ["b1", "tok"] });
    expect(text($("h1"))).toBe("Your booking");
    expect(text($("main"))).toContain("You can cancel until May 13, 2027 for a full refund of $2,800.00.");
    expect(text($("main"))).toContain("Second photographer");
    await click(button("Cancel booking"));
    const dialog = $$("section").find((s) => text(s.querySelector("h2")) === "Cancel this booking?")!;
    expect(text(dialog)).toContain("You will be refunded $2,800.00.");
    expect(calls.some((c) => c.name === "cancelBooking")).toBe(false);
    await click(button("Yes, cancel and refund $2,800.00"));
    expect(calls.find((c) => c.name === "cancelBooking")?.args).toEqual(["b1", "tok"]);
    expect(text($(".status"))).toBe("Cancelled");
    expect($$("p").some((p) => text(p) === "Refunded $2,800.00")).toBe(true);
    expect(() => button("Cancel booking")).toThrow();
  });

  it("keeps the booking when the couple says so", async () => {
    const { api, calls } = fakeApi({ booking: async () => BOOKING });
    await mount({ page: "manage", embedded: false, bookingId: "b1" }, api);
    await click(button("Cancel booking"));
    await click(button("Keep my booking"));
    expect(calls.some((c) => c.name === "cancelBooking")).toBe(false);
    expect(button("Cancel booking")).toBeTruthy();
  });

  it("names the business's contact once the window has closed", async () => {
    const closed = { ...BOOKING, cancellation: { allowedNow: false, lastDay: "2027-05-13", refundCents: 280000 } };
    await mount({ page: "manage", embedded: false, bookingId: "b1" }, fakeApi({ booking: async () => closed }).api);
    expect(text($(".policy"))).toBe("Cancellation by yourself is no longer possible; please contact Rose & Thorn at hi@rose.example.");
    expect(() => button("Cancel booking")).toThrow();
  });

  it("says the link does not work for an unknown or expired link", async () => {
    await mount({ page: "manage", embedded: false, bookingId: "b1" }, fakeApi().api);
    expect(text($("h1"))).toBe("This link does not work");
  });
});


describe("the schedule in the booking flow", () => {
  it("shows what is due today and the balance by its date once package, add-ons and date are chosen", async () => {
    const { api, calls } = fakeApi({ checkoutSchedule: async () => DEPOSIT_QUOTE });
    await mount(BOOK, api);
    await click(labelled("Full day"));
    await click($<HTMLInputElement>("label.check input")!);
    await click(button("Choose a date"));
    expect(calls.some((c) => c.name === "checkoutSchedule")).toBe(false);
    await click($<HTMLButtonElement>('button[data-date="2026-12-14"]')!);
    expect(calls.filter((c) => c.name === "checkoutSchedule").map((c) => c.args)).toEqual([["p1", ["a1"], "2026-12-14"]]);
    expect($$(".schedule-quote-line").map(text)).toEqual(["Due today: $840.00", "Then $1,960.00 by May 13, 2027"]);
    expect($(".schedule-quote")!.getAttribute("role")).toBe("status");
    await click(button("Continue"));
    const summary = $$("section").find((s) => s.getAttribute("aria-label") === "Your choice")!;
    expect(text(summary)).toContain("Total$2,800.00");
    expect(text(summary)).toContain("Due today: $840.00Then $1,960.00 by May 13, 2027");
    expect(await violations(ui.root)).toEqual([]);
  });

  it("says the whole price is paid today without a deposit, and asks again for another date", async () => {
    const { api, calls } = fakeApi();
    await mount(BOOK, api);
    await click(labelled("Half day"));
    await click(button("Choose a date"));
    await click($<HTMLButtonElement>('button[data-date="2026-12-14"]')!);
    expect(text($(".schedule-quote"))).toBe("Paid in full today");
    await click($<HTMLButtonElement>('button[data-date="2026-12-15"]')!);
    expect(calls.filter((c) => c.name === "checkoutSchedule").map((c) => c.args[2])).toEqual(["2026-12-14", "2026-12-15"]);
  });

  it("shows only the total when the schedule cannot be had", async () => {
    const { api } = fakeApi({ checkoutSchedule: async () => { throw new ApiError(500, "INTERNAL", "x"); } });
    await mount(BOOK, api);
    await click(labelled("Half day"));
    await click(button("Choose a date"));
    await click($<HTMLButtonElement>('button[data-date="2026-12-14"]')!);
    expect(text($(".schedule-quote"))).toBe("");
    await click(button("Continue"));
    expect(text($$("section").find((s) => s.getAttribute("aria-label") === "Your choice") ?? null)).toContain("Total$1,400.00");
  });
});

const paid = (seq: number, kind: Instalment["kind"], cents: number, at: string): Instalment => ({
  seq, kind, amountCents: cents, currency: "usd", dueDate: "2026-12-10", status: "PAID", paidCents: cents, refundedCents: 0, paidAt: at, paidOffline: false, note: null,
});
const owed = (seq: number, cents: number, due: string, status: Instalment["status"] = "DUE"): Instalment => ({
  seq, kind: "BALANCE", amountCents: cents, currency: "usd", dueDate: due, status, paidCents: 0, refundedCents: 0, paidAt: null, paidOffline: false, note: null,
});
const DEPOSIT_PAID: Schedule = {
  currency: "usd", totalCents: 280000, paidCents: 84000, refundedCents: 0, outstandingCents: 196000, nextDueDate: "2027-05-13", overdue: false,
  instalments: [paid(1, "DEPOSIT", 84000, "2026-12-10T12:00:00Z"), owed(2, 196000, "2027-05-13")],
};
const ALL_PAID: Schedule = {
  ...DEPOSIT_PAID, paidCents: 280000, outstandingCents: 0, nextDueDate: null,
  instalments: [DEPOSIT_PAID.instalments[0], paid(2, "BALANCE", 196000, "2027-04-01T09:00:00Z")],
};

describe("the schedule after paying", () => {
  it("the done page says what was paid today and what is due when", async () => {
    const { api } = fakeApi({
      checkoutSession: async () => ({ bookingId: "b1", sessionStatus: "complete", status: "CONFIRMED", eventDate: "2027-06-12", packageTitle: "Full day", totalCents: 280000, currency: "usd", amountPaidCents: 84000, schedule: DEPOSIT_PAID }),
    });
    await mount({ page: "done", embedded: false, publicKey: "pk", slug: "rose", sessionId: "cs_1" }, api);
    expect(text($("h1"))).toBe("You're booked!");
    expect(text($("main"))).toContain("Paid today: $840.00");
    expect($$(".instalment").map(text)).toEqual(["Deposit: $840.00 Paid on December 10, 2026", "Balance: $1,960.00 Due by May 13, 2027"]);
    expect(text($("main"))).toContain("A confirmation email with your personal link is on its way. You can pay the balance from that link.");
  });

  it("a booking paid in full says nothing of a balance", async () => {
    const { api } = fakeApi({
      checkoutSession: async () => ({ bookingId: "b1", sessionStatus: "complete", status: "CONFIRMED", eventDate: "2027-06-12", packageTitle: "Full day", totalCents: 280000, currency: "usd", amountPaidCents: 280000 }),
    });
    await mount({ page: "done", embedded: false, publicKey: "pk", slug: "rose", sessionId: "cs_1" }, api);
    expect(text($("main"))).not.toContain("Paid today");
    expect(text($("main"))).not.toContain("balance");
  });
});

describe("the manage page with a balance", () => {
  const BOOKED: CoupleBooking = {
    id: "b1", status: "CONFIRMED", eventDate: "2027-06-12", coupleName: "Ann", email: "a@example.com", phone: null, notes: null,
    packageId: "p1", totalCents: 280000, currency: "usd",
    quote: { packageId: "p1", totalCents: 280000, currency: "usd", lines: [{ kind: "package", id: "p1", slug: "full", title: "Full day", priceCents: 280000 }] },
    amountPaidCents: 84000, amountRefundedCents: 0, holdExpiresAt: null, cancelReason: null, packageTitle: "Full day",
    business: { name: "Rose & Thorn", slug: "rose", branding: TENANT.branding, timezone: "UTC", contactEmail: "hi@rose.example" },
    cancellation: { allowedNow: true, lastDay: "2027-05-13", refundCents: 84000 },
    schedule: DEPOSIT_PAID,
  };

  beforeEach(() => {
    history.replaceState(null, "", "/booking/b1?token=tok");
  });

  it("shows the schedule and sends the couple to pay the balance", async () => {
    const { api, calls } = fakeApi({
      booking: async () => BOOKED,
      payBalance: async () => ({ checkoutUrl: "https://checkout.example/cs_2", expiresAt: "x", instalment: DEPOSIT_PAID.instalments[1] }),
    });
    await mount({ page: "manage", embedded: false, bookingId: "b1" }, api);
    const section = $$("section").find((s) => text(s.querySelector("h2")) === "Payment schedule")!;
    expect([...section.querySelectorAll(".instalment")].map(text)).toEqual(["Deposit: $840.00 Paid on December 10, 2026", "Balance: $1,960.00 Due by May 13, 2027"]);
    expect(text(section)).toContain("Paid: $840.00 · Still to pay: $1,960.00");
    await click(button("Pay the balance ($1,960.00)"));
    const pay = calls.find((c) => c.name === "payBalance")!;
    expect(pay.args.slice(0, 2)).toEqual(["b1", "tok"]);
    expect(pay.args[2]).toMatch(/^[0-9a-f]{32}$/);
    expect(assigned).toEqual(["https://checkout.example/cs_2"]);
    expect(await violations(ui.root)).toEqual([]);
  });

  it("says in words why the balance cannot be paid, and reads the booking again", async () => {
    const { api, calls } = fakeApi({ booking: async () => BOOKED });
    await mount({ page: "manage", embedded: false, bookingId: "b1" }, api);
    await click(button("Pay the balance ($1,960.00)"));
    expect(text($("[role=alert]"))).toBe("Nothing is due.");
    expect(assigned).toEqual([]);
    expect(calls.filter((c) => c.name === "booking")).toHaveLength(2);
  });

  it("says an overdue balance is overdue", async () => {
    const overdue = { ...BOOKED, schedule: { ...DEPOSIT_PAID, overdue: true, instalments: [DEPOSIT_PAID.instalments[0], owed(2, 196000, "2026-12-01", "OVERDUE")] } };
    await mount({ page: "manage", embedded: false, bookingId: "b1" }, fakeApi({ booking: async () => overdue }).api);
    expect(text($(".instalment-overdue"))).toBe("Balance: $1,960.00 Overdue: it was due by December 1, 2026");
    expect(text($(".notice.warning"))).toBe("Your balance is overdue. Please pay it now, or contact Rose & Thorn, to keep your booking.");
  });

  it("back from paying, waits until the balance reads paid and says so", async () => {
    history.replaceState(null, "", "/booking/b1?token=tok&paid=1");
    let reads = 0;
    const { api } = fakeApi({ booking: async () => (++reads < 3 ? BOOKED : { ...BOOKED, amountPaidCents: 280000, schedule: ALL_PAID }) });
    await mount({ page: "manage", embedded: false, bookingId: "b1" }, api);
    expect(text($(".payment-schedule [role=status]"))).toBe("We're confirming your payment…");
    expect(() => button("Pay the balance ($1,960.00)")).toThrow();
    await act(async () => {
      await new Promise((resolve) => setTimeout(resolve, 2300));
    });
    await settle();
    expect(reads).toBe(3);
    expect(text($(".payment-schedule [role=status]"))).toBe("Thank you: your payment is received. A receipt is on its way by email.");
    expect($$(".instalment").map(text)[1]).toBe("Balance: $1,960.00 Paid on April 1, 2027");
    expect(() => button("Pay the balance ($1,960.00)")).toThrow();
    expect(location.search).toBe("?token=tok");
  });

  it("says a booking cancelled for its unpaid balance was cancelled for that, and what was refunded", async () => {
    const cancelled: CoupleBooking = {
      ...BOOKED,
      status: "CANCELLED",
      cancelReason: "balance_unpaid",
      amountRefundedCents: 84000,
      cancellation: { allowedNow: false, lastDay: "2027-05-13", refundCents: 0 },
      schedule: { ...DEPOSIT_PAID, outstandingCents: 0, instalments: [
        { ...DEPOSIT_PAID.instalments[0], status: "REFUNDED", refundedCents: 84000 },
        { ...DEPOSIT_PAID.instalments[1], status: "CANCELLED" },
      ] },
    };
    await mount({ page: "manage", embedded: false, bookingId: "b1" }, fakeApi({ booking: async () => cancelled }).api);
    expect(text($(".cancel-reason"))).toBe("This booking was cancelled because the balance was not paid by its due date. You were refunded $840.00.");
    expect(() => button("Pay the balance ($1,960.00)")).toThrow();
    expect(() => button("Cancel booking")).toThrow();
    expect(await violations(ui.root)).toEqual([]);
  });

  it("gives no such reason for a booking cancelled otherwise", async () => {
    const cancelled = { ...BOOKED, status: "CANCELLED" as const, cancelReason: "the couple called", cancellation: { allowedNow: false, lastDay: null, refundCents: 0 } };
    await mount({ page: "manage", embedded: false, bookingId: "b1" }, fakeApi({ booking: async () => cancelled }).api);
    expect($$(".cancel-reason")).toEqual([]);
  });

  it("says what the couple's cancellation keeps when the deposit is not refundable", async () => {
    const keeps = { ...BOOKED, amountPaidCents: 280000, schedule: ALL_PAID, cancellation: { allowedNow: true, lastDay: "2027-05-13", refundCents: 196000, keptCents: 84000 } };
    await mount({ page: "manage", embedded: false, bookingId: "b1" }, fakeApi({ booking: async () => keeps }).api);
    expect(text($(".policy"))).toBe("You can cancel until May 13, 2027: your deposit of $840.00 is not refundable, so you would be refunded $1,960.00.");
    await click(button("Cancel booking"));
    const dialog = $$("section").find((s) => text(s.querySelector("h2")) === "Cancel this booking?")!;
    expect(text(dialog)).toContain("You will be refunded $1,960.00.");
    expect(text(dialog)).toContain("Your deposit of $840.00 is not refundable and stays with Rose & Thorn.");
    expect(button("Yes, cancel and refund $1,960.00")).toBeTruthy();
  });
});
