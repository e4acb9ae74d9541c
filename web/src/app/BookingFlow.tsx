// The booking page: the business's packages and add-ons, a date, the couple's details, then Stripe
// Checkout (top-level: it cannot be framed). Three steps; only the open one is in the page.
import { useEffect, useMemo, useReducer, useRef, useState } from "preact/hooks";
import { ApiError, type Api, type Package, type PackagePage, type ScheduleQuote, type SegmentRef, type Tenant } from "../shared/api";
import { applyBranding } from "./branding";
import { CheckoutResult } from "./CheckoutReturn";
import { isHttpUrl } from "./config";
import { useApp } from "./context";
import { bounds as boundsOf, dateAndTimes, todayIn, weekStartOf } from "./dates";
import { DatePicker } from "./DatePicker";
import {
  checkoutBody, chosenPackage, DETAIL_FIELDS, flowReducer, initialFlow, keyFor, segmentsOf, totalCents, visiblePackages,
  type Details, type FlowAction, type FlowState,
} from "./flow";
import { formatMoney } from "./money";
import { ScheduleQuoteLines } from "./Schedule";
import { SlotPicker } from "./SlotPicker";
import { Unavailable } from "./Unavailable";
import { Alert, Brand, Loading, StepSection, useId } from "./ui";

type Load =
  | { status: "loading" }
  | { status: "unavailable" }
  | { status: "failed"; message: string }
  | { status: "ready"; tenant: Tenant; catalog: PackagePage };

/** Whether an error means there is nothing to book here (unknown key, inactive business). */
function isUnavailable(error: unknown): boolean {
  return error instanceof ApiError && [401, 403, 404].includes(error.status);
}

export function BookPage() {
  const { api, embed, config } = useApp();
  const [load, setLoad] = useState<Load>({ status: "loading" });
  const [attempt, setAttempt] = useState(0);
  const [sessionId, setSessionId] = useState(config.sessionId ?? null);

  useEffect(() => {
    let live = true;
    setLoad({ status: "loading" });
    Promise.all([api.tenant(), api.packages()]).then(
      ([tenant, catalog]) => {
        if (!live) return;
        applyBranding(tenant.branding);
        document.title = `Book with ${tenant.name}`;
        setLoad({ status: "ready", tenant, catalog });
      },
      (error: Error) => {
        if (!live) return;
        setLoad(isUnavailable(error) ? { status: "unavailable" } : { status: "failed", message: error.message });
      },
    );
    return () => {
      live = false;
    };
  }, [attempt]);

  const ready = load.status === "ready" ? load.tenant : null;
  useEffect(() => {
    if (ready) embed.post("ready", { tenant: ready.name });
  }, [ready]);

  if (load.status === "loading") return <Loading />;
  if (load.status === "unavailable") return <Unavailable />;
  if (load.status === "failed") {
    return (
      <main class="page">
        <h1>Booking could not load</h1>
        <p>{load.message}</p>
        <button type="button" class="button" onClick={() => setAttempt((n) => n + 1)}>
          Try again
        </button>
      </main>
    );
  }
  const { tenant, catalog } = load;
  if (sessionId) {
    // Back on the host page after paying: the session says whether the booking is confirmed.
    return <CheckoutResult sessionId={sessionId} tenant={tenant} onBookAnother={() => setSessionId(null)} />;
  }
  return <BookingFlow tenant={tenant} packages={catalog.items} listedSegments={catalog.segments ?? []} />;
}

interface FlowProps {
  tenant: Tenant;
  packages: Package[];
  listedSegments: SegmentRef[];
}

