import axe from "axe-core";
import { beforeEach, describe, expect, it } from "vitest";
import { ApiError } from "../../shared/api";
import { Catalog } from "./Catalog";
import { button, click, fakeRequest, field, mount, statusText, submit, text, type } from "./testing";

const BARN = { url: "https://img.test/barn.jpg", alt: "The barn at dusk" };
const GARDEN = { url: "https://img.test/garden.jpg", alt: "Chairs in the walled garden" };
const PKG = { id: "p1", slug: "full", title: "Full day", description: "", priceCents: 240000, currency: "usd", active: true, sortOrder: 0, photos: [BARN, GARDEN], segmentId: null, maxGuests: null, paymentPolicy: null, version: 3 };

function api(overrides: Record<string, unknown> = {}) {
  return fakeRequest({
    "GET /v1/tenant-admin/settings": { currency: "usd" },
    "GET /v1/tenant-admin/segments*": { items: [], nextCursor: null },
    "GET /v1/tenant-admin/packages*": { items: [PKG], nextCursor: null },
    "GET /v1/tenant-admin/add-ons*": { items: [], nextCursor: null },
    "PATCH /v1/tenant-admin/packages/p1": (c: { body: object }) => ({ ...PKG, ...c.body, version: 4 }),
    ...overrides,
  });
}

const photo = (root: Element, n: number) => {
  const found = [...root.querySelectorAll("fieldset.photo")].find((f) => text(f.querySelector("legend")) === `Photo ${n}`);
  if (!found) throw new Error(`no Photo ${n}`);
  return found as HTMLElement;
};
const patches = (calls: { method: string; body: unknown }[]) => calls.filter((c) => c.method === "PATCH").map((c) => c.body);

async function editFullDay(fake: ReturnType<typeof api>) {
  const root = await mount(<Catalog request={fake.request} />);
  await click(button(root, "Edit Full day"));
  return root;
}

describe("package photos", () => {
  beforeEach(() => void (document.body.innerHTML = ""));

  it("adds a photo with its address and description, previews it, and saves it with the version", async () => {
    const fake = api();
    const root = await editFullDay(fake);
    await click(button(root, "Add a photo"));
    const third = photo(root, 3);
    expect(document.activeElement).toBe(field(third, "Address (https)"));
    await type(field(third, "Address (https)"), " https://img.test/first-dance.jpg ");
    await type(field(third, "Description (alt text)"), "The first dance under string lights");
    expect(third.querySelector("img")!.getAttribute("src")).toBe("https://img.test/first-dance.jpg");
    expect(third.querySelector("img")!.getAttribute("alt")).toBe("The first dance under string lights");
    await submit(root.querySelector("form")!);
    expect(patches(fake.calls)).toEqual([
      { photos: [BARN, GARDEN, { url: "https://img.test/first-dance.jpg", alt: "The first dance under string lights" }], version: 3 },
    ]);
    expect(statusText(root)).toContain("The package was saved.");
  });

  it("refuses a photo without a description, saying why, beside it", async () => {
    const fake = api();
    const root = await editFullDay(fake);
    await click(button(root, "Add a photo"));
    await type(field(photo(root, 3), "Address (https)"), "https://img.test/cake.jpg");
    await submit(root.querySelector("form")!);
    expect(patches(fake.calls)).toEqual([]);
    const alt = field(photo(root, 3), "Description (alt text)");
    expect(alt.getAttribute("aria-invalid")).toBe("true");
    const described = alt.getAttribute("aria-describedby")!.split(" ").map((id) => text(document.getElementById(id)));
    expect(described.join(" ")).toContain("couples who use a screen reader hear this text");
    expect(field(photo(root, 1), "Description (alt text)").getAttribute("aria-invalid")).toBeNull();
  });

  it("asks for an https address (the widget shows nothing else) and shows no preview of another", async () => {
    const fake = api();
    const root = await editFullDay(fake);
    await click(button(root, "Add a photo"));
    await type(field(photo(root, 3), "Address (https)"), "http://img.test/cake.jpg");
    await type(field(photo(root, 3), "Description (alt text)"), "The cake");
    expect(photo(root, 3).querySelector("img")).toBeNull();
    await submit(root.querySelector("form")!);
    expect(patches(fake.calls)).toEqual([]);
    expect(text(photo(root, 3))).toContain("Use an https:// address");
  });

  it("moves a photo down and up with the focus on it, and saves the new order", async () => {
    const fake = api();
    const root = await editFullDay(fake);
    expect(button(photo(root, 1), "Move up").disabled).toBe(true);
    await click(button(photo(root, 1), "Move down"));
    expect(field(photo(root, 1), "Description (alt text)").value).toBe(GARDEN.alt);
    expect(field(photo(root, 2), "Description (alt text)").value).toBe(BARN.alt);
    // The moved photo is last now: its Move down is disabled, so its Move up has the focus.
    expect(document.activeElement).toBe(button(photo(root, 2), "Move up"));
    expect(statusText(root)).toContain("Photo 1 is now photo 2 of 2.");
    await submit(root.querySelector("form")!);
    expect(patches(fake.calls)).toEqual([{ photos: [GARDEN, BARN], version: 3 }]);
  });

  it("removes a photo and saves the rest", async () => {
    const fake = api();
    const root = await editFullDay(fake);
    await click(button(photo(root, 1), "Remove"));
    expect(root.querySelectorAll("fieldset.photo").length).toBe(1);
    expect(field(photo(root, 1), "Description (alt text)").value).toBe(GARDEN.alt);
    expect(document.activeElement).toBe(button(photo(root, 1), "Remove"));
    await submit(root.querySelector("form")!);
    expect(patches(fake.calls)).toEqual([{ photos: [GARDEN], version: 3 }]);
  });

  it("shows the API's field errors beside the photo they name", async () => {
    const fake = api({
      "PATCH /v1/tenant-admin/packages/p1": () => {
        throw new ApiError(400, "VALIDATION_ERROR", "the package is not valid", [
          { field: "photos[1].url", message: "must be at most 2000 characters" },
          { field: "photos.0.alt", message: "String should have at most 200 characters" },
        ]);
      },
    });
    const root = await editFullDay(fake);
    await type(field(photo(root, 2), "Description (alt text)"), "Garden");
    await submit(root.querySelector("form")!);
    expect(field(photo(root, 2), "Address (https)").getAttribute("aria-invalid")).toBe("true");
    expect(text(photo(root, 2))).toContain("must be at most 2000 characters");
    expect(text(photo(root, 1))).toContain("String should have at most 200 characters");
    expect(text(photo(root, 1))).not.toContain("2000 characters");
  });

  it("has no axe violations with photos, one of them invalid", async () => {
    const fake = api();
    const root = await editFullDay(fake);
    await click(button(root, "Add a photo"));
    await submit(root.querySelector("form")!);
    const result = await axe.run(root, { rules: { "color-contrast": { enabled: false }, region: { enabled: false } } });
    expect(result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.html).join(" ")}`)).toEqual([]);
  });
});
