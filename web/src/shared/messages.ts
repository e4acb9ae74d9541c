// The one message protocol between the loader (on the tenant's page) and the booking app (in the
// iframe on the platform's origin). Both sides check every message's origin, its source window, the
// protocol version and the widget id; neither ever posts to "*".

export const PROTOCOL_VERSION = 1;

/** What the app tells the page. `widget` is the id the loader gave the iframe (several per page). */
export type AppMessage =
  | { mais: 1; widget: string; type: "ready"; detail: { tenant: string } }
  | { mais: 1; widget: string; type: "resize"; detail: { height: number } }
  | { mais: 1; widget: string; type: "date-selected"; detail: { date: string; packageId: string } }
  | {
      mais: 1;
      widget: string;
      type: "checkout-started";
      detail: { bookingId: string; expiresAt: string; totalCents: number; currency: string };
    }
  | { mais: 1; widget: string; type: "booked"; detail: { bookingId: string; eventDate: string } }
  // The app cannot navigate the top window by itself without the couple's click in some browsers:
  // it asks the loader to open Stripe Checkout (an https URL, or the platform's own sandbox page).
  | { mais: 1; widget: string; type: "navigate"; detail: { url: string } }
  // Escape pressed inside the frame while the popup is open: keys in a cross-origin frame never
  // reach the host's dialog, so the app asks the loader to close it.
  | { mais: 1; widget: string; type: "close"; detail: Record<string, never> };

/** What the page tells the app. */
export type HostMessage =
  // The popup dialog opened (the app moves focus to its first control) or closed.
  | { mais: 1; widget: string; type: "opened"; detail: Record<string, never> }
  | { mais: 1; widget: string; type: "closed"; detail: Record<string, never> };

/** The DOM events the loader dispatches on the host element (bubbling, with the message's detail). */
export const HOST_EVENTS = {
  ready: "mais:ready",
  "date-selected": "mais:date-selected",
  "checkout-started": "mais:checkout-started",
  booked: "mais:booked",
} as const;

/** Whether `data` is a message of our protocol from the widget `widget`. */
export function isProtocolMessage(data: unknown, widget: string): data is { type: string; detail: unknown } {
  if (typeof data !== "object" || data === null) return false;
  const message = data as { mais?: unknown; widget?: unknown; type?: unknown };
  return message.mais === PROTOCOL_VERSION && message.widget === widget && typeof message.type === "string";
}
