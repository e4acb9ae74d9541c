// The couple's pages: one shell, one bundle. The gateway injects the page's config; this renders the
// page it names and, inside the widget's iframe, talks to the host page (embed.ts).
import { render } from "preact";
import { createApi } from "../shared/api";
import { App } from "./App";
import { applyBranding } from "./branding";
import { readConfig } from "./config";
import { createEmbed } from "./embed";
import { userLocale } from "./money";
import "./styles.css";

const config = readConfig();
const embed = createEmbed(config.embedded ? { parentOrigin: config.parentOrigin, widgetId: config.widgetId } : {});
const root = document.documentElement;
if (config.embedded) root.classList.add("embedded");
applyBranding(null);

// Between `opened` and `closed` the frame is inside the host's popup dialog. Keys pressed in a
// cross-origin frame never reach the host, so Escape here asks the loader to close the dialog.
let inPopup = false;
embed.onHost((message) => {
  inPopup = message.type === "opened";
  // The popup opened: the couple's focus goes to the heading of what is on screen now.
  if (inPopup) document.querySelector<HTMLElement>("[data-step-heading]")?.focus();
});
document.addEventListener("keydown", (event) => {
  if (inPopup && event.key === "Escape" && !event.defaultPrevented) embed.post("close", {});
});
embed.watchHeight();

const api = createApi({ publicKey: config.publicKey });
render(
  <App context={{ api, embed, config, locale: userLocale(), assign: (url) => window.location.assign(url) }} />,
  document.getElementById("app")!,
);
