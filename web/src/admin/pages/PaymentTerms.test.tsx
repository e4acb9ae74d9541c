import { beforeEach, describe, expect, it } from "vitest";
import { ApiError } from "../../shared/api";
import { Catalog } from "./Catalog";
import { PAY_IN_FULL, parsePercent, percentText, policyOf, draftOf, termsErrors, termsSummary, type PaymentPolicy } from "./paymentTerms";
import { Settings } from "./Settings";
import { alertText, button, click, fakeRequest, field, mount, statusText, submit, text, type } from "./testing";

const DEPOSIT_25: PaymentPolicy = { ...PAY_IN_FULL, depositKind: "percent", depositBps: 2500, balanceDueDays: 45 };

const TENANT = {
  id: "t1", slug: "rose", name: "Rose & Thorn", active: true, currency: "usd", timezone: "UTC", contactEmail: "hi@rose.test",
  branding: { primaryColor: "#1a3b5c", secondaryColor: "#b08d57", logoUrl: null, font: "" },
  policy: { minNoticeDays: 2, maxAdvanceDays: 365, holdMinutes: 31, reminderDays: 7, coupleCancelDays: 30, maxLiveHoldsPerEmail: 0, maxLiveHoldsPerAddress: 0 },
  allowedOrigins: [], connectState: "onboarded", stripeAccountId: "acct_1", paymentPolicy: PAY_IN_FULL, version: 7,
};

const PKG = { id: "p1", slug: "full", title: "Full day", description: "", priceCents: 240000, currency: "usd", active: true, sortOrder: 0, photos: [], segmentId: null, maxGuests: null, paymentPolicy: null, version: 3, updatedAt: null };

describe("payment terms rules", () => {
  it("reads and writes a percent in basis points without floats", () => {
    expect([parsePercent("25"), parsePercent("12.5"), parsePercent("0.05"), parsePercent("33,33"), parsePercent("25 %")]).toEqual([2500, 1250, 5, 3333, 2500]);
    expect([parsePercent("12.345"), parsePercent("abc"), parsePercent("-5"), parsePercent("")]).toEqual([null, null, null, null]);
    expect([percentText(2500), percentText(1250), percentText(5), percentText(3333)]).toEqual(["25", "12.5", "0.05", "33.33"]);
  });

  it("turns a draft into the API's terms, or says which field is not a number", () => {
    const draft = { ...draftOf(PAY_IN_FULL, "usd"), depositKind: "fixed" as const, amount: "500" };
    expect(policyOf(draft, "usd")).toEqual({ policy: { ...PAY_IN_FULL, depositKind: "fixed", depositCents: 50000 } });
    expect(policyOf({ ...draft, amount: "5.005", graceDays: "two" }, "usd")).toEqual({
      errors: { amount: "Write an amount such as 500.00.", graceDays: "Write a whole number of days." },
    });
    expect(draftOf({ ...PAY_IN_FULL, depositKind: "fixed", depositCents: 50000 }, "jpy").amount).toBe("50000");
  });

  it("puts the API's field errors on the draft's fields", () => {
    expect(termsErrors({ "paymentPolicy.depositBps": "too big", "paymentPolicy.graceDays": "too long", name: "x" })).toEqual({ percent: "too big", graceDays: "too long" });
  });

  it("says the terms in words", () => {
    expect(termsSummary(PAY_IN_FULL, "usd")).toBe("Couples pay in full when they book.");
    const said = termsSummary({ ...DEPOSIT_25, overdueAction: "cancel_keep_deposit", depositRefundable: false }, "usd");
    expect(said).toContain("A deposit of 25 % when they book; the balance is due 45 days before the event");
    expect(said).toContain("Unpaid 3 days after the due date: the booking is cancelled and the deposit kept.");
    expect(said).toContain("does not get the deposit back");
    expect(termsSummary({ ...PAY_IN_FULL, depositKind: "fixed", depositCents: 50000 }, "usd")).toContain("A deposit of $500.00");
  });
});

function settingsApi(overrides: Record<string, unknown> = {}) {
  return fakeRequest({
    "GET /v1/tenant-admin/settings": TENANT,
    "GET /v1/tenant-admin/stripe/connect": { connectState: "onboarded", stripeAccountId: "acct_1" },
    ...overrides,
  });
}

const paymentsPart = (root: HTMLElement) => root.querySelector<HTMLElement>("section[aria-labelledby='settings-payments']")!;

