// The dashboards' typed client of the admin REST API: same-origin calls with the session cookie
// (credentials "same-origin"), the session's CSRF token as X-CSRF-Token on every unsafe method, and
// errors as the couple's client reads them (ApiError / errorOf of ../shared/api). A 401 on a signed-in
// call means the session ended: the client tells its owner (who sends the admin to sign-in).
import { ApiError, errorOf, type BookingStatus, type BookingView, type Instalment, type Policy, type Schedule, type SlotsAnswer } from "../shared/api";

export type Role = "tenant_admin" | "platform_admin";

/** POST /v1/auth/session. */
export interface SessionAnswer {
  role: Role;
  tenantId: string | null;
  email: string;
  expiresAt: string;
  csrfToken: string;
}

export interface TenantSettings {
  id: string;
  slug: string;
  name: string;
  active: boolean;
  timezone: string;
  currency: string;
  policy: Policy;
  version: number;
  [more: string]: unknown;
}

/** GET /v1/auth/me. */
export interface Me {
  userId: string;
  email: string;
  role: Role;
  tenantId: string | null;
  credential?: string;
  tenant?: TenantSettings;
  csrfToken?: string;
}

export interface HistoryEntry {
  from: BookingStatus | null;
  to: BookingStatus;
  actor: string;
  reason: string | null;
  at: string;
}

/** admin_booking_json (gateway/routes/booking.py): what the couple sees, and the admin's own fields. */
export interface AdminBooking extends BookingView {
  customerId: string;
  paymentSessionId: string | null;
  history?: HistoryEntry[];
  /** The payment schedule with each instalment's fee (null for a booking that never reached checkout). */
  schedule?: Schedule | null;
}

/** Where a reschedule moves a booking: a date (whole day) or a start (time slot, RFC 3339). */
export type RescheduleTarget = { eventDate: string } | { startsAt: string };

/** GET /v1/tenant-admin/resources (gateway/routes/slots.py resource_json). */
export interface AdminResource {
  id: string;
  name: string;
  active: boolean;
  isDefault?: boolean;
  version: number;
}

/** The admin's changes to an instalment (the routes under .../instalments/{seq}). */
export type InstalmentChange =
  | { action: "waive"; note: string }
  | { action: "mark-paid"; note: string }
  | { action: "due-date"; dueDate: string; note?: string };

/** What confirmed bookings of one currency still owe, and how much of it is past due. */
export interface Outstanding {
  currency: string;
  outstandingCents: number;
  bookings: number;
  overdueCents: number;
  overdueBookings: number;
}

