/**
 * Image write/read throughput (ARCHITECTURE §7, issue "image format and stores"): an image of
 * distinct pages written to and read from the file store, beside a raw write and read of the
 * same bytes to the same disk; the same image to the embedded S3 server on loopback; requests
 * per image; peak memory beyond the image's own bytes while writing and reading.
 *
 * Fairness: the raw baseline does what the image store cannot avoid (4 MiB writes and an fsync;
 * a read into fresh memory) and nothing it can. Page caches cannot be dropped here, so raw
 * and image reads both read files just written. The machine is shared and noisy, so each round
 * measures raw and image back to back and the table reports the median of each over
 * VKC_BENCH_STORE_ROUNDS rounds (default 3). Size: VKC_BENCH_STORE_MIB (default 256).
 */
import { randomFillSync } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { open, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createFileStore } from "@vkc/backend-file";
import { startEmbeddedS3 } from "@vkc/backend-s3mock";
import { type BlobStore, createImageStore, type ManifestDraft, type PageWrite } from "@vkc/checkpoint";
import type { Benchmark, BenchRow } from "./harness.ts";

const PAGE = 4096;

export function draftFor(pages: number): ManifestDraft {
  return {
    created: { time: new Date().toISOString(), tool: "vkc-bench" },
    kind: "process",
    processes: [
      {
        pid: 1,
        ppid: 0,
        pgid: 1,
        sid: 1,
        comm: "bench",
        argv: ["bench"],
        envp: [],
        cwd: "/",
        cred: { uid: 0, gid: 0 },
        flags: 0,
        sigacts: [],
        itimers: [],
        lwps: [
          {
            tid: 1,
            regs: Array.from({ length: 33 }, () => 0),
            sigmask: [0, 0],
            pending: [0, 0],
            altstack: { sp: 0, size: 0, flags: 2 },
            state: { kind: "runnable" },
          },
        ],
        vmspace: {
          entries: [
            {
              start: 0x10000,
              end: 0x10000 + pages * PAGE,
              prot: 3,
              flags: 1,
              type: "normal",
              objectId: 1,
              offset: 0,
            },
          ],
          brk: { start: 0x10000, end: 0x10000 },
          mmapBase: 0x40000000,
        },
        descriptors: [],
      },
    ],
    clock: { instructions: 0, ns: 0 },
    prng: { algorithm: "none", state: [] },
    executables: [],
    objects: [{ id: 1, kind: "anon", size: pages }],
  };
}

const CHUNK = 4 << 20;

/** Peak resident memory above a starting point, sampled at the points the caller chooses. */
class PeakMemory {
  private readonly base = process.memoryUsage.rss();
  private peak = this.base;
  sample(): void {
    const rss = process.memoryUsage.rss();
    if (rss > this.peak) this.peak = rss;
  }
  get mib(): number {
    this.sample();
    return (this.peak - this.base) / (1 << 20);
  }
}

async function* pagesOf(data: Buffer, memory: PeakMemory): AsyncIterable<PageWrite> {
  for (let i = 0; i * PAGE < data.length; i++) {
    if (i % 256 === 0) memory.sample();
    yield { objectId: 1, pageIndex: i, bytes: data.subarray(i * PAGE, (i + 1) * PAGE) };
  }
}

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const value = await fn();
  return [performance.now() - t0, value];
}

