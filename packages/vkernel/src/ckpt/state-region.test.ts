import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { VkernelError } from "../errors.ts";
import {
  decodeStateHeader,
  decodeStatePayload,
  encodeStateRegion,
  STATE_HEADER_BYTES,
} from "./state-region.ts";

const state = { v: 1, config: { vcpus: 2 }, bytes: new Uint8Array([1, 2, 3]), list: [1, "two", null] };

describe("state region", () => {
  it("round-trips: header (magic, version, generation, length, SHA-256) then canonical CBOR", () => {
    const { header, payload } = encodeStateRegion(state, 7);
    expect(header.length).toBe(STATE_HEADER_BYTES);
    const h = decodeStateHeader(header);
    expect(h).toMatchObject({ version: 1, generation: 7, length: payload.length });
    const back = decodeStatePayload(h as NonNullable<typeof h>, payload);
    expect({ ...back, bytes: Array.from(back.bytes as Uint8Array) }).toEqual({ ...state, bytes: [1, 2, 3] });
    // Canonical: the same state always gives the same bytes.
    expect(Array.from(encodeStateRegion(state, 7).payload)).toEqual(Array.from(payload));
  });

  it("an all-zero header means no state (a vkernel never checkpointed)", () => {
    expect(decodeStateHeader(new Uint8Array(STATE_HEADER_BYTES))).toBeNull();
  });

  it("any damaged byte is a VkernelStateError, never a half-decoded state", () => {
    const { header, payload } = encodeStateRegion(state, 1);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: STATE_HEADER_BYTES + payload.length - 1 }),
        fc.integer({ min: 1, max: 255 }),
        (at, x) => {
          const h = header.slice();
          const p = payload.slice();
          if (at < STATE_HEADER_BYTES) h[at] = (h[at] as number) ^ x;
          else p[at - STATE_HEADER_BYTES] = (p[at - STATE_HEADER_BYTES] as number) ^ x;
          try {
            const dh = decodeStateHeader(h);
            if (dh === null) return; // the magic became 0: "no state", also safe
            decodeStatePayload(dh, p.subarray(0, Math.min(p.length, dh.length)));
            // Only bytes no check covers may change without an error: the generation (8..11)
            // and the header's reserved tail (48..63).
            expect((at >= 8 && at < 12) || (at >= 48 && at < STATE_HEADER_BYTES)).toBe(true);
          } catch (e) {
            expect(VkernelError.isInstance(e)).toBe(true);
            expect((e as VkernelError).code).toBe("VKERNEL_STATE");
          }
        },
      ),
      { numRuns: 300, seed: 3 },
    );
  });

  it("random payloads behind a matching header are rejected cleanly (fuzz)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => {
        const header = new Uint8Array(STATE_HEADER_BYTES);
        const v = new DataView(header.buffer);
        v.setUint32(0, 0x5453_4b56, true);
        v.setUint32(4, 1, true);
        v.setUint32(12, bytes.length, true);
        header.set(createHash("sha256").update(bytes).digest(), 16);
        const h = decodeStateHeader(header);
        try {
          const m = decodeStatePayload(h as NonNullable<typeof h>, bytes);
          expect(typeof m).toBe("object");
        } catch (e) {
          expect(VkernelError.isInstance(e)).toBe(true);
        }
      }),
      { numRuns: 300, seed: 4 },
    );
  });
});
