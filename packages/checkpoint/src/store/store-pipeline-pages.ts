import type { HashPool } from "./store-hash-pool.ts";
import { giveBackBuffer, takeBuffer } from "./store-pipeline-buffers.ts";

export interface HashedPage<T> {
  /** What the caller passed in beside the bytes. */
  readonly item: T;
  /** SHA-256 of the page (a view, valid until the next page is taken). */
  readonly digest: Uint8Array;
  /** The page's bytes (a view, valid until the next page is taken: copy what you keep). */
  readonly bytes: Uint8Array;
}

export interface PageHashingOptions {
  readonly pageSize: number;
  /** Pages per batch sent to the pool (default 1024: 4 MiB of 4 KiB pages). */
  readonly batchPages?: number;
  /** Batches being hashed while the caller works through an earlier one (default 2). */
  readonly batchesAhead?: number;
}

interface Batch<T> {
  buffer: Uint8Array;
  items: T[];
}

/**
 * Hash a stream of equal-sized pages on the pool, in batches, handing them back in order.
 *
 * Each page is copied once into a batch buffer; full batches go to the pool while the next
 * fills, so hashing runs beside the caller's own work (packing, waiting for writes). At most
 * `batchesAhead + 2` batches exist at once (being filled, being hashed, being handed out),
 * and their buffers come from and go back to the buffer pool.
 */
export async function* hashPagesInOrder<T>(
  source: AsyncIterable<T> | Iterable<T>,
  bytesOf: (item: T) => Uint8Array,
  pool: HashPool,
  options: PageHashingOptions,
): AsyncGenerator<HashedPage<T>> {
  const { pageSize } = options;
  const batchPages = Math.max(1, options.batchPages ?? 1024);
  const batchesAhead = Math.max(1, options.batchesAhead ?? 2);
  const hashing: Promise<{ batch: Batch<T>; digests: Uint8Array }>[] = [];
  let filling: Batch<T> | undefined;

  const send = (batch: Batch<T>) => {
    const used = batch.buffer.subarray(0, batch.items.length * pageSize);
    const done = pool.pageDigests(used, pageSize).then(({ data, digests }) => {
      batch.buffer = new Uint8Array(data.buffer, 0, data.buffer.byteLength); // back from the worker
      return { batch, digests };
    });
    done.catch(() => undefined); // awaited in order below; this only silences an abandoned batch
    hashing.push(done);
  };

  async function* handOut(): AsyncGenerator<HashedPage<T>> {
    const { batch, digests } = await hashing.shift()!;
    for (let i = 0; i < batch.items.length; i++) {
      yield {
        item: batch.items[i]!,
        digest: digests.subarray(i * 32, i * 32 + 32),
        bytes: batch.buffer.subarray(i * pageSize, (i + 1) * pageSize),
      };
    }
    giveBackBuffer(batch.buffer);
  }

  for await (const item of source) {
    if (filling === undefined) {
      filling = { buffer: takeBuffer(batchPages * pageSize), items: [] };
    }
    filling.buffer.set(bytesOf(item), filling.items.length * pageSize);
    filling.items.push(item);
    if (filling.items.length < batchPages) continue;
    send(filling);
    filling = undefined;
    while (hashing.length > batchesAhead) yield* handOut();
  }
  if (filling !== undefined && filling.items.length > 0) send(filling);
  while (hashing.length > 0) yield* handOut();
}
