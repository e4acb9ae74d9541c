// The settings page's rules: allowed origins as the gateway compares them (scheme://host[:port]), the
// embed snippet and the live preview's address, what the contrast fallback does to a primary colour,
// and the tenant's nested JSON as flat form keys ("branding.primaryColor").
import { contrastRatio, parseHex, SAFE_PRIMARY, safePrimary } from "../../app/branding";
import type { Json } from "./editing";

/** An origin as the gateway stores it, or the reason it is not one. */
export function normalizeOrigin(text: string): { origin: string } | { error: string } {
  const value = text.trim();
  if (!value) return { error: "Write the address of the site, such as https://www.example.com." };
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return { error: "That is not a web address: write it with https://, such as https://www.example.com." };
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return { error: "Only http:// and https:// sites can embed the widget." };
  if (url.username || url.password) return { error: "Leave out the user name and password." };
  if ((url.pathname && url.pathname !== "/") || url.search || url.hash)
    return { error: `Only the site’s origin counts: ${url.origin} (without a path).` };
  return { origin: url.origin };
}

/** The list with `text` added, or why not. */
export function addOrigin(list: string[], text: string): { list: string[] } | { error: string } {
  const found = normalizeOrigin(text);
  if ("error" in found) return found;
  if (list.includes(found.origin)) return { error: `${found.origin} is already in the list.` };
  if (list.length >= 50) return { error: "At most 50 sites can be listed." };
  return { list: [...list, found.origin] };
}

/** What the business pastes into its site (README "Embed the widget"). */
export function embedSnippet(platformOrigin: string, publicKey: string): string {
  return [
    `<script src="${platformOrigin}/widget/v1/mais.js" data-tenant-key="${publicKey}" async></script>`,
    "",
    "<!-- inline: the booking right here -->",
    "<div data-mais-booking></div>",
    "",
    "<!-- or a button that opens the booking in a dialog -->",
    '<button type="button" data-mais-button>Book now</button>',
  ].join("\n");
}

/** The widget as couples see it, framed by the platform itself. */
export function previewUrl(platformOrigin: string, publicKey: string, reload = 0): string {
  const query = new URLSearchParams({ key: publicKey, origin: platformOrigin, widget: "preview" });
  if (reload) query.set("v", String(reload));
  return `/widget/v1/frame?${query}`;
}

/** What the widget does with the primary colour, in words (the couple's pages' rule, branding.ts). */
export function contrastNote(primary: string): { ok: boolean; text: string } {
  const rgb = parseHex(primary);
  if (!primary.trim()) return { ok: true, text: `No primary colour: the widget uses the platform’s green (${SAFE_PRIMARY}).` };
  if (!rgb) return { ok: false, text: `“${primary}” is not a colour the widget reads (write #rrggbb): it uses the platform’s green (${SAFE_PRIMARY}) instead.` };
  const ratio = contrastRatio(rgb, [255, 255, 255]);
  const shown = `${Math.floor(ratio * 10) / 10}:1`;
  if (safePrimary(primary) === SAFE_PRIMARY && primary.trim().toLowerCase() !== SAFE_PRIMARY)
    return {
      ok: false,
      text: `White button text on ${primary} has a contrast of ${shown}, below the 4.5:1 that keeps it readable (WCAG AA). The widget uses the platform’s green (${SAFE_PRIMARY}) for buttons instead. Pick a darker colour to see yours.`,
    };
  return { ok: true, text: `White button text on ${primary} has a contrast of ${shown} (at least 4.5:1 is needed): the widget uses your colour.` };
}

/** {"a": {"b": 1}} → {"a.b": 1} (one level: branding and policy). */
export function flatten(object: Json): Json {
  const flat: Json = {};
  for (const [key, value] of Object.entries(object))
    if (value && typeof value === "object" && !Array.isArray(value)) for (const [sub, v] of Object.entries(value as Json)) flat[`${key}.${sub}`] = v;
    else flat[key] = value;
  return flat;
}

/** {"a.b": 1} → {"a": {"b": 1}}. */
export function unflatten(flat: Json): Json {
  const object: Json = {};
  for (const [key, value] of Object.entries(flat)) {
    const [head, sub] = key.split(".", 2);
    if (sub === undefined) object[head] = value;
    else object[head] = { ...((object[head] as Json) ?? {}), [sub]: value };
  }
  return object;
}
