import { describe, expect, it } from "vitest";
import { ApiError, type Package } from "../shared/api";
import {
  checkoutBody, fieldMessage, flowReducer, initialFlow, JUST_TAKEN, JUST_TAKEN_TIME, keyFor, segmentsOf, totalCents, visiblePackages,
  type FlowAction, type FlowState,
} from "./flow";

function pkg(id: string, priceCents: number, addOns: [string, number][] = [], segment?: [string, string]): Package {
  return {
    id, slug: id, title: `Package ${id}`, description: "", priceCents, currency: "usd", sortOrder: 0, photos: [],
    segmentId: segment?.[0] ?? null, segment: segment ? { id: segment[0], name: segment[1] } : null, maxGuests: null,
    addOns: addOns.map(([addOnId, price]) => ({ id: addOnId, slug: addOnId, title: addOnId, priceCents: price, currency: "usd" })),
  };
}

const FULL = pkg("full", 240000, [["second", 40000], ["album", 60000]], ["photo", "Photography"]);
const HALF = pkg("half", 140000, [["second", 30000]], ["photo", "Photography"]);
const FILM = pkg("film", 90000, [], ["video", "Videography"]);
const PACKAGES = [FULL, HALF, FILM];

function run(actions: FlowAction[], start: FlowState = initialFlow(PACKAGES)): FlowState {
  return actions.reduce(flowReducer, start);
}

const chosen: FlowAction[] = [
  { type: "package", packageId: "full", packages: PACKAGES },
  { type: "add-on", addOnId: "second", on: true },
  { type: "go", step: "date" },
  { type: "date", date: "2027-06-12" },
  { type: "go", step: "details" },
  { type: "field", field: "coupleName", value: " Ann & Bo " },
  { type: "field", field: "email", value: "ann@example.com" },
];

describe("selection and total", () => {
  it("adds the chosen add-ons to the package's price", () => {
    const state = run(chosen.slice(0, 2));
    expect(totalCents(FULL, state.addOnIds)).toBe(280000);
    expect(totalCents(FULL, [])).toBe(240000);
    expect(totalCents(null, ["second"])).toBe(0);
  });

  it("unticks an add-on", () => {
    const state = run([...chosen.slice(0, 2), { type: "add-on", addOnId: "second", on: false }]);
    expect(state.addOnIds).toEqual([]);
  });

  it("keeps only the add-ons the new package offers when the package changes", () => {
    const state = run([
      { type: "package", packageId: "full", packages: PACKAGES },
      { type: "add-on", addOnId: "second", on: true },
      { type: "add-on", addOnId: "album", on: true },
      { type: "package", packageId: "half", packages: PACKAGES },
    ]);
    expect(state.addOnIds).toEqual(["second"]);
    expect(totalCents(HALF, state.addOnIds)).toBe(170000);
  });

  it("shows a segment's packages and drops a choice from another segment", () => {
    const segments = segmentsOf(PACKAGES);
    expect(segments.map((s) => s.name)).toEqual(["Photography", "Videography"]);
    let state = run([{ type: "package", packageId: "full", packages: PACKAGES }]);
    expect(visiblePackages(state, PACKAGES, segments).map((p) => p.id)).toEqual(["full", "half"]);
    state = flowReducer(state, { type: "segment", segmentId: "video", packages: PACKAGES });
    expect(visiblePackages(state, PACKAGES, segments).map((p) => p.id)).toEqual(["film"]);
    expect(state.packageId).toBeNull();
  });

  it("has no tabs for one segment, or when a package's segment has no name", () => {
    expect(segmentsOf([FULL, HALF])).toHaveLength(1);
    expect(segmentsOf([FULL, pkg("x", 1)])).toEqual([]);
  });
});

