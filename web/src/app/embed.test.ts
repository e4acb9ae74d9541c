import { describe, expect, it } from "vitest";
import { createEmbed } from "./embed";

const HOST = "https://host.example";

function fakeWindow() {
  const posted: { message: unknown; target: string }[] = [];
  const parent = { postMessage: (message: unknown, target: string) => posted.push({ message, target }) };
  const listeners: ((event: MessageEvent) => void)[] = [];
  const win = {
    parent,
    document,
    addEventListener: (_: string, fn: (event: MessageEvent) => void) => listeners.push(fn),
    removeEventListener: (_: string, fn: (event: MessageEvent) => void) => listeners.splice(listeners.indexOf(fn), 1),
    requestAnimationFrame: (fn: () => void) => (fn(), 1),
    cancelAnimationFrame: () => {},
  };
  const deliver = (event: Partial<MessageEvent>) => listeners.forEach((fn) => fn(event as MessageEvent));
  return { win: win as unknown as Window, parent, posted, deliver };
}

const opened = { mais: 1, widget: "w1", type: "opened", detail: {} };

describe("the app's side of the message protocol", () => {
  it("posts only to the host's origin, as its widget, with the version", () => {
    const fake = fakeWindow();
    createEmbed({ parentOrigin: HOST, widgetId: "w1" }, fake.win).post("ready", { tenant: "Rose" });
    expect(fake.posted).toEqual([{ message: { mais: 1, widget: "w1", type: "ready", detail: { tenant: "Rose" } }, target: HOST }]);
  });

  it("posts nothing without a parent origin or a widget id", () => {
    for (const options of [{ widgetId: "w1" }, { parentOrigin: HOST }, {}]) {
      const fake = fakeWindow();
      const embed = createEmbed(options, fake.win);
      embed.post("ready", { tenant: "Rose" });
      expect(embed.connected).toBe(false);
      expect(fake.posted).toEqual([]);
    }
  });

  it("accepts the host's message for this widget", () => {
    const fake = fakeWindow();
    const got: unknown[] = [];
    createEmbed({ parentOrigin: HOST, widgetId: "w1" }, fake.win).onHost((m) => got.push(m.type));
    fake.deliver({ origin: HOST, source: fake.parent as unknown as Window, data: opened });
    expect(got).toEqual(["opened"]);
  });

  it("ignores a foreign origin, another window, another version or widget, and unknown types", () => {
    const fake = fakeWindow();
    const got: unknown[] = [];
    createEmbed({ parentOrigin: HOST, widgetId: "w1" }, fake.win).onHost((m) => got.push(m));
    const parent = fake.parent as unknown as Window;
    fake.deliver({ origin: "https://evil.example", source: parent, data: opened });
    fake.deliver({ origin: HOST, source: {} as Window, data: opened });
    fake.deliver({ origin: HOST, source: null, data: opened });
    fake.deliver({ origin: HOST, source: parent, data: { ...opened, mais: 2 } });
    fake.deliver({ origin: HOST, source: parent, data: { ...opened, widget: "w2" } });
    fake.deliver({ origin: HOST, source: parent, data: { ...opened, type: "navigate" } });
    fake.deliver({ origin: HOST, source: parent, data: "opened" });
    expect(got).toEqual([]);
  });

  it("stops listening when unsubscribed", () => {
    const fake = fakeWindow();
    const got: unknown[] = [];
    const stop = createEmbed({ parentOrigin: HOST, widgetId: "w1" }, fake.win).onHost((m) => got.push(m));
    stop();
    fake.deliver({ origin: HOST, source: fake.parent as unknown as Window, data: opened });
    expect(got).toEqual([]);
  });

  it("posts the content's height when it changes, once per change", () => {
    const fake = fakeWindow();
    const observers: (() => void)[] = [];
    const original = globalThis.ResizeObserver;
    globalThis.ResizeObserver = class {
      constructor(callback: () => void) {
        observers.push(callback);
      }
      observe() {}
      disconnect() {}
      unobserve() {}
    } as unknown as typeof ResizeObserver;
    try {
      let height = 300.2;
      const root = { getBoundingClientRect: () => ({ height }) } as HTMLElement;
      createEmbed({ parentOrigin: HOST, widgetId: "w1" }, fake.win).watchHeight(root);
      observers[0]();
      observers[0]();
      height = 512;
      observers[0]();
      expect(fake.posted.map((p) => p.message)).toEqual([
        { mais: 1, widget: "w1", type: "resize", detail: { height: 301 } },
        { mais: 1, widget: "w1", type: "resize", detail: { height: 512 } },
      ]);
    } finally {
      globalThis.ResizeObserver = original;
    }
  });

  it("measures once per animation frame however many resizes came before it", () => {
    const fake = fakeWindow();
    const frames: (() => void)[] = [];
    (fake.win as unknown as { requestAnimationFrame: (fn: () => void) => number }).requestAnimationFrame = (fn) => frames.push(fn);
    const observers: (() => void)[] = [];
    const original = globalThis.ResizeObserver;
    globalThis.ResizeObserver = class {
      constructor(callback: () => void) {
        observers.push(callback);
      }
      observe() {}
      disconnect() {}
      unobserve() {}
    } as unknown as typeof ResizeObserver;
    try {
      let measured = 0;
      const root = { getBoundingClientRect: () => ({ height: 100 + ++measured }) } as HTMLElement;
      createEmbed({ parentOrigin: HOST, widgetId: "w1" }, fake.win).watchHeight(root);
      observers[0]();
      observers[0]();
      observers[0]();
      expect(frames).toHaveLength(1);
      frames[0]();
      expect(measured).toBe(1);
      expect(fake.posted).toHaveLength(1);
    } finally {
      globalThis.ResizeObserver = original;
    }
  });
});
