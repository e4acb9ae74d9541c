// The overview's bar chart scale: a round top value (1, 2, 2.5 or 5 times a power of ten) at or above
// the largest bar, and each bar's height in whole pixels (a non-zero value never vanishes).

/** The smallest of 1, 2, 2.5, 5, 10 × 10^k at or above `value`; 1 for nothing to show. */
export function niceCeiling(value: number): number {
  if (!Number.isFinite(value) || value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) {
    const candidate = step * power;
    // Rounding of the power (e.g. 10 ** -1) must not push an exact match past the candidate.
    if (candidate >= value * (1 - 1e-12)) return candidate;
  }
  return 10 * power;
}

export interface Scale {
  /** The value at the top of the chart. */
  max: number;
  /** The gridlines' values, bottom to top (0, half, top). */
  ticks: number[];
  /** Each bar's height in pixels, 0..height. */
  heights: number[];
}

/** `minTop`: the least top value (a chart of amounts in cents with nothing earned yet still reads in whole
 * money, not in fractions of a cent). */
export function scaleBars(values: readonly number[], height: number, minTop = 1): Scale {
  const positive = values.map((v) => (Number.isFinite(v) && v > 0 ? v : 0));
  const max = niceCeiling(Math.max(minTop, ...positive));
  const heights = positive.map((v) => (v === 0 ? 0 : Math.max(1, Math.round((v / max) * height))));
  return { max, ticks: [0, max / 2, max], heights };
}
