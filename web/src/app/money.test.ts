import { describe, expect, it } from "vitest";
import { formatMoney, minorDigits } from "./money";

describe("formatMoney", () => {
  it("divides by the currency's own minor unit", () => {
    expect(minorDigits("usd")).toBe(2);
    expect(minorDigits("JPY")).toBe(0);
    expect(minorDigits("kwd")).toBe(3);
  });

  it("formats US dollars from cents", () => {
    expect(formatMoney(123400, "usd", "en-US")).toBe("$1,234.00");
    expect(formatMoney(40000, "USD", "en-US")).toBe("$400.00");
  });

  it("formats yen, which have no minor unit, as whole yen", () => {
    expect(formatMoney(250000, "jpy", "en-US")).toBe("¥250,000");
    expect(formatMoney(250000, "jpy", "ja-JP")).toBe("￥250,000");
  });

  it("formats a three-decimal currency from its thousandths", () => {
    expect(formatMoney(1234567, "kwd", "en-US").replace(/\s/g, " ")).toBe("KWD 1,234.567");
  });

  it("writes money the couple's locale's way", () => {
    expect(formatMoney(123450, "eur", "de-DE").replace(/\s/g, " ")).toBe("1.234,50 €");
  });

  it("still shows the amount for an unknown currency code", () => {
    expect(formatMoney(1050, "zz", "en-US")).toBe("10.50 ZZ");
  });
});
