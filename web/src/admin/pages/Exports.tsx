// /admin/exports: the bookings as CSV for an event-date range (a plain download link: the session
// cookie goes with it), and the private calendar feed's address with Copy and Rotate.
import { useEffect, useState } from "preact/hooks";
import { ConfirmButton, CopyButton, Field, Loaded, OutcomeLine, useAction } from "./common";
import { errorText, withQuery, type PageProps } from "./request";

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const DAY = 86_400_000;
export const MAX_EXPORT_DAYS = 366;

/** The CSV's address, or the reason the range is refused (as the API would: both dates, ≤ 366 days). */
export function exportLink(from: string, to: string): { href: string } | { error: string; field: "from" | "to" } {
  if (!DATE.test(from) || Number.isNaN(Date.parse(`${from}T00:00:00Z`))) return { error: "Pick the first event date.", field: "from" };
  if (!DATE.test(to) || Number.isNaN(Date.parse(`${to}T00:00:00Z`))) return { error: "Pick the last event date.", field: "to" };
  const days = (Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY;
  if (days < 0) return { error: "The last date comes before the first.", field: "to" };
  if (days + 1 > MAX_EXPORT_DAYS) return { error: `At most ${MAX_EXPORT_DAYS} days at a time.`, field: "to" };
  return { href: withQuery("/v1/tenant-admin/exports/bookings.csv", { from, to }) };
}

/** This calendar year, as the default range. */
export function thisYear(today: Date = new Date()): { from: string; to: string } {
  const year = today.getFullYear();
  return { from: `${year}-01-01`, to: `${year}-12-31` };
}

export function Exports({ request }: PageProps) {
  const [range, setRange] = useState(thisYear);
  const link = exportLink(range.from, range.to);
  const [feed, setFeed] = useState<string | null>(null);
  const [feedError, setFeedError] = useState<string | null>(null);
  const rotate = useAction();
  useEffect(() => {
    request<{ url: string }>("GET", "/v1/tenant-admin/calendar-feed").then((answer) => setFeed(answer.url), (e) => setFeedError(errorText(e)));
  }, []);
  function rotateFeed() {
    rotate
      .fire(() => request<{ url: string }>("POST", "/v1/tenant-admin/calendar-feed/rotate", {}), "A new address was made; the old one has stopped working. Give the new one to your calendar.")
      .then((answer) => answer && setFeed(answer.url));
  }
  return (
    <div class="admin-page">
      <h1>Exports</h1>
      <section aria-labelledby="export-csv" class="card">
        <h2 id="export-csv">Bookings as a spreadsheet (CSV)</h2>
        <p>Every booking whose event date falls in the range, with its couple, package and payments.</p>
        <div class="field-row">
          <Field label="From (event date)" type="date" value={range.from} onInput={(from) => setRange({ ...range, from })} error={"error" in link && link.field === "from" ? link.error : null} />
          <Field label="To (event date)" type="date" value={range.to} onInput={(to) => setRange({ ...range, to })} error={"error" in link && link.field === "to" ? link.error : null} />
        </div>
        {"href" in link ? (
          <a class="button" href={link.href} download={`bookings-${range.from}-${range.to}.csv`}>
            Download the CSV
          </a>
        ) : (
          <p class="field-hint">Fix the range to download.</p>
        )}
      </section>
      <section aria-labelledby="export-feed" class="card">
        <h2 id="export-feed">Calendar feed</h2>
        <p>Subscribe to this address in Google Calendar, Apple Calendar or Outlook: one all-day event per confirmed booking (names and packages, nothing else). Anyone with the address can read it: rotate it if it was shared by mistake.</p>
        <Loaded loading={!feed && !feedError} error={feedError}>
          {feed && (
            <>
              <div class="field">
                <label for="feed-url">Feed address</label>
                <input id="feed-url" class="code" readOnly value={feed} />
              </div>
              <p class="row-actions">
                <CopyButton text={feed} label="Copy the feed address" />
                <ConfirmButton label="Rotate the address" question="Make a new address? The old one stops at once." confirm="Yes, rotate" busy={rotate.busy} onConfirm={rotateFeed} />
              </p>
            </>
          )}
        </Loaded>
        <OutcomeLine outcome={rotate.outcome} />
      </section>
    </div>
  );
}
