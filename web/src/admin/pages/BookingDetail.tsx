// One booking: the couple, the package snapshot, every ledger line, the payment schedule (and its
// changes), the history, and the actions:
// cancel (refund none / full / an amount, the amounts shown before confirming) and resend the
// confirmation email.
import { useEffect, useState } from "preact/hooks";
import { ApiError, newIdempotencyKey } from "../../shared/api";
import { formatMoney } from "../../app/money";
import { dateAndTimes } from "../../app/dates";
import type { AdminBooking, Ledger } from "../api";
import { cancelPlan, paidOfflineCents, refundableCents, refundSpread, type CancelChoice } from "../cancel";
import { PaymentSchedule } from "../PaymentSchedule";
import { Reschedule } from "../Reschedule";
import { useAdmin } from "../context";
import { actorWords, cancelReasonWords, dateText, errorText, STATUS_WORDS, timeText } from "../format";
import type { AdminPageProps } from "./types";
import { BASE, Link } from "../router";
import { Field, LoadingLine, PageTitle, Section, Status, useFocusWhen, useId } from "../ui";

const LEDGER_WORDS: Record<string, string> = {
  charge: "Payment",
  application_fee: "Platform fee",
  refund: "Refund",
  application_fee_refund: "Platform fee refunded",
};

export function BookingDetail({ params }: AdminPageProps) {
  const { api, locale, me } = useAdmin();
  const id = params.id ?? "";
  const [booking, setBooking] = useState<AdminBooking | null>(null);
  const [ledger, setLedger] = useState<Ledger | null>(null);
  const [ledgerProblem, setLedgerProblem] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [notFound, setNotFound] = useState(false);
  // What the last action did, said on the page itself: a cancellation removes the form that made it.
  const [notice, setNotice] = useState<string | null>(null);
  const noticeLine = useFocusWhen<HTMLParagraphElement>(notice !== null);

  async function load() {
    setProblem(null);
    try {
      setBooking(await api.booking(id));
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) setNotFound(true);
      else setProblem(errorText(error));
      return;
    }
    try {
      setLedger(await api.ledger(id));
      setLedgerProblem(null);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) setLedger(null);
      else setLedgerProblem(errorText(error));
    }
  }
  useEffect(() => {
    load();
  }, [id]);

  if (notFound) {
    return (
      <div class="admin-page">
        <PageTitle>Booking not found</PageTitle>
        <p>No booking of your business has this id.</p>
        <p>
          <Link href={`${BASE}/bookings`}>All bookings</Link>
        </p>
      </div>
    );
  }

  const money = (cents: number) => formatMoney(cents, booking?.currency ?? "usd", locale);
  return (
    <div class="admin-page">
      <p class="breadcrumb">
        <Link href={`${BASE}/bookings`}>Bookings</Link>
      </p>
      <PageTitle>{booking ? `${booking.coupleName || booking.email}, ${dateText(booking.eventDate, locale)}` : "Booking"}</PageTitle>
      {problem && (
        <p role="alert" class="alert">
          The booking could not be loaded: {problem}
        </p>
      )}
      {!booking && !problem && <LoadingLine label="Loading the booking…" />}
      {booking && (
        <>
          <p class="lede">
            <span class={`badge status-${booking.status.toLowerCase()}`}>{STATUS_WORDS[booking.status] ?? booking.status}</span>
            {booking.holdExpiresAt && ` until ${timeText(booking.holdExpiresAt, locale)}`}
            {booking.cancelReason && ` (${cancelReasonWords(booking.cancelReason)})`}
          </p>
          <p role="status" class={notice ? "notice success" : "alert-empty"} tabIndex={-1} ref={noticeLine}>
            {notice}
          </p>
          <div class="grid-2">
            <Section title="Couple">
              <dl class="figures">
                <dt>Name</dt>
                <dd>{booking.coupleName}</dd>
                <dt>Email</dt>
                <dd>
                  <a href={`mailto:${booking.email}`}>{booking.email}</a>
                </dd>
                <dt>Phone</dt>
                <dd>{booking.phone ?? "—"}</dd>
                <dt>Event date</dt>
                <dd>{booking.startsAt ? dateAndTimes(booking.eventDate, booking.startsAt, booking.endsAt, me?.tenant?.timezone, locale) : dateText(booking.eventDate, locale)}</dd>
                <dt>Notes</dt>
                <dd class="pre">{booking.notes ?? "—"}</dd>
              </dl>
            </Section>
            <Section title="Package">
              <table class="data-table">
                <caption class="visually-hidden">The price as quoted</caption>
                <thead>
                  <tr>
                    <th scope="col">Item</th>
                    <th scope="col" class="num">Price</th>
                  </tr>
                </thead>
                <tbody>
                  {booking.quote.lines.map((line) => (
                    <tr key={`${line.kind}-${line.id}`}>
                      <th scope="row">
                        {line.title}
                        {line.kind === "add_on" && <span class="muted"> (add-on)</span>}
                      </th>
                      <td class="num">{money(line.priceCents)}</td>
                    </tr>
                  ))}
                </tbody>
                <tfoot>
                  <tr>
                    <th scope="row">Total</th>
                    <td class="num">{money(booking.quote.totalCents)}</td>
                  </tr>
                </tfoot>
              </table>
            </Section>
          </div>
          <Section title="Payments and refunds">
            <dl class="figures">
              <dt>Paid</dt>
              <dd>{money(booking.amountPaidCents)}</dd>
              <dt>Refunded</dt>
              <dd>{money(booking.amountRefundedCents)}</dd>
            </dl>
            {ledgerProblem && (
              <p role="alert" class="alert">
                The payment ledger could not be loaded: {ledgerProblem}
              </p>
            )}
            {ledger && <LedgerTable ledger={ledger} locale={locale} />}
            {!ledger && !ledgerProblem && <p>No payment was recorded for this booking.</p>}
          </Section>
          {booking.schedule && booking.schedule.instalments.length > 0 && (
            <PaymentSchedule
              bookingId={booking.id}
              eventDate={booking.eventDate}
              schedule={booking.schedule}
              editable={booking.status === "CONFIRMED"}
              onChanged={(schedule) => {
                setBooking({ ...booking, schedule });
                // The history has a line for the change; the booking's paid amount may have moved.
                load();
              }}
            />
          )}
          <Section title="History">
            {booking.history?.length ? (
              <ol class="timeline">
                {booking.history.map((entry, i) => {
                  // An event that left the status as it was (a refund, a payment, an email) reads as
                  // what happened, not as "Cancelled → Cancelled".
                  const same = entry.from === entry.to && entry.reason;
                  const what = same
                    ? sentence(entry.reason ?? "")
                    : `${entry.from ? `${STATUS_WORDS[entry.from] ?? entry.from} → ` : ""}${STATUS_WORDS[entry.to] ?? entry.to}`;
                  return (
                    <li key={i}>
                      <time dateTime={entry.at}>{timeText(entry.at, locale)}</time> <strong>{what}</strong>
                      {` by ${actorWords(entry.actor, me?.userId)}`}
                      {!same && entry.reason && <span class="muted">: {entry.reason}</span>}
                    </li>
                  );
                })}
              </ol>
            ) : (
              <p>No history recorded.</p>
            )}
          </Section>
          {booking.status === "CONFIRMED" && (
            <Reschedule
              booking={booking}
              onMoved={(moved, message) => {
                setNotice(message);
                setBooking({ ...booking, ...moved });
                load();
              }}
            />
          )}
          {booking.status === "CONFIRMED" && (
            <Section title="Actions">
              <Resend bookingId={booking.id} />
              <CancelForm
                booking={booking}
                ledger={ledger}
                onCancelled={(updated, message) => {
                  setNotice(message);
                  setBooking(updated);
                  load();
                }}
              />
            </Section>
          )}
        </>
      )}
    </div>
  );
}

