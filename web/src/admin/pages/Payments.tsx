// /admin/payments: the tenant's Stripe events, newest first, filtered by state; a failed one can be
// processed again (replay), and the answer says how it ended.
import { Link } from "../router";
import { useState } from "preact/hooks";
import { formatTime, OutcomeLine, PagedTable, Select, useAction, usePaged, type Column } from "./common";
import { withQuery, type AdminRequest, type Page, type PageProps } from "./request";

export interface PaymentEvent {
  id: string;
  stripeEventId: string;
  type: string;
  status: "RECEIVED" | "PROCESSED" | "FAILED" | "IGNORED" | "UNKNOWN";
  attempts: number;
  lastError: string | null;
  bookingId: string | null;
  receivedAt: string | null;
  processedAt: string | null;
  tenantId?: string | null;
}

export const EVENT_STATES = [
  { value: "", label: "All events" },
  { value: "FAILED", label: "Failed (waiting for a replay)" },
  { value: "RECEIVED", label: "Received, not yet processed" },
  { value: "PROCESSED", label: "Processed" },
  { value: "IGNORED", label: "Ignored (nothing to do)" },
];

/** An event's state as the table shows it. */
export const STATE_WORDS: Record<PaymentEvent["status"], string> = {
  RECEIVED: "Received",
  PROCESSED: "Processed",
  FAILED: "Failed",
  IGNORED: "Ignored",
  UNKNOWN: "Unknown",
};

/** How a replay ended, in words. */
export function replayOutcome(event: PaymentEvent): { ok: boolean; text: string } {
  if (event.status === "PROCESSED") return { ok: true, text: `The event ${event.stripeEventId} was processed.` };
  if (event.status === "IGNORED") return { ok: true, text: `The event ${event.stripeEventId} needed nothing done.` };
  return { ok: false, text: `The event ${event.stripeEventId} failed again${event.lastError ? `: ${event.lastError}` : ""}.` };
}

const EVENT_COLUMNS: Column[] = ["Received", "Type", "State", ["Attempts", "num"], "Last error", "Booking", "Actions"];

export function Payments({ request }: PageProps) {
  const [status, setStatus] = useState("");
  const paged = usePaged<PaymentEvent>((cursor) => request<Page<PaymentEvent>>("GET", withQuery("/v1/tenant-admin/payments/events", { status, limit: 25, cursor })), [status]);
  return (
    <div class="admin-page">
      <h1>Payment events</h1>
      <p>What Stripe told the platform about your payments. A failed event is retried by Stripe; you can also process it again here.</p>
      <Select label="Show" value={status} options={EVENT_STATES} onChange={setStatus} />
      <PagedTable paged={paged} label="Payment events" columns={EVENT_COLUMNS} empty={`No event${status ? " in this state" : " yet"}.`}>
        {(events) =>
          events.map((event) => (
            <EventRow key={event.id} request={request} event={event} onChange={(next) => paged.replace((items) => items.map((e) => (e.id === next.id ? next : e)))} />
          ))
        }
      </PagedTable>
    </div>
  );
}

function EventRow({ request, event, onChange }: { request: AdminRequest; event: PaymentEvent; onChange: (e: PaymentEvent) => void }) {
  const action = useAction();
  async function replay() {
    const next = await action
      .run(() => request<PaymentEvent>("POST", `/v1/tenant-admin/payments/events/${encodeURIComponent(event.id)}/replay`, {}), "")
      .catch(() => undefined);
    if (next) {
      onChange(next);
      action.setOutcome(replayOutcome(next));
    }
  }
  return (
    <tr>
      <td>{formatTime(event.receivedAt)}</td>
      <td>{event.type}</td>
      <td>
        <span class={event.status === "FAILED" ? "badge bad" : event.status === "PROCESSED" ? "badge good" : "badge"}>{STATE_WORDS[event.status] ?? event.status}</span>
      </td>
      <td class="num">{event.attempts}</td>
      <td>{event.lastError ?? "—"}</td>
      <td>{event.bookingId ? <Link href={`/admin/bookings/${encodeURIComponent(event.bookingId)}`}>{event.bookingId}</Link> : "—"}</td>
      <td>
        {(event.status === "FAILED" || event.status === "RECEIVED") && (
          <button type="button" class="button secondary" aria-label={`Replay ${event.stripeEventId}`} aria-disabled={action.busy ? "true" : undefined} onClick={replay}>
            {action.busy ? "Replaying…" : "Replay"}
          </button>
        )}
        <OutcomeLine outcome={action.outcome} />
      </td>
    </tr>
  );
}
