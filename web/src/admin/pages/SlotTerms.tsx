// The catalog form's "Booked as" field: a whole day, or a time slot with its terms beside it. Errors
// come by API field name (`slot.durationMinutes`, `slot`, `kind`), from the form's own checks or the
// server's, and show beside their input.
import { Field } from "./common";
import { draftOf, MINUTES_FIELDS, type KindDraft, type PackageKind } from "./slotTerms";

export function PackageKindField(props: { value: string; onChange: (value: string) => void; errors: Record<string, string> }) {
  const draft = JSON.parse(props.value) as KindDraft;
  const choose = (kind: PackageKind) => props.onChange(JSON.stringify(kind === "SLOT" && draft.kind !== "SLOT" ? draftOf("SLOT", null) : { ...draft, kind }));
  const whole = props.errors.kind ?? props.errors.slot ?? props.errors["slot.resourceId"] ?? null;
  return (
    <fieldset class="package-kind">
      <legend>Booked as</legend>
      <label class="check">
        <input type="radio" name="package-kind" checked={draft.kind === "DAY"} onChange={() => choose("DAY")} />
        Whole day
      </label>
      <label class="check">
        <input type="radio" name="package-kind" checked={draft.kind === "SLOT"} onChange={() => choose("SLOT")} />
        Time slot
      </label>
      {whole && <p class="field-error">{whole}</p>}
      {draft.kind === "SLOT" ? (
        <>
          {MINUTES_FIELDS.map((f) => (
            <Field
              key={f.key}
              label={f.label}
              value={draft.minutes[f.key]}
              onInput={(v) => props.onChange(JSON.stringify({ ...draft, minutes: { ...draft.minutes, [f.key]: v } }))}
              error={props.errors[`slot.${f.key}`] ?? null}
              hint={f.hint}
              required={f.key === "durationMinutes"}
              inputMode="numeric"
            />
          ))}
          <p class="field-hint">{draft.resourceId ? "Takes the resource set for it." : "Takes the business’s default resource (person or room)."}</p>
        </>
      ) : (
        <p class="field-hint">Couples book a date; the whole day is theirs.</p>
      )}
    </fieldset>
  );
}
