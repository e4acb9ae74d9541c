// Test helpers of the couple's pages: a fetch that answers like the gateway, route by route, and
// keeps what it was sent (the pages run against the real API client over it).

export interface Sent {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Record<string, string>;
  body: unknown;
}

/** A fetch that answers like the gateway, one route ("METHOD /path") at a time, and keeps what it was sent. */
export function gateway(routes: Record<string, (sent: Sent) => [number, unknown]>) {
  const sent: Sent[] = [];
  const impl = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input), "http://platform.test");
    const request: Sent = {
      method: init?.method ?? "GET",
      path: url.pathname,
      query: url.searchParams,
      headers: (init?.headers ?? {}) as Record<string, string>,
      body: init?.body ? JSON.parse(String(init.body)) : undefined,
    };
    sent.push(request);
    const route = routes[`${request.method} ${request.path}`];
    const [status, body] = route ? route(request) : [404, { error: "NOT_FOUND", message: "not found" }];
    return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
  }) as typeof fetch;
  return { impl, sent };
}
