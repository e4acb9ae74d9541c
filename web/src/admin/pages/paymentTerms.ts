// Payment terms in the dashboards: the API's PaymentPolicy JSON (mais_runtime/payment_policy.py), the
// form's draft of it (what the inputs hold: a percent as written, an amount in the currency), the JSON
// a draft makes (or the field errors of what is not a number), a line that says the terms in words,
// and where the API's field errors ("paymentPolicy.depositBps") go in the form. The ranges are the
// API's to check: its errors are shown beside the fields.
import { formatMoney } from "../../app/money";
import { moneyInput, parseMoney, type Codec } from "./editing";

export type DepositKind = "none" | "percent" | "fixed";
export type OverdueAction = "remind" | "cancel_keep_deposit" | "cancel_refund_deposit";

export interface PaymentPolicy {
  depositKind: DepositKind;
  depositBps: number;
  depositCents: number;
  balanceDueDays: number;
  graceDays: number;
  overdueAction: OverdueAction;
  depositRefundable: boolean;
  reminderDays: number;
}

/** What a business has before it sets any terms (the API's default): pay in full. */
export const PAY_IN_FULL: PaymentPolicy = {
  depositKind: "none",
  depositBps: 0,
  depositCents: 0,
  balanceDueDays: 30,
  graceDays: 3,
  overdueAction: "remind",
  depositRefundable: true,
  reminderDays: 7,
};

export interface TermsDraft {
  depositKind: DepositKind;
  percent: string;
  amount: string;
  balanceDueDays: string;
  graceDays: string;
  overdueAction: OverdueAction;
  depositRefundable: boolean;
  reminderDays: string;
}

export const DEPOSIT_KINDS: { value: DepositKind; label: string }[] = [
  { value: "none", label: "No deposit: couples pay in full when they book" },
  { value: "percent", label: "A percentage of the total" },
  { value: "fixed", label: "A fixed amount" },
];

export const OVERDUE_ACTIONS: { value: OverdueAction; label: string }[] = [
  { value: "remind", label: "Send the overdue notice; I decide what happens next" },
  { value: "cancel_keep_deposit", label: "Cancel the booking and keep the deposit" },
  { value: "cancel_refund_deposit", label: "Cancel the booking and refund everything paid" },
];

/** Basis points as a person writes the percent: 2500 → "25", 1250 → "12.5", 5 → "0.05". */
export function percentText(bps: number): string {
  const whole = Math.floor(bps / 100);
  const hundredths = bps % 100;
  if (!hundredths) return String(whole);
  return `${whole}.${String(hundredths).padStart(2, "0").replace(/0$/, "")}`;
}

/** "12.5" → 1250 basis points; null when it is not a percent with at most two decimals. */
export function parsePercent(text: string): number | null {
  const match = /^(\d{1,3})(?:[.,](\d{1,2}))?$/.exec(text.trim().replace(/\s*%$/, ""));
  if (!match) return null;
  return Number(match[1]) * 100 + Number((match[2] ?? "").padEnd(2, "0"));
}

export function draftOf(policy: PaymentPolicy, currency: string): TermsDraft {
  return {
    depositKind: policy.depositKind,
    percent: policy.depositKind === "percent" ? percentText(policy.depositBps) : "",
    amount: policy.depositKind === "fixed" ? moneyInput(policy.depositCents, currency) : "",
    balanceDueDays: String(policy.balanceDueDays),
    graceDays: String(policy.graceDays),
    overdueAction: policy.overdueAction,
    depositRefundable: policy.depositRefundable,
    reminderDays: String(policy.reminderDays),
  };
}

/** The draft's field for each API field of the terms. */
const DRAFT_FIELD: Record<string, keyof TermsDraft> = {
  depositKind: "depositKind",
  depositBps: "percent",
  depositCents: "amount",
  balanceDueDays: "balanceDueDays",
  graceDays: "graceDays",
  overdueAction: "overdueAction",
  depositRefundable: "depositRefundable",
  reminderDays: "reminderDays",
};

/** The API's field errors of the terms ("paymentPolicy.depositBps": "...") by the draft's field. */
export function termsErrors(fields: Record<string, string>, prefix = "paymentPolicy"): Partial<Record<keyof TermsDraft, string>> {
  const errors: Partial<Record<keyof TermsDraft, string>> = {};
  for (const [field, message] of Object.entries(fields)) {
    if (!field.startsWith(`${prefix}.`)) continue;
    const draftField = DRAFT_FIELD[field.slice(prefix.length + 1)];
    if (draftField) errors[draftField] = message;
  }
  return errors;
}

