import axe from "axe-core";
import { beforeEach, describe, expect, it } from "vitest";
import { ApiError } from "../../shared/api";
import { bodyOf, draftOf, exceptionSpan, Resources, rowError, weeklyField, type OpeningHours } from "./Resources";
import { alertText, button, click, fakeRequest, field, mount, statusText, submit, text, type } from "./testing";

const MAIN = { id: "r-main", name: "Main", isDefault: true, active: true, version: 1 };
const ANA = { id: "r-ana", name: "Ana", isDefault: false, active: true, version: 3 };
const SPAN = exceptionSpan(new Date());
const HOURS: OpeningHours = {
  resourceId: "r-main",
  weekly: [{ weekday: 6, ranges: [{ opens: "10:00", closes: "13:00" }] }],
  exceptions: [{ date: "2027-06-05", ranges: [], reason: "Holiday" }],
  from: SPAN.from,
  to: SPAN.to,
};
const hoursUrl = (id: string) => `/v1/tenant-admin/resources/${id}/hours?from=${SPAN.from}&to=${SPAN.to}`;

beforeEach(() => void (document.body.innerHTML = ""));

describe("hours drafts", () => {
  it("keeps every weekday and sends only open ones, numbered as the server names them", () => {
    const draft = draftOf({ ...HOURS, weekly: [{ weekday: 7, ranges: [{ opens: "00:00", closes: "06:00" }] }, { weekday: 2, ranges: [{ opens: "09:00", closes: "24:00" }] }] });
    expect(draft.days.map((d) => d.length)).toEqual([0, 1, 0, 0, 0, 0, 1]);
    const { body, weekdays } = bodyOf(draft, "2027-01-01", "2027-12-31");
    expect(body.weekly.map((w) => w.weekday)).toEqual([2, 7]);
    expect(weekdays).toEqual([2, 7]);
    expect(weeklyField(weekdays, 7, 0)).toBe("weekly[1].ranges[0]");
    expect(weeklyField(weekdays, 1, 0)).toBe("");
    expect(rowError({ "weekly[1].ranges[0].closes": "must be after opens" }, "weekly[1].ranges[0]")).toBe("must be after opens");
    expect(rowError({ "weekly[1].ranges[10]": "x" }, "weekly[1].ranges[1]")).toBeNull();
  });

  it("edits a year of exceptions from today", () => {
    expect(exceptionSpan(new Date(2027, 0, 31))).toEqual({ from: "2027-01-31", to: "2028-01-31" });
  });
});

