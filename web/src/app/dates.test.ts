import { describe, expect, it } from "vitest";
import {
  addMonths, bounds, boundsReason, clockOf, dateAndTimes, dateOf, timeSpan, longDate, monthAllowed, monthGrid, monthTitle, moveFocus, reasonFor, todayIn, weekday,
  weekStartOf,
} from "./dates";

describe("todayIn", () => {
  // 2026-12-31 20:30 UTC: already 1 January in Auckland, still 31 December in New York.
  const instant = new Date("2026-12-31T20:30:00Z");
  it("is the business's today, not the couple's", () => {
    expect(todayIn("Pacific/Auckland", instant)).toBe("2027-01-01");
    expect(todayIn("America/New_York", instant)).toBe("2026-12-31");
    expect(todayIn("UTC", instant)).toBe("2026-12-31");
  });
});

describe("bounds and reasons", () => {
  const b = bounds("2026-12-10", { minNoticeDays: 3, maxAdvanceDays: 30 });

  it("opens the booking window after the notice and closes it after the maximum advance", () => {
    expect(b.firstBookable).toBe("2026-12-13");
    expect(b.lastBookable).toBe("2027-01-09");
    expect(b.firstMonth).toBe("2026-12-01");
    expect(b.lastMonth).toBe("2027-01-01");
  });

  it("gives the server's reasons for the calendar alone", () => {
    expect(boundsReason("2026-12-09", b)).toBe("past");
    expect(boundsReason("2026-12-10", b)).toBe("out_of_range");
    expect(boundsReason("2026-12-12", b)).toBe("out_of_range");
    expect(boundsReason("2026-12-13", b)).toBeNull();
    expect(boundsReason("2027-01-09", b)).toBeNull();
    expect(boundsReason("2027-01-10", b)).toBe("out_of_range");
  });

  it("has no upper bound when the maximum advance is 0", () => {
    const open = bounds("2026-12-10", { minNoticeDays: 0, maxAdvanceDays: 0 });
    expect(open.lastBookable).toBeNull();
    expect(boundsReason("2031-05-01", open)).toBeNull();
    expect(boundsReason("2026-12-10", open)).toBeNull();
    expect(monthAllowed("2031-05-01", open)).toBe(true);
  });

  it("lets past win over the server's reason, and the server's over the notice window", () => {
    const server = new Map([
      ["2026-12-08", "booked" as const],
      ["2026-12-11", "blackout" as const],
      ["2026-12-20", "held" as const],
    ]);
    expect(reasonFor("2026-12-08", b, server)).toBe("past");
    expect(reasonFor("2026-12-11", b, server)).toBe("blackout");
    expect(reasonFor("2026-12-20", b, server)).toBe("held");
    expect(reasonFor("2026-12-21", b, server)).toBeNull();
    // A date checkout refused as just taken stays unavailable even when an older answer says it is free.
    expect(reasonFor("2026-12-21", b, server, ["2026-12-21"])).toBe("held");
    expect(reasonFor("2026-12-11", b, server, ["2026-12-11"])).toBe("blackout");
  });

  it("shows no month before today's and none past the last bookable day's", () => {
    expect(monthAllowed("2026-11-30", b)).toBe(false);
    expect(monthAllowed("2026-12-01", b)).toBe(true);
    expect(monthAllowed("2027-01-31", b)).toBe(true);
    expect(monthAllowed("2027-02-01", b)).toBe(false);
  });
});

describe("monthGrid", () => {
  it("lays December 2026 (starting on a Tuesday) out in weeks from Monday", () => {
    const weeks = monthGrid("2026-12-15", 1);
    expect(weekday("2026-12-01")).toBe(2);
    expect(weeks[0]).toEqual([null, "2026-12-01", "2026-12-02", "2026-12-03", "2026-12-04", "2026-12-05", "2026-12-06"]);
    expect(weeks).toHaveLength(5);
    expect(weeks[4]).toEqual(["2026-12-28", "2026-12-29", "2026-12-30", "2026-12-31", null, null, null]);
  });

  it("lays the same month out from Sunday", () => {
    const weeks = monthGrid("2026-12-01", 0);
    expect(weeks[0].slice(0, 3)).toEqual([null, null, "2026-12-01"]);
    expect(weeks.flat().filter(Boolean)).toHaveLength(31);
  });

  it("has a leap day in February 2028 and none in 2027", () => {
    expect(monthGrid("2028-02-01", 1).flat().filter(Boolean)).toHaveLength(29);
    expect(monthGrid("2027-02-01", 1).flat().filter(Boolean)).toHaveLength(28);
  });
});

