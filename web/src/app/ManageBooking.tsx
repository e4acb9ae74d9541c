// The couple's own booking, opened from the link in their email: what they booked and paid, the
// business's cancellation policy, and cancelling within it, with the refund shown before they confirm;
// with a deposit paid, the payment schedule and paying the balance in Stripe Checkout (back here with
// `&paid=1`, the page waits until the balance reads paid); moving the booking within that window
// (MoveBooking.tsx).
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, newIdempotencyKey, type CoupleBooking } from "../shared/api";
import { applyBranding } from "./branding";
import { isHttpUrl } from "./config";
import { useApp } from "./context";
import { dateAndTimes, mediumDate } from "./dates";
import { sentence } from "./flow";
import { formatMoney } from "./money";
import { MoveBooking, MoveClosed } from "./MoveBooking";
import { nextOwed, ScheduleList } from "./Schedule";
import { Alert, Brand, Loading, PageTitle, useId } from "./ui";

/** Back from paying: how often and how long the page asks whether the payment is recorded. */
export const PAID_POLL_INTERVAL_MS = 1000;
export const PAID_POLL_LIMIT = 60;

type Load = { status: "loading" } | { status: "bad-link" } | { status: "failed"; message: string } | { status: "ready"; booking: CoupleBooking };

export const STATUS_WORDS: Record<string, string> = {
  HELD: "Awaiting payment",
  CONFIRMED: "Confirmed",
  RELEASED: "Released (not paid in time)",
  CANCELLED: "Cancelled",
};

export function ManagePage() {
  const { api, config } = useApp();
  const token = new URLSearchParams(location.search).get("token") ?? "";
  const [load, setLoad] = useState<Load>({ status: "loading" });
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    if (!config.bookingId || !token) {
      setLoad({ status: "bad-link" });
      return;
    }
    api.booking(config.bookingId, token).then(
      (booking) => {
        if (booking.business) applyBranding(booking.business.branding);
        document.title = booking.business ? `Your booking with ${booking.business.name}` : "Your booking";
        setLoad({ status: "ready", booking });
      },
      (error: Error) =>
        setLoad(error instanceof ApiError && error.status === 404 ? { status: "bad-link" } : { status: "failed", message: error.message }),
    );
  }, [attempt]);

  if (load.status === "loading") return <Loading />;
  if (load.status === "bad-link") {
    return (
      <main class="page">
        <div class="result">
          <PageTitle>This link does not work</PageTitle>
          <p>
            The link may be incomplete, or it has expired (a booking's link works until the day after the event). Please
            open the link from your confirmation email again, or contact the business you booked with.
          </p>
        </div>
      </main>
    );
  }
  if (load.status === "failed") {
    return (
      <main class="page">
        <PageTitle>Your booking</PageTitle>
        <Alert message={`We could not load your booking: ${load.message}`} />
        <button type="button" class="button" onClick={() => setAttempt((n) => n + 1)}>
          Try again
        </button>
      </main>
    );
  }
  const paid = new URLSearchParams(location.search).get("paid") === "1";
  return <ManageBooking initial={load.booking} token={token} backFromPaying={paid} />;
}

type PaidReturn = "waiting" | "received" | "slow" | null;

