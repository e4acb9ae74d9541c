// /admin/platform (tenants) and /admin/platform/tenants/{id}: every business, searched by the server and paged; a new
// one with its keys and first admin's password shown once; commission, activation and Connect state.
import { Link } from "../router";
import { useEffect, useState } from "preact/hooks";
import { ConfirmButton, CopyButton, Field, Loaded, OutcomeLine, PagedTable, useAction, useDebounced, usePaged } from "./common";
import { errorText, isCode, withQuery, type AdminRequest, type Page, type PageProps } from "./request";

export interface PlatformTenant {
  id: string;
  slug: string;
  name: string;
  active: boolean;
  commissionPercent: number;
  connectState: "not_started" | "pending" | "onboarded";
  stripeAccountId: string | null;
  currency: string;
  timezone: string;
  createdAt: string | null;
  version: number;
}

interface Created {
  tenant: PlatformTenant;
  publicKey: string;
  secretKey: string;
  admin: { email: string; password?: string };
}

export const CONNECT_LABELS: Record<string, string> = { not_started: "Not started", pending: "Pending", onboarded: "Onboarded" };

/** The search the server is asked (`q`: trimmed, at most 100 characters), or why not. */
export function parseSearch(text: string): { q: string } | { error: string } {
  const q = text.trim();
  return q.length > MAX_SEARCH ? { error: `Search with at most ${MAX_SEARCH} characters.` } : { q };
}

/** A commission as the API takes it (0-100, at most two decimals), or why not. */
export function parseCommission(text: string): { percent: string } | { error: string } {
  const value = text.trim().replace(",", ".");
  if (!/^\d{1,3}(\.\d{1,2})?$/.test(value) || Number(value) > 100) return { error: "Write a percentage from 0 to 100, such as 12.5." };
  return { percent: value };
}

/** What a screen reader hears when a search's answer arrives. */
export function matchLine(count: number, more: boolean, q: string): string {
  if (count === 0) return `No business matches “${q}”.`;
  const what = count === 1 ? "1 business matches" : `${count} businesses match`;
  return `${what} “${q}”${more ? " on this page; Next page shows more" : ""}.`;
}

const PAGE_SIZE = 25;
const MAX_SEARCH = 100;
/** How long typing must pause before the server is asked. */
export const SEARCH_DELAY_MS = 300;

export function PlatformTenants({ request }: PageProps) {
  const [search, setSearch] = useState("");
  const parsed = parseSearch(search);
  const query = useDebounced("q" in parsed ? parsed.q : null, SEARCH_DELAY_MS);
  // A search too long to send keeps the last page shown (its error is beside the box).
  const [asked, setAsked] = useState("");
  useEffect(() => void (query !== null && setAsked(query)), [query]);
  const paged = usePaged<PlatformTenant>((cursor) => request<Page<PlatformTenant>>("GET", withQuery("/v1/admin/tenants", { limit: PAGE_SIZE, cursor, q: asked })), [asked]);
  const shown = paged.page?.items ?? [];
  return (
    <div class="admin-page">
      <h1>Tenants</h1>
      <section aria-labelledby="tenants-heading">
        <h2 id="tenants-heading">Businesses</h2>
        <Field label="Search by name, slug or admin email" value={search} onInput={setSearch} error={"error" in parsed ? parsed.error : null} hint="Any part of it, in any case." type="text" />
        <PagedTable
          paged={paged}
          label="Businesses"
          columns={["Business", "Slug", ["Commission", "num"], "Stripe Connect", "State", "Actions"]}
          empty={asked ? `No business matches “${asked}”.` : "No business yet."}
          status={
            <p role="status" class="visually-hidden">
              {paged.page && !paged.loading && asked ? matchLine(shown.length, Boolean(paged.page.nextCursor), asked) : ""}
            </p>
          }
        >
          {(tenants) =>
            tenants.map((tenant) => (
              <TenantRow key={tenant.id} request={request} tenant={tenant} onChange={(next) => paged.replace((items) => items.map((t) => (t.id === next.id ? next : t)))} />
            ))
          }
        </PagedTable>
      </section>
      <section aria-labelledby="new-tenant-heading">
        <h2 id="new-tenant-heading">New business</h2>
        <CreateTenant request={request} onCreated={paged.reload} />
      </section>
    </div>
  );
}

