import { describe, expect, it } from "vitest";
import { ReservationSet } from "./cpu-types.ts";

describe("ReservationSet.move (VMFRAME_TAGGED parking)", () => {
  it("moves a reservation between holders; a store still breaks a parked one", () => {
    const set = new ReservationSet();
    const hart = {};
    const parked = {};
    set.reserve(hart, 0x1000);
    set.move(hart, parked);
    expect(set.count).toBe(1);
    expect(set.consume(hart, 0x1000)).toBe(false);
    set.move(parked, hart);
    expect(set.consume(hart, 0x1000)).toBe(true);
    set.reserve(hart, 0x2000);
    set.move(hart, parked);
    set.breakOverlapping(0x2000, 4);
    set.move(parked, hart);
    expect(set.consume(hart, 0x2000)).toBe(false);
    expect(set.count).toBe(0);
  });

  it("moving nothing clears the target", () => {
    const set = new ReservationSet();
    const a = {};
    const b = {};
    set.reserve(b, 0x10);
    set.move(a, b);
    expect(set.count).toBe(0);
  });
});
