// The month calendar: a grid of day buttons labelled with their full date (and why a day cannot be
// picked), one of them in the tab order (roving tabindex), moved by arrow keys, Home/End (the week)
// and PageUp/PageDown (the month), across month edges within the booking window.
import { useEffect, useRef, useState } from "preact/hooks";
import { useApp } from "./context";
import {
  addMonths, CALENDAR_KEYS, endOfMonth, longDate, monthAllowed, monthGrid, monthTitle, moveFocus, reasonFor,
  REASON_HELP, REASON_WORDS, startOfMonth, weekdayNames, type Bounds, type CalendarKey, type DayReason,
} from "./dates";
import { useId } from "./ui";

interface Props {
  bounds: Bounds;
  weekStart: number;
  selected: string | null;
  /** Where to open when nothing is selected (the month of a date just taken). */
  near?: string | null;
  onSelect: (date: string) => void;
  /** A change makes the calendar fetch its months again. */
  revision: number;
  /** Dates checkout refused as just taken: unavailable (held) even if an older answer says free. */
  taken?: readonly string[];
  /** Why days of a month cannot be picked, as the server says (default: the whole-day calendar). */
  loadMonth?: (first: string, last: string) => Promise<Map<string, DayReason>>;
  /** The reasons the legend explains. */
  legend?: readonly DayReason[];
  /** The "Selected: ..." line's words for the choice (default: the selected date). */
  selection?: string;
}

type MonthState = { status: "loading" } | { status: "ready"; reasons: Map<string, DayReason> } | { status: "failed"; message: string };

const DAY_LEGEND: readonly DayReason[] = ["booked", "held", "blackout"];

/** The day focus starts on in a month: the selected day, else the first bookable one, else the 1st. */
export function initialFocus(month: string, b: Bounds, selected: string | null): string {
  if (selected && startOfMonth(selected) === month) return selected;
  const first = startOfMonth(month);
  const last = endOfMonth(month);
  if (b.firstBookable >= first && b.firstBookable <= last) return b.firstBookable;
  if (b.today >= first && b.today <= last) return b.today;
  return first;
}

/** The month the calendar opens at. */
export function openingMonth(b: Bounds, selected: string | null, near?: string | null): string {
  for (const day of [selected, near, b.firstBookable]) if (day && monthAllowed(day, b)) return startOfMonth(day);
  return b.firstMonth;
}

