import { createHash } from "node:crypto";
import { Worker } from "node:worker_threads";
import { crc32 } from "node:zlib";

/**
 * MD5 (for the ETag) and CRC32 (the usual flexible checksum) of request bodies, on one worker
 * thread shared by every server in the process. The client, the server and the image store's
 * packer share the main thread when the server is embedded, and MD5 is its largest cost there
 * (about 1.4 ms per MiB); the worker takes it off, and runs beside the main thread.
 *
 * A body's chunks move to the worker and back without copying (transferred): the caller gives
 * them up and must use the chunks it gets back. A chunk that does not own its whole
 * `ArrayBuffer` is copied first (socket chunks own theirs). The idle worker never keeps the
 * process alive; when it cannot start or dies, digests are computed on the calling thread.
 */

const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
const { createHash } = require("node:crypto");
const { crc32 } = require("node:zlib");
parentPort.on("message", (job) => {
  const transfer = job.parts.map((p) => p.buffer);
  try {
    const md5 = createHash("md5");
    let crc = 0;
    for (const part of job.parts) {
      md5.update(part);
      if (job.crc32) crc = crc32(part, crc);
    }
    parentPort.postMessage({ id: job.id, parts: job.parts, md5: md5.digest("hex"), crc32: crc }, transfer);
  } catch (error) {
    parentPort.postMessage({ id: job.id, parts: job.parts, error: String(error && error.message) }, transfer);
  }
});
`;

/** A body's digests, and its chunks (the ones handed back by the worker). */
export interface BodyDigests {
  readonly chunks: Buffer[];
  /** MD5, lowercase hex. */
  readonly md5: string;
  /** CRC32 as an unsigned integer, when asked for. */
  readonly crc32: number | undefined;
}

interface Reply {
  readonly id: number;
  readonly parts: Uint8Array[];
  readonly md5?: string;
  readonly crc32?: number;
  readonly error?: string;
}

interface Pending {
  readonly wantCrc: boolean;
  resolve(digests: BodyDigests): void;
  reject(error: Error): void;
}

function digestsHere(chunks: Buffer[], wantCrc: boolean): BodyDigests {
  const md5 = createHash("md5");
  let crc = 0;
  for (const chunk of chunks) {
    md5.update(chunk);
    if (wantCrc) crc = crc32(chunk, crc);
  }
  return { chunks, md5: md5.digest("hex"), crc32: wantCrc ? crc >>> 0 : undefined };
}

function asBuffer(part: Uint8Array): Buffer {
  return Buffer.from(part.buffer, part.byteOffset, part.byteLength);
}

class BodyHasher {
  private worker: Worker | undefined;
  private failed = false;
  private nextId = 0;
  private readonly pending = new Map<number, Pending>();

  private start(): Worker | undefined {
    if (this.worker !== undefined || this.failed) return this.worker;
    try {
      const worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [] }); // plain JS: no loader flags
      worker.unref();
      worker.on("message", (reply: Reply) => this.settle(reply));
      worker.on("error", (error) => this.fail(error));
      worker.on("exit", () => this.fail(new Error("the body hashing worker exited")));
      this.worker = worker;
    } catch {
      this.failed = true;
    }
    return this.worker;
  }

  private settle(reply: Reply): void {
    const job = this.pending.get(reply.id);
    if (job === undefined) return;
    this.pending.delete(reply.id);
    if (this.pending.size === 0) this.worker?.unref();
    const chunks = reply.parts.map(asBuffer);
    if (reply.error !== undefined || reply.md5 === undefined) {
      // The chunks came back: hash them here instead.
      job.resolve(digestsHere(chunks, job.wantCrc));
      return;
    }
    job.resolve({ chunks, md5: reply.md5, crc32: job.wantCrc ? (reply.crc32 ?? 0) >>> 0 : undefined });
  }

  private fail(error: Error): void {
    this.failed = true;
    this.worker = undefined;
    const jobs = [...this.pending.values()];
    this.pending.clear();
    for (const job of jobs) job.reject(error);
  }

  /** MD5 (and CRC32 when `wantCrc`) of `chunks`, which the caller gives up for the returned ones. */
  digest(chunks: readonly Buffer[], wantCrc: boolean): Promise<BodyDigests> {
    const worker = this.start();
    if (worker === undefined) return Promise.resolve(digestsHere([...chunks], wantCrc));
    const parts = chunks.map((c) =>
      c.byteOffset === 0 && c.byteLength === c.buffer.byteLength && !(c.buffer instanceof SharedArrayBuffer)
        ? c
        : new Uint8Array(c),
    );
    // A transfer list may name an ArrayBuffer once: copy a chunk that shares one with another.
    const seen = new Set<ArrayBufferLike>();
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i] as Uint8Array;
      if (seen.has(part.buffer)) parts[i] = new Uint8Array(part);
      seen.add((parts[i] as Uint8Array).buffer);
    }
    const id = this.nextId++;
    return new Promise<BodyDigests>((resolve, reject) => {
      this.pending.set(id, { wantCrc, resolve, reject });
      worker.ref();
      worker.postMessage(
        { id, parts, crc32: wantCrc },
        parts.map((p) => p.buffer as ArrayBuffer),
      );
    });
  }
}

const hasher = new BodyHasher();

/**
 * MD5 and (when `wantCrc`) CRC32 of a body's chunks, on the shared worker. The caller gives
 * `chunks` up (they may be detached) and uses the returned ones, which hold the same bytes.
 */
export function digestBody(chunks: readonly Buffer[], wantCrc: boolean): Promise<BodyDigests> {
  return hasher.digest(chunks, wantCrc);
}
