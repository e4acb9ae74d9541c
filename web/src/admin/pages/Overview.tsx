// The tenant's overview: today's holds, the next confirmed bookings, this month's and this year's
// money, what confirmed bookings still owe (per currency) and the overdue balances, and the last twelve
// months as a chart and a table.
import { useEffect, useState } from "preact/hooks";
import { formatMoney } from "../../app/money";
import { KIND_WORDS } from "../../app/Schedule";
import type { OverdueBalance, Outstanding, Overview as OverviewAnswer, Totals } from "../api";
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

function OutstandingCard({ outstanding, locale }: { outstanding: Outstanding[]; locale: string }) {
  return (
    <Section title="Outstanding" class="totals">
      {outstanding.length === 0 && <p>No balance is owed.</p>}
      {outstanding.map((o) => {
        const money = (cents: number) => formatMoney(cents, o.currency, locale);
        return (
          <dl class="figures" key={o.currency}>
            <dt>Still owed{outstanding.length > 1 ? ` (${o.currency.toUpperCase()})` : ""}</dt>
            <dd>
              {money(o.outstandingCents)} on {o.bookings} {o.bookings === 1 ? "booking" : "bookings"}
            </dd>
            <dt>Overdue</dt>
            <dd>
              {money(o.overdueCents)} on {o.overdueBookings} {o.overdueBookings === 1 ? "booking" : "bookings"}
            </dd>
          </dl>
        );
      })}
    </Section>
  );
}

function OverdueList({ overdue, locale }: { overdue: OverdueBalance[]; locale: string }) {
  if (overdue.length === 0) return <p>No balance is overdue.</p>;
  return (
    <div class="table-wrap">
      <table class="data-table">
        <caption class="visually-hidden">Balances past their due date, the longest overdue first</caption>
        <thead>
          <tr>
            <th scope="col">Booking</th>
            <th scope="col">Event date</th>
            <th scope="col">Instalment</th>
            <th scope="col" class="num">Amount</th>
            <th scope="col">Was due</th>
          </tr>
        </thead>
        <tbody>
          {overdue.map((o) => (
            <tr key={`${o.bookingId}-${o.instalment.seq}`}>
              <th scope="row">
                <Link href={`${BASE}/bookings/${encodeURIComponent(o.bookingId)}`}>{o.coupleName || `Booking ${o.bookingId}`}</Link>
              </th>
              <td>{o.eventDate ? dateText(o.eventDate, locale) : "—"}</td>
              <td>{KIND_WORDS[o.instalment.kind] ?? o.instalment.kind}</td>
              <td class="num">{formatMoney(o.instalment.amountCents, o.instalment.currency, locale)}</td>
              <td>{dateText(o.instalment.dueDate, locale)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
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
          {data.outstanding && (
            <div class="grid-2">
              <OutstandingCard outstanding={data.outstanding} locale={locale} />
              <Section title="Overdue balances">
                <OverdueList overdue={data.overdue ?? []} locale={locale} />
              </Section>
            </div>
          )}
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
