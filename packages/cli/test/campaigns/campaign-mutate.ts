import fc from "fast-check";

/**
 * Mutations of real inputs for the fuzz campaign: each is a short list of byte edits (bit
 * flips, interesting bytes such as CBOR heads and large u32s, truncation, insertion, deletion,
 * duplication), optionally focused on the first `focus` bytes (headers) of the input.
 */

type Edit =
  | { kind: "flip"; at: number; bit: number }
  | { kind: "set"; at: number; value: number }
  | { kind: "u32"; at: number; value: number }
  | { kind: "truncate"; at: number }
  | { kind: "insert"; at: number; bytes: Uint8Array }
  | { kind: "delete"; at: number; length: number }
  | { kind: "duplicate"; at: number; length: number; to: number };

/** Bytes that change a CBOR head's meaning, or are edge values. */
const INTERESTING = [
  0x00, 0x01, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1f, 0x3b, 0x5b, 0x5f, 0x7b, 0x7f, 0x80, 0x9b, 0x9f, 0xbb, 0xbf,
  0xc0, 0xd8, 0xf6, 0xf7, 0xfb, 0xff,
];
const BIG_U32 = [0, 1, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, 0x10000, 0x1000, 0xfff];

const position = fc.nat({ max: 0x7fffffff });
const edit: fc.Arbitrary<Edit> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant("flip" as const), at: position, bit: fc.nat({ max: 7 }) }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("set" as const),
      at: position,
      value: fc.oneof(fc.constantFrom(...INTERESTING), fc.nat({ max: 255 })),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("u32" as const),
      at: position,
      value: fc.oneof(fc.constantFrom(...BIG_U32), fc.nat()),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("truncate" as const), at: position }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("insert" as const),
      at: position,
      bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("delete" as const),
      at: position,
      length: fc.integer({ min: 1, max: 64 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("duplicate" as const),
      at: position,
      length: fc.integer({ min: 1, max: 256 }),
      to: position,
    }),
  },
);

export interface Mutation {
  readonly edits: readonly Edit[];
  /** Apply to the bytes within the first `focus` bytes only (when set and shorter). */
  readonly focused: boolean;
}

export const mutation: fc.Arbitrary<Mutation> = fc.record({
  edits: fc.array(edit, { minLength: 1, maxLength: 4 }),
  focused: fc.boolean(),
});

/** Applies `m` to a copy of `input`; `focus` is the header length that focused edits target. */
export function applyMutation(input: Uint8Array, m: Mutation, focus = input.length): Uint8Array {
  let bytes = input.slice();
  for (const e of m.edits) {
    const span = Math.max(1, m.focused ? Math.min(focus, bytes.length) : bytes.length);
    const at = e.at % span;
    switch (e.kind) {
      case "flip":
        if (bytes.length > 0) bytes[at] = (bytes[at] ?? 0) ^ (1 << e.bit);
        break;
      case "set":
        if (bytes.length > 0) bytes[at] = e.value;
        break;
      case "u32":
        if (bytes.length >= 4)
          new DataView(bytes.buffer).setUint32(
            Math.min(at, bytes.length - 4),
            e.value >>> 0,
            (e.at & 1) === 0,
          );
        break;
      case "truncate":
        bytes = bytes.slice(0, at);
        break;
      case "insert": {
        const out = new Uint8Array(bytes.length + e.bytes.length);
        out.set(bytes.subarray(0, at));
        out.set(e.bytes, at);
        out.set(bytes.subarray(at), at + e.bytes.length);
        bytes = out;
        break;
      }
      case "delete":
        bytes = Uint8Array.from([...bytes.subarray(0, at), ...bytes.subarray(at + e.length)]);
        break;
      case "duplicate": {
        const chunk = bytes.slice(at, at + e.length);
        const to = e.to % (bytes.length + 1);
        const out = new Uint8Array(bytes.length + chunk.length);
        out.set(bytes.subarray(0, to));
        out.set(chunk, to);
        out.set(bytes.subarray(to), to + chunk.length);
        bytes = out;
        break;
      }
    }
  }
  return bytes;
}

/** Times decodes and samples the heap, for the campaign's hang and memory checks. */
export class DecodeMeter {
  inputs = 0;
  accepted = 0;
  slowestMs = 0;
  private readonly heapStart = process.memoryUsage().heapUsed;
  heapPeakGrowth = 0;

  async measure<T>(
    decode: () => Promise<T> | T,
  ): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
    this.inputs++;
    const start = performance.now();
    let result: { ok: true; value: T } | { ok: false; error: unknown };
    try {
      result = { ok: true, value: await decode() };
      this.accepted++;
    } catch (error) {
      result = { ok: false, error };
    }
    const ms = performance.now() - start;
    this.slowestMs = Math.max(this.slowestMs, ms);
    if (ms > 1000) throw new Error(`a decode took ${ms.toFixed(0)} ms (limit 1000 ms)`);
    if (this.inputs % 64 === 0)
      this.heapPeakGrowth = Math.max(this.heapPeakGrowth, process.memoryUsage().heapUsed - this.heapStart);
    return result;
  }

  summary(): string {
    return `${this.inputs} inputs (${this.accepted} accepted), slowest ${this.slowestMs.toFixed(1)} ms, heap growth ${(this.heapPeakGrowth / 2 ** 20).toFixed(1)} MiB`;
  }
}

/** Heap growth the campaign tolerates while fuzzing one decoder. */
export const MAX_HEAP_GROWTH = 256 * 2 ** 20;
