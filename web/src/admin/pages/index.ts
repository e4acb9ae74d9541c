// admin-ui-2's pages (catalog, settings, payments, team, exports, platform): the router shows every
// entry of this list. Owned by admin-ui-2; the shell only imports it.
import type { AdminPage } from "./types";

export type { AdminPage, AdminPageProps } from "./types";

export const pages: AdminPage[] = [];
