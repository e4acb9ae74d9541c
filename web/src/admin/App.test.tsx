// The shell in happy-dom against a fake server: the sign-in round trip with its return path, the role
// rule (a tenant admin on a platform page reads "Not found"), an ended session, the landmarks, and the
// cancel form showing the amounts before it sends anything.
import { render } from "preact";
import { act } from "preact/test-utils";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createAdminApi, type AdminBooking } from "./api";
import { App, SIGNED_OUT_EVENT } from "./App";
import type { AdminPage } from "./pages/types";

const ME = {
  userId: "u1", email: "owner@rose.test", role: "tenant_admin", tenantId: "t1", csrfToken: "csrf-1",
  tenant: { id: "t1", slug: "rose", name: "Rose & Thorn", active: true, timezone: "UTC", currency: "usd", version: 1, policy: {} },
};
const BOOKING: AdminBooking = {
  id: "b1", status: "CONFIRMED", eventDate: "2030-06-15", coupleName: "Ana & Ben", email: "ana@x.test", phone: null, notes: null,
  packageId: "p1", totalCents: 120000, currency: "usd",
  quote: { packageId: "p1", totalCents: 120000, currency: "usd", lines: [{ kind: "package", id: "p1", slug: "full", title: "Full day", priceCents: 120000 }] },
  amountPaidCents: 120000, amountRefundedCents: 0, holdExpiresAt: null, cancelReason: null, createdAt: null, updatedAt: null,
  customerId: "c1", paymentSessionId: null,
  history: [{ from: "HELD", to: "CONFIRMED", actor: "stripe", reason: null, at: "2030-01-01T10:00:00Z" }],
};

type Handler = (init: RequestInit) => { status: number; body?: unknown };
let signedIn = false;
let calls: { method: string; url: string; body: unknown; headers: Record<string, string> }[] = [];
let routes: Record<string, Handler> = {};

function server(): typeof fetch {
  return (async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = String(input);
    const method = init.method ?? "GET";
    calls.push({ method, url, body: init.body ? JSON.parse(String(init.body)) : undefined, headers: (init.headers ?? {}) as Record<string, string> });
    const handler = routes[`${method} ${url.split("?")[0]}`];
    const answer = handler ? handler(init) : { status: 404, body: { error: "NOT_FOUND", message: "not found" } };
    return new Response(answer.status === 204 ? null : JSON.stringify(answer.body ?? {}), { status: answer.status, headers: { "Content-Type": "application/json" } });
  }) as typeof fetch;
}

let root: HTMLElement;
const flush = async () => {
  for (let i = 0; i < 6; i++) await act(async () => { await new Promise((r) => setTimeout(r, 0)); });
};
const h1 = () => root.querySelector("h1")?.textContent;
const buttonNamed = (name: string) =>
  Array.from(root.querySelectorAll("button")).find((b) => b.textContent?.trim() === name) as HTMLButtonElement | undefined;
function type(input: HTMLInputElement, value: string) {
  input.value = value;
  input.dispatchEvent(new Event("input", { bubbles: true }));
}

async function start(path: string, extraPages: AdminPage[] = []) {
  window.history.replaceState(null, "", path);
  const api = createAdminApi({ fetch: server(), onUnauthorized: () => window.dispatchEvent(new Event(SIGNED_OUT_EVENT)) });
  await act(() => render(<App api={api} locale="en-GB" extraPages={extraPages} />, root));
  await flush();
}

