import { createImageStore, type ImageStore, type ManifestDraft, type PageWrite } from "@vkc/checkpoint";
import { openStore } from "../store-registry.ts";

/**
 * Test images for the `vkc images` tests, written with the checkpoint package's image store
 * directly: a small process (two threads, text + heap, three descriptors) and children of it.
 */

export function lwpRegs(tid: number, pc: number): number[] {
  const regs = Array.from({ length: 33 }, (_, i) => (i * 0x1111 + tid) >>> 0);
  regs[4] = 0x7fff0000 + tid; // tp
  regs[32] = pc;
  return regs;
}

export function draft(options: { comm?: string; parent?: string; time?: string; pc?: number } = {}): ManifestDraft {
  const comm = options.comm ?? "hello";
  return {
    created: { time: options.time ?? "2026-11-28T12:00:00.000Z", tool: "vkc-test" },
    ...(options.parent === undefined ? {} : { parent: options.parent }),
    kind: "process",
    processes: [
      {
        pid: 100,
        ppid: 1,
        pgid: 100,
        sid: 100,
        comm,
        argv: [`/bin/${comm}`, "world"],
        envp: ["HOME=/"],
        cwd: "/",
        cred: { uid: 0, gid: 0 },
        flags: 0,
        sigacts: [],
        itimers: [],
        lwps: [
          {
            tid: 100,
            regs: lwpRegs(100, options.pc ?? 0x10000),
            sigmask: [0x4, 0],
            pending: [0, 0],
            altstack: { sp: 0, size: 0, flags: 2 },
            state: { kind: "runnable" },
          },
          {
            tid: 101,
            regs: lwpRegs(101, 0x10100),
            sigmask: [0, 0],
            pending: [0, 0],
            altstack: { sp: 0, size: 0, flags: 2 },
            state: { kind: "sleeping", addr: 0x20000 },
          },
        ],
        vmspace: {
          entries: [
            { start: 0x10000, end: 0x14000, prot: 5, flags: 1, type: "normal", objectId: 1, offset: 0 },
            { start: 0x20000, end: 0x30000, prot: 3, flags: 5, type: "normal", objectId: 2, offset: 0 },
          ],
          brk: { start: 0x20000, end: 0x30000 },
          mmapBase: 0x40000000,
        },
        descriptors: [
          {
            fd: 0,
            cloexec: false,
            kind: "tty",
            path: "/dev/tty",
            termios: { iflag: 1, oflag: 2, cflag: 3, lflag: 4, cc: new Uint8Array([3, 4]) },
          },
          { fd: 3, cloexec: true, kind: "pipe", pipeId: 1, end: "read", buffered: new Uint8Array([104, 105]) },
          { fd: 4, cloexec: false, kind: "file", path: "/tmp/out", offset: 2, flags: 1, mode: 0o644 },
        ],
      },
    ],
    clock: { instructions: 1_000_000, ns: 2_000_000 },
    prng: { algorithm: "xoshiro128**", state: [1, 2, 3, 4] },
    executables: [],
    objects: [
      { id: 1, kind: "anon", size: 4 },
      { id: 2, kind: "anon", size: 16 },
    ],
  };
}

/** Page `index` of `objectId`, content depending on `version`. */
export function page(objectId: number, index: number, version = 1): Uint8Array {
  const bytes = new Uint8Array(4096);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < 4096; i += 4) view.setUint32(i, (objectId * 0x9e3779b1 + index * 0x85ebca6b + i * 7 + version) >>> 0);
  return bytes;
}

/** Text pages 0..3 and heap pages 0..7 (the rest zero); heap pages below `changed` get `version`. */
export function* pages(version = 1, changed = 0): Iterable<PageWrite> {
  for (let i = 0; i < 4; i++) yield { objectId: 1, pageIndex: i, bytes: page(1, i) };
  for (let i = 0; i < 8; i++) yield { objectId: 2, pageIndex: i, bytes: page(2, i, i < changed ? version : 1) };
}

export interface SampleImages {
  base: string;
  child: string;
  other: string;
}

/**
 * In the store at `url`: `base` (tagged `base`), `child` of base with two heap pages changed
 * (tagged `latest`), and an unrelated `other` image of program `cat`.
 */
export async function writeSampleImages(url: string, options: { signKey?: string } = {}): Promise<SampleImages> {
  const blobs = await openStore(url);
  try {
    const images: ImageStore = createImageStore(blobs, options.signKey === undefined ? {} : { signKey: options.signKey });
    const base = (await images.writeImage(draft(), pages(), { refs: ["base"] })).id;
    const other = (
      await images.writeImage(draft({ comm: "cat", time: "2026-11-28T12:01:00.000Z" }), pages(3, 8), { refs: [] })
    ).id;
    const child = (
      await images.writeImage(
        draft({ parent: base, time: "2026-11-28T12:02:00.000Z", pc: 0x10040 }),
        pages(2, 2),
        { refs: ["latest"] },
      )
    ).id;
    return { base, child, other };
  } finally {
    await blobs.close?.();
  }
}
