import { beforeEach, describe, expect, it } from "vitest";
import { ApiError } from "../../shared/api";
import { bars, moneyByCurrency, PlatformStats, type StatsMonth } from "./PlatformStats";
import { matchLine, parseCommission, parseSearch, PlatformTenant, PlatformTenants, SEARCH_DELAY_MS } from "./PlatformTenants";
import { alertText, button, click, conflict, fakeRequest, field, mount, settle, statusText, submit, text, type } from "./testing";

const T1 = { id: "t1", slug: "rose", name: "Rose & Thorn", active: true, commissionPercent: 10, connectState: "onboarded", stripeAccountId: "acct_1", currency: "usd", timezone: "UTC", createdAt: null, version: 2 };
const T2 = { ...T1, id: "t2", slug: "lily", name: "Lily Films", active: false, connectState: "pending" };

describe("tenant rules", () => {
  it("sends a trimmed search of at most 100 characters", () => {
    expect(parseSearch("  Rose  ")).toEqual({ q: "Rose" });
    expect(parseSearch(` ${"x".repeat(100)} `)).toEqual({ q: "x".repeat(100) });
    expect("error" in parseSearch("x".repeat(101))).toBe(true);
  });
  it("words the answer of a search", () => {
    expect(matchLine(0, false, "oak")).toBe("No business matches “oak”.");
    expect(matchLine(1, false, "oak")).toBe("1 business matches “oak”.");
    expect(matchLine(25, true, "oak")).toBe("25 businesses match “oak” on this page; Next page shows more.");
  });
  it("checks commissions", () => {
    expect(parseCommission("12,5")).toEqual({ percent: "12.5" });
    expect("error" in parseCommission("101")).toBe(true);
    expect("error" in parseCommission("1.234")).toBe(true);
    expect("error" in parseCommission("ten")).toBe(true);
  });
});

async function pause() {
  await new Promise((resolve) => setTimeout(resolve, SEARCH_DELAY_MS + 50));
  await settle();
}

