// Pieces every dashboard page uses: a labelled field with its error beside it, the outcome of a
// mutation (role=status for success, role=alert for an error, both always in the document so that a
// message appearing is announced), a cursor-paged list with "Next page", and a Copy button.
import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { useId } from "../../app/ui";
import { ApiError } from "../../shared/api";
import { errorText, type Page } from "./request";
import "./pages.css";

export interface Outcome {
  ok: boolean;
  text: string;
}

/** Success (polite) and error (assertive) regions; only one holds text at a time. */
export function OutcomeLine({ outcome }: { outcome: Outcome | null }) {
  return (
    <>
      <p role="status" class={outcome?.ok ? "notice success" : "visually-hidden"}>
        {outcome?.ok ? outcome.text : ""}
      </p>
      <div role="alert" class={outcome && !outcome.ok ? "alert" : "alert alert-empty"}>
        {outcome && !outcome.ok ? outcome.text : ""}
      </div>
    </>
  );
}

/** Runs mutations one at a time and keeps what came of the last one. */
export function useAction() {
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const [busy, setBusy] = useState(false);
  const [fields, setFields] = useState<Record<string, string>>({});
  async function run<T>(work: () => Promise<T>, success: string | ((result: T) => string)): Promise<T | undefined> {
    if (busy) return undefined;
    setBusy(true);
    setOutcome(null);
    setFields({});
    try {
      const result = await work();
      setOutcome({ ok: true, text: typeof success === "function" ? success(result) : success });
      return result;
    } catch (error) {
      setOutcome({ ok: false, text: errorText(error) });
      if (error instanceof ApiError) setFields(Object.fromEntries(error.fields.map((f) => [f.field, f.message])));
      throw error;
    } finally {
      setBusy(false);
    }
  }
  /** `run` for event handlers: the error is shown, not thrown. */
  const fire = <T,>(work: () => Promise<T>, success: string | ((result: T) => string)) => run(work, success).catch(() => undefined);
  return { outcome, setOutcome, busy, run, fire, fields, setFields };
}

interface FieldProps {
  label: string;
  value: string;
  onInput: (value: string) => void;
  type?: "text" | "email" | "url" | "date" | "password" | "number" | "color";
  error?: string | null;
  hint?: string;
  required?: boolean;
  multiline?: boolean;
  inputMode?: "decimal" | "numeric" | "email" | "url" | "text";
  autoComplete?: string;
  readOnly?: boolean;
  min?: string;
  max?: string;
}

/** A labelled input (or textarea) with its hint and its error beside it (aria-describedby). */
export function Field(props: FieldProps) {
  const id = useId("f");
  const described = [props.hint ? `${id}-hint` : "", props.error ? `${id}-error` : ""].filter(Boolean).join(" ") || undefined;
  const common = {
    id,
    value: props.value,
    onInput: (e: Event) => props.onInput((e.currentTarget as HTMLInputElement).value),
    "aria-describedby": described,
    "aria-invalid": props.error ? ("true" as const) : undefined,
    required: props.required,
    readOnly: props.readOnly,
  };
  return (
    <div class={props.error ? "field invalid" : "field"}>
      <label for={id}>{props.label}</label>
      {props.hint && (
        <p id={`${id}-hint`} class="field-hint">
          {props.hint}
        </p>
      )}
      {props.multiline ? (
        <textarea {...(common as Record<string, unknown>)} rows={3} />
      ) : (
        <input {...(common as Record<string, unknown>)} type={(props.type ?? "text") as "text"} inputMode={props.inputMode} autoComplete={props.autoComplete ?? "off"} min={props.min} max={props.max} />
      )}
      {props.error && (
        <p id={`${id}-error`} class="field-error">
          {props.error}
        </p>
      )}
    </div>
  );
}

export function Check({ label, checked, onChange }: { label: string; checked: boolean; onChange: (checked: boolean) => void }) {
  return (
    <label class="check">
      <input type="checkbox" checked={checked} onChange={(e) => onChange((e.currentTarget as HTMLInputElement).checked)} />
      {label}
    </label>
  );
}

export function Select(props: { label: string; value: string; options: { value: string; label: string }[]; onChange: (value: string) => void }) {
  const id = useId("s");
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      <select id={id} value={props.value} onChange={(e) => props.onChange((e.currentTarget as HTMLSelectElement).value)}>
        {props.options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </div>
  );
}

/** A cursor-paged list: the current page, and the cursors back to the first. */
export function usePaged<T>(load: (cursor: string) => Promise<Page<T>>, deps: unknown[] = []) {
  // A change of filter (deps) starts again at the first page, in the same render: the old filter's
  // cursor is never sent with the new filter.
  const key = JSON.stringify(deps);
  const [trail, setTrail] = useState<{ key: string; cursors: string[] }>({ key, cursors: [""] });
  const cursors = trail.key === key ? trail.cursors : [""];
  const [page, setPage] = useState<Page<T> | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const cursor = cursors[cursors.length - 1];
  useEffect(() => {
    let live = true;
    setLoading(true);
    setError(null);
    load(cursor).then(
      (answer) => live && (setPage(answer), setLoading(false)),
      (failure) => live && (setError(errorText(failure)), setLoading(false)),
    );
    return () => void (live = false);
  }, [cursor, tick, key]);
  return {
    page,
    error,
    loading,
    pageNumber: cursors.length,
    next: () => page?.nextCursor && setTrail({ key, cursors: [...cursors, page.nextCursor] }),
    previous: () => cursors.length > 1 && setTrail({ key, cursors: cursors.slice(0, -1) }),
    reload: () => setTick((t) => t + 1),
    replace: (update: (items: T[]) => T[]) => page && setPage({ ...page, items: update(page.items) }),
  };
}

