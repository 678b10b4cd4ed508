import { encodePackHead } from "../codec/codec-pack.ts";
import type { Sha256Hex } from "../model/model-values.ts";
import type { BlobStore } from "./blob-store.ts";
import { sha256HexOfParts } from "./store-hash.ts";
import { packKey } from "./store-keys.ts";
import type { MarkerHandle } from "./store-markers.ts";
import { PackUploader, type UploaderOptions } from "./store-pipeline.ts";

/** Stored packs' buffers kept for reuse (each `targetBytes` long). */
const MAX_SPARE_BUFFERS = 4;

/**
 * Collects small blobs into packs of about `targetBytes`. Each blob is copied once, into the
 * payload buffer of the pack being filled; a full pack is sealed (header encoded, pack hashed)
 * and handed to a `PackUploader`, which writes it in the background while this writer fills
 * the next one. Memory stays bounded by the uploader's limits; `flush` waits for every write.
 * Buffers come back for reuse once their put has settled: like every `BlobStore` caller, this
 * assumes a backend does not hold on to the bytes it was given after the call resolves.
 */
export class PackWriter {
  private payload: Uint8Array = new Uint8Array(0);
  private payloadLength = 0;
  private pending: { hash: Uint8Array; hex: Sha256Hex; length: number }[] = [];
  private readonly pendingHashes = new Set<Sha256Hex>();
  private readonly uploader: PackUploader;
  /** Payload buffers of packs already stored, reused so a long write does not fault in new memory. */
  private readonly spare: Uint8Array[] = [];
  /** Blob hash → pack it is written to (set when its pack is sealed). */
  readonly written = new Map<Sha256Hex, Sha256Hex>();
  /** Ids of the packs sealed so far, in order. */
  readonly packs: Sha256Hex[] = [];
  payloadBytes = 0;

  constructor(
    blobs: BlobStore,
    marker: MarkerHandle,
    private readonly targetBytes: number,
    uploaderOptions: UploaderOptions = {},
  ) {
    this.uploader = new PackUploader(blobs, marker, uploaderOptions);
  }

  /** True when a blob with this hash is already written or pending in this writer. */
  holds(hex: Sha256Hex): boolean {
    return this.written.has(hex) || this.pendingHashes.has(hex);
  }

  /** Add a blob (copied). Seals and queues a full pack, waiting when too many are in flight. */
  async add(hash: Uint8Array, hex: Sha256Hex, bytes: Uint8Array): Promise<void> {
    this.reserve(bytes.length);
    this.payload.set(bytes, this.payloadLength);
    this.payloadLength += bytes.length;
    this.pending.push({ hash, hex, length: bytes.length });
    this.pendingHashes.add(hex);
    if (this.payloadLength >= this.targetBytes) await this.uploader.submit(this.seal());
  }

  /** Write the pending blobs as a last pack and wait for every pack to be stored. */
  async flush(): Promise<void> {
    if (this.pending.length > 0) await this.uploader.submit(this.seal());
    await this.uploader.drain();
  }

  /** Wait for writes already started, without throwing (before giving up on an image). */
  async abandon(): Promise<void> {
    await this.uploader.settle();
  }

  /** Turn the pending blobs into a pack; the payload buffer moves into it (the next one is new). */
  private seal() {
    const items = this.pending;
    const payload = this.payload.subarray(0, this.payloadLength);
    const head = encodePackHead(items.map((i) => ({ hash: i.hash, length: i.length })));
    const id = sha256HexOfParts([head, payload]);
    for (const item of items) this.written.set(item.hex, id);
    this.packs.push(id);
    this.payloadBytes += payload.length;
    this.pending = [];
    this.pendingHashes.clear();
    const buffer = this.payload;
    this.payload = new Uint8Array(0);
    this.payloadLength = 0;
    return {
      id,
      key: packKey(id),
      chunks: [head, payload],
      size: head.length + payload.length,
      release: () => {
        if (this.spare.length < MAX_SPARE_BUFFERS) this.spare.push(buffer);
      },
    };
  }

  /**
   * Make room for `extra` more bytes: a pack's buffer (a spare one, or a new one of the target
   * size) is taken when its first blob arrives, and grows only when the blob that fills it
   * overshoots. Unzeroed memory is fine: only the written prefix is ever read.
   */
  private reserve(extra: number): void {
    const needed = this.payloadLength + extra;
    if (needed <= this.payload.length) return;
    if (this.payloadLength === 0) {
      const spare = this.spare.pop();
      if (spare !== undefined && spare.length >= needed) {
        this.payload = spare;
        return;
      }
    }
    const grown = Buffer.allocUnsafe(Math.max(needed, this.payload.length * 2, this.targetBytes));
    grown.set(this.payload.subarray(0, this.payloadLength), 0);
    this.payload = grown;
  }
}
