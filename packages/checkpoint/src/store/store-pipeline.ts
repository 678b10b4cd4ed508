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
  /**
   * Puts of one group in flight at once (default 4, or 2 on a backend with deferred durability):
   * a backend that makes every put durable before it answers (S3: an fsync per object) needs
   * more in flight to hide that latency; deferred puts are plain writes.
   */
  readonly putsPerGroup?: number;
}

/**
 * Writes sealed packs in the background while the caller hashes and packs the next ones.
 *
 * Packs go out in groups: one marker update names every pack of a group, then the group's
 * packs are put. A full group's marker update starts at once, while the groups before it are
 * still being put; only its puts wait for room. The marker rule of store-markers.ts holds (a pack is named before it is put),
 * the marker costs one request per group instead of one per pack, and marker updates stay in
 * order (each names a superset of the one before). The first group is one pack, so the backend
 * starts working as early as it can; every later one is `groupSize` packs, so a large image costs
 * one marker update and one gc-intent listing (store-markers.ts) per `groupSize` packs: 2/16 of
 * a request per pack by default, which the packs' size pays for (image-store.ts). Memory is bounded: `submit` waits while
 * `groupsInFlight` groups are being written and one more is filling, so at most
 * `(groupsInFlight + 1) * groupSize` packs are held.
 *
 * On a backend with deferred durability (`BlobStoreDeferred`, the file store) a pack written
 * is neither visible nor durable until it is published, so it needs no marker until then:
 * each pack is written as soon as it is sealed (at most `putsPerGroup` at once, so at most that
 * many plus the one being submitted are held), and `drain` names them all in one marker update
 * and then makes them durable and visible at once (one sync pass instead of one per pack),
 * before the caller puts the manifest that names them. No marker update (a synced put) stands
 * between the packer and the disk, and a gc run, which sees only published packs, still finds
 * each one named by the marker first (FORMAT.md §7).
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
  /** The ends of the last `groupsInFlight` groups started (they never reject). */
  private readonly ends: Promise<void>[] = [];
  /** The last marker update started: the next one waits for it, so updates land in order. */
  private lastMark: Promise<void> = Promise.resolve();
  private failure: { error: unknown } | undefined;
  /** Packs written unpublished (deferred durability), published by `drain`. */
  private deferred: DeferredPut[] = [];
  /** Keys of the deferred packs submitted, for the marker update in `drain`. */
  private deferredKeys: Promise<string>[] = [];

  constructor(
    private readonly blobs: BlobStore,
    private readonly marker: MarkerHandle,
    options: UploaderOptions = {},
  ) {
    this.groupSize = Math.max(1, options.groupSize ?? 16);
    this.groupsInFlight = Math.max(1, options.groupsInFlight ?? 1);
    this.putsPerGroup = Math.max(1, options.putsPerGroup ?? (supportsDeferred(blobs) ? 2 : 4));
  }

  /**
   * Queue a pack, or a pack still being sealed (hashed). Resolves once there is room for more;
   * throws an earlier failure.
   */
  async submit(pack: SealedPack | Promise<SealedPack>): Promise<void> {
    this.throwIfFailed();
    if (supportsDeferred(this.blobs)) return this.submitDeferred(pack);
    const sealing = Promise.resolve(pack);
    sealing.catch(() => undefined); // awaited when its group starts; this only silences a dropped one
    this.filling.push(sealing);
    // The first group is a single pack, so the disk starts working as early as it can.
    if (this.filling.length < this.nextGroupSize()) return;
    // Its marker update and gc-intent listing start now, while the groups before it still put
    // (on S3 a marker put waits for an fsync behind theirs); its puts wait for room, and so does
    // the caller: no more packs are held than if the group started later.
    this.startGroup(true);
    while (this.running.size > this.groupsInFlight) await Promise.race(this.running);
    this.throwIfFailed();
  }

  /**
   * Write what is queued and wait for every write, then publish deferred packs; throws the first
   * failure (and then drops the deferred packs).
   */
  async drain(): Promise<void> {
    let marking: Promise<unknown> = Promise.resolve();
    try {
      this.throwIfFailed();
      if (this.filling.length > 0) this.startGroup(false);
      // Deferred packs are named while the last of them are still being written: none is
      // visible before it is published, below, after both (gc lists only published packs).
      marking = this.markDeferred();
      marking.catch(() => undefined); // awaited below, or on the error path
      await this.waitRunning();
      this.throwIfFailed();
      await marking;
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
      await marking.catch(() => undefined); // no marker update lands after the caller gives up
      await this.settle();
      throw error;
    }
  }

  /** One marker update naming every deferred pack submitted so far (none: no update). */
  private async markDeferred(): Promise<void> {
    const keys = await Promise.all(this.deferredKeys);
    this.deferredKeys = [];
    if (keys.length > 0) await this.marker.add(keys);
  }

  /** Wait for every started write to finish or fail, throwing nothing; drops what is queued. */
  async settle(): Promise<void> {
    await this.waitRunning();
    const deferred = this.takeDeferred();
    if (deferred.length > 0 && supportsDeferred(this.blobs)) {
      await this.blobs.discardDeferred(deferred).catch(() => undefined);
    }
  }

  /** Deferred durability: write the pack now, unpublished; wait while `putsPerGroup` are running. */
  private async submitDeferred(pack: SealedPack | Promise<SealedPack>): Promise<void> {
    while (this.running.size >= this.putsPerGroup) await Promise.race(this.running);
    this.throwIfFailed();
    const sealing = Promise.resolve(pack);
    const key = sealing.then((sealed) => sealed.key); // the key only: the bytes go once put
    key.catch(() => undefined); // a failed seal fails the put below first
    this.deferredKeys.push(key);
    const done: Promise<void> = sealing
      .then((sealed) => (this.failure === undefined ? this.put(sealed) : sealed.release?.()))
      .catch((error: unknown) => {
        this.failure ??= { error };
      })
      .finally(() => this.running.delete(done));
    this.running.add(done);
  }

  private takeDeferred(): DeferredPut[] {
    const deferred = this.deferred;
    this.deferred = [];
    this.deferredKeys = [];
    return deferred;
  }

  /** Drop what is queued and wait for every started write to finish or fail. */
  private async waitRunning(): Promise<void> {
    this.filling = [];
    while (this.running.size > 0) await Promise.all(this.running);
  }

  /**
   * One pack, then `groupSize`: the backend starts early, and a ramp (1, 2, 4, …) would cost two
   * requests (marker update + intent listing) per extra group.
   */
  private nextGroupSize(): number {
    return this.groupsStarted === 0 ? 1 : this.groupSize;
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure.error;
  }

  /**
   * Mark a group, then put it. `gated`: its puts also wait for the group `groupsInFlight` before
   * it to end (`drain` starts the last one at once: the caller holds nothing more by then).
   */
  private startGroup(gated: boolean): void {
    const gate = gated ? (this.ends.at(-this.groupsInFlight) ?? Promise.resolve()) : Promise.resolve();
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
      .then(async (packs) => {
        await gate;
        await this.putAll(packs);
      })
      .catch((error: unknown) => {
        this.failure ??= { error };
      })
      .finally(() => this.running.delete(done));
    this.running.add(done);
    this.ends.push(done);
    if (this.ends.length > this.groupsInFlight) this.ends.shift();
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
      const value = await this.blobs.putDeferred(
        pack.key,
        (async function* () {
          yield* chunks;
        })(),
      );
      this.deferred.push(value);
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