export type Paged<T> = ReturnType<typeof usePaged<T>>;

// `any`: the pager reads no item, so it takes a list of anything.
export function Pager({ paged, label }: { paged: Paged<any>; label: string }) {
  const hasNext = Boolean(paged.page?.nextCursor);
  if (!hasNext && paged.pageNumber === 1) return null;
  return (
    <nav class="pager" aria-label={`${label} pages`}>
      <button type="button" class="button secondary" disabled={paged.pageNumber === 1} onClick={paged.previous}>
        Previous page
      </button>
      <span>Page {paged.pageNumber}</span>
      <button type="button" class="button secondary" disabled={!hasNext} onClick={paged.next}>
        Next page
      </button>
    </nav>
  );
}

/** A column heading of a PagedTable: its words, and "num" for a right-aligned number. */
export type Column = string | readonly [string, "num"];

/** One cursor-paged list as a table: its loading line or error, the words for an empty page (else the
 * table, captioned for screen readers with `label`), the rows `children` makes of the page's items,
 * and the pager. `status` is read out above the table (a search's count). */
export function PagedTable<T>(props: {
  paged: Paged<T>;
  label: string;
  columns: readonly Column[];
  empty?: string;
  status?: ComponentChildren;
  children: (items: T[]) => ComponentChildren;
}) {
  const { paged, label } = props;
  const items = paged.page?.items ?? [];
  return (
    <>
      <Loaded loading={paged.loading && !paged.page} error={paged.error}>
        {props.status}
        {paged.page && items.length === 0 && props.empty ? (
          <p>{props.empty}</p>
        ) : (
          <div class="table-wrap">
            <table class="list">
              <caption class="visually-hidden">{label}</caption>
              <thead>
                <tr>
                  {props.columns.map((column) => {
                    const [words, kind] = typeof column === "string" ? [column, ""] : column;
                    return (
                      <th scope="col" class={kind === "num" ? "num" : undefined} key={words}>
                        {words}
                      </th>
                    );
                  })}
                </tr>
              </thead>
              <tbody>{props.children(items)}</tbody>
            </table>
          </div>
        )}
      </Loaded>
      <Pager paged={paged} label={label} />
    </>
  );
}

/** The loading line or the load error of a list, else the list itself. */
export function Loaded({ loading, error, children }: { loading: boolean; error: string | null; children: ComponentChildren }) {
  if (error)
    return (
      <div role="alert" class="alert">
        {error}
      </div>
    );
  if (loading)
    return (
      <p role="status" class="loading">
        Loading…
      </p>
    );
  return <>{children}</>;
}

/** Copies `text`; says so (or that it could not, with the text left selectable). */
export function CopyButton({ text, label = "Copy" }: { text: string; label?: string }) {
  const [said, setSaid] = useState("");
  async function copy() {
    try {
      await navigator.clipboard.writeText(text);
      setSaid("Copied.");
    } catch {
      setSaid("Could not copy: select the text and copy it yourself.");
    }
  }
  return (
    <span class="copy">
      <button type="button" class="button secondary" onClick={copy}>
        {label}
      </button>
      <span role="status" class="copy-said">
        {said}
      </span>
    </span>
  );
}

/** A two-step destructive action: the button, then "Yes, …" / "Cancel". `label` is what the button
 * shows; `name`, when given, what it is called (a row's "Delete" named "Delete Garden day"), which must
 * begin with the label. */
export function ConfirmButton(props: { label: string; name?: string; question: string; confirm: string; onConfirm: () => void; busy?: boolean; danger?: boolean }) {
  const [asking, setAsking] = useState(false);
  const yes = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (asking) yes.current?.focus();
  }, [asking]);
  if (!asking)
    return (
      <button type="button" class={props.danger === false ? "button secondary" : "button danger-outline"} aria-label={props.name} onClick={() => setAsking(true)}>
        {props.label}
      </button>
    );
  return (
    <span class="confirm-inline" role="group" aria-label={props.question}>
      <span>{props.question}</span>
      <button
        type="button"
        ref={yes}
        class="button danger"
        aria-disabled={props.busy ? "true" : undefined}
        onClick={() => {
          setAsking(false);
          props.onConfirm();
        }}
      >
        {props.confirm}
      </button>
      <button type="button" class="button secondary" onClick={() => setAsking(false)}>
        Cancel
      </button>
    </span>
  );
}

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  const at = new Date(iso);
  // The same words as the booking's ledger and history: "Dec 1, 2026, 10:34 AM" in the browser's locale.
  return Number.isNaN(at.getTime()) ? iso : new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" }).format(at);
}

/** `value` once it has stayed the same for `delayMs` (a search box asks the server after typing stops). */
export function useDebounced<T>(value: T, delayMs: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), delayMs);
    return () => clearTimeout(timer);
  }, [value, delayMs]);
  return settled;
}
