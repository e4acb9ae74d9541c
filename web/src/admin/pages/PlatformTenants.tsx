// /admin/platform (tenants) and /admin/platform/tenants/{id}: every business, searched and paged; a new
// one with its keys and first admin's password shown once; commission, activation and Connect state.
import { Link } from "../router";
import { useEffect, useState } from "preact/hooks";
import { ConfirmButton, CopyButton, Field, Loaded, OutcomeLine, Pager, useAction, usePaged } from "./common";
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

/** Whether a tenant matches the search (name or slug, any case, any order of words). */
export function matches(tenant: Pick<PlatformTenant, "name" | "slug">, search: string): boolean {
  const haystack = `${tenant.name} ${tenant.slug}`.toLowerCase();
  return search.toLowerCase().split(/\s+/).filter(Boolean).every((word) => haystack.includes(word));
}

/** A commission as the API takes it (0-100, at most two decimals), or why not. */
export function parseCommission(text: string): { percent: string } | { error: string } {
  const value = text.trim().replace(",", ".");
  if (!/^\d{1,3}(\.\d{1,2})?$/.test(value) || Number(value) > 100) return { error: "Write a percentage from 0 to 100, such as 12.5." };
  return { percent: value };
}

const PAGE_SIZE = 25;

export function PlatformTenants({ request }: PageProps) {
  const [search, setSearch] = useState("");
  const paged = usePaged<PlatformTenant>((cursor) => request<Page<PlatformTenant>>("GET", withQuery("/v1/admin/tenants", { limit: PAGE_SIZE, cursor })));
  const shown = paged.page?.items.filter((t) => matches(t, search)) ?? [];
  return (
    <div class="admin-page">
      <h1>Tenants</h1>
      <section aria-labelledby="tenants-heading">
        <h2 id="tenants-heading">Businesses</h2>
        <Field label="Search by name or slug" value={search} onInput={setSearch} hint="Searches the page shown; use Next page for more." type="text" />
        <Loaded loading={paged.loading && !paged.page} error={paged.error}>
          <p role="status" class="visually-hidden">
            {paged.page ? `${shown.length} of ${paged.page.items.length} businesses on this page` : ""}
          </p>
          <div class="table-wrap">
            <table class="list">
              <caption class="visually-hidden">Businesses</caption>
              <thead>
                <tr>
                  <th scope="col">Business</th>
                  <th scope="col">Slug</th>
                  <th scope="col" class="num">Commission</th>
                  <th scope="col">Stripe Connect</th>
                  <th scope="col">State</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {shown.map((tenant) => (
                  <TenantRow key={tenant.id} request={request} tenant={tenant} onChange={(next) => paged.replace((items) => items.map((t) => (t.id === next.id ? next : t)))} />
                ))}
              </tbody>
            </table>
          </div>
          {paged.page && shown.length === 0 && <p>{search ? "No business on this page matches." : "No business yet."}</p>}
        </Loaded>
        <Pager paged={paged} label="Businesses" />
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