beforeEach(() => {
  signedIn = false;
  calls = [];
  routes = {
    "GET /v1/auth/me": () => (signedIn ? { status: 200, body: ME } : { status: 401, body: { error: "UNAUTHENTICATED", message: "not authenticated" } }),
    "POST /v1/auth/session": (init) => {
      const body = JSON.parse(String(init.body));
      if (body.password !== "right-password-1") return { status: 401, body: { error: "UNAUTHENTICATED", message: "wrong email or password" } };
      signedIn = true;
      return { status: 200, body: { role: "tenant_admin", tenantId: "t1", email: body.email, expiresAt: "x", csrfToken: "csrf-1" } };
    },
    "GET /v1/tenant-admin/bookings": () => ({ status: 200, body: { items: [BOOKING], nextCursor: "c2" } }),
    "GET /v1/tenant-admin/bookings/b1": () => ({ status: 200, body: BOOKING }),
    "GET /v1/tenant-admin/bookings/b1/ledger": () => ({
      status: 200,
      body: { bookingId: "b1", currency: "usd", entries: [{ id: "l1", kind: "charge", amountCents: 120000, currency: "usd", stripeObjectId: "ch_1", createdAt: null }],
        totals: { chargedCents: 120000, feeCents: 6000, refundedCents: 0, feeRefundedCents: 0, netPaidCents: 120000, platformFeeCents: 6000, netToTenantCents: 114000 } },
    }),
    "POST /v1/tenant-admin/bookings/b1/cancel": () => ({ status: 200, body: { ...BOOKING, status: "CANCELLED", amountRefundedCents: 30000, refund: { refundedCents: 30000, totalRefundedCents: 30000, feeRefundedCents: 1500 } } }),
    "DELETE /v1/auth/session": () => ({ status: 204 }),
  };
  root = document.createElement("div");
  document.body.append(root);
});
afterEach(() => {
  render(null, root);
  root.remove();
});