export interface OverdueBalance {
  bookingId: string;
  coupleName?: string;
  eventDate?: string;
  instalment: Instalment;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface BookingFilters {
  status?: BookingStatus | "";
  from?: string;
  to?: string;
  email?: string;
}

export type LedgerKind = "charge" | "application_fee" | "refund" | "application_fee_refund";

export interface Ledger {
  bookingId: string;
  currency: string;
  entries: {
    id: string;
    kind: LedgerKind | string;
    amountCents: number;
    currency: string;
    stripeObjectId: string;
    createdAt: string | null;
    /** The instalment whose payment the entry belongs to (1: checkout's); null when unknown. */
    instalmentSeq?: number | null;
  }[];
  totals: {
    chargedCents: number;
    feeCents: number;
    refundedCents: number;
    feeRefundedCents: number;
    netPaidCents: number;
    platformFeeCents: number;
    netToTenantCents: number;
  };
}

export type RefundChoice = "none" | "full" | { amountCents: number };

export interface CancelAnswer extends AdminBooking {
  refund: { refundedCents: number; totalRefundedCents: number; feeRefundedCents: number };
}

export interface Blackout {
  id: string;
  date: string;
  reason: string | null;
}

export interface Totals {
  bookings: number;
  grossCents: number;
  feeCents: number;
  refundedCents: number;
  netCents: number;
  currency?: string;
}

export interface MonthTotals {
  month: string;
  bookings: number;
  grossCents: number;
  refundedCents: number;
  netCents: number;
  currency?: string;
}

/** GET /v1/tenant-admin/overview (one Totals, or one per currency when the tenant's money is mixed). */
export interface Overview {
  currency: string;
  today: string;
  holds: AdminBooking[];
  upcoming: AdminBooking[];
  month: Totals | Totals[];
  year: Totals | Totals[];
  byMonth: MonthTotals[];
  outstanding?: Outstanding[];
  /** The instalments past their due date, the longest overdue first (at most 20). */
  overdue?: OverdueBalance[];
}

export interface AdminApiOptions {
  fetch?: typeof fetch;
  timeoutMs?: number;
  /** Called when a signed-in call answers 401: the session has ended. */
  onUnauthorized?: (error: ApiError) => void;
}

export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

export interface RequestSpec {
  method?: Method;
  body?: unknown;
  query?: Record<string, string | number | undefined | null>;
  headers?: Record<string, string>;
  /** false: a call of the signed-out pages, whose 401 is an answer (a wrong password), not a lost session. */
  session?: boolean;
  timeoutMs?: number;
}

const UNSAFE: ReadonlySet<string> = new Set(["POST", "PUT", "PATCH", "DELETE"]);
const DEFAULT_TIMEOUT_MS = 15_000;

export type AdminApi = ReturnType<typeof createAdminApi>;

export function createAdminApi(options: AdminApiOptions = {}) {
  const fetchImpl = options.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));
  let csrfToken: string | null = null;

  async function send(path: string, spec: RequestSpec): Promise<Response> {
    const method = spec.method ?? "GET";
    const headers: Record<string, string> = { Accept: "application/json", ...spec.headers };
    if (spec.body !== undefined) headers["Content-Type"] = "application/json";
    if (UNSAFE.has(method) && csrfToken) headers["X-CSRF-Token"] = csrfToken;
    let url = path;
    if (spec.query) {
      const query = new URLSearchParams();
      for (const [name, value] of Object.entries(spec.query)) {
        if (value !== undefined && value !== null && value !== "") query.set(name, String(value));
      }
      const text = query.toString();
      if (text) url += `?${text}`;
    }
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, spec.timeoutMs ?? options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    try {
      return await fetchImpl(url, {
        method,
        headers,
        body: spec.body === undefined ? undefined : JSON.stringify(spec.body),
        credentials: "same-origin",
        cache: "no-store",
        signal: controller.signal,
      });
    } catch {
      throw timedOut
        ? new ApiError(0, "TIMEOUT", "The server took too long to answer. Please try again.")
        : new ApiError(0, "NETWORK_ERROR", "We could not reach the server. Please check your connection and try again.");
    } finally {
      clearTimeout(timer);
    }
  }

  async function request<T>(path: string, spec: RequestSpec = {}): Promise<T> {
    let response = await send(path, spec);
    if (response.status === 403 && UNSAFE.has(spec.method ?? "GET") && spec.session !== false) {
      // A reloaded page, or a token from before: fetch the session's CSRF token once and try again.
      const error = await errorOf(response.clone());
      if (error.code === "CSRF_FAILED" && (await refreshCsrf())) response = await send(path, spec);
    }
    if (!response.ok) {
      const error = await errorOf(response);
      if (error.status === 401 && spec.session !== false) {
        csrfToken = null;
        options.onUnauthorized?.(error);
      }
      throw error;
    }
    if (response.status === 204 || response.status === 205) return undefined as T;
    try {
      return (await response.json()) as T;
    } catch {
      throw new ApiError(response.status, "MALFORMED_RESPONSE", "The server's answer could not be read.");
    }
  }

  async function refreshCsrf(): Promise<boolean> {
    try {
      const me = await request<Me>("/v1/auth/me", { session: false });
      if (me.csrfToken) csrfToken = me.csrfToken;
      return Boolean(me.csrfToken);
    } catch {
      return false;
    }
  }

  const id = encodeURIComponent;

  return {
    request,
    get csrfToken(): string | null {
      return csrfToken;
    },
    setCsrfToken(token: string | null) {
      csrfToken = token;
    },

    // --- sessions ---------------------------------------------------------------------------
    async signIn(email: string, password: string): Promise<SessionAnswer> {
      const answer = await request<SessionAnswer>("/v1/auth/session", { method: "POST", body: { email, password }, session: false });
      csrfToken = answer.csrfToken;
      return answer;
    },
    /** Who is signed in (null when nobody: a 401 here is an answer, not an ended session). */
    async me(): Promise<Me | null> {
      try {
        const me = await request<Me>("/v1/auth/me", { session: false });
        if (me.csrfToken) csrfToken = me.csrfToken;
        return me;
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) return null;
        throw error;
      }
    },
    async signOut(): Promise<void> {
      try {
        await request<void>("/v1/auth/session", { method: "DELETE", session: false });
      } finally {
        csrfToken = null;
      }
    },
    forgotPassword: (email: string) =>
      request<{ status: string; message: string }>("/v1/auth/forgot-password", { method: "POST", body: { email }, session: false }),
    resetPassword: (token: string, newPassword: string) =>
      request<{ status: string }>("/v1/auth/reset-password", { method: "POST", body: { token, newPassword }, session: false }),

    // --- tenant admin -----------------------------------------------------------------------
    overview: () => request<Overview>("/v1/tenant-admin/overview"),
    bookings: (filters: BookingFilters = {}, cursor = "", limit = 25) =>
      request<Page<AdminBooking>>("/v1/tenant-admin/bookings", { query: { ...filters, cursor, limit } }),
    booking: (bookingId: string) => request<AdminBooking>(`/v1/tenant-admin/bookings/${id(bookingId)}`),
    ledger: (bookingId: string) => request<Ledger>(`/v1/tenant-admin/bookings/${id(bookingId)}/ledger`),
    cancelBooking: (bookingId: string, body: { reason: string; refund: RefundChoice }, idempotencyKey: string) =>
      request<CancelAnswer>(`/v1/tenant-admin/bookings/${id(bookingId)}/cancel`, {
        method: "POST",
        body,
        headers: { "Idempotency-Key": idempotencyKey },
        timeoutMs: 20_000,
      }),
    /** Waive an instalment, mark it paid outside Stripe, or move its due date: the schedule after. */
    updateInstalment: (bookingId: string, seq: number, change: InstalmentChange, idempotencyKey: string) => {
      const base = `/v1/tenant-admin/bookings/${id(bookingId)}/instalments/${seq}`;
      const headers = { "Idempotency-Key": idempotencyKey };
      if (change.action === "due-date") {
        const body = change.note ? { dueDate: change.dueDate, note: change.note } : { dueDate: change.dueDate };
        return request<{ schedule: Schedule }>(base, { method: "PATCH", body, headers });
      }
      return request<{ schedule: Schedule }>(`${base}/${change.action}`, { method: "POST", body: { note: change.note }, headers });
    },
    /** Move a confirmed booking: `{eventDate}` for a whole day, `{startsAt}` for a time slot. */
    rescheduleBooking: (bookingId: string, body: RescheduleTarget & { reason: string }, idempotencyKey: string) =>
      request<AdminBooking>(`/v1/tenant-admin/bookings/${id(bookingId)}/reschedule`, {
        method: "POST",
        body,
        headers: { "Idempotency-Key": idempotencyKey },
        timeoutMs: 20_000,
      }),
    /** The business's settings; `publicKey` is the key its public routes (the slots) take. */
    settings: () => request<TenantSettings & { publicKey?: string | null }>("/v1/tenant-admin/settings"),
    resources: (cursor = "", limit = 100) => request<Page<AdminResource>>("/v1/tenant-admin/resources", { query: { cursor, limit } }),
    /** A time-slot package's free starts, through the couples' route with the business's public key
     * (the same answer a couple gets: one availability path). */
    slots: (publicKey: string, packageId: string, from: string, to: string) =>
      request<SlotsAnswer>("/v1/availability/slots", { query: { packageId, from, to }, headers: { "X-Tenant-Key": publicKey } }),
    resendConfirmation: (bookingId: string) =>
      request<{ queued: boolean }>(`/v1/tenant-admin/bookings/${id(bookingId)}/resend-confirmation`, { method: "POST", body: {} }),
    blackouts: (from: string, to: string, cursor = "", limit = 100) =>
      request<Page<Blackout>>("/v1/tenant-admin/blackouts", { query: { from, to, cursor, limit } }),
    createBlackout: (date: string, reason: string) =>
      request<Blackout>("/v1/tenant-admin/blackouts", { method: "POST", body: { date, reason } }),
    deleteBlackout: (blackoutId: string) => request<void>(`/v1/tenant-admin/blackouts/${id(blackoutId)}`, { method: "DELETE" }),
  };
}

/** Every page of a cursor-paged list, up to `maxPages` (the calendar's month needs all of it). */
export async function allPages<T>(load: (cursor: string) => Promise<Page<T>>, maxPages = 10): Promise<T[]> {
  const items: T[] = [];
  let cursor = "";
  for (let page = 0; page < maxPages; page++) {
    const answer = await load(cursor);
    items.push(...answer.items);
    if (!answer.nextCursor) break;
    cursor = answer.nextCursor;
  }
  return items;
}

/** The package's title in a booking's price snapshot. */
export function packageTitleOf(booking: Pick<AdminBooking, "quote">): string {
  return booking.quote.lines.find((line) => line.kind === "package")?.title ?? "";
}
