import type { ManifestDraft, PageWrite } from "@vkc/checkpoint";

/**
 * The campaigns' sample image: one process, one thread, text (4 pages) + heap (16 pages).
 * Kept free of heavy imports, since writer child processes load it at every start.
 */

export function sampleDraft(n: number, parent?: string): ManifestDraft {
  const regs = Array.from({ length: 33 }, (_, i) => (i * 0x1111 + n) >>> 0);
  regs[32] = 0x10000 + (n % 1000) * 4;
  return {
    created: {
      time: new Date(Date.UTC(2026, 10, 28, 12, 0, 0) + n * 1000).toISOString(),
      tool: "vkc-campaign",
    },
    ...(parent === undefined ? {} : { parent }),
    kind: "process",
    processes: [
      {
        pid: 100,
        ppid: 1,
        pgid: 100,
        sid: 100,
        comm: "campaign",
        argv: ["/bin/campaign", String(n)],
        envp: ["HOME=/"],
        cwd: "/",
        cred: { uid: 0, gid: 0 },
        flags: 0,
        sigacts: [],
        itimers: [],
        lwps: [
          {
            tid: 100,
            regs,
            sigmask: [0, 0],
            pending: [0, 0],
            altstack: { sp: 0, size: 0, flags: 2 },
            state: { kind: "runnable" },
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
        descriptors: [],
      },
    ],
    clock: { instructions: 1_000_000 + n, ns: 2_000_000 },
    prng: { algorithm: "xoshiro128**", state: [1, 2, 3, 4] },
    executables: [],
    objects: [
      { id: 1, kind: "anon", size: 4 },
      { id: 2, kind: "anon", size: 16 },
    ],
  };
}

/** Pages for `sampleDraft`: 4 text pages and 16 heap pages whose content depends on `tag`. */
export function* samplePages(tag: number): Iterable<PageWrite> {
  const objects: [number, number][] = [
    [1, 4],
    [2, 16],
  ];
  for (const [objectId, count] of objects) {
    for (let i = 0; i < count; i++) {
      const bytes = new Uint8Array(4096);
      const view = new DataView(bytes.buffer);
      for (let o = 0; o < 4096; o += 4) {
        view.setUint32(o, (Math.imul(tag + 1, 0x9e3779b1) ^ (objectId * 0x10000 + i * 0x100 + o)) >>> 0);
      }
      yield { objectId, pageIndex: i, bytes };
    }
  }
}
