import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { Sha256Hex } from "../model/model-values.ts";
import { sha256HexOfParts, sha256Into } from "./store-hash.ts";

/**
 * A small pool of worker threads that run SHA-256 (node:crypto) off the main thread, so the
 * store's hashing overlaps its packing and its I/O. Three jobs:
 *   - `pageDigests(data, pageSize)`: the digest of every page of `data`, 32 bytes each;
 *   - `rangeDigests(data, ranges)`: the digest of each `[offset, length]` range of `data`;
 *   - `digestHex(parts)`: the hex digest of `parts` taken as one value (a whole pack).
 *
 * Bytes on a `SharedArrayBuffer` (the write path's pooled buffers, store-pipeline-buffers.ts)
 * are read by the worker in place: nothing is moved, copied or allocated per job, and the
 * caller's views stay valid (it must not change the bytes until the promise resolves). Other
 * buffers move to a worker and back without copying (they are transferred), so a caller
 * gives up the bytes it passes until the promise resolves, and must use the views it gets
 * back. A view that does not span its whole `ArrayBuffer` (the caller cannot give that away)
 * is copied first. Idle workers never keep the process alive. When a worker cannot start,
 * the pool hashes on the calling thread instead: slower, same results.
 */

const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
const crypto = require("node:crypto");
// As store-hash.ts's sha256Into: a latin1 string per digest is cheaper than a buffer.
const digestInto = typeof crypto.hash === "function"
  ? (b, out, at) => {
      const d = crypto.hash("sha256", b, "latin1");
      for (let i = 0; i < 32; i++) out[at + i] = d.charCodeAt(i);
    }
  : (b, out, at) => out.set(crypto.createHash("sha256").update(b).digest(), at);
