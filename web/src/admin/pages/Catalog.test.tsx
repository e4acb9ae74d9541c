import { beforeEach, describe, expect, it } from "vitest";
import { ApiError } from "../../shared/api";
import { Catalog } from "./Catalog";
import { alertText, button, click, conflict, fakeRequest, field, mount, statusText, submit, text, type } from "./testing";

const PKG = { id: "p1", slug: "full", title: "Full day", description: "", priceCents: 240000, currency: "usd", active: true, sortOrder: 0, photos: [], segmentId: null, maxGuests: null, version: 3, updatedAt: null };

function api(overrides: Record<string, unknown> = {}) {
  return fakeRequest({
    "GET /v1/tenant-admin/settings": { currency: "usd" },
    "GET /v1/tenant-admin/segments*": { items: [], nextCursor: null },
    "GET /v1/tenant-admin/packages?limit=20": { items: [PKG], nextCursor: "c2" },
    "GET /v1/tenant-admin/packages?limit=20&cursor=c2": { items: [{ ...PKG, id: "p2", title: "Half day" }], nextCursor: null },
    "GET /v1/tenant-admin/packages?limit=100": { items: [PKG], nextCursor: null },
    "GET /v1/tenant-admin/add-ons*": { items: [], nextCursor: null },
    ...overrides,
  });
}

