import type { HashPool } from "./store-hash-pool.ts";
import { giveBackBuffer, takeBuffer } from "./store-pipeline-buffers.ts";

/** A batch of pages with their digests, in the order they were accepted. */
export interface HashedBatch {
  /** Pages in the batch: the next `count` pages `accept` took, in order. */
  readonly count: number;
  /** SHA-256 of page `i` at `digests[32 * i .. 32 * i + 32)`; the array is the caller's to keep. */
  readonly digests: Uint8Array;
  /** The bytes of page `i` at `pages[pageSize * i ..]`: valid until the next batch is taken. */
  readonly pages: Uint8Array;
  /**
   * Keep the batch's buffer (the whole of it, `pages` at its start) instead of letting it go
   * back to the buffer pool when the next batch is taken. Call it before taking the next batch.
   */
  take(): Uint8Array;
}

export interface PageHashingOptions {
  readonly pageSize: number;
  /** Pages per batch sent to the pool (default 1024: 4 MiB of 4 KiB pages). */
  readonly batchPages?: number;
  /** Batches being hashed while the caller works through an earlier one (default 2). */
  readonly batchesAhead?: number;
}

/** A batch being hashed: resolves to the batch, and says whether it has already. */
interface InFlight {
  readonly done: Promise<HashedBatch & { readonly taken: boolean }>;
  ready: boolean;
}

/**
 * Hash a stream of equal-sized pages on the pool, a batch at a time, handing batches back in
 * order. `accept` sees every item first: it returns the bytes to hash, or `undefined` to skip
 * the item (and may throw to refuse the stream). The caller keeps whatever it needs to know
 * about each accepted item (in `accept`, in order): a batch says only how many it holds, so
 * no item outlives the moment it is copied (items held until their batch is hashed would
 * survive young-generation collections, and on the write path that cost more than the copy).
 *
 * Each accepted page is copied once into a batch buffer; full batches go to the pool while the
 * next fills, so hashing runs beside the caller's own work (packing, waiting for writes).
 * Batches rather than pages come out because every async step costs about as much as hashing
 * a page does; for the same reason a plain (sync) iterable is read with no await per item. At most `batchesAhead + 2` batch buffers exist at once (filling, hashing, handed
 * out), and they come from and go back to the buffer pool.
 */
export async function* hashPageBatches<T>(
  source: AsyncIterable<T> | Iterable<T>,
  accept: (item: T) => Uint8Array | undefined,
  pool: HashPool,
  options: PageHashingOptions,
): AsyncGenerator<HashedBatch> {
  const { pageSize } = options;
  const batchPages = Math.max(1, options.batchPages ?? 1024);
  const batchesAhead = Math.max(1, options.batchesAhead ?? 2);
  const hashing: InFlight[] = [];
  let buffer: Uint8Array | undefined;
  let count = 0;
  let handedOut = 0;

  const send = (full: Uint8Array, pages: number) => {
    const entry: InFlight = {
      done: pool.pageDigests(full.subarray(0, pages * pageSize), pageSize).then(({ data, digests }) => {
        entry.ready = true;
        let taken = false;
        return {
          count: pages,
          digests,
          pages: data,
          take() {
            taken = true;
            return new Uint8Array(data.buffer);
          },
          get taken() {
            return taken;
          },
        };
      }),
      ready: false,
    };
    entry.done.catch(() => undefined); // awaited in order below; this only silences an abandoned batch
    hashing.push(entry);
  };

  async function* handOut(): AsyncGenerator<HashedBatch> {
    const batch = await hashing.shift()!.done;
    handedOut++;
    yield batch;
    if (!batch.taken) giveBackBuffer(new Uint8Array(batch.pages.buffer)); // the whole buffer, back from the pool
  }

  /** Copy in one item; true when that filled the batch (which then went to the pool). */
  const add = (item: T): boolean => {
    const bytes = accept(item);
    if (bytes === undefined) return false;
    buffer ??= takeBuffer(batchPages * pageSize);
    buffer.set(bytes, count * pageSize);
    if (++count < batchPages) return false;
    send(buffer, count);
    buffer = undefined;
    count = 0;
    return true;
  };
  // Hand out what is hashed already, and wait when too many batches are out. The allowance
  // grows with the batches handed out, so the first one goes downstream as soon as it can.
  const mustHandOut = () => hashing.length > Math.min(batchesAhead, handedOut) || hashing[0]?.ready === true;

  if (Symbol.asyncIterator in source) {
    for await (const item of source) if (add(item)) while (mustHandOut()) yield* handOut();
  } else {
    // A plain iterable (a kernel's freeze): pages are taken without an await each, only the
    // batches are awaited.
    for (const item of source) if (add(item)) while (mustHandOut()) yield* handOut();
  }
  if (buffer !== undefined) send(buffer, count);
  while (hashing.length > 0) yield* handOut();
}
