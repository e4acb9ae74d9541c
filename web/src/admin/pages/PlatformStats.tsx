// /admin/platform/stats: tenants, bookings by status (an SVG bar chart with the same numbers as a
// table beside it), money per currency, never summed across currencies, and both month by month over
// the last year (bars scaled as the overview's, each with its table).
import { Link } from "../router";
import { useEffect, useState } from "preact/hooks";
import { formatMoney, minorDigits, userLocale } from "../../app/money";
import { monthLabel } from "../BarChart";
import { scaleBars } from "../chart";
import { useId } from "../ui";
import { Loaded } from "./common";
import { errorText, type PageProps } from "./request";

export interface PlatformStatsAnswer {
  tenants: { total: number; active: number; connectOnboarded: number };
  bookings: { liveHolds: number; confirmed: number; upcoming: number; released: number; cancelled: number };
  money: {
    currency: string;
    chargedCents: number;
    refundedCents: number;
    netPaidCents: number;
    platformFeeCents: number;
    netToTenantsCents: number;
    /** Still owed on confirmed bookings (balances not yet due, and overdue ones), and on how many. */
    outstandingCents?: number;
    outstandingBookings?: number;
  }[];
  failedStripeEvents: number;
  /** The last 12 months (UTC), oldest first: bookings made that month by their state now, money recorded that month. */
  byMonth: StatsMonth[];
}

export interface StatsMonth {
  month: string;
  bookings: { held: number; confirmed: number; released: number; cancelled: number };
  money: { currency: string; grossCents: number; refundedCents: number; feeCents: number }[];
}

/** Every currency with money in any month, in order, and each month's figures in it (zeros where none). */
export function moneyByCurrency(months: readonly StatsMonth[]): { currency: string; months: { month: string; grossCents: number; refundedCents: number; feeCents: number }[] }[] {
  const currencies = [...new Set(months.flatMap((m) => m.money.map((x) => x.currency)))].sort();
  return currencies.map((currency) => ({
    currency,
    months: months.map((m) => {
      const found = m.money.find((x) => x.currency === currency);
      return { month: m.month, grossCents: found?.grossCents ?? 0, refundedCents: found?.refundedCents ?? 0, feeCents: found?.feeCents ?? 0 };
    }),
  }));
}

export const STATUS_LABELS: [keyof PlatformStatsAnswer["bookings"], string][] = [
  ["liveHolds", "Held now"],
  ["confirmed", "Confirmed"],
  ["upcoming", "Upcoming (confirmed, not yet held)"],
  ["released", "Released"],
  ["cancelled", "Cancelled"],
];

export interface Bar {
  label: string;
  value: number;
  y: number;
  width: number;
}

/** Horizontal bars in a `width`-wide chart: the largest value fills the bar area, a zero draws nothing. */
export function bars(values: { label: string; value: number }[], width: number, rowHeight = 28): Bar[] {
  const max = Math.max(0, ...values.map((v) => v.value));
  return values.map((v, i) => ({ ...v, y: i * rowHeight, width: max > 0 ? Math.round((Math.max(0, v.value) / max) * width) : 0 }));
}

const LABEL_WIDTH = 240;
const BAR_AREA = 320;
const ROW = 28;

