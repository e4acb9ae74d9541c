// /admin/catalog: the tenant's packages, add-ons and segments (business lines). Every object carries a
// version: the editor saves against it (Editor.tsx). Deleting follows the API's rules: a package sold
// with live bookings, or a segment that still has packages, answers 409 IN_USE, shown in words with
// what to do instead.
import { useEffect, useState } from "preact/hooks";
import { formatMoney } from "../../app/money";
import { ConfirmButton, OutcomeLine, PagedTable, useAction, usePaged } from "./common";
import type { FieldSpec } from "./editing";
import { Editor, type Versioned } from "./Editor";
import { photosCodec, type Photo } from "./photos";
import { packageTermsCodec, PAY_IN_FULL, type PaymentPolicy } from "./paymentTerms";
import { kindCodec, kindSummary, type PackageKind, type SlotTerms } from "./slotTerms";
import { allPages, isCode, withQuery, type AdminRequest, type Page, type PageProps } from "./request";

export interface AdminPackage extends Versioned {
  slug: string;
  title: string;
  description: string;
  priceCents: number;
  currency: string;
  active: boolean;
  sortOrder: number;
  segmentId: string | null;
  maxGuests: number | null;
  /** In the widget's order; the first is shown beside the package. */
  photos: Photo[];
  /** The package's own terms; null: the business's. */
  paymentPolicy: PaymentPolicy | null;
  /** A whole day, or a time-slot service with its terms (null for a whole day). */
  kind?: PackageKind;
  slot?: SlotTerms | null;
}

export interface AdminAddOn extends Versioned {
  slug: string;
  title: string;
  priceCents: number;
  currency: string;
  active: boolean;
  packageIds: string[];
}

export interface AdminSegment extends Versioned {
  slug: string;
  name: string;
  description: string;
  sortOrder: number;
  active: boolean;
}

const SLUG_HINT = "Lower-case letters, digits and dashes; part of links.";

export function packageSpecs(segments: AdminSegment[], currency = "usd"): FieldSpec[] {
  return [
    { key: "title", label: "Title", kind: "text", required: true },
    { key: "slug", label: "Slug", kind: "text", required: true, hint: SLUG_HINT },
    { key: "description", label: "Description", kind: "textarea", nullable: true },
    { key: "priceCents", label: "Price", kind: "money", required: true },
    { key: "kind", label: "Booked as", kind: "slot", codec: kindCodec },
    {
      key: "segmentId",
      label: "Segment",
      kind: "select",
      nullable: true,
      options: [{ value: "", label: "No segment" }, ...segments.map((s) => ({ value: s.id, label: s.name }))],
    },
    { key: "maxGuests", label: "Maximum guests", kind: "int", nullable: true, hint: "Empty: no limit." },
    { key: "sortOrder", label: "Sort order", kind: "int", hint: "Lower comes first." },
    { key: "active", label: "On offer (active)", kind: "bool" },
    { key: "paymentPolicy", label: "Payment terms", kind: "terms", codec: packageTermsCodec(currency) },
    { key: "photos", label: "Photos", kind: "photos", codec: photosCodec() },
  ];
}

export function addOnSpecs(packages: AdminPackage[]): FieldSpec[] {
  return [
    { key: "title", label: "Title", kind: "text", required: true },
    { key: "slug", label: "Slug", kind: "text", required: true, hint: SLUG_HINT },
    { key: "priceCents", label: "Price", kind: "money", required: true },
    { key: "packageIds", label: "Offered with", kind: "checks", options: packages.map((p) => ({ value: p.id, label: p.title })) },
    { key: "active", label: "On offer (active)", kind: "bool" },
  ];
}

export const SEGMENT_SPECS: FieldSpec[] = [
  { key: "name", label: "Name", kind: "text", required: true },
  { key: "slug", label: "Slug", kind: "text", required: true, hint: SLUG_HINT },
  { key: "description", label: "Description", kind: "textarea", nullable: true },
  { key: "sortOrder", label: "Sort order", kind: "int", hint: "Lower comes first." },
  { key: "active", label: "Shown to couples (active)", kind: "bool" },
];

/** What a refused delete means for the admin, in words. */
export function deleteRefusal(noun: string, error: unknown, message: string): string {
  if (isCode(error, "IN_USE")) {
    if (noun === "package") return `${message}. This package was sold with bookings that are still live: take it off offer instead (untick “On offer” and save).`;
    if (noun === "segment") return `${message}. Move its packages to another segment (or delete them) first.`;
  }
  return message;
}