describe("Settings: Payments", () => {
  beforeEach(() => void (document.body.innerHTML = ""));

  it("saves a percent deposit as the changed fields, with the version", async () => {
    const fake = settingsApi({ "PATCH /v1/tenant-admin/settings": { ...TENANT, paymentPolicy: DEPOSIT_25, version: 8 } });
    const root = await mount(<Settings request={fake.request} />);
    const part = paymentsPart(root);
    expect(text(part)).toContain("Couples pay in full when they book.");
    await type(field(part, "Deposit"), "percent");
    await type(field(part, "Deposit (percent of the total)"), "25");
    await type(field(part, "Balance due (days before the event)"), "45");
    await click(button(part, "Save payment terms"));

    const patch = fake.calls.find((c) => c.method === "PATCH")!;
    expect(patch.body).toEqual({ paymentPolicy: { depositKind: "percent", depositBps: 2500, balanceDueDays: 45 }, version: 7 });
    expect(statusText(part)).toContain("The payment terms were saved.");
    expect(text(part)).toContain("A deposit of 25 % when they book");
  });

  it("shows the API's field error beside its field", async () => {
    const fake = settingsApi({
      "PATCH /v1/tenant-admin/settings": () => {
        throw new ApiError(400, "VALIDATION_ERROR", "the payment policy is not valid", [{ field: "paymentPolicy.balanceDueDays", message: "must be between 1 and 365 days" }]);
      },
    });
    const root = await mount(<Settings request={fake.request} />);
    const part = paymentsPart(root);
    await type(field(part, "Deposit"), "fixed");
    await type(field(part, "Deposit amount (USD)"), "500");
    await type(field(part, "Balance due (days before the event)"), "400");
    await click(button(part, "Save payment terms"));

    const due = field(part, "Balance due (days before the event)");
    expect(due.getAttribute("aria-invalid")).toBe("true");
    expect(text(due.closest(".field"))).toContain("must be between 1 and 365 days");
    expect(alertText(part)).toContain("The payment policy is not valid");
  });

  it("refuses a percent that is not one before asking the API", async () => {
    const fake = settingsApi();
    const root = await mount(<Settings request={fake.request} />);
    const part = paymentsPart(root);
    await type(field(part, "Deposit"), "percent");
    await type(field(part, "Deposit (percent of the total)"), "a quarter");
    await click(button(part, "Save payment terms"));

    expect(fake.calls.some((c) => c.method === "PATCH")).toBe(false);
    expect(field(part, "Deposit (percent of the total)").getAttribute("aria-invalid")).toBe("true");
    expect(text(part)).toContain("Write a percentage such as 25 or 12.5.");
  });
});

function catalogApi(pkg: Record<string, unknown>, overrides: Record<string, unknown> = {}) {
  return fakeRequest({
    "GET /v1/tenant-admin/settings": { currency: "usd", paymentPolicy: DEPOSIT_25 },
    "GET /v1/tenant-admin/segments*": { items: [], nextCursor: null },
    "GET /v1/tenant-admin/packages?limit=20": { items: [pkg], nextCursor: null },
    "GET /v1/tenant-admin/packages?limit=100": { items: [pkg], nextCursor: null },
    "GET /v1/tenant-admin/add-ons*": { items: [], nextCursor: null },
    ...overrides,
  });
}

describe("Catalog: a package's payment terms", () => {
  beforeEach(() => void (document.body.innerHTML = ""));

  it("gives a package terms of its own, starting from the business's", async () => {
    const mine = { ...DEPOSIT_25, depositKind: "fixed", depositBps: 0, depositCents: 80000 };
    const fake = catalogApi(PKG, { "PATCH /v1/tenant-admin/packages/p1": { ...PKG, paymentPolicy: mine, version: 4 } });
    const root = await mount(<Catalog request={fake.request} />);
    expect(text(root.querySelector("tbody"))).toContain("The business’s");
    await click(button(root, "Edit Full day"));
    expect(text(root.querySelector("fieldset.terms"))).toContain("A deposit of 25 % when they book");
    await click(field(root, "Terms of its own for this package"));
    expect(field(root, "Deposit (percent of the total)").value).toBe("25");
    await type(field(root, "Deposit"), "fixed");
    await type(field(root, "Deposit amount (USD)"), "800");
    await submit(root.querySelector("form")!);

    const patch = fake.calls.find((c) => c.method === "PATCH")!;
    expect(patch.body).toEqual({ paymentPolicy: mine, version: 3 });
    expect(statusText(root)).toContain("The package was saved.");
  });

  it("sends the package back to the business's terms with null", async () => {
    const own = { ...PKG, paymentPolicy: { ...PAY_IN_FULL, depositKind: "fixed", depositCents: 80000 } };
    const fake = catalogApi(own, { "PATCH /v1/tenant-admin/packages/p1": { ...PKG, version: 4 } });
    const root = await mount(<Catalog request={fake.request} />);
    expect(text(root.querySelector("tbody"))).toContain("Its own");
    await click(button(root, "Edit Full day"));
    expect(field(root, "Deposit amount (USD)").value).toBe("800.00");
    await click(field(root, "The business’s terms"));
    await submit(root.querySelector("form")!);

    expect(fake.calls.find((c) => c.method === "PATCH")!.body).toEqual({ paymentPolicy: null, version: 3 });
  });

  it("shows the API's error on the package's deposit beside the amount", async () => {
    const fake = catalogApi(PKG, {
      "PATCH /v1/tenant-admin/packages/p1": () => {
        throw new ApiError(400, "VALIDATION_ERROR", "the payment policy is not valid", [{ field: "paymentPolicy.depositCents", message: "must be a positive amount of at most 100000000" }]);
      },
    });
    const root = await mount(<Catalog request={fake.request} />);
    await click(button(root, "Edit Full day"));
    await click(field(root, "Terms of its own for this package"));
    await type(field(root, "Deposit"), "fixed");
    await type(field(root, "Deposit amount (USD)"), "0");
    await submit(root.querySelector("form")!);

    const amount = field(root, "Deposit amount (USD)");
    expect(amount.getAttribute("aria-invalid")).toBe("true");
    expect(text(amount.closest(".field"))).toContain("must be a positive amount");
  });
});
