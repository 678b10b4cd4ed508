import type { Sha256Hex } from "../model/model-values.ts";
import type { BlobStore } from "./blob-store.ts";
import type { HashPool } from "./store-hash-pool.ts";
import { packKey } from "./store-keys.ts";
import type { MarkerHandle } from "./store-markers.ts";
import { PackUploader, type SealedPack, type UploaderOptions } from "./store-pipeline.ts";
import { giveBackBuffer, takeBuffer } from "./store-pipeline-buffers.ts";
import { writePackHead } from "./store-pipeline-pack-head.ts";

/**
 * Collects small blobs into packs of about `targetBytes`. Each blob is copied once, into the
 * payload buffer of the pack being filled; a full pack is sealed (header written here, pack
 * hashed on the hash pool) and handed to a `PackUploader`, which writes it in the background
 * while this writer fills the next one. Memory stays bounded by the uploader's limits; `flush`
 * waits for every write. Buffers go back to the buffer pool once their put has settled: like
 * every `BlobStore` caller, this assumes a backend keeps no reference to the bytes it was given
 * once the call resolves.
 */
export class PackWriter {
  private payload: Uint8Array = new Uint8Array(0);
  private payloadLength = 0;
  private hashes: Uint8Array[] = [];
  private lengths: number[] = [];
  private hexes: Sha256Hex[] = [];
  /** Every blob hash added: pending, being hashed or written. */
  private readonly held = new Set<Sha256Hex>();
  private readonly uploader: PackUploader;
  /** Blob hash → pack it is written to (complete once `flush` resolves). */
  readonly written = new Map<Sha256Hex, Sha256Hex>();
  /** Ids of the packs sealed so far. */
  readonly packs: Sha256Hex[] = [];
  payloadBytes = 0;

  constructor(
    blobs: BlobStore,
    marker: MarkerHandle,
    private readonly targetBytes: number,
    private readonly pool: HashPool,
    uploaderOptions: UploaderOptions = {},
  ) {
    this.uploader = new PackUploader(blobs, marker, uploaderOptions);
  }

  /** True when a blob with this hash was already added to this writer. */
  holds(hex: Sha256Hex): boolean {
    return this.held.has(hex);
  }

  /**
   * Add a blob (copied). When that fills the pack, seals and queues it and returns a promise to
   * await (it waits while too many packs are in flight); otherwise returns nothing, so the
   * caller's loop pays for no async step per blob.
   */
  add(hash: Uint8Array, hex: Sha256Hex, bytes: Uint8Array): Promise<void> | undefined {
    this.reserve(bytes.length);
    this.payload.set(bytes, this.payloadLength);
    this.payloadLength += bytes.length;
    this.hashes.push(hash);
    this.lengths.push(bytes.length);
    this.hexes.push(hex);
    this.held.add(hex);
    return this.payloadLength >= this.targetBytes ? this.uploader.submit(this.seal()) : undefined;
  }

  /** Write the pending blobs as a last pack and wait for every pack to be stored. */
  async flush(): Promise<void> {
    if (this.hexes.length > 0) await this.uploader.submit(this.seal());
    await this.uploader.drain();
  }

  /** Wait for writes already started, without throwing (before giving up on an image). */
  async abandon(): Promise<void> {
    await this.uploader.settle();
  }

  /**
   * Turn the pending blobs into a pack. Its buffer moves into the pack (the next blob takes a
   * new one) and goes to the hash pool; the pack is ready to put when its hash comes back.
   */
  private async seal(): Promise<SealedPack> {
    const hexes = this.hexes;
    const buffer = this.payload;
    const payload = buffer.subarray(0, this.payloadLength);
    const head = writePackHead(this.hashes, this.lengths);
    this.payloadBytes += payload.length;
    this.hashes = [];
    this.lengths = [];
    this.hexes = [];
    this.payload = new Uint8Array(0);
    this.payloadLength = 0;

    const { hex: id, parts } = await this.pool.digestHex([head, payload]);
    for (const hex of hexes) this.written.set(hex, id);
    this.packs.push(id);
    // A whole buffer went to the worker and came back as `parts[1]`; a partial one was copied.
    const returned = buffer.byteLength === 0 ? new Uint8Array(parts[1]!.buffer) : buffer;
    return {
      id,
      key: packKey(id),
      chunks: parts,
      size: head.length + payload.length,
      release: () => giveBackBuffer(returned),
    };
  }

  /**
   * Make room for `extra` more bytes: a pack's buffer (target-sized, from the buffer pool) is
   * taken when its first blob arrives, and grows only when the blob that fills it overshoots.
   * Unzeroed memory is fine: only the written prefix is ever read.
   */
  private reserve(extra: number): void {
    const needed = this.payloadLength + extra;
    if (needed <= this.payload.length) return;
    if (this.payloadLength === 0 && needed <= this.targetBytes) {
      this.payload = takeBuffer(this.targetBytes);
      return;
    }
    const grown = takeBuffer(Math.max(needed, this.payload.length * 2, this.targetBytes));
    grown.set(this.payload.subarray(0, this.payloadLength), 0);
    if (this.payload.length > 0) giveBackBuffer(this.payload);
    this.payload = grown;
  }
}