export function PlatformStats({ request }: PageProps) {
  const [stats, setStats] = useState<PlatformStatsAnswer | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [asTable, setAsTable] = useState(false);
  useEffect(() => {
    request<PlatformStatsAnswer>("GET", "/v1/admin/stats").then(setStats, (e) => setError(errorText(e)));
  }, []);
  const data = stats ? STATUS_LABELS.map(([key, label]) => ({ label, value: stats.bookings[key] })) : [];
  const drawn = bars(data, BAR_AREA, ROW);
  return (
    <div class="admin-page">
      <h1>Platform statistics</h1>
      <Loaded loading={!stats && !error} error={error}>
        {stats && (
          <>
            <section aria-labelledby="stats-tenants">
              <h2 id="stats-tenants">Businesses</h2>
              <dl class="summary">
                <dt>All</dt>
                <dd>{stats.tenants.total}</dd>
                <dt>Active</dt>
                <dd>{stats.tenants.active}</dd>
                <dt>Onboarded on Stripe Connect</dt>
                <dd>{stats.tenants.connectOnboarded}</dd>
                <dt>Stripe events that failed</dt>
                <dd>
                  {stats.failedStripeEvents} (<Link href="/admin/platform/webhooks">webhook health</Link>)
                </dd>
              </dl>
            </section>
            <section aria-labelledby="stats-bookings">
              <h2 id="stats-bookings">Bookings by status</h2>
              <button type="button" class="link-button" aria-pressed={asTable ? "true" : "false"} onClick={() => setAsTable(!asTable)}>
                {asTable ? "Show as a chart" : "Show as a table"}
              </button>
              {asTable ? (
                <table class="list" data-view="table">
                  <caption>Bookings by status</caption>
                  <thead>
                    <tr>
                      <th scope="col">Status</th>
                      <th scope="col" class="num">Bookings</th>
                    </tr>
                  </thead>
                  <tbody>
                    {data.map((d) => (
                      <tr key={d.label}>
                        <th scope="row">{d.label}</th>
                        <td class="num">{d.value}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              ) : (
                <svg class="chart" data-view="chart" role="img" aria-labelledby="stats-chart-title" viewBox={`0 0 ${LABEL_WIDTH + BAR_AREA + 60} ${drawn.length * ROW}`} width="100%">
                  <title id="stats-chart-title">{`Bookings by status: ${data.map((d) => `${d.label} ${d.value}`).join(", ")}`}</title>
                  {drawn.map((bar) => (
                    <g key={bar.label}>
                      <text x={LABEL_WIDTH - 8} y={bar.y + ROW / 2 + 4} text-anchor="end">
                        {bar.label}
                      </text>
                      <rect class="bar" x={LABEL_WIDTH} y={bar.y + 4} width={bar.width} height={ROW - 8} rx="3" />
                      <text x={LABEL_WIDTH + bar.width + 6} y={bar.y + ROW / 2 + 4}>
                        {bar.value}
                      </text>
                    </g>
                  ))}
                </svg>
              )}
            </section>
            <section aria-labelledby="stats-months">
              <h2 id="stats-months">The last 12 months</h2>
              <MonthBars
                caption="Bookings made by month (confirmed now)"
                months={stats.byMonth.map((m) => m.month)}
                values={stats.byMonth.map((m) => m.bookings.confirmed)}
                format={(n) => (Number.isInteger(n) ? String(n) : "")}
                columns={["Confirmed", "Held", "Released", "Cancelled"]}
                rows={stats.byMonth.map((m) => [m.bookings.confirmed, m.bookings.held, m.bookings.released, m.bookings.cancelled].map(String))}
              />
              {moneyByCurrency(stats.byMonth).map(({ currency, months }) => {
                const money = (cents: number) => formatMoney(cents, currency);
                return (
                  <MonthBars
                    key={currency}
                    caption={`Charged in ${currency.toUpperCase()} by month`}
                    months={months.map((m) => m.month)}
                    values={months.map((m) => m.grossCents)}
                    format={money}
                    minTop={100 * 10 ** minorDigits(currency)}
                    columns={["Charged", "Refunded", "Platform fees"]}
                    rows={months.map((m) => [money(m.grossCents), money(m.refundedCents), money(m.feeCents)])}
                  />
                );
              })}
            </section>
            <section aria-labelledby="stats-money">
              <h2 id="stats-money">Money by currency</h2>
              {stats.money.length === 0 ? (
                <p>No payment yet.</p>
              ) : (
                <div class="table-wrap">
                  <table class="list">
                    <caption class="visually-hidden">Money by currency</caption>
                    <thead>
                      <tr>
                        <th scope="col">Currency</th>
                        <th scope="col" class="num">Charged</th>
                        <th scope="col" class="num">Refunded</th>
                        <th scope="col" class="num">Net paid</th>
                        <th scope="col" class="num">Platform fees</th>
                        <th scope="col" class="num">To businesses</th>
                        <th scope="col" class="num">Outstanding</th>
                      </tr>
                    </thead>
                    <tbody>
                      {stats.money.map((m) => (
                        <tr key={m.currency}>
                          <th scope="row">{m.currency.toUpperCase()}</th>
                          <td class="num">{formatMoney(m.chargedCents, m.currency)}</td>
                          <td class="num">{formatMoney(m.refundedCents, m.currency)}</td>
                          <td class="num">{formatMoney(m.netPaidCents, m.currency)}</td>
                          <td class="num">{formatMoney(m.platformFeeCents, m.currency)}</td>
                          <td class="num">{formatMoney(m.netToTenantsCents, m.currency)}</td>
                          <td class="num">
                            {formatMoney(m.outstandingCents ?? 0, m.currency)}
                            {m.outstandingBookings ? ` (${m.outstandingBookings} ${m.outstandingBookings === 1 ? "booking" : "bookings"})` : ""}
                          </td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              )}
            </section>
          </>
        )}
      </Loaded>
    </div>
  );
}

const CHART_WIDTH = 640;
const CHART_HEIGHT = 160;
const CHART_AXIS = 72;
const CHART_BOTTOM = 24;

/** One bar per month with the chart's numbers (and more columns) as a table below it. */
function MonthBars(props: { caption: string; months: string[]; values: number[]; format: (n: number) => string; minTop?: number; columns: string[]; rows: string[][] }) {
  const titleId = useId("month-chart");
  const locale = userLocale();
  const scale = scaleBars(props.values, CHART_HEIGHT, props.minTop ?? 4);
  const slot = (CHART_WIDTH - CHART_AXIS) / Math.max(1, props.months.length);
  const bar = Math.max(4, slot * 0.6);
  return (
    <figure class="chart" aria-labelledby={titleId}>
      <figcaption id={titleId}>{props.caption}</figcaption>
      <svg class="chart-svg" viewBox={`0 0 ${CHART_WIDTH} ${CHART_HEIGHT + CHART_BOTTOM + 8}`} role="img" aria-labelledby={titleId} focusable="false">
        {scale.ticks.map((tick) => {
          const y = 8 + CHART_HEIGHT - (tick / scale.max) * CHART_HEIGHT;
          return (
            <g key={tick} class="chart-tick" aria-hidden="true">
              <line x1={CHART_AXIS} x2={CHART_WIDTH} y1={y} y2={y} />
              <text x={CHART_AXIS - 6} y={y + 4} text-anchor="end">
                {props.format(tick)}
              </text>
            </g>
          );
        })}
        {props.months.map((month, i) => {
          const h = scale.heights[i];
          const x = CHART_AXIS + i * slot + (slot - bar) / 2;
          return (
            <g key={month} aria-hidden="true">
              <rect class="chart-bar" x={x} y={8 + CHART_HEIGHT - h} width={bar} height={h} data-month={month} />
              <text class="chart-label" x={x + bar / 2} y={CHART_HEIGHT + CHART_BOTTOM} text-anchor="middle">
                {monthLabel(month, locale, "short")}
              </text>
            </g>
          );
        })}
      </svg>
      <div class="table-wrap">
        <table class="data-table">
          <caption class="visually-hidden">{props.caption}</caption>
          <thead>
            <tr>
              <th scope="col">Month</th>
              {props.columns.map((c) => (
                <th key={c} scope="col" class="num">
                  {c}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {props.months.map((month, i) => (
              <tr key={month}>
                <th scope="row">{monthLabel(month, locale, "long")}</th>
                {props.rows[i].map((cell, j) => (
                  <td key={j} class="num">
                    {cell}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </figure>
  );
}
