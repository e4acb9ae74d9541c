// The couple's own booking, opened from the link in their email: what they booked and paid, the
// business's cancellation policy, and cancelling within it, with the refund shown before they confirm.
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, type CoupleBooking } from "../shared/api";
import { applyBranding } from "./branding";
import { useApp } from "./context";
import { longDate, mediumDate } from "./dates";
import { sentence } from "./flow";
import { formatMoney } from "./money";
import { Alert, Brand, Loading, PageTitle, useId } from "./ui";

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
  return <ManageBooking initial={load.booking} token={token} />;
}

export function ManageBooking({ initial, token }: { initial: CoupleBooking; token: string }) {
  const { api, locale } = useApp();
  const [booking, setBooking] = useState(initial);
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
        <dt>Date</dt>
        <dd>{longDate(booking.eventDate, locale)}</dd>
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
      {refunded !== null && (
        <p class="notice success" role="status" tabIndex={-1} ref={resultRef}>
          Refunded {money(refunded)}
        </p>
      )}
      {booking.status === "CONFIRMED" && (
        <p class="policy">
          {canCancel
            ? cancellation?.lastDay
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