describe("Catalog", () => {
  beforeEach(() => void (document.body.innerHTML = ""));

  it("lists packages with their prices and pages with Next page", async () => {
    const fake = api();
    const root = await mount(<Catalog request={fake.request} />);
    const packages = root.querySelector("section[aria-labelledby='package-heading']")!;
    expect(text(packages.querySelector("tbody"))).toContain("Full day");
    expect(text(packages.querySelector("tbody"))).toContain("$2,400.00");
    await click(button(packages, "Next page"));
    expect(text(packages.querySelector("tbody"))).toContain("Half day");
    expect(text(packages.querySelector("tbody"))).not.toContain("Full day");
  });

  it("saves only the changed fields with the version read", async () => {
    const fake = api({ "PATCH /v1/tenant-admin/packages/p1": { ...PKG, title: "Full day (10 h)", version: 4 } });
    const root = await mount(<Catalog request={fake.request} />);
    await click(button(root, "Edit Full day"));
    await type(field(root, "Title"), "Full day (10 h)");
    await submit(root.querySelector("form")!);
    const patch = fake.calls.find((c) => c.method === "PATCH")!;
    expect(patch.body).toEqual({ title: "Full day (10 h)", version: 3 });
    expect(statusText(root)).toContain("The package was saved.");
  });

  it("shows a field's error beside it and sends nothing", async () => {
    const fake = api();
    const root = await mount(<Catalog request={fake.request} />);
    await click(button(root, "Edit Full day"));
    await type(field(root, "Price (USD)"), "12.345");
    await submit(root.querySelector("form")!);
    expect(fake.calls.some((c) => c.method === "PATCH")).toBe(false);
    expect(text(root.querySelector(".field.invalid"))).toContain("Write an amount such as 1234.50.");
    expect(field(root, "Price (USD)").getAttribute("aria-invalid")).toBe("true");
  });

  it("on a stale save shows their values, keeps the admin's, and saves again against their version", async () => {
    let patches = 0;
    const theirs = { ...PKG, priceCents: 260000, version: 4 };
    const fake = api({
      "PATCH /v1/tenant-admin/packages/p1": () => {
        patches++;
        if (patches === 1) throw conflict();
        return { ...theirs, title: "Full day (10 h)", version: 5 };
      },
      "GET /v1/tenant-admin/packages/p1": theirs,
    });
    const root = await mount(<Catalog request={fake.request} />);
    await click(button(root, "Edit Full day"));
    await type(field(root, "Title"), "Full day (10 h)");
    await submit(root.querySelector("form")!);
    expect(alertText(root)).toContain("Someone else changed this package");
    const note = root.querySelector(".conflict")!;
    expect(text(note)).toContain("Price");
    expect(text(note)).toContain("2600.00");
    expect(field(root, "Title").value).toBe("Full day (10 h)");
    expect(field(root, "Price (USD)").value).toBe("2600.00");
    await click(button(root, "Save mine again"));
    const second = fake.calls.filter((c) => c.method === "PATCH")[1];
    expect(second.body).toEqual({ title: "Full day (10 h)", version: 4 });
    expect(statusText(root)).toContain("The package was saved.");
    expect(root.querySelector(".conflict")).toBeNull();
  });

  it("creates a package with a price in minor units", async () => {
    const fake = api({ "POST /v1/tenant-admin/packages": (c: { body: object }) => ({ ...PKG, ...c.body, id: "p9", version: 1 }) });
    const root = await mount(<Catalog request={fake.request} />);
    await click(button(root, "New package"));
    await type(field(root, "Title"), "Elopement");
    await type(field(root, "Slug"), "elopement");
    await type(field(root, "Price (USD)"), "950");
    await submit(root.querySelector("form")!);
    const post = fake.calls.find((c) => c.method === "POST")!;
    expect(post.body).toMatchObject({ title: "Elopement", slug: "elopement", priceCents: 95000, active: true, maxGuests: null, segmentId: null });
    expect(statusText(root)).toContain("The package was created.");
  });

  it("a refused delete says why and what to do instead", async () => {
    const fake = api({
      "DELETE /v1/tenant-admin/packages/p1": () => {
        throw new ApiError(409, "IN_USE", "the package has live bookings");
      },
    });
    const root = await mount(<Catalog request={fake.request} />);
    await click(button(root, "Delete Full day"));
    await click(button(root, "Yes, delete"));
    expect(alertText(root)).toContain("The package has live bookings");
    expect(alertText(root)).toContain("take it off offer instead");
  });

  describe("time slots", () => {
    const SLOT = { durationMinutes: 90, bufferBeforeMinutes: 15, bufferAfterMinutes: 30, intervalMinutes: 30, leadTimeMinutes: 1440, resourceId: "r-7" };
    const CEREMONY = { ...PKG, id: "p3", slug: "ceremony", title: "Ceremony", kind: "SLOT", slot: SLOT };
    const slotApi = (overrides: Record<string, unknown> = {}) =>
      api({ "GET /v1/tenant-admin/packages?limit=20": { items: [{ ...PKG, kind: "DAY", slot: null }, CEREMONY], nextCursor: null }, ...overrides });

    it("lists how each package is booked", async () => {
      const root = await mount(<Catalog request={slotApi().request} />);
      const rows = [...root.querySelectorAll("section[aria-labelledby='package-heading'] tbody tr")].map(text);
      expect(rows[0]).toContain("Whole day");
      expect(rows[1]).toContain("Time slot: 90 min, every 30 min, buffers 15/30 min");
    });

    it("creates a time-slot service with its terms and the default resource", async () => {
      const fake = slotApi({ "POST /v1/tenant-admin/packages": (c: { body: object }) => ({ ...PKG, ...c.body, id: "p9", version: 1 }) });
      const root = await mount(<Catalog request={fake.request} />);
      await click(button(root, "New package"));
      expect(field(root, "Whole day").checked).toBe(true);
      await type(field(root, "Title"), "Shoot");
      await type(field(root, "Slug"), "shoot");
      await type(field(root, "Price (USD)"), "400");
      await click(field(root, "Time slot"));
      await type(field(root, "Duration (minutes)"), "90");
      await type(field(root, "Buffer after (minutes)"), "30");
      await submit(root.querySelector("form")!);
      const post = fake.calls.find((c) => c.method === "POST")!;
      expect(post.body).toMatchObject({
        kind: "SLOT",
        slot: { durationMinutes: 90, bufferBeforeMinutes: 0, bufferAfterMinutes: 30, intervalMinutes: 30, leadTimeMinutes: 0, resourceId: null },
      });
      expect(statusText(root)).toContain("The package was created.");
    });

    it("a whole-day package sends kind DAY without terms", async () => {
      const fake = slotApi({ "POST /v1/tenant-admin/packages": (c: { body: object }) => ({ ...PKG, ...c.body, id: "p9", version: 1 }) });
      const root = await mount(<Catalog request={fake.request} />);
      await click(button(root, "New package"));
      await type(field(root, "Title"), "Garden");
      await type(field(root, "Slug"), "garden");
      await type(field(root, "Price (USD)"), "1500");
      expect(root.querySelector("fieldset.package-kind input[inputmode='numeric']")).toBeNull();
      await submit(root.querySelector("form")!);
      expect(fake.calls.find((c) => c.method === "POST")!.body).toMatchObject({ kind: "DAY", slot: null });
    });

    it("saves changed terms as a whole, keeping the resource, and a whole day again drops them", async () => {
      const fake = slotApi({ "PATCH /v1/tenant-admin/packages/p3": (c: { body: object }) => ({ ...CEREMONY, ...c.body, version: 4 }) });
      const root = await mount(<Catalog request={fake.request} />);
      await click(button(root, "Edit Ceremony"));
      expect(field(root, "Time slot").checked).toBe(true);
      expect(field(root, "Lead time (minutes)").value).toBe("1440");
      await type(field(root, "Duration (minutes)"), "120");
      await submit(root.querySelector("form")!);
      const patches = () => fake.calls.filter((c) => c.method === "PATCH");
      expect(patches()[0].body).toEqual({ slot: { ...SLOT, durationMinutes: 120 }, version: 3 });

      await click(field(root, "Whole day"));
      await submit(root.querySelector("form")!);
      expect(patches()[1].body).toEqual({ kind: "DAY", slot: null, version: 4 });
    });

    it("refuses minutes out of bounds beside the input and sends nothing", async () => {
      const fake = slotApi();
      const root = await mount(<Catalog request={fake.request} />);
      await click(button(root, "Edit Ceremony"));
      await type(field(root, "Start times every (minutes)"), "2");
      await type(field(root, "Duration (minutes)"), "1.5");
      await submit(root.querySelector("form")!);
      expect(fake.calls.some((c) => c.method === "PATCH")).toBe(false);
      expect(field(root, "Start times every (minutes)").getAttribute("aria-invalid")).toBe("true");
      expect(field(root, "Duration (minutes)").getAttribute("aria-invalid")).toBe("true");
      expect(text(root.querySelector("fieldset.package-kind"))).toContain("Write a whole number of minutes from 5 to 240.");
    });

    it("shows the server's refusal of a kind change in words", async () => {
      const fake = slotApi({
        "PATCH /v1/tenant-admin/packages/p1": () => {
          throw new ApiError(409, "IN_USE", "1 live booking(s) were sold with this package as a whole-day package; its kind cannot change until they are over (make a new package instead)");
        },
      });
      const root = await mount(<Catalog request={fake.request} />);
      await click(button(root, "Edit Full day"));
      await click(field(root, "Time slot"));
      await submit(root.querySelector("form")!);
      expect(fake.calls.find((c) => c.method === "PATCH")!.body).toMatchObject({ kind: "SLOT", slot: { durationMinutes: 60 } });
      expect(alertText(root)).toContain("its kind cannot change");
    });

    const RESOURCES = {
      items: [
        { id: "r-1", name: "Studio", active: true, isDefault: true, version: 1 },
        { id: "r-7", name: "Anna", active: true, isDefault: false, version: 2 },
        { id: "r-8", name: "Old room", active: false, isDefault: false, version: 3 },
      ],
      nextCursor: null,
    };

    it("picks the resource of a slot package from the business's resources", async () => {
      const fake = slotApi({
        "GET /v1/tenant-admin/resources*": RESOURCES,
        "POST /v1/tenant-admin/packages": (c: { body: object }) => ({ ...PKG, ...c.body, id: "p9", version: 1 }),
      });
      const root = await mount(<Catalog request={fake.request} />);
      await click(button(root, "New package"));
      await type(field(root, "Title"), "Shoot");
      await type(field(root, "Slug"), "shoot");
      await type(field(root, "Price (USD)"), "400");
      await click(field(root, "Time slot"));
      const picker = field(root, "Resource") as unknown as HTMLSelectElement;
      // The default as "none set", the active others; an inactive one is not offered.
      expect([...picker.options].map((o) => [o.value, text(o)])).toEqual([
        ["", "The default resource (Studio)"],
        ["r-7", "Anna"],
      ]);
      expect(picker.value).toBe("");
      await type(picker as unknown as HTMLInputElement, "r-7");
      await submit(root.querySelector("form")!);
      expect(fake.calls.find((c) => c.method === "POST")!.body).toMatchObject({ kind: "SLOT", slot: { resourceId: "r-7" } });
    });

    it("keeps a package's inactive resource selectable, and back to the default sends null", async () => {
      const fake = slotApi({
        "GET /v1/tenant-admin/resources*": RESOURCES,
        "GET /v1/tenant-admin/packages?limit=20": { items: [{ ...CEREMONY, slot: { ...SLOT, resourceId: "r-8" } }], nextCursor: null },
        "PATCH /v1/tenant-admin/packages/p3": (c: { body: object }) => ({ ...CEREMONY, ...c.body, version: 4 }),
      });
      const root = await mount(<Catalog request={fake.request} />);
      await click(button(root, "Edit Ceremony"));
      const picker = field(root, "Resource") as unknown as HTMLSelectElement;
      expect([...picker.options].map((o) => text(o))).toEqual(["The default resource (Studio)", "Anna", "Old room (inactive)"]);
      expect(picker.value).toBe("r-8");
      await type(picker as unknown as HTMLInputElement, "");
      await submit(root.querySelector("form")!);
      expect(fake.calls.find((c) => c.method === "PATCH")!.body).toEqual({ slot: { ...SLOT, resourceId: null }, version: 3 });
    });

    it("shows a server field error beside its input", async () => {
      const fake = slotApi({
        "PATCH /v1/tenant-admin/packages/p3": () => {
          throw new ApiError(400, "VALIDATION_ERROR", "the slot terms are not valid", [{ field: "slot.leadTimeMinutes", message: "must be between 0 and 43200 minutes" }]);
        },
      });
      const root = await mount(<Catalog request={fake.request} />);
      await click(button(root, "Edit Ceremony"));
      await type(field(root, "Lead time (minutes)"), "1500");
      await submit(root.querySelector("form")!);
      expect(field(root, "Lead time (minutes)").getAttribute("aria-invalid")).toBe("true");
      expect(text(root.querySelector("fieldset.package-kind"))).toContain("must be between 0 and 43200 minutes");
    });
  });
});
