// The schedule in the dashboards, against a fake server: the booking page's "Payment schedule" (each
// instalment's status, fee, paid date and note; waive / mark paid offline / change due date with a note
// or a bounded date, an Idempotency-Key per change, the outcome in words), the overview's outstanding
// figures and overdue balances, and the platform's outstanding per currency.
import axe from "axe-core";
import type { ComponentChild } from "preact";
import { render } from "preact";
import { act } from "preact/test-utils";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Instalment, Schedule } from "../shared/api";
import type { AdminBooking } from "./api";
import { BookingDetail } from "./pages/BookingDetail";
import { Overview } from "./pages/Overview";
import { PlatformStats } from "./pages/PlatformStats";
import { changeOf } from "./PaymentSchedule";
import { button as buttonIn, click, fakeRequest, field as fieldIn, settle, submit as submitForm, text, type, type FakeServer, showSignedIn } from "./pages/testing";

const ME = {
  userId: "u1", email: "owner@rose.test", role: "tenant_admin" as const, tenantId: "t1", csrfToken: "csrf-1",
  tenant: { id: "t1", slug: "rose", name: "Rose & Thorn", active: true, timezone: "UTC", currency: "usd", version: 1, policy: {} as never },
};
const DEPOSIT: Instalment = {
  seq: 1, kind: "DEPOSIT", amountCents: 36000, currency: "usd", dueDate: "2026-12-10", status: "PAID", paidCents: 36000, refundedCents: 0,
  paidAt: "2026-12-10T12:00:00Z", paidOffline: false, note: null, feeCents: 3600,
};
const BALANCE: Instalment = {
  seq: 2, kind: "BALANCE", amountCents: 84000, currency: "usd", dueDate: "2027-05-16", status: "DUE", paidCents: 0, refundedCents: 0,
  paidAt: null, paidOffline: false, note: null, feeCents: 0,
};
const SCHEDULE: Schedule = {
  currency: "usd", totalCents: 120000, paidCents: 36000, refundedCents: 0, outstandingCents: 84000, nextDueDate: "2027-05-16", overdue: false,
  instalments: [DEPOSIT, BALANCE],
};
const BOOKING: AdminBooking = {
  id: "b1", status: "CONFIRMED", eventDate: "2027-06-15", coupleName: "Ana & Ben", email: "ana@x.test", phone: null, notes: null,
  packageId: "p1", totalCents: 120000, currency: "usd",
  quote: { packageId: "p1", totalCents: 120000, currency: "usd", lines: [{ kind: "package", id: "p1", slug: "full", title: "Full day", priceCents: 120000 }] },
  amountPaidCents: 36000, amountRefundedCents: 0, holdExpiresAt: null, cancelReason: null, createdAt: null, updatedAt: null,
  customerId: "c1", paymentSessionId: null, history: [], schedule: SCHEDULE,
};

const fake: FakeServer = { routes: {}, calls: [] };
let root: HTMLElement;

const show = (node: ComponentChild) => showSignedIn(root, node, ME, "en-US", fake);
const button = (name: string) => buttonIn(root, name);
const field = (name: string) => fieldIn(root, name);
const submit = (el: Element) => submitForm(el.closest("form")!);
const section = (title: string) => [...root.querySelectorAll("section")].find((s) => text(s.querySelector("h2")) === title);
const said = () => [...root.querySelectorAll('[role="status"]')].map(text).filter(Boolean);
const alerts = () => [...root.querySelectorAll('[role="alert"]')].map(text).filter(Boolean);
const changes = () => fake.calls.filter((c) => c.url.includes("/instalments/"));

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(new Date("2026-12-10T12:00:00Z"));
  fake.calls = [];
  fake.routes = {
    "GET /v1/tenant-admin/bookings/b1": () => ({ status: 200, body: BOOKING }),
    "GET /v1/tenant-admin/bookings/b1/ledger": () => ({ status: 404, body: { error: "NOT_FOUND", message: "no payment" } }),
  };
  root = document.createElement("div");
  document.body.append(root);
});
afterEach(() => {
  render(null, root);
  root.remove();
  vi.useRealTimers();
});

