import { beforeEach, describe, expect, it, vi } from "vitest";
import { Settings } from "./Settings";
import { addOrigin, contrastNote, embedSnippet, flatten, normalizeOrigin, previewUrl, unflatten } from "./settings";
import { alertText, button, click, conflict, fakeRequest, field, mount, statusText, submit, text, type } from "./testing";

const TENANT = {
  id: "t1", slug: "rose", name: "Rose & Thorn", active: true, currency: "usd", timezone: "UTC", contactEmail: "hi@rose.test",
  branding: { primaryColor: "#ffee00", secondaryColor: "#b08d57", logoUrl: null, font: "" },
  policy: { minNoticeDays: 2, maxAdvanceDays: 365, holdMinutes: 30, reminderDays: 7, coupleCancelDays: 30, maxLiveHoldsPerEmail: 0, maxLiveHoldsPerAddress: 0 },
  allowedOrigins: ["https://rose.test"], connectState: "pending", stripeAccountId: "acct_1", version: 7,
};

describe("settings rules", () => {
  it("keeps origins as the gateway compares them", () => {
    expect(normalizeOrigin("https://www.Example.com/")).toEqual({ origin: "https://www.example.com" });
    expect(normalizeOrigin("http://localhost:8090")).toEqual({ origin: "http://localhost:8090" });
    expect(normalizeOrigin("https://example.com/book")).toEqual({ error: "Only the site’s origin counts: https://example.com (without a path)." });
    expect("error" in normalizeOrigin("example.com")).toBe(true);
    expect("error" in normalizeOrigin("ftp://example.com")).toBe(true);
    expect(addOrigin(["https://a.test"], "https://a.test/")).toEqual({ error: "https://a.test is already in the list." });
    expect(addOrigin(["https://a.test"], "https://b.test")).toEqual({ list: ["https://a.test", "https://b.test"] });
  });

  it("explains the contrast fallback", () => {
    expect(contrastNote("#ffee00")).toMatchObject({ ok: false });
    expect(contrastNote("#ffee00").text).toContain("below the 4.5:1");
    expect(contrastNote("#ffee00").text).toContain("#1f4d3a");
    expect(contrastNote("#1a3b5c")).toMatchObject({ ok: true });
    expect(contrastNote("blue").ok).toBe(false);
  });

  it("makes the snippet and the preview's address", () => {
    const snippet = embedSnippet("https://book.example.com", "pk_live_1");
    expect(snippet).toContain('<script src="https://book.example.com/widget/v1/mais.js" data-tenant-key="pk_live_1" async></script>');
    expect(snippet).toContain("<div data-mais-booking></div>");
    expect(previewUrl("https://book.example.com", "pk_live_1")).toBe("/widget/v1/frame?key=pk_live_1&origin=https%3A%2F%2Fbook.example.com&widget=preview");
  });

  it("flattens the nested settings for the forms and back", () => {
    const flat = flatten({ name: "x", branding: { font: "Georgia" }, allowedOrigins: ["a"] });
    expect(flat).toEqual({ name: "x", "branding.font": "Georgia", allowedOrigins: ["a"] });
    expect(unflatten({ "policy.holdMinutes": 20, "policy.minNoticeDays": 1, name: "y" })).toEqual({ policy: { holdMinutes: 20, minNoticeDays: 1 }, name: "y" });
  });
});

function api(overrides: Record<string, unknown> = {}) {
  return fakeRequest({
    "GET /v1/tenant-admin/settings": TENANT,
    "GET /v1/tenant-admin/stripe/connect": { connectState: "pending", stripeAccountId: "acct_1" },
    ...overrides,
  });
}