/** Back from Stripe with `paid=1`: asks for the booking (bounded) until nothing is owed any more. */
function usePaidReturn(active: boolean, initial: CoupleBooking, token: string, onBooking: (b: CoupleBooking) => void): PaidReturn {
  const { api } = useApp();
  const [state, setState] = useState<PaidReturn>(active ? (nextOwed(initial.schedule) ? "waiting" : "received") : null);
  useEffect(() => {
    if (state !== "waiting") return;
    let live = true;
    let tries = 0;
    let timer = 0;
    const check = () => {
      tries += 1;
      api.booking(initial.id, token).then(
        (fresh) => {
          if (!live) return;
          onBooking(fresh);
          if (!nextOwed(fresh.schedule)) setState("received");
          else if (tries >= PAID_POLL_LIMIT) setState("slow");
          else timer = window.setTimeout(check, PAID_POLL_INTERVAL_MS);
        },
        () => {
          if (!live) return;
          if (tries >= PAID_POLL_LIMIT) setState("slow");
          else timer = window.setTimeout(check, PAID_POLL_INTERVAL_MS);
        },
      );
    };
    timer = window.setTimeout(check, PAID_POLL_INTERVAL_MS);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, []);
  useEffect(() => {
    // Said once: a reload of the page does not wait again.
    if (state === "received") {
      const url = new URL(location.href);
      url.searchParams.delete("paid");
      history.replaceState(history.state, "", url.pathname + url.search + url.hash);
    }
  }, [state]);
  return state;
}

export function ManageBooking({ initial, token, backFromPaying = false }: { initial: CoupleBooking; token: string; backFromPaying?: boolean }) {
  const { api, locale, assign } = useApp();
  const [booking, setBooking] = useState(initial);
  const paidReturn = usePaidReturn(backFromPaying, initial, token, (fresh) => setBooking((b) => ({ ...b, ...fresh })));
  const [paying, setPaying] = useState(false);
  const [payAlert, setPayAlert] = useState<string | null>(null);
  // One key per visit's balance payment: pressing again (or a retry after no answer) is the same request.
  const payKey = useRef("");
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [alert, setAlert] = useState<string | null>(null);
  const [refunded, setRefunded] = useState<number | null>(null);
  const cancelButton = useRef<HTMLButtonElement>(null);
  const confirmId = useId("confirm");
  const confirmHeading = useRef<HTMLHeadingElement>(null);
  const resultRef = useRef<HTMLParagraphElement>(null);

  const money = (cents: number) => formatMoney(cents, booking.currency, locale);
  const business = booking.business;
  const businessName = business?.name ?? "the business";
  const cancellation = booking.cancellation;
  const refund = cancellation?.refundCents ?? booking.amountPaidCents - booking.amountRefundedCents;
  const canCancel = booking.status === "CONFIRMED" && cancellation?.allowedNow === true;
  const addOns = booking.quote.lines.filter((l) => l.kind !== "package");
  const packageTitle = booking.packageTitle ?? booking.quote.lines.find((l) => l.kind === "package")?.title ?? "";
  const schedule = booking.schedule && booking.schedule.instalments.length > 0 ? booking.schedule : null;
  const owed = booking.status === "CONFIRMED" ? nextOwed(schedule) : null;
  const kept = cancellation?.keptCents ?? 0;

  async function payBalance() {
    if (paying) return;
    setPaying(true);
    setPayAlert(null);
    payKey.current ||= newIdempotencyKey();
    try {
      const answer = await api.payBalance(booking.id, token, payKey.current);
      if (!isHttpUrl(answer.checkoutUrl)) throw new ApiError(0, "BAD_CHECKOUT_URL", "The payment page's address is not valid.");
      assign(answer.checkoutUrl);
    } catch (error) {
      const failure = error instanceof ApiError ? error : null;
      if (failure && !failure.indefinite) payKey.current = "";
      setPayAlert(sentence(failure?.message ?? "Something went wrong. Please try again."));
      if (failure?.code === "NOTHING_DUE" || failure?.code === "FAILED_PRECONDITION") {
        api.booking(booking.id, token).then((fresh) => setBooking((b) => ({ ...b, ...fresh })), () => {});
      }
      setPaying(false);
    }
  }

  useEffect(() => {
    if (confirming) confirmHeading.current?.focus();
  }, [confirming]);

  async function cancel() {
    if (busy) return;
    setBusy(true);
    setAlert(null);
    try {
      const answer = await api.cancelBooking(booking.id, token);
      // The answer is the booking JSON without the page's extras: keep those from the first read.
      setBooking({
        ...booking,
        ...answer,
        packageTitle: booking.packageTitle,
        business: booking.business,
        cancellation: { allowedNow: false, lastDay: cancellation?.lastDay ?? null, refundCents: 0 },
      });
      setRefunded(answer.refund?.refundedCents ?? refund);
      setConfirming(false);
      requestAnimationFrame(() => resultRef.current?.focus());
    } catch (error) {
      const failure = error instanceof ApiError ? error : null;
      setAlert(sentence(failure?.message ?? "Something went wrong. Please try again."));
      if (failure?.code === "CANCELLATION_WINDOW_CLOSED") {
        setConfirming(false);
        api.booking(booking.id, token).then((fresh) => setBooking({ ...booking, ...fresh }), () => {});
      }
    } finally {
      setBusy(false);
    }
  }

  return (
    <main class="page">
      {business && <Brand name={business.name} logoUrl={business.branding.logoUrl} heading={false} />}
      <PageTitle>Your booking</PageTitle>
      <dl class="summary booking-facts">
        <dt>{booking.startsAt ? "Date and time" : "Date"}</dt>
        <dd>{dateAndTimes(booking.eventDate, booking.startsAt, booking.endsAt, business?.timezone, locale)}</dd>
        <dt>Package</dt>
        <dd>{packageTitle}</dd>
        {addOns.length > 0 && (
          <>
            <dt>Add-ons</dt>
            <dd>
              <ul class="plain">
                {addOns.map((a) => (
                  <li key={a.id}>
                    {a.title} ({money(a.priceCents)})
                  </li>
                ))}
              </ul>
            </dd>
          </>
        )}
        <dt>Status</dt>
        <dd class={`status status-${booking.status.toLowerCase()}`}>{STATUS_WORDS[booking.status] ?? booking.status}</dd>
        <dt>Total</dt>
        <dd>{money(booking.totalCents)}</dd>
        <dt>Paid</dt>
        <dd>{money(booking.amountPaidCents)}</dd>
        {booking.amountRefundedCents > 0 && (
          <>
            <dt>Refunded</dt>
            <dd>{money(booking.amountRefundedCents)}</dd>
          </>
        )}
      </dl>
      {booking.status === "CANCELLED" && booking.cancelReason === "balance_unpaid" && (
        <p class="notice cancel-reason">
          This booking was cancelled because the balance was not paid by its due date.
          {booking.amountRefundedCents > 0 && ` You were refunded ${money(booking.amountRefundedCents)}.`}
        </p>
      )}
      {refunded !== null && (
        <p class="notice success" role="status" tabIndex={-1} ref={resultRef}>
          Refunded {money(refunded)}
        </p>
      )}
      {schedule && (
        <section class="payment-schedule" aria-labelledby={`${confirmId}-schedule`}>
          <h2 id={`${confirmId}-schedule`}>Payment schedule</h2>
          <ScheduleList schedule={schedule} locale={locale} timeZone={business?.timezone} />
          <p>
            Paid: {money(schedule.paidCents)}
            {schedule.outstandingCents > 0 && <> · Still to pay: {money(schedule.outstandingCents)}</>}
          </p>
          {schedule.overdue && owed && (
            <p class="notice warning">
              Your balance is overdue. Please pay it now, or contact {businessName}, to keep your booking.
            </p>
          )}
          {paidReturn === "waiting" && (
            <p role="status" class="notice">
              We're confirming your payment…
            </p>
          )}
          {paidReturn === "received" && (
            <p role="status" class="notice success">
              Thank you: your payment is received. A receipt is on its way by email.
            </p>
          )}
          {paidReturn === "slow" && (
            <p role="status" class="notice">
              Your payment is taking longer than usual to confirm. You will get a receipt by email as soon as it is; there is
              no need to pay again.
            </p>
          )}
          <Alert message={payAlert} />
          {owed && paidReturn !== "waiting" && (
            <p class="actions">
              <button type="button" class="button" aria-disabled={paying ? "true" : undefined} onClick={payBalance}>
                {paying ? "Opening the payment page…" : `Pay the balance (${money(owed.amountCents)})`}
              </button>
            </p>
          )}
        </section>
      )}
      {booking.status === "CONFIRMED" && (
        <p class="policy">
          {canCancel
            ? kept > 0
              ? `${cancellation?.lastDay ? `You can cancel until ${mediumDate(cancellation.lastDay, locale)}` : "You can cancel"}: your deposit of ${money(kept)} is not refundable, so you would be refunded ${money(refund)}.`
              : cancellation?.lastDay
                ? `You can cancel until ${mediumDate(cancellation.lastDay, locale)} for a full refund of ${money(refund)}.`
                : `You can cancel for a full refund of ${money(refund)}.`
            : (
              <>
                Cancellation by yourself is no longer possible; please contact {businessName}
                {business?.contactEmail ? (
                  <>
                    {" "}at <a href={`mailto:${business.contactEmail}`}>{business.contactEmail}</a>
                  </>
                ) : null}
                .
              </>
            )}
        </p>
      )}
      {booking.status === "CONFIRMED" && refunded === null &&
        (canCancel ? (
          <MoveBooking
            booking={booking}
            token={token}
            onMoved={(moved) => {
              setBooking((b) => ({ ...b, ...moved, packageTitle: b.packageTitle, business: b.business }));
              // The window's last day and the dues move with the date: read them again.
              api.booking(booking.id, token).then((fresh) => setBooking((b) => ({ ...b, ...fresh })), () => {});
            }}
            onStale={() => api.booking(booking.id, token).then((fresh) => setBooking((b) => ({ ...b, ...fresh })), () => {})}
          />
        ) : (
          <MoveClosed businessName={businessName} contactEmail={business?.contactEmail} />
        ))}
      <Alert message={alert} />
      {canCancel && !confirming && (
        <p class="actions">
          <button type="button" class="button danger-outline" ref={cancelButton} onClick={() => setConfirming(true)}>
            Cancel booking
          </button>
        </p>
      )}
      {canCancel && confirming && (
        <section class="confirm card" aria-labelledby={confirmId}>
          <h2 id={confirmId} tabIndex={-1} ref={confirmHeading}>
            Cancel this booking?
          </h2>
          <p>You will be refunded {money(refund)}.</p>
          {kept > 0 && <p>Your deposit of {money(kept)} is not refundable and stays with {businessName}.</p>}
          <p>The date is released at once and cannot be kept for you afterwards.</p>
          <div class="actions">
            <button type="button" class="button danger" aria-disabled={busy ? "true" : undefined} onClick={cancel}>
              Yes, cancel and refund {money(refund)}
            </button>
            <button
              type="button"
              class="button secondary"
              onClick={() => {
                setConfirming(false);
                requestAnimationFrame(() => cancelButton.current?.focus());
              }}
            >
              Keep my booking
            </button>
          </div>
        </section>
      )}
    </main>
  );
}
