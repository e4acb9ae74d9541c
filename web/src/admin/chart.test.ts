import { describe, expect, it } from "vitest";
import { niceCeiling, scaleBars } from "./chart";

describe("bar chart scale", () => {
  it("rounds the top up to 1, 2, 2.5 or 5 times a power of ten", () => {
    expect(niceCeiling(0)).toBe(1);
    expect(niceCeiling(-5)).toBe(1);
    expect(niceCeiling(NaN)).toBe(1);
    expect(niceCeiling(1)).toBe(1);
    expect(niceCeiling(1.1)).toBe(2);
    expect(niceCeiling(2.2)).toBe(2.5);
    expect(niceCeiling(3)).toBe(5);
    expect(niceCeiling(7)).toBe(10);
    expect(niceCeiling(240000)).toBe(250000);
    expect(niceCeiling(500000)).toBe(500000);
    expect(niceCeiling(500001)).toBe(1000000);
    expect(niceCeiling(0.3)).toBeCloseTo(0.5);
  });

  it("scales bars to the height; a small value stays visible, negatives are zero", () => {
    const scale = scaleBars([0, 100, 240000, -50, 1], 200);
    expect(scale.max).toBe(250000);
    expect(scale.ticks).toEqual([0, 125000, 250000]);
    expect(scale.heights).toEqual([0, 1, 192, 0, 1]);
  });

  it("all zero: a flat chart, not a division by zero", () => {
    expect(scaleBars([0, 0], 100)).toEqual({ max: 1, ticks: [0, 0.5, 1], heights: [0, 0] });
    expect(scaleBars([], 100).heights).toEqual([]);
    // Amounts in cents with nothing earned yet: the top is whole money, the ticks too.
    expect(scaleBars([0, 0], 100, 10_000)).toEqual({ max: 10_000, ticks: [0, 5_000, 10_000], heights: [0, 0] });
    expect(scaleBars([0, 250_000], 100, 10_000).max).toBe(250_000);
  });
});