function LedgerTable({ ledger, locale }: { ledger: Ledger; locale: string }) {
  const money = (cents: number, currency = ledger.currency) => formatMoney(cents, currency, locale);
  const t = ledger.totals;
  return (
    <>
      <div class="table-wrap">
        <table class="data-table">
          <caption class="visually-hidden">Ledger lines</caption>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">What</th>
              <th scope="col" class="num">Amount</th>
              <th scope="col">Stripe reference</th>
            </tr>
          </thead>
          <tbody>
            {ledger.entries.map((e) => (
              <tr key={e.id}>
                <td>{timeText(e.createdAt, locale)}</td>
                <td>{LEDGER_WORDS[e.kind] ?? e.kind}</td>
                <td class="num">{money(e.amountCents, e.currency)}</td>
                <td class="mono">{e.stripeObjectId}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <dl class="figures ledger-totals">
        <dt>Charged</dt>
        <dd>{money(t.chargedCents)}</dd>
        <dt>Refunded</dt>
        <dd>{money(t.refundedCents)}</dd>
        <dt>Net paid</dt>
        <dd>{money(t.netPaidCents)}</dd>
        <dt>Platform fee</dt>
        <dd>{money(t.platformFeeCents)}</dd>
        <dt>Net to you</dt>
        <dd>{money(t.netToTenantCents)}</dd>
      </dl>
    </>
  );
}

function Resend({ bookingId }: { bookingId: string }) {
  const { api } = useAdmin();
  const [done, setDone] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  async function resend() {
    if (busy) return;
    setBusy(true);
    setDone(null);
    setProblem(null);
    try {
      await api.resendConfirmation(bookingId);
      setDone("The confirmation email is on its way to the couple.");
    } catch (error) {
      setProblem(`The confirmation was not sent: ${errorText(error)}`);
    } finally {
      setBusy(false);
    }
  }
  return (
    <div class="action-block">
      <button type="button" class="button secondary" onClick={resend} aria-disabled={busy ? "true" : undefined}>
        {busy ? "Sending…" : "Resend the confirmation email"}
      </button>
      <Status message={done} />
      <div role="alert" class={problem ? "alert" : "alert alert-empty"}>
        {problem}
      </div>
    </div>
  );
}

const KIND_WORDS: Record<string, string> = { FULL: "Payment in full", DEPOSIT: "Deposit", BALANCE: "Balance" };

export function CancelForm({
  booking,
  ledger,
  onCancelled,
}: {
  booking: AdminBooking;
  /** The booking's ledger: what went through Stripe, per payment (null while unknown). */
  ledger?: Ledger | null;
  onCancelled: (b: AdminBooking, message: string) => void;
}) {
  const { api, locale } = useAdmin();
  const name = useId("refund");
  const [open, setOpen] = useState(false);
  const [choice, setChoice] = useState<CancelChoice>("full");
  const [amount, setAmount] = useState("");
  const [reason, setReason] = useState("");
  const [reviewing, setReviewing] = useState(false);
  const [key, setKey] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const reviewHeading = useFocusWhen<HTMLHeadingElement>(reviewing);
  const money = (cents: number) => formatMoney(cents, booking.currency, locale);
  // Only money that went through Stripe can go back through it: the ledger's, when it is known.
  const stripePaid = ledger
    ? { amountPaidCents: ledger.totals.chargedCents, amountRefundedCents: ledger.totals.refundedCents, currency: booking.currency }
    : booking;
  const refundable = refundableCents(stripePaid);
  const plan = cancelPlan(choice, amount, stripePaid);
  const offline = paidOfflineCents(booking.schedule?.instalments);
  const payments = new Set((ledger?.entries ?? []).filter((e) => e.kind === "charge" && e.instalmentSeq).map((e) => e.instalmentSeq));
  const shares = ledger && plan.ok && payments.size > 1 ? refundSpread(ledger, plan.refundCents) : [];
  const kindOf = (seq: number) => booking.schedule?.instalments.find((i) => i.seq === seq)?.kind ?? "";
  const offlineLine =
    offline > 0
      ? `${money(offline)} was paid to you outside Stripe (marked paid): it is not refunded here; settle it with the couple yourself.`
      : null;

  if (!open) {
    return (
      <div class="action-block">
        <button type="button" class="button danger-outline" onClick={() => setOpen(true)}>
          Cancel this booking…
        </button>
      </div>
    );
  }

  function review(event: Event) {
    event.preventDefault();
    if (!plan.ok) {
      setError(plan.error);
      return;
    }
    setError(null);
    setProblem(null);
    // One key per reviewed choice: a retry of the same confirmation refunds once.
    setKey(newIdempotencyKey());
    setReviewing(true);
  }

  async function confirm() {
    if (!plan.ok || busy) return;
    setBusy(true);
    setProblem(null);
    try {
      const answer = await api.cancelBooking(booking.id, { reason: reason.trim(), refund: plan.refund }, key);
      onCancelled(answer, `The booking is cancelled; ${money(answer.refund.refundedCents)} refunded. The couple is emailed.`);
    } catch (e) {
      setProblem(`The booking was not cancelled: ${errorText(e)}`);
      if (e instanceof ApiError && !e.indefinite) setReviewing(false);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form class="cancel-form card confirm" onSubmit={review} noValidate aria-labelledby={`${name}-title`}>
      <h3 id={`${name}-title`}>Cancel the booking</h3>
      <p>
        Paid so far and not refunded: <strong>{money(refundable)}</strong>. The date opens again at once.
      </p>
      {offlineLine && <p class="notice warning">{offlineLine}</p>}
      <fieldset disabled={reviewing}>
        <legend>Refund</legend>
        {(
          [
            ["none", "No refund"],
            ["full", `Full refund (${money(refundable)})`],
            ["amount", "An amount"],
          ] as const
        ).map(([value, label]) => (
          <label class="check" key={value}>
            <input type="radio" name={name} value={value} checked={choice === value} onChange={() => setChoice(value)} />
            {label}
          </label>
        ))}
        {choice === "amount" && (
          <Field label={`Amount to refund (${booking.currency.toUpperCase()})`} error={error}>
            {(attrs) => <input {...attrs} inputMode="decimal" autocomplete="off" value={amount} onInput={(e) => setAmount(e.currentTarget.value)} />}
          </Field>
        )}
        {choice !== "amount" && error && <p class="field-error">{error}</p>}
        <Field label="Reason (the couple sees it)">
          {(attrs) => <textarea {...attrs} maxLength={500} rows={2} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />}
        </Field>
      </fieldset>
      {!reviewing && (
        <div class="actions">
          <button type="button" class="button secondary" onClick={() => setOpen(false)}>
            Keep the booking
          </button>
          <button type="submit" class="button danger">
            Review the cancellation
          </button>
        </div>
      )}
      {reviewing && plan.ok && (
        <div class="review">
          <h4 tabIndex={-1} ref={reviewHeading}>
            Please confirm
          </h4>
          <dl class="figures">
            <dt>The couple gets back</dt>
            <dd data-testid="refund-amount">{money(plan.refundCents)}</dd>
            <dt>Stays paid</dt>
            <dd data-testid="kept-amount">{money(plan.keptCents)}</dd>
          </dl>
          {shares.length > 0 && (
            <>
              <p>The refund goes back through the couple's payments, the latest first:</p>
              <ul class="plain" data-testid="refund-spread">
                {shares.map((share) => (
                  <li key={share.seq}>
                    {KIND_WORDS[kindOf(share.seq)] ?? `Instalment ${share.seq}`} payment: {money(share.refundCents)}
                  </li>
                ))}
              </ul>
            </>
          )}
          {offlineLine && <p data-testid="offline-note">{offlineLine}</p>}
          <div class="actions">
            <button type="button" class="button secondary" onClick={() => setReviewing(false)}>
              Change
            </button>
            <button type="button" class="button danger" onClick={confirm} aria-disabled={busy ? "true" : undefined}>
              {busy ? "Cancelling…" : `Cancel the booking and refund ${money(plan.refundCents)}`}
            </button>
          </div>
        </div>
      )}
      <div role="alert" class={problem ? "alert" : "alert alert-empty"}>
        {problem}
      </div>
    </form>
  );
}

function sentence(text: string): string {
  return text ? text[0].toUpperCase() + text.slice(1) : text;
}
