import { describe, expect, it } from "vitest";
import { parseConfig, readConfig } from "./config";

describe("page config", () => {
  it("reads the gateway's JSON", () => {
    document.head.innerHTML =
      '<script type="application/json" id="mais-config">{"page":"book","embedded":true,"publicKey":"pk_1","parentOrigin":"https://host.example","widgetId":"w_1"}</script>';
    expect(readConfig()).toEqual({ page: "book", embedded: true, publicKey: "pk_1", parentOrigin: "https://host.example", widgetId: "w_1" });
  });

  it("is the unavailable page when the config is missing or unreadable", () => {
    document.head.innerHTML = "";
    expect(readConfig().page).toBe("unavailable");
    expect(parseConfig({ page: "admin" }).page).toBe("unavailable");
  });

  it("drops a parent origin that is not an origin, and a widget id of the wrong shape", () => {
    const config = parseConfig({ page: "book", embedded: true, parentOrigin: "https://host.example/path", widgetId: "a b" });
    expect(config.parentOrigin).toBeUndefined();
    expect(config.widgetId).toBeUndefined();
    expect(parseConfig({ page: "book", parentOrigin: "*" }).parentOrigin).toBeUndefined();
    expect(parseConfig({ page: "done", returnUrl: "javascript:alert(1)" }).returnUrl).toBeUndefined();
  });
});
