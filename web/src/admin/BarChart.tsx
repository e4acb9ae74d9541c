// The overview's chart: one bar per month (net revenue), drawn as SVG (no chart library), with the
// same numbers as a table beside it for screen readers and for anybody who prefers them.
import { formatMoney, minorDigits } from "../app/money";
import type { MonthTotals } from "./api";
import { scaleBars } from "./chart";
import { useId } from "./ui";

const WIDTH = 640;
const HEIGHT = 200;
const AXIS = 64;
const BOTTOM = 24;

export function monthLabel(month: string, locale: string, style: "short" | "long"): string {
  const [y, m] = month.split("-").map(Number);
  if (!y || !m) return month;
  return new Intl.DateTimeFormat(locale, { month: style, year: style === "long" ? "numeric" : undefined, timeZone: "UTC" }).format(
    new Date(Date.UTC(y, m - 1, 1)),
  );
}

export function BarChart({ data, currency, locale }: { data: readonly MonthTotals[]; currency: string; locale: string }) {
  const titleId = useId("chart");
  // At least 100 of the currency on top: an empty year reads $0 / $50 / $100, not fractions of a cent.
  const scale = scaleBars(
    data.map((d) => d.netCents),
    HEIGHT,
    100 * 10 ** minorDigits(currency),
  );
  const slot = (WIDTH - AXIS) / Math.max(1, data.length);
  const bar = Math.max(4, slot * 0.6);
  const money = (cents: number) => formatMoney(cents, currency, locale);
  return (
    <figure class="chart" aria-labelledby={titleId}>
      <figcaption id={titleId}>Net revenue by month, the last {data.length} months</figcaption>
      <svg class="chart-svg" viewBox={`0 0 ${WIDTH} ${HEIGHT + BOTTOM + 8}`} role="img" aria-labelledby={titleId} focusable="false">
        {scale.ticks.map((tick) => {
          const y = 8 + HEIGHT - (tick / scale.max) * HEIGHT;
          return (
            <g key={tick} class="chart-tick" aria-hidden="true">
              <line x1={AXIS} x2={WIDTH} y1={y} y2={y} />
              <text x={AXIS - 6} y={y + 4} text-anchor="end">
                {money(tick)}
              </text>
            </g>
          );
        })}
        {data.map((d, i) => {
          const h = scale.heights[i];
          const x = AXIS + i * slot + (slot - bar) / 2;
          return (
            <g key={d.month} aria-hidden="true">
              <rect class="chart-bar" x={x} y={8 + HEIGHT - h} width={bar} height={h} data-month={d.month} />
              <text class="chart-label" x={x + bar / 2} y={HEIGHT + BOTTOM} text-anchor="middle">
                {monthLabel(d.month, locale, "short")}
              </text>
            </g>
          );
        })}
      </svg>
      <div class="table-wrap">
        <table class="data-table">
          <caption class="visually-hidden">Bookings and money by month</caption>
          <thead>
            <tr>
              <th scope="col">Month</th>
              <th scope="col" class="num">Bookings</th>
              <th scope="col" class="num">Gross</th>
              <th scope="col" class="num">Refunded</th>
              <th scope="col" class="num">Net</th>
            </tr>
          </thead>
          <tbody>
            {data.map((d) => (
              <tr key={d.month}>
                <th scope="row">{monthLabel(d.month, locale, "long")}</th>
                <td class="num">{d.bookings}</td>
                <td class="num">{money(d.grossCents)}</td>
                <td class="num">{money(d.refundedCents)}</td>
                <td class="num">{money(d.netCents)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </figure>
  );
}
