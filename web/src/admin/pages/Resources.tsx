// /admin/resources: what a time-slot service occupies (a person, a room) and when each one is open.
// The business adds, renames, deactivates and removes resources (the default one stays: services that
// name none book it), and edits a resource's weekly hours and its date exceptions (closed, or other
// hours) for the coming year. Times are wall-clock "HH:MM" of the business's time zone; "24:00" closes
// at midnight. Saving replaces the weekly hours and the year's exceptions in one change; the server's
// field errors (`weekly[0].ranges[1]`, `exceptions[2].date`) are shown beside the row they name.
import { useEffect, useState } from "preact/hooks";
import { Check, ConfirmButton, Field, Loaded, OutcomeLine, PagedTable, useAction, usePaged } from "./common";
import { errorText, withQuery, type Page, type PageProps } from "./request";

export interface Resource {
  id: string;
  name: string;
  isDefault: boolean;
  active: boolean;
  version: number;
}

export interface TimeRange {
  opens: string;
  closes: string;
}

export interface HoursException {
  date: string;
  ranges: TimeRange[];
  reason: string;
}

export interface OpeningHours {
  resourceId: string;
  weekly: { weekday: number; ranges: TimeRange[] }[];
  exceptions: HoursException[];
  from: string | null;
  to: string | null;
}

/** ISO weekdays, Monday first. */
export const WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

/** The hours as the editor keeps them: every weekday's ranges (1..7, empty: closed) and the exceptions. */
export interface HoursDraft {
  days: TimeRange[][];
  exceptions: HoursException[];
}

export function draftOf(hours: OpeningHours): HoursDraft {
  const days: TimeRange[][] = WEEKDAYS.map(() => []);
  for (const day of hours.weekly) if (day.weekday >= 1 && day.weekday <= 7) days[day.weekday - 1] = day.ranges.map((r) => ({ ...r }));
  return { days, exceptions: hours.exceptions.map((e) => ({ ...e, ranges: e.ranges.map((r) => ({ ...r })) })) };
}

/** The PUT body, and where each of its `weekly[i]` came from (the server names fields by position). */
export function bodyOf(draft: HoursDraft, from: string, to: string) {
  const weekdays: number[] = [];
  const weekly = [];
  for (let i = 0; i < 7; i++) {
    if (!draft.days[i].length) continue;
    weekdays.push(i + 1);
    weekly.push({ weekday: i + 1, ranges: draft.days[i].map((r) => ({ opens: r.opens.trim(), closes: r.closes.trim() })) });
  }
  const exceptions = draft.exceptions.map((e) => ({ date: e.date, ranges: e.ranges.map((r) => ({ opens: r.opens.trim(), closes: r.closes.trim() })), reason: e.reason.trim() }));
  return { body: { weekly, exceptions, from, to }, weekdays };
}

/** The server's field name for a weekday's range, as `bodyOf` numbers them ("" when the day is closed). */
export function weeklyField(weekdays: number[], weekday: number, index: number): string {
  const position = weekdays.indexOf(weekday);
  return position < 0 ? "" : `weekly[${position}].ranges[${index}]`;
}

/** A field error for a row: the one naming the row itself or one of its parts (`.opens`, `.closes`). */
export function rowError(fields: Record<string, string>, name: string): string | null {
  if (!name) return null;
  const hit = Object.entries(fields).find(([field]) => field === name || field.startsWith(`${name}.`));
  return hit ? hit[1] : null;
}