async function rawWrite(path: string, data: Buffer): Promise<void> {
  const fh = await open(path, "w");
  try {
    for (let off = 0; off < data.length; off += CHUNK)
      await fh.write(data, off, Math.min(CHUNK, data.length - off));
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * A raw read into fresh memory, as a restore's pages must land in memory nobody used before
 * (reading into one reused buffer would measure only memcpy from the page cache).
 */
async function rawRead(path: string): Promise<number> {
  return (await readFile(path)).length;
}

interface ImageRun {
  writeMs: number;
  readMs: number;
  requests: number;
  writeMemMiB: number;
  readMemMiB: number;
}

async function writeAndRead(store: BlobStore, data: Buffer): Promise<ImageRun> {
  const images = createImageStore(store);
  const pages = data.length / PAGE;
  const writeMem = new PeakMemory();
  const [writeMs, written] = await timed(() => images.writeImage(draftFor(pages), pagesOf(data, writeMem)));
  const writeMemMiB = writeMem.mib;
  const readMem = new PeakMemory();
  const [readMs] = await timed(async () => {
    let n = 0;
    for await (const _ of images.readPages(written.id)) if (++n % 256 === 0) readMem.sample();
    if (n !== pages) throw new Error(`read ${n} pages back, wrote ${pages}`);
  });
  return { writeMs, readMs, requests: written.stats.requests, writeMemMiB, readMemMiB: readMem.mib };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export const storeBenchmark: Benchmark = {
  name: "store",
  async run(): Promise<BenchRow[]> {
    const mib = Number(process.env.VKC_BENCH_STORE_MIB ?? 256);
    const rounds = Math.max(1, Number(process.env.VKC_BENCH_STORE_ROUNDS ?? 3));
    const data = randomFillSync(Buffer.alloc(mib << 20));
    const runs: { rawWriteMs: number; rawReadMs: number; file: ImageRun; s3: ImageRun }[] = [];
    for (let round = 0; round < rounds; round++) {
      const dir = mkdtempSync(join(tmpdir(), "vkc-bench-store-"));
      try {
        const raw = join(dir, "raw.bin");
        const [rawWriteMs] = await timed(() => rawWrite(raw, data));
        const [rawReadMs] = await timed(() => rawRead(raw));
        const file = await writeAndRead(createFileStore({ root: join(dir, "store") }), data);
        const s3server = await startEmbeddedS3({ dir: join(dir, "s3") });
        let s3: ImageRun;
        try {
          s3 = await writeAndRead(s3server.store(), data);
        } finally {
          await s3server.close();
        }
        runs.push({ rawWriteMs, rawReadMs, file, s3 });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    const rate = (pick: (r: (typeof runs)[number]) => number) =>
      median(runs.map((r) => mib / (pick(r) / 1000)));
    const rawWriteRate = rate((r) => r.rawWriteMs);
    const rawReadRate = rate((r) => r.rawReadMs);
    const fileWrite = rate((r) => r.file.writeMs);
    const fileRead = rate((r) => r.file.readMs);
    const s3Write = rate((r) => r.s3.writeMs);
    const s3Read = rate((r) => r.s3.readMs);
    const peak = (pick: (r: (typeof runs)[number]) => number) => Math.max(...runs.map(pick));
    const last = runs[runs.length - 1]!;
    const per4MiB = mib / 4;
    return [
      row(`image write ${mib} MiB, file store`, fileWrite, "raw write+fsync", rawWriteRate, 0.8),
      row(`image read ${mib} MiB, file store`, fileRead, "raw read", rawReadRate, 0.8),
      row(`image write ${mib} MiB, S3 mock`, s3Write, "file store", fileWrite, 0.5),
      row(`image read ${mib} MiB, S3 mock`, s3Read, "file store", fileRead),
      {
        name: `requests per ${mib} MiB image (file / S3)`,
        value: last.file.requests,
        unit: "req",
        note: `S3: ${last.s3.requests}; ${(last.s3.requests / per4MiB).toFixed(2)} per 4 MiB`,
      },
      memRow(
        `peak memory beyond the image, write (file / S3)`,
        peak((r) => r.file.writeMemMiB),
        peak((r) => r.s3.writeMemMiB),
        256,
      ),
      memRow(
        `peak memory beyond the image, read (file / S3)`,
        peak((r) => r.file.readMemMiB),
        peak((r) => r.s3.readMemMiB),
        256,
      ),
      {
        name: `process max RSS (${rounds} round${rounds === 1 ? "" : "s"})`,
        value: process.resourceUsage().maxRSS / 1024,
        unit: "MiB",
        note: `image data itself: ${mib} MiB`,
      },
    ];
  },
};

function memRow(name: string, file: number, s3: number, limit: number): BenchRow {
  return {
    name,
    value: file,
    unit: "MiB",
    note: `S3: ${s3.toFixed(0)} MiB; target under ${limit} MiB at 1 GiB`,
  };
}

function row(name: string, value: number, baselineName: string, baseline: number, min?: number): BenchRow {
  return {
    name,
    value,
    unit: "MiB/s",
    baseline: { name: baselineName, value: baseline },
    ratio: value / baseline,
    ...(min === undefined ? {} : { target: { min, description: `at least ${min}x ${baselineName}` } }),
  };
}