export function Catalog({ request }: PageProps) {
  const [currency, setCurrency] = useState("usd");
  const [businessTerms, setBusinessTerms] = useState<PaymentPolicy>(PAY_IN_FULL);
  const [segments, setSegments] = useState<AdminSegment[]>([]);
  const [packages, setPackages] = useState<AdminPackage[]>([]);
  const [version, setVersion] = useState(0);
  const changed = () => setVersion((v) => v + 1);
  useEffect(() => {
    request<{ currency: string; paymentPolicy?: PaymentPolicy }>("GET", "/v1/tenant-admin/settings").then(
      (s) => {
        if (s.currency) setCurrency(s.currency);
        if (s.paymentPolicy) setBusinessTerms(s.paymentPolicy);
      },
      () => undefined,
    );
  }, []);
  useEffect(() => {
    allPages<AdminSegment>(request, "/v1/tenant-admin/segments").then(setSegments, () => undefined);
    allPages<AdminPackage>(request, "/v1/tenant-admin/packages").then(setPackages, () => undefined);
  }, [version]);
  return (
    <div class="admin-page">
      <h1>Catalog</h1>
      <p>What couples can book: packages with their prices, add-ons offered with them, and the segments (business lines) that group packages in the widget’s tabs.</p>
      <Collection<AdminPackage>
        request={request}
        noun="package"
        title="Packages"
        basePath="/v1/tenant-admin/packages"
        specs={packageSpecs(segments, currency)}
        currency={currency}
        businessTerms={businessTerms}
        version={version}
        onChange={changed}
        columns={[
          ["Title", (p) => p.title],
          ["Price", (p) => formatMoney(p.priceCents, p.currency)],
          ["Booked as", (p) => kindSummary(p.kind, p.slot)],
          ["Segment", (p) => segments.find((s) => s.id === p.segmentId)?.name ?? "—"],
          ["Payment terms", (p) => (p.paymentPolicy ? "Its own" : "The business’s")],
          ["On offer", (p) => (p.active ? "Yes" : "No")],
        ]}
      />
      <Collection<AdminAddOn>
        request={request}
        noun="add-on"
        title="Add-ons"
        basePath="/v1/tenant-admin/add-ons"
        specs={addOnSpecs(packages)}
        currency={currency}
        version={version}
        onChange={changed}
        columns={[
          ["Title", (a) => a.title],
          ["Price", (a) => formatMoney(a.priceCents, a.currency)],
          ["Offered with", (a) => a.packageIds.map((id) => packages.find((p) => p.id === id)?.title ?? id).join(", ") || "No package"],
          ["On offer", (a) => (a.active ? "Yes" : "No")],
        ]}
      />
      <Collection<AdminSegment>
        request={request}
        noun="segment"
        title="Segments"
        basePath="/v1/tenant-admin/segments"
        specs={SEGMENT_SPECS}
        currency={currency}
        version={version}
        onChange={changed}
        columns={[
          ["Name", (s) => s.name],
          ["Slug", (s) => s.slug],
          ["Shown", (s) => (s.active ? "Yes" : "No")],
        ]}
      />
    </div>
  );
}

interface CollectionProps<T extends Versioned> {
  request: AdminRequest;
  noun: string;
  title: string;
  basePath: string;
  specs: FieldSpec[];
  currency: string;
  businessTerms?: PaymentPolicy;
  columns: [string, (item: T) => string][];
  version: number;
  onChange: () => void;
}

function Collection<T extends Versioned>(props: CollectionProps<T>) {
  const { request, noun, basePath } = props;
  const paged = usePaged<T>((cursor) => request<Page<T>>("GET", withQuery(basePath, { limit: 20, cursor })), [props.version]);
  // null: no editor open; "new": a new object; else the object being edited.
  const [editing, setEditing] = useState<T | "new" | null>(null);
  const [opened, setOpened] = useState(0);
  const open = (what: T | "new") => {
    setEditing(what);
    setOpened((n) => n + 1);
  };
  const action = useAction();
  const name = (item: T) => String(item.title ?? item.name ?? item.slug);

  function remove(item: T) {
    action
      .run(() => request("DELETE", `${basePath}/${encodeURIComponent(item.id)}`), `The ${noun} “${name(item)}” was deleted.`)
      .then(
        () => {
          if (editing !== null && editing !== "new" && editing.id === item.id) setEditing(null);
          props.onChange();
        },
        (error) => action.setOutcome({ ok: false, text: deleteRefusal(noun, error, errorMessage(error)) }),
      );
  }

  return (
    <section aria-labelledby={`${noun}-heading`}>
      <h2 id={`${noun}-heading`}>{props.title}</h2>
      <PagedTable paged={paged} label={props.title} columns={[...props.columns.map(([label]) => label), "Actions"]} empty={`No ${noun}s yet.`}>
        {(items) =>
          items.map((item) => (
            <tr key={item.id}>
              {props.columns.map(([label, cell]) => (
                <td key={label}>{cell(item)}</td>
              ))}
              <td>
                <span class="row-actions">
                  <button type="button" class="button secondary" aria-label={`Edit ${name(item)}`} onClick={() => open(item)}>
                    Edit
                  </button>
                  <ConfirmButton label="Delete" name={`Delete ${name(item)}`} question={`Delete the ${noun} “${name(item)}”?`} confirm="Yes, delete" busy={action.busy} onConfirm={() => remove(item)} />
                </span>
              </td>
            </tr>
          ))
        }
      </PagedTable>
      <OutcomeLine outcome={action.outcome} />
      {editing === null ? (
        <button type="button" class="button" onClick={() => open("new")}>
          New {noun}
        </button>
      ) : (
        <Editor<T>
          key={opened}
          request={request}
          noun={noun}
          basePath={basePath}
          specs={props.specs}
          object={editing === "new" ? null : editing}
          currency={props.currency}
          businessTerms={props.businessTerms}
          onSaved={(saved, created) => {
            if (!created) paged.replace((items) => items.map((i) => (i.id === saved.id ? saved : i)));
            props.onChange();
          }}
          onClose={() => setEditing(null)}
        />
      )}
    </section>
  );
}

function errorMessage(error: unknown): string {
  const text = error instanceof Error && error.message ? error.message : "The request failed";
  return text.charAt(0).toUpperCase() + text.slice(1).replace(/\.$/, "");
}
