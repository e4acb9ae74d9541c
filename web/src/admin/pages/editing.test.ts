import { describe, expect, it } from "vitest";
import { changedFields, changes, fromForm, mergeTyped, moneyInput, parseMoney, same, toForm, type FieldSpec } from "./editing";

const SPECS: FieldSpec[] = [
  { key: "title", label: "Title", kind: "text", required: true },
  { key: "priceCents", label: "Price", kind: "money", required: true },
  { key: "maxGuests", label: "Maximum guests", kind: "int", nullable: true },
  { key: "active", label: "Active", kind: "bool" },
  { key: "packageIds", label: "Offered with", kind: "checks" },
];

describe("money inputs", () => {
  it("reads amounts in the currency's unit as Stripe counts it", () => {
    expect(parseMoney("1,234.5", "usd")).toBe(123450);
    expect(parseMoney("12", "usd")).toBe(1200);
    expect(parseMoney("5000", "jpy")).toBe(5000);
    expect(parseMoney("1.5", "jpy")).toBeNull();
    expect(parseMoney("1.234", "kwd")).toBe(1234);
    expect(parseMoney("1.234", "usd")).toBeNull();
    expect(parseMoney("-3", "usd")).toBeNull();
    expect(parseMoney("abc", "usd")).toBeNull();
  });
  it("writes them back for the input", () => {
    expect(moneyInput(123450, "usd")).toBe("1234.50");
    expect(moneyInput(5000, "jpy")).toBe("5000");
  });
});

describe("forms", () => {
  const pkg = { id: "p1", version: 3, title: "Full day", priceCents: 240000, maxGuests: null, active: true, packageIds: ["a", "b"] };

  it("round-trips an object through the form", () => {
    const values = toForm(SPECS, pkg, "usd");
    expect(values).toEqual({ title: "Full day", priceCents: "2400.00", maxGuests: "", active: true, packageIds: ["a", "b"] });
    expect(fromForm(SPECS, values, "usd")).toEqual({
      body: { title: "Full day", priceCents: 240000, maxGuests: null, active: true, packageIds: ["a", "b"] },
      errors: {},
    });
  });

  it("names each field's problem", () => {
    const { errors } = fromForm(SPECS, { title: " ", priceCents: "12.345", maxGuests: "many", active: false, packageIds: [] }, "usd");
    expect(errors).toEqual({ title: "Title is required.", priceCents: "Write an amount such as 1234.50.", maxGuests: "Write a whole number." });
  });

  it("sends only what changed (lists compared as sets)", () => {
    const before = fromForm(SPECS, toForm(SPECS, pkg, "usd"), "usd").body;
    const mine = { ...before, title: "Full day+", packageIds: ["b", "a"] };
    expect(changes(mine, before)).toEqual({ title: "Full day+" });
  });

  it("after a conflict keeps what the admin typed and takes theirs elsewhere", () => {
    const theirs = { ...pkg, version: 4, priceCents: 250000, title: "Whole day" };
    expect(changedFields(SPECS, pkg, theirs, "usd").map((s) => s.key)).toEqual(["title", "priceCents"]);
    const typed = { ...toForm(SPECS, pkg, "usd"), title: "Full day (10 h)" };
    const merged = mergeTyped(SPECS, typed, pkg, theirs, "usd");
    expect(merged.title).toBe("Full day (10 h)");
    expect(merged.priceCents).toBe("2500.00");
  });
});

describe("same", () => {
  it("compares lists of ids as sets and other lists in order", () => {
    expect(same(["a", "b"], ["b", "a"])).toBe(true);
    const barn = { url: "https://img.test/barn.jpg", alt: "Barn" };
    const garden = { url: "https://img.test/garden.jpg", alt: "Garden" };
    expect(same([barn, garden], [barn, garden])).toBe(true);
    expect(same([barn, garden], [garden, barn])).toBe(false);
    expect(same([barn], [{ ...barn, alt: "The barn" }])).toBe(false);
  });
});
