// A form over one versioned object (a package, an add-on, a segment): create with POST, save with a
// PATCH of the changed fields and the version read; a 409 VERSION_CONFLICT re-reads the object, shows
// what the other admin changed, keeps what this admin typed, and "Save mine again" re-applies it.
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError } from "../../shared/api";
import { Check, Field, OutcomeLine, Select, useAction } from "./common";
import { changedFields, changes, fromForm, mergeTyped, shown, toForm, type FieldSpec, type FormValues, type Json } from "./editing";
import { PackagePhotosField } from "./PackagePhotos";
import { PAY_IN_FULL, type PaymentPolicy } from "./paymentTerms";
import { PackageTermsField } from "./PaymentTerms";
import { PackageKindField } from "./SlotTerms";
import { errorText, isCode, type AdminRequest } from "./request";

export interface Versioned extends Json {
  id: string;
  version: number;
}

interface EditorProps<T extends Versioned> {
  request: AdminRequest;
  /** "package", "add-on", "segment": in the headings and messages. */
  noun: string;
  /** The collection, e.g. /v1/tenant-admin/packages. */
  basePath: string;
  specs: FieldSpec[];
  /** The object as read, or null for a new one. */
  object: T | null;
  currency: string;
  /** The business's payment terms (a package's "Payment terms" starts from them). */
  businessTerms?: PaymentPolicy;
  onSaved: (saved: T, created: boolean) => void;
  onClose: () => void;
}

interface Conflict<T> {
  theirs: T;
  fields: FieldSpec[];
}

