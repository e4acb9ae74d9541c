// Calendar math on plain dates ("YYYY-MM-DD"): no time of day and no time zone, so a date never shifts
// under the couple's own zone. "Today" is the business's today (its time zone, through Intl), because
// the server decides what is past or out of the booking window there.

import type { Policy, UnavailableReason } from "../shared/api";

const DAY_MS = 86_400_000;
const ISO = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Days since 1970-01-01 of an ISO date. */
export function dayNumber(iso: string): number {
  const match = ISO.exec(iso);
  if (!match) throw new RangeError(`not a date: ${iso}`);
  return Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])) / DAY_MS;
}

export function fromDayNumber(day: number): string {
  return new Date(day * DAY_MS).toISOString().slice(0, 10);
}

export function isIsoDate(value: string): boolean {
  if (!ISO.test(value)) return false;
  return fromDayNumber(dayNumber(value)) === value;
}

export function addDays(iso: string, days: number): string {
  return fromDayNumber(dayNumber(iso) + days);
}

function parts(iso: string): [number, number, number] {
  const [y, m, d] = iso.split("-").map(Number);
  return [y, m, d];
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** The same day `months` months away, on the month's last day when it is shorter (31 Jan + 1 → 28/29 Feb). */
export function addMonths(iso: string, months: number): string {
  const [y, m, d] = parts(iso);
  const index = y * 12 + (m - 1) + months;
  const year = Math.floor(index / 12);
  const month = (index % 12) + 1;
  const day = Math.min(d, daysInMonth(year, month));
  return `${String(year).padStart(4, "0")}-${String(month).padStart(2, "0")}-${String(day).padStart(2, "0")}`;
}

export function startOfMonth(iso: string): string {
  return `${iso.slice(0, 7)}-01`;
}

export function endOfMonth(iso: string): string {
  const [y, m] = parts(iso);
  return `${iso.slice(0, 7)}-${String(daysInMonth(y, m)).padStart(2, "0")}`;
}

/** 0 = Sunday ... 6 = Saturday. */
export function weekday(iso: string): number {
  return (dayNumber(iso) + 4) % 7; // 1970-01-01 was a Thursday
}

/** Today's date in `timeZone` (an IANA name) at `now`; the couple's own zone when the name is unknown. */
export function todayIn(timeZone: string, now: Date = new Date()): string {
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat("en-US", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" });
  } catch {
    format = new Intl.DateTimeFormat("en-US", { year: "numeric", month: "2-digit", day: "2-digit" });
  }
  const value = Object.fromEntries(format.formatToParts(now).map((p) => [p.type, p.value]));
  return `${value.year}-${value.month}-${value.day}`;
}

export interface Bounds {
  today: string;
  /** The first date that may be booked (today + minimum notice). */
  firstBookable: string;
  /** The last date that may be booked, or null without a limit. */
  lastBookable: string | null;
  /** The first of the month the calendar opens at and cannot go before. */
  firstMonth: string;
  /** The first of the last month the calendar may show, or null without a limit. */
  lastMonth: string | null;
}

export function bounds(today: string, policy: Pick<Policy, "minNoticeDays" | "maxAdvanceDays">): Bounds {
  const notice = Math.max(0, policy.minNoticeDays || 0);
  const advance = Math.max(0, policy.maxAdvanceDays || 0);
  const lastBookable = advance ? addDays(today, advance) : null;
  return {
    today,
    firstBookable: addDays(today, notice),
    lastBookable,
    firstMonth: startOfMonth(today),
    lastMonth: lastBookable ? startOfMonth(lastBookable) : null,
  };
}

/** Why the calendar alone refuses a date (the server's calendar_reason, in the business's today). */
/** Why a day cannot be picked: the calendar's reasons, or (a time-slot service) no free start that day. */
export type DayReason = UnavailableReason | "full";

export function boundsReason(iso: string, b: Bounds): UnavailableReason | null {
  if (iso < b.today) return "past";
  if (iso < b.firstBookable) return "out_of_range";
  if (b.lastBookable && iso > b.lastBookable) return "out_of_range";
  return null;
}

/** A date's reason: past wins over everything; the server's answer over the notice window. */
export function reasonFor(
  iso: string,
  b: Bounds,
  server: ReadonlyMap<string, DayReason>,
  taken: readonly string[] = [],
): DayReason | null {
  const local = boundsReason(iso, b);
  if (local === "past") return local;
  // A date checkout refused as taken is held by another couple, whatever an older answer said.
  return server.get(iso) ?? local ?? (taken.includes(iso) ? "held" : null);
}

/** The calendar's weeks for the month of `month`: 7 cells a week, null outside the month. */
export function monthGrid(month: string, weekStart: number): (string | null)[][] {
  const first = startOfMonth(month);
  const count = dayNumber(endOfMonth(month)) - dayNumber(first) + 1;
  const lead = (weekday(first) - weekStart + 7) % 7;
  const cells: (string | null)[] = Array.from({ length: lead }, () => null);
  for (let i = 0; i < count; i++) cells.push(addDays(first, i));
  while (cells.length % 7) cells.push(null);
  const weeks: (string | null)[][] = [];
  for (let i = 0; i < cells.length; i += 7) weeks.push(cells.slice(i, i + 7));
  return weeks;
}

/** Whether a month (any date in it) may be shown. */
export function monthAllowed(iso: string, b: Bounds): boolean {
  const month = startOfMonth(iso);
  return month >= b.firstMonth && (!b.lastMonth || month <= b.lastMonth);
}

export type CalendarKey = "ArrowLeft" | "ArrowRight" | "ArrowUp" | "ArrowDown" | "Home" | "End" | "PageUp" | "PageDown";
export const CALENDAR_KEYS: ReadonlySet<string> = new Set([
  "ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "Home", "End", "PageUp", "PageDown",
]);

/** Where focus goes from `iso` on `key` (months cross freely), kept within the months that may be shown. */
export function moveFocus(iso: string, key: CalendarKey, weekStart: number, b: Bounds): string {
  const column = (weekday(iso) - weekStart + 7) % 7;
  const moved = {
    ArrowLeft: () => addDays(iso, -1),
    ArrowRight: () => addDays(iso, 1),
    ArrowUp: () => addDays(iso, -7),
    ArrowDown: () => addDays(iso, 7),
    Home: () => addDays(iso, -column),
    End: () => addDays(iso, 6 - column),
    PageUp: () => addMonths(iso, -1),
    PageDown: () => addMonths(iso, 1),
  }[key]();
  if (moved < b.firstMonth) return b.firstMonth;
  if (b.lastMonth) {
    const last = endOfMonth(b.lastMonth);
    if (moved > last) return last;
  }
  return moved;
}

/** The day of the week calendars start on in `locale` (0 Sunday, 1 Monday ...); Monday when unknown. */
export function weekStartOf(locale: string): number {
  try {
    const info = new Intl.Locale(locale) as Intl.Locale & {
      getWeekInfo?: () => { firstDay: number };
      weekInfo?: { firstDay: number };
    };
    const firstDay = (info.getWeekInfo?.() ?? info.weekInfo)?.firstDay;
    if (typeof firstDay === "number") return firstDay % 7; // Intl says 7 for Sunday
  } catch {
    // an engine without week data
  }
  return 1;
}

const formats = new Map<string, Intl.DateTimeFormat>();
function dateFormat(locale: string, options: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  const key = locale + JSON.stringify(options);
  let found = formats.get(key);
  if (!found) {
    found = new Intl.DateTimeFormat(locale, { ...options, timeZone: "UTC" });
    formats.set(key, found);
  }
  return found;
}

function asDate(iso: string): Date {
  return new Date(dayNumber(iso) * DAY_MS);
}

/** "Saturday, 12 December 2026" in the couple's language. */
export function longDate(iso: string, locale: string): string {
  return dateFormat(locale, { weekday: "long", day: "numeric", month: "long", year: "numeric" }).format(asDate(iso));
}

/** "12 December 2026". */
export function mediumDate(iso: string, locale: string): string {
  return dateFormat(locale, { day: "numeric", month: "long", year: "numeric" }).format(asDate(iso));
}

/** "December 2026". */
export function monthTitle(iso: string, locale: string): string {
  return dateFormat(locale, { month: "long", year: "numeric" }).format(asDate(iso));
}

/** Weekday names in display order from `weekStart`: [short, long] pairs. */
export function weekdayNames(locale: string, weekStart: number): [string, string][] {
  const sunday = dayNumber("2023-01-01"); // a Sunday
  return Array.from({ length: 7 }, (_, i) => {
    const day = fromDayNumber(sunday + ((weekStart + i) % 7));
    return [
      dateFormat(locale, { weekday: "short" }).format(asDate(day)),
      dateFormat(locale, { weekday: "long" }).format(asDate(day)),
    ];
  });
}

/** The words a screen reader hears after a date it cannot pick. */
export const REASON_WORDS: Record<DayReason, string> = {
  booked: "booked",
  full: "no free times",
  held: "held",
  blackout: "blackout",
  past: "past",
  out_of_range: "out of range",
};

/** The legend's explanation of each reason. */
export const REASON_HELP: Record<DayReason, string> = {
  booked: "Booked",
  full: "Full: no free times that day",
  held: "Held: someone is paying for it right now",
  blackout: "Blackout: the business is closed",
  past: "Past",
  out_of_range: "Out of range: outside the booking window",
};

// --- time slots: the API writes each instant in RFC 3339 with the business's offset at it, so its
// clock reading is already the business's local time; nothing is converted in the couple's browser.

const RFC3339_LOCAL = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})/;