describe("the dashboards' shell", () => {
  it("signed out: sign-in, with the page to come back to, and back there after signing in", async () => {
    await start("/admin/bookings?status=CONFIRMED");
    expect(window.location.pathname).toBe("/admin/sign-in");
    expect(new URLSearchParams(window.location.search).get("next")).toBe("/admin/bookings?status=CONFIRMED");
    expect(h1()).toBe("Sign in");

    const [email, password] = Array.from(root.querySelectorAll("input"));
    await act(() => type(email, "owner@rose.test"));
    await act(() => type(password, "wrong-password"));
    await act(() => { root.querySelector("form")!.dispatchEvent(new Event("submit", { cancelable: true })); });
    await flush();
    expect(root.querySelector('[role="alert"]')!.textContent).toContain("do not match");
    expect(window.location.pathname).toBe("/admin/sign-in");

    await act(() => type(password, "right-password-1"));
    await act(() => { root.querySelector("form")!.dispatchEvent(new Event("submit", { cancelable: true })); });
    await flush();
    expect(window.location.pathname + window.location.search).toBe("/admin/bookings?status=CONFIRMED");
    expect(h1()).toBe("Bookings");
    expect(calls.find((c) => c.url.startsWith("/v1/tenant-admin/bookings?"))!.url).toContain("status=CONFIRMED");
    expect(root.querySelector(".admin-business")!.textContent).toBe("Rose & Thorn");
    expect(root.querySelector("main#main")).not.toBeNull();
    expect(root.querySelector('nav[aria-label="Dashboard"] a[aria-current="page"]')!.textContent).toBe("Bookings");
    expect(root.querySelector("a.skip-link")!.getAttribute("href")).toBe("#main");
    expect(buttonNamed("Next page")).toBeDefined();
  });

  it("says the wait in words on 429", async () => {
    routes["POST /v1/auth/session"] = () => ({ status: 429, body: { error: "RATE_LIMITED", message: "too many requests" } });
    await start("/admin/sign-in");
    const [email, password] = Array.from(root.querySelectorAll("input"));
    await act(() => type(email, "owner@rose.test"));
    await act(() => type(password, "whatever-1"));
    await act(() => { root.querySelector("form")!.dispatchEvent(new Event("submit", { cancelable: true })); });
    await flush();
    expect(root.querySelector('[role="alert"]')!.textContent).toMatch(/Too many attempts/);
  });

  it("a tenant admin on a platform page reads Not found; platform pages are not in their nav", async () => {
    signedIn = true;
    const Platform = () => <h1>Tenants</h1>;
    await start("/admin/platform", [{ path: "/admin/platform", title: "Tenants", component: Platform, role: "platform_admin" }]);
    expect(h1()).toBe("Not found");
    expect(root.querySelector('nav[aria-label="Dashboard"]')!.textContent).not.toContain("Tenants");
  });

  it("an ended session (401 on a call) goes back to sign-in with the return path", async () => {
    signedIn = true;
    await start("/admin/bookings/b1");
    expect(h1()).toContain("Ana & Ben");
    routes["POST /v1/tenant-admin/bookings/b1/resend-confirmation"] = () => ({ status: 401, body: { error: "UNAUTHENTICATED", message: "expired" } });
    await act(() => buttonNamed("Resend the confirmation email")!.click());
    await flush();
    expect(window.location.pathname).toBe("/admin/sign-in");
    expect(new URLSearchParams(window.location.search).get("next")).toBe("/admin/bookings/b1");
  });

  it("cancelling shows what is refunded and what stays paid before it sends anything", async () => {
    signedIn = true;
    await start("/admin/bookings/b1");
    await act(() => buttonNamed("Cancel this booking…")!.click());
    const amountRadio = root.querySelector<HTMLInputElement>('input[type="radio"][value="amount"]')!;
    await act(() => amountRadio.click());
    const amount = root.querySelector<HTMLInputElement>('input[inputmode="decimal"]')!;
    await act(() => type(amount, "300"));
    await act(() => { root.querySelector("form.cancel-form")!.dispatchEvent(new Event("submit", { cancelable: true })); });
    expect(root.querySelector('[data-testid="refund-amount"]')!.textContent).toBe("US$300.00");
    expect(root.querySelector('[data-testid="kept-amount"]')!.textContent).toBe("US$900.00");
    expect(calls.some((c) => c.url.endsWith("/cancel"))).toBe(false);
    // Once cancelled, the booking reads cancelled: the form goes, and the outcome stays said on the page.
    routes["GET /v1/tenant-admin/bookings/b1"] = () => ({ status: 200, body: { ...BOOKING, status: "CANCELLED", amountRefundedCents: 30000 } });
    await act(() => buttonNamed("Cancel the booking and refund US$300.00")!.click());
    await flush();
    const cancel = calls.find((c) => c.url.endsWith("/cancel"))!;
    expect(cancel.body).toEqual({ reason: "", refund: { amountCents: 30000 } });
    expect(cancel.headers["X-CSRF-Token"]).toBe("csrf-1");
    expect(cancel.headers["Idempotency-Key"]).toMatch(/^[0-9a-f]{32}$/);
    const said = [...root.querySelectorAll('[role="status"]')].map((e) => e.textContent);
    expect(said).toContain("The booking is cancelled; US$300.00 refunded. The couple is emailed.");
    expect(root.querySelector("form.cancel-form")).toBeNull();
    expect(buttonNamed("Cancel this booking…")).toBeFalsy();
  });

  it("the cancel review spreads the refund over the deposit and the balance, latest first, and names offline money", async () => {
    signedIn = true;
    const instalment = { currency: "usd", paidAt: "2030-01-01T10:00:00Z", note: null, refundedCents: 0, feeCents: 0 };
    const schedule = {
      currency: "usd", totalCents: 150000, paidCents: 150000, refundedCents: 0, outstandingCents: 0, nextDueDate: null, overdue: false,
      instalments: [
        { ...instalment, seq: 1, kind: "DEPOSIT", amountCents: 36000, dueDate: "2030-01-01", status: "PAID", paidCents: 36000, paidOffline: false },
        { ...instalment, seq: 2, kind: "BALANCE", amountCents: 84000, dueDate: "2030-05-16", status: "PAID", paidCents: 84000, paidOffline: false },
        { ...instalment, seq: 3, kind: "BALANCE", amountCents: 30000, dueDate: "2030-06-01", status: "PAID", paidCents: 30000, paidOffline: true, note: "Cash" },
      ],
    };
    routes["GET /v1/tenant-admin/bookings/b1"] = () => ({ status: 200, body: { ...BOOKING, amountPaidCents: 150000, schedule } });
    routes["GET /v1/tenant-admin/bookings/b1/ledger"] = () => ({
      status: 200,
      body: {
        bookingId: "b1", currency: "usd",
        entries: [
          { id: "l1", kind: "charge", amountCents: 36000, currency: "usd", stripeObjectId: "ch_1", createdAt: null, instalmentSeq: 1 },
          { id: "l2", kind: "charge", amountCents: 84000, currency: "usd", stripeObjectId: "ch_2", createdAt: null, instalmentSeq: 2 },
        ],
        totals: { chargedCents: 120000, feeCents: 12000, refundedCents: 0, feeRefundedCents: 0, netPaidCents: 120000, platformFeeCents: 12000, netToTenantCents: 108000 },
      },
    });
    await start("/admin/bookings/b1");
    await act(() => buttonNamed("Cancel this booking…")!.click());
    // Only what went through Stripe can be refunded: not the cash the business marked paid.
    expect(root.querySelector("form.cancel-form")!.textContent).toContain("Full refund (US$1,200.00)");
    expect(root.querySelector("form.cancel-form .notice")!.textContent).toContain("US$300.00 was paid to you outside Stripe");
    await act(() => root.querySelector<HTMLInputElement>('input[type="radio"][value="amount"]')!.click());
    await act(() => type(root.querySelector<HTMLInputElement>('input[inputmode="decimal"]')!, "1000"));
    await act(() => { root.querySelector("form.cancel-form")!.dispatchEvent(new Event("submit", { cancelable: true })); });
    const spread = [...root.querySelectorAll('[data-testid="refund-spread"] li')].map((li) => li.textContent);
    expect(spread).toEqual(["Balance payment: US$840.00", "Deposit payment: US$160.00"]);
    expect(root.querySelector('[data-testid="kept-amount"]')!.textContent).toBe("US$200.00");
    expect(root.querySelector('[data-testid="offline-note"]')!.textContent).toContain("it is not refunded here");
    expect(calls.some((c) => c.url.endsWith("/cancel"))).toBe(false);
  });

  it("one payment: the review names no spread", async () => {
    signedIn = true;
    await start("/admin/bookings/b1");
    await act(() => buttonNamed("Cancel this booking…")!.click());
    await act(() => { root.querySelector("form.cancel-form")!.dispatchEvent(new Event("submit", { cancelable: true })); });
    expect(root.querySelector('[data-testid="refund-amount"]')!.textContent).toBe("US$1,200.00");
    expect(root.querySelector('[data-testid="refund-spread"]')).toBeNull();
    expect(root.querySelector('[data-testid="offline-note"]')).toBeNull();
  });

  it("signs out and lands on sign-in", async () => {
    signedIn = true;
    await start("/admin/bookings");
    await act(() => buttonNamed("Sign out")!.click());
    await flush();
    expect(calls.some((c) => c.method === "DELETE" && c.url === "/v1/auth/session")).toBe(true);
    expect(window.location.pathname).toBe("/admin/sign-in");
    expect(h1()).toBe("Sign in");
  });
});

describe("the bookings list", () => {
  it("gives a time-slot booking's times beside its date, and a whole day its date alone", async () => {
    signedIn = true;
    const slot: AdminBooking = { ...BOOKING, id: "b2", eventDate: "2030-06-16", coupleName: "Cleo & Dan", kind: "SLOT", startsAt: "2030-06-16T14:00:00+02:00", endsAt: "2030-06-16T15:30:00+02:00" } as AdminBooking;
    routes["GET /v1/tenant-admin/bookings"] = () => ({ status: 200, body: { items: [BOOKING, slot], nextCursor: null } });
    await start("/admin/bookings");
    const rows = Array.from(root.querySelectorAll("tbody tr")).map((row) => row.querySelector("td")?.textContent?.trim());
    expect(rows).toEqual([expect.stringMatching(/15 June 2030$/), expect.stringMatching(/16 June 2030 14:00\u201315:30$/)]);
  });
});
