// Where the couple lands after Stripe Checkout: the done page (polls the session until the booking is
// confirmed), the cancelled page, and the same result inside the widget when the host page hands the
// session back (only a confirmed session makes the widget announce `booked`).
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, type CheckoutSession, type Tenant } from "../shared/api";
import { applyBranding } from "./branding";
import { useApp } from "./context";
import { dateAndTimes } from "./dates";
import { formatMoney } from "./money";
import { ScheduleList } from "./Schedule";
import { Alert, Brand, Loading, PageTitle } from "./ui";

export const POLL_INTERVAL_MS = 1000;
export const POLL_LIMIT = 60;
/** The shortest hold the platform keeps (Stripe's 30-minute session minimum, plus one). */
const MIN_HOLD_MINUTES = 31;

type Poll =
  | { status: "loading" }
  | { status: "session"; session: CheckoutSession; final: boolean; timedOut: boolean }
  | { status: "not-found" }
  | { status: "failed"; message: string };

/** Whether a session's state will not change any more. */
export function isFinal(session: CheckoutSession): boolean {
  return session.status !== "HELD" || session.sessionStatus === "expired";
}

/** The tenant behind the page's key, for its name and branding (null when it cannot be had). */
function useTenant(): Tenant | null | undefined {
  const { api } = useApp();
  const [tenant, setTenant] = useState<Tenant | null | undefined>(undefined);
  useEffect(() => {
    api.tenant().then(
      (t) => {
        applyBranding(t.branding);
        document.title = `Your booking with ${t.name}`;
        setTenant(t);
      },
      () => setTenant(null),
    );
  }, []);
  return tenant;
}

/** The return page's link: back to the host page (with the session, for the widget to check) or to /book. */
export function backHref(returnUrl: string | undefined, slug: string | undefined, sessionId?: string): string {
  if (returnUrl) {
    try {
      const url = new URL(returnUrl);
      if (sessionId) url.searchParams.set("mais_session", sessionId);
      return url.href;
    } catch {
      // fall through to the platform's own page
    }
  }
  return slug ? `/book/${encodeURIComponent(slug)}` : "/";
}

export function DonePage() {
  const { config } = useApp();
  const tenant = useTenant();
  if (tenant === undefined) return <Loading />;
  if (!config.sessionId) return <BadLink />;
  return <CheckoutResult sessionId={config.sessionId} tenant={tenant} />;
}

function BadLink() {
  return (
    <main class="page">
      <PageTitle>This link does not work</PageTitle>
      <p>We could not find this payment. If you paid, a confirmation email is on its way; otherwise please start your booking again.</p>
    </main>
  );
}

