import { describe, expect, it, vi } from "vitest";
import { ApiError } from "../shared/api";
import { allPages, createAdminApi } from "./api";

type Seen = { url: string; init: RequestInit };

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(status === 204 ? null : JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", ...headers },
  });
}

function fakeFetch(answers: ((seen: Seen) => Response)[]) {
  const seen: Seen[] = [];
  const fn = vi.fn(async (url: RequestInfo | URL, init?: RequestInit) => {
    const call = { url: String(url), init: init ?? {} };
    seen.push(call);
    const answer = answers.shift();
    if (!answer) throw new Error(`unexpected call ${call.url}`);
    return answer(call);
  });
  return { fetch: fn as unknown as typeof fetch, seen };
}

const header = (s: Seen, name: string) => (s.init.headers as Record<string, string>)[name];
const SESSION = { role: "tenant_admin", tenantId: "t1", email: "a@b.c", expiresAt: "x", csrfToken: "csrf-1" };

describe("admin api", () => {
  it("sends the cookie and the CSRF token on unsafe methods only", async () => {
    const { fetch, seen } = fakeFetch([
      () => json(200, SESSION),
      () => json(200, { items: [], nextCursor: null }),
      () => json(201, { id: "x1", date: "2030-01-01", reason: null }),
      () => json(204, null),
      () => json(202, { queued: true }),
    ]);
    const api = createAdminApi({ fetch });
    await api.signIn("a@b.c", "pw");
    await api.bookings({ status: "HELD", email: "" }, "", 25);
    await api.createBlackout("2030-01-01", "");
    await api.deleteBlackout("x1");
    await api.resendConfirmation("b1");
    expect(seen.every((s) => s.init.credentials === "same-origin")).toBe(true);
    expect(header(seen[0], "X-CSRF-Token")).toBeUndefined(); // no token before the session exists
    expect(seen[1].url).toBe("/v1/tenant-admin/bookings?status=HELD&limit=25");
    expect(header(seen[1], "X-CSRF-Token")).toBeUndefined();
    expect(seen[2].init.method).toBe("POST");
    expect(header(seen[2], "X-CSRF-Token")).toBe("csrf-1");
    expect(seen[3].init.method).toBe("DELETE");
    expect(header(seen[3], "X-CSRF-Token")).toBe("csrf-1");
    expect(seen[4].url).toBe("/v1/tenant-admin/bookings/b1/resend-confirmation");
    expect(header(seen[4], "X-CSRF-Token")).toBe("csrf-1");
  });

  it("takes the token from /v1/auth/me after a reload", async () => {
    const { fetch, seen } = fakeFetch([
      () => json(200, { userId: "u", email: "a@b.c", role: "tenant_admin", tenantId: "t1", csrfToken: "csrf-2" }),
      () => json(201, { id: "x", date: "2030-01-01", reason: null }),
    ]);
    const api = createAdminApi({ fetch });
    expect((await api.me())?.email).toBe("a@b.c");
    await api.createBlackout("2030-01-01", "");
    expect(header(seen[1], "X-CSRF-Token")).toBe("csrf-2");
  });

  it("a 401 on a signed-in call reports the ended session and forgets the token", async () => {
    const onUnauthorized = vi.fn();
    const { fetch, seen } = fakeFetch([
      () => json(200, SESSION),
      () => json(401, { error: "UNAUTHENTICATED", message: "not authenticated" }),
      () => json(201, {}),
    ]);
    const api = createAdminApi({ fetch, onUnauthorized });
    await api.signIn("a@b.c", "pw");
    await expect(api.overview()).rejects.toMatchObject({ status: 401, code: "UNAUTHENTICATED" });
    expect(onUnauthorized).toHaveBeenCalledTimes(1);
    expect(api.csrfToken).toBeNull();
    await api.createBlackout("2030-01-01", "");
    expect(header(seen[2], "X-CSRF-Token")).toBeUndefined();
  });

  it("a wrong password (401 at sign-in) and a signed-out me() are answers, not ended sessions", async () => {
    const onUnauthorized = vi.fn();
    const { fetch } = fakeFetch([
      () => json(401, { error: "UNAUTHENTICATED", message: "wrong email or password" }),
      () => json(401, { error: "UNAUTHENTICATED", message: "not authenticated" }),
    ]);
    const api = createAdminApi({ fetch, onUnauthorized });
    await expect(api.signIn("a@b.c", "bad")).rejects.toBeInstanceOf(ApiError);
    expect(await api.me()).toBeNull();
    expect(onUnauthorized).not.toHaveBeenCalled();
  });

  it("reads 429's Retry-After and the error envelope through the shared parser", async () => {
    const { fetch } = fakeFetch([() => json(429, { error: "RATE_LIMITED", message: "too many requests" }, { "Retry-After": "120" })]);
    const api = createAdminApi({ fetch });
    const error = await api.signIn("a@b.c", "pw").catch((e) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error.retryAfter).toBe(120);
    expect(error.code).toBe("RATE_LIMITED");
  });

  it("on CSRF_FAILED re-reads the token once and tries again", async () => {
    const { fetch, seen } = fakeFetch([
      () => json(200, SESSION),
      () => json(403, { error: "CSRF_FAILED", message: "csrf" }),
      () => json(200, { userId: "u", email: "a@b.c", role: "tenant_admin", tenantId: "t1", csrfToken: "csrf-new" }),
      () => json(201, { id: "x" }),
    ]);
    const api = createAdminApi({ fetch });
    await api.signIn("a@b.c", "pw");
    await api.createBlackout("2030-01-01", "");
    expect(seen.map((s) => s.url)).toEqual(["/v1/auth/session", "/v1/tenant-admin/blackouts", "/v1/auth/me", "/v1/tenant-admin/blackouts"]);
    expect(header(seen[3], "X-CSRF-Token")).toBe("csrf-new");
  });

  it("sends the cancel body and its Idempotency-Key", async () => {
    const { fetch, seen } = fakeFetch([() => json(200, { id: "b1", refund: { refundedCents: 500 } })]);
    const api = createAdminApi({ fetch });
    await api.cancelBooking("b1", { reason: "rain", refund: { amountCents: 500 } }, "k1");
    expect(JSON.parse(String(seen[0].init.body))).toEqual({ reason: "rain", refund: { amountCents: 500 } });
    expect(header(seen[0], "Idempotency-Key")).toBe("k1");
  });

  it("signs out with DELETE /v1/auth/session and forgets the token", async () => {
    const { fetch, seen } = fakeFetch([() => json(200, SESSION), () => json(204, null)]);
    const api = createAdminApi({ fetch });
    await api.signIn("a@b.c", "pw");
    await api.signOut();
    expect(seen[1].init.method).toBe("DELETE");
    expect(header(seen[1], "X-CSRF-Token")).toBe("csrf-1");
    expect(api.csrfToken).toBeNull();
  });

  it("allPages follows the cursor and stops at the limit", async () => {
    const load = vi.fn(async (cursor: string) => ({ items: [cursor || "first"], nextCursor: cursor === "c2" ? null : cursor ? "c2" : "c1" }));
    expect(await allPages(load)).toEqual(["first", "c1", "c2"]);
    const endless = vi.fn(async () => ({ items: [1], nextCursor: "again" }));
    expect(await allPages(endless, 3)).toHaveLength(3);
  });
});