// Shared buffers are read in place and not sent back (null); the others go back transferred.
const owned = (p) => !(p.buffer instanceof SharedArrayBuffer);
parentPort.on("message", (job) => {
  const back = job.parts.map((p) => (owned(p) ? p : null));
  const transfer = job.parts.filter(owned).map((p) => p.buffer);
  try {
    if (job.kind === "pages") {
      const data = job.parts[0];
      const count = Math.floor(data.length / job.pageSize);
      const digests = new Uint8Array(count * 32);
      for (let i = 0; i < count; i++) {
        digestInto(data.subarray(i * job.pageSize, (i + 1) * job.pageSize), digests, i * 32);
      }
      parentPort.postMessage({ id: job.id, parts: back, digests }, [...transfer, digests.buffer]);
    } else if (job.kind === "ranges") {
      const data = job.parts[0];
      const count = job.ranges.length / 2;
      const digests = new Uint8Array(count * 32);
      for (let i = 0; i < count; i++) {
        const at = job.ranges[2 * i];
        digestInto(data.subarray(at, at + job.ranges[2 * i + 1]), digests, i * 32);
      }
      parentPort.postMessage({ id: job.id, parts: back, digests }, [...transfer, digests.buffer]);
    } else {
      const hasher = crypto.createHash("sha256");
      for (const part of job.parts) hasher.update(part);
      parentPort.postMessage({ id: job.id, parts: back, hex: hasher.digest("hex") }, transfer);
    }
  } catch (error) {
    parentPort.postMessage({ id: job.id, parts: back, error: String(error && error.message) }, transfer);
  }
});
`;

interface Job {
  readonly kind: "pages" | "ranges" | "whole";
  readonly parts: Uint8Array[];
  readonly pageSize: number;
  /** For "ranges": offset, length, offset, length, … */
  readonly ranges?: Float64Array;
}

/** A worker's answer to a job, with the job's parts: shared ones as sent, others moved back. */
interface Reply {
  readonly id: number;
  readonly parts: Uint8Array[];
  readonly digests?: Uint8Array;
  readonly hex?: string;
  readonly error?: string;
}

/** A reply as it comes over the wire: `null` for each part that was shared (not sent back). */
type WireReply = Omit<Reply, "parts"> & { readonly parts: (Uint8Array | null)[] };

interface Pending {
  resolve(reply: WireReply): void;
  reject(error: Error): void;
}

/** A view on a `SharedArrayBuffer`: a worker reads it in place, nothing is moved or copied. */
function isShared(view: Uint8Array): boolean {
  return typeof SharedArrayBuffer === "function" && view.buffer instanceof SharedArrayBuffer;
}

/**
 * A view a worker may have: a shared one as it is, else one the caller can give away (the
 * whole of its `ArrayBuffer`), else a copy of it.
 */
function sendable(view: Uint8Array): Uint8Array {
  if (isShared(view)) return view;
  const whole = view.byteOffset === 0 && view.byteLength === view.buffer.byteLength;
  return whole && view.buffer instanceof ArrayBuffer ? view : view.slice();
}

class HashWorker {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;

  constructor(private readonly onExit: (worker: HashWorker) => void) {
    // Plain JavaScript: none of the parent's flags (a TypeScript loader would cost each worker
    // a few hundred milliseconds of start-up, which a pre-copy's first round waits for).
    this.worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [] });
    this.worker.unref();
    this.worker.on("message", (reply: WireReply) => {
      const job = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (this.pending.size === 0) this.worker.unref();
      job?.resolve(reply);
    });
    this.worker.on("error", (error) => this.fail(error));
    this.worker.on("exit", () => this.fail(new Error("hash worker exited")));
  }

  get load(): number {
    return this.pending.size;
  }

  run(job: Job): Promise<Reply> {
    const id = this.nextId++;
    const parts = job.parts.map(sendable);
    return new Promise<Reply>((resolve, reject) => {
      const resolveWire = (reply: WireReply) =>
        resolve({ ...reply, parts: reply.parts.map((p, i) => p ?? parts[i]!) });
      this.pending.set(id, { resolve: resolveWire, reject });
      this.worker.ref(); // an unanswered job keeps the process alive
      this.worker.postMessage(
        { id, kind: job.kind, pageSize: job.pageSize, ranges: job.ranges, parts },
        parts.filter((p) => !isShared(p)).map((p) => p.buffer as ArrayBuffer),
      );
    });
  }

  private fail(error: Error): void {
    this.onExit(this);
    for (const job of this.pending.values()) job.reject(error);
    this.pending.clear();
  }
}

export class HashPool {
  private readonly workers: HashWorker[] = [];
  private broken = false;

  constructor(readonly size: number) {}

  /** SHA-256 of each `pageSize` slice of `data`: 32 bytes per page, in order. */
  async pageDigests(data: Uint8Array, pageSize: number): Promise<{ data: Uint8Array; digests: Uint8Array }> {
    const worker = this.pick();
    if (worker === undefined) return { data, digests: inlinePageDigests(data, pageSize) };
    const reply = await this.ask(worker, { kind: "pages", parts: [data], pageSize });
    return { data: reply.parts[0]!, digests: reply.digests! };
  }

  /**
   * SHA-256 of each range of `data`, given as `offset, length` pairs: 32 bytes per range, in
   * order. `data` is given away until the promise resolves; use the returned view.
   */
  async rangeDigests(
    data: Uint8Array,
    ranges: Float64Array,
  ): Promise<{ data: Uint8Array; digests: Uint8Array }> {
    const worker = this.pick();
    if (worker === undefined) return { data, digests: inlineRangeDigests(data, ranges) };
    const reply = await this.ask(worker, { kind: "ranges", parts: [data], pageSize: 0, ranges });
    return { data: reply.parts[0]!, digests: reply.digests! };
  }

  /** Hex SHA-256 of `parts` as one value. */
  async digestHex(parts: Uint8Array[]): Promise<{ hex: Sha256Hex; parts: Uint8Array[] }> {
    const worker = this.pick();
    if (worker === undefined) return { hex: sha256HexOfParts(parts), parts };
    const reply = await this.ask(worker, { kind: "whole", parts, pageSize: 0 });
    return { hex: reply.hex!, parts: reply.parts };
  }

  private async ask(worker: HashWorker, job: Job): Promise<Reply> {
    const reply = await worker.run(job);
    if (reply.error !== undefined) throw new Error(`hash worker: ${reply.error}`);
    return reply;
  }

  /** The least busy worker, starting one when the pool is not full; undefined to hash inline. */
  private pick(): HashWorker | undefined {
    if (this.broken || this.size === 0) return undefined;
    const idle = this.workers.find((w) => w.load === 0);
    if (idle !== undefined || this.workers.length >= this.size) {
      return idle ?? this.workers.reduce((a, b) => (b.load < a.load ? b : a));
    }
    try {
      const worker = new HashWorker((gone) => {
        const at = this.workers.indexOf(gone);
        if (at >= 0) this.workers.splice(at, 1);
      });
      this.workers.push(worker);
      return worker;
    } catch {
      this.broken = true; // no worker threads here: hash on this thread from now on
      return undefined;
    }
  }
}

function inlinePageDigests(data: Uint8Array, pageSize: number): Uint8Array {
  const count = Math.floor(data.length / pageSize);
  const digests = new Uint8Array(count * 32);
  for (let i = 0; i < count; i++) {
    sha256Into(data.subarray(i * pageSize, (i + 1) * pageSize), digests, i * 32);
  }
  return digests;
}

function inlineRangeDigests(data: Uint8Array, ranges: Float64Array): Uint8Array {
  const count = ranges.length / 2;
  const digests = new Uint8Array(count * 32);
  for (let i = 0; i < count; i++) {
    const at = ranges[2 * i]!;
    sha256Into(data.subarray(at, at + ranges[2 * i + 1]!), digests, i * 32);
  }
  return digests;
}

let shared: HashPool | undefined;

/**
 * The process-wide pool: one worker per core (at most four). Hashing is the write path's only
 * CPU-heavy stage (the main thread copies each page once and waits on I/O), so it may use every
 * core the disk leaves free. `VKC_HASH_WORKERS` overrides the size (0: inline).
 */
export function sharedHashPool(): HashPool {
  if (shared === undefined) {
    const override = Number.parseInt(process.env.VKC_HASH_WORKERS ?? "", 10);
    const size =
      Number.isInteger(override) && override >= 0
        ? override
        : Math.min(4, Math.max(1, availableParallelism()));
    shared = new HashPool(size);
  }
  return shared;
}
