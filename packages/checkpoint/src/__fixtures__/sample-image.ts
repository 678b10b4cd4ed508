import fc from "fast-check";
import type { DescriptorImage } from "../model/model-descriptor.ts";
import type { LwpImage, LwpState } from "../model/model-lwp.ts";
import type { Manifest, ManifestDraft, PageWrite } from "../model/model-manifest.ts";
import type { ProcessImage } from "../model/model-process.ts";
import type { CborMap } from "../model/model-values.ts";
import type { MapEntryImage, VmObjectImage } from "../model/model-vm.ts";

/** Test fixtures: a small realistic process image, and fast-check arbitraries for whole manifests. */

export const HASH_A = "a".repeat(64);

export function lwp(tid: number, pc = 0x10000): LwpImage {
  const regs = Array.from({ length: 33 }, (_, i) => (i * 0x1111) >>> 0);
  regs[32] = pc;
  regs[4] = 0x7fff0000 + tid;
  return {
    tid,
    regs,
    sigmask: [0, 0],
    pending: [0, 0],
    altstack: { sp: 0, size: 0, flags: 2 },
    state: { kind: "runnable" },
  };
}

/** A two-object process image draft: text (file-backed) and a 64-page anonymous heap. */
export function sampleDraft(overrides: Partial<ManifestDraft> = {}, heapPages = 64): ManifestDraft {
  const process: ProcessImage = {
    pid: 100,
    ppid: 1,
    pgid: 100,
    sid: 100,
    comm: "hello",
    argv: ["/bin/hello", "world"],
    envp: ["HOME=/"],
    cwd: "/",
    cred: { uid: 0, gid: 0 },
    flags: 0,
    sigacts: [{ signal: 33, handler: 0x10400, flags: 4, mask: [0, 0], restorer: 0x10500 }],
    itimers: [],
    lwps: [lwp(100), { ...lwp(101, 0x10100), state: { kind: "sleeping", addr: 0x20000, deadlineNs: 5000 } }],
    vmspace: {
      entries: [
        { start: 0x10000, end: 0x14000, prot: 5, flags: 1, type: "normal", objectId: 1, offset: 0 },
        { start: 0x20000, end: 0x20000 + heapPages * 4096, prot: 3, flags: 1 | 4, type: "normal", objectId: 2, offset: 0 },
      ],
      brk: { start: 0x20000, end: 0x20000 + heapPages * 4096 },
      mmapBase: 0x40000000,
    },
    descriptors: [
      { fd: 0, cloexec: false, kind: "tty", path: "/dev/tty", termios: { iflag: 1, oflag: 2, cflag: 3, lflag: 4, cc: new Uint8Array([3, 4, 5]) } },
      { fd: 3, cloexec: true, kind: "pipe", pipeId: 1, end: "read", buffered: new Uint8Array([104, 105]) },
      { fd: 4, cloexec: false, kind: "file", path: "/tmp/out", offset: 2 ** 40, flags: 1, mode: 0o644 },
    ],
  };
  return {
    created: { time: "2026-11-28T12:00:00.000Z", tool: "vkc-test" },
    kind: "process",
    processes: [process],
    clock: { instructions: 123_456_789_012, ns: 987_654_321 },
    prng: { algorithm: "xoshiro128**", state: [1, 2, 3, 4] },
    executables: [{ path: "/bin/hello", sha256: HASH_A, size: 16384 }],
    objects: [
      { id: 1, kind: "file", size: 4, path: "/bin/hello", sha256: HASH_A },
      { id: 2, kind: "anon", size: heapPages },
    ],
    ...overrides,
  };
}

/** Deterministic page content: page `i` of object `id`, version `v` (0 → all zero for every 4th page). */
export function pageBytes(objectId: number, index: number, version = 1): Uint8Array {
  const bytes = new Uint8Array(4096);
  if (version === 0) return bytes;
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < 4096; i += 4) view.setUint32(i, (objectId * 0x9e3779b1 + index * 0x85ebca6b + i + version * 0xc2b2ae35) >>> 0);
  return bytes;
}

/** Pages of `sampleDraft`: text pages 0..3, heap pages with every 4th page zero. */
export function* samplePages(heapPages = 64, version: (index: number) => number = () => 1): Iterable<PageWrite> {
  for (let i = 0; i < 4; i++) yield { objectId: 1, pageIndex: i, bytes: pageBytes(1, i) };
  for (let i = 0; i < heapPages; i++) {
    yield { objectId: 2, pageIndex: i, bytes: i % 4 === 3 ? new Uint8Array(4096) : pageBytes(2, i, version(i)) };
  }
}

// ---- fast-check arbitraries -------------------------------------------------------------------

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u53 = fc.maxSafeNat();
const text = fc.string({ maxLength: 12, unit: "grapheme" });
const bytes = fc.uint8Array({ maxLength: 24 });
const hash = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString("hex"));
const sigset = fc.tuple(u32, u32);