describe("PlatformTenants", () => {
  beforeEach(() => void (document.body.innerHTML = ""));

  it("lists and pages", async () => {
    const fake = fakeRequest({
      "GET /v1/admin/tenants?limit=25": { items: [T1, T2], nextCursor: "n" },
      "GET /v1/admin/tenants?limit=25&cursor=n": { items: [{ ...T1, id: "t3", name: "Oak Hall", slug: "oak" }], nextCursor: null },
    });
    const root = await mount(<PlatformTenants request={fake.request} />);
    expect(text(root.querySelector("tbody"))).toContain("Rose & Thorn");
    expect(text(root.querySelector("tbody"))).toContain("Onboarded");
    await click(button(root, "Next page"));
    expect(text(root.querySelector("tbody"))).toContain("Oak Hall");
    expect(text(root.querySelector("tbody"))).not.toContain("Rose & Thorn");
  });

  it("asks the server once typing pauses, pages the search from its first page, and says when nothing matches", async () => {
    const fake = fakeRequest({
      "GET /v1/admin/tenants?limit=25": { items: [T1, T2], nextCursor: "n" },
      "GET /v1/admin/tenants?limit=25&cursor=n": { items: [{ ...T1, id: "t3", name: "Oak Hall", slug: "oak" }], nextCursor: null },
      "GET /v1/admin/tenants?limit=25&q=lily": { items: [T2], nextCursor: "l2" },
      "GET /v1/admin/tenants?limit=25&cursor=l2&q=lily": { items: [{ ...T2, id: "t4", name: "Lily Two", slug: "lily-two" }], nextCursor: null },
      "GET /v1/admin/tenants?limit=25&q=nobody": { items: [], nextCursor: null },
    });
    const root = await mount(<PlatformTenants request={fake.request} />);
    await click(button(root, "Next page"));
    const search = field(root, "Search by name, slug or admin email");
    await type(search, "l");
    await type(search, "li");
    await type(search, " lily ");
    await pause();
    const asked = fake.calls.filter((c) => c.path.includes("q=")).map((c) => c.path);
    expect(asked).toEqual(["/v1/admin/tenants?limit=25&q=lily"]);
    expect(text(root.querySelector("tbody"))).toContain("Lily Films");
    expect(text(root.querySelector("tbody"))).not.toContain("Rose & Thorn");
    expect(statusText(root)).toContain("1 business matches “lily” on this page; Next page shows more.");
    await click(button(root, "Next page"));
    expect(text(root.querySelector("tbody"))).toContain("Lily Two");
    await type(search, "nobody");
    await pause();
    expect(root.querySelectorAll("tbody tr").length).toBe(0);
    expect(text(root)).toContain("No business matches “nobody”.");
    await type(search, "x".repeat(101));
    await pause();
    expect(text(search.closest(".field"))).toContain("at most 100 characters");
    expect(fake.calls.some((c) => c.path.includes("xxxx"))).toBe(false);
  });

  it("deactivates after a confirmation and activates", async () => {
    const fake = fakeRequest({
      "GET /v1/admin/tenants?limit=25": { items: [T1, T2], nextCursor: null },
      "DELETE /v1/admin/tenants/t1": { ...T1, active: false },
      "PATCH /v1/admin/tenants/t2": { ...T2, active: true },
    });
    const root = await mount(<PlatformTenants request={fake.request} />);
    await click(button(root, "Deactivate Rose & Thorn"));
    await click(button(root, "Yes, deactivate"));
    expect(statusText(root)).toContain("Rose & Thorn was deactivated.");
    await click(button(root, "Activate Lily Films"));
    expect(fake.calls.find((c) => c.method === "PATCH")!.body).toEqual({ active: true });
    expect(statusText(root)).toContain("Lily Films is active again.");
  });

  it("creates a business and shows its keys once; a taken slug is shown beside the field", async () => {
    let posts = 0;
    const fake = fakeRequest({
      "GET /v1/admin/tenants?limit=25": { items: [], nextCursor: null },
      "POST /v1/admin/tenants": () => {
        posts++;
        if (posts === 1) throw new ApiError(409, "SLUG_TAKEN", "the slug is taken", [{ field: "slug", message: "is taken" }]);
        return { tenant: { ...T1, name: "Oak Hall" }, publicKey: "pk_test_oak", secretKey: "sk_test_oak", admin: { email: "a@oak.test", password: "generated-pw" } };
      },
    });
    const root = await mount(<PlatformTenants request={fake.request} />);
    await type(field(root, "Business name"), "Oak Hall");
    await type(field(root, "Slug"), "rose");
    await type(field(root, "First admin’s email"), "a@oak.test");
    const form = field(root, "Slug").closest("form")!;
    await submit(form);
    expect(alertText(root)).toContain("The slug is taken");
    expect(text(field(root, "Slug").closest(".field"))).toContain("is taken");
    await type(field(root, "Slug"), "oak");
    await submit(form);
    expect(fake.calls.filter((c) => c.method === "POST")[1].body).toEqual({ name: "Oak Hall", slug: "oak", commissionPercent: "10", adminEmail: "a@oak.test" });
    expect(text(root.querySelector(".keys"))).toContain("sk_test_oak");
    expect(text(root.querySelector(".keys"))).toContain("generated-pw");
    await click(button(root, "I have saved them"));
    expect(root.querySelector(".keys")).toBeNull();
  });

  it("the detail page saves a commission with the version and handles a stale one", async () => {
    let patches = 0;
    const fake = fakeRequest({
      "GET /v1/admin/tenants/t1": T1,
      "PATCH /v1/admin/tenants/t1": () => {
        patches++;
        if (patches === 1) throw conflict();
        return { ...T1, commissionPercent: 12.5, version: 4 };
      },
    });
    const root = await mount(<PlatformTenant request={fake.request} params={{ id: "t1" }} />);
    await type(field(root, "Commission (%)"), "12.5");
    fake.answers["GET /v1/admin/tenants/t1"] = { ...T1, commissionPercent: 11, version: 3 };
    await click(button(root, "Save the commission"));
    expect(alertText(root)).toContain("Someone else changed this business meanwhile (its commission is 11%)");
    expect(field(root, "Commission (%)").value).toBe("12.5");
    await click(button(root, "Save the commission"));
    expect(fake.calls.filter((c) => c.method === "PATCH")[1].body).toEqual({ commissionPercent: "12.5", version: 3 });
    expect(statusText(root)).toContain("The commission is now 12.5% for new bookings.");
  });
});

