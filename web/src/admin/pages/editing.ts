// The catalog's and settings' forms as data: a spec per field, form values as the inputs hold them
// (text, checkboxes, lists of ids), the JSON body they make, and the PATCH that changes only what the
// admin changed since the version they read. A 409 VERSION_CONFLICT re-reads the object: its fields
// that differ from what the admin had read are "theirs", the admin's typing stays, and saving again
// sends the admin's changes against the new version.
import { minorDigits } from "../../app/money";

export type Kind = "text" | "textarea" | "money" | "int" | "bool" | "select" | "checks" | "terms" | "photos" | "slot";

/** A field whose form value is text of its own making (kind "terms": a package's payment terms; kind
 * "photos": its photos; kind "slot": a package's kind and slot terms, read from the whole object and
 * sent as several fields). */
export interface Codec {
  toForm(value: unknown): string;
  /** The JSON value of the form's text (kind "slot": the body fields it sets), or the problems by API field name. */
  fromForm(text: string): { value: unknown } | { errors: Record<string, string> };
  /** The form's text in words (the conflict note). */
  shown(text: string): string;
}

export interface FieldSpec {
  key: string;
  label: string;
  kind: Kind;
  required?: boolean;
  hint?: string;
  options?: { value: string; label: string }[];
  /** An empty input sends null (the API's "none"), rather than being refused. */
  nullable?: boolean;
  /** Set when creating only (currency: the API takes it with the price). */
  createOnly?: boolean;
  /** Kinds "terms" and "photos": how its value becomes form text and back. */
  codec?: Codec;
}

export type FormValue = string | boolean | string[];
export type FormValues = Record<string, FormValue>;
export type Json = Record<string, unknown>;

/** "1,234.5" in `currency` → minor units, or null when it is not an amount. */
export function parseMoney(text: string, currency: string): number | null {
  const digits = minorDigits(currency || "usd");
  const clean = text.trim().replace(/[\s,]/g, "");
  if (!/^\d+(\.\d*)?$/.test(clean)) return null;
  const [whole, fraction = ""] = clean.split(".");
  if (fraction.length > digits) return null;
  return Number(whole) * 10 ** digits + Number((fraction + "0".repeat(digits)).slice(0, digits) || "0");
}

/** Minor units as the input shows them: 123450 USD → "1234.50". */
export function moneyInput(minor: number, currency: string): string {
  const digits = minorDigits(currency || "usd");
  return (minor / 10 ** digits).toFixed(digits);
}

/** The form's values of an object (or of a new one when `object` is null). */
export function toForm(specs: FieldSpec[], object: Json | null, currency: string): FormValues {
  const values: FormValues = {};
  for (const spec of specs) {
    const value = object?.[spec.key];
    if (spec.codec) {
      // A "slot" field reads the whole object (its kind and its terms).
      values[spec.key] = spec.codec.toForm(spec.kind === "slot" ? object : value);
      continue;
    }
    switch (spec.kind) {
      case "bool":
        values[spec.key] = object ? Boolean(value) : true;
        break;
      case "checks":
        values[spec.key] = Array.isArray(value) ? value.map(String) : [];
        break;
      case "money":
        values[spec.key] = typeof value === "number" ? moneyInput(value, currency) : "";
        break;
      default:
        values[spec.key] = value === null || value === undefined ? "" : String(value);
    }
  }
  return values;
}

/** The JSON body of the form, or the problems per field. */
export function fromForm(specs: FieldSpec[], values: FormValues, currency: string): { body: Json; errors: Record<string, string> } {
  const body: Json = {};
  const errors: Record<string, string> = {};
  for (const spec of specs) {
    const value = values[spec.key];
    if (spec.kind === "bool") {
      body[spec.key] = Boolean(value);
      continue;
    }
    if (spec.kind === "checks") {
      body[spec.key] = Array.isArray(value) ? [...value] : [];
      continue;
    }
    if (spec.codec) {
      const read = spec.codec.fromForm(String(value ?? ""));
      if ("errors" in read) Object.assign(errors, read.errors);
      else if (spec.kind === "slot") Object.assign(body, read.value as Json);
      else body[spec.key] = read.value;
      continue;
    }
    const text = String(value ?? "").trim();
    if (!text) {
      if (spec.required) errors[spec.key] = `${spec.label} is required.`;
      else if (spec.nullable) body[spec.key] = null;
      else if (spec.kind === "text" || spec.kind === "textarea" || spec.kind === "select") body[spec.key] = "";
      continue;
    }
    if (spec.kind === "money") {
      const minor = parseMoney(text, currency);
      if (minor === null) errors[spec.key] = `Write an amount such as ${moneyInput(123450, currency)}.`;
      else body[spec.key] = minor;
    } else if (spec.kind === "int") {
      if (!/^-?\d+$/.test(text)) errors[spec.key] = "Write a whole number.";
      else body[spec.key] = Number(text);
    } else {
      body[spec.key] = text;
    }
  }
  return { body, errors };
}

export function same(a: unknown, b: unknown): boolean {
  // A list of ids (an add-on's packages) is a set; any other list (photos) keeps its order.
  const ids = (list: unknown[]) => list.every((item) => typeof item === "string");
  if (Array.isArray(a) && Array.isArray(b) && ids(a) && ids(b)) return a.length === b.length && [...a].sort().join("\u0000") === [...b].sort().join("\u0000");
  // Objects (payment terms, photos) are built in one key order, so their JSON compares them.
  if (a && b && typeof a === "object" && typeof b === "object") return JSON.stringify(a) === JSON.stringify(b);
  return (a ?? null) === (b ?? null);
}

/** The fields of `mine` that differ from `base` (what a PATCH sends). */
export function changes(mine: Json, base: Json): Json {
  const changed: Json = {};
  for (const [key, value] of Object.entries(mine)) if (!same(value, base[key])) changed[key] = value;
  return changed;
}

/** The form's fields whose values differ between two versions of the object (what the other admin changed). */
export function changedFields(specs: FieldSpec[], before: Json, after: Json, currency: string): FieldSpec[] {
  const a = toForm(specs, before, currency);
  const b = toForm(specs, after, currency);
  return specs.filter((s) => !same(a[s.key], b[s.key]));
}

/** A value as the conflict note shows it. */
export function shown(spec: FieldSpec, value: FormValue): string {
  if (spec.codec) return spec.codec.shown(String(value));
  if (spec.kind === "bool") return value ? "yes" : "no";
  if (Array.isArray(value)) {
    const names = value.map((v) => spec.options?.find((o) => o.value === v)?.label ?? v);
    return names.length ? names.join(", ") : "none";
  }
  const text = String(value);
  if (spec.kind === "select") return spec.options?.find((o) => o.value === text)?.label ?? (text || "none");
  return text === "" ? "(empty)" : text;
}

/** After a conflict: what the admin typed where they changed a field, the other admin's value elsewhere. */
export function mergeTyped(specs: FieldSpec[], typed: FormValues, read: Json, theirs: Json, currency: string): FormValues {
  const before = toForm(specs, read, currency);
  const after = toForm(specs, theirs, currency);
  const merged: FormValues = { ...typed };
  for (const spec of specs) if (same(typed[spec.key], before[spec.key])) merged[spec.key] = after[spec.key];
  return merged;
}
