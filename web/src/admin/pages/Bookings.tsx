// The bookings list: filters (status, event date range, email) kept in the address, so that back,
// reload and a shared link show the same list; cursor paging with Next / Previous page.
import { useEffect, useState } from "preact/hooks";
import type { BookingStatus } from "../../shared/api";
import { isIsoDate } from "../../app/dates";
import type { AdminBooking, BookingFilters } from "../api";
import { BookingTable } from "../BookingTable";
import { useAdmin } from "../context";
import { errorText, STATUS_WORDS } from "../format";
import { BASE, navigate, useLocation } from "../router";
import { Field, LoadingLine, PageTitle, Pager } from "../ui";

const STATUSES: BookingStatus[] = ["HELD", "CONFIRMED", "RELEASED", "CANCELLED"];
const PAGE_SIZE = 25;

export function filtersOf(search: string): BookingFilters {
  const query = new URLSearchParams(search);
  const status = (query.get("status") ?? "").toUpperCase();
  const from = query.get("from") ?? "";
  const to = query.get("to") ?? "";
  return {
    status: STATUSES.includes(status as BookingStatus) ? (status as BookingStatus) : "",
    from: isIsoDate(from) ? from : "",
    to: isIsoDate(to) ? to : "",
    email: (query.get("email") ?? "").trim(),
  };
}

export function searchOf(filters: BookingFilters): string {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(filters)) if (value) query.set(name, value);
  const text = query.toString();
  return text ? `?${text}` : "";
}

export function Bookings() {
  const { api, locale } = useAdmin();
  const location = useLocation();
  const applied = filtersOf(location.search);
  const [draft, setDraft] = useState<BookingFilters>(applied);
  const [dateError, setDateError] = useState<string | null>(null);
  // The cursors of the pages before this one ("" for the first) and the next page's.
  const [cursors, setCursors] = useState<string[]>([""]);
  const [items, setItems] = useState<AdminBooking[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const cursor = cursors[cursors.length - 1];
  useEffect(() => {
    setDraft(applied);
    setCursors([""]);
  }, [location.search]);
  useEffect(() => {
    let live = true;
    setBusy(true);
    setProblem(null);
    api.bookings(applied, cursor, PAGE_SIZE).then(
      (page) => {
        if (!live) return;
        setItems(page.items);
        setNext(page.nextCursor);
        setBusy(false);
      },
      (error) => {
        if (!live) return;
        setProblem(errorText(error));
        setBusy(false);
      },
    );
    return () => {
      live = false;
    };
  }, [location.search, cursor]);

  function apply(event: Event) {
    event.preventDefault();
    if (draft.from && draft.to && draft.to < draft.from) {
      setDateError("The last date is before the first one.");
      return;
    }
    setDateError(null);
    navigate(`${BASE}/bookings${searchOf({ ...draft, email: draft.email?.trim() })}`);
  }

  const set = (name: keyof BookingFilters) => (event: Event) =>
    setDraft({ ...draft, [name]: (event.currentTarget as HTMLInputElement).value });

  return (
    <div class="admin-page">
      <PageTitle>Bookings</PageTitle>
      <form class="filters card" onSubmit={apply} role="search" aria-label="Filter bookings">
        <Field label="Status">
          {(attrs) => (
            <select {...attrs} value={draft.status ?? ""} onChange={set("status")}>
              <option value="">Any status</option>
              {STATUSES.map((s) => (
                <option value={s} key={s}>
                  {STATUS_WORDS[s]}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Event from">
          {(attrs) => <input {...attrs} type="date" value={draft.from ?? ""} onInput={set("from")} />}
        </Field>
        <Field label="Event to" error={dateError}>
          {(attrs) => <input {...attrs} type="date" value={draft.to ?? ""} onInput={set("to")} />}
        </Field>
        <Field label="Couple's email">
          {(attrs) => <input {...attrs} type="email" value={draft.email ?? ""} onInput={set("email")} />}
        </Field>
        <div class="filter-actions">
          <button type="submit" class="button">
            Show bookings
          </button>
          {location.search && (
            <button type="button" class="button secondary" onClick={() => navigate(`${BASE}/bookings`)}>
              Clear filters
            </button>
          )}
        </div>
      </form>
      {problem && (
        <p role="alert" class="alert">
          The bookings could not be loaded: {problem}
        </p>
      )}
      {items === null && !problem && <LoadingLine label="Loading bookings…" />}
      <p role="status" class="visually-hidden">
        {items && !busy ? `${items.length} bookings on this page.` : ""}
      </p>
      {items && items.length === 0 && <p>No booking matches these filters.</p>}
      {items && items.length > 0 && (
        <div aria-busy={busy ? "true" : undefined}>
          <BookingTable bookings={items} locale={locale} caption="Bookings" />
        </div>
      )}
      <Pager
        page={cursors.length - 1}
        hasNext={Boolean(next)}
        busy={busy}
        onPrevious={() => !busy && setCursors(cursors.slice(0, -1))}
        onNext={() => !busy && next && setCursors([...cursors, next])}
      />
    </div>
  );
}