export function BookingFlow({ tenant, packages, listedSegments }: FlowProps) {
  const app = useApp();
  const [state, dispatch] = useReducer(flowReducer, packages, initialFlow);
  const segments = useMemo(() => segmentsOf(packages, listedSegments), [packages, listedSegments]);
  const pkg = chosenPackage(state, packages);
  const currency = pkg?.currency || tenant.currency;
  const b = useMemo(() => boundsOf(todayIn(tenant.timezone), tenant.policy), [tenant]);
  const focus = state.moves > 0;
  const quote = useScheduleQuote(app.api, state.packageId, state.addOnIds, state.date);

  // A second click before the first answer must not start a second checkout (state lags a render).
  const inFlight = useRef(false);
  async function submit() {
    if (inFlight.current) return;
    inFlight.current = true;
    const body = checkoutBody(state, app.config.returnUrl);
    const { key, fingerprint } = keyFor(state, body);
    dispatch({ type: "submit", key, fingerprint });
    try {
      const answer = await app.api.checkout(body, key);
      if (!isHttpUrl(answer.checkoutUrl)) throw new ApiError(0, "BAD_CHECKOUT_URL", "The payment page's address is not valid.");
      dispatch({ type: "checkout-ok", answer });
      if (app.embed.connected) {
        app.embed.post("checkout-started", {
          bookingId: answer.bookingId,
          expiresAt: answer.expiresAt,
          totalCents: answer.totalCents,
          currency: answer.currency,
        });
        app.embed.post("navigate", { url: answer.checkoutUrl });
      } else if (!app.config.embedded) {
        app.assign(answer.checkoutUrl);
      }
    } catch (error) {
      const failure = error instanceof ApiError ? error : new ApiError(0, "NETWORK_ERROR", "Something went wrong. Please try again.");
      dispatch({ type: "checkout-failed", error: failure, key, fingerprint });
    } finally {
      inFlight.current = false;
    }
  }

  return (
    <main class="page">
      <Brand name={tenant.name} logoUrl={tenant.branding.logoUrl} heading />
      <Progress step={state.step} />
      {state.step === "package" && (
        <PackagePicker state={state} dispatch={dispatch} packages={packages} segments={segments} currency={currency} focus={focus} />
      )}
      {state.step === "date" && (
        <StepSection title={state.kind === "SLOT" ? "Choose a date and time" : "Choose a date"} focus={focus}>
          <Alert message={state.alert} />
          {state.kind === "SLOT" && pkg ? (
            <SlotPicker
              key={pkg.id}
              pkg={pkg}
              bounds={b}
              weekStart={weekStartOf(app.locale)}
              date={state.date}
              slot={state.slot}
              near={state.takenDate}
              takenStarts={state.takenStarts}
              revision={state.calendarRevision}
              timeZone={tenant.timezone}
              onDate={(date) => dispatch({ type: "date", date })}
              onSlot={(slot) => {
                dispatch({ type: "slot", slot });
                app.embed.post("date-selected", { date: slot.date, packageId: pkg.id });
              }}
            />
          ) : (
            <DatePicker
              bounds={b}
              weekStart={weekStartOf(app.locale)}
              selected={state.date}
              near={state.takenDate}
              taken={state.takenDates}
              revision={state.calendarRevision}
              onSelect={(date) => {
                dispatch({ type: "date", date });
                if (pkg) app.embed.post("date-selected", { date, packageId: pkg.id });
              }}
            />
          )}
          {state.date && <ScheduleQuoteLines quote={quote} locale={app.locale} />}
          <div class="actions">
            <button type="button" class="button secondary" onClick={() => dispatch({ type: "go", step: "package" })}>
              Back
            </button>
            <button type="button" class="button" onClick={() => dispatch({ type: "go", step: "details" })}>
              Continue
            </button>
          </div>
        </StepSection>
      )}
      {state.step === "details" && pkg && (
        <DetailsForm state={state} dispatch={dispatch} pkg={pkg} currency={currency} focus={focus} quote={quote} onSubmit={submit} tenantZone={tenant.timezone} />
      )}
    </main>
  );
}

/** The schedule quote of the choice (what is due today and later), once a package and a date are chosen;
 * null while it loads or when it cannot be had (the total alone is still right). */
export function useScheduleQuote(api: Api, packageId: string | null, addOnIds: readonly string[], date: string | null): ScheduleQuote | null {
  const [quote, setQuote] = useState<ScheduleQuote | null>(null);
  const addOns = [...addOnIds].sort().join(",");
  useEffect(() => {
    setQuote(null);
    if (!packageId || !date) return;
    let live = true;
    api.checkoutSchedule(packageId, addOns ? addOns.split(",") : [], date).then(
      (answer) => live && setQuote(answer),
      () => live && setQuote(null),
    );
    return () => {
      live = false;
    };
  }, [packageId, addOns, date]);
  return quote;
}

const STEPS: [FlowState["step"], string][] = [
  ["package", "Package"],
  ["date", "Date"],
  ["details", "Details"],
];

function Progress({ step }: { step: FlowState["step"] }) {
  const index = STEPS.findIndex(([name]) => name === step);
  return (
    <ol class="progress" aria-label="Booking steps">
      {STEPS.map(([name, label], i) => (
        <li key={name} class={i < index ? "done" : i === index ? "current" : ""} aria-current={i === index ? "step" : undefined}>
          <span class="progress-number" aria-hidden="true">{i + 1}</span> {label}
        </li>
      ))}
    </ol>
  );
}

// --- step 1 -----------------------------------------------------------------------------------

