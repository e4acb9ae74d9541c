// /admin/settings: the business's details, branding (with the widget live in a preview frame and the
// contrast fallback explained), booking policy, the sites allowed to embed the widget, the embed
// snippet, key rotation (new keys shown once) and Stripe Connect onboarding. Each part saves on its own
// with the settings' version; a stale save re-reads, says so, and keeps what the admin typed.
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { Check, ConfirmButton, CopyButton, Field, Loaded, OutcomeLine, useAction } from "./common";
import { changedFields, changes, fromForm, mergeTyped, toForm, type FieldSpec, type FormValues, type Json } from "./editing";
import type { PaymentPolicy } from "./paymentTerms";
import { BusinessTerms } from "./PaymentTerms";
import { isCode, type AdminRequest, type PageProps } from "./request";
import { addOrigin, contrastNote, embedSnippet, flatten, previewUrl, unflatten } from "./settings";

export interface TenantSettings extends Json {
  id: string;
  slug: string;
  name: string;
  version: number;
  currency: string;
  allowedOrigins: string[];
  connectState: "not_started" | "pending" | "onboarded";
  /** Deposit and balance terms of every package without its own. */
  paymentPolicy?: PaymentPolicy;
  /** Not in today's settings answer; used when the API adds it. */
  publicKey?: string;
}

export const BUSINESS_SPECS: FieldSpec[] = [
  { key: "name", label: "Business name", kind: "text", required: true },
  { key: "contactEmail", label: "Contact email (Reply-To of the couples’ emails)", kind: "text" },
  { key: "timezone", label: "Time zone", kind: "text", required: true, hint: "An IANA name such as Europe/London; “today” on the calendar is today there." },
  { key: "currency", label: "Currency", kind: "text", required: true, hint: "ISO code such as usd. New packages are priced in it; existing ones keep theirs." },
];

export const BRANDING_SPECS: FieldSpec[] = [
  { key: "branding.primaryColor", label: "Primary colour (buttons)", kind: "text", hint: "#rrggbb" },
  { key: "branding.secondaryColor", label: "Secondary colour (accents)", kind: "text", hint: "#rrggbb" },
  { key: "branding.logoUrl", label: "Logo address (https)", kind: "text" },
  { key: "branding.font", label: "Font family", kind: "text", hint: "A font the couple’s browser has, such as Georgia." },
];

export const POLICY_SPECS: FieldSpec[] = [
  { key: "policy.minNoticeDays", label: "Minimum notice (days)", kind: "int", required: true },
  { key: "policy.maxAdvanceDays", label: "Book at most this far ahead (days, 0: no limit)", kind: "int", required: true },
  { key: "policy.holdMinutes", label: "Hold a date while paying (minutes)", kind: "int", required: true },
  { key: "policy.reminderDays", label: "Reminder before the event (days)", kind: "int", required: true },
  { key: "policy.coupleCancelDays", label: "Couples may cancel up to (days before)", kind: "int", required: true },
  { key: "policy.maxLiveHoldsPerEmail", label: "Dates one couple may hold at once (0: platform default)", kind: "int", required: true },
  { key: "policy.maxLiveHoldsPerAddress", label: "Dates one address may hold at once (0: platform default)", kind: "int", required: true },
];

const SETTINGS = "/v1/tenant-admin/settings";

