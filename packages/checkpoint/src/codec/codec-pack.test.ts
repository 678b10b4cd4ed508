import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CheckpointError } from "../errors.ts";
import {
  InvalidImageError,
  LimitExceededError,
  UnsupportedFormatError,
  UnsupportedVersionError,
} from "../image-errors.ts";
import { encodeCanonical } from "./codec-canonical.ts";
import { DEFAULT_LIMITS } from "./codec-limits.ts";
import { decodePackHeader, encodePackHead, PACK_PREFIX_BYTES, packHeaderLength } from "./codec-pack.ts";

const h = (n: number) => new Uint8Array(32).fill(n);

function expectError(fn: () => unknown, type: abstract new (...args: never[]) => Error, message: RegExp) {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(type);
  expect(CheckpointError.isInstance(caught)).toBe(true);
  expect((caught as Error).message).toMatch(message);
}

describe("pack codec", () => {
  it("round-trips a header with absolute offsets", () => {
    const head = encodePackHead([
      { hash: h(1), length: 4096 },
      { hash: h(2), length: 100 },
    ]);
    const length = packHeaderLength(head, "pack", DEFAULT_LIMITS);
    expect(length).toBe(head.length - PACK_PREFIX_BYTES);
    const header = decodePackHeader(
      head.subarray(PACK_PREFIX_BYTES),
      "pack",
      DEFAULT_LIMITS,
      head.length + 4196,
    );
    expect(header.entries).toEqual([
      { hash: "01".repeat(32), offset: head.length, length: 4096 },
      { hash: "02".repeat(32), offset: head.length + 4096, length: 100 },
    ]);
  });

  it("refuses hostile headers", () => {
    const header = (entries: unknown[], format = "vkc-pack", major = 1) =>
      encodeCanonical({ format, version: { major, minor: 0 }, entries: entries as never });
    const L = DEFAULT_LIMITS;
    expectError(
      () => packHeaderLength(new Uint8Array([1, 2, 3, 4, 0, 0, 0, 1]), "packs/x", L),
      InvalidImageError,
      /bad magic/,
    );
    expectError(() => packHeaderLength(new Uint8Array(3), "packs/x", L), InvalidImageError, /truncated/);
    expectError(
      () => packHeaderLength(new Uint8Array([0x56, 0x4b, 0x43, 0x50, 0xff, 0, 0, 0]), "packs/x", L),
      LimitExceededError,
      /pack header of 4278190080 bytes/,
    );
    expectError(() => decodePackHeader(header([], "zip"), "packs/x", L), UnsupportedFormatError, /"zip"/);
    expectError(
      () => decodePackHeader(header([], "vkc-pack", 3), "packs/x", L),
      UnsupportedVersionError,
      /3.0 is newer/,
    );
    expectError(
      () =>
        decodePackHeader(
          header([
            [h(1), 0, 10],
            [h(2), 20, 10],
          ]),
          "packs/x",
          L,
        ),
      InvalidImageError,
      /entries\[1\]\[1\]: offset 20, expected 10/,
    );
    expectError(
      () =>
        decodePackHeader(
          header([
            [h(1), 0, 10],
            [h(1), 10, 10],
          ]),
          "packs/x",
          L,
        ),
      InvalidImageError,
      /duplicate hash/,
    );
    expectError(
      () => decodePackHeader(header([[h(1), 0]]), "packs/x", L),
      InvalidImageError,
      /expected \[hash, offset, length\]/,
    );
    expectError(
      () => decodePackHeader(header([[h(1), 0, 2 ** 40]]), "packs/x", L, 100),
      InvalidImageError,
      /header describes .* but the pack has 100/,
    );
    expectError(
      () =>
        decodePackHeader(
          header([
            [h(1), 0, 1],
            [h(2), 1, 1],
          ]),
          "packs/x",
          { ...L, maxPackEntries: 1 },
        ),
      LimitExceededError,
      /2 items \(limit 1\)/,
    );
  });

  it("never throws anything but a CheckpointError on corrupted headers", () => {
    const head = encodePackHead([
      { hash: h(1), length: 4096 },
      { hash: h(2), length: 7 },
    ]);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(head.length - 1), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 4,
        }),
        fc.nat(head.length),
        (flips, cut) => {
          const copy = head.slice(0, Math.max(cut, 1));
          for (const [at, value] of flips) if (at < copy.length) copy[at] = value;
          try {
            const length = packHeaderLength(copy, "packs/x", DEFAULT_LIMITS);
            decodePackHeader(
              copy.subarray(PACK_PREFIX_BYTES, PACK_PREFIX_BYTES + length),
              "packs/x",
              DEFAULT_LIMITS,
            );
          } catch (error) {
            expect(CheckpointError.isInstance(error)).toBe(true);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