interface PickerProps {
  state: FlowState;
  dispatch: (action: FlowAction) => void;
  packages: Package[];
  segments: SegmentRef[];
  currency: string;
  focus: boolean;
}

export function PackagePicker({ state, dispatch, packages, segments, currency, focus }: PickerProps) {
  const { locale } = useApp();
  const shown = visiblePackages(state, packages, segments);
  const pkg = chosenPackage(state, packages);
  const panelId = useId("segment-panel");
  const list = (
    <fieldset class="packages">
      <legend class="visually-hidden">Packages</legend>
      {shown.length === 0 && <p>No packages are offered here at the moment.</p>}
      {shown.map((p) => (
        <PackageCard key={p.id} pkg={p} checked={p.id === state.packageId} onChoose={() => dispatch({ type: "package", packageId: p.id, packages })} />
      ))}
    </fieldset>
  );
  return (
    <StepSection title="Choose a package" focus={focus}>
      {segments.length > 1 ? (
        <>
          <SegmentTabs segments={segments} current={state.segmentId} panelId={panelId} onChoose={(segmentId) => dispatch({ type: "segment", segmentId, packages })} />
          <div role="tabpanel" id={panelId} aria-labelledby={`tab-${state.segmentId}`} class="tabpanel">
            {list}
          </div>
        </>
      ) : (
        list
      )}
      {pkg && pkg.addOns.length > 0 && <AddOnList pkg={pkg} chosen={state.addOnIds} dispatch={dispatch} />}
      <Total cents={totalCents(pkg, state.addOnIds)} currency={currency} locale={locale} />
      <Alert message={state.alert} />
      <div class="actions">
        <button type="button" class="button" onClick={() => dispatch({ type: "go", step: "date" })}>
          Choose a date
        </button>
      </div>
    </StepSection>
  );
}

function SegmentTabs(props: { segments: SegmentRef[]; current: string | null; panelId: string; onChoose: (id: string) => void }) {
  const list = useRef<HTMLDivElement>(null);
  function onKeyDown(event: KeyboardEvent) {
    const index = props.segments.findIndex((s) => s.id === props.current);
    const last = props.segments.length - 1;
    const next = { ArrowRight: index === last ? 0 : index + 1, ArrowLeft: index === 0 ? last : index - 1, Home: 0, End: last }[event.key];
    if (next === undefined) return;
    event.preventDefault();
    const id = props.segments[next].id;
    props.onChoose(id);
    requestAnimationFrame(() => list.current?.querySelector<HTMLElement>(`#tab-${CSS.escape(id)}`)?.focus());
  }
  return (
    <div role="tablist" aria-label="Kinds of package" class="tabs" ref={list} onKeyDown={onKeyDown}>
      {props.segments.map((s) => {
        const selected = s.id === props.current;
        return (
          <button
            key={s.id}
            type="button"
            role="tab"
            id={`tab-${s.id}`}
            class="tab"
            aria-selected={selected ? "true" : "false"}
            aria-controls={props.panelId}
            tabIndex={selected ? 0 : -1}
            onClick={() => props.onChoose(s.id)}
          >
            {s.name}
          </button>
        );
      })}
    </div>
  );
}

export function PackageCard({ pkg, checked, onChoose }: { pkg: Package; checked: boolean; onChoose: () => void }) {
  const { locale } = useApp();
  const id = useId("package");
  const photo = pkg.photos.find((p) => /^https:/.test(p.url));
  return (
    <div class={checked ? "card package-card checked" : "card package-card"}>
      {photo && <img class="package-photo" src={photo.url} alt={photo.alt} loading="lazy" />}
      <div class="package-main">
        <input type="radio" name="package" id={id} value={pkg.id} checked={checked} onChange={onChoose} aria-describedby={`${id}-price ${id}-description`} />
        <label for={id} class="package-title">
          {pkg.title}
        </label>
        <span class="package-price" id={`${id}-price`}>
          {formatMoney(pkg.priceCents, pkg.currency, locale)}
        </span>
      </div>
      <p class="package-description" id={`${id}-description`}>
        {pkg.description}
      </p>
    </div>
  );
}

export function AddOnList({ pkg, chosen, dispatch }: { pkg: Package; chosen: string[]; dispatch: (action: FlowAction) => void }) {
  const { locale } = useApp();
  return (
    <fieldset class="add-ons">
      <legend>Add-ons</legend>
      {pkg.addOns.map((a) => (
        <label class="check" key={a.id}>
          <input type="checkbox" value={a.id} checked={chosen.includes(a.id)} onChange={(e) => dispatch({ type: "add-on", addOnId: a.id, on: e.currentTarget.checked })} />
          <span>
            {a.title} (+{formatMoney(a.priceCents, a.currency || pkg.currency, locale)})
          </span>
        </label>
      ))}
    </fieldset>
  );
}

