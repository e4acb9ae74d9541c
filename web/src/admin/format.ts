// Words for the dashboards: an API error as a sentence, waits in minutes, dates and times.
import { ApiError } from "../shared/api";
import { mediumDate } from "../app/dates";

/** "3 minutes", "1 minute", "40 seconds". */
export function waitWords(seconds: number): string {
  if (seconds >= 90) {
    const minutes = Math.ceil(seconds / 60);
    return `${minutes} minutes`;
  }
  if (seconds >= 60) return "1 minute";
  const s = Math.max(1, Math.round(seconds));
  return s === 1 ? "1 second" : `${s} seconds`;
}

function sentence(text: string): string {
  const trimmed = text.trim();
  if (!trimmed) return "";
  const first = trimmed[0].toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(first) ? first : `${first}.`;
}

/** What went wrong, in words a person reads (never a bare code). */
export function errorText(error: unknown): string {
  if (!(error instanceof ApiError)) return "Something went wrong. Please try again.";
  if (error.status === 429) {
    return error.retryAfter !== null
      ? `Too many attempts. Please wait ${waitWords(error.retryAfter)} and try again.`
      : "Too many attempts. Please wait a few minutes and try again.";
  }
  if (error.code === "CSRF_FAILED") return "Your session could not be checked. Please reload the page and try again.";
  if (error.status === 403) return "You do not have access to this.";
  if (error.status === 404) return "Not found: it may have been removed, or it belongs to another business.";
  const fieldNote = error.fields.length ? ` ${error.fields.map((f) => `${f.field}: ${f.message}`).join("; ")}.` : "";
  return sentence(error.message || "The request failed") + (error.code === "VALIDATION_ERROR" ? fieldNote : "");
}

/** The message the server gave for `field` (or one of its aliases), if any. */
export function fieldError(error: unknown, ...names: string[]): string | null {
  if (!(error instanceof ApiError)) return null;
  const found = error.fields.find((f) => names.includes(f.field));
  return found ? sentence(found.message) : null;
}

/** "12 June 2026" for an ISO date; the text itself when it is not one. */
export function dateText(iso: string | null | undefined, locale: string): string {
  if (!iso) return "";
  try {
    return mediumDate(iso.slice(0, 10), locale);
  } catch {
    return iso;
  }
}

/** "12 Jun 2026, 14:05" in the admin's own zone. */
export function timeText(iso: string | null | undefined, locale: string): string {
  if (!iso) return "";
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return iso;
  return new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short" }).format(at);
}

export const STATUS_WORDS: Record<string, string> = {
  HELD: "Held",
  CONFIRMED: "Confirmed",
  RELEASED: "Released",
  CANCELLED: "Cancelled",
};

/** A cancellation's reason in words: the platform's own reasons are codes ("balance_unpaid"); an
 * admin's are their own words, shown as typed. */
export function cancelReasonWords(reason: string): string {
  if (reason === "balance_unpaid") return "the balance was not paid by its due date";
  return reason;
}

/** Who changed a booking, as its history says it ("by the couple", "by you"); history records
 * `couple`, `system`, `payments`, `tenant_admin:<user id or secret_key>` or `platform_admin:<id>`. */
export function actorWords(actor: string, myUserId?: string | null): string {
  if (actor === "couple") return "the couple";
  if (actor === "system") return "the platform (automatically)";
  if (actor === "payments") return "the payment (Stripe)";
  if (actor === "tenant_admin:secret_key") return "your server (secret key)";
  const [role, id] = actor.split(/:(.*)/s, 2);
  if (role === "tenant_admin") return myUserId && id === myUserId ? "you" : "an admin of the business";
  if (role === "platform_admin") return "the platform's admin";
  return actor;
}
