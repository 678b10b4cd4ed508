import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { HASH_A, manifestArb, sampleDraft } from "../__fixtures__/sample-image.ts";
import { CheckpointError } from "../errors.ts";
import {
  IntegrityError,
  InvalidImageError,
  LimitExceededError,
  MalformedCborError,
  SignatureError,
  UnsupportedFormatError,
  UnsupportedVersionError,
} from "../image-errors.ts";
import type { Manifest } from "../model/model-manifest.ts";
import { type EncodableValue, encodeCanonical } from "./codec-canonical.ts";
import { decodeManifest, encodeManifest, sha256, sign } from "./codec-manifest.ts";
import { manifestToTree } from "./codec-manifest-encode.ts";

function sampleManifest(): Manifest {
  const { created, objects, ...rest } = sampleDraft();
  return {
    ...rest,
    format: "vkc-image",
    version: { major: 1, minor: 0 },
    created: created!,
    objects: objects.map((o) => ({
      ...o,
      pages: { indexes: Uint32Array.of(0, 2), hashes: new Uint8Array(64).fill(7) },
    })),
    packs: [HASH_A],
  };
}

type Tree = { [key: string]: EncodableValue };

/** An envelope with a correct digest around an arbitrary body tree (to reach the body checks). */
function envelopeOf(body: Tree, version = { major: 1, minor: 0 }, format = "vkc-image"): Uint8Array {
  const bytes = encodeCanonical(body);
  return encodeCanonical({ format, version, manifest: bytes, digest: sha256(bytes) });
}

function tree(): Tree {
  return manifestToTree(sampleManifest()) as Tree;
}

function withoutIntegrity(m: Manifest): Manifest {
  const { integrity: _, ...rest } = m;
  return rest as Manifest;
}

function expectError(
  fn: () => unknown,
  type: abstract new (...args: never[]) => Error,
  message?: string | RegExp,
) {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(type);
  expect(CheckpointError.isInstance(caught)).toBe(true);
  if (message !== undefined) expect((caught as Error).message).toMatch(message);
  return caught as Error;
}