describe("the booking's payment schedule", () => {
  it("lists each instalment with its status, fee, paid date and note", async () => {
    await show(<BookingDetail params={{ id: "b1" }} />);
    const schedule = section("Payment schedule")!;
    const rows = [...schedule.querySelectorAll("tbody tr")].map((r) => [...r.children].map(text));
    expect(rows[0].slice(0, 7)).toEqual(["Deposit", "$360.00", "December 10, 2026", "Paid", "Dec 10, 2026, " + new Intl.DateTimeFormat("en-US", { timeStyle: "short" }).format(new Date("2026-12-10T12:00:00Z")), "$36.00", "—"]);
    expect(rows[0][7]).toBe("—");
    expect(rows[1].slice(0, 7)).toEqual(["Balance", "$840.00", "May 16, 2027", "Due", "—", "—", "—"]);
    expect(text(schedule.querySelector("dl"))).toBe("Total$1,200.00Paid$360.00Refunded$0.00Outstanding$840.00");
    expect(() => button("Waive: Deposit")).toThrow();
    expect(button("Waive: Balance")).toBeTruthy();
    const result = await axe.run(root, { rules: { "color-contrast": { enabled: false }, region: { enabled: false } } });
    expect(result.violations.map((v) => v.id)).toEqual([]);
  });

  it("waives an owed instalment only with a note, under one Idempotency-Key, and says so", async () => {
    const waived = { ...SCHEDULE, outstandingCents: 0, nextDueDate: null, instalments: [DEPOSIT, { ...BALANCE, status: "WAIVED", note: "Family discount" }] };
    fake.routes["POST /v1/tenant-admin/bookings/b1/instalments/2/waive"] = () => ({ status: 200, body: { schedule: waived } });
    await show(<BookingDetail params={{ id: "b1" }} />);
    await click(button("Waive: Balance"));
    expect(document.activeElement?.textContent).toBe("Waive the balance ($840.00)");
    await submit(field("Note (required)"));
    expect(changes()).toEqual([]);
    expect(field("Note (required)").getAttribute("aria-invalid")).toBe("true");
    expect(text(root.querySelector(`#${field("Note (required)").getAttribute("aria-describedby")}`))).toBe("Write a note: why (the booking's history keeps it).");
    await type(field("Note (required)"), "  Family discount ");
    fake.routes["GET /v1/tenant-admin/bookings/b1"] = () => ({ status: 200, body: { ...BOOKING, schedule: waived } });
    await submit(field("Note (required)"));
    const [change] = changes();
    expect(change.method).toBe("POST");
    expect(change.body).toEqual({ note: "Family discount" });
    expect(change.headers["Idempotency-Key"]).toMatch(/^[0-9a-f]{32}$/);
    expect(change.headers["X-CSRF-Token"]).toBe("csrf-1");
    expect(said()).toContain("The balance is waived: the couple owes nothing more for it.");
    const row = [...section("Payment schedule")!.querySelectorAll("tbody tr")][1];
    expect([...row.children].map(text).slice(3, 7)).toEqual(["Waived", "—", "—", "Family discount"]);
    expect(() => button("Waive: Balance")).toThrow();
  });

  it("marks an instalment paid offline, and an API refusal reads in words with the same key kept for a retry of no answer", async () => {
    let tries = 0;
    fake.routes["POST /v1/tenant-admin/bookings/b1/instalments/2/mark-paid"] = () =>
      ++tries === 1 ? { status: 503, body: { error: "UNAVAILABLE", message: "the payments service is not answering" } } : { status: 409, body: { error: "FAILED_PRECONDITION", message: "the instalment is already paid" } };
    await show(<BookingDetail params={{ id: "b1" }} />);
    await click(button("Mark paid offline: Balance"));
    await type(field("Note (required)"), "Bank transfer 12 Dec");
    await submit(field("Note (required)"));
    expect(alerts()).toContain("Not changed: The payments service is not answering.");
    await submit(field("Note (required)"));
    expect(alerts()).toContain("Not changed: The instalment is already paid.");
    const [first, second] = changes();
    expect(first.url).toBe("/v1/tenant-admin/bookings/b1/instalments/2/mark-paid");
    expect(second.headers["Idempotency-Key"]).toBe(first.headers["Idempotency-Key"]);
  });

  it("moves a due date within tomorrow..the event, and shows the API's field error beside the date", async () => {
    fake.routes["PATCH /v1/tenant-admin/bookings/b1/instalments/2"] = (body) =>
      (body as { dueDate: string }).dueDate === "2027-06-01"
        ? { status: 200, body: { schedule: { ...SCHEDULE, nextDueDate: "2027-06-01", instalments: [DEPOSIT, { ...BALANCE, dueDate: "2027-06-01" }] } } }
        : { status: 400, body: { error: "VALIDATION_ERROR", message: "dueDate: is a day the business is closed", fields: [{ field: "dueDate", message: "is a day the business is closed" }] } };
    await show(<BookingDetail params={{ id: "b1" }} />);
    await click(button("Change due date: Balance"));
    const date = field("New due date");
    expect([date.type, date.min, date.max, date.value]).toEqual(["date", "2026-12-11", "2027-06-15", "2027-05-16"]);
    await type(date, "2027-06-16");
    await submit(date);
    expect(changes()).toEqual([]);
    expect(date.getAttribute("aria-invalid")).toBe("true");
    await type(field("New due date"), "2027-05-20");
    await submit(field("New due date"));
    expect(text(root.querySelector(`#${field("New due date").getAttribute("aria-describedby")?.split(" ").at(-1)}`))).toBe("Is a day the business is closed.");
    await type(field("New due date"), "2027-06-01");
    await type(field("Note (optional)"), "Asked by the couple");
    await submit(field("New due date"));
    const last = changes().at(-1)!;
    expect([last.method, last.body]).toEqual(["PATCH", { dueDate: "2027-06-01", note: "Asked by the couple" }]);
    expect(said()).toContain("The balance has a new due date; the couple is emailed.");
  });

  it("offers no changes once the booking is cancelled", async () => {
    fake.routes["GET /v1/tenant-admin/bookings/b1"] = () => ({ status: 200, body: { ...BOOKING, status: "CANCELLED", schedule: { ...SCHEDULE, instalments: [DEPOSIT, { ...BALANCE, status: "CANCELLED" }] } } });
    await show(<BookingDetail params={{ id: "b1" }} />);
    expect(text(section("Payment schedule"))).toContain("Cancelled");
    expect(() => button("Waive: Balance")).toThrow();
  });

  it("checks a change before sending it", () => {
    const bounds = { min: "2026-12-11", max: "2027-06-15" };
    expect(changeOf("waive", " ", "", bounds).ok).toBe(false);
    expect(changeOf("mark-paid", "cash", "", bounds)).toEqual({ ok: true, change: { action: "mark-paid", note: "cash" } });
    expect(changeOf("due-date", "", "2026-12-10", bounds).ok).toBe(false);
    expect(changeOf("due-date", "", "2026-12-11", bounds)).toEqual({ ok: true, change: { action: "due-date", dueDate: "2026-12-11" } });
    expect(changeOf("due-date", "", "2027-06-15", bounds).ok).toBe(true);
    expect(changeOf("due-date", "", "", bounds).ok).toBe(false);
  });
});