describe("Resources", () => {
  function shop(extra: Record<string, unknown> = {}) {
    return fakeRequest({
      "GET /v1/tenant-admin/resources?limit=25": { items: [MAIN, ANA], nextCursor: null },
      [`GET ${hoursUrl("r-main")}`]: HOURS,
      [`GET ${hoursUrl("r-ana")}`]: { ...HOURS, resourceId: "r-ana", weekly: [], exceptions: [] },
      ...extra,
    });
  }

  it("lists resources, the default without deactivate or remove, and opens the default's hours", async () => {
    const root = await mount(<Resources request={shop().request} />);
    expect(text(root.querySelector("h1"))).toBe("Resources & hours");
    expect(text(root.querySelector("tbody"))).toContain("Main");
    expect(text(root.querySelector("tbody"))).toContain("Default, Active");
    expect(() => button(root, "Remove Main")).toThrow();
    expect(() => button(root, "Deactivate Main")).toThrow();
    expect(text(root.querySelector("#resources-hours"))).toBe("Opening hours of Main");
    expect(field(root, "Saturday, hours 1 open").value).toBe("10:00");
    expect(field(root, "Saturday, hours 1 close").value).toBe("13:00");
    expect(field(root, "Date 1").value).toBe("2027-06-05");
    expect(field(root, "Date 1 reason (optional)").value).toBe("Holiday");
    expect((field(root, "Date 1 closed all day") as HTMLInputElement).checked).toBe(true);
  });

  it("adds a resource, and shows a taken name beside the field", async () => {
    const fake = shop({
      "POST /v1/tenant-admin/resources": (call: { body: unknown }) => {
        if ((call.body as { name: string }).name === "Ana") throw new ApiError(409, "NAME_TAKEN", "the tenant already has a resource with this name", [{ field: "name", message: "is taken" }]);
        return { id: "r-bo", name: "Bo", isDefault: false, active: true, version: 1 };
      },
    });
    const root = await mount(<Resources request={fake.request} />);
    await type(field(root, "Name"), "Ana");
    await submit(field(root, "Name").closest("form")!);
    expect(text(field(root, "Name").closest(".field"))).toContain("is taken");
    expect(field(root, "Name").getAttribute("aria-invalid")).toBe("true");
    await type(field(root, "Name"), "  Bo ");
    await submit(field(root, "Name").closest("form")!);
    expect(statusText(root)).toContain("Bo was added.");
    expect(fake.calls.filter((c) => c.method === "POST").map((c) => c.body)).toEqual([{ name: "Ana" }, { name: "Bo" }]);
  });

  it("deactivates and renames with the version it read", async () => {
    const fake = shop({
      "PATCH /v1/tenant-admin/resources/r-ana": (call: { body: unknown }) => ({ ...ANA, ...(call.body as object), version: 4 }),
    });
    const root = await mount(<Resources request={fake.request} />);
    await click(button(root, "Deactivate Ana"));
    expect(statusText(root)).toContain("Ana offers no slots now.");
    expect(text(root.querySelector("tbody"))).toContain("Inactive (offers no slots)");
    await click(button(root, "Rename Ana"));
    await type(field(root, "New name for Ana"), "Ana Lopez");
    await submit(field(root, "New name for Ana").closest("form")!);
    const patches = fake.calls.filter((c) => c.method === "PATCH").map((c) => c.body);
    expect(patches).toEqual([
      { active: false, version: 3 },
      { name: "Ana Lopez", version: 4 },
    ]);
  });

  it("saves the week and the dates in one change and shows the server's error on its row", async () => {
    let refuse = true;
    const fake = shop({
      "PUT /v1/tenant-admin/resources/r-main/hours": (call: { body: unknown }) => {
        if (refuse) throw new ApiError(400, "VALIDATION_ERROR", "weekly[0].ranges[1]: overlaps another range of the day", [{ field: "weekly[0].ranges[1]", message: "overlaps another range of the day" }]);
        return { ...HOURS, ...(call.body as object) };
      },
    });
    const root = await mount(<Resources request={fake.request} />);
    await click(button(root, "Add hours on Saturday"));
    await type(field(root, "Saturday, hours 2 open"), "12:00");
    await type(field(root, "Saturday, hours 2 close"), "24:00");
    await click(button(root, "Remove Date 1"));
    await click(button(root, "Save hours"));
    expect(alertText(root)).toContain("overlaps another range of the day");
    expect(field(root, "Saturday, hours 2 open").getAttribute("aria-invalid")).toBe("true");
    expect(field(root, "Saturday, hours 1 open").getAttribute("aria-invalid")).toBeNull();
    const [put] = fake.calls.filter((c) => c.method === "PUT");
    expect(put.body).toEqual({
      weekly: [{ weekday: 6, ranges: [{ opens: "10:00", closes: "13:00" }, { opens: "12:00", closes: "24:00" }] }],
      exceptions: [],
      from: SPAN.from,
      to: SPAN.to,
    });
    refuse = false;
    await type(field(root, "Saturday, hours 2 open"), "14:00");
    await click(button(root, "Save hours"));
    expect(statusText(root)).toContain("The hours of Main were saved.");
  });

  it("opens another resource's hours", async () => {
    const root = await mount(<Resources request={shop().request} />);
    await click(button(root, "Hours of Ana"));
    expect(text(root.querySelector("#resources-hours"))).toBe("Opening hours of Ana");
    expect(text(root.querySelector('[aria-label="Saturday"]'))).toContain("closed");
  });

  it("has no axe violations, with the hours open and a field in error", async () => {
    const fake = shop({
      "PUT /v1/tenant-admin/resources/r-main/hours": () => {
        throw new ApiError(400, "VALIDATION_ERROR", "exceptions[0].date: must be between from and to", [{ field: "exceptions[0].date", message: "must be between from and to" }]);
      },
    });
    const root = await mount(<Resources request={fake.request} />);
    await click(button(root, "Save hours"));
    expect(field(root, "Date 1").getAttribute("aria-invalid")).toBe("true");
    const result = await axe.run(root, { rules: { "color-contrast": { enabled: false }, region: { enabled: false } } });
    expect(result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.html).join(" ")}`)).toEqual([]);
  });
});
