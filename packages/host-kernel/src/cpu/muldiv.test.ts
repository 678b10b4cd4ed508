import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { div, divu, mulh, mulhsu, mulhu, rem, remu } from "./muldiv.ts";

const s64 = (v: number): bigint => BigInt(v | 0);
const u64 = (v: number): bigint => BigInt(v >>> 0);
const hi32 = (p: bigint): number => Number(BigInt.asIntN(32, p >> 32n));

const int32 = fc.oneof(
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
  fc.constantFrom(0, 1, -1, 2 ** 31 - 1, -(2 ** 31), 0xffff, -0x10000, 0x10000),
);

describe("M extension arithmetic", () => {
  it("high words of products match a BigInt reference", () => {
    fc.assert(
      fc.property(int32, int32, (a, b) => {
        expect(mulhu(a, b)).toBe(hi32(u64(a) * u64(b)));
        expect(mulh(a, b)).toBe(hi32(s64(a) * s64(b)));
        expect(mulhsu(a, b)).toBe(hi32(s64(a) * u64(b)));
      }),
      { numRuns: 2000 },
    );
  });

  it("division and remainder match a BigInt reference (truncating)", () => {
    fc.assert(
      fc.property(int32, int32, (a, b) => {
        fc.pre(b !== 0 && !(a === -(2 ** 31) && b === -1));
        expect(div(a, b)).toBe(Number(BigInt.asIntN(32, s64(a) / s64(b))));
        expect(rem(a, b)).toBe(Number(BigInt.asIntN(32, s64(a) % s64(b))));
        expect(divu(a, b)).toBe(Number(BigInt.asIntN(32, u64(a) / u64(b))));
        expect(remu(a, b)).toBe(Number(BigInt.asIntN(32, u64(a) % u64(b))));
      }),
      { numRuns: 2000 },
    );
  });

  it("follows the spec on division by zero", () => {
    expect(div(7, 0)).toBe(-1);
    expect(divu(7, 0)).toBe(-1);
    expect(rem(-7, 0)).toBe(-7);
    expect(remu(0x80000000, 0)).toBe(0x80000000 | 0);
  });

  it("follows the spec on signed overflow", () => {
    expect(div(-(2 ** 31), -1)).toBe(-(2 ** 31));
    expect(rem(-(2 ** 31), -1)).toBe(0);
    expect(Object.is(rem(-(2 ** 31), -1), 0)).toBe(true);
  });

  it("rounds toward zero and keeps the dividend's sign", () => {
    expect(div(-7, 2)).toBe(-3);
    expect(rem(-7, 2)).toBe(-1);
    expect(rem(7, -2)).toBe(1);
    expect(divu(-1, 2)).toBe(0x7fffffff);
  });
});