export function Total({ cents, currency, locale }: { cents: number; currency: string; locale: string }) {
  return (
    <p role="status" class="total">
      Total: <strong>{formatMoney(cents, currency, locale)}</strong>
    </p>
  );
}

// --- step 3 -----------------------------------------------------------------------------------

interface DetailsProps {
  state: FlowState;
  dispatch: (action: FlowAction) => void;
  pkg: Package;
  currency: string;
  focus: boolean;
  quote: ScheduleQuote | null;
  onSubmit: () => void;
  /** The business's zone, named beside a slot's times. */
  tenantZone: string;
}

const INPUTS: { field: keyof Details; type: "text" | "email" | "tel" | "textarea"; autocomplete: string; required: boolean }[] = [
  { field: "coupleName", type: "text", autocomplete: "name", required: true },
  { field: "email", type: "email", autocomplete: "email", required: true },
  { field: "phone", type: "tel", autocomplete: "tel", required: false },
  { field: "notes", type: "textarea", autocomplete: "off", required: false },
];

export function DetailsForm({ state, dispatch, pkg, currency, focus, quote, onSubmit, tenantZone }: DetailsProps) {
  const { locale, config } = useApp();
  const form = useRef<HTMLFormElement>(null);
  const formId = useId("details");
  const chosenAddOns = pkg.addOns.filter((a) => state.addOnIds.includes(a.id));

  // Server field errors: focus goes to the first field that has one.
  useEffect(() => {
    const first = INPUTS.find((i) => state.fieldErrors[i.field]);
    if (first) form.current?.querySelector<HTMLElement>(`#${formId}-${first.field}`)?.focus();
  }, [state.fieldErrors]);

  return (
    <StepSection title="Your details" focus={focus}>
      <form
        ref={form}
        noValidate
        class="details"
        onSubmit={(event) => {
          event.preventDefault();
          onSubmit();
        }}
      >
        {INPUTS.map(({ field, type, autocomplete, required }) => {
          const id = `${formId}-${field}`;
          const error = state.fieldErrors[field];
          const shared = {
            id,
            name: field,
            autocomplete,
            value: state.details[field],
            "aria-invalid": error ? ("true" as const) : undefined,
            "aria-describedby": error ? `${id}-error` : undefined,
            "aria-required": required ? ("true" as const) : undefined,
            onInput: (event: Event) => dispatch({ type: "field", field, value: (event.currentTarget as HTMLInputElement).value }),
          };
          return (
            <div class={error ? "field invalid" : "field"} key={field}>
              <label for={id}>{DETAIL_FIELDS[field]}</label>
              {type === "textarea" ? <textarea rows={3} maxLength={2000} {...shared} /> : <input {...shared} type={type as "text"} />}
              {error && (
                <p class="field-error" id={`${id}-error`}>
                  {error}
                </p>
              )}
            </div>
          );
        })}
        <section class="summary" aria-label="Your choice">
          <dl>
            <dt>Package</dt>
            <dd>{pkg.title}</dd>
            {chosenAddOns.length > 0 && (
              <>
                <dt>Add-ons</dt>
                <dd>{chosenAddOns.map((a) => a.title).join(", ")}</dd>
              </>
            )}
            <dt>{state.slot ? "Date and time" : "Date"}</dt>
            <dd>{state.date ? dateAndTimes(state.date, state.slot?.startsAt, state.slot?.endsAt, tenantZone, locale) : ""}</dd>
            <dt>Total</dt>
            <dd>{formatMoney(totalCents(pkg, state.addOnIds), currency, locale)}</dd>
          </dl>
          <ScheduleQuoteLines quote={quote} locale={locale} />
        </section>
        <Alert message={state.alert} />
        {state.checkout && (
          <p role="status" class="notice">
            Taking you to the secure payment page…{" "}
            {config.embedded && (
              <a href={state.checkout.checkoutUrl} target="_top" rel="noopener">
                Open the payment page
              </a>
            )}
          </p>
        )}
        <div class="actions">
          <button type="button" class="button secondary" onClick={() => dispatch({ type: "go", step: "date" })}>
            Back
          </button>
          <button type="submit" class="button" aria-disabled={state.submitting ? "true" : undefined}>
            Continue to payment
          </button>
        </div>
      </form>
    </StepSection>
  );
}