/** "14:00" of "2027-06-12T14:00:00+02:00" (the business's clock); "" when it is not such a stamp. */
export function clockOf(stamp: string | null | undefined): string {
  return RFC3339_LOCAL.exec(stamp ?? "")?.[2] ?? "";
}

/** "2027-06-12" of "2027-06-12T14:00:00+02:00"; "" when it is not such a stamp. */
export function dateOf(stamp: string | null | undefined): string {
  return RFC3339_LOCAL.exec(stamp ?? "")?.[1] ?? "";
}

/** "14:00–15:30" (an end on a later day is marked "+1"); "" without a readable start. */
export function timeSpan(startsAt: string | null | undefined, endsAt: string | null | undefined): string {
  const start = clockOf(startsAt);
  if (!start) return "";
  const end = clockOf(endsAt);
  if (!end) return start;
  const later = dateOf(endsAt) > dateOf(startsAt) ? " (+1)" : "";
  return `${start}\u2013${end}${later}`;
}

/** "Saturday, 12 June 2027, 14:00–15:30 (Europe/Berlin)": a slot booking's date and times, or the
 * long date alone for a whole day (no start). */
export function dateAndTimes(eventDate: string, startsAt: string | null | undefined, endsAt: string | null | undefined, zone: string | null | undefined, locale: string): string {
  const day = dateOf(startsAt) || eventDate;
  const date = isIsoDate(day) ? longDate(day, locale) : day;
  const span = timeSpan(startsAt, endsAt);
  if (!span) return date;
  return zone ? `${date}, ${span} (${zone})` : `${date}, ${span}`;
}