export function Settings({ request }: PageProps) {
  const [tenant, setTenant] = useState<TenantSettings | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [keys, setKeys] = useState<RotatedKeys | null>(null);
  const [manualKey, setManualKey] = useState("");
  const [previewTick, setPreviewTick] = useState(0);
  useEffect(() => {
    request<TenantSettings>("GET", SETTINGS).then(setTenant, (e) => setError(String((e as Error).message || "The settings could not be read.")));
  }, []);
  const saved = (next: TenantSettings) => {
    setTenant(next);
    setPreviewTick((t) => t + 1);
  };
  const publicKey = keys?.publicKey ?? tenant?.publicKey ?? manualKey.trim();
  const origin = typeof location !== "undefined" ? location.origin : "";
  return (
    <div class="admin-page">
      <h1>Settings</h1>
      <Loaded loading={!tenant && !error} error={error}>
        {tenant && (
          <>
            <Part title="Business" id="business">
              <SettingsForm request={request} specs={BUSINESS_SPECS} tenant={tenant} onSaved={saved} noun="business details" />
            </Part>
            <Part title="Branding" id="branding">
              <SettingsForm request={request} specs={BRANDING_SPECS} tenant={tenant} onSaved={saved} noun="branding">
                {(values) => <ContrastNote primary={String(values["branding.primaryColor"] ?? "")} />}
              </SettingsForm>
              <h3>Preview</h3>
              {publicKey.startsWith("pk_") ? (
                <>
                  <p>The widget as couples see it, with the saved settings (it reloads after each save).</p>
                  <iframe class="preview-frame" title="Preview of the booking widget" src={previewUrl(origin, publicKey, previewTick)} />
                </>
              ) : (
                <p>The preview needs the business’s public key (pk_…): write it under “Embed the widget” below, or rotate the keys.</p>
              )}
            </Part>
            <Part title="Booking policy" id="policy">
              <SettingsForm request={request} specs={POLICY_SPECS} tenant={tenant} onSaved={saved} noun="booking policy" />
            </Part>
            <Part title="Payments" id="payments">
              <BusinessTerms request={request} tenant={tenant} onSaved={saved} />
            </Part>
            <Part title="Sites that may embed the widget" id="origins">
              <Origins request={request} tenant={tenant} onSaved={saved} />
            </Part>
            <Part title="Embed the widget" id="embed">
              {!keys && !tenant.publicKey && (
                <Field label="Public key" value={manualKey} onInput={setManualKey} hint="pk_… as it was shown when the keys were made; it is not a secret." />
              )}
              {publicKey ? (
                <>
                  <label for="embed-snippet">Paste this into your site’s page:</label>
                  <textarea id="embed-snippet" class="code" rows={8} readOnly value={embedSnippet(origin, publicKey)} />
                  <CopyButton text={embedSnippet(origin, publicKey)} label="Copy the snippet" />
                </>
              ) : (
                <p>With the public key, the snippet to paste appears here.</p>
              )}
            </Part>
            <Part title="API keys" id="keys">
              <KeyRotation request={request} keys={keys} onRotated={setKeys} />
            </Part>
            <Part title="Payments (Stripe Connect)" id="connect">
              <Connect request={request} />
            </Part>
          </>
        )}
      </Loaded>
    </div>
  );
}

function Part({ title, id, children }: { title: string; id: string; children: ComponentChildren }) {
  return (
    <section aria-labelledby={`settings-${id}`} class="card">
      <h2 id={`settings-${id}`}>{title}</h2>
      {children}
    </section>
  );
}

export function ContrastNote({ primary }: { primary: string }) {
  const note = contrastNote(primary);
  return (
    <p class={note.ok ? "notice" : "notice warning"} data-contrast={note.ok ? "ok" : "fallback"}>
      {note.text}
    </p>
  );
}

interface FormProps {
  request: AdminRequest;
  specs: FieldSpec[];
  tenant: TenantSettings;
  onSaved: (tenant: TenantSettings) => void;
  noun: string;
  children?: (values: FormValues) => ComponentChildren;
}

