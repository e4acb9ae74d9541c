// Bookings as a table: the event date (with the times of a time-slot booking, in the tenant's zone as
// the booking carries them), the couple (a link to the booking's page), the package, the status and the
// money.
import { timeSpan } from "../app/dates";
import { formatMoney } from "../app/money";
import { packageTitleOf, type AdminBooking } from "./api";
import { dateText, STATUS_WORDS } from "./format";
import { BASE, Link } from "./router";

export function BookingTable({ bookings, locale, caption }: { bookings: readonly AdminBooking[]; locale: string; caption: string }) {
  return (
    <div class="table-wrap">
      <table class="data-table">
        <caption class="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Couple</th>
            <th scope="col">Package</th>
            <th scope="col">Status</th>
            <th scope="col" class="num">Total</th>
            <th scope="col" class="num">Paid</th>
          </tr>
        </thead>
        <tbody>
          {bookings.map((b) => (
            <tr key={b.id}>
              <td>
                {dateText(b.eventDate, locale)}
                {b.startsAt && <span class="slot-time"> {timeSpan(b.startsAt, b.endsAt)}</span>}
              </td>
              <td>
                <Link href={`${BASE}/bookings/${encodeURIComponent(b.id)}`}>{b.coupleName || b.email}</Link>
              </td>
              <td>{packageTitleOf(b)}</td>
              <td>
                <span class={`badge status-${b.status.toLowerCase()}`}>{STATUS_WORDS[b.status] ?? b.status}</span>
              </td>
              <td class="num">{formatMoney(b.totalCents, b.currency, locale)}</td>
              <td class="num">{formatMoney(b.amountPaidCents - b.amountRefundedCents, b.currency, locale)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