describe("steps", () => {
  it("needs a package before the date and a date before the details", () => {
    let state = run([{ type: "go", step: "date" }]);
    expect(state.step).toBe("package");
    expect(state.alert).toBe("Please choose a package first.");
    state = run([{ type: "package", packageId: "full", packages: PACKAGES }, { type: "go", step: "date" }, { type: "go", step: "details" }]);
    expect(state.step).toBe("date");
    expect(state.alert).toBe("Please choose a date first.");
  });

  it("counts the moves so that only a step opened later takes focus", () => {
    expect(initialFlow(PACKAGES).moves).toBe(0);
    const state = run(chosen);
    expect(state.step).toBe("details");
    expect(state.moves).toBe(2);
  });

  it("preselects the only package", () => {
    expect(initialFlow([FULL]).packageId).toBe("full");
    expect(initialFlow(PACKAGES).packageId).toBeNull();
  });
});

describe("checkout", () => {
  it("sends what was chosen, trimmed, without empty optional fields", () => {
    const state = run(chosen);
    expect(checkoutBody(state, "https://host.example/book")).toEqual({
      packageId: "full",
      eventDate: "2027-06-12",
      coupleName: "Ann & Bo",
      email: "ann@example.com",
      addOnIds: ["second"],
      returnUrl: "https://host.example/book",
    });
  });

  it("goes back to the calendar, reloaded, when the date was just taken", () => {
    const before = run(chosen);
    const state = flowReducer(before, {
      type: "checkout-failed",
      error: new ApiError(409, "DATE_UNAVAILABLE", "the date is not available"),
      key: "k1",
      fingerprint: "f1",
    });
    expect(state.step).toBe("date");
    expect(state.date).toBeNull();
    expect(state.takenDate).toBe("2027-06-12");
    expect(state.takenDates).toEqual(["2027-06-12"]);
    expect(state.alert).toBe(JUST_TAKEN);
    expect(state.calendarRevision).toBe(before.calendarRevision + 1);
    expect(state.moves).toBe(before.moves + 1);
    // What the couple typed is kept for the next date.
    expect(state.details.email).toBe("ann@example.com");
  });

  it("puts the server's field errors beside the fields, and clears one when it is edited", () => {
    const error = new ApiError(400, "VALIDATION_ERROR", "the request is not valid", [
      { field: "email", message: "is not a valid email address" },
      { field: "coupleName", message: "is required" },
    ]);
    let state = flowReducer(run(chosen), { type: "checkout-failed", error, key: "k", fingerprint: "f" });
    expect(state.step).toBe("details");
    expect(state.fieldErrors).toEqual({ email: "This is not a valid email address.", coupleName: "Please enter your names." });
    expect(state.alert).toBeNull();
    state = flowReducer(state, { type: "field", field: "email", value: "ann@example.org" });
    expect(state.fieldErrors).toEqual({ coupleName: "Please enter your names." });
  });

  it("shows the server's message for a hold limit, with when to try again", () => {
    const error = new ApiError(429, "HOLD_LIMIT_REACHED", "too many dates are held", [], 600);
    const state = flowReducer(run(chosen), { type: "checkout-failed", error, key: "k", fingerprint: "f" });
    expect(state.alert).toBe("Too many dates are held. Please try again in 10 minutes.");
    expect(state.step).toBe("details");
  });

  it("reuses the key of an unanswered attempt for the same body, and only for it", () => {
    let state = run(chosen);
    let n = 0;
    const fresh = () => `key-${++n}`;
    const first = keyFor(state, checkoutBody(state), fresh);
    expect(first.key).toBe("key-1");
    state = flowReducer(state, { type: "checkout-failed", error: new ApiError(0, "TIMEOUT", "slow"), ...first });
    expect(keyFor(state, checkoutBody(state), fresh).key).toBe("key-1");
    const edited = flowReducer(state, { type: "field", field: "notes", value: "Outdoors" });
    expect(keyFor(edited, checkoutBody(edited), fresh).key).toBe("key-2");
    // A definite answer ends the attempt: the next submit is a new one.
    const refused = flowReducer(state, { type: "checkout-failed", error: new ApiError(429, "HOLD_LIMIT_REACHED", "x"), ...first });
    expect(keyFor(refused, checkoutBody(refused), fresh).key).toBe("key-3");
  });
});

