// The month calendar: every held and confirmed booking and every blackout at a glance; a day opens
// below the grid with its bookings and the blackout to add or remove. The grid is one tab stop
// (arrow keys, Home/End, PageUp/PageDown move between days), like the couple's date picker.
import { useEffect, useRef, useState } from "preact/hooks";
import {
  addDays,
  CALENDAR_KEYS,
  clockOf,
  endOfMonth,
  longDate,
  monthGrid,
  monthTitle,
  moveFocus,
  startOfMonth,
  timeSpan,
  todayIn,
  weekdayNames,
  weekStartOf,
  type Bounds,
  type CalendarKey,
} from "../../app/dates";
import { allPages, packageTitleOf, type AdminBooking, type Blackout } from "../api";
import { useAdmin } from "../context";
import { errorText, STATUS_WORDS } from "../format";
import { BASE, Link, navigate, useLocation } from "../router";
import { Field, PageTitle, Section, Status } from "../ui";

const SHOWN: ReadonlySet<string> = new Set(["HELD", "CONFIRMED"]);
// The dashboards browse any month: no booking window.
const OPEN: Bounds = { today: "0001-01-01", firstBookable: "0001-01-01", lastBookable: null, firstMonth: "0001-01-01", lastMonth: null };

export interface MonthData {
  bookings: Map<string, AdminBooking[]>;
  blackouts: Map<string, Blackout>;
}

/** The month's bookings (held and confirmed) and blackouts by date. */
export function byDay(bookings: readonly AdminBooking[], blackouts: readonly Blackout[]): MonthData {
  const data: MonthData = { bookings: new Map(), blackouts: new Map() };
  for (const b of bookings) {
    if (!SHOWN.has(b.status)) continue;
    const list = data.bookings.get(b.eventDate) ?? [];
    list.push(b);
    data.bookings.set(b.eventDate, list);
  }
  for (const b of blackouts) data.blackouts.set(b.date, b);
  // A day's time slots in time order (a whole day, with no start, first).
  for (const list of data.bookings.values()) list.sort((a, b) => (a.startsAt ?? "").localeCompare(b.startsAt ?? ""));
  return data;
}

/** What a screen reader hears for a day of the grid. */
export function dayLabel(iso: string, data: MonthData, locale: string, today: string): string {
  const parts = [longDate(iso, locale)];
  if (iso === today) parts.push("today");
  const list = data.bookings.get(iso) ?? [];
  const confirmed = list.filter((b) => b.status === "CONFIRMED").length;
  const held = list.length - confirmed;
  if (confirmed) parts.push(confirmed === 1 ? "1 confirmed booking" : `${confirmed} confirmed bookings`);
  if (held) parts.push(held === 1 ? "1 hold" : `${held} holds`);
  if (data.blackouts.has(iso)) parts.push("blacked out");
  if (parts.length === 1 || (parts.length === 2 && iso === today)) parts.push("free");
  return parts.join(", ");
}

function monthOf(search: string, today: string): string {
  const value = new URLSearchParams(search).get("month") ?? "";
  return /^\d{4}-(0[1-9]|1[0-2])$/.test(value) ? `${value}-01` : startOfMonth(today);
}