describe("manifest codec", () => {
  it("round-trips every valid manifest, byte for byte", () => {
    fc.assert(
      fc.property(manifestArb, (m) => {
        const encoded = encodeManifest(m);
        const decoded = decodeManifest(encoded.bytes);
        expect(withoutIntegrity(decoded)).toEqual(m);
        expect(decoded.integrity?.digest).toBe(encoded.id);
        const again = encodeManifest(decoded);
        expect(Buffer.from(again.bytes).equals(Buffer.from(encoded.bytes))).toBe(true);
      }),
      { numRuns: 150 },
    );
  });

  it("writes the envelope exactly as the canonical encoder would, signed or not", () => {
    fc.assert(
      fc.property(manifestArb, fc.boolean(), (m, signed) => {
        const key = signed ? "k" : undefined;
        const encoded = encodeManifest(m, key === undefined ? {} : { signKey: key });
        const envelope = {
          format: "vkc-image",
          version: { major: m.version.major, minor: m.version.minor },
          manifest: encoded.body,
          digest: sha256(encoded.body),
          signature: key === undefined ? undefined : sign(key, encoded.body),
        };
        expect(Buffer.from(encoded.bytes).equals(Buffer.from(encodeCanonical(envelope)))).toBe(true);
      }),
      { numRuns: 60 },
    );
    // and with a body past 64 KiB (a 4-byte length head), as every large image has
    const m = fc.sample(manifestArb, { numRuns: 1, seed: 7 })[0]!;
    const big: Manifest = {
      ...m,
      objects: [
        ...m.objects,
        {
          id: 99_999,
          kind: "anon",
          size: 5000,
          pages: {
            indexes: Uint32Array.from({ length: 5000 }, (_, i) => i),
            hashes: new Uint8Array(5000 * 32).fill(9),
          },
        },
      ],
    };
    const encoded = encodeManifest(big);
    expect(encoded.body.length).toBeGreaterThan(0x10000);
    const version = { major: big.version.major, minor: big.version.minor };
    const envelope = { format: "vkc-image", version, manifest: encoded.body, digest: sha256(encoded.body) };
    expect(Buffer.from(encoded.bytes).equals(Buffer.from(encodeCanonical(envelope)))).toBe(true);
  });

  it("yields the same bytes whatever order the fields were built in", () => {
    fc.assert(
      fc.property(manifestArb, (m) => {
        const reversed = Object.fromEntries(Object.entries(m).reverse()) as unknown as Manifest;
        expect(encodeManifest(reversed).id).toBe(encodeManifest(m).id);
      }),
      { numRuns: 50 },
    );
  });

  it("keeps integers past 2^32 exact (u64 heads, not floats)", () => {
    const m = sampleManifest();
    const decoded = decodeManifest(encodeManifest(m).bytes);
    expect(decoded.clock.instructions).toBe(123_456_789_012);
    const file = decoded.processes[0]!.descriptors.find((d) => d.kind === "file");
    expect(file?.kind === "file" && file.offset).toBe(2 ** 40);
  });

  it("accepts a newer minor version and ignores unknown fields", () => {
    const body = { ...tree(), version: { major: 1, minor: 7 }, futureField: { anything: [1, 2, 3] } };
    const m = decodeManifest(envelopeOf(body, { major: 1, minor: 7 }));
    expect(m.version).toEqual({ major: 1, minor: 7 });
    expect(m.processes[0]!.comm).toBe("hello");
    expect("futureField" in m).toBe(false);
  });

  it("refuses another major version with a clear message", () => {
    const body = { ...tree(), version: { major: 2, minor: 0 } };
    expectError(
      () => decodeManifest(envelopeOf(body, { major: 2, minor: 0 })),
      UnsupportedVersionError,
      "image format 2.0 is newer than this vkc reads (1.x)",
    );
    expectError(
      () => decodeManifest(envelopeOf(tree(), { major: 0, minor: 9 })),
      UnsupportedVersionError,
      /older than/,
    );
  });

  it("refuses another format name", () => {
    expectError(
      () => decodeManifest(envelopeOf(tree(), undefined, "criu-image")),
      UnsupportedFormatError,
      /criu-image/,
    );
    expectError(
      () => decodeManifest(encodeCanonical({ hello: "world" })),
      InvalidImageError,
      /envelope.format: missing/,
    );
  });

  it("names the field in shape errors", () => {
    const t = tree();
    const procs = t.processes as Tree[];
    const lwps = procs[0]!.lwps as Tree[];
    lwps[1] = { ...lwps[1]!, regs: Array.from({ length: 12 }, () => 0) };
    expectError(
      () => decodeManifest(envelopeOf(t)),
      InvalidImageError,
      "manifest.processes[0].lwps[1].regs: expected 33 u32, got 12",
    );
  });

  it("refuses hostile relations between fields", () => {
    const cases: [string, (t: Tree) => void, RegExp][] = [
      [
        "overlapping map entries",
        (t) => {
          const entries = ((t.processes as Tree[])[0]!.vmspace as Tree).entries as Tree[];
          entries[1] = { ...entries[1]!, start: 0x12000 };
        },
        /entries\[1\]: range 0x12000.* overlaps/,
      ],
      [
        "duplicate tids",
        (t) => {
          const lwps = (t.processes as Tree[])[0]!.lwps as Tree[];
          lwps[1] = { ...lwps[1]!, tid: lwps[0]!.tid as number };
        },
        /lwps\[1\].tid: duplicate tid 100/,
      ],
      [
        "fd past the limit",
        (t) => {
          ((t.processes as Tree[])[0]!.descriptors as Tree[])[0]!.fd = 1_000_000;
        },
        /descriptors\[0\].fd: fd 1000000 is past the limit/,
      ],
      [
        "a descriptor kind this reader does not know (how a 1.1 reader refuses a 1.2 socket)",
        (t) => {
          ((t.processes as Tree[])[0]!.descriptors as Tree[])[0]!.kind = "stream-socket";
        },
        /descriptors\[0\].kind: .*"stream-socket"/,
      ],
      [
        "a socket datagram with a 5-byte source address",
        (t) => {
          ((t.processes as Tree[])[0]!.descriptors as Tree[])[0] = {
            fd: 9,
            cloexec: false,
            kind: "socket",
            domain: 2,
            type: 2,
            address: new Uint8Array(4),
            port: 7,
            nonblocking: false,
            queued: [{ address: new Uint8Array(5), port: 1, payload: new Uint8Array(1) }],
          };
        },
        /descriptors\[0\].queued\[0\].address: expected 4 bytes, got 5/,
      ],
      [
        "address outside 32 bits",
        (t) => {
          const entries = ((t.processes as Tree[])[0]!.vmspace as Tree).entries as Tree[];
          entries[1] = { ...entries[1]!, end: 2 ** 33 };
        },
        /entries\[1\].end: expected an integer in 0..4294967296/,
      ],
      [
        "page index past the object",
        (t) => {
          const pages = (t.objects as Tree[])[0]!.pages as Tree;
          pages.indexes = [0, 4];
        },
        /objects\[0\].pages.indexes\[1\]: page 4 is past the object's 4 pages/,
      ],
      [
        "descending page indexes",
        (t) => {
          ((t.objects as Tree[])[1]!.pages as Tree).indexes = [2, 1];
        },
        /page 1 is not above the previous page 2/,
      ],
      [
        "page indexes as bytes, not whole u32s",
        (t) => {
          ((t.objects as Tree[])[1]!.pages as Tree).indexes = new Uint8Array(7);
        },
        /objects\[1\].pages.indexes: expected a multiple of 4 bytes, got 7/,
      ],
      [
        "page indexes as bytes, descending",
        (t) => {
          ((t.objects as Tree[])[1]!.pages as Tree).indexes = new Uint8Array([2, 0, 0, 0, 1, 0, 0, 0]);
        },
        /page 1 is not above the previous page 2/,
      ],
      [
        "inPack hints, one short",
        (t) => {
          ((t.objects as Tree[])[1]!.pages as Tree).inPack = new Uint8Array(4);
        },
        /objects\[1\].pages.inPack: expected 2 entries \(one per index\), got 1/,
      ],
      [
        "inPack hint past the image's packs",
        (t) => {
          ((t.objects as Tree[])[1]!.pages as Tree).inPack = new Uint8Array([0, 0, 0, 0, 1, 0, 0, 0]);
        },
        /objects\[1\].pages.inPack\[1\]: pack 1 of an image with 1 packs/,
      ],
      [
        "short hash list",
        (t) => {
          ((t.objects as Tree[])[1]!.pages as Tree).hashes = new Uint8Array(33);
        },
        /pages.hashes: expected 64 bytes \(32 per index\), got 33/,
      ],
      [
        "an entry over a missing object",
        (t) => {
          const entries = ((t.processes as Tree[])[0]!.vmspace as Tree).entries as Tree[];
          entries[0] = { ...entries[0]!, objectId: 99 };
        },
        /entries\[0\].objectId: no object 99/,
      ],
    ];
    for (const [, mutate, message] of cases) {
      const t = structuredClone(tree());
      mutate(t);
      expectError(() => decodeManifest(envelopeOf(t)), InvalidImageError, message);
    }
  });

  it("names the image in field errors when its id is known", () => {
    const t = structuredClone(tree());
    const lwps = (t.processes as Tree[])[0]!.lwps as Tree[];
    lwps[1] = { ...lwps[1]!, tid: lwps[0]!.tid as number };
    const id = Buffer.from(sha256(encodeCanonical(t))).toString("hex");
    expectError(
      () => decodeManifest(envelopeOf(t), { expectedId: id }),
      InvalidImageError,
      new RegExp(`^image ${id.slice(0, 12)}: manifest.processes\\[0\\].lwps\\[1\\].tid: duplicate tid`),
    );
  });

  it("refuses absurd counts and sizes before allocating", () => {
    // an array head declaring 2^40 items, then nothing
    const huge = new Uint8Array([0x9b, 0, 0, 1, 0, 0, 0, 0, 0]);
    expectError(() => decodeManifest(huge), LimitExceededError, /array of 1099511627776 items/);
    // a byte string declaring 4 GiB
    expectError(() => decodeManifest(new Uint8Array([0x5a, 0xff, 0xff, 0xff, 0xff])), LimitExceededError);
    // a map declaring more entries than bytes remain
    expectError(
      () => decodeManifest(new Uint8Array([0xb9, 0x10, 0x00, 0x61, 0x61])),
      MalformedCborError,
      /only 2 bytes remain/,
    );
    // more lwps than allowed
    const t = tree();
    const lwps = (t.processes as Tree[])[0]!.lwps as Tree[];
    expectError(
      () => decodeManifest(envelopeOf(t), { limits: { maxLwpsPerProcess: 1 } }),
      LimitExceededError,
      /manifest.processes\[0\].lwps: 2 items \(limit 1\)/,
    );
    expect(lwps.length).toBe(2);
    expectError(
      () => decodeManifest(new Uint8Array(100), { limits: { maxManifestBytes: 10 } }),
      InvalidImageError,
      /over the limit/,
    );
  });

  it("refuses deep nesting", () => {
    const deep = new Uint8Array(5000).fill(0x81);
    deep[deep.length - 1] = 0x00;
    expectError(() => decodeManifest(deep), LimitExceededError, /nesting deeper than 32/);
  });

  it("refuses CBOR outside the subset: tags, floats, duplicate keys, indefinite lengths, trailing bytes", () => {
    const cases: [number[], RegExp][] = [
      [[0xc1, 0x00], /tags are not allowed/],
      [[0xfb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0], /floating-point/],
      [[0xa2, 0x61, 0x61, 0x01, 0x61, 0x61, 0x02], /duplicate map key "a"/],
      [[0x9f, 0x00, 0xff], /indefinite length/],
      [[0x00, 0x00], /1 bytes after the item/],
      [[0xa1, 0x01, 0x01], /map key is not a text string/],
      [[0xa1, 0x69, ...Buffer.from("__proto__"), 0x01], /__proto__/],
      [[0x62, 0xff, 0xfe], /not UTF-8/],
      [[0xf7], /simple value 23/],
    ];
    for (const [bytes, message] of cases) {
      expectError(() => decodeManifest(new Uint8Array(bytes)), MalformedCborError, message);
    }
  });

  it("refuses truncated manifests at every length", () => {
    const bytes = encodeManifest(sampleManifest()).bytes;
    for (let n = 0; n < bytes.length; n += Math.max(1, Math.floor(bytes.length / 97))) {
      const error = expectError(() => decodeManifest(bytes.subarray(0, n)), CheckpointError);
      expect(error.message.split("\n")).toHaveLength(1);
    }
  });

  it("never throws anything but a CheckpointError on corrupted bytes", () => {
    const bytes = encodeManifest(sampleManifest()).bytes;
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(bytes.length - 1), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 4,
        }),
        (flips) => {
          const copy = bytes.slice();
          for (const [at, value] of flips) copy[at] = value;
          try {
            decodeManifest(copy);
          } catch (error) {
            expect(CheckpointError.isInstance(error)).toBe(true);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("detects a body that does not match its digest", () => {
    const { bytes, body } = encodeManifest(sampleManifest());
    const at = Buffer.from(bytes).indexOf(Buffer.from("hello"));
    expect(at).toBeGreaterThan(0);
    const copy = bytes.slice();
    copy[at] = "j".charCodeAt(0);
    expectError(() => decodeManifest(copy), IntegrityError, /digest does not match/);
    expect(body.length).toBeLessThan(bytes.length);
  });

  it("checks the id the manifest was looked up by", () => {
    const { bytes } = encodeManifest(sampleManifest());
    expectError(
      () => decodeManifest(bytes, { expectedId: "0".repeat(64) }),
      IntegrityError,
      /not to the id it is stored under/,
    );
  });

  it("signs with HMAC-SHA256 and refuses unsigned or mismatching manifests when given a key", () => {
    const m = sampleManifest();
    const signed = encodeManifest(m, { signKey: "secret" });
    expect(signed.id).toBe(encodeManifest(m).id);
    const decoded = decodeManifest(signed.bytes, { verifyKey: "secret" });
    expect(decoded.integrity?.signature).toMatch(/^[0-9a-f]{64}$/);
    expectError(
      () => decodeManifest(signed.bytes, { verifyKey: "other" }),
      SignatureError,
      /does not match the key/,
    );
    expectError(
      () => decodeManifest(encodeManifest(m).bytes, { verifyKey: "secret" }),
      SignatureError,
      /unsigned/,
    );
    // without a key, a signed manifest still reads
    expect(decodeManifest(signed.bytes).processes).toHaveLength(1);
  });

  it("refuses to encode invalid manifests", () => {
    const m = sampleManifest();
    const bad = {
      ...m,
      processes: [{ ...m.processes[0]!, lwps: [{ ...m.processes[0]!.lwps[0]!, regs: [1, 2] }] }],
    };
    expectError(() => encodeManifest(bad), InvalidImageError, /regs: expected 33 u32, got 2/);
    const float = { ...m, clock: { instructions: 1.5, ns: 0 } };
    expectError(() => encodeManifest(float), InvalidImageError, /clock.instructions: expected an integer/);
  });
});

describe("page map forms (FORMAT.md §4.6)", () => {
  it("writes indexes as bytes from 1.3 on and as an array before; reads both to the same map", () => {
    const old = sampleManifest();
    const current: Manifest = { ...old, version: { major: 1, minor: 3 } };
    const oldPages = (manifestToTree(old).objects as Tree[])[0]!.pages as Tree;
    const newPages = (manifestToTree(current).objects as Tree[])[0]!.pages as Tree;
    expect(oldPages.indexes).toEqual([0, 2]);
    expect(newPages.indexes).toEqual(new Uint8Array([0, 0, 0, 0, 2, 0, 0, 0]));
    const hinted: Manifest = {
      ...current,
      objects: current.objects.map((o) => ({ ...o, pages: { ...o.pages, inPack: Uint32Array.of(0, 0) } })),
    };
    const hintedPages = (manifestToTree(hinted).objects as Tree[])[0]!.pages as Tree;
    expect(hintedPages.inPack).toEqual(new Uint8Array(8));
    expect(decodeManifest(encodeManifest(hinted).bytes).objects[0]!.pages.inPack).toEqual(
      Uint32Array.of(0, 0),
    );
    for (const m of [old, current]) {
      const decoded = decodeManifest(encodeManifest(m).bytes);
      expect(decoded.objects.map((o) => o.pages.indexes)).toEqual(m.objects.map((o) => o.pages.indexes));
      expect(decoded.version).toEqual(m.version);
    }
  });
});
