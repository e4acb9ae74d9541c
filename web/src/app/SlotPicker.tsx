// The date step of a time-slot service: the month calendar (a day without a free start is "full"),
// then the chosen day's starts as native radio buttons (arrow keys move between them), each labelled
// with its start and end on the business's clock, as the slots route writes them, and the zone's name.
// One slots request per month shown (the route allows 31 days), which answers both the grid and the lists.
import { useRef, useState } from "preact/hooks";
import type { Package, Slot } from "../shared/api";
import { useApp } from "./context";
import { addDays, boundsReason, dateAndTimes, longDate, timeSpan, type Bounds, type DayReason } from "./dates";
import { DatePicker } from "./DatePicker";
import { useId } from "./ui";

interface Props {
  pkg: Pick<Package, "id">;
  bounds: Bounds;
  weekStart: number;
  date: string | null;
  slot: Slot | null;
  near?: string | null;
  /** Starts checkout refused as just taken: never offered again in this visit. */
  takenStarts: readonly string[];
  revision: number;
  onDate: (date: string) => void;
  onSlot: (slot: Slot) => void;
  /** The business's zone, until a slots answer names it. */
  timeZone: string;
}

/** A month's free starts by date, and the zone they are written in. */
interface Known {
  byDay: Map<string, Slot[]>;
  /** The months whose answer is in `byDay` (YYYY-MM-01). */
  months: Set<string>;
  zone: string;
}

/** The dates of [first, last] the slots route may be asked about: inside the booking window. */
export function askableSpan(first: string, last: string, b: Bounds): [string, string] | null {
  let from = first;
  while (from <= last && boundsReason(from, b)) from = addDays(from, 1);
  let to = last;
  while (to >= from && boundsReason(to, b)) to = addDays(to, -1);
  return from <= to ? [from, to] : null;
}

/** Starts grouped by their local date, in time order, without those just taken. */
export function slotsByDay(slots: readonly Slot[], taken: readonly string[]): Map<string, Slot[]> {
  const byDay = new Map<string, Slot[]>();
  for (const s of slots) {
    if (taken.includes(s.startsAt)) continue;
    const day = byDay.get(s.date);
    if (day) day.push(s);
    else byDay.set(s.date, [s]);
  }
  return byDay;
}

export function SlotPicker({ pkg, bounds: b, weekStart, date, slot, near, takenStarts, revision, onDate, onSlot, timeZone }: Props) {
  const { api, locale } = useApp();
  const [known, setKnown] = useState<Known>({ byDay: new Map(), months: new Set(), zone: "" });
  // The latest taken starts, for a month answer that arrives after another was refused.
  const taken = useRef(takenStarts);
  taken.current = takenStarts;
  const listId = useId("slots");

  async function loadMonth(first: string, last: string): Promise<Map<string, DayReason>> {
    const span = askableSpan(first, last, b);
    const answer = span ? await api.slots(pkg.id, span[0], span[1]) : null;
    const byDay = slotsByDay(answer?.slots ?? [], taken.current);
    setKnown((k) => {
      const merged = new Map([...k.byDay].filter(([day]) => day < first || day > last));
      for (const [day, slots] of byDay) merged.set(day, slots);
      return { byDay: merged, months: new Set([...k.months, first]), zone: answer?.timezone || k.zone };
    });
    const reasons = new Map<string, DayReason>();
    for (let day = first; day <= last; day = addDays(day, 1)) if (!byDay.has(day) && !boundsReason(day, b)) reasons.set(day, "full");
    return reasons;
  }

  const month = date ? `${date.slice(0, 7)}-01` : null;
  const loaded = month !== null && known.months.has(month);
  const daySlots = date ? (known.byDay.get(date) ?? []).filter((s) => !takenStarts.includes(s.startsAt)) : [];
  const zone = known.zone || timeZone;
  const selection = date && slot && slot.date === date ? dateAndTimes(date, slot.startsAt, slot.endsAt, zone, locale) : undefined;

  return (
    <>
      <DatePicker
        bounds={b}
        weekStart={weekStart}
        selected={date}
        near={near}
        revision={revision}
        onSelect={onDate}
        loadMonth={loadMonth}
        legend={["full"]}
        selection={selection}
      />
      {date && (
        <fieldset class="slots" aria-describedby={zone ? `${listId}-zone` : undefined}>
          <legend>Times on {longDate(date, locale)}</legend>
          {zone && (
            <p class="slots-zone" id={`${listId}-zone`}>
              Times are in {zone}.
            </p>
          )}
          {!loaded && <p role="status">Loading the free times…</p>}
          {loaded && daySlots.length === 0 && <p role="status">No times are free on this day. Please choose another day.</p>}
          {loaded && daySlots.length > 0 && (
            <div class="slot-list">
              {daySlots.map((s) => {
                const id = `${listId}-${s.startsAt.replace(/[^0-9A-Za-z]/g, "")}`;
                return (
                  <div class={slot?.startsAt === s.startsAt ? "slot checked" : "slot"} key={s.startsAt}>
                    <input type="radio" name="slot" id={id} value={s.startsAt} checked={slot?.startsAt === s.startsAt} onChange={() => onSlot(s)} />
                    <label for={id}>{timeSpan(s.startsAt, s.endsAt)}</label>
                  </div>
                );
              })}
            </div>
          )}
        </fieldset>
      )}
    </>
  );
}
