// The one typed client of the platform's REST API for the couple's pages. Same-origin relative URLs
// (the pages are served by the gateway that answers /v1), the tenant's public key as X-Tenant-Key on
// public routes, a deadline on every call, and one error type carrying the public error envelope
// `{error, message, requestId, fields?}` so that callers switch on codes, never on texts.

/** A failed call: an HTTP error with its envelope, or (status 0) a network failure or time-out. */
export class ApiError extends Error {
  readonly status: number;
  /** The public error code (DATE_UNAVAILABLE, VALIDATION_ERROR ...), or NETWORK_ERROR / TIMEOUT. */
  readonly code: string;
  /** Per-field problems of a VALIDATION_ERROR, as the server named them (`email`, `coupleName` ...). */
  readonly fields: FieldError[];
  /** Seconds to wait before trying again (Retry-After), when the server said. */
  readonly retryAfter: number | null;
  readonly requestId: string | null;

  constructor(
    status: number,
    code: string,
    message: string,
    fields: FieldError[] = [],
    retryAfter: number | null = null,
    requestId: string | null = null,
  ) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.fields = fields;
    this.retryAfter = retryAfter;
    this.requestId = requestId;
  }

  /** Whether the server may not have seen or finished the request (so the same request may be retried). */
  get indefinite(): boolean {
    return this.status === 0 || this.status >= 500;
  }
}

export interface FieldError {
  field: string;
  message: string;
}

// --- shapes (gateway/routes/*.py) ------------------------------------------------------------

export interface Branding {
  primaryColor: string;
  secondaryColor: string;
  logoUrl: string | null;
  font: string;
}

export interface Policy {
  minNoticeDays: number;
  /** 0: no limit. */
  maxAdvanceDays: number;
  holdMinutes: number;
  reminderDays: number;
  coupleCancelDays: number;
}

/** GET /v1/tenant: the business behind the public key. */
export interface Tenant {
  slug: string;
  name: string;
  branding: Branding;
  /** IANA time zone; "today" for the calendar is today there. */
  timezone: string;
  /** ISO 4217 (the API writes it lower-case). */
  currency: string;
  policy: Policy;
}

export interface Photo {
  url: string;
  alt: string;
}

export interface AddOn {
  id: string;
  slug: string;
  title: string;
  /** Minor units of `currency`. */
  priceCents: number;
  currency: string;
}

export interface SegmentRef {
  id: string;
  slug?: string;
  name: string;
  sortOrder?: number;
}

/** A package as couples see it (public_package_json). */
export interface Package {
  id: string;
  slug: string;
  title: string;
  description: string;
  priceCents: number;
  currency: string;
  sortOrder: number;
  photos: Photo[];
  segmentId: string | null;
  /** The segment's name, when the gateway includes it (tabs need a name). */
  segment?: SegmentRef | null;
  maxGuests: number | null;
  addOns: AddOn[];
  /** "DAY" books a whole date (the calendar); "SLOT" a start time (the slots route). Absent: DAY. */
  kind?: PackageKind;
  /** A time-slot service's terms (null for a whole day). */
  slot?: SlotTerms | null;
}

export type PackageKind = "DAY" | "SLOT";

/** How a time-slot service is booked (mais_runtime/slot_terms.py), in minutes. */
export interface SlotTerms {
  durationMinutes: number;
  bufferBeforeMinutes?: number;
  bufferAfterMinutes?: number;
  intervalMinutes?: number;
  leadTimeMinutes?: number;
}

/** A bookable start: instants in RFC 3339 with the business's offset, and the start on its calendar. */
export interface Slot {
  startsAt: string;
  endsAt: string;
  /** YYYY-MM-DD in the business's zone. */
  date: string;
  /** HH:MM in the business's zone. */
  time: string;
}

/** GET /v1/availability/slots (gateway/routes/slots.py). */
export interface SlotsAnswer {
  packageId: string;
  resourceId: string;
  /** The IANA zone the times are in (the business's). */
  timezone: string;
  slots: Slot[];
}

export interface PackagePage {
  items: Package[];
  nextCursor: string | null;
  /** Segments of the listed packages, when the gateway includes them. */
  segments?: SegmentRef[];
}

export type UnavailableReason = "booked" | "held" | "blackout" | "past" | "out_of_range";

export interface CalendarAnswer {
  from: string;
  to: string;
  unavailable: { date: string; reason: UnavailableReason | null }[];
}