export function Editor<T extends Versioned>(props: EditorProps<T>) {
  const { specs, noun, currency } = props;
  // What this admin read (the base of their changes); after a conflict, the other admin's version.
  const [base, setBase] = useState<T | null>(props.object);
  const [values, setValues] = useState<FormValues>(() => toForm(specs, props.object, currency));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [conflict, setConflict] = useState<Conflict<T> | null>(null);
  const action = useAction();
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), []);

  const set = (key: string, value: FormValues[string]) => setValues({ ...values, [key]: value });
  const editable = specs.filter((s) => !(s.createOnly && base));

  async function save(event?: Event) {
    event?.preventDefault();
    const { body, errors: problems } = fromForm(editable, values, String(base?.currency ?? currency));
    setErrors(problems);
    if (Object.keys(problems).length) {
      action.setOutcome({ ok: false, text: "Some fields need a fix: see the messages beside them." });
      return;
    }
    const creating = base === null;
    let payload: Json = body;
    if (!creating) {
      const { body: before } = fromForm(editable, toForm(editable, base, currency), String(base.currency ?? currency));
      payload = changes(body, before);
      if (!Object.keys(payload).length) {
        action.setOutcome({ ok: true, text: "Nothing to save: no field changed." });
        return;
      }
      payload.version = base.version;
    }
    try {
      const saved = await action.run(
        () =>
          creating
            ? props.request<T>("POST", props.basePath, payload)
            : props.request<T>("PATCH", `${props.basePath}/${encodeURIComponent(base.id)}`, payload),
        creating ? `The ${noun} was created.` : `The ${noun} was saved.`,
      );
      if (saved) {
        setConflict(null);
        setBase(saved);
        setValues(toForm(specs, saved, currency));
        props.onSaved(saved, creating);
      }
    } catch (error) {
      if (error instanceof ApiError) setErrors(Object.fromEntries(error.fields.map((f) => [f.field, f.message])));
      if (!creating && isCode(error, "VERSION_CONFLICT")) await reread(base);
    }
  }

  async function reread(read: T) {
    try {
      const theirs = await props.request<T>("GET", `${props.basePath}/${encodeURIComponent(read.id)}`);
      setConflict({ theirs, fields: changedFields(specs, read, theirs, currency) });
      setValues((typed) => mergeTyped(specs, typed, read, theirs, currency));
      setBase(theirs);
      action.setOutcome({
        ok: false,
        text: `Someone else changed this ${noun} while you were editing. Your changes are not saved yet: compare below, then save yours again or take theirs.`,
      });
    } catch (error) {
      action.setOutcome({ ok: false, text: `Someone else changed this ${noun}, and it could not be read again: ${errorText(error)}` });
    }
  }

  function takeTheirs() {
    if (!conflict) return;
    setValues(toForm(specs, conflict.theirs, currency));
    setConflict(null);
    action.setOutcome({ ok: true, text: "Their version is in the form now." });
  }

  const title = base ? `Edit ${noun} “${String(base.title ?? base.name ?? base.slug)}”` : `New ${noun}`;
  return (
    <form class="card editor" onSubmit={save} noValidate>
      <h3 tabIndex={-1} ref={heading}>
        {title}
      </h3>
      {conflict && (
        <div class="card conflict">
          <h4>Someone else changed this {noun}</h4>
          {conflict.fields.length ? (
            <table class="list">
              <caption class="visually-hidden">Their values and yours</caption>
              <thead>
                <tr>
                  <th scope="col">Field</th>
                  <th scope="col">Their value (saved)</th>
                  <th scope="col">Your value (not saved)</th>
                </tr>
              </thead>
              <tbody>
                {conflict.fields.map((spec) => (
                  <tr key={spec.key}>
                    <th scope="row">{spec.label}</th>
                    <td>{shown(spec, toForm([spec], conflict.theirs, currency)[spec.key])}</td>
                    <td>{shown(spec, values[spec.key])}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            <p>They changed nothing that this form shows.</p>
          )}
          <div class="actions">
            <button type="submit" class="button">
              Save mine again
            </button>
            <button type="button" class="button secondary" onClick={takeTheirs}>
              Take theirs
            </button>
          </div>
        </div>
      )}
      {editable.map((spec) => {
        const error = errors[spec.key] ?? action.fields[spec.key] ?? null;
        const value = values[spec.key];
        if (spec.kind === "terms")
          return (
            <PackageTermsField
              key={spec.key}
              value={String(value)}
              onChange={(v) => set(spec.key, v)}
              currency={String(base?.currency ?? currency)}
              business={props.businessTerms ?? PAY_IN_FULL}
              errors={{ ...action.fields, ...errors }}
            />
          );
        if (spec.kind === "photos")
          return <PackagePhotosField key={spec.key} value={String(value)} onChange={(v) => set(spec.key, v)} errors={{ ...action.fields, ...errors }} />;
        if (spec.kind === "slot") return <PackageKindField key={spec.key} value={String(value)} onChange={(v) => set(spec.key, v)} errors={{ ...action.fields, ...errors }} request={props.request} />;
        if (spec.kind === "bool") return <Check key={spec.key} label={spec.label} checked={Boolean(value)} onChange={(v) => set(spec.key, v)} />;
        if (spec.kind === "select")
          return <Select key={spec.key} label={spec.label} value={String(value)} options={spec.options ?? []} onChange={(v) => set(spec.key, v)} />;
        if (spec.kind === "checks") {
          const chosen = Array.isArray(value) ? value : [];
          return (
            <fieldset key={spec.key}>
              <legend>{spec.label}</legend>
              {(spec.options ?? []).length === 0 && <p>None yet.</p>}
              {(spec.options ?? []).map((o) => (
                <Check
                  key={o.value}
                  label={o.label}
                  checked={chosen.includes(o.value)}
                  onChange={(on) => set(spec.key, on ? [...chosen, o.value] : chosen.filter((v) => v !== o.value))}
                />
              ))}
              {error && <p class="field-error">{error}</p>}
            </fieldset>
          );
        }
        const unit = spec.kind === "money" ? ` (${String(base?.currency ?? currency).toUpperCase()})` : "";
        return (
          <Field
            key={spec.key}
            label={spec.label + unit}
            value={String(value)}
            onInput={(v) => set(spec.key, v)}
            error={error}
            hint={spec.hint}
            required={spec.required}
            multiline={spec.kind === "textarea"}
            inputMode={spec.kind === "money" ? "decimal" : spec.kind === "int" ? "numeric" : undefined}
          />
        );
      })}
      <OutcomeLine outcome={action.outcome} />
      <div class="actions">
        <button type="button" class="button secondary" onClick={props.onClose}>
          Close
        </button>
        <button type="submit" class="button" aria-disabled={action.busy ? "true" : undefined}>
          {base ? "Save" : `Create ${noun}`}
        </button>
      </div>
    </form>
  );
}