const cborLeaf = fc.oneof(fc.constant(null), fc.boolean(), fc.integer(), u53, text, bytes);
const cborMap: fc.Arbitrary<CborMap> = fc
  .letrec((tie) => ({
    value: fc.oneof({ maxDepth: 3 }, cborLeaf, fc.array(tie("value"), { maxLength: 3 }), tie("map")),
    map: fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }).filter((k) => k !== "__proto__"), tie("value"), {
      maxKeys: 4,
    }),
  }))
  .map.map((m) => m as CborMap);

function optional<T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> {
  return fc.option(arb, { nil: undefined });
}

type Stripped<T> = { [K in keyof T as undefined extends T[K] ? never : K]: T[K] } & {
  [K in keyof T as undefined extends T[K] ? K : never]?: Exclude<T[K], undefined>;
};

function strip<T extends object>(o: T): Stripped<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Stripped<T>;
}

const lwpState: fc.Arbitrary<LwpState> = fc.oneof(
  fc.constant({ kind: "runnable" as const }),
  fc.record({ addr: u32, deadlineNs: optional(u53) }).map((r) => strip({ kind: "sleeping" as const, ...r })),
  fc
    .record({
      number: u32,
      args: fc.array(u32, { minLength: 6, maxLength: 6 }),
      restart: fc.constantFrom("restart" as const, "eintr" as const, "resume" as const),
    })
    .map((r) => ({ kind: "syscall" as const, ...r })),
);

const lwpArb = (tid: number): fc.Arbitrary<LwpImage> =>
  fc
    .record({
      regs: fc.array(u32, { minLength: 33, maxLength: 33 }),
      sigmask: sigset,
      pending: sigset,
      altstack: fc.record({ sp: u32, size: u32, flags: u32 }),
      state: lwpState,
      native: optional(cborMap),
      extensions: optional(cborMap),
    })
    .map((r) => strip({ tid, ...r }));

const descriptorArb = (fd: number): fc.Arbitrary<DescriptorImage> =>
  fc.oneof(
    fc.record({ path: text, offset: u53, flags: u32, mode: u32, cloexec: fc.boolean() }).map((r) => ({ fd, kind: "file" as const, ...r })),
    fc
      .record({
        cloexec: fc.boolean(),
        pipeId: u32,
        end: fc.constantFrom("read" as const, "write" as const),
        buffered: optional(fc.oneof(bytes, fc.record({ sha256: hash, size: u53 }))),
      })
      .map((r) => strip({ fd, kind: "pipe" as const, ...r })),
    fc
      .record({
        cloexec: fc.boolean(),
        path: text,
        termios: fc.record({ iflag: u32, oflag: u32, cflag: u32, lflag: u32, cc: fc.uint8Array({ maxLength: 20 }) }),
      })
      .map((r) => ({ fd, kind: "tty" as const, ...r })),
    fc
      .record({
        cloexec: fc.boolean(),
        name: text,
        address: fc.uint8Array({ minLength: 4, maxLength: 4 }),
        prefixLength: fc.integer({ min: 0, max: 32 }),
        mtu: fc.integer({ min: 0, max: 65535 }),
        mac: fc.uint8Array({ minLength: 6, maxLength: 6 }),
        queued: fc.array(bytes, { maxLength: 3 }),
      })
      .map((r) => ({ fd, kind: "tap" as const, ...r })),
    fc
      .record({
        cloexec: fc.boolean(),
        domain: fc.constant(2),
        type: fc.constant(2),
        address: fc.uint8Array({ minLength: 4, maxLength: 4 }),
        port: fc.integer({ min: 0, max: 65535 }),
        nonblocking: fc.boolean(),
        queued: fc.array(
          fc.record({
            address: fc.uint8Array({ minLength: 4, maxLength: 4 }),
            port: fc.integer({ min: 0, max: 65535 }),
            payload: bytes,
          }),
          { maxLength: 3 },
        ),
        dropped: optional(u53),
      })
      .map((r) => strip({ fd, kind: "socket" as const, ...r })),
  );

/** A page map over `size` pages. */
const pageMapArb = (size: number) =>
  fc.uniqueArray(fc.integer({ min: 0, max: Math.max(0, size - 1) }), { maxLength: Math.min(size, 8) }).chain((indexes) => {
    const sorted = size === 0 ? [] : [...indexes].sort((a, b) => a - b);
    return fc
      .uint8Array({ minLength: sorted.length * 32, maxLength: sorted.length * 32 })
      .map((hashes) => ({ indexes: Uint32Array.from(sorted), hashes }));
  });

const objectArb = (id: number): fc.Arbitrary<VmObjectImage> =>
  fc.record({ kind: fc.constantFrom("anon" as const, "shared" as const), size: fc.integer({ min: 1, max: 64 }) }).chain((o) =>
    pageMapArb(o.size).map((pages) => ({ id, ...o, pages })),
  );

