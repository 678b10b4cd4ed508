import type { Sha256Hex } from "../model/model-values.ts";
import { type BlobStore, type DeferredPut, supportsDeferred, supportsPutStream } from "./blob-store.ts";
import type { MarkerHandle } from "./store-markers.ts";

/** A finished pack: its content hash, its key, and its bytes as the chunks to put. */
export interface SealedPack {
  readonly id: Sha256Hex;
  readonly key: string;
  readonly chunks: readonly Uint8Array[];
  readonly size: number;
  /** Called once the put has settled and no backend call holds the chunks any more. */
  readonly release?: () => void;
}

export interface UploaderOptions {
  /** Most packs named by one marker update and then put together (default 16). */
  readonly groupSize?: number;
  /** Groups being marked or put at once; `submit` waits for room (default 1). */
  readonly groupsInFlight?: number;
  /** Puts of one group in flight at once (default 2). */
  readonly putsPerGroup?: number;
}

/**
 * Writes sealed packs in the background while the caller hashes and packs the next ones.
 *
 * Packs go out in groups: one marker update names every pack of a group, then the group's
 * packs are put. The marker rule of store-markers.ts holds (a pack is named before it is put),
 * the marker costs one request per group instead of one per pack, and marker updates stay in
 * order (each names a superset of the one before). Groups grow 1, 2, 4, … up to `groupSize`:
 * the backend starts working as early as it can, and a large image costs one marker update per
 * `groupSize` packs (1/16 of a request per 4 MiB by default). Memory is bounded: `submit` waits while
 * `groupsInFlight` groups are being written and one more is filling, so at most
 * `(groupsInFlight + 1) * groupSize` packs are held.
 *
 * On a backend with deferred durability (`BlobStoreDeferred`, the file store) packs are written
 * unsynced and invisible, and `drain` makes them all durable and visible at once (one sync
 * pass instead of one per pack), before the caller puts the manifest that names them.
 *
 * The first failure stops everything queued after it and is thrown by the next `submit` or by
 * `drain`; `settle` waits for whatever is still running without throwing (for error paths) and
 * drops unpublished deferred packs.
 */
export class PackUploader {
  private readonly groupSize: number;
  private readonly groupsInFlight: number;
  private readonly putsPerGroup: number;
  private filling: Promise<SealedPack>[] = [];
  private groupsStarted = 0;
  private readonly running = new Set<Promise<void>>();
  /** The last marker update started: the next one waits for it, so updates land in order. */
  private lastMark: Promise<void> = Promise.resolve();
  private failure: { error: unknown } | undefined;
  /** Packs written unpublished (deferred durability), published by `drain`. */
  private deferred: DeferredPut[] = [];

  constructor(
    private readonly blobs: BlobStore,
    private readonly marker: MarkerHandle,
    options: UploaderOptions = {},
  ) {
    this.groupSize = Math.max(1, options.groupSize ?? 16);
    this.groupsInFlight = Math.max(1, options.groupsInFlight ?? 1);
    this.putsPerGroup = Math.max(1, options.putsPerGroup ?? 2);
  }

  /**
   * Queue a pack, or a pack still being sealed (hashed). Resolves once there is room for more;
   * throws an earlier failure.
   */
  async submit(pack: SealedPack | Promise<SealedPack>): Promise<void> {
    this.throwIfFailed();
    const sealing = Promise.resolve(pack);
    sealing.catch(() => undefined); // awaited when its group starts; this only silences a dropped one
    this.filling.push(sealing);
    // The first group is a single pack, so the disk starts working as early as it can.
    if (this.filling.length < this.nextGroupSize()) return;
    while (this.running.size >= this.groupsInFlight) await Promise.race(this.running);
    this.throwIfFailed();
    this.startGroup();
  }