describe("fieldMessage", () => {
  it("turns the server's fragments into sentences", () => {
    expect(fieldMessage("email", "is required")).toBe("Please enter your email address.");
    expect(fieldMessage("phone", "at most 40 printable characters")).toBe("Use at most 40 printable characters.");
    expect(fieldMessage("notes", "must be at most 2000 characters")).toBe("This must be at most 2000 characters.");
  });
});

describe("a time-slot package", () => {
  const SESSION: Package = { ...pkg("session", 30000), kind: "SLOT", slot: { durationMinutes: 90 } };
  const ALL = [FULL, SESSION];
  const start = { startsAt: "2027-03-28T03:00:00+02:00", endsAt: "2027-03-28T04:30:00+02:00", date: "2027-03-28", time: "03:00" };
  const toDetails: FlowAction[] = [
    { type: "package", packageId: "session", packages: ALL },
    { type: "go", step: "date" },
    { type: "date", date: "2027-03-28" },
    { type: "slot", slot: start },
    { type: "go", step: "details" },
    { type: "field", field: "coupleName", value: "Ann & Bo" },
    { type: "field", field: "email", value: "ann@example.com" },
  ];

  it("needs a time as well as a date before the details", () => {
    const state = run(toDetails.slice(0, 3));
    expect(state.kind).toBe("SLOT");
    const refused = flowReducer(state, { type: "go", step: "details" });
    expect(refused.step).toBe("date");
    expect(refused.alert).toBe("Please choose a time first.");
    expect(run(toDetails.slice(0, 5)).step).toBe("details");
  });

  it("sends the start as the API wrote it, with its local date as the event date", () => {
    expect(checkoutBody(run(toDetails))).toEqual({
      packageId: "session", eventDate: "2027-03-28", startsAt: "2027-03-28T03:00:00+02:00", coupleName: "Ann & Bo", email: "ann@example.com",
    });
  });

  it("forgets the time on another day or another package, and the date on another kind", () => {
    const chosenSlot = run(toDetails.slice(0, 4));
    expect(flowReducer(chosenSlot, { type: "date", date: "2027-03-29" }).slot).toBeNull();
    expect(flowReducer(chosenSlot, { type: "date", date: "2027-03-28" }).slot).toEqual(start);
    const whole = flowReducer(chosenSlot, { type: "package", packageId: "full", packages: ALL });
    expect([whole.kind, whole.date, whole.slot]).toEqual(["DAY", null, null]);
    expect(checkoutBody(whole).startsAt).toBeUndefined();
  });

  it("keeps the day but drops the start, never to offer it again, when it was just taken", () => {
    const state = run([
      ...toDetails,
      { type: "submit", key: "k1", fingerprint: "f" },
      { type: "checkout-failed", error: new ApiError(409, "DATE_UNAVAILABLE", "the date is not available"), key: "k1", fingerprint: "f" },
    ]);
    expect([state.step, state.date, state.slot, state.alert]).toEqual(["date", "2027-03-28", null, JUST_TAKEN_TIME]);
    expect(state.takenStarts).toEqual([start.startsAt]);
    expect(state.calendarRevision).toBe(1);
  });

  it("goes back to the times on a field error about the start", () => {
    const error = new ApiError(400, "VALIDATION_ERROR", "startsAt: is not an offered start", [{ field: "startsAt", message: "is not an offered start" }]);
    const state = run([...toDetails, { type: "checkout-failed", error, key: "k", fingerprint: "f" }]);
    expect([state.step, state.date, state.slot]).toEqual(["date", "2027-03-28", null]);
    expect(state.alert).toBe("The chosen time is not an offered start.");
  });
});
