// The dashboards of tenant admins and the platform admin, served at /admin/ by the gateway with
// #mais-config {page: "admin"}; anything else there means the page was not served for the dashboards.
import { render } from "preact";
import { userLocale } from "../app/money";
import { createAdminApi } from "./api";
import { App, SIGNED_OUT_EVENT } from "./App";
import "../app/styles.css";
import "./admin.css";

export function readAdminConfig(doc: Document = document): { page: string } | null {
  try {
    const raw = JSON.parse(doc.getElementById("mais-config")?.textContent ?? "");
    return raw && typeof raw === "object" && typeof raw.page === "string" ? { page: raw.page } : null;
  } catch {
    return null;
  }
}

const config = readAdminConfig();
const root = document.getElementById("admin")!;
if (config?.page !== "admin") {
  render(
    <main class="auth-main" id="main">
      <h1>MAIS admin</h1>
      <p role="alert" class="alert">
        The dashboards could not start here. Please open them from the platform's /admin/ address.
      </p>
    </main>,
    root,
  );
} else {
  const api = createAdminApi({ onUnauthorized: () => window.dispatchEvent(new Event(SIGNED_OUT_EVENT)) });
  render(<App api={api} locale={userLocale()} />, root);
}
