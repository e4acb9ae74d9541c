// The loader script a tenant's site includes:
//   <script src="{platform}/widget/v1/mais.js" data-tenant-key="pk_live_..." async></script>
// It mounts every [data-mais-booking] (inline) and [data-mais-button] (popup) element and defines
// window.MAIS (nothing else global). Loaded twice, the first copy's namespace does the work, so every
// element still gets exactly one iframe.
import { createMais, findScript, platformOf } from "./widget";

const script = findScript(document);
if (script) {
  const mais = (window.MAIS ||= createMais(platformOf(script.src), script.dataset.tenantKey));
  const mountAll = () => document.querySelectorAll("[data-mais-booking],[data-mais-button]").forEach(mais.mount);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mountAll);
  else mountAll();
}
