// admin-ui-2's pages (catalog, settings, payments, team, exports, platform): the router shows every
// entry of this list. Owned by admin-ui-2; the shell only imports it. Each page takes the API call as a
// prop (request.ts) so that its tests pass a fake; here it is bound to the shell's client.
import { h, type ComponentType } from "preact";
import { useMemo } from "preact/hooks";
import { useAdmin } from "../context";
import { navigate } from "../router";
import { Catalog } from "./Catalog";
import { Exports } from "./Exports";
import { Payments } from "./Payments";
import { PlatformStats } from "./PlatformStats";
import { PlatformTenant, PlatformTenants } from "./PlatformTenants";
import { PlatformWebhooks } from "./PlatformWebhooks";
import type { AdminRequest, Method, PageProps } from "./request";
import { Resources } from "./Resources";
import { Settings } from "./Settings";
import { Team } from "./Team";
import type { AdminPage, AdminPageProps } from "./types";

export type { AdminPage, AdminPageProps } from "./types";

/** The shell's client as the pages' one call. */
export function useAdminRequest(): AdminRequest {
  const { api } = useAdmin();
  return useMemo<AdminRequest>(
    () =>
      <T,>(method: Method, path: string, body?: unknown, options?: { headers?: Record<string, string> }) =>
        api.request<T>(path, { method, body, headers: options?.headers }),
    [api],
  );
}

function bound(Page: ComponentType<PageProps>): ComponentType<AdminPageProps> {
  return function BoundPage({ params }: AdminPageProps) {
    return h(Page, { request: useAdminRequest(), params, navigate: (to: string) => navigate(to) });
  };
}

const page = (path: string, title: string, component: ComponentType<PageProps>, role: AdminPage["role"], nav?: boolean): AdminPage => ({
  path,
  title,
  component: bound(component),
  role,
  ...(nav === undefined ? {} : { nav }),
});

export const pages: AdminPage[] = [
  page("/admin/catalog", "Catalog", Catalog, "tenant_admin"),
  page("/admin/resources", "Resources & hours", Resources, "tenant_admin"),
  page("/admin/settings", "Settings", Settings, "tenant_admin"),
  page("/admin/payments", "Payments", Payments, "tenant_admin"),
  page("/admin/team", "Team", Team, "tenant_admin"),
  page("/admin/exports", "Exports", Exports, "tenant_admin"),
  page("/admin/platform", "Tenants", PlatformTenants, "platform_admin"),
  page("/admin/platform/tenants/:id", "Tenant", PlatformTenant, "platform_admin", false),
  page("/admin/platform/stats", "Statistics", PlatformStats, "platform_admin"),
  page("/admin/platform/webhooks", "Webhooks", PlatformWebhooks, "platform_admin"),
];
