// The booking flow's state as plain data and one reducer: which step is open, what the couple chose,
// what the server said about it. The components only render it and dispatch; everything that decides
// (the total, the checkout body, which Idempotency-Key, what an error means) is here and tested.

import { ApiError, newIdempotencyKey, type CheckoutAnswer, type CheckoutRequest, type Package, type PackageKind, type SegmentRef, type Slot } from "../shared/api";

export type Step = "package" | "date" | "details";

export interface Details {
  coupleName: string;
  email: string;
  phone: string;
  notes: string;
}

/** The inputs of the details step, by the server's field name, with the label each has. */
export const DETAIL_FIELDS = {
  coupleName: "Your names",
  email: "Email",
  phone: "Phone (optional)",
  notes: "Notes (optional)",
} as const satisfies Record<keyof Details, string>;

export const JUST_TAKEN = "Sorry, that date was just taken. Please choose another date.";
export const JUST_TAKEN_TIME = "Sorry, that time was just taken. Please choose another time.";

export interface FlowState {
  step: Step;
  /** How many times a step was opened after the first: focus moves to a step only when it was. */
  moves: number;
  segmentId: string | null;
  packageId: string | null;
  addOnIds: string[];
  /** How the chosen package is booked: a whole date, or a start time on a date. */
  kind: PackageKind;
  date: string | null;
  /** A time-slot package's chosen start, as the slots route answered it (on `date`). */
  slot: Slot | null;
  /** Starts checkout refused as just taken during this visit (hidden even from an older cached list). */
  takenStarts: string[];
  /** The date that was just taken: the calendar opens at its month again. */
  takenDate: string | null;
  /** Every date the server refused as taken during this visit: the calendar shows them unavailable even
   * when a calendar answer from before the other couple's hold is still served (public reads are cached
   * for up to half a second). */
  takenDates: string[];
  details: Details;
  fieldErrors: Partial<Record<keyof Details, string>>;
  /** One message for role=alert (the server's, or "just taken"). */
  alert: string | null;
  /** Bumped whenever the calendar must be fetched again (a date was just taken). */
  calendarRevision: number;
  submitting: boolean;
  /** The last checkout attempt that got no definite answer: its key is reused for the same body. */
  pending: { key: string; fingerprint: string } | null;
  checkout: CheckoutAnswer | null;
}

export type FlowAction =
  | { type: "segment"; segmentId: string; packages: Package[] }
  | { type: "package"; packageId: string; packages: Package[] }
  | { type: "add-on"; addOnId: string; on: boolean }
  | { type: "go"; step: Step }
  | { type: "date"; date: string }
  | { type: "slot"; slot: Slot }
  | { type: "field"; field: keyof Details; value: string }
  | { type: "alert"; message: string | null }
  | { type: "submit"; key: string; fingerprint: string }
  | { type: "checkout-ok"; answer: CheckoutAnswer }
  | { type: "checkout-failed"; error: ApiError; key: string; fingerprint: string };

export function initialFlow(packages: Package[] = []): FlowState {
  const segments = segmentsOf(packages);
  return {
    step: "package",
    moves: 0,
    segmentId: segments.length > 1 ? segments[0].id : null,
    packageId: packages.length === 1 ? packages[0].id : null,
    addOnIds: [],
    kind: packages.length === 1 ? kindOf(packages[0]) : "DAY",
    date: null,
    slot: null,
    takenStarts: [],
    takenDate: null,
    takenDates: [],
    details: { coupleName: "", email: "", phone: "", notes: "" },
    fieldErrors: {},
    alert: null,
    calendarRevision: 0,
    submitting: false,
    pending: null,
    checkout: null,
  };
}

function open(state: FlowState, step: Step, extra: Partial<FlowState> = {}): FlowState {
  return { ...state, alert: null, ...extra, step, moves: state.moves + 1 };
}

