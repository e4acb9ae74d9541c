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

  it("counts minor units as Stripe does where Intl counts differently (forints, krónur, dinars of Libya)", () => {
    // Stripe and our emails: 15,000,000 HUF minor units are 150,000.00 Ft; Intl alone would say 0 digits.
    expect(minorDigits("huf")).toBe(2);
    expect(formatMoney(15_000_000, "huf", "en-US").replace(/\s/g, " ")).toBe("HUF 150,000.00");
    expect(formatMoney(500_000, "isk", "en-US").replace(/\s/g, " ")).toBe("ISK 5,000.00");
    expect(formatMoney(123_400, "lyd", "en-US").replace(/\s/g, " ")).toBe("LYD 1,234.00");
  });

  it("writes money the couple's locale's way", () => {
    expect(formatMoney(123450, "eur", "de-DE").replace(/\s/g, " ")).toBe("1.234,50 €");
  });

  it("still shows the amount for an unknown currency code", () => {
    expect(formatMoney(1050, "zz", "en-US")).toBe("10.50 ZZ");
  });
});