export interface CheckoutRequest {
  packageId: string;
  /** The date; for a time-slot service the start's local date. */
  eventDate: string;
  /** A time-slot service's chosen start (a slot's startsAt as the API gave it). */
  startsAt?: string;
  coupleName: string;
  email: string;
  phone?: string;
  notes?: string;
  addOnIds?: string[];
  returnUrl?: string;
}

export type BookingStatus = "HELD" | "CONFIRMED" | "RELEASED" | "CANCELLED";

export interface CheckoutAnswer {
  bookingId: string;
  status: BookingStatus;
  checkoutUrl: string;
  expiresAt: string;
  totalCents: number;
  currency: string;
  /** What the session charges now: the deposit, or the whole price. */
  amountDueNowCents?: number;
  schedule?: Schedule;
}

// --- payment schedules (gateway/routes/schedules.py) ------------------------------------------

export type InstalmentKind = "FULL" | "DEPOSIT" | "BALANCE";
export type InstalmentStatus = "DUE" | "PAID" | "OVERDUE" | "WAIVED" | "REFUNDED" | "CANCELLED";

/** An instalment before anything is paid (the schedule quote): what, how much, by when. */
export interface PlannedInstalment {
  seq: number;
  kind: InstalmentKind;
  amountCents: number;
  currency: string;
  /** YYYY-MM-DD. */
  dueDate: string;
  status: InstalmentStatus;
}

/** An instalment of a booking's schedule, with what was paid and refunded of it. */
export interface Instalment extends PlannedInstalment {
  paidCents: number;
  refundedCents: number;
  paidAt: string | null;
  paidOffline: boolean;
  note: string | null;
  /** The platform's fee on its payment: in the tenant admin's views only. */
  feeCents?: number;
}

/** A booking's schedule with the sums the server made (no schedule arithmetic in the pages). */
export interface Schedule {
  currency: string;
  totalCents: number;
  paidCents: number;
  refundedCents: number;
  outstandingCents: number;
  nextDueDate: string | null;
  overdue: boolean;
  instalments: Instalment[];
}

/** The business's (or the package's) payment terms as JSON (mais_runtime/payment_policy.py). */
export interface PaymentPolicy {
  depositKind?: string;
  depositBps?: number;
  depositCents?: number;
  balanceDueDays?: number;
  graceDays?: number;
  overdueAction?: string;
  depositRefundable?: boolean;
  reminderDays?: number;
  [more: string]: unknown;
}

/** GET /v1/checkout/schedule: what a choice would cost today and later. */
export interface ScheduleQuote {
  totalCents: number;
  currency: string;
  instalments: PlannedInstalment[];
  policy: PaymentPolicy;
}

/** POST /v1/bookings/{id}/pay: the balance's Checkout Session. */
export interface PayAnswer {
  checkoutUrl: string;
  expiresAt: string;
  instalment: Instalment;
}

/** GET /v1/checkout/sessions/{id}: nothing personal. */
export interface CheckoutSession {
  bookingId: string;
  sessionStatus: "open" | "complete" | "expired";
  status: BookingStatus;
  eventDate: string;
  packageTitle: string;
  totalCents: number;
  currency: string;
  amountPaidCents: number;
  /** A time-slot booking's start and end (RFC 3339 with the business's offset), when the gateway includes them. */
  kind?: PackageKind;
  startsAt?: string | null;
  endsAt?: string | null;
  /** The booking's schedule, when the gateway includes it. */
  schedule?: Schedule | null;
}

export interface QuoteLine {
  /** "package" or "add_on". */
  kind: string;
  id: string;
  slug: string;
  title: string;
  priceCents: number;
}

/** A booking as the gateway writes it for anyone who may see it (booking_json in gateway/routes/booking.py). */
export interface BookingView {
  id: string;
  status: BookingStatus;
  eventDate: string;
  coupleName: string;
  email: string;
  phone: string | null;
  notes: string | null;
  packageId: string;
  totalCents: number;
  currency: string;
  quote: { packageId: string; lines: QuoteLine[]; totalCents: number; currency: string; hash?: string; quotedAt?: string | null };
  amountPaidCents: number;
  amountRefundedCents: number;
  holdExpiresAt: string | null;
  cancelReason: string | null;
  /** A time-slot booking's start and end (RFC 3339 with the business's offset); optional until the
   * gateway writes them (issue 16, helper "reschedule"). */
  kind?: PackageKind;
  startsAt?: string | null;
  endsAt?: string | null;
  resourceId?: string | null;
  createdAt?: string | null;
  updatedAt?: string | null;
}

