// A package's kind in the catalog form: a whole day, or a time-slot service with its terms (duration,
// buffers, start interval, lead time; mais_runtime/slot_terms.py has the same bounds). The form keeps
// both as one text value (JSON of what the inputs hold) and sends `kind` and `slot` together, so a
// PATCH names both whenever either changed. The resource is the picker's (SlotTerms.tsx; null: the
// business's default resource).
import type { Codec, Json } from "./editing";

export type PackageKind = "DAY" | "SLOT";

export interface SlotTerms {
  durationMinutes: number;
  bufferBeforeMinutes: number;
  bufferAfterMinutes: number;
  intervalMinutes: number;
  leadTimeMinutes: number;
  resourceId: string | null;
}

export type MinutesField = Exclude<keyof SlotTerms, "resourceId">;

/** What the inputs hold: minutes as typed. */
export interface KindDraft {
  kind: PackageKind;
  minutes: Record<MinutesField, string>;
  resourceId: string | null;
}

export const MINUTES_FIELDS: { key: MinutesField; label: string; low: number; high: number; hint?: string }[] = [
  { key: "durationMinutes", label: "Duration (minutes)", low: 15, high: 720, hint: "The couple’s time, e.g. 90." },
  { key: "bufferBeforeMinutes", label: "Buffer before (minutes)", low: 0, high: 240, hint: "Kept free before each booking." },
  { key: "bufferAfterMinutes", label: "Buffer after (minutes)", low: 0, high: 240, hint: "Kept free after each booking." },
  { key: "intervalMinutes", label: "Start times every (minutes)", low: 5, high: 240, hint: "From each opening, e.g. every 30 minutes." },
  { key: "leadTimeMinutes", label: "Lead time (minutes)", low: 0, high: 43200, hint: "How far ahead a slot must be booked; 1440 is a day." },
];

export const NEW_SLOT: SlotTerms = { durationMinutes: 60, bufferBeforeMinutes: 0, bufferAfterMinutes: 0, intervalMinutes: 30, leadTimeMinutes: 0, resourceId: null };

export function draftOf(kind: PackageKind, slot: SlotTerms | null): KindDraft {
  const terms = slot ?? NEW_SLOT;
  const minutes = Object.fromEntries(MINUTES_FIELDS.map((f) => [f.key, String(terms[f.key])])) as Record<MinutesField, string>;
  return { kind, minutes, resourceId: terms.resourceId ?? null };
}

/** The body fields of a draft (`{kind, slot}`), or the problems by API field name. */
export function kindOf(draft: KindDraft): { value: { kind: PackageKind; slot: SlotTerms | null } } | { errors: Record<string, string> } {
  if (draft.kind === "DAY") return { value: { kind: "DAY", slot: null } };
  const errors: Record<string, string> = {};
  const terms: Partial<SlotTerms> = {};
  for (const f of MINUTES_FIELDS) {
    const text = draft.minutes[f.key].trim();
    const n = /^\d+$/.test(text) ? Number(text) : NaN;
    if (!(n >= f.low && n <= f.high)) errors[`slot.${f.key}`] = `Write a whole number of minutes from ${f.low} to ${f.high}.`;
    else terms[f.key] = n;
  }
  if (Object.keys(errors).length) return { errors };
  return { value: { kind: "SLOT", slot: { ...(terms as Omit<SlotTerms, "resourceId">), resourceId: draft.resourceId } } };
}

/** "Whole day" or "Time slot: 90 min, every 30 min". */
export function kindSummary(kind: unknown, slot: SlotTerms | null | undefined): string {
  if (kind !== "SLOT" || !slot) return "Whole day";
  const buffers = slot.bufferBeforeMinutes || slot.bufferAfterMinutes ? `, buffers ${slot.bufferBeforeMinutes}/${slot.bufferAfterMinutes} min` : "";
  return `Time slot: ${slot.durationMinutes} min, every ${slot.intervalMinutes} min${buffers}`;
}

/** The codec of the form's "Booked as" field (spec kind "slot": it reads the whole object). */
export const kindCodec: Codec = {
  toForm: (object) => {
    const o = (object ?? {}) as Json;
    return JSON.stringify(draftOf(o.kind === "SLOT" ? "SLOT" : "DAY", (o.slot as SlotTerms | null | undefined) ?? null));
  },
  fromForm: (text) => kindOf(JSON.parse(text) as KindDraft),
  shown: (text) => {
    const read = kindOf(JSON.parse(text) as KindDraft);
    return "value" in read ? kindSummary(read.value.kind, read.value.slot) : "Time slot (not complete)";
  },
};
