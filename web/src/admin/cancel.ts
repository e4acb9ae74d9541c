// The cancel form's arithmetic: what may be refunded, the amount the admin typed (in the currency's
// unit, read as minor units the way Stripe counts them), and what the couple gets back and what stays
// paid, shown before the admin confirms.
import { minorDigits } from "../app/money";
import type { RefundChoice } from "./api";

export type CancelChoice = "none" | "full" | "amount";

/** What is paid and not yet refunded. */
export function refundableCents(booking: { amountPaidCents: number; amountRefundedCents: number }): number {
  return Math.max(0, (booking.amountPaidCents || 0) - (booking.amountRefundedCents || 0));
}

/** "120", "120.5", "120,50" → minor units of `currency`; null when it is not such an amount. */
export function parseAmount(text: string, currency: string): number | null {
  const cleaned = text.replace(/\s/g, "");
  const match = /^(\d+)(?:[.,](\d*))?$/.exec(cleaned);
  if (!match) return null;
  const digits = minorDigits(currency);
  const fraction = match[2] ?? "";
  if (fraction.length > digits) return null;
  const minor = Number(match[1]) * 10 ** digits + Number((fraction + "0".repeat(digits)).slice(0, digits) || "0");
  return Number.isSafeInteger(minor) ? minor : null;
}

export type CancelPlan =
  | { ok: true; refundCents: number; keptCents: number; refund: RefundChoice }
  | { ok: false; error: string };

export function cancelPlan(
  choice: CancelChoice,
  amountText: string,
  booking: { amountPaidCents: number; amountRefundedCents: number; currency: string },
): CancelPlan {
  const refundable = refundableCents(booking);
  if (choice === "none") return { ok: true, refundCents: 0, keptCents: refundable, refund: "none" };
  if (choice === "full") return { ok: true, refundCents: refundable, keptCents: 0, refund: "full" };
  if (!amountText.trim()) return { ok: false, error: "Enter the amount to refund." };
  const cents = parseAmount(amountText, booking.currency);
  const digits = minorDigits(booking.currency);
  if (cents === null) {
    return {
      ok: false,
      error: digits
        ? `Enter the amount as a number with at most ${digits} decimals, without thousands separators (for example 150${digits === 3 ? ".500" : ".50"}).`
        : "Enter the amount as a whole number, without thousands separators (for example 15000).",
    };
  }
  if (cents <= 0) return { ok: false, error: "The amount must be more than zero; choose No refund instead." };
  if (cents > refundable) return { ok: false, error: "The amount is more than what can be refunded." };
  return { ok: true, refundCents: cents, keptCents: refundable - cents, refund: { amountCents: cents } };
}
