import { describe, expect, it } from "vitest";
import { longDate } from "../../app/dates";
import type { AdminBooking } from "../api";
import { byDay, dayLabel } from "./Calendar";

const booking = (id: string, eventDate: string, status: AdminBooking["status"]) => ({ id, eventDate, status, coupleName: id }) as AdminBooking;

describe("calendar days", () => {
  it("keeps held and confirmed bookings by date, and blackouts", () => {
    const data = byDay(
      [booking("a", "2030-06-01", "CONFIRMED"), booking("b", "2030-06-01", "HELD"), booking("c", "2030-06-02", "CANCELLED"), booking("d", "2030-06-03", "RELEASED")],
      [{ id: "x", date: "2030-06-05", reason: null }],
    );
    expect(data.bookings.get("2030-06-01")!.map((b) => b.id)).toEqual(["a", "b"]);
    expect(data.bookings.has("2030-06-02")).toBe(false);
    expect(data.bookings.has("2030-06-03")).toBe(false);
    expect(data.blackouts.get("2030-06-05")!.id).toBe("x");
  });

  it("says what a day holds in words", () => {
    const data = byDay([booking("a", "2030-06-01", "CONFIRMED"), booking("b", "2030-06-01", "HELD")], [{ id: "x", date: "2030-06-05", reason: null }]);
    expect(dayLabel("2030-06-01", data, "en-GB", "2030-05-01")).toBe(`${longDate("2030-06-01", "en-GB")}, 1 confirmed booking, 1 hold`);
    expect(dayLabel("2030-06-05", data, "en-GB", "2030-05-01")).toBe(`${longDate("2030-06-05", "en-GB")}, blacked out`);
    expect(dayLabel("2030-06-06", data, "en-GB", "2030-06-06")).toBe(`${longDate("2030-06-06", "en-GB")}, today, free`);
  });
});
