// A booking's payment schedule as its business sees it: each instalment with its status, the platform's
// fee, when it was paid and the note, and for an owed one the three changes the business may make:
// waive it, mark it paid outside Stripe (both need a note, which the booking's history keeps), or move its
// due date (between tomorrow in the business's calendar and the event). Every sum is the server's.
import { useState } from "preact/hooks";
import { addDays, todayIn } from "../app/dates";
import { formatMoney } from "../app/money";
import { isOwed, KIND_WORDS } from "../app/Schedule";
import { ApiError, newIdempotencyKey, type Instalment, type Schedule } from "../shared/api";
import type { InstalmentChange } from "./api";
import { useAdmin } from "./context";
import { dateText, errorText, fieldError, timeText } from "./format";
import { Field, Section, Status, useFocusWhen, useId } from "./ui";

export const INSTALMENT_STATUS_WORDS: Record<Instalment["status"], string> = {
  DUE: "Due",
  PAID: "Paid",
  OVERDUE: "Overdue",
  WAIVED: "Waived",
  REFUNDED: "Refunded",
  CANCELLED: "Cancelled",
};

type Action = InstalmentChange["action"];

const ACTION_WORDS: Record<Action, { button: string; title: string; submit: string; done: string }> = {
  waive: { button: "Waive", title: "Waive", submit: "Waive it", done: "is waived: the couple owes nothing more for it" },
  "mark-paid": { button: "Mark paid offline", title: "Mark paid offline", submit: "Mark it paid", done: "is marked paid outside Stripe" },
  "due-date": { button: "Change due date", title: "Change the due date of", submit: "Change the due date", done: "has a new due date; the couple is emailed" },
};

/** What the form would send, or the problem per field (checked before anything is sent). */
export function changeOf(action: Action, note: string, dueDate: string, bounds: { min: string; max: string }):
  | { ok: true; change: InstalmentChange }
  | { ok: false; note?: string; dueDate?: string } {
  const text = note.trim();
  if (action === "due-date") {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(dueDate)) return { ok: false, dueDate: "Choose the new due date." };
    if (dueDate < bounds.min || dueDate > bounds.max) return { ok: false, dueDate: "Choose a date after today, up to the event's date." };
    return { ok: true, change: text ? { action, dueDate, note: text } : { action, dueDate } };
  }
  if (!text) return { ok: false, note: "Write a note: why (the booking's history keeps it)." };
  return { ok: true, change: { action, note: text } };
}

