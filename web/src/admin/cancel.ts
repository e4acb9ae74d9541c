// The cancel form's arithmetic: what may be refunded, the amount the admin typed (in the currency's
// unit, read as minor units the way Stripe counts them), and what the couple gets back and what stays
// paid, shown before the admin confirms.
import { minorDigits } from "../app/money";
import type { Instalment } from "../shared/api";
import type { Ledger, RefundChoice } from "./api";

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

/** One payment's share of a refund, as the review shows it. */
export interface RefundShare {
  /** The instalment the payment paid (1: at checkout). */
  seq: number;
  refundCents: number;
}

/**
 * A refund spread over the booking's Stripe payments the way payments makes it (refunds.py,
 * allocate_refund): the latest payment first, each never beyond what is left of it. Only the
 * amounts: each payment's share of the platform's fee is payments' arithmetic, not the page's. Empty
 * when the ledger names no payment (entries before schedules have no instalment).
 */
export function refundSpread(ledger: Ledger, refundCents: number): RefundShare[] {
  const left = new Map<number, number>();
  for (const entry of ledger.entries) {
    const seq = entry.instalmentSeq;
    if (!seq) continue;
    const sign = entry.kind === "charge" ? 1 : entry.kind === "refund" ? -1 : 0;
    left.set(seq, (left.get(seq) ?? 0) + sign * entry.amountCents);
  }
  const shares: RefundShare[] = [];
  let toGo = refundCents;
  for (const seq of [...left.keys()].sort((a, b) => b - a)) {
    if (toGo <= 0) break;
    const take = Math.min(toGo, Math.max(0, left.get(seq) ?? 0));
    if (take > 0) shares.push({ seq, refundCents: take });
    toGo -= take;
  }
  return shares;
}

/** What the business was paid outside Stripe (instalments it marked paid): never refunded here. */
export function paidOfflineCents(instalments: readonly Instalment[] | undefined): number {
  return (instalments ?? []).filter((i) => i.paidOffline).reduce((sum, i) => sum + i.paidCents - i.refundedCents, 0);
}
