// Pieces of the dashboards' pages; the couple's (../app/ui) are reused where they fit.
import type { ComponentChildren } from "preact";
import { useEffect, useRef } from "preact/hooks";
import { useId } from "../app/ui";

export { Alert, PageTitle, useId } from "../app/ui";

/** A polite status line, always in the document so that what appears in it is announced. */
export function Status({ message }: { message: string | null }) {
  return (
    <p role="status" class={message ? "notice success" : "alert-empty"}>
      {message}
    </p>
  );
}

/** A labelled input with its error beside it (aria-invalid + aria-describedby). */
export function Field(props: {
  label: string;
  error?: string | null;
  hint?: string;
  children: (attrs: { id: string; "aria-invalid"?: "true"; "aria-describedby"?: string }) => ComponentChildren;
}) {
  const id = useId("field");
  const described = [props.hint ? `${id}-hint` : "", props.error ? `${id}-error` : ""].filter(Boolean).join(" ");
  return (
    <div class={`field${props.error ? " invalid" : ""}`}>
      <label for={id}>{props.label}</label>
      {props.hint && (
        <p class="hint" id={`${id}-hint`}>
          {props.hint}
        </p>
      )}
      {props.children({ id, "aria-invalid": props.error ? "true" : undefined, "aria-describedby": described || undefined })}
      {props.error && (
        <p class="field-error" id={`${id}-error`}>
          {props.error}
        </p>
      )}
    </div>
  );
}

/** A section of a page named by its h2. */
export function Section(props: { title: string; children: ComponentChildren; class?: string; actions?: ComponentChildren }) {
  const id = useId("section");
  return (
    <section class={`admin-section card ${props.class ?? ""}`} aria-labelledby={id}>
      <div class="section-head">
        <h2 id={id}>{props.title}</h2>
        {props.actions}
      </div>
      {props.children}
    </section>
  );
}

/** "Previous page" / "Next page" of a cursor-paged list. */
export function Pager(props: { page: number; hasNext: boolean; onPrevious: () => void; onNext: () => void; busy?: boolean }) {
  if (props.page === 0 && !props.hasNext) return null;
  return (
    <nav class="pager" aria-label="Pages">
      {props.page > 0 && (
        <button type="button" class="button secondary" onClick={props.onPrevious} aria-disabled={props.busy ? "true" : undefined}>
          Previous page
        </button>
      )}
      <span class="pager-count">Page {props.page + 1}</span>
      {props.hasNext && (
        <button type="button" class="button secondary" onClick={props.onNext} aria-disabled={props.busy ? "true" : undefined}>
          Next page
        </button>
      )}
    </nav>
  );
}

/** A loading line that screen readers hear once. */
export function LoadingLine({ label = "Loading…" }: { label?: string }) {
  return (
    <p role="status" class="loading">
      {label}
    </p>
  );
}

/** Focuses an element when `when` turns true (a dialog-like confirmation, an error summary). */
export function useFocusWhen<T extends HTMLElement>(when: boolean) {
  const ref = useRef<T>(null);
  useEffect(() => {
    if (when) ref.current?.focus();
  }, [when]);
  return ref;
}
