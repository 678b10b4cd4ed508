import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DEFAULT_LIMITS } from "../codec/codec-limits.ts";
import {
  decodePackHeader,
  encodePackHead,
  PACK_PREFIX_BYTES,
  packHeaderLength,
} from "../codec/codec-pack.ts";
import { writePackHead } from "./store-pipeline-pack-head.ts";

const entry = fc.record({
  hash: fc.uint8Array({ minLength: 32, maxLength: 32 }),
  length: fc.oneof(fc.integer({ min: 0, max: 300 }), fc.constant(4096), fc.integer({ min: 0, max: 2 ** 33 })),
});

describe("writePackHead", () => {
  it("writes the same bytes as the canonical encoder", () => {
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 300 }), (entries) => {
        const fast = writePackHead(
          Buffer.concat(entries.map((e) => e.hash)),
          entries.map((e) => e.length),
        );
        expect(Buffer.from(fast).equals(Buffer.from(encodePackHead(entries)))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it("writes a header the pack decoder reads back", () => {
    const hashes = Array.from({ length: 1024 }, (_, i) =>
      new Uint8Array(32).fill(i & 0xff).fill(i >> 8, 0, 1),
    );
    const head = writePackHead(
      Buffer.concat(hashes),
      hashes.map(() => 4096),
    );
    const length = packHeaderLength(head, "pack", DEFAULT_LIMITS);
    const header = decodePackHeader(head.subarray(PACK_PREFIX_BYTES), "pack", DEFAULT_LIMITS);
    expect(length).toBe(head.length - PACK_PREFIX_BYTES);
    expect(header.entries).toHaveLength(1024);
    expect(header.entries[1023]!.offset).toBe(head.length + 1023 * 4096);
    expect(header.size).toBe(head.length + 1024 * 4096);
  });
});
