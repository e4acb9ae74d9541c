// The tenant's overview: today's holds, the next confirmed bookings, this month's and this year's
// money, and the last twelve months as a chart and a table.
import { useEffect, useState } from "preact/hooks";
import { formatMoney } from "../../app/money";
import type { Overview as OverviewAnswer, Totals } from "../api";
import { BarChart } from "../BarChart";
import { BookingTable } from "../BookingTable";
import { useAdmin } from "../context";
import { dateText, errorText } from "../format";
import { BASE, Link } from "../router";
import { LoadingLine, PageTitle, Section } from "../ui";

function list(totals: Totals | Totals[] | undefined): Totals[] {
  if (!totals) return [];
  return Array.isArray(totals) ? totals : [totals];
}

function TotalsCard({ title, totals, currency, locale }: { title: string; totals: Totals[]; currency: string; locale: string }) {
  return (
    <Section title={title} class="totals">
      {totals.length === 0 && <p>Nothing yet.</p>}
      {totals.map((t) => {
        const money = (cents: number) => formatMoney(cents, t.currency ?? currency, locale);
        return (
          <dl class="figures" key={t.currency ?? currency}>
            <dt>Bookings</dt>
            <dd>{t.bookings}</dd>
            <dt>Gross</dt>
            <dd>{money(t.grossCents)}</dd>
            <dt>Platform fee</dt>
            <dd>{money(t.feeCents)}</dd>
            <dt>Refunds</dt>
            <dd>{money(t.refundedCents)}</dd>
            <dt>Net</dt>
            <dd>{money(t.netCents)}</dd>
          </dl>
        );
      })}
    </Section>
  );
}

export function Overview() {
  const { api, locale, me } = useAdmin();
  const [data, setData] = useState<OverviewAnswer | null>(null);
  const [problem, setProblem] = useState<string | null>(null);

  const load = () => {
    setProblem(null);
    api.overview().then(setData, (error) => setProblem(errorText(error)));
  };
  useEffect(load, []);

  return (
    <div class="admin-page">
      <PageTitle>Overview</PageTitle>
      {me?.tenant?.name && <p class="lede">{me.tenant.name}{data ? `, ${dateText(data.today, locale)}` : ""}</p>}
      {problem && (
        <div role="alert" class="alert">
          <p>The overview could not be loaded: {problem}</p>
          <button type="button" class="button secondary" onClick={load}>
            Try again
          </button>
        </div>
      )}
      {!data && !problem && <LoadingLine label="Loading the overview…" />}
      {data && (
        <>
          <div class="grid-2">
            <TotalsCard title="This month" totals={list(data.month)} currency={data.currency} locale={locale} />
            <TotalsCard title="This year" totals={list(data.year)} currency={data.currency} locale={locale} />
          </div>
          <Section title="Holds today">
            {data.holds.length ? (
              <BookingTable bookings={data.holds} locale={locale} caption="Dates held right now" />
            ) : (
              <p>No date is held right now.</p>
            )}
          </Section>
          <Section title="Upcoming bookings" actions={<Link href={`${BASE}/bookings?status=CONFIRMED&from=${data.today}`}>All upcoming</Link>}>
            {data.upcoming.length ? (
              <BookingTable bookings={data.upcoming} locale={locale} caption="The next confirmed bookings" />
            ) : (
              <p>No confirmed booking ahead.</p>
            )}
          </Section>
          <Section title="By month">
            {data.byMonth.length ? <BarChart data={data.byMonth} currency={data.currency} locale={locale} /> : <p>No months to show yet.</p>}
          </Section>
        </>
      )}
    </div>
  );
}