export function flowReducer(state: FlowState, action: FlowAction): FlowState {
  switch (action.type) {
    case "segment": {
      const inSegment = action.packages.some((p) => p.id === state.packageId && p.segmentId === action.segmentId);
      return {
        ...state,
        segmentId: action.segmentId,
        packageId: inSegment ? state.packageId : null,
        addOnIds: inSegment ? state.addOnIds : [],
      };
    }
    case "package": {
      const chosen = action.packages.find((p) => p.id === action.packageId);
      if (!chosen) return state;
      const offered = new Set(chosen.addOns.map((a) => a.id));
      const kind = kindOf(chosen);
      // Another package has other slots (its own duration); another kind books another thing than the date.
      const samePackage = chosen.id === state.packageId;
      return {
        ...state,
        packageId: chosen.id,
        addOnIds: state.addOnIds.filter((id) => offered.has(id)),
        kind,
        date: kind === state.kind ? state.date : null,
        slot: samePackage ? state.slot : null,
        alert: null,
      };
    }
    case "add-on": {
      const rest = state.addOnIds.filter((id) => id !== action.addOnId);
      return { ...state, addOnIds: action.on ? [...rest, action.addOnId] : rest };
    }
    case "go": {
      if (action.step === state.step) return state;
      if (action.step !== "package" && !state.packageId) return { ...state, alert: "Please choose a package first." };
      if (action.step === "details" && !state.date) return { ...state, alert: "Please choose a date first." };
      if (action.step === "details" && state.kind === "SLOT" && !state.slot) return { ...state, alert: "Please choose a time first." };
      return open(state, action.step);
    }
    case "date":
      return { ...state, date: action.date, slot: state.slot?.date === action.date ? state.slot : null, takenDate: null, alert: null };
    case "slot":
      return { ...state, date: action.slot.date, slot: action.slot, alert: null };
    case "field": {
      const fieldErrors = { ...state.fieldErrors };
      delete fieldErrors[action.field];
      return { ...state, details: { ...state.details, [action.field]: action.value }, fieldErrors };
    }
    case "alert":
      return { ...state, alert: action.message };
    case "submit":
      return { ...state, submitting: true, alert: null };
    case "checkout-ok":
      return { ...state, submitting: false, pending: null, checkout: action.answer };
    case "checkout-failed":
      return failed({ ...state, submitting: false }, action.error, action.key, action.fingerprint);
  }
}

function failed(state: FlowState, error: ApiError, key: string, fingerprint: string): FlowState {
  // Without a definite answer the hold may exist: the same body goes again under the same key.
  const pending = error.indefinite ? { key, fingerprint } : null;
  if (error.code === "DATE_UNAVAILABLE" && state.slot) {
    // The day may still have other free times: it stays chosen, its list is fetched again.
    const start = state.slot.startsAt;
    return open(state, "date", {
      slot: null,
      takenDate: state.date,
      takenStarts: state.takenStarts.includes(start) ? state.takenStarts : [...state.takenStarts, start],
      pending: null,
      alert: JUST_TAKEN_TIME,
      calendarRevision: state.calendarRevision + 1,
    });
  }
  if (error.code === "DATE_UNAVAILABLE") {
    return open(state, "date", {
      date: null,
      takenDate: state.date,
      takenDates: state.date && !state.takenDates.includes(state.date) ? [...state.takenDates, state.date] : state.takenDates,
      pending: null,
      alert: JUST_TAKEN,
      calendarRevision: state.calendarRevision + 1,
    });
  }
  if (error.code === "VALIDATION_ERROR" && error.fields.length) {
    const fieldErrors: FlowState["fieldErrors"] = {};
    const others: string[] = [];
    for (const problem of error.fields) {
      if (problem.field in DETAIL_FIELDS) {
        const field = problem.field as keyof Details;
        fieldErrors[field] ??= fieldMessage(field, problem.message);
      } else if (problem.field === "startsAt") {
        others.push(sentence(`The chosen time ${problem.message.trim()}`));
      } else {
        others.push(sentence(problem.message, problem.field));
      }
    }
    if (error.fields.some((f) => f.field === "startsAt")) {
      return open(state, "date", { slot: null, pending, fieldErrors, alert: others.join(" ") || sentence(error.message) });
    }
    if (error.fields.some((f) => f.field === "eventDate")) {
      return open(state, "date", { date: null, slot: null, pending, fieldErrors, alert: others.join(" ") || sentence(error.message) });
    }
    return { ...state, pending, fieldErrors, alert: others.length ? others.join(" ") : null };
  }
  let alert = sentence(error.message);
  if (error.code === "HOLD_LIMIT_REACHED" && error.retryAfter) {
    const minutes = Math.max(1, Math.ceil(error.retryAfter / 60));
    alert += ` Please try again in ${minutes} minute${minutes === 1 ? "" : "s"}.`;
  }
  return { ...state, pending, alert };
}