function TenantRow({ request, tenant, onChange }: { request: AdminRequest; tenant: PlatformTenant; onChange: (t: PlatformTenant) => void }) {
  const action = useAction();
  return (
    <tr>
      <td>
        <Link href={`/admin/platform/tenants/${encodeURIComponent(tenant.id)}`}>{tenant.name}</Link>
      </td>
      <td>{tenant.slug}</td>
      <td class="num">{tenant.commissionPercent}%</td>
      <td>{CONNECT_LABELS[tenant.connectState] ?? tenant.connectState}</td>
      <td>
        <span class={tenant.active ? "badge good" : "badge bad"}>{tenant.active ? "Active" : "Inactive"}</span>
      </td>
      <td>
        <ActiveToggle request={request} tenant={tenant} action={action} onChange={onChange} />
        <OutcomeLine outcome={action.outcome} />
      </td>
    </tr>
  );
}

function ActiveToggle({ request, tenant, action, onChange }: { request: AdminRequest; tenant: PlatformTenant; action: ReturnType<typeof useAction>; onChange: (t: PlatformTenant) => void }) {
  const id = encodeURIComponent(tenant.id);
  if (tenant.active)
    return (
      <ConfirmButton
        label="Deactivate"
        name={`Deactivate ${tenant.name}`}
        question={`Deactivate ${tenant.name}? Its widget and its admins’ sign-in stop.`}
        confirm="Yes, deactivate"
        busy={action.busy}
        onConfirm={() => action.fire(() => request<PlatformTenant>("DELETE", `/v1/admin/tenants/${id}`), `${tenant.name} was deactivated.`).then((t) => t && onChange(t))}
      />
    );
  return (
    <button
      type="button"
      class="button secondary"
      aria-label={`Activate ${tenant.name}`}
      onClick={() => action.fire(() => request<PlatformTenant>("PATCH", `/v1/admin/tenants/${id}`, { active: true }), `${tenant.name} is active again.`).then((t) => t && onChange(t))}
    >
      Activate
    </button>
  );
}

function CreateTenant({ request, onCreated }: { request: AdminRequest; onCreated: () => void }) {
  const empty = { name: "", slug: "", commissionPercent: "10", adminEmail: "", timezone: "", currency: "" };
  const [form, setForm] = useState(empty);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [created, setCreated] = useState<Created | null>(null);
  const action = useAction();
  const set = (key: keyof typeof empty) => (value: string) => setForm({ ...form, [key]: value });

  async function create(event: Event) {
    event.preventDefault();
    const problems: Record<string, string> = {};
    for (const key of ["name", "slug", "adminEmail"] as const) if (!form[key].trim()) problems[key] = "Required.";
    const commission = parseCommission(form.commissionPercent);
    if ("error" in commission) problems.commissionPercent = commission.error;
    setErrors(problems);
    if (Object.keys(problems).length || "error" in commission) return action.setOutcome({ ok: false, text: "Some fields need a fix: see the messages beside them." });
    const body: Record<string, unknown> = { name: form.name.trim(), slug: form.slug.trim(), commissionPercent: commission.percent, adminEmail: form.adminEmail.trim() };
    if (form.timezone.trim()) body.timezone = form.timezone.trim();
    if (form.currency.trim()) body.currency = form.currency.trim();
    const answer = await action.run(() => request<Created>("POST", "/v1/admin/tenants", body), (c) => `${c.tenant.name} was created. Copy its keys now: the secret key is not shown again.`).catch(() => undefined);
    if (answer) {
      setCreated(answer);
      setForm(empty);
      onCreated();
    }
  }
  const e = (key: string) => errors[key] ?? action.fields[key] ?? null;
  return (
    <>
      <form onSubmit={create} noValidate class="card">
        <div class="field-row">
          <Field label="Business name" value={form.name} onInput={set("name")} error={e("name")} required />
          <Field label="Slug" value={form.slug} onInput={set("slug")} error={e("slug")} required hint="Lower-case letters, digits and dashes; in the booking link." />
          <Field label="Commission (%)" value={form.commissionPercent} onInput={set("commissionPercent")} error={e("commissionPercent")} inputMode="decimal" required />
          <Field label="First admin’s email" value={form.adminEmail} onInput={set("adminEmail")} error={e("adminEmail")} type="email" required />
          <Field label="Time zone (optional)" value={form.timezone} onInput={set("timezone")} error={e("timezone")} hint="Such as Europe/London." />
          <Field label="Currency (optional)" value={form.currency} onInput={set("currency")} error={e("currency")} hint="Such as usd." />
        </div>
        <OutcomeLine outcome={action.outcome} />
        <div class="actions">
          <button type="submit" class="button" aria-disabled={action.busy ? "true" : undefined}>
            Create the business
          </button>
        </div>
      </form>
      {created && (
        <div class="card keys" aria-label="The new business's keys">
          <dl class="summary">
            <dt>Public key</dt>
            <dd>
              <span class="secret">{created.publicKey}</span> <CopyButton text={created.publicKey} label="Copy the public key" />
            </dd>
            <dt>Secret key (shown once)</dt>
            <dd>
              <span class="secret">{created.secretKey}</span> <CopyButton text={created.secretKey} label="Copy the secret key" />
            </dd>
            <dt>First admin</dt>
            <dd>{created.admin.email}</dd>
            {created.admin.password && (
              <>
                <dt>Their password (shown once)</dt>
                <dd>
                  <span class="secret">{created.admin.password}</span> <CopyButton text={created.admin.password} label="Copy the password" />
                </dd>
              </>
            )}
          </dl>
          <button type="button" class="button secondary" onClick={() => setCreated(null)}>
            I have saved them
          </button>
        </div>
      )}
    </>
  );
}