/** The terms a draft says, or what is not a number in it (the API checks the ranges). */
export function policyOf(draft: TermsDraft, currency: string): { policy: PaymentPolicy } | { errors: Partial<Record<keyof TermsDraft, string>> } {
  const errors: Partial<Record<keyof TermsDraft, string>> = {};
  const whole = (key: "balanceDueDays" | "graceDays" | "reminderDays"): number => {
    const text = draft[key].trim();
    if (!/^\d+$/.test(text)) errors[key] = "Write a whole number of days.";
    return Number(text);
  };
  let depositBps = 0;
  let depositCents = 0;
  if (draft.depositKind === "percent") {
    const bps = parsePercent(draft.percent);
    if (bps === null) errors.percent = "Write a percentage such as 25 or 12.5.";
    else depositBps = bps;
  }
  if (draft.depositKind === "fixed") {
    const cents = parseMoney(draft.amount, currency);
    if (cents === null) errors.amount = `Write an amount such as ${moneyInput(50000, currency)}.`;
    else depositCents = cents;
  }
  const policy: PaymentPolicy = {
    depositKind: draft.depositKind,
    depositBps,
    depositCents,
    balanceDueDays: whole("balanceDueDays"),
    graceDays: whole("graceDays"),
    overdueAction: draft.overdueAction,
    depositRefundable: draft.depositRefundable,
    reminderDays: whole("reminderDays"),
  };
  return Object.keys(errors).length ? { errors } : { policy };
}

/** The fields of `mine` that differ from `base` (what a settings PATCH sends). */
export function changedTerms(mine: PaymentPolicy, base: PaymentPolicy): Partial<PaymentPolicy> {
  const changed: Partial<PaymentPolicy> = {};
  for (const key of Object.keys(mine) as (keyof PaymentPolicy)[]) if (mine[key] !== base[key]) (changed as Record<string, unknown>)[key] = mine[key];
  return changed;
}

const days = (n: number) => (n === 1 ? "1 day" : `${n} days`);

/** The terms in a sentence, as the business reads them back. */
export function termsSummary(policy: PaymentPolicy, currency: string): string {
  if (policy.depositKind === "none") return "Couples pay in full when they book.";
  const deposit = policy.depositKind === "percent" ? `${percentText(policy.depositBps)} %` : formatMoney(policy.depositCents, currency);
  const after =
    policy.overdueAction === "remind"
      ? "you are told and decide"
      : policy.overdueAction === "cancel_keep_deposit"
        ? "the booking is cancelled and the deposit kept"
        : "the booking is cancelled and everything paid refunded";
  return (
    `A deposit of ${deposit} when they book; the balance is due ${days(policy.balanceDueDays)} before the event ` +
    `(couples booking later pay in full). Unpaid ${days(policy.graceDays)} after the due date: ${after}. ` +
    (policy.depositRefundable ? "A couple who cancels gets the deposit back." : "A couple who cancels does not get the deposit back.")
  );
}

/** The API's field of each draft field (the inverse of DRAFT_FIELD). */
const API_FIELD = Object.fromEntries(Object.entries(DRAFT_FIELD).map(([api, draft]) => [draft, api])) as Record<keyof TermsDraft, string>;

/** A package's own terms as the editor's form value: "" (the business's terms) or the draft as JSON. */
export function packageTermsCodec(currency: string, prefix = "paymentPolicy"): Codec {
  return {
    toForm: (value) => (value && typeof value === "object" ? JSON.stringify(draftOf(value as PaymentPolicy, currency)) : ""),
    fromForm: (text) => {
      if (!text) return { value: null };
      const read = policyOf(JSON.parse(text) as TermsDraft, currency);
      if ("policy" in read) return { value: read.policy };
      return { errors: Object.fromEntries(Object.entries(read.errors).map(([field, message]) => [`${prefix}.${API_FIELD[field as keyof TermsDraft]}`, message])) };
    },
    shown: (text) => {
      if (!text) return "the business’s terms";
      const read = policyOf(JSON.parse(text) as TermsDraft, currency);
      return "policy" in read ? `its own: ${termsSummary(read.policy, currency)}` : "its own (not complete)";
    },
  };
}