describe("the overview's balances", () => {
  const OVERVIEW = {
    currency: "usd", today: "2026-12-10", holds: [], upcoming: [], month: [], year: [], byMonth: [],
    outstanding: [
      { currency: "usd", outstandingCents: 168000, bookings: 2, overdueCents: 84000, overdueBookings: 1 },
      { currency: "eur", outstandingCents: 50000, bookings: 1, overdueCents: 0, overdueBookings: 0 },
    ],
    overdue: [{ bookingId: "b1", coupleName: "Ana & Ben", eventDate: "2027-01-15", instalment: { ...BALANCE, status: "OVERDUE", dueDate: "2026-12-01" } }],
  };

  it("shows what is owed per currency and links each overdue balance to its booking", async () => {
    fake.routes["GET /v1/tenant-admin/overview"] = () => ({ status: 200, body: OVERVIEW });
    await show(<Overview />);
    expect(text(section("Outstanding"))).toBe(
      "OutstandingStill owed (USD)$1,680.00 on 2 bookingsOverdue$840.00 on 1 bookingStill owed (EUR)€500.00 on 1 bookingOverdue€0.00 on 0 bookings",
    );
    const overdue = section("Overdue balances")!;
    const link = overdue.querySelector("a")!;
    expect([text(link), link.getAttribute("href")]).toEqual(["Ana & Ben", "/admin/bookings/b1"]);
    expect([...overdue.querySelectorAll("tbody td")].map(text)).toEqual(["January 15, 2027", "Balance", "$840.00", "December 1, 2026"]);
    const result = await axe.run(root, { rules: { "color-contrast": { enabled: false }, region: { enabled: false } } });
    expect(result.violations.map((v) => v.id)).toEqual([]);
  });

  it("says when nothing is owed", async () => {
    fake.routes["GET /v1/tenant-admin/overview"] = () => ({ status: 200, body: { ...OVERVIEW, outstanding: [], overdue: [] } });
    await show(<Overview />);
    expect(text(section("Outstanding"))).toBe("OutstandingNo balance is owed.");
    expect(text(section("Overdue balances"))).toBe("Overdue balancesNo balance is overdue.");
  });
});

describe("the platform's outstanding", () => {
  it("shows what confirmed bookings still owe per currency", async () => {
    const stats = {
      tenants: { total: 1, active: 1, connectOnboarded: 1 }, bookings: { liveHolds: 0, confirmed: 2, upcoming: 2, released: 0, cancelled: 0 }, failedStripeEvents: 0, byMonth: [],
      money: [{ currency: "usd", chargedCents: 36000, refundedCents: 0, netPaidCents: 36000, platformFeeCents: 3600, netToTenantsCents: 32400, outstandingCents: 84000, outstandingBookings: 1 }],
    };
    const fake = fakeRequest({ "GET /v1/admin/stats": stats });
    await act(() => render(<PlatformStats request={fake.request} />, root));
    await settle();
    const table = section("Money by currency")!.querySelector("table")!;
    expect(text(table.querySelector("thead tr th:last-child"))).toBe("Outstanding");
    expect(text(table.querySelector("tbody tr td:last-child"))).toBe(`${new Intl.NumberFormat(undefined, { style: "currency", currency: "USD" }).format(840)} (1 booking)`);
  });
});
