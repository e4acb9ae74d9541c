// The loader script as a host page runs it: it finds itself, mounts every widget element, defines
// window.MAIS, and running it a second time (the snippet pasted twice) changes nothing.
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

// happy-dom's page console is Node's own (see widget.test.ts): it says it loads no iframe or script.
const pageConsole: Console = (await import(["node", "console"].join(":"))).default;

async function runScript(): Promise<void> {
  vi.resetModules();
  await import("./mais");
}

describe("the loader script", () => {
  beforeAll(() => {
    vi.spyOn(pageConsole, "error").mockImplementation(() => {});
    document.body.innerHTML = `
      <div id="inline" data-mais-booking></div>
      <div id="other" data-mais-booking data-tenant-key="pk_test_other"></div>
      <button id="popup" data-mais-button>Book now</button>`;
    const script = document.createElement("script");
    script.src = "https://platform.test/widget/v1/mais.js";
    script.dataset.tenantKey = "pk_test_rose";
    document.head.append(script);
  });

  afterAll(() => {
    vi.restoreAllMocks();
    delete window.MAIS;
  });

  it("mounts every widget element with the script's key unless the element has its own", async () => {
    await runScript();
    expect(window.MAIS?.version).toBe(1);
    const key = (id: string) =>
      new URL(document.querySelector<HTMLIFrameElement>(`#${id} iframe`)!.src).searchParams.get("key");
    expect(key("inline")).toBe("pk_test_rose");
    expect(key("other")).toBe("pk_test_other");
    expect(document.querySelector("#popup")!.getAttribute("aria-haspopup")).toBe("dialog");
  });

  it("loaded twice, every element still has one iframe and one popup", async () => {
    const first = window.MAIS;
    await runScript();
    expect(window.MAIS).toBe(first);
    expect(document.querySelectorAll("#inline iframe")).toHaveLength(1);
    document.querySelector<HTMLButtonElement>("#popup")!.click();
    expect(document.querySelectorAll("dialog")).toHaveLength(1);
    expect(document.querySelectorAll("dialog iframe")).toHaveLength(1);
  });

  it("MAIS.mount makes a widget of an element added later", () => {
    const late = document.createElement("div");
    late.setAttribute("data-mais-booking", "");
    document.body.append(late);
    window.MAIS!.mount(late);
    window.MAIS!.mount(late);
    expect(late.querySelectorAll("iframe")).toHaveLength(1);
  });
});