const month = (m: string, confirmed = 0, money: StatsMonth["money"] = []): StatsMonth => ({ month: m, bookings: { held: 0, confirmed, released: 0, cancelled: 0 }, money });
const YEAR: StatsMonth[] = [
  ...["2026-06", "2026-07", "2026-08", "2026-09", "2026-10", "2026-11", "2026-12", "2027-01", "2027-02", "2027-03"].map((m) => month(m)),
  month("2027-04", 3, [{ currency: "usd", grossCents: 300000, refundedCents: 50000, feeCents: 25000 }]),
  { ...month("2027-05", 5, [{ currency: "jpy", grossCents: 90000, refundedCents: 0, feeCents: 9000 }, { currency: "usd", grossCents: 200000, refundedCents: 0, feeCents: 20000 }]), bookings: { held: 2, confirmed: 5, released: 1, cancelled: 1 } },
];

describe("PlatformStats", () => {
  it("lines each currency's money up with every month, zeros where none", () => {
    const lines = moneyByCurrency(YEAR);
    expect(lines.map((l) => l.currency)).toEqual(["jpy", "usd"]);
    expect(lines[1].months.map((m) => m.grossCents).slice(-3)).toEqual([0, 300000, 200000]);
    expect(lines[0].months.length).toBe(12);
    expect(moneyByCurrency([month("2027-01")])).toEqual([]);
  });

  it("charts the last 12 months: bookings made, and each currency's money, each with its table", async () => {
    const fake = fakeRequest({
      "GET /v1/admin/stats": { tenants: { total: 1, active: 1, connectOnboarded: 1 }, bookings: { liveHolds: 2, confirmed: 8, upcoming: 5, released: 1, cancelled: 1 }, money: [], failedStripeEvents: 0, byMonth: YEAR },
    });
    const root = await mount(<PlatformStats request={fake.request} />);
    const months = root.querySelector("section[aria-labelledby='stats-months']")!;
    const figures = [...months.querySelectorAll("figure")];
    expect(figures.map((f) => text(f.querySelector("figcaption")))).toEqual(["Bookings made by month (confirmed now)", "Charged in JPY by month", "Charged in USD by month"]);
    for (const figure of figures) expect(figure.querySelectorAll("svg rect").length).toBe(12);
    const heights = [...figures[0].querySelectorAll("svg rect")].map((r) => Number(r.getAttribute("height")));
    expect(heights.slice(0, 10).every((h) => h === 0)).toBe(true);
    expect(heights[11]).toBeGreaterThan(heights[10]);
    const rowsOf = (f: Element) => [...f.querySelectorAll("tbody tr")].map((r) => [...r.children].map(text));
    expect(rowsOf(figures[0])[11]).toEqual(["May 2027", "5", "2", "1", "1"]);
    expect(rowsOf(figures[2])[10]).toEqual(["April 2027", "$3,000.00", "$500.00", "$250.00"]);
    expect(rowsOf(figures[1])[10]).toEqual(["April 2027", "¥0", "¥0", "¥0"]);
  });

  it("scales bars to the largest value", () => {
    expect(bars([{ label: "a", value: 5 }, { label: "b", value: 10 }, { label: "c", value: 0 }], 200).map((b) => b.width)).toEqual([100, 200, 0]);
    expect(bars([{ label: "a", value: 0 }], 200)[0].width).toBe(0);
  });

  it("shows money per currency and the chart with a table alternative", async () => {
    const fake = fakeRequest({
      "GET /v1/admin/stats": {
        tenants: { total: 3, active: 2, connectOnboarded: 1 },
        bookings: { liveHolds: 1, confirmed: 8, upcoming: 5, released: 2, cancelled: 1 },
        money: [
          { currency: "usd", chargedCents: 500000, refundedCents: 0, netPaidCents: 500000, platformFeeCents: 50000, netToTenantsCents: 450000 },
          { currency: "jpy", chargedCents: 90000, refundedCents: 0, netPaidCents: 90000, platformFeeCents: 9000, netToTenantsCents: 81000 },
        ],
        failedStripeEvents: 0,
        byMonth: YEAR,
      },
    });
    const root = await mount(<PlatformStats request={fake.request} />);
    const money = text(root.querySelector("section[aria-labelledby='stats-money']"));
    expect(money).toContain("$5,000.00");
    expect(money).toContain("¥90,000");
    const byStatus = root.querySelector("section[aria-labelledby='stats-bookings']")!;
    expect(text(byStatus.querySelector("svg title"))).toContain("Confirmed 8");
    expect(byStatus.querySelectorAll("svg rect").length).toBe(5);
    await click(button(root, "Show as a table"));
    expect(byStatus.querySelector("svg")).toBeNull();
    const rows = [...root.querySelectorAll("table[data-view='table'] tbody tr")].map((r) => [...r.children].map(text));
    expect(rows).toContainEqual(["Confirmed", "8"]);
  });
});
