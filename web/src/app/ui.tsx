// Small pieces every page uses: the business's name or logo, a step section whose heading takes focus
// when it opens, and an alert.
import type { ComponentChildren } from "preact";
import { useEffect, useRef } from "preact/hooks";
import { safeLogo } from "./branding";

let ids = 0;
/** A document-unique id (stable per component through useRef). */
export function useId(prefix: string): string {
  const id = useRef("");
  if (!id.current) id.current = `${prefix}-${++ids}`;
  return id.current;
}

/** The business's logo (alt = its name) or its name; a heading on the booking page, a plain line elsewhere. */
export function Brand({ name, logoUrl, heading }: { name: string; logoUrl?: string | null; heading: boolean }) {
  const logo = safeLogo(logoUrl);
  const content = logo ? <img class="brand-logo" src={logo} alt={name} /> : name;
  return <header class="brand">{heading ? <h1 class="brand-name">{content}</h1> : <p class="brand-name">{content}</p>}</header>;
}

/** A step of the flow: a section named by its h2, which receives focus when the step opens. */
export function StepSection(props: { title: string; focus: boolean; children: ComponentChildren; class?: string }) {
  const id = useId("step");
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    if (props.focus) heading.current?.focus();
  }, []);
  return (
    <section class={`step ${props.class ?? ""}`} aria-labelledby={id}>
      <h2 id={id} tabIndex={-1} ref={heading} data-step-heading="">
        {props.title}
      </h2>
      {props.children}
    </section>
  );
}

/** The page's h1, focusable so that focus can land on it when the page's state changes. */
export function PageTitle({ children, focus = false }: { children: ComponentChildren; focus?: boolean }) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    if (focus) heading.current?.focus();
  }, [focus]);
  return (
    <h1 tabIndex={-1} ref={heading} data-step-heading="">
      {children}
    </h1>
  );
}

export function Alert({ message }: { message: string | null }) {
  // Always in the document, so that a message appearing in it is announced.
  return (
    <div role="alert" class={message ? "alert" : "alert alert-empty"}>
      {message}
    </div>
  );
}

export function Loading({ label = "Loading…" }: { label?: string }) {
  return (
    <main class="page">
      <p role="status" class="loading">
        {label}
      </p>
    </main>
  );
}
