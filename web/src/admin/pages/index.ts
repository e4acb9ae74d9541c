// admin-ui-2's pages (catalog, settings, payments, team, exports, platform): the router shows every
// entry of this list. Each page takes the API call as a prop (request.ts), so that its tests pass a fake.
import type { ComponentType } from "preact";
import { Catalog } from "./Catalog";
import { PlatformStats } from "./PlatformStats";
import { PlatformTenant, PlatformTenants } from "./PlatformTenants";
import { Settings } from "./Settings";
import type { PageProps } from "./request";

export interface RegisteredPage {
  /** Under /admin, with ":name" segments. */
  path: string;
  title: string;
  component: ComponentType<PageProps>;
  role: "tenant_admin" | "platform_admin";
  nav?: boolean;
}

export const pages: RegisteredPage[] = [{ path: "/admin/catalog", title: "Catalog", component: Catalog, role: "tenant_admin" },
  { path: "/admin/settings", title: "Settings", component: Settings, role: "tenant_admin" },
  { path: "/admin/platform", title: "Tenants", component: PlatformTenants, role: "platform_admin" },
  { path: "/admin/platform/tenants/:id", title: "Tenant", component: PlatformTenant, role: "platform_admin", nav: false },
  { path: "/admin/platform/stats", title: "Statistics", component: PlatformStats, role: "platform_admin" },
];
