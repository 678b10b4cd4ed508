import { createHash } from "node:crypto";
import type { BlobStore } from "@vkc/checkpoint";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type Cbor, decode, encode, envelope, RawCbor } from "./campaign-cbor.ts";
import { vkc } from "./campaign-cli.ts";
import { openSpec } from "./campaign-stores.ts";
import {
  cleanupDirs,
  createImageStore,
  figure,
  sampleDraft,
  samplePages,
  tempDir,
} from "./campaign-support.ts";

/**
 * Hostile images: manifests no writer would produce (absurd counts and sizes, addresses past
 * the 32-bit guest space, overlapping entries, duplicate tids, descriptors past limits, a
 * parent cycle, other formats), put straight into a file store under `manifests/<id>`.
 * `vkc images show` must refuse each with one line, fast and without a heap blow-up.
 */

type Body = { [key: string]: Cbor };
let dir = "";
let blobs: BlobStore;
let realId = "";
let body: Body;

beforeAll(async () => {
  dir = await tempDir("hostile");
  blobs = await openSpec(`file:${dir}`);
  realId = (await createImageStore(blobs).writeImage(sampleDraft(1), samplePages(1))).id;
  const env = decode((await blobs.get(`manifests/${realId}`)) as Uint8Array) as Body;
  body = decode(env.manifest as Uint8Array) as Body;
});
afterAll(cleanupDirs);

const clone = (b: Body): Body => decode(encode(b)) as Body;
const proc = (b: Body) => (b.processes as Body[])[0] as Body;
const vmEntries = (b: Body) => (proc(b).vmspace as Body).entries as Body[];
const u64Head = (major: number, hi: number, lo: number) =>
  new RawCbor(
    Uint8Array.from([
      (major << 5) | 27,
      ...[hi, lo].flatMap((n) => [n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]),
    ]),
  );

async function store(
  bytes: Uint8Array,
  id = createHash("sha256").update(bytes).digest("hex"),
): Promise<string> {
  await blobs.put(`manifests/${id}`, bytes);
  return id;
}
const hostileBody = async (b: Body) => {
  const e = envelope(encode(b), b.version as Cbor);
  return store(e.bytes, e.id);
};

it("re-encodes the real manifest byte for byte (the campaign's codec is faithful)", async () => {
  expect(envelope(encode(body), body.version as Cbor).id).toBe(realId);
  const shown = await vkc(["images", "show", realId, "--store", `file:${dir}`]);
  expect(shown.status, shown.err).toBe(0);
});