/** One part of the settings: its fields, saved as a PATCH of what changed with the version. */
function SettingsForm({ request, specs, tenant, onSaved, noun, children }: FormProps) {
  const [base, setBase] = useState<Json>(() => flatten(tenant));
  const [values, setValues] = useState<FormValues>(() => toForm(specs, flatten(tenant), tenant.currency));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const action = useAction();
  // Another part saved: this one's base follows (its typing stays).
  useEffect(() => setBase(flatten(tenant)), [tenant.version]);

  async function save(event: Event) {
    event.preventDefault();
    const { body, errors: problems } = fromForm(specs, values, tenant.currency);
    setErrors(problems);
    if (Object.keys(problems).length) return action.setOutcome({ ok: false, text: "Some fields need a fix: see the messages beside them." });
    const changed = changes(body, fromForm(specs, toForm(specs, base, tenant.currency), tenant.currency).body);
    if (!Object.keys(changed).length) return action.setOutcome({ ok: true, text: "Nothing to save: no field changed." });
    try {
      const next = await action.run(
        () => request<TenantSettings>("PATCH", SETTINGS, { ...unflatten(changed), version: base.version }),
        `The ${noun} ${noun.endsWith("s") ? "were" : "was"} saved.`,
      );
      if (next) {
        setBase(flatten(next));
        onSaved(next);
      }
    } catch (error) {
      if (!isCode(error, "VERSION_CONFLICT")) return;
      try {
        const theirs = await request<TenantSettings>("GET", SETTINGS);
        const fields = changedFields(specs, base, flatten(theirs), tenant.currency);
        setValues((typed) => mergeTyped(specs, typed, base, flatten(theirs), tenant.currency));
        setBase(flatten(theirs));
        onSaved(theirs);
        const named = fields.length ? ` They changed: ${fields.map((f) => f.label).join(", ")}.` : "";
        action.setOutcome({ ok: false, text: `Someone else changed the settings meanwhile.${named} Your changes are still in the form: save again to apply them.` });
      } catch {
        action.setOutcome({ ok: false, text: "Someone else changed the settings meanwhile; reload the page to see their changes." });
      }
    }
  }

  const fieldErrors = { ...errors, ...Object.fromEntries(Object.entries(action.fields).map(([k, v]) => [k, v])) };
  return (
    <form onSubmit={save} noValidate>
      <div class="field-row">
        {specs.map((spec) => (
          <Field
            key={spec.key}
            label={spec.label}
            value={String(values[spec.key])}
            onInput={(v) => setValues({ ...values, [spec.key]: v })}
            error={fieldErrors[spec.key] ?? fieldErrors[spec.key.split(".").pop()!] ?? null}
            hint={spec.hint}
            required={spec.required}
            inputMode={spec.kind === "int" ? "numeric" : undefined}
          />
        ))}
      </div>
      {children?.(values)}
      <OutcomeLine outcome={action.outcome} />
      <div class="actions">
        <button type="submit" class="button" aria-disabled={action.busy ? "true" : undefined}>
          Save {noun}
        </button>
      </div>
    </form>
  );
}

/** The allowed origins: a list with Remove, an Add field checked as the gateway compares origins. */
function Origins({ request, tenant, onSaved }: { request: AdminRequest; tenant: TenantSettings; onSaved: (t: TenantSettings) => void }) {
  const [list, setList] = useState<string[]>(tenant.allowedOrigins);
  const [draft, setDraft] = useState("");
  const [draftError, setDraftError] = useState<string | null>(null);
  const action = useAction();
  const dirty = list.join("\n") !== tenant.allowedOrigins.join("\n");

  function add(event: Event) {
    event.preventDefault();
    const result = addOrigin(list, draft);
    if ("error" in result) return setDraftError(result.error);
    setList(result.list);
    setDraft("");
    setDraftError(null);
  }

  async function save() {
    try {
      const next = await action.run(() => request<TenantSettings>("PATCH", SETTINGS, { allowedOrigins: list, version: tenant.version }), "The list of sites was saved.");
      if (next) {
        setList(next.allowedOrigins);
        onSaved(next);
      }
    } catch (error) {
      if (!isCode(error, "VERSION_CONFLICT")) return;
      const theirs = await request<TenantSettings>("GET", SETTINGS).catch(() => null);
      if (theirs) onSaved(theirs);
      action.setOutcome({
        ok: false,
        text: `Someone else changed the settings meanwhile${theirs ? `; the saved list is now: ${theirs.allowedOrigins.join(", ") || "empty"}` : ""}. Your list is still here: save again to apply it.`,
      });
    }
  }

  return (
    <>
      <p>The widget works on these sites only (their exact origin: scheme, host and port).</p>
      {list.length ? (
        <ul class="plain origins">
          {list.map((origin) => (
            <li key={origin} class="row-actions">
              <span class="secret">{origin}</span>
              <button type="button" class="link-button" aria-label={`Remove ${origin}`} onClick={() => setList(list.filter((o) => o !== origin))}>
                Remove
              </button>
            </li>
          ))}
        </ul>
      ) : (
        <p>No site yet: the widget can be used on the platform’s own booking page only.</p>
      )}
      <form onSubmit={add} noValidate class="row-actions">
        <Field label="Add a site" value={draft} onInput={setDraft} error={draftError} hint="Such as https://www.example.com" type="url" inputMode="url" />
        <button type="submit" class="button secondary">
          Add
        </button>
      </form>
      <OutcomeLine outcome={action.outcome} />
      <div class="actions">
        {dirty && <span>Not saved yet.</span>}
        <button type="button" class="button" onClick={save} aria-disabled={action.busy ? "true" : undefined}>
          Save the list of sites
        </button>
      </div>
    </>
  );
}

