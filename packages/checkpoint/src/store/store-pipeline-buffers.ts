/**
 * Pack-sized buffers, reused across packs and across writes. Touching fresh memory costs a page
 * fault per 4 KiB, and on the machines measured (virtual, shared) that made copying into a new
 * 4 MiB buffer five times slower than copying into a used one, more than all the hashing. So
 * the write pipeline takes its batch and pack buffers here and gives them back when a pack is
 * stored. The pool keeps at most `MAX_POOLED_BYTES` and empties itself when unused for a few
 * seconds, so an idle process holds nothing.
 *
 * The buffers are `SharedArrayBuffer`s: the hash workers read a batch where it is
 * (store-hash-pool.ts). Moving a 4 MiB buffer to a worker and back instead made a new
 * `ArrayBuffer` object per batch on each side, and that churn of external memory set off a
 * full garbage collection every few batches.
 */

const MAX_POOLED_BYTES = 128 * 1024 * 1024;
const IDLE_RELEASE_MS = 3000;

const pooled = new Map<number, Uint8Array[]>();
let pooledBytes = 0;
let idleTimer: ReturnType<typeof setTimeout> | undefined;
const counts = { fresh: 0, reused: 0 };

/** How many `takeBuffer` calls allocated fresh memory and how many reused a pooled buffer. */
export function bufferCounts(): { readonly fresh: number; readonly reused: number } {
  return { ...counts };
}

/** A buffer of exactly `size` bytes (contents unspecified): a pooled one, else a new one. */
export function takeBuffer(size: number): Uint8Array {
  const spare = pooled.get(size)?.pop();
  if (spare !== undefined) {
    pooledBytes -= size;
    counts.reused++;
    return spare;
  }
  counts.fresh++;
  return new Uint8Array(new SharedArrayBuffer(size));
}

/** Hand a buffer from `takeBuffer` back; the caller must not use it afterwards. */
export function giveBackBuffer(buffer: Uint8Array): void {
  const size = buffer.byteLength;
  if (buffer.buffer.byteLength !== size || pooledBytes + size > MAX_POOLED_BYTES) return;
  let list = pooled.get(size);
  if (list === undefined) {
    list = [];
    pooled.set(size, list);
  }
  list.push(buffer);
  pooledBytes += size;
  if (idleTimer !== undefined) clearTimeout(idleTimer);
  idleTimer = setTimeout(releasePooledBuffers, IDLE_RELEASE_MS);
  idleTimer.unref();
}

/** Drop every pooled buffer (also done automatically after a few idle seconds). */
export function releasePooledBuffers(): void {
  pooled.clear();
  pooledBytes = 0;
  if (idleTimer !== undefined) clearTimeout(idleTimer);
  idleTimer = undefined;
}