/** Non-overlapping, sorted entries mapping into objects 1..objectCount of size ≥ 1 page. */
const entriesArb = (objects: readonly VmObjectImage[]): fc.Arbitrary<MapEntryImage[]> =>
  fc.array(fc.record({ gap: fc.integer({ min: 0, max: 1000 }), object: fc.integer({ min: 0, max: objects.length - 1 }), prot: fc.integer({ min: 0, max: 7 }), flags: u32, vpt: fc.boolean() }), { maxLength: 5 }).map((items) => {
    let cursor = 0x1000;
    const out: MapEntryImage[] = [];
    for (const item of items) {
      const object = objects[item.object]!;
      const start = cursor + item.gap * 4096;
      const end = start + object.size * 4096;
      if (end > 0x100000000) break;
      out.push(
        item.vpt
          ? { start, end, prot: item.prot, flags: item.flags, type: "vpagetable", objectId: object.id, offset: 0, masterPde: 0x2000 }
          : { start, end, prot: item.prot, maxprot: 7, flags: item.flags, type: "normal", objectId: object.id, offset: 0 },
      );
      cursor = end;
    }
    return out;
  });

/** Valid manifests covering every field and variant. */
export const manifestArb: fc.Arbitrary<Manifest> = fc
  .integer({ min: 1, max: 3 })
  .chain((objectCount) => fc.tuple(...Array.from({ length: objectCount }, (_, i) => objectArb(i + 1))))
  .chain((objects) =>
    fc
      .record({
        created: fc.record({ time: text, tool: text, host: optional(text), note: optional(text) }).map(strip),
        parent: optional(hash),
        kind: fc.constantFrom("process" as const, "vkernel" as const),
        vkernel: cborMap,
        clock: fc.record({ instructions: u53, ns: u53 }),
        prng: fc.record({ algorithm: text, state: fc.array(u32, { maxLength: 4 }) }),
        executables: fc.array(
          fc.record({ path: text, sha256: hash, size: u53, embedded: optional(fc.record({ sha256: hash, size: u53 })) }).map(strip),
          { maxLength: 2 },
        ),
        packs: fc.uniqueArray(hash, { maxLength: 3 }),
        extensions: optional(cborMap),
        procs: fc.array(
          fc.record({
            ppid: u32,
            comm: text,
            argv: fc.array(text, { maxLength: 3 }),
            envp: fc.array(text, { maxLength: 2 }),
            cwd: text,
            cred: fc.record({ uid: u32, gid: u32 }),
            flags: u32,
            exitStatus: optional(u32),
            sigacts: fc.uniqueArray(fc.integer({ min: 1, max: 64 }), { maxLength: 3 }).chain((signals) =>
              fc.tuple(...signals.map((signal) => fc.record({ handler: u32, flags: u32, mask: sigset, restorer: u32 }).map((r) => ({ signal, ...r })))),
            ),
            itimers: fc.uniqueArray(fc.constantFrom("real" as const, "virtual" as const, "prof" as const), { maxLength: 3 }).chain((whichs) =>
              fc.tuple(...whichs.map((which) => fc.record({ valueNs: u53, intervalNs: u53 }).map((r) => ({ which, ...r })))),
            ),
            lwpCount: fc.integer({ min: 1, max: 3 }),
            fds: fc.uniqueArray(fc.integer({ min: 0, max: 65535 }), { maxLength: 4 }),
            entries: entriesArb(objects),
            brk: fc.record({ start: fc.integer({ min: 0, max: 0x1000 }), end: fc.integer({ min: 0x1000, max: 0xffffffff }) }),
            mmapBase: u32,
            extensions: optional(cborMap),
          }),
          { minLength: 1, maxLength: 2 },
        ),
      })
      .chain((r) => {
        let nextTid = 1000;
        return fc
          .tuple(
            ...r.procs.map((p, pi) =>
              fc
                .tuple(
                  fc.tuple(...Array.from({ length: p.lwpCount }, () => lwpArb(nextTid++))),
                  fc.tuple(...p.fds.map(descriptorArb)),
                )
                .map(([lwps, descriptors]): ProcessImage =>
                  strip({
                    pid: 100 + pi,
                    ppid: p.ppid,
                    pgid: 100,
                    sid: 100,
                    comm: p.comm,
                    argv: p.argv,
                    envp: p.envp,
                    cwd: p.cwd,
                    cred: p.cred,
                    flags: p.flags,
                    exitStatus: p.exitStatus,
                    sigacts: p.sigacts,
                    itimers: p.itimers,
                    lwps,
                    vmspace: { entries: p.entries, brk: p.brk, mmapBase: p.mmapBase },
                    descriptors,
                    extensions: p.extensions,
                  }),
                ),
            ),
          )
          .map((processes): Manifest =>
            strip({
              format: "vkc-image" as const,
              version: { major: 1, minor: 0 },
              created: r.created,
              parent: r.parent,
              kind: r.kind,
              processes,
              vkernel: r.kind === "vkernel" ? r.vkernel : undefined,
              clock: r.clock,
              prng: r.prng,
              executables: r.executables,
              objects,
              packs: r.packs,
              extensions: r.extensions,
            }),
          );
      }),
  );