export interface RotatedKeys {
  publicKey: string;
  secretKey: string;
  previousKeyExpiresAt: string | null;
}

/** A new key pair; the secret is shown here once. */
function KeyRotation({ request, keys, onRotated }: { request: AdminRequest; keys: RotatedKeys | null; onRotated: (k: RotatedKeys | null) => void }) {
  const [revokeNow, setRevokeNow] = useState(false);
  const [shown, setShown] = useState(false);
  const action = useAction();
  function rotate() {
    action.fire(
      () => request<RotatedKeys>("POST", "/v1/tenant-admin/api-keys/rotate", revokeNow ? { graceSeconds: 0 } : {}),
      "New keys were made. Copy the secret key now: it is not shown again.",
    ).then((answer) => {
      if (answer) {
        onRotated(answer);
        setShown(true);
      }
    });
  }
  return (
    <>
      <p>A new public and secret key. Sites embedding the widget need the new public key in their snippet.</p>
      <Check label="Stop the old keys at once (otherwise they keep working for 24 hours)" checked={revokeNow} onChange={setRevokeNow} />
      <ConfirmButton label="Rotate the keys" question="Make a new key pair?" confirm="Yes, rotate" busy={action.busy} onConfirm={rotate} />
      <OutcomeLine outcome={action.outcome} />
      {keys && shown && (
        <div class="card keys" aria-label="The new keys">
          <dl class="summary">
            <dt>Public key</dt>
            <dd>
              <span class="secret">{keys.publicKey}</span> <CopyButton text={keys.publicKey} label="Copy the public key" />
            </dd>
            <dt>Secret key (shown once)</dt>
            <dd>
              <span class="secret">{keys.secretKey}</span> <CopyButton text={keys.secretKey} label="Copy the secret key" />
            </dd>
            <dt>The old public key stops</dt>
            <dd>{keys.previousKeyExpiresAt ? new Date(keys.previousKeyExpiresAt).toLocaleString() : "now"}</dd>
          </dl>
          <button type="button" class="button secondary" onClick={() => setShown(false)}>
            I have saved the secret key
          </button>
        </div>
      )}
    </>
  );
}

const CONNECT_WORDS = {
  not_started: "Not started: couples cannot pay yet.",
  pending: "Started, not finished: Stripe still needs details before couples can pay.",
  onboarded: "Done: couples can pay, and the money goes to your Stripe account.",
};

function Connect({ request }: { request: AdminRequest }) {
  const [state, setState] = useState<{ connectState: keyof typeof CONNECT_WORDS; stripeAccountId: string | null } | null>(null);
  const [link, setLink] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const action = useAction();
  useEffect(() => {
    request<typeof state>("GET", "/v1/tenant-admin/stripe/connect").then(setState, (e) => setError((e as Error).message));
  }, []);
  function start() {
    action.fire(() => request<{ onboardingUrl: string; stripeAccountId: string }>("POST", "/v1/tenant-admin/stripe/connect", {}), "Your onboarding link is ready: it works for a few minutes.")
      .then((answer) => answer && setLink(answer.onboardingUrl));
  }
  return (
    <Loaded loading={!state && !error} error={error}>
      {state && (
        <>
          <p data-connect={state.connectState}>
            <strong>{CONNECT_WORDS[state.connectState] ?? state.connectState}</strong>
            {state.stripeAccountId && <> Account {state.stripeAccountId}.</>}
          </p>
          {state.connectState !== "onboarded" && (
            <button type="button" class="button" onClick={start} aria-disabled={action.busy ? "true" : undefined}>
              {state.connectState === "pending" ? "Continue Stripe onboarding" : "Start Stripe onboarding"}
            </button>
          )}
          <OutcomeLine outcome={action.outcome} />
          {link && (
            <p>
              <a class="button" href={link}>
                Open Stripe onboarding
              </a>
            </p>
          )}
        </>
      )}
    </Loaded>
  );
}