export function PaymentSchedule(props: { bookingId: string; eventDate: string; schedule: Schedule; editable: boolean; onChanged: (schedule: Schedule) => void }) {
  const { locale, me } = useAdmin();
  const { schedule } = props;
  const [open, setOpen] = useState<{ seq: number; action: Action } | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const money = (cents: number, currency = schedule.currency) => formatMoney(cents, currency, locale);
  const today = todayIn(me?.tenant?.timezone ?? "UTC");
  const bounds = { min: addDays(today, 1), max: props.eventDate };
  const part = open ? schedule.instalments.find((p) => p.seq === open.seq) : undefined;

  return (
    <Section title="Payment schedule">
      <dl class="figures">
        <dt>Total</dt>
        <dd>{money(schedule.totalCents)}</dd>
        <dt>Paid</dt>
        <dd>{money(schedule.paidCents)}</dd>
        <dt>Refunded</dt>
        <dd>{money(schedule.refundedCents)}</dd>
        <dt>Outstanding</dt>
        <dd>
          {money(schedule.outstandingCents)}
          {schedule.overdue && <span class="badge status-overdue"> overdue</span>}
        </dd>
      </dl>
      <div class="table-wrap">
        <table class="data-table schedule-table">
          <caption class="visually-hidden">Instalments</caption>
          <thead>
            <tr>
              <th scope="col">Instalment</th>
              <th scope="col" class="num">Amount</th>
              <th scope="col">Due</th>
              <th scope="col">Status</th>
              <th scope="col">Paid</th>
              <th scope="col" class="num">Platform fee</th>
              <th scope="col">Note</th>
              {props.editable && <th scope="col">Actions</th>}
            </tr>
          </thead>
          <tbody>
            {schedule.instalments.map((p) => {
              const name = KIND_WORDS[p.kind] ?? p.kind;
              return (
                <tr key={p.seq} data-seq={p.seq}>
                  <th scope="row">{name}</th>
                  <td class="num">{money(p.amountCents, p.currency)}</td>
                  <td>{dateText(p.dueDate, locale)}</td>
                  <td>
                    <span class={`badge status-${p.status.toLowerCase()}`}>{INSTALMENT_STATUS_WORDS[p.status] ?? p.status}</span>
                    {p.refundedCents > 0 && p.status !== "REFUNDED" && <span class="muted"> ({money(p.refundedCents, p.currency)} refunded)</span>}
                  </td>
                  <td>
                    {p.paidAt ? timeText(p.paidAt, locale) : "—"}
                    {p.paidOffline && <span class="muted"> (offline)</span>}
                  </td>
                  <td class="num">{p.feeCents !== undefined && p.paidCents > 0 ? money(p.feeCents, p.currency) : "—"}</td>
                  <td class="pre">{p.note ?? "—"}</td>
                  {props.editable && (
                    <td class="row-actions">
                      {isOwed(p)
                        ? (["waive", "mark-paid", "due-date"] as const).map((action) => (
                            <button
                              key={action}
                              type="button"
                              class="button secondary small"
                              aria-label={`${ACTION_WORDS[action].button}: ${name}`}
                              aria-expanded={open?.seq === p.seq && open.action === action ? "true" : "false"}
                              onClick={() => {
                                setDone(null);
                                setOpen({ seq: p.seq, action });
                              }}
                            >
                              {ACTION_WORDS[action].button}
                            </button>
                          ))
                        : "—"}
                    </td>
                  )}
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      <Status message={done} />
      {open && part && (
        <InstalmentForm
          key={`${open.seq}-${open.action}`}
          bookingId={props.bookingId}
          instalment={part}
          action={open.action}
          bounds={bounds}
          onClose={() => setOpen(null)}
          onDone={(next) => {
            setOpen(null);
            setDone(`The ${(KIND_WORDS[part.kind] ?? "instalment").toLowerCase()} ${ACTION_WORDS[open.action].done}.`);
            props.onChanged(next);
          }}
        />
      )}
    </Section>
  );
}

function InstalmentForm(props: {
  bookingId: string;
  instalment: Instalment;
  action: Action;
  bounds: { min: string; max: string };
  onClose: () => void;
  onDone: (schedule: Schedule) => void;
}) {
  const { api, locale } = useAdmin();
  const id = useId("instalment");
  const words = ACTION_WORDS[props.action];
  const [note, setNote] = useState(props.action === "due-date" ? props.instalment.note ?? "" : "");
  const [dueDate, setDueDate] = useState(props.action === "due-date" ? props.instalment.dueDate : "");
  const [errors, setErrors] = useState<{ note?: string; dueDate?: string }>({});
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // One key per opened form: sending it again (after no answer, or a double press) is one change.
  const [key, setKey] = useState(newIdempotencyKey);
  const heading = useFocusWhen<HTMLHeadingElement>(true);
  const name = (KIND_WORDS[props.instalment.kind] ?? "instalment").toLowerCase();

  async function send(event: Event) {
    event.preventDefault();
    if (busy) return;
    const checked = changeOf(props.action, note, dueDate, props.bounds);
    if (!checked.ok) {
      setErrors({ note: checked.note, dueDate: checked.dueDate });
      return;
    }
    setErrors({});
    setProblem(null);
    setBusy(true);
    try {
      const answer = await api.updateInstalment(props.bookingId, props.instalment.seq, checked.change, key);
      props.onDone(answer.schedule);
    } catch (error) {
      setProblem(`Not changed: ${errorText(error)}`);
      setErrors({ note: fieldError(error, "note") ?? undefined, dueDate: fieldError(error, "dueDate", "due_date") ?? undefined });
      // A definite refusal: a corrected form is a new request.
      if (error instanceof ApiError && !error.indefinite) setKey(newIdempotencyKey());
    } finally {
      setBusy(false);
    }
  }

  return (
    <form class="card confirm instalment-form" onSubmit={send} noValidate aria-labelledby={id}>
      <h3 id={id} tabIndex={-1} ref={heading}>
        {words.title} the {name} ({formatMoney(props.instalment.amountCents, props.instalment.currency, locale)})
      </h3>
      {props.action === "due-date" && (
        <Field label="New due date" error={errors.dueDate} hint={`From ${dateText(props.bounds.min, locale)} to the event, ${dateText(props.bounds.max, locale)}.`}>
          {(attrs) => <input {...attrs} type="date" min={props.bounds.min} max={props.bounds.max} value={dueDate} onInput={(e) => setDueDate(e.currentTarget.value)} />}
        </Field>
      )}
      <Field label={props.action === "due-date" ? "Note (optional)" : "Note (required)"} error={errors.note}>
        {(attrs) => <textarea {...attrs} rows={2} maxLength={500} value={note} onInput={(e) => setNote(e.currentTarget.value)} />}
      </Field>
      <div class="actions">
        <button type="button" class="button secondary" onClick={props.onClose}>
          Cancel
        </button>
        <button type="submit" class="button" aria-disabled={busy ? "true" : undefined}>
          {busy ? "Saving…" : words.submit}
        </button>
      </div>
      <div role="alert" class={problem ? "alert" : "alert alert-empty"}>
        {problem}
      </div>
    </form>
  );
}
