// Payment terms in the dashboards: the fields of a deposit-and-balance policy (TermsFields), the
// settings' "Payments" part (the business's terms, saved as a PATCH of what changed with the version),
// and the package form's "Payment terms" (the business's, or terms of the package's own).
import { useEffect, useState } from "preact/hooks";
import { Check, Field, OutcomeLine, Select, useAction } from "./common";
import {
  changedTerms,
  DEPOSIT_KINDS,
  draftOf,
  OVERDUE_ACTIONS,
  PAY_IN_FULL,
  policyOf,
  termsErrors,
  termsSummary,
  type PaymentPolicy,
  type TermsDraft,
} from "./paymentTerms";
import { isCode, type AdminRequest } from "./request";

type DraftErrors = Partial<Record<keyof TermsDraft, string>>;

interface FieldsProps {
  draft: TermsDraft;
  onChange: (draft: TermsDraft) => void;
  currency: string;
  errors: DraftErrors;
}

/** The inputs of one policy; the deposit's size only for the kind that needs it. */
export function TermsFields({ draft, onChange, currency, errors }: FieldsProps) {
  const set = <K extends keyof TermsDraft>(key: K, value: TermsDraft[K]) => onChange({ ...draft, [key]: value });
  const deposit = draft.depositKind !== "none";
  return (
    <div class="terms-fields">
      <Select label="Deposit" value={draft.depositKind} options={DEPOSIT_KINDS} onChange={(v) => set("depositKind", v as TermsDraft["depositKind"])} />
      {errors.depositKind && <p class="field-error">{errors.depositKind}</p>}
      {draft.depositKind === "percent" && (
        <Field label="Deposit (percent of the total)" value={draft.percent} onInput={(v) => set("percent", v)} error={errors.percent ?? null} hint="Such as 25 or 12.5." inputMode="decimal" required />
      )}
      {draft.depositKind === "fixed" && (
        <Field
          label={`Deposit amount (${currency.toUpperCase()})`}
          value={draft.amount}
          onInput={(v) => set("amount", v)}
          error={errors.amount ?? null}
          hint="A total below it is paid in full."
          inputMode="decimal"
          required
        />
      )}
      {deposit && (
        <>
          <Field
            label="Balance due (days before the event)"
            value={draft.balanceDueDays}
            onInput={(v) => set("balanceDueDays", v)}
            error={errors.balanceDueDays ?? null}
            hint="Couples booking later than this pay in full."
            inputMode="numeric"
            required
          />
          <Field label="Balance reminder (days before the due date)" value={draft.reminderDays} onInput={(v) => set("reminderDays", v)} error={errors.reminderDays ?? null} hint="Another reminder goes out on the due date." inputMode="numeric" required />
          <Field label="Grace after the due date (days)" value={draft.graceDays} onInput={(v) => set("graceDays", v)} error={errors.graceDays ?? null} inputMode="numeric" required />
          <Select label="When the balance is still unpaid after the grace days" value={draft.overdueAction} options={OVERDUE_ACTIONS} onChange={(v) => set("overdueAction", v as TermsDraft["overdueAction"])} />
          {errors.overdueAction && <p class="field-error">{errors.overdueAction}</p>}
          <Check label="Refund the deposit when a couple cancels" checked={draft.depositRefundable} onChange={(v) => set("depositRefundable", v)} />
        </>
      )}
    </div>
  );
}

export interface WithTerms {
  version: number;
  currency: string;
  paymentPolicy?: PaymentPolicy;
}

const SETTINGS = "/v1/tenant-admin/settings";

/** The settings' "Payments" part: the business's terms for every package without its own. */
export function BusinessTerms<T extends WithTerms>({ request, tenant, onSaved }: { request: AdminRequest; tenant: T; onSaved: (tenant: T) => void }) {
  const saved = tenant.paymentPolicy ?? PAY_IN_FULL;
  const [base, setBase] = useState<PaymentPolicy>(saved);
  const [draft, setDraft] = useState<TermsDraft>(() => draftOf(saved, tenant.currency));
  const [errors, setErrors] = useState<DraftErrors>({});
  const action = useAction();
  // Another part saved: the base follows (the typing stays).
  useEffect(() => setBase(tenant.paymentPolicy ?? PAY_IN_FULL), [tenant.version]);

  async function save(event: Event) {
    event.preventDefault();
    const read = policyOf(draft, tenant.currency);
    if ("errors" in read) {
      setErrors(read.errors);
      return action.setOutcome({ ok: false, text: "Some fields need a fix: see the messages beside them." });
    }
    setErrors({});
    const changed = changedTerms(read.policy, base);
    if (!Object.keys(changed).length) return action.setOutcome({ ok: true, text: "Nothing to save: no field changed." });
    try {
      const next = await action.run(() => request<T>("PATCH", SETTINGS, { paymentPolicy: changed, version: tenant.version }), "The payment terms were saved.");
      if (next) {
        setBase(next.paymentPolicy ?? PAY_IN_FULL);
        setDraft(draftOf(next.paymentPolicy ?? PAY_IN_FULL, next.currency));
        onSaved(next);
      }
    } catch (error) {
      if (!isCode(error, "VERSION_CONFLICT")) return;
      const theirs = await request<T>("GET", SETTINGS).catch(() => null);
      if (theirs) onSaved(theirs);
      action.setOutcome({ ok: false, text: "Someone else changed the settings meanwhile. Your terms are still in the form: save again to apply them." });
    }
  }

  const shownErrors = { ...termsErrors(action.fields), ...errors };
  return (
    <form onSubmit={save} noValidate>
      <p>
        What couples pay when they book, and when the rest is due. A package can have terms of its own (Catalog). Now: <span data-terms-summary>{termsSummary(base, tenant.currency)}</span>
      </p>
      <TermsFields draft={draft} onChange={setDraft} currency={tenant.currency} errors={shownErrors} />
      <OutcomeLine outcome={action.outcome} />
      <div class="actions">
        <button type="submit" class="button" aria-disabled={action.busy ? "true" : undefined}>
          Save payment terms
        </button>
      </div>
    </form>
  );
}

/** The package form's "Payment terms": the business's, or the package's own (a draft as JSON text,
 * the editor's form value; "" is the business's). */
export function PackageTermsField(props: { value: string; onChange: (value: string) => void; currency: string; business: PaymentPolicy; errors: Record<string, string> }) {
  const own = props.value !== "";
  const draft: TermsDraft = own ? (JSON.parse(props.value) as TermsDraft) : draftOf(props.business, props.currency);
  const choose = (wantOwn: boolean) => props.onChange(wantOwn ? JSON.stringify(draftOf(props.business, props.currency)) : "");
  return (
    <fieldset class="terms">
      <legend>Payment terms</legend>
      <label class="check">
        <input type="radio" name="package-terms" checked={!own} onChange={() => choose(false)} />
        The business’s terms
      </label>
      <label class="check">
        <input type="radio" name="package-terms" checked={own} onChange={() => choose(true)} />
        Terms of its own for this package
      </label>
      {own ? (
        <TermsFields draft={draft} onChange={(next) => props.onChange(JSON.stringify(next))} currency={props.currency} errors={termsErrors(props.errors)} />
      ) : (
        <p class="field-hint">{termsSummary(props.business, props.currency)}</p>
      )}
    </fieldset>
  );
}