export function Calendar() {
  const { api, me, locale } = useAdmin();
  const location = useLocation();
  const today = todayIn(me?.tenant?.timezone ?? "UTC");
  const month = monthOf(location.search, today);
  const weekStart = weekStartOf(locale);
  const [selected, setSelected] = useState(() => (startOfMonth(today) === month ? today : month));
  const [data, setData] = useState<MonthData | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [reload, setReload] = useState(0);
  const grid = useRef<HTMLTableElement>(null);
  const moved = useRef(false);

  useEffect(() => {
    let live = true;
    setBusy(true);
    setProblem(null);
    const from = month;
    const to = endOfMonth(month);
    Promise.all([
      allPages((cursor) => api.bookings({ from, to }, cursor, 100)),
      allPages((cursor) => api.blackouts(from, to, cursor, 100)),
    ]).then(
      ([bookings, blackouts]) => {
        if (!live) return;
        setData(byDay(bookings, blackouts));
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
  }, [month, reload]);

  useEffect(() => {
    if (startOfMonth(selected) !== month) setSelected(startOfMonth(today) === month ? today : month);
  }, [month]);

  useEffect(() => {
    if (!moved.current) return;
    moved.current = false;
    grid.current?.querySelector<HTMLElement>(`[data-date="${selected}"]`)?.focus();
  }, [selected, month]);

  const goMonth = (first: string) => navigate(`${BASE}/calendar?month=${first.slice(0, 7)}`);

  function onKey(event: KeyboardEvent) {
    if (!CALENDAR_KEYS.has(event.key)) return;
    event.preventDefault();
    const next = moveFocus(selected, event.key as CalendarKey, weekStart, OPEN);
    moved.current = true;
    setSelected(next);
    if (startOfMonth(next) !== month) goMonth(startOfMonth(next));
  }

  const empty: MonthData = { bookings: new Map(), blackouts: new Map() };
  const shown = data ?? empty;
  const names = weekdayNames(locale, weekStart);

  return (
    <div class="admin-page">
      <PageTitle>Calendar</PageTitle>
      <div class="month-head">
        <button type="button" class="icon-button" aria-label="Previous month" onClick={() => goMonth(startOfMonth(addDays(month, -1)))}>
          ‹
        </button>
        <h2 id="month-title">{monthTitle(month, locale)}</h2>
        <button type="button" class="icon-button" aria-label="Next month" onClick={() => goMonth(addDays(endOfMonth(month), 1))}>
          ›
        </button>
        {startOfMonth(today) !== month && (
          <button type="button" class="link-button" onClick={() => goMonth(startOfMonth(today))}>
            This month
          </button>
        )}
      </div>
      {problem && (
        <div role="alert" class="alert">
          <p>The month could not be loaded: {problem}</p>
          <button type="button" class="button secondary" onClick={() => setReload(reload + 1)}>
            Try again
          </button>
        </div>
      )}
      <p role="status" class="visually-hidden">
        {busy ? "Loading the month…" : data ? `${monthTitle(month, locale)} loaded.` : ""}
      </p>
      <table class="month-grid" aria-labelledby="month-title" aria-busy={busy ? "true" : undefined} ref={grid} onKeyDown={onKey}>
        <thead>
          <tr>
            {names.map(([short, long]) => (
              <th scope="col" key={long}>
                <abbr title={long}>{short}</abbr>
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {monthGrid(month, weekStart).map((week, w) => (
            <tr key={w}>
              {week.map((iso, d) =>
                iso ? (
                  <td key={iso}>
                    <DayButton iso={iso} data={shown} locale={locale} today={today} selected={iso === selected} onSelect={() => setSelected(iso)} />
                  </td>
                ) : (
                  <td key={`empty-${d}`} aria-hidden="true" />
                ),
              )}
            </tr>
          ))}
        </tbody>
      </table>
      <ul class="legend" aria-label="Legend">
        <li>
          <span class="item-confirmed">Name</span> confirmed
        </li>
        <li>
          <span class="item-held">Name</span> held
        </li>
        <li>
          <span class="swatch swatch-blackout" aria-hidden="true" /> blacked out
        </li>
      </ul>
      {data && <DayPanel iso={selected} data={data} today={today} onChanged={() => setReload(reload + 1)} />}
    </div>
  );
}

function DayButton(props: { iso: string; data: MonthData; locale: string; today: string; selected: boolean; onSelect: () => void }) {
  const { iso, data } = props;
  const list = data.bookings.get(iso) ?? [];
  const blackout = data.blackouts.get(iso);
  const classes = ["month-day", blackout ? "is-blackout" : "", iso < props.today ? "is-past" : "", iso === props.today ? "is-today" : ""];
  // The couples' names sit beside the button, not in it: the button's name is the day's label, and a
  // visible text inside it that the label does not contain would misname it (WCAG 2.5.3).
  return (
    <>
      <button
        type="button"
        class={classes.filter(Boolean).join(" ")}
        data-date={iso}
        tabIndex={props.selected ? 0 : -1}
        aria-pressed={props.selected ? "true" : "false"}
        aria-label={dayLabel(iso, data, props.locale, props.today)}
        onClick={props.onSelect}
      >
        <span class="day-number" aria-hidden="true">
          {Number(iso.slice(8))}
        </span>
        <span class="day-marks" aria-hidden="true">
          {list.map((b) => (b.status === "CONFIRMED" ? "●" : "○")).join("")}
          {blackout ? "✕" : ""}
        </span>
      </button>
      <ul class="day-items" aria-hidden="true">
        {list.map((b) => (
          <li key={b.id} class={`item-${b.status.toLowerCase()}`}>
            {b.startsAt ? `${clockOf(b.startsAt)} ` : ""}
            {b.coupleName || b.email}
          </li>
        ))}
        {blackout && <li class="item-blackout">Blackout</li>}
      </ul>
    </>
  );
}

function DayPanel({ iso, data, today, onChanged }: { iso: string; data: MonthData; today: string; onChanged: () => void }) {
  const { api, locale } = useAdmin();
  const list = data.bookings.get(iso) ?? [];
  const blackout = data.blackouts.get(iso);
  const [reason, setReason] = useState("");
  const [done, setDone] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    setProblem(null);
    setReason("");
  }, [iso]);

  async function run(action: () => Promise<unknown>, success: string, failure: string) {
    if (busy) return;
    setBusy(true);
    setDone(null);
    setProblem(null);
    try {
      await action();
      setDone(success);
      onChanged();
    } catch (error) {
      setProblem(`${failure}: ${errorText(error)}`);
    } finally {
      setBusy(false);
    }
  }

  const day = longDate(iso, locale);
  return (
    <Section title={day} class="day-panel">
      {list.length > 0 ? (
        <ul class="plain">
          {list.map((b) => (
            <li key={b.id}>
              {b.startsAt && <span class="slot-time">{timeSpan(b.startsAt, b.endsAt)} </span>}
              <Link href={`${BASE}/bookings/${encodeURIComponent(b.id)}`}>{b.coupleName || b.email}</Link>
              {` — ${packageTitleOf(b)} (${STATUS_WORDS[b.status] ?? b.status})`}
            </li>
          ))}
        </ul>
      ) : (
        <p>No booking on this day.</p>
      )}
      {blackout ? (
        <div class="action-block">
          <p>
            Blacked out{blackout.reason ? `: ${blackout.reason}` : ""}. Couples cannot book this day.
          </p>
          <button
            type="button"
            class="button secondary"
            aria-disabled={busy ? "true" : undefined}
            onClick={() => run(() => api.deleteBlackout(blackout.id), `${day} is open for bookings again.`, "The blackout was not removed")}
          >
            Remove the blackout
          </button>
        </div>
      ) : iso < today ? (
        <p class="muted">This day is past.</p>
      ) : list.length === 0 ? (
        <form
          class="action-block"
          onSubmit={(event) => {
            event.preventDefault();
            run(() => api.createBlackout(iso, reason.trim()), `${day} is blacked out.`, "The day was not blacked out");
          }}
        >
          <Field label="Reason (only you see it)">
            {(attrs) => <input {...attrs} maxLength={500} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />}
          </Field>
          <button type="submit" class="button" aria-disabled={busy ? "true" : undefined}>
            Black out this day
          </button>
        </form>
      ) : null}
      <Status message={done} />
      <div role="alert" class={problem ? "alert" : "alert alert-empty"}>
        {problem}
      </div>
    </Section>
  );
}