/** YYYY-MM-DD of a local date. */
export function isoDay(day: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${day.getFullYear()}-${pad(day.getMonth() + 1)}-${pad(day.getDate())}`;
}

/** The exceptions the page edits: today and the 365 days after it. */
export function exceptionSpan(today: Date): { from: string; to: string } {
  const last = new Date(today.getFullYear(), today.getMonth(), today.getDate() + 365);
  return { from: isoDay(today), to: isoDay(last) };
}

export function Resources({ request }: PageProps) {
  const paged = usePaged<Resource>((cursor) => request<Page<Resource>>("GET", withQuery("/v1/tenant-admin/resources", { limit: 25, cursor })));
  const [name, setName] = useState("");
  const [nameError, setNameError] = useState<string | null>(null);
  const [editing, setEditing] = useState<Resource | null>(null);
  const [renaming, setRenaming] = useState<{ id: string; name: string } | null>(null);
  const add = useAction();
  const change = useAction();

  useEffect(() => {
    // The default resource is the first one; its hours open when nothing is chosen yet.
    if (!editing && paged.page?.items.length) setEditing(paged.page.items[0]);
  }, [paged.page]);

  async function create(event: Event) {
    event.preventDefault();
    const wanted = name.trim();
    if (!wanted) return setNameError("Write a name, such as a person's or a room's.");
    setNameError(null);
    const made = await add.run(() => request<Resource>("POST", "/v1/tenant-admin/resources", { name: wanted }), `${wanted} was added.`).catch(() => undefined);
    if (made) {
      setName("");
      paged.reload();
    }
  }

  function patch(resource: Resource, body: { name?: string; active?: boolean }, said: string) {
    change
      .fire(() => request<Resource>("PATCH", `/v1/tenant-admin/resources/${encodeURIComponent(resource.id)}`, { ...body, version: resource.version }), said)
      .then((updated) => {
        if (!updated) return paged.reload();
        paged.replace((items) => items.map((r) => (r.id === updated.id ? updated : r)));
        if (editing?.id === updated.id) setEditing(updated);
        setRenaming(null);
      });
  }

  function remove(resource: Resource) {
    change.fire(() => request("DELETE", `/v1/tenant-admin/resources/${encodeURIComponent(resource.id)}`), `${resource.name} was removed.`).then(() => {
      if (editing?.id === resource.id) setEditing(null);
      paged.reload();
    });
  }

  return (
    <div class="admin-page">
      <h1>Resources &amp; hours</h1>
      <p class="field-hint">A time-slot service takes one resource (a person, a room) for its time. A whole-day booking takes every resource that day.</p>
      <section aria-labelledby="resources-list">
        <h2 id="resources-list">Resources</h2>
        <PagedTable paged={paged} label="Resources" columns={["Name", "State", "Actions"]}>
          {(resources) =>
            resources.map((resource) => (
              <tr key={resource.id}>
                <td>
                  {renaming?.id === resource.id ? (
                    <form
                      onSubmit={(e) => {
                        e.preventDefault();
                        patch(resource, { name: renaming.name.trim() }, `Renamed to ${renaming.name.trim()}.`);
                      }}
                      noValidate
                    >
                      <Field label={`New name for ${resource.name}`} value={renaming.name} onInput={(value) => setRenaming({ id: resource.id, name: value })} error={change.fields.name ?? null} />
                      <div class="actions">
                        <button type="submit" class="button">
                          Save name
                        </button>
                        <button type="button" class="button secondary" onClick={() => setRenaming(null)}>
                          Cancel
                        </button>
                      </div>
                    </form>
                  ) : (
                    resource.name
                  )}
                </td>
                <td>{[resource.isDefault ? "Default" : "", resource.active ? "Active" : "Inactive (offers no slots)"].filter(Boolean).join(", ")}</td>
                <td>
                  <div class="actions">
                    <button type="button" class="button secondary" aria-label={`Hours of ${resource.name}`} aria-pressed={editing?.id === resource.id ? "true" : "false"} onClick={() => setEditing(resource)}>
                      Hours
                    </button>
                    <button type="button" class="button secondary" aria-label={`Rename ${resource.name}`} onClick={() => setRenaming({ id: resource.id, name: resource.name })}>
                      Rename
                    </button>
                    {!resource.isDefault && (
                      <button
                        type="button"
                        class="button secondary"
                        aria-label={`${resource.active ? "Deactivate" : "Activate"} ${resource.name}`}
                        onClick={() => patch(resource, { active: !resource.active }, resource.active ? `${resource.name} offers no slots now.` : `${resource.name} is active again.`)}
                      >
                        {resource.active ? "Deactivate" : "Activate"}
                      </button>
                    )}
                    {!resource.isDefault && (
                      <ConfirmButton label="Remove" name={`Remove ${resource.name}`} question={`Remove ${resource.name}?`} confirm="Yes, remove" busy={change.busy} onConfirm={() => remove(resource)} />
                    )}
                  </div>
                </td>
              </tr>
            ))
          }
        </PagedTable>
        <OutcomeLine outcome={change.outcome} />
      </section>
      <section aria-labelledby="resources-add">
        <h2 id="resources-add">Add a resource</h2>
        <form onSubmit={create} noValidate>
          <Field label="Name" value={name} onInput={setName} error={nameError ?? add.fields.name ?? null} hint="A person (a celebrant, a photographer) or a room." />
          <OutcomeLine outcome={add.outcome} />
          <div class="actions">
            <button type="submit" class="button" aria-disabled={add.busy ? "true" : undefined}>
              Add resource
            </button>
          </div>
        </form>
      </section>
      {editing && <HoursEditor key={editing.id} resource={editing} request={request} />}
    </div>
  );
}

function HoursEditor({ resource, request }: { resource: Resource; request: PageProps["request"] }) {
  const [span] = useState(() => exceptionSpan(new Date()));
  const [draft, setDraft] = useState<HoursDraft | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [sent, setSent] = useState<number[]>([]);
  const save = useAction();
  const url = `/v1/tenant-admin/resources/${encodeURIComponent(resource.id)}/hours`;

  useEffect(() => {
    let live = true;
    request<OpeningHours>("GET", withQuery(url, span)).then(
      (hours) => live && setDraft(draftOf(hours)),
      (error) => live && setLoadError(errorText(error)),
    );
    return () => void (live = false);
  }, [resource.id]);

  const setDay = (day: number, ranges: TimeRange[]) => draft && setDraft({ ...draft, days: draft.days.map((r, i) => (i === day ? ranges : r)) });
  const setException = (index: number, next: HoursException | null) =>
    draft && setDraft({ ...draft, exceptions: next ? draft.exceptions.map((e, i) => (i === index ? next : e)) : draft.exceptions.filter((_, i) => i !== index) });

  async function submit(event: Event) {
    event.preventDefault();
    if (!draft) return;
    const { body, weekdays } = bodyOf(draft, span.from, span.to);
    setSent(weekdays);
    const saved = await save.run(() => request<OpeningHours>("PUT", url, body), `The hours of ${resource.name} were saved.`).catch(() => undefined);
    if (saved) setDraft(draftOf(saved));
  }

  return (
    <section aria-labelledby="resources-hours">
      <h2 id="resources-hours">Opening hours of {resource.name}</h2>
      <Loaded loading={!draft && !loadError} error={loadError}>
        {draft && (
          <form onSubmit={submit} noValidate>
            <fieldset>
              <legend>Every week</legend>
              {WEEKDAYS.map((dayName, day) => (
                <div class="field" key={dayName} role="group" aria-label={dayName}>
                  <p>
                    <strong>{dayName}</strong>
                    {!draft.days[day].length && " — closed"}
                  </p>
                  {draft.days[day].map((range, index) => (
                    <RangeRow
                      key={index}
                      label={`${dayName}, hours ${index + 1}`}
                      range={range}
                      error={rowError(save.fields, weeklyField(sent, day + 1, index))}
                      onChange={(next) => setDay(day, draft.days[day].map((r, i) => (i === index ? next : r)))}
                      onRemove={() => setDay(day, draft.days[day].filter((_, i) => i !== index))}
                    />
                  ))}
                  <button type="button" class="button secondary" onClick={() => setDay(day, [...draft.days[day], { opens: "09:00", closes: "17:00" }])}>
                    Add hours on {dayName}
                  </button>
                </div>
              ))}
            </fieldset>
            <fieldset>
              <legend>Dates with other hours</legend>
              {!draft.exceptions.length && <p class="field-hint">None in the coming year.</p>}
              {draft.exceptions.map((exception, index) => (
                <ExceptionRow key={index} index={index} exception={exception} fields={save.fields} onChange={(next) => setException(index, next)} />
              ))}
              <button type="button" class="button secondary" onClick={() => setDraft({ ...draft, exceptions: [...draft.exceptions, { date: span.from, ranges: [], reason: "" }] })}>
                Add a date
              </button>
            </fieldset>
            <OutcomeLine outcome={save.outcome} />
            <div class="actions">
              <button type="submit" class="button" aria-disabled={save.busy ? "true" : undefined}>
                Save hours
              </button>
            </div>
          </form>
        )}
      </Loaded>
    </section>
  );
}

function RangeRow(props: { label: string; range: TimeRange; error: string | null; onChange: (range: TimeRange) => void; onRemove: () => void }) {
  return (
    <div class="range-row">
      <Field label={`${props.label} open`} value={props.range.opens} inputMode="numeric" onInput={(opens) => props.onChange({ ...props.range, opens })} error={props.error} />
      <Field label={`${props.label} close`} value={props.range.closes} inputMode="numeric" hint="HH:MM; 24:00 is midnight" onInput={(closes) => props.onChange({ ...props.range, closes })} />
      <button type="button" class="button secondary" onClick={props.onRemove}>
        Remove {props.label}
      </button>
    </div>
  );
}

function ExceptionRow(props: { index: number; exception: HoursException; fields: Record<string, string>; onChange: (next: HoursException | null) => void }) {
  const { exception, index } = props;
  const label = `Date ${index + 1}`;
  const closed = !exception.ranges.length;
  return (
    <div class="field" role="group" aria-label={label}>
      <Field label={label} type="date" value={exception.date} onInput={(date) => props.onChange({ ...exception, date })} error={rowError(props.fields, `exceptions[${index}].date`)} />
      <Check label={`${label} closed all day`} checked={closed} onChange={(yes) => props.onChange({ ...exception, ranges: yes ? [] : [{ opens: "09:00", closes: "17:00" }] })} />
      {exception.ranges.map((range, r) => (
        <RangeRow
          key={r}
          label={`${label}, hours ${r + 1}`}
          range={range}
          error={rowError(props.fields, `exceptions[${index}].ranges[${r}]`)}
          onChange={(next) => props.onChange({ ...exception, ranges: exception.ranges.map((x, i) => (i === r ? next : x)) })}
          onRemove={() => props.onChange({ ...exception, ranges: exception.ranges.filter((_, i) => i !== r) })}
        />
      ))}
      {!closed && (
        <button type="button" class="button secondary" onClick={() => props.onChange({ ...exception, ranges: [...exception.ranges, { opens: "18:00", closes: "20:00" }] })}>
          Add hours on {label}
        </button>
      )}
      <Field label={`${label} reason (optional)`} value={exception.reason} onInput={(reason) => props.onChange({ ...exception, reason })} error={rowError(props.fields, `exceptions[${index}].reason`)} />
      <button type="button" class="button secondary" onClick={() => props.onChange(null)}>
        Remove {label}
      </button>
    </div>
  );
}
