// /admin/platform/stats: tenants, bookings by status (an SVG bar chart with the same numbers as a
// table beside it) and money per currency, never summed across currencies.
import { Link } from "../router";
import { useEffect, useState } from "preact/hooks";
import { formatMoney } from "../../app/money";
import { Loaded } from "./common";
import { errorText, type PageProps } from "./request";

export interface PlatformStatsAnswer {
  tenants: { total: number; active: number; connectOnboarded: number };
  bookings: { liveHolds: number; confirmed: number; upcoming: number; released: number; cancelled: number };
  money: { currency: string; chargedCents: number; refundedCents: number; netPaidCents: number; platformFeeCents: number; netToTenantsCents: number }[];
  failedStripeEvents: number;
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