/** GET /v1/bookings/{id}?token=: the couple's own booking. */
export interface CoupleBooking extends BookingView {
  packageTitle?: string;
  business?: {
    name: string;
    slug: string;
    branding: Branding;
    timezone: string;
    contactEmail: string | null;
    /** The business's public key, for the availability routes when moving the booking. */
    publicKey?: string | null;
    /** The booking window a move must stay in. */
    policy?: Pick<Policy, "minNoticeDays" | "maxAdvanceDays">;
  };
  cancellation?: {
    allowedNow: boolean;
    lastDay: string | null;
    refundCents: number;
    /** What the couple's own cancellation keeps (a non-refundable deposit), when the API says. */
    keptCents?: number;
  };
  /** What is paid and what is due when (null before checkout). */
  schedule?: Schedule | null;
}

export interface CancelAnswer extends CoupleBooking {
  refund: { refundedCents: number; totalRefundedCents: number; feeRefundedCents: number };
}

// --- the client -------------------------------------------------------------------------------

export interface ApiOptions {
  /** The tenant's public key (pk_...): the only credential the pages hold. */
  publicKey?: string;
  /** Milliseconds before a call is abandoned. */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

const DEFAULT_TIMEOUT_MS = 15_000;
// Checkout quotes, holds and talks to Stripe: the gateway allows it 14 s, Envoy 15 s.
const CHECKOUT_TIMEOUT_MS = 20_000;
const MAX_PACKAGE_PAGES = 10;

interface Call {
  method?: "GET" | "POST";
  body?: unknown;
  headers?: Record<string, string>;
  tenantKey?: boolean;
  timeoutMs?: number;
}

export type Api = ReturnType<typeof createApi>;

export function createApi(options: ApiOptions = {}) {
  const fetchImpl = options.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;

  async function call<T>(path: string, spec: Call = {}): Promise<T> {
    const headers: Record<string, string> = { Accept: "application/json", ...spec.headers };
    if (spec.tenantKey !== false && options.publicKey) headers["X-Tenant-Key"] = options.publicKey;
    if (spec.body !== undefined) headers["Content-Type"] = "application/json";
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, spec.timeoutMs ?? timeoutMs);
    let response: Response;
    try {
      response = await fetchImpl(path, {
        method: spec.method ?? "GET",
        headers,
        body: spec.body === undefined ? undefined : JSON.stringify(spec.body),
        signal: controller.signal,
        credentials: "omit",
        cache: "no-store",
      });
    } catch {
      throw timedOut
        ? new ApiError(0, "TIMEOUT", "The server took too long to answer. Please try again.")
        : new ApiError(0, "NETWORK_ERROR", "We could not reach the server. Please check your connection and try again.");
    } finally {
      clearTimeout(timer);
    }
    if (!response.ok) throw await errorOf(response);
    if (response.status === 204) return undefined as T;
    try {
      return (await response.json()) as T;
    } catch {
      throw new ApiError(response.status, "MALFORMED_RESPONSE", "The server's answer could not be read.");
    }
  }