export function DatePicker({ bounds: b, weekStart, selected, near, onSelect, revision, taken = [], loadMonth, legend = DAY_LEGEND, selection }: Props) {
  const { api, locale } = useApp();
  const load =
    loadMonth ??
    ((first: string, last: string) =>
      api.calendar(first, last).then((answer) => {
        const reasons = new Map<string, DayReason>();
        for (const day of answer.unavailable) if (day.reason) reasons.set(day.date, day.reason);
        return reasons;
      }));
  const startMonth = openingMonth(b, selected, near);
  const [month, setMonth] = useState(startMonth);
  const [focusDate, setFocusDate] = useState(() => initialFocus(startMonth, b, selected));
  const [months, setMonths] = useState<Record<string, MonthState>>({});
  const [retry, setRetry] = useState(0);
  // Bumped to move focus onto the focus date once it is rendered (it may be in another month).
  const [focusRequest, setFocusRequest] = useState(0);
  const grid = useRef<HTMLTableElement>(null);
  const titleId = useId("calendar-title");
  const legendId = useId("calendar-legend");

  // One request per month shown; a new revision (a date just taken) forgets what was known.
  const seenRevision = useRef(revision);
  useEffect(() => {
    let known = months;
    if (seenRevision.current !== revision) {
      seenRevision.current = revision;
      known = {};
    }
    const current = known[month];
    if (current && current.status !== "failed") {
      if (known !== months) setMonths(known);
      return;
    }
    let live = true;
    setMonths({ ...known, [month]: { status: "loading" } });
    load(month, endOfMonth(month)).then(
      (reasons) => {
        if (!live) return;
        setMonths((all) => ({ ...all, [month]: { status: "ready", reasons } }));
      },
      (error: Error) => {
        if (live) setMonths((all) => ({ ...all, [month]: { status: "failed", message: error.message } }));
      },
    );
    return () => {
      live = false;
    };
  }, [month, revision, retry]);

  useEffect(() => {
    if (focusRequest) grid.current?.querySelector<HTMLButtonElement>(`button[data-date="${focusDate}"]`)?.focus();
  }, [focusRequest]);

  const state = months[month] ?? { status: "loading" };
  const reasons = state.status === "ready" ? state.reasons : new Map<string, DayReason>();
  const reasonOf = (iso: string) => reasonFor(iso, b, reasons, taken);
  const canPrevious = monthAllowed(addMonths(month, -1), b);
  const canNext = monthAllowed(addMonths(month, 1), b);

  function show(target: string, intoGrid: boolean) {
    const targetMonth = startOfMonth(target);
    if (!monthAllowed(targetMonth, b)) return;
    setMonth(targetMonth);
    setFocusDate(target);
    if (intoGrid) setFocusRequest((n) => n + 1);
  }

  function stepMonth(delta: number) {
    const target = addMonths(month, delta);
    const stillMovable = monthAllowed(addMonths(target, delta), b);
    // A button that becomes disabled under the pointer would drop focus to the page: keep it in the grid.
    show(initialFocus(startOfMonth(target), b, selected), !stillMovable);
  }

  function onKeyDown(event: KeyboardEvent) {
    if (!CALENDAR_KEYS.has(event.key) || event.altKey || event.ctrlKey || event.metaKey) return;
    event.preventDefault();
    // From the day that has focus (a click may have put it elsewhere than the roving one).
    const from = (event.target as HTMLElement).getAttribute?.("data-date") ?? focusDate;
    show(moveFocus(from, event.key as CalendarKey, weekStart, b), true);
  }

  function choose(iso: string) {
    setFocusDate(iso);
    if (state.status !== "ready" || reasonOf(iso)) return;
    onSelect(iso);
  }

  const names = weekdayNames(locale, weekStart);
  return (
    <div class="calendar">
      <div class="calendar-head">
        <button type="button" class="icon-button" aria-label="Previous month" disabled={!canPrevious} onClick={() => stepMonth(-1)}>
          <span aria-hidden="true">‹</span>
        </button>
        <h3 id={titleId} class="calendar-title" aria-live="polite">
          {monthTitle(month, locale)}
        </h3>
        <button type="button" class="icon-button" aria-label="Next month" disabled={!canNext} onClick={() => stepMonth(1)}>
          <span aria-hidden="true">›</span>
        </button>
      </div>
      {state.status === "failed" && (
        <div class="notice" role="alert">
          We could not load the free dates of this month. <button type="button" class="link-button" onClick={() => setRetry((n) => n + 1)}>Try again</button>
        </div>
      )}
      <table role="grid" class="calendar-grid" aria-labelledby={titleId} aria-describedby={legendId} aria-busy={state.status === "loading" ? "true" : undefined} ref={grid} onKeyDown={onKeyDown}>
        <thead>
          <tr>
            {names.map(([short, long]) => (
              <th scope="col" abbr={long} key={long}>
                {short}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {monthGrid(month, weekStart).map((week) => (
            <tr key={week.find(Boolean)}>
              {week.map((iso, i) =>
                iso ? (
                  <td role="gridcell" key={iso}>
                    <DayButton
                      iso={iso}
                      label={longDate(iso, locale)}
                      reason={reasonOf(iso)}
                      today={iso === b.today}
                      selected={iso === selected}
                      focusable={iso === focusDate}
                      onChoose={choose}
                    />
                  </td>
                ) : (
                  <td role="gridcell" key={`empty-${i}`} class="empty" />
                ),
              )}
            </tr>
          ))}
        </tbody>
      </table>
      <ul class="legend" id={legendId}>
        <li><span class="swatch swatch-free" aria-hidden="true" />Free</li>
        {legend.map((reason) => (
          <li key={reason}><span class={`swatch swatch-${reason}`} aria-hidden="true" />{REASON_HELP[reason]}</li>
        ))}
      </ul>
      <p class="selected-line" aria-live="polite">
        {selected ? `Selected: ${selection ?? longDate(selected, locale)}` : "No date selected yet."}
      </p>
    </div>
  );
}

function DayButton(props: {
  iso: string; label: string; reason: DayReason | null; today: boolean; selected: boolean; focusable: boolean;
  onChoose: (iso: string) => void;
}) {
  const { iso, reason } = props;
  const classes = ["day", reason ? `day-${reason.replace(/_/g, "-")}` : "day-free", props.selected && "day-selected", props.today && "day-today"];
  return (
    <button
      type="button"
      class={classes.filter(Boolean).join(" ")}
      data-date={iso}
      tabIndex={props.focusable ? 0 : -1}
      aria-label={reason ? `${props.label}, unavailable: ${REASON_WORDS[reason]}` : props.label}
      aria-disabled={reason ? "true" : undefined}
      aria-pressed={props.selected ? "true" : "false"}
      aria-current={props.today ? "date" : undefined}
      onClick={() => props.onChoose(iso)}
    >
      {Number(iso.slice(8))}
    </button>
  );
}