  /**
   * Write what is queued and wait for every write, then publish deferred packs; throws the first
   * failure (and then drops the deferred packs).
   */
  async drain(): Promise<void> {
    try {
      this.throwIfFailed();
      if (this.filling.length > 0) this.startGroup();
      await this.waitRunning();
      this.throwIfFailed();
      const deferred = this.takeDeferred();
      if (deferred.length > 0 && supportsDeferred(this.blobs)) {
        try {
          await this.blobs.publishDeferred(deferred);
        } catch (error) {
          await this.blobs.discardDeferred(deferred).catch(() => undefined);
          throw error;
        }
      }
    } catch (error) {
      await this.settle();
      throw error;
    }
  }

  /** Wait for every started write to finish or fail, throwing nothing; drops what is queued. */
  async settle(): Promise<void> {
    await this.waitRunning();
    const deferred = this.takeDeferred();
    if (deferred.length > 0 && supportsDeferred(this.blobs)) {
      await this.blobs.discardDeferred(deferred).catch(() => undefined);
    }
  }

  private takeDeferred(): DeferredPut[] {
    const deferred = this.deferred;
    this.deferred = [];
    return deferred;
  }

  /** Drop what is queued and wait for every started write to finish or fail. */
  private async waitRunning(): Promise<void> {
    this.filling = [];
    while (this.running.size > 0) await Promise.all(this.running);
  }

  /** Groups grow 1, 2, 4, … up to `groupSize`: the backend starts early, markers stay few. */
  private nextGroupSize(): number {
    return Math.min(this.groupSize, 2 ** Math.min(this.groupsStarted, 30));
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure.error;
  }

  private startGroup(): void {
    const group = this.filling;
    this.filling = [];
    this.groupsStarted++;
    const sealed = Promise.all(group);
    sealed.catch(() => undefined); // handled through `mark` below
    const mark = this.lastMark.then(async () => {
      const packs = await sealed;
      if (this.failure === undefined) await this.marker.add(packs.map((p) => p.key));
      return packs;
    });
    this.lastMark = mark.then(
      () => undefined,
      (error: unknown) => {
        this.failure ??= { error };
      },
    );
    const done: Promise<void> = mark
      .then((packs) => this.putAll(packs))
      .catch((error: unknown) => {
        this.failure ??= { error };
      })
      .finally(() => this.running.delete(done));
    this.running.add(done);
  }

  private async putAll(group: readonly SealedPack[]): Promise<void> {
    let next = 0;
    let failed = false;
    const lane = async () => {
      try {
        while (next < group.length && !failed && this.failure === undefined) await this.put(group[next++]!);
      } catch (error) {
        failed = true;
        throw error;
      }
    };
    // allSettled, not all: a failed put must not hide a sibling that is still writing.
    const lanes = Array.from({ length: Math.min(this.putsPerGroup, group.length) }, lane);
    const rejected = (await Promise.allSettled(lanes)).find((r) => r.status === "rejected");
    if (rejected !== undefined) throw rejected.reason;
  }

  private async put(pack: SealedPack): Promise<void> {
    try {
      await this.putChunks(pack);
    } finally {
      pack.release?.();
    }
  }

  private async putChunks(pack: SealedPack): Promise<void> {
    if (supportsDeferred(this.blobs)) {
      const chunks = pack.chunks;
      this.deferred.push(
        await this.blobs.putDeferred(
          pack.key,
          (async function* () {
            yield* chunks;
          })(),
        ),
      );
      return;
    }
    if (supportsPutStream(this.blobs)) {
      const chunks = pack.chunks;
      await this.blobs.putStream(
        pack.key,
        (async function* () {
          yield* chunks;
        })(),
      );
      return;
    }
    if (pack.chunks.length === 1) {
      await this.blobs.put(pack.key, pack.chunks[0]!);
      return;
    }
    const whole = new Uint8Array(pack.size);
    let offset = 0;
    for (const chunk of pack.chunks) {
      whole.set(chunk, offset);
      offset += chunk.length;
    }
    await this.blobs.put(pack.key, whole);
  }
}