/** /admin/platform/tenants/{id}: one business, its commission and activation. */
export function PlatformTenant({ request, params }: PageProps) {
  const id = params?.id ?? "";
  const [tenant, setTenant] = useState<PlatformTenant | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [commission, setCommission] = useState("");
  const [commissionError, setCommissionError] = useState<string | null>(null);
  const action = useAction();
  const toggle = useAction();
  useEffect(() => {
    request<PlatformTenant>("GET", `/v1/admin/tenants/${encodeURIComponent(id)}`).then(
      (t) => (setTenant(t), setCommission(String(t.commissionPercent))),
      (e) => setError(errorText(e)),
    );
  }, [id]);

  async function saveCommission(event: Event) {
    event.preventDefault();
    if (!tenant) return;
    const parsed = parseCommission(commission);
    if ("error" in parsed) return setCommissionError(parsed.error);
    setCommissionError(null);
    try {
      const next = await action.run(
        () => request<PlatformTenant>("PATCH", `/v1/admin/tenants/${encodeURIComponent(tenant.id)}`, { commissionPercent: parsed.percent, version: tenant.version }),
        (t) => `The commission is now ${t.commissionPercent}% for new bookings.`,
      );
      if (next) setTenant(next);
    } catch (failure) {
      if (isCode(failure, "VERSION_CONFLICT")) {
        const theirs = await request<PlatformTenant>("GET", `/v1/admin/tenants/${encodeURIComponent(tenant.id)}`).catch(() => null);
        if (theirs) setTenant(theirs);
        action.setOutcome({ ok: false, text: `Someone else changed this business meanwhile${theirs ? ` (its commission is ${theirs.commissionPercent}%)` : ""}. Your ${commission}% is still in the field: save again to apply it.` });
      }
    }
  }

  return (
    <div class="admin-page">
      <p>
        <Link href="/admin/platform">All businesses</Link>
      </p>
      <Loaded loading={!tenant && !error} error={error}>
        {tenant && (
          <>
            <h1>{tenant.name}</h1>
            <dl class="summary">
              <dt>Slug</dt>
              <dd>{tenant.slug}</dd>
              <dt>State</dt>
              <dd>{tenant.active ? "Active" : "Inactive"}</dd>
              <dt>Stripe Connect</dt>
              <dd>
                {CONNECT_LABELS[tenant.connectState] ?? tenant.connectState}
                {tenant.stripeAccountId ? ` (${tenant.stripeAccountId})` : ""}
              </dd>
              <dt>Currency</dt>
              <dd>{tenant.currency.toUpperCase()}</dd>
              <dt>Time zone</dt>
              <dd>{tenant.timezone}</dd>
            </dl>
            <section aria-labelledby="commission-heading">
              <h2 id="commission-heading">Commission</h2>
              <form onSubmit={saveCommission} noValidate class="row-actions">
                <Field label="Commission (%)" value={commission} onInput={setCommission} error={commissionError ?? action.fields.commissionPercent ?? null} inputMode="decimal" hint="Applies to bookings made from now on." />
                <button type="submit" class="button" aria-disabled={action.busy ? "true" : undefined}>
                  Save the commission
                </button>
              </form>
              <OutcomeLine outcome={action.outcome} />
            </section>
            <section aria-labelledby="activation-heading">
              <h2 id="activation-heading">Activation</h2>
              <ActiveToggle request={request} tenant={tenant} action={toggle} onChange={setTenant} />
              <OutcomeLine outcome={toggle.outcome} />
            </section>
          </>
        )}
      </Loaded>
    </div>
  );
}
