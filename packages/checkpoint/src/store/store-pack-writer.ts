import type { Sha256Hex } from "../model/model-values.ts";
import type { BlobStore } from "./blob-store.ts";
import { HashTable } from "./store-hash-table.ts";
import { packKey } from "./store-keys.ts";
import type { MarkerHandle } from "./store-markers.ts";
import { packIdOfHead } from "./store-pack-check.ts";
import { PackUploader, type SealedPack, type UploaderOptions } from "./store-pipeline.ts";
import { giveBackBuffer, takeBuffer } from "./store-pipeline-buffers.ts";
import { writePackHead } from "./store-pipeline-pack-head.ts";

/**
 * Collects hashed blobs (pages) into packs of about `targetBytes`, and hands full ones to a
 * `PackUploader`, which writes them in the background while this writer fills the next one. A
 * pack's id is the SHA-256 of its head (prefix + header, FORMAT.md §5), which lists every
 * payload's hash: sealing a pack hashes a few KiB, never its payload again.
 *
 * Blobs are numbered in the order they are claimed (`claim`, which also dedups: a hash is
 * claimed once) and must then be added in that order: `adopt` takes over a whole buffer of
 * hashed pages as a pack's payload (the usual case: a batch of new pages becomes a pack as it
 * is, no copy), `add` copies one blob into the pack being filled. Memory stays bounded by the
 * uploader's limits; `flush` waits for every write. Buffers go back to the buffer pool once
 * their put has settled: like every `BlobStore` caller, this assumes a backend keeps no
 * reference to the bytes it was given once the call resolves.
 */
export class PackWriter {
  private payload: Uint8Array = new Uint8Array(0);
  private payloadLength = 0;
  /** Hashes of the pending blobs, 32 bytes each. */
  private hashes = new Uint8Array(32 * 1024);
  private lengths: number[] = [];
  /** Every blob hash claimed → its ordinal. */
  private readonly claimed: HashTable;
  private claimedCount = 0;
  private addedCount = 0;
  private readonly uploader: PackUploader;
  /** Ids of the packs sealed so far. */
  readonly packs: Sha256Hex[] = [];
  /** Blob ordinal → index in `packs` of the pack holding it (complete once `flush` resolves). */
  readonly packOfBlob: number[] = [];
  payloadBytes = 0;

  constructor(
    blobs: BlobStore,
    marker: MarkerHandle,
    private readonly targetBytes: number,
    options: UploaderOptions & { expectedBlobs?: number } = {},
  ) {
    this.uploader = new PackUploader(blobs, marker, options);
    this.claimed = new HashTable(options.expectedBlobs ?? 0);
  }

  /** The ordinal of the blob with the hash at `hashes[at ..]` if it was claimed, else -1. */
  ordinalOf(hashes: Uint8Array, at: number): number {
    return this.claimed.get(hashes, at);
  }

  /** Claim the next ordinal for a new blob with the hash at `hashes[at ..]` (not yet claimed). */
  claim(hashes: Uint8Array, at: number): number {
    const ordinal = this.claimedCount++;
    this.claimed.set(hashes, at, ordinal);
    return ordinal;
  }

  /**
   * The table of every blob claimed, each value turned from the blob's ordinal into the index in
   * `packs` of its pack (call after `flush`): what an image store keeps to dedup the next image
   * against (store-known-pages.ts). The writer's own dedup must not be used afterwards.
   */
  claimedByPack(): HashTable {
    this.claimed.mapValues((ordinal) => this.packOfBlob[ordinal]!);
    return this.claimed;
  }

  /** True when nothing is pending: the next blobs start a new pack. */
  get empty(): boolean {
    return this.payloadLength === 0;
  }

  /**
   * Add the next claimed blob (copied), its hash at `hashes[at ..]`. When that fills the pack,
   * seals and queues it and returns a promise to await (it waits while too many packs are in
   * flight); otherwise returns nothing, so the caller's loop pays for no async step per blob.
   */
  add(hashes: Uint8Array, at: number, bytes: Uint8Array): Promise<void> | undefined {
    this.reserve(bytes.length);
    this.payload.set(bytes, this.payloadLength);
    this.payloadLength += bytes.length;
    this.note(hashes, at, 1, bytes.length);
    return this.payloadLength >= this.targetBytes ? this.uploader.submit(this.seal()) : undefined;
  }

  /**
   * Take `buffer` (from the buffer pool, given away) as the payload of a new pack: the next
   * `count` claimed blobs, each `size` bytes, blob `i` at `buffer[i * size ..]` with its hash at
   * `hashes[32 i ..]`. The writer must be `empty`. Seals it when that reaches the target.
   */
  adopt(buffer: Uint8Array, size: number, hashes: Uint8Array, count: number): Promise<void> | undefined {
    if (!this.empty) throw new Error("PackWriter.adopt needs an empty writer");
    if (this.payload.length > 0) giveBackBuffer(this.payload);
    this.payload = buffer;
    this.payloadLength = count * size;
    this.note(hashes, 0, count, size);
    return this.payloadLength >= this.targetBytes ? this.uploader.submit(this.seal()) : undefined;
  }

  /** Write the pending blobs as a last pack and wait for every pack to be stored. */
  async flush(): Promise<void> {
    if (this.lengths.length > 0) await this.uploader.submit(this.seal());
    else if (this.payload.length > 0) giveBackBuffer(this.payload);
    this.payload = new Uint8Array(0);
    await this.uploader.drain();
  }

  /** Wait for writes already started, without throwing (before giving up on an image). */
  async abandon(): Promise<void> {
    await this.uploader.settle();
  }

  private note(hashes: Uint8Array, at: number, count: number, size: number): void {
    if (this.addedCount + count > this.claimedCount)
      throw new Error("PackWriter: blob added before it was claimed");
    this.addedCount += count;
    const n = this.lengths.length;
    if ((n + count) * 32 > this.hashes.length) {
      const grown = new Uint8Array(Math.max(this.hashes.length * 2, (n + count) * 32));
      grown.set(this.hashes.subarray(0, n * 32));
      this.hashes = grown;
    }
    this.hashes.set(hashes.subarray(at, at + count * 32), n * 32);
    for (let i = 0; i < count; i++) this.lengths.push(size);
  }

  /** Turn the pending blobs into a pack; its buffer moves into the pack (the next blob takes a new one). */
  private seal(): SealedPack {
    const buffer = this.payload;
    const payload = buffer.subarray(0, this.payloadLength);
    const count = this.lengths.length;
    const head = writePackHead(this.hashes.subarray(0, count * 32), this.lengths);
    const id = packIdOfHead(head);
    for (let i = 0; i < count; i++) this.packOfBlob.push(this.packs.length);
    this.packs.push(id);
    this.payloadBytes += payload.length;
    this.lengths = [];
    this.payload = new Uint8Array(0);
    this.payloadLength = 0;
    return {
      id,
      key: packKey(id),
      chunks: [head, payload],
      size: head.length + payload.length,
      release: () => giveBackBuffer(buffer),
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
      if (this.payload.length > 0) giveBackBuffer(this.payload);
      this.payload = takeBuffer(this.targetBytes);
      return;
    }
    const grown = takeBuffer(Math.max(needed, this.payload.length * 2, this.targetBytes));
    grown.set(this.payload.subarray(0, this.payloadLength), 0);
    if (this.payload.length > 0) giveBackBuffer(this.payload);
    this.payload = grown;
  }
}