describe("moveFocus", () => {
  const b = bounds("2026-12-10", { minNoticeDays: 0, maxAdvanceDays: 60 }); // last bookable 2027-02-08
  it("moves by days and weeks across month edges", () => {
    expect(moveFocus("2026-12-31", "ArrowRight", 1, b)).toBe("2027-01-01");
    expect(moveFocus("2027-01-01", "ArrowLeft", 1, b)).toBe("2026-12-31");
    expect(moveFocus("2026-12-28", "ArrowDown", 1, b)).toBe("2027-01-04");
    expect(moveFocus("2027-01-04", "ArrowUp", 1, b)).toBe("2026-12-28");
  });

  it("moves to the start and end of the week as shown", () => {
    // 2026-12-16 is a Wednesday.
    expect(moveFocus("2026-12-16", "Home", 1, b)).toBe("2026-12-14");
    expect(moveFocus("2026-12-16", "End", 1, b)).toBe("2026-12-20");
    expect(moveFocus("2026-12-16", "Home", 0, b)).toBe("2026-12-13");
    expect(moveFocus("2026-12-16", "End", 0, b)).toBe("2026-12-19");
  });

  it("moves by months, on the month's last day when it is shorter", () => {
    expect(moveFocus("2026-12-31", "PageDown", 1, b)).toBe("2027-01-31");
    expect(addMonths("2027-01-31", 1)).toBe("2027-02-28");
    expect(addMonths("2028-01-31", 1)).toBe("2028-02-29");
    expect(addMonths("2027-01-15", -13)).toBe("2025-12-15");
  });

  it("stays within the months that may be shown", () => {
    expect(moveFocus("2026-12-01", "ArrowLeft", 1, b)).toBe("2026-12-01");
    expect(moveFocus("2026-12-05", "PageUp", 1, b)).toBe("2026-12-01");
    expect(moveFocus("2027-02-27", "ArrowDown", 1, b)).toBe("2027-02-28");
    expect(moveFocus("2027-02-10", "PageDown", 1, b)).toBe("2027-02-28");
  });
});

describe("labels", () => {
  it("names a day in full and a month with its year", () => {
    expect(longDate("2026-12-12", "en-GB")).toBe("Saturday, 12 December 2026");
    expect(longDate("2026-12-12", "en-US")).toBe("Saturday, December 12, 2026");
    expect(monthTitle("2026-12-01", "en-US")).toBe("December 2026");
  });

  it("starts the week on Sunday in the US and on Monday in Germany", () => {
    // Node's Intl has no week data: Monday is the fallback; Chromium knows the US starts on Sunday.
    const locale = new Intl.Locale("en-US") as { getWeekInfo?: unknown; weekInfo?: unknown };
    expect(weekStartOf("de-DE")).toBe(1);
    expect(weekStartOf("en-US")).toBe(locale.getWeekInfo || locale.weekInfo ? 0 : 1);
  });
});

describe("a time slot's times, on the business's clock as the API writes them", () => {
  it("reads the clock and the date of an RFC 3339 stamp without converting it to the couple's zone", () => {
    expect(clockOf("2027-06-12T14:00:00+02:00")).toBe("14:00");
    expect(dateOf("2027-06-12T14:00:00+02:00")).toBe("2027-06-12");
    expect(clockOf("not a time")).toBe("");
    expect(clockOf(null)).toBe("");
  });

  it("spans a clock change with the clock readings the API gave (Berlin's spring-forward night)", () => {
    expect(timeSpan("2027-03-28T01:30:00+01:00", "2027-03-28T04:00:00+02:00")).toBe("01:30\u201304:00");
    expect(timeSpan("2027-06-12T23:30:00+02:00", "2027-06-13T01:00:00+02:00")).toBe("23:30\u201301:00 (+1)");
    expect(timeSpan("2027-06-12T14:00:00+02:00", null)).toBe("14:00");
    expect(timeSpan(undefined, "2027-06-12T14:00:00+02:00")).toBe("");
  });

  it("writes a slot booking's date, times and zone, and a whole day's date alone", () => {
    expect(dateAndTimes("2027-06-12", "2027-06-12T14:00:00+02:00", "2027-06-12T15:30:00+02:00", "Europe/Berlin", "en-GB")).toBe(
      "Saturday, 12 June 2027, 14:00\u201315:30 (Europe/Berlin)",
    );
    expect(dateAndTimes("2027-06-12", null, null, "Europe/Berlin", "en-GB")).toBe("Saturday, 12 June 2027");
    expect(dateAndTimes("2027-06-12", "2027-06-12T14:00:00+02:00", "2027-06-12T15:30:00+02:00", undefined, "en-GB")).toBe(
      "Saturday, 12 June 2027, 14:00\u201315:30",
    );
  });
});
