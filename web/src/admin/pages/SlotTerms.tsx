// The catalog form's "Booked as" field: a whole day, or a time slot with its terms beside it. Errors
// come by API field name (`slot.durationMinutes`, `slot`, `kind`), from the form's own checks or the
// server's, and show beside their input.
// The resource a slot package takes is picked from the business's resources (none chosen: its
// default one); an inactive or unknown resource the package already has stays selectable as it is.
import { useEffect, useState } from "preact/hooks";
import { Field, Select } from "./common";
import { allPages, type AdminRequest } from "./request";
import { draftOf, MINUTES_FIELDS, type KindDraft, type PackageKind } from "./slotTerms";

interface ResourceOption {
  id: string;
  name: string;
  active: boolean;
  isDefault?: boolean;
}

/** The picker's options: the default first (as "no resource set"), then the active others, and the
 * package's own resource even when it is inactive or not listed. */
export function resourceOptions(resources: readonly ResourceOption[] | null, current: string | null): { value: string; label: string }[] {
  const list = resources ?? [];
  const fallback = list.find((r) => r.isDefault);
  const options = [{ value: "", label: fallback ? `The default resource (${fallback.name})` : "The default resource" }];
  for (const r of list) {
    if (r.isDefault || (!r.active && r.id !== current)) continue;
    options.push({ value: r.id, label: r.active ? r.name : `${r.name} (inactive)` });
  }
  if (current && !options.some((o) => o.value === current)) options.push({ value: current, label: "A resource not listed (kept as it is)" });
  return options;
}

export function PackageKindField(props: { value: string; onChange: (value: string) => void; errors: Record<string, string>; request?: AdminRequest }) {
  const draft = JSON.parse(props.value) as KindDraft;
  const [resources, setResources] = useState<ResourceOption[] | null>(null);
  const [unreadable, setUnreadable] = useState(false);
  const slot = draft.kind === "SLOT";
  useEffect(() => {
    if (!slot || !props.request || resources) return;
    allPages<ResourceOption>(props.request, "/v1/tenant-admin/resources").then(setResources, () => setUnreadable(true));
  }, [slot]);
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
          {resources ? (
            <Select
              label="Resource"
              value={draft.resourceId ?? ""}
              options={resourceOptions(resources, draft.resourceId)}
              onChange={(v) => props.onChange(JSON.stringify({ ...draft, resourceId: v || null }))}
            />
          ) : (
            <p class="field-hint">
              {unreadable ? "The resources could not be loaded; the package keeps its resource. " : ""}
              {draft.resourceId ? "Takes the resource set for it." : "Takes the business’s default resource (person or room)."}
            </p>
          )}
        </>
      ) : (
        <p class="field-hint">Couples book a date; the whole day is theirs.</p>
      )}
    </fieldset>
  );
}
