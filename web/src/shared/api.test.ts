import { describe, expect, it } from "vitest";
import { ApiError, createApi, errorOf, parseRetryAfter } from "./api";

function json(status: number, body: unknown, headers: Record<string, string> = {}) {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });
}

type Seen = { url: string; init: RequestInit };

function fakeFetch(answer: (seen: Seen) => Response | Promise<Response>) {
  const calls: Seen[] = [];
  const impl = async (url: RequestInfo | URL, init?: RequestInit) => {
    const seen = { url: String(url), init: init ?? {} };
    calls.push(seen);
    return answer(seen);
  };
  return { calls, impl: impl as typeof fetch };
}

const header = (seen: Seen, name: string) => new Headers(seen.init.headers).get(name);

describe("errorOf", () => {
  it("reads the error envelope with its fields and request id", async () => {
    const error = await errorOf(
      json(400, {
        error: "VALIDATION_ERROR",
        message: "the request is not valid",
        requestId: "req-1",
        fields: [{ field: "email", message: "is not a valid email address" }, { bogus: 1 }],
      }),
    );
    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(400);
    expect(error.code).toBe("VALIDATION_ERROR");
    expect(error.message).toBe("the request is not valid");
    expect(error.requestId).toBe("req-1");
    expect(error.fields).toEqual([{ field: "email", message: "is not a valid email address" }]);
    expect(error.retryAfter).toBeNull();
  });

  it("reads Retry-After on a 429", async () => {
    const error = await errorOf(json(429, { error: "HOLD_LIMIT_REACHED", message: "too many dates are held" }, { "Retry-After": "120" }));
    expect(error.code).toBe("HOLD_LIMIT_REACHED");
    expect(error.retryAfter).toBe(120);
  });

  it("names an answer without an envelope by its status", async () => {
    const error = await errorOf(new Response("<html>bad gateway</html>", { status: 502 }));
    expect(error.code).toBe("HTTP_502");
    expect(error.status).toBe(502);
    expect(error.fields).toEqual([]);
    expect(error.indefinite).toBe(true);
  });

  it("counts a 4xx as a definite answer and a 5xx or no answer as indefinite", () => {
    expect(new ApiError(409, "DATE_UNAVAILABLE", "").indefinite).toBe(false);
    expect(new ApiError(503, "UNAVAILABLE", "").indefinite).toBe(true);
    expect(new ApiError(0, "TIMEOUT", "").indefinite).toBe(true);
  });
});

describe("parseRetryAfter", () => {
  it("reads seconds and HTTP dates", () => {
    expect(parseRetryAfter("30")).toBe(30);
    const now = Date.parse("2026-12-01T10:00:00Z");
    expect(parseRetryAfter("Tue, 01 Dec 2026 10:01:30 GMT", now)).toBe(90);
    expect(parseRetryAfter("soon")).toBeNull();
    expect(parseRetryAfter(null)).toBeNull();
  });
});

describe("createApi", () => {
  it("sends the tenant key on public routes, same-origin and relative", async () => {
    const fake = fakeFetch(() => json(200, { slug: "rose" }));
    await createApi({ publicKey: "pk_test_1", fetch: fake.impl }).tenant();
    expect(fake.calls[0].url).toBe("/v1/tenant");
    expect(header(fake.calls[0], "X-Tenant-Key")).toBe("pk_test_1");
    expect(fake.calls[0].init.credentials).toBe("omit");
  });

  it("sends no tenant key for the couple's own booking (the token is the credential)", async () => {
    const fake = fakeFetch(() => json(200, { id: "b1" }));
    await createApi({ publicKey: "pk_test_1", fetch: fake.impl }).booking("b1", "tok/en");
    expect(fake.calls[0].url).toBe("/v1/bookings/b1?token=tok%2Fen");
    expect(header(fake.calls[0], "X-Tenant-Key")).toBeNull();
  });

  it("posts checkout as JSON with its Idempotency-Key", async () => {
    const fake = fakeFetch(() => json(201, { bookingId: "b1" }));
    const body = { packageId: "p1", eventDate: "2027-06-12", coupleName: "A & B", email: "a@example.com" };
    await createApi({ publicKey: "pk", fetch: fake.impl }).checkout(body, "key-1");
    expect(fake.calls[0].init.method).toBe("POST");
    expect(header(fake.calls[0], "Idempotency-Key")).toBe("key-1");
    expect(header(fake.calls[0], "Content-Type")).toBe("application/json");
    expect(JSON.parse(String(fake.calls[0].init.body))).toEqual(body);
  });

  it("throws the server's error as an ApiError", async () => {
    const fake = fakeFetch(() => json(409, { error: "DATE_UNAVAILABLE", message: "the date is not available" }));
    const failure = await createApi({ fetch: fake.impl }).checkout({ packageId: "p", eventDate: "2027-01-01", coupleName: "x", email: "y" }, "k").catch((e) => e);
    expect(failure).toBeInstanceOf(ApiError);
    expect(failure.code).toBe("DATE_UNAVAILABLE");
    expect(failure.status).toBe(409);
  });

  it("gives up after its time-out with a TIMEOUT error", async () => {
    const never = ((_: RequestInfo | URL, init?: RequestInit) =>
      new Promise<Response>((_resolve, reject) => {
        init?.signal?.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
      })) as typeof fetch;
    const failure = await createApi({ fetch: never, timeoutMs: 20 }).tenant().catch((e) => e);
    expect(failure).toBeInstanceOf(ApiError);
    expect(failure.code).toBe("TIMEOUT");
    expect(failure.status).toBe(0);
  });

  it("turns a network failure into NETWORK_ERROR", async () => {
    const failing = (async () => {
      throw new TypeError("Failed to fetch");
    }) as typeof fetch;
    const failure = await createApi({ fetch: failing }).tenant().catch((e) => e);
    expect(failure.code).toBe("NETWORK_ERROR");
  });

  it("follows nextCursor for every package", async () => {
    const fake = fakeFetch(({ url }) =>
      url.includes("cursor=c2")
        ? json(200, { items: [{ id: "p2" }], nextCursor: null })
        : json(200, { items: [{ id: "p1" }], nextCursor: "c2" }),
    );
    const page = await createApi({ fetch: fake.impl }).packages();
    expect(page.items.map((p) => p.id)).toEqual(["p1", "p2"]);
    expect(fake.calls).toHaveLength(2);
  });
});
