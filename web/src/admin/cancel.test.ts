import { describe, expect, it } from "vitest";
import { cancelPlan, parseAmount, refundableCents } from "./cancel";

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