/** A server message as a sentence: capitalised, with a full stop (and the field it is about). */
export function sentence(message: string, field?: string): string {
  let text = message.trim();
  if (field) text = `${field}: ${text}`;
  text = text.charAt(0).toUpperCase() + text.slice(1);
  return /[.!?…]$/.test(text) ? text : `${text}.`;
}

const NOUNS: Record<keyof Details, string> = {
  coupleName: "your names",
  email: "your email address",
  phone: "a phone number",
  notes: "your notes",
};

/** What to show beside a field for the server's message about it ("is required" → "Please enter ..."). */
export function fieldMessage(field: keyof Details, message: string): string {
  const text = message.trim();
  if (/^is required\.?$/i.test(text)) return `Please enter ${NOUNS[field]}.`;
  if (/^(is|must|has|does|cannot) /i.test(text)) return sentence(`This ${text}`);
  if (/^at most /i.test(text)) return sentence(`Use ${text}`);
  return sentence(text);
}

// --- derived --------------------------------------------------------------------------------

/** How a package is booked ("DAY" when the API does not say). */
export function kindOf(pkg: Package): PackageKind {
  return pkg.kind === "SLOT" ? "SLOT" : "DAY";
}

export function chosenPackage(state: FlowState, packages: Package[]): Package | null {
  return packages.find((p) => p.id === state.packageId) ?? null;
}

/** The price of the choice in minor units: the package and its chosen add-ons. */
export function totalCents(pkg: Package | null, addOnIds: readonly string[]): number {
  if (!pkg) return 0;
  const chosen = new Set(addOnIds);
  return pkg.addOns.reduce((sum, a) => (chosen.has(a.id) ? sum + a.priceCents : sum), pkg.priceCents);
}

/** Segments with a name among the packages, in order; tabs show only when there is more than one. */
export function segmentsOf(packages: Package[], listed: SegmentRef[] = []): SegmentRef[] {
  const byId = new Map<string, SegmentRef>();
  for (const s of listed) if (s.id && s.name) byId.set(s.id, s);
  for (const p of packages) if (p.segment?.id && p.segment.name && !byId.has(p.segment.id)) byId.set(p.segment.id, p.segment);
  const used = new Set(packages.map((p) => p.segmentId));
  const segments = [...byId.values()].filter((s) => used.has(s.id));
  // A package without a (named) segment could not be reached through the tabs: no tabs then.
  if (packages.some((p) => !p.segmentId || !byId.has(p.segmentId))) return [];
  return segments.sort((a, b) => (a.sortOrder ?? 0) - (b.sortOrder ?? 0));
}

export function visiblePackages(state: FlowState, packages: Package[], segments: SegmentRef[]): Package[] {
  if (segments.length < 2 || !state.segmentId) return packages;
  return packages.filter((p) => p.segmentId === state.segmentId);
}

export function checkoutBody(state: FlowState, returnUrl?: string): CheckoutRequest {
  const body: CheckoutRequest = {
    packageId: state.packageId ?? "",
    eventDate: state.slot?.date ?? state.date ?? "",
    coupleName: state.details.coupleName.trim(),
    email: state.details.email.trim(),
  };
  if (state.kind === "SLOT" && state.slot) body.startsAt = state.slot.startsAt;
  if (state.details.phone.trim()) body.phone = state.details.phone.trim();
  if (state.details.notes.trim()) body.notes = state.details.notes.trim();
  if (state.addOnIds.length) body.addOnIds = [...state.addOnIds].sort();
  if (returnUrl) body.returnUrl = returnUrl;
  return body;
}

/** The Idempotency-Key for submitting `body`: the unanswered attempt's when it is the same body, else new. */
export function keyFor(state: FlowState, body: CheckoutRequest, fresh: () => string = newIdempotencyKey) {
  const fingerprint = JSON.stringify(body);
  const key = state.pending && state.pending.fingerprint === fingerprint ? state.pending.key : fresh();
  return { key, fingerprint };
}
