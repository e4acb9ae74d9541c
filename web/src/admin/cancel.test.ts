import { describe, expect, it } from "vitest";
import type { Ledger } from "./api";
import { cancelPlan, paidOfflineCents, parseAmount, refundableCents, refundSpread } from "./cancel";

const paid = { amountPaidCents: 120000, amountRefundedCents: 20000, currency: "usd" };

describe("cancel form amounts", () => {
  it("refundable is paid minus refunded, never negative", () => {
    expect(refundableCents(paid)).toBe(100000);
    expect(refundableCents({ amountPaidCents: 0, amountRefundedCents: 10 })).toBe(0);
  });

  it("reads amounts in the currency's unit as Stripe's minor units", () => {
    expect(parseAmount("150", "usd")).toBe(15000);
    expect(parseAmount("150.5", "usd")).toBe(15050);
    expect(parseAmount(" 150,05 ", "eur")).toBe(15005);
    expect(parseAmount("150.555", "usd")).toBeNull();
    expect(parseAmount("1,500.00", "usd")).toBeNull();
    expect(parseAmount("15000", "jpy")).toBe(15000);
    expect(parseAmount("150.5", "jpy")).toBeNull();
    expect(parseAmount("1.234", "kwd")).toBe(1234);
    expect(parseAmount("-5", "usd")).toBeNull();
    expect(parseAmount("abc", "usd")).toBeNull();
  });

  it("none, full and an amount: what the couple gets back and what stays paid", () => {
    expect(cancelPlan("none", "", paid)).toEqual({ ok: true, refundCents: 0, keptCents: 100000, refund: "none" });
    expect(cancelPlan("full", "", paid)).toEqual({ ok: true, refundCents: 100000, keptCents: 0, refund: "full" });
    expect(cancelPlan("amount", "250.00", paid)).toEqual({ ok: true, refundCents: 25000, keptCents: 75000, refund: { amountCents: 25000 } });
    expect(cancelPlan("amount", "1000", paid)).toMatchObject({ ok: true, refundCents: 100000, keptCents: 0 });
  });

  it("refuses an empty, unreadable, zero or too large amount", () => {
    expect(cancelPlan("amount", "", paid)).toMatchObject({ ok: false });
    expect(cancelPlan("amount", "12.345", paid)).toMatchObject({ ok: false, error: expect.stringContaining("2 decimals") });
    expect(cancelPlan("amount", "0", paid)).toMatchObject({ ok: false });
    expect(cancelPlan("amount", "1000.01", paid)).toMatchObject({ ok: false, error: expect.stringContaining("more than") });
  });
});

const entry = (id: string, kind: string, amountCents: number, instalmentSeq: number | null) => ({
  id, kind, amountCents, currency: "usd", stripeObjectId: `x_${id}`, createdAt: null, instalmentSeq,
});
const totals = { chargedCents: 0, feeCents: 0, refundedCents: 0, feeRefundedCents: 0, netPaidCents: 0, platformFeeCents: 0, netToTenantCents: 0 };

describe("a refund over several payments", () => {
  const ledger: Ledger = {
    bookingId: "b1",
    currency: "usd",
    totals,
    entries: [
      entry("1", "charge", 3000, 1),
      entry("2", "application_fee", 300, 1),
      entry("3", "charge", 7000, 2),
      entry("4", "refund", 1000, 2),
    ],
  };

  it("goes back through the latest payment first, each never beyond what is left of it", () => {
    expect(refundSpread(ledger, 2000)).toEqual([{ seq: 2, refundCents: 2000 }]);
    expect(refundSpread(ledger, 8000)).toEqual([
      { seq: 2, refundCents: 6000 },
      { seq: 1, refundCents: 2000 },
    ]);
    expect(refundSpread(ledger, 9000).reduce((sum, s) => sum + s.refundCents, 0)).toBe(9000);
    expect(refundSpread(ledger, 0)).toEqual([]);
  });

  it("names no payment when the ledger does not say which instalment an entry paid", () => {
    expect(refundSpread({ ...ledger, entries: [entry("1", "charge", 3000, null)] }, 1000)).toEqual([]);
  });

  it("counts what was paid outside Stripe apart", () => {
    const instalment = { seq: 2, kind: "BALANCE" as const, amountCents: 7000, currency: "usd", dueDate: "2030-05-01", status: "PAID" as const, paidAt: null, note: "Bank transfer" };
    expect(paidOfflineCents([{ ...instalment, paidCents: 7000, refundedCents: 0, paidOffline: true }])).toBe(7000);
    expect(paidOfflineCents([{ ...instalment, paidCents: 7000, refundedCents: 0, paidOffline: false }])).toBe(0);
    expect(paidOfflineCents(undefined)).toBe(0);
  });
});
