// What every page needs: the API client, the host (when embedded), the page config and the locale.
import { createContext } from "preact";
import { useContext } from "preact/hooks";
import type { Api } from "../shared/api";
import type { PageConfig } from "./config";
import type { Embed } from "./embed";

export interface AppContext {
  api: Api;
  embed: Embed;
  config: PageConfig;
  locale: string;
  /** Sends the top window to another page (Stripe Checkout); standalone pages assign location. */
  assign: (url: string) => void;
}

export const Ctx = createContext<AppContext | null>(null);

export function useApp(): AppContext {
  const value = useContext(Ctx);
  if (!value) throw new Error("no app context");
  return value;
}
