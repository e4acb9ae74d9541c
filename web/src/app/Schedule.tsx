// A booking's payment schedule in the couple's words: what is due today and later before checkout
// (the schedule quote), and afterwards each instalment as paid, due by a date, overdue, waived or
// refunded. Every amount and sum is the server's (gateway/routes/schedules.py): nothing is added up here.
import type { Instalment, InstalmentKind, PlannedInstalment, Schedule, ScheduleQuote } from "../shared/api";
import { mediumDate } from "./dates";
import { formatMoney } from "./money";

export const KIND_WORDS: Record<InstalmentKind, string> = {
  FULL: "Payment in full",
  DEPOSIT: "Deposit",
  BALANCE: "Balance",
};

/** Whether an instalment is still owed (the couple may pay it). */
export function isOwed(instalment: Pick<PlannedInstalment, "status">): boolean {
  return instalment.status === "DUE" || instalment.status === "OVERDUE";
}

/** The next instalment the couple owes, in the schedule's order; null when nothing is owed. */
export function nextOwed(schedule: Schedule | null | undefined): Instalment | null {
  return schedule?.instalments.find(isOwed) ?? null;
}

/** The lines beside the total before checkout: "Paid in full today", or "Due today: X" and "Then Y by DATE". */
export function quoteLines(quote: ScheduleQuote, locale: string): string[] {
  const [first, ...later] = quote.instalments;
  if (!first) return [];
  const money = (cents: number, currency: string) => formatMoney(cents, currency || quote.currency, locale);
  if (later.length === 0 && first.kind === "FULL") return ["Paid in full today"];
  return [
    `Due today: ${money(first.amountCents, first.currency)}`,
    ...later.map((part) => `Then ${money(part.amountCents, part.currency)} by ${mediumDate(part.dueDate, locale)}`),
  ];
}

/** The schedule quote as a polite status line (announced when it changes with the choice). */
export function ScheduleQuoteLines({ quote, locale }: { quote: ScheduleQuote | null; locale: string }) {
  const lines = quote ? quoteLines(quote, locale) : [];
  return (
    <p role="status" class="schedule-quote">
      {lines.map((line, i) => (
        <span key={i} class="schedule-quote-line">
          {line}
        </span>
      ))}
    </p>
  );
}

/** The day of a timestamp in `timeZone` (the business's), as a medium date; "" when unreadable. */
export function dayOf(iso: string | null, locale: string, timeZone?: string): string {
  if (!iso) return "";
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return "";
  const options: Intl.DateTimeFormatOptions = { day: "numeric", month: "long", year: "numeric" };
  try {
    return new Intl.DateTimeFormat(locale, { ...options, timeZone }).format(at);
  } catch {
    return new Intl.DateTimeFormat(locale, options).format(at);
  }
}

/** What happened to an instalment, or what is still to happen, in words. */
export function instalmentState(part: Instalment, locale: string, timeZone?: string): string {
  const money = (cents: number) => formatMoney(cents, part.currency, locale);
  const due = mediumDate(part.dueDate, locale);
  switch (part.status) {
    case "PAID": {
      const day = dayOf(part.paidAt, locale, timeZone);
      const paid = part.paidOffline ? "Paid to the business directly" : "Paid";
      const when = day ? `${paid} on ${day}` : paid;
      return part.refundedCents > 0 ? `${when}; ${money(part.refundedCents)} refunded` : when;
    }
    case "DUE":
      return `Due by ${due}`;
    case "OVERDUE":
      return `Overdue: it was due by ${due}`;
    case "WAIVED":
      return "Waived by the business: nothing to pay";
    case "REFUNDED":
      return `Refunded ${money(part.refundedCents || part.paidCents)}`;
    case "CANCELLED":
      return "Cancelled: nothing to pay";
  }
}

/** A booking's instalments as a list: kind and amount, then their state in words. */
export function ScheduleList({ schedule, locale, timeZone }: { schedule: Schedule; locale: string; timeZone?: string }) {
  return (
    <ul class="plain schedule">
      {schedule.instalments.map((part) => (
        <li key={part.seq} class={`instalment instalment-${part.status.toLowerCase()}`} data-seq={part.seq}>
          <span class="instalment-what">
            {KIND_WORDS[part.kind] ?? part.kind}: <strong>{formatMoney(part.amountCents, part.currency, locale)}</strong>
          </span>{" "}
          <span class="instalment-state">{instalmentState(part, locale, timeZone)}</span>
        </li>
      ))}
    </ul>
  );
}
