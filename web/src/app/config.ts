// The page's config: JSON the gateway injects as <script type="application/json" id="mais-config">.
// Anything unreadable makes the page "unavailable" rather than half-working.

export type PageName = "book" | "done" | "cancelled" | "manage" | "unavailable";

export interface PageConfig {
  page: PageName;
  embedded: boolean;
  publicKey?: string;
  slug?: string;
  parentOrigin?: string;
  widgetId?: string;
  returnUrl?: string;
  sessionId?: string;
  bookingId?: string;
}

const PAGES: readonly PageName[] = ["book", "done", "cancelled", "manage", "unavailable"];
const OPTIONAL = ["publicKey", "slug", "parentOrigin", "widgetId", "returnUrl", "sessionId", "bookingId"] as const;
const WIDGET_ID = /^[A-Za-z0-9_-]{1,32}$/;

export function readConfig(doc: Document = document): PageConfig {
  const element = doc.getElementById("mais-config");
  try {
    return parseConfig(JSON.parse(element?.textContent ?? ""));
  } catch {
    return { page: "unavailable", embedded: false };
  }
}

export function parseConfig(raw: unknown): PageConfig {
  if (typeof raw !== "object" || raw === null) return { page: "unavailable", embedded: false };
  const data = raw as Record<string, unknown>;
  const page = PAGES.includes(data.page as PageName) ? (data.page as PageName) : "unavailable";
  const config: PageConfig = { page, embedded: data.embedded === true };
  for (const name of OPTIONAL) {
    const value = data[name];
    if (typeof value === "string" && value) config[name] = value;
  }
  if (config.widgetId && !WIDGET_ID.test(config.widgetId)) delete config.widgetId;
  if (config.parentOrigin && !isOrigin(config.parentOrigin)) delete config.parentOrigin;
  if (config.returnUrl && !isHttpUrl(config.returnUrl)) delete config.returnUrl;
  return config;
}

/** "https://host[:port]" and nothing more: what postMessage's targetOrigin must be. */
export function isOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === "https:" || url.protocol === "http:") && url.origin === value;
  } catch {
    return false;
  }
}

export function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === "https:" || url.protocol === "http:";
  } catch {
    return false;
  }
}
