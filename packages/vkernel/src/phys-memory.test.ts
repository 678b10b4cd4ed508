import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PhysExhaustedError } from "./errors.ts";
import { PhysAllocator } from "./phys-memory.ts";

describe("PhysAllocator", () => {
  it("hands out the lowest free page, never page 0, and takes pages back", () => {
    const a = new PhysAllocator(4);
    expect([a.alloc(), a.alloc(), a.alloc()]).toEqual([0x1000, 0x2000, 0x3000]);
    expect(() => a.alloc()).toThrow(PhysExhaustedError);
    a.free(0x2000);
    expect(a.inUse).toBe(2);
    expect(a.alloc()).toBe(0x2000);
  });

  it("counts copy-on-write shares: the last holder frees the page", () => {
    const a = new PhysAllocator(8);
    const p = a.alloc();
    a.ref(p);
    a.free(p);
    expect(a.isUsed(p / 4096)).toBe(true);
    a.free(p);
    expect(a.isUsed(p / 4096)).toBe(false);
  });

  it("its state is plain data that rebuilds the same allocator", () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.constant("alloc"), fc.integer({ min: 1, max: 63 })), { maxLength: 80 }),
        (ops) => {
          const a = new PhysAllocator(64);
          for (const op of ops) {
            if (op === "alloc") {
              if (a.inUse < 63) a.alloc();
            } else if (a.isUsed(op)) {
              if (op % 3 === 0) a.ref(op * 4096);
              else a.free(op * 4096);
            }
          }
          const b = PhysAllocator.fromState(JSON.parse(JSON.stringify(a.toState())));
          expect(b.toState()).toEqual(a.toState());
          expect(b.inUse).toBe(a.inUse);
          if (a.inUse < 63) expect(b.alloc()).toBe(a.alloc());
        },
      ),
      { numRuns: 100, seed: 5 },
    );
  });
});
