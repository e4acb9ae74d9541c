// What every dashboard page gets: the client, the signed-in admin, the locale, and a way to re-read
// the session (after a settings change renames the business, for instance).
import { createContext } from "preact";
import { useContext } from "preact/hooks";
import type { AdminApi, Me } from "./api";

export interface AdminContext {
  api: AdminApi;
  /** The signed-in admin (null on the signed-out pages). */
  me: Me | null;
  locale: string;
  /** Re-reads /v1/auth/me into `me`. */
  refreshMe: () => Promise<void>;
  /** Signed in (the sign-in page, with the answer of /v1/auth/me) or out (null). */
  setMe: (me: Me | null) => void;
}

/** Set by the sign-in page just before the dashboard replaces it: the dashboard's first page then
 * starts on its heading (the focused field is gone). A page load or reload leaves focus where the
 * browser puts it, so the skip link stays the first stop. */
export const arrival = { bySignIn: false };

export const Admin = createContext<AdminContext | null>(null);

export function useAdmin(): AdminContext {
  const value = useContext(Admin);
  if (!value) throw new Error("useAdmin outside the dashboards");
  return value;
}
