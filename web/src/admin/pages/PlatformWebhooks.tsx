// /admin/platform/webhooks: the health of Stripe's event inbox across tenants (failed, dead letters,
// the oldest not yet processed, failures per tenant) and the failed events themselves, paged.
import { Link } from "../router";
import { useEffect, useState } from "preact/hooks";
import { formatTime, Loaded, PagedTable, usePaged } from "./common";
import type { PaymentEvent } from "./Payments";
import { errorText, withQuery, type Page, type PageProps } from "./request";

export interface WebhookHealth {
  failed: number;
  deadLetters: number;
  oldestUnprocessedAt: string | null;
  tenants: { tenantId: string; failed: number }[];
}

/** A summary line: healthy, or what needs looking at. */
export function healthLine(health: WebhookHealth, now: number = Date.now()): { ok: boolean; text: string } {
  const problems: string[] = [];
  if (health.failed) problems.push(`${health.failed} failed event${health.failed === 1 ? "" : "s"}`);
  if (health.deadLetters) problems.push(`${health.deadLetters} dead letter${health.deadLetters === 1 ? "" : "s"} (Stripe stopped retrying)`);
  if (health.oldestUnprocessedAt) {
    const minutes = Math.floor((now - Date.parse(health.oldestUnprocessedAt)) / 60_000);
    if (minutes >= 5) problems.push(`an event waiting ${minutes >= 120 ? `${Math.floor(minutes / 60)} hours` : `${minutes} minutes`}`);
  }
  return problems.length ? { ok: false, text: `Needs a look: ${problems.join(", ")}.` } : { ok: true, text: "Healthy: every event was processed." };
}

export function PlatformWebhooks({ request }: PageProps) {
  const [health, setHealth] = useState<WebhookHealth | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    request<WebhookHealth>("GET", "/v1/admin/webhook-health").then(setHealth, (e) => setError(errorText(e)));
  }, []);
  const failed = usePaged<PaymentEvent>((cursor) => request<Page<PaymentEvent>>("GET", withQuery("/v1/admin/payments/events", { status: "FAILED", limit: 25, cursor })));
  const line = health ? healthLine(health) : null;
  return (
    <div class="admin-page">
      <h1>Webhook health</h1>
      <Loaded loading={!health && !error} error={error}>
        {health && line && (
          <section aria-labelledby="health-summary">
            <h2 id="health-summary">Stripe events</h2>
            <p class={line.ok ? "notice success" : "notice warning"}>{line.text}</p>
            <dl class="summary">
              <dt>Failed</dt>
              <dd>{health.failed}</dd>
              <dt>Dead letters</dt>
              <dd>{health.deadLetters}</dd>
              <dt>Oldest not processed</dt>
              <dd>{formatTime(health.oldestUnprocessedAt)}</dd>
            </dl>
            {health.tenants.length > 0 && (
              <table class="list">
                <caption>Failed events per business</caption>
                <thead>
                  <tr>
                    <th scope="col">Business</th>
                    <th scope="col" class="num">Failed</th>
                  </tr>
                </thead>
                <tbody>
                  {health.tenants.map((t) => (
                    <tr key={t.tenantId}>
                      <td>
                        <Link href={`/admin/platform/tenants/${encodeURIComponent(t.tenantId)}`}>{t.tenantId}</Link>
                      </td>
                      <td class="num">{t.failed}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </section>
        )}
      </Loaded>
      <section aria-labelledby="failed-events">
        <h2 id="failed-events">Failed events</h2>
        <PagedTable paged={failed} label="Failed events" columns={["Received", "Business", "Type", ["Attempts", "num"], "Last error"]} empty="No failed event.">
          {(events) =>
            events.map((e) => (
              <tr key={e.id}>
                <td>{formatTime(e.receivedAt)}</td>
                <td>{e.tenantId ?? "unknown"}</td>
                <td>{e.type}</td>
                <td class="num">{e.attempts}</td>
                <td>{e.lastError ?? "—"}</td>
              </tr>
            ))
          }
        </PagedTable>
      </section>
    </div>
  );
}