export function CheckoutResult(props: { sessionId: string; tenant: Tenant | null; onBookAnother?: () => void }) {
  const { api, embed, config, locale } = useApp();
  const [poll, setPoll] = useState<Poll>({ status: "loading" });
  const [retry, setRetry] = useState(0);
  const announced = useRef(false);

  useEffect(() => {
    let live = true;
    let timer = 0;
    let tries = 0;
    const check = () => {
      tries += 1;
      api.checkoutSession(props.sessionId).then(
        (session) => {
          if (!live) return;
          const final = isFinal(session);
          const timedOut = !final && tries >= POLL_LIMIT;
          setPoll({ status: "session", session, final, timedOut });
          if (!final && !timedOut) timer = window.setTimeout(check, POLL_INTERVAL_MS);
        },
        (error: Error) => {
          if (!live) return;
          if (error instanceof ApiError && error.status === 404) setPoll({ status: "not-found" });
          else if (tries < POLL_LIMIT && error instanceof ApiError && error.indefinite) timer = window.setTimeout(check, POLL_INTERVAL_MS);
          else setPoll({ status: "failed", message: error.message });
        },
      );
    };
    check();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [props.sessionId, retry]);

  const session = poll.status === "session" ? poll.session : null;
  useEffect(() => {
    if (session?.status === "CONFIRMED" && !announced.current) {
      announced.current = true;
      embed.post("booked", { bookingId: session.bookingId, eventDate: session.eventDate });
    }
  }, [session?.status]);

  const name = props.tenant?.name;
  const back = props.onBookAnother ? (
    <button type="button" class="button secondary" onClick={props.onBookAnother}>
      Make another booking
    </button>
  ) : name ? (
    <a class="button secondary" href={backHref(config.returnUrl, config.slug ?? props.tenant?.slug, props.sessionId)}>
      Back to {name}
    </a>
  ) : null;

  let body;
  if (poll.status === "loading") {
    body = (
      <>
        <PageTitle>Checking your payment</PageTitle>
        <p role="status">One moment…</p>
      </>
    );
  } else if (poll.status === "not-found") {
    body = (
      <>
        <PageTitle>This link does not work</PageTitle>
        <p>We could not find this payment. If you paid, a confirmation email is on its way; otherwise please start your booking again.</p>
      </>
    );
  } else if (poll.status === "failed") {
    body = (
      <>
        <PageTitle>Checking your payment</PageTitle>
        <Alert message={`We could not check your payment: ${poll.message}`} />
        <button type="button" class="button" onClick={() => setRetry((n) => n + 1)}>
          Try again
        </button>
      </>
    );
  } else {
    body = <SessionState session={poll.session} timedOut={poll.timedOut} locale={locale} timeZone={props.tenant?.timezone} />;
  }
  return (
    <main class="page">
      {props.tenant && <Brand name={props.tenant.name} logoUrl={props.tenant.branding.logoUrl} heading={false} />}
      <div class="result">
        {body}
        {back && <p class="actions">{back}</p>}
      </div>
    </main>
  );
}

function SessionState(props: { session: CheckoutSession; timedOut: boolean; locale: string; timeZone?: string }) {
  const { session, timedOut, locale } = props;
  const what = (
    <dl class="summary">
      <dt>{session.startsAt ? "Date and time" : "Date"}</dt>
      <dd>{dateAndTimes(session.eventDate, session.startsAt, session.endsAt, props.timeZone, locale)}</dd>
      <dt>Package</dt>
      <dd>{session.packageTitle}</dd>
      <dt>Total</dt>
      <dd>{formatMoney(session.totalCents, session.currency, locale)}</dd>
    </dl>
  );
  if (session.status === "CONFIRMED") {
    // Paid in part (a deposit): what was paid and what is due when, from the booking's schedule.
    const schedule = session.schedule;
    const inParts = schedule ? schedule.instalments.length > 1 : session.amountPaidCents < session.totalCents;
    return (
      <>
        <PageTitle>You're booked!</PageTitle>
        {what}
        {inParts && (
          <section class="schedule-part" aria-label="Your payments">
            <p>
              Paid today: <strong>{formatMoney(schedule?.paidCents ?? session.amountPaidCents, session.currency, locale)}</strong>
            </p>
            {schedule && <ScheduleList schedule={schedule} locale={locale} />}
          </section>
        )}
        <p>A confirmation email with your personal link is on its way.{inParts && " You can pay the balance from that link."}</p>
      </>
    );
  }
  if (session.status === "HELD" && session.sessionStatus !== "expired") {
    const paid = session.sessionStatus === "complete";
    return (
      <>
        <PageTitle>{paid ? "Payment received" : "Waiting for your payment"}</PageTitle>
        <p role="status">{paid ? "We're confirming your booking…" : "We're waiting for your payment to go through…"}</p>
        {timedOut && (
          <p>
            This is taking longer than usual. You will get an email as soon as your booking is confirmed; there is no need
            to pay again.
          </p>
        )}
        {what}
      </>
    );
  }
  if (session.status === "CANCELLED") {
    return (
      <>
        <PageTitle>This booking was cancelled</PageTitle>
        {what}
        <p>If you have questions, please contact the business.</p>
      </>
    );
  }
  // RELEASED, or the session expired: the time to pay ran out.
  return (
    <>
      <PageTitle>Payment not completed</PageTitle>
      <p>
        {session.amountPaidCents > 0
          ? "Your payment arrived after the time to pay had run out, so the date was released. The payment is refunded automatically."
          : "The time to pay ran out, so the date was released. Nothing was charged."}
      </p>
      {what}
    </>
  );
}

export function CancelledPage() {
  const { config } = useApp();
  const tenant = useTenant();
  if (tenant === undefined) return <Loading />;
  const hold = Math.max(tenant?.policy.holdMinutes ?? 0, MIN_HOLD_MINUTES);
  return (
    <main class="page">
      {tenant && <Brand name={tenant.name} logoUrl={tenant.branding.logoUrl} heading={false} />}
      <div class="result">
        <PageTitle>Payment not completed</PageTitle>
        <p>Nothing was charged.</p>
        <p>
          The date you chose stays held for you for {hold} minutes from when you started. To pay for it, go back and book it
          again with the same email address; after that it is released for other couples.
        </p>
        <p class="actions">
          <a class="button" href={backHref(config.returnUrl, config.slug ?? tenant?.slug)}>
            Back to {tenant?.name ?? "the booking page"}
          </a>
        </p>
      </div>
    </main>
  );
}