describe("Settings page", () => {
  beforeEach(() => void (document.body.innerHTML = ""));

  it("saves a policy change nested, with the version", async () => {
    const fake = api({ "PATCH /v1/tenant-admin/settings": { ...TENANT, policy: { ...TENANT.policy, holdMinutes: 20 }, version: 8 } });
    const root = await mount(<Settings request={fake.request} />);
    await type(field(root, "Hold a date while paying (minutes)"), "20");
    await click(button(root, "Save booking policy"));
    expect(fake.calls.find((c) => c.method === "PATCH")!.body).toEqual({ policy: { holdMinutes: 20 }, version: 7 });
    expect(statusText(root)).toContain("The booking policy was saved.");
  });

  it("a stale save names what the other admin changed and keeps the admin's typing", async () => {
    const theirs = { ...TENANT, name: "Rose and Thorn", contactEmail: "new@rose.test", version: 8 };
    const fake = api({ "PATCH /v1/tenant-admin/settings": () => { throw conflict(); } });
    const root = await mount(<Settings request={fake.request} />);
    fake.answers["GET /v1/tenant-admin/settings"] = theirs;
    await type(field(root, "Business name"), "Rose & Thorn Studio");
    await click(button(root, "Save business details"));
    expect(alertText(root)).toContain("Someone else changed the settings meanwhile. They changed: Business name, Contact email");
    expect(field(root, "Business name").value).toBe("Rose & Thorn Studio");
    expect(field(root, "Contact email (Reply-To of the couples’ emails)").value).toBe("new@rose.test");
    fake.answers["PATCH /v1/tenant-admin/settings"] = { ...theirs, name: "Rose & Thorn Studio", version: 9 };
    await click(button(root, "Save business details"));
    expect(fake.calls.filter((c) => c.method === "PATCH")[1].body).toEqual({ name: "Rose & Thorn Studio", version: 8 });
  });

  it("explains the contrast fallback as the colour is typed", async () => {
    const root = await mount(<Settings request={api().request} />);
    expect(root.querySelector("[data-contrast]")!.getAttribute("data-contrast")).toBe("fallback");
    await type(field(root, "Primary colour (buttons)"), "#1a3b5c");
    expect(root.querySelector("[data-contrast]")!.getAttribute("data-contrast")).toBe("ok");
  });

  it("edits the allowed origins and refuses a path", async () => {
    const fake = api({ "PATCH /v1/tenant-admin/settings": (c: { body: { allowedOrigins: string[] } }) => ({ ...TENANT, allowedOrigins: c.body.allowedOrigins, version: 8 }) });
    const root = await mount(<Settings request={fake.request} />);
    await type(field(root, "Add a site"), "https://shop.test/page");
    await submit(field(root, "Add a site").closest("form")!);
    expect(text(root.querySelector("#settings-origins")!.parentElement!.querySelector(".field-error"))).toContain("without a path");
    await type(field(root, "Add a site"), "https://shop.test");
    await submit(field(root, "Add a site").closest("form")!);
    await click(button(root, "Remove https://rose.test"));
    await click(button(root, "Save the list of sites"));
    expect(fake.calls.find((c) => c.method === "PATCH")!.body).toEqual({ allowedOrigins: ["https://shop.test"], version: 7 });
    expect(statusText(root)).toContain("The list of sites was saved.");
  });

  it("rotates the keys, shows them once, and embeds and previews with the new public key", async () => {
    const fake = api({ "POST /v1/tenant-admin/api-keys/rotate": { publicKey: "pk_live_new", secretKey: "sk_live_new", previousKeyExpiresAt: "2030-01-02T00:00:00Z" } });
    const root = await mount(<Settings request={fake.request} />);
    expect(root.querySelector("iframe")).toBeNull();
    await click(button(root, "Rotate the keys"));
    await click(button(root, "Yes, rotate"));
    expect(fake.calls.find((c) => c.method === "POST")!.body).toEqual({});
    expect(text(root.querySelector(".keys"))).toContain("sk_live_new");
    expect(root.querySelector<HTMLIFrameElement>("iframe")!.getAttribute("src")).toContain("key=pk_live_new");
    expect(root.querySelector<HTMLTextAreaElement>("#embed-snippet")!.value).toContain('data-tenant-key="pk_live_new"');
    await click(button(root, "I have saved the secret key"));
    expect(text(root)).not.toContain("sk_live_new");
  });

  it("copies the snippet", async () => {
    const writeText = vi.fn(async () => undefined);
    Object.defineProperty(navigator, "clipboard", { value: { writeText }, configurable: true });
    const root = await mount(<Settings request={api().request} />);
    await type(field(root, "Public key"), "pk_live_9");
    await click(button(root, "Copy the snippet"));
    expect(writeText).toHaveBeenCalledWith(expect.stringContaining('data-tenant-key="pk_live_9"'));
    expect(statusText(root)).toContain("Copied.");
  });

  it("offers Stripe onboarding and its link", async () => {
    const fake = api({ "POST /v1/tenant-admin/stripe/connect": { stripeAccountId: "acct_1", onboardingUrl: "https://connect.example/onboard/1" } });
    const root = await mount(<Settings request={fake.request} />);
    expect(text(root.querySelector("[data-connect]"))).toContain("Started, not finished");
    await click(button(root, "Continue Stripe onboarding"));
    expect(root.querySelector<HTMLAnchorElement>('a[href="https://connect.example/onboard/1"]')).not.toBeNull();
  });
});