  return {
    /** The same client with a tenant's public key (the manage page learns it from the booking). */
    withKey: (publicKey: string) => createApi({ ...options, publicKey }),

    tenant: () => call<Tenant>("/v1/tenant"),

    /** Every package on offer (following nextCursor), in the business's order. */
    async packages(): Promise<PackagePage> {
      const all: PackagePage = { items: [], nextCursor: null };
      let cursor = "";
      for (let page = 0; page < MAX_PACKAGE_PAGES; page++) {
        const query = new URLSearchParams({ limit: "100" });
        if (cursor) query.set("cursor", cursor);
        const answer = await call<PackagePage>(`/v1/packages?${query}`);
        all.items.push(...answer.items);
        if (answer.segments) all.segments = [...(all.segments ?? []), ...answer.segments];
        if (!answer.nextCursor) break;
        cursor = answer.nextCursor;
      }
      return all;
    },

    calendar: (from: string, to: string) =>
      call<CalendarAnswer>(`/v1/availability/calendar?${new URLSearchParams({ from, to })}`),

    /** The bookable starts of a time-slot package between two dates (at most 31 days). */
    slots: (packageId: string, from: string, to: string) =>
      call<SlotsAnswer>(`/v1/availability/slots?${new URLSearchParams({ packageId, from, to })}`),

    checkout: (body: CheckoutRequest, idempotencyKey: string) =>
      call<CheckoutAnswer>("/v1/bookings/checkout", {
        method: "POST",
        body,
        headers: { "Idempotency-Key": idempotencyKey },
        timeoutMs: Math.max(timeoutMs, CHECKOUT_TIMEOUT_MS),
      }),

    /** What the choice would cost today and later, under the package's or the business's terms. */
    checkoutSchedule: (packageId: string, addOnIds: readonly string[], eventDate: string) =>
      call<ScheduleQuote>(
        `/v1/checkout/schedule?${new URLSearchParams({ packageId, addOnIds: [...addOnIds].sort().join(","), eventDate })}`,
      ),

    /** A Checkout Session for what the booking owes now (the balance), by the couple's signed link. */
    payBalance: (bookingId: string, token: string, idempotencyKey: string, returnUrl?: string) =>
      call<PayAnswer>(`/v1/bookings/${encodeURIComponent(bookingId)}/pay?${new URLSearchParams({ token })}`, {
        method: "POST",
        body: returnUrl ? { returnUrl } : {},
        headers: { "Idempotency-Key": idempotencyKey },
        tenantKey: false,
        timeoutMs: Math.max(timeoutMs, CHECKOUT_TIMEOUT_MS),
      }),

    checkoutSession: (sessionId: string) =>
      call<CheckoutSession>(`/v1/checkout/sessions/${encodeURIComponent(sessionId)}`),

    /** The couple's booking by the signed link: needs no tenant key. */
    booking: (bookingId: string, token: string) =>
      call<CoupleBooking>(`/v1/bookings/${encodeURIComponent(bookingId)}?${new URLSearchParams({ token })}`, {
        tenantKey: false,
      }),

    /** Moves the couple's confirmed booking (while they may cancel it): a new date or a new start. */
    rescheduleBooking: (bookingId: string, token: string, to: { eventDate: string } | { startsAt: string }, idempotencyKey: string) =>
      call<CoupleBooking>(`/v1/bookings/${encodeURIComponent(bookingId)}/reschedule?${new URLSearchParams({ token })}`, {
        method: "POST",
        body: to,
        headers: { "Idempotency-Key": idempotencyKey },
        tenantKey: false,
      }),

    cancelBooking: (bookingId: string, token: string, reason?: string) =>
      call<CancelAnswer>(`/v1/bookings/${encodeURIComponent(bookingId)}/cancel?${new URLSearchParams({ token })}`, {
        method: "POST",
        body: reason ? { reason } : {},
        tenantKey: false,
        timeoutMs: Math.max(timeoutMs, CHECKOUT_TIMEOUT_MS),
      }),
  };
}

/** The ApiError of a non-2xx answer: its envelope when it has one, else what its status means. */
export async function errorOf(response: Response): Promise<ApiError> {
  const retryAfter = parseRetryAfter(response.headers.get("Retry-After"));
  let body: unknown = null;
  try {
    body = await response.json();
  } catch {
    // A proxy's HTML or an empty body: the status alone speaks.
  }
  const envelope = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
  const code = typeof envelope.error === "string" && envelope.error ? envelope.error : `HTTP_${response.status}`;
  const message =
    typeof envelope.message === "string" && envelope.message ? envelope.message : fallbackMessage(response.status);
  const fields = Array.isArray(envelope.fields)
    ? envelope.fields
        .filter(
          (f): f is FieldError =>
            typeof f === "object" && f !== null && typeof f.field === "string" && typeof f.message === "string",
        )
        .map((f) => ({ field: f.field, message: f.message }))
    : [];
  const requestId = typeof envelope.requestId === "string" ? envelope.requestId : response.headers.get("X-Request-ID");
  return new ApiError(response.status, code, message, fields, retryAfter, requestId);
}

function fallbackMessage(status: number): string {
  if (status === 404) return "not found";
  if (status === 429) return "too many requests; please wait a moment";
  if (status >= 500) return "the server could not answer; please try again";
  return `the request failed (${status})`;
}

/** Retry-After as seconds: delta-seconds or an HTTP date; null when absent or unreadable. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | null {
  if (!value) return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text);
  const at = Date.parse(text);
  if (Number.isNaN(at)) return null;
  return Math.max(0, Math.ceil((at - now) / 1000));
}

/** A fresh random Idempotency-Key (crypto.getRandomValues works on plain-http origins too). */
export function newIdempotencyKey(): string {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
