import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type EncodableValue, encodeCanonical, encodeCanonicalParts } from "./codec-canonical.ts";

const concat = (parts: readonly Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));

describe("encodeCanonicalParts", () => {
  // Byte strings either side of the size at which they are spliced in rather than encoded.
  const bytes = fc.oneof(
    fc.uint8Array({ maxLength: 64 }),
    fc.constantFrom(4095, 4096, 70_000).map((n) => new Uint8Array(n).fill(n & 0xff)),
  );
  const tree: fc.Arbitrary<EncodableValue> = fc.letrec<{ node: EncodableValue }>((tie) => ({
    node: fc.oneof(
      { depthSize: "small" },
      bytes,
      fc.integer({ min: 0, max: 2 ** 40 }),
      fc.string({ maxLength: 8 }),
      fc.array(tie("node"), { maxLength: 4 }),
      fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }), tie("node"), { maxKeys: 4 }),
    ),
  })).node;

  it("joins to exactly the bytes encodeCanonical writes", () => {
    fc.assert(
      fc.property(tree, (value) => {
        expect(Buffer.from(concat(encodeCanonicalParts(value))).equals(encodeCanonical(value))).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  it("hands large byte strings over as views, not copies", () => {
    const big = new Uint8Array(100_000).fill(7);
    const parts = encodeCanonicalParts({ a: 1, pages: big, z: [big.subarray(0, 5000)] });
    expect(parts.filter((p) => p.buffer === big.buffer)).toHaveLength(2);
  });
});
