// The shape of a dashboard page the router can show: its path pattern (":name" segments), its title
// (the nav's and the document's), its component, and who may open it.
import type { ComponentType } from "preact";
import type { Role } from "../api";

export interface AdminPageProps {
  /** The path's `:name` segments, decoded. */
  params: Record<string, string>;
}

export interface AdminPage {
  /** Under /admin, e.g. "/admin/catalog" or "/admin/platform/tenants/:id". */
  path: string;
  title: string;
  component: ComponentType<AdminPageProps>;
  role: Role;
  /** Whether the side nav lists it; by default pages without `:params` are listed. */
  nav?: boolean;
}