const CASES: [string, () => Promise<string>, RegExp][] = [
  [
    "a process count of 2^40",
    async () => hostileBody({ ...clone(body), processes: u64Head(4, 0x100, 0) }),
    /array of 1099511627776 items/,
  ],
  [
    "an argv claiming 2^31 entries",
    async () => {
      const b = clone(body);
      proc(b).argv = new RawCbor(Uint8Array.from([0x9a, 0x80, 0, 0, 0]));
      return hostileBody(b);
    },
    /array of 2147483648 items/,
  ],
  [
    "a page-hash byte string claiming 4 GiB",
    async () => {
      const b = clone(body);
      ((b.objects as Body[])[1]?.pages as Body).hashes = new RawCbor(
        Uint8Array.from([0x5a, 0xff, 0xff, 0xff, 0xff, 1, 2, 3]),
      );
      return hostileBody(b);
    },
    /byte string of 4294967295 bytes/,
  ],
  [
    "an object of 2^40 pages",
    async () => {
      const b = clone(body);
      ((b.objects as Body[])[1] as Body).size = 2 ** 40;
      return hostileBody(b);
    },
    /size.*1099511627776/,
  ],
  [
    "1000 registers",
    async () => {
      const b = clone(body);
      ((proc(b).lwps as Body[])[0] as Body).regs = Array.from({ length: 1000 }, () => 0);
      return hostileBody(b);
    },
    /regs.*1000/,
  ],
  [
    "a map entry past 2^32",
    async () => {
      const b = clone(body);
      Object.assign(vmEntries(b)[1] as Body, { start: 0xfffff000, end: 0x1_0000_1000 });
      return hostileBody(b);
    },
    /end.*4294971392/,
  ],
  [
    "overlapping map entries",
    async () => {
      const b = clone(body);
      Object.assign(vmEntries(b)[1] as Body, { start: 0x13000, end: 0x23000 });
      return hostileBody(b);
    },
    /overlap/i,
  ],
  [
    "a page index past its object",
    async () => {
      const b = clone(body);
      const pages = ((b.objects as Body[])[0] as Body).pages as Body;
      // format 1.3: the indexes are u32 little-endian in one byte string; the last becomes 5000
      const indexes = new Uint8Array(pages.indexes as Uint8Array);
      new DataView(indexes.buffer).setUint32(indexes.length - 4, 5000, true);
      pages.indexes = indexes;
      return hostileBody(b);
    },
    /past the object/,
  ],
  [
    "duplicate tids",
    async () => {
      const b = clone(body);
      const lwp = (proc(b).lwps as Body[])[0] as Body;
      proc(b).lwps = [lwp, clone(lwp)];
      return hostileBody(b);
    },
    /duplicate tid/,
  ],
  [
    "a descriptor past the fd limit",
    async () => {
      const b = clone(body);
      proc(b).descriptors = [
        { fd: 70000, cloexec: false, kind: "file", path: "/x", offset: 0, flags: 0, mode: 0 },
      ];
      return hostileBody(b);
    },
    /past the limit/,
  ],
  [
    "nesting 200 deep",
    async () => {
      let deep: Cbor = 0;
      for (let i = 0; i < 200; i++) deep = [deep];
      return hostileBody({ ...clone(body), extensions: { deep } });
    },
    /nesting deeper/,
  ],
  [
    "a body claiming format vkc-pack",
    async () => hostileBody({ ...clone(body), format: "vkc-pack" }),
    /vkc-image/,
  ],
  [
    "an envelope of major version 2",
    async () => {
      const e = envelope(encode({ ...clone(body), version: { major: 2, minor: 0 } }), { major: 2, minor: 0 });
      return store(e.bytes, e.id);
    },
    /newer/,
  ],
  [
    "an envelope of another format",
    async () => {
      const e = envelope(encode(clone(body)), body.version as Cbor, "tar");
      return store(e.bytes, e.id);
    },
    /format "tar"/,
  ],
  [
    "an ELF file as a manifest",
    async () => store(Uint8Array.from([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1, 0, ...new Uint8Array(56)])),
    /manifest [0-9a-f]{12}/,
  ],
];

it.each(CASES)("refuses %s with one line, before allocating", async (name, make, expected) => {
  const id = await make();
  const heapBefore = process.memoryUsage().heapUsed;
  const shown = await vkc(["images", "show", id, "--store", `file:${dir}`]);
  expect(shown.status, shown.out).toBe(1);
  expect(shown.out).toBe("");
  expect(shown.err.trimEnd().split("\n"), shown.err).toHaveLength(1);
  expect(shown.err).toMatch(/^vkc: /);
  expect(shown.err, shown.err).toMatch(expected);
  console.log(`[campaign] hostile ${name}: ${shown.err.trim()}`);
  expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(64 * 2 ** 20);
  refused++;
});

let refused = 0;

it("refuses a parent chain that loops (through keys that lie), with one line from verify", async () => {
  // Content addressing makes a true cycle impossible: the loop needs a manifest stored under an
  // id that is not its digest, which the reader must refuse rather than follow forever.
  const a = clone(body);
  const fakeParent = "ab".repeat(32);
  a.parent = Uint8Array.from(Buffer.from(fakeParent, "hex"));
  const aId = await hostileBody(a);
  const back = clone(body);
  back.parent = Uint8Array.from(Buffer.from(aId, "hex"));
  await store(envelope(encode(back), back.version as Cbor).bytes, fakeParent);
  // Verifying the image terminates: the reader does not follow the lying key around the loop.
  const one = await vkc(["images", "verify", aId, "--store", `file:${dir}`]);
  expect([0, 1]).toContain(one.status);
  // Verifying the store names the manifest stored under a key that is not its digest.
  const all = await vkc(["images", "verify", "--json", "--store", `file:${dir}`]);
  expect(all.status).toBe(1);
  expect(all.err.trimEnd().split("\n")).toHaveLength(1);
  expect(all.out).toContain(`manifests/${fakeParent}`);
  refused++;
});

it("lists a store full of hostile manifests without crashing", async () => {
  const listed = await vkc(["images", "ls", "--store", `file:${dir}`]);
  expect([0, 1]).toContain(listed.status);
  expect(listed.out).toContain(realId.slice(0, 12));
  figure(
    "hostile",
    `${refused} hostile manifests refused with one line by vkc images show/verify (of ${CASES.length + 1})`,
  );
});
