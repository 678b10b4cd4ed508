import type { Bytes } from "./server-checksum.ts";
import type { ObjectMeta, PartMeta, StorageBackend, UploadMeta } from "./server-storage.ts";

/**
 * The server's in-memory index of buckets, objects and multipart uploads over a
 * `StorageBackend`, with per-key locks so conditional writes are atomic against
 * concurrent requests.
 */

export interface UploadState {
  upload: UploadMeta;
  parts: Map<number, PartMeta>;
}

export interface BucketState {
  name: string;
  created: number;
  objects: Map<string, ObjectMeta>;
  uploads: Map<string, UploadState>;
  /** Keys in byte order, rebuilt lazily after a key is added or removed. */
  sorted: string[] | undefined;
}

export function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

export class ServerState {
  readonly buckets = new Map<string, BucketState>();
  private readonly locks = new Map<string, Promise<void>>();

  constructor(readonly backend: StorageBackend) {}

  async load(): Promise<void> {
    for (const b of await this.backend.load()) {
      const state: BucketState = {
        name: b.name,
        created: b.created,
        objects: new Map(),
        uploads: new Map(),
        sorted: undefined,
      };
      for (const o of b.objects) state.objects.set(o.key, o);
      for (const u of b.uploads) {
        state.uploads.set(u.upload.uploadId, {
          upload: u.upload,
          parts: new Map(u.parts.map((p) => [p.partNumber, p])),
        });
      }
      this.buckets.set(b.name, state);
    }
  }

  /** Run `fn` with the lock of one name (a key or a bucket) held. */
  async withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(name) ?? Promise.resolve();
    let release!: () => void;
    const current = new Promise<void>((resolve) => {
      release = resolve;
    });
    const chained = previous.then(() => current);
    this.locks.set(name, chained);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      if (this.locks.get(name) === chained) this.locks.delete(name);
    }
  }

  sortedKeys(bucket: BucketState): string[] {
    if (bucket.sorted === undefined) bucket.sorted = [...bucket.objects.keys()].sort(compareBytes);
    return bucket.sorted;
  }

  async createBucket(name: string, now: number): Promise<boolean> {
    return this.withLock(`bucket\0${name}`, async () => {
      if (this.buckets.has(name)) return false;
      await this.backend.createBucket(name, now);
      this.buckets.set(name, {
        name,
        created: now,
        objects: new Map(),
        uploads: new Map(),
        sorted: undefined,
      });
      return true;
    });
  }

  async deleteBucket(bucket: BucketState): Promise<void> {
    await this.backend.deleteBucket(bucket.name);
    this.buckets.delete(bucket.name);
  }

  async putObject(bucket: BucketState, meta: ObjectMeta, data: Bytes): Promise<void> {
    await this.backend.writeObject(bucket.name, meta, data);
    if (!bucket.objects.has(meta.key)) bucket.sorted = undefined;
    bucket.objects.set(meta.key, meta);
  }

  async deleteObject(bucket: BucketState, key: string): Promise<void> {
    if (!bucket.objects.has(key)) return;
    await this.backend.deleteObject(bucket.name, key);
    bucket.objects.delete(key);
    bucket.sorted = undefined;
  }

  readObject(bucket: BucketState, key: string, start: number, end: number): Promise<Buffer> {
    return this.backend.readObject(bucket.name, key, start, end);
  }

  async createUpload(bucket: BucketState, upload: UploadMeta): Promise<void> {
    await this.backend.createUpload(bucket.name, upload);
    bucket.uploads.set(upload.uploadId, { upload, parts: new Map() });
  }

  async putPart(bucket: BucketState, upload: UploadState, part: PartMeta, data: Uint8Array): Promise<void> {
    await this.backend.writePart(bucket.name, upload.upload.uploadId, part, data);
    upload.parts.set(part.partNumber, part);
  }

  readPart(bucket: BucketState, uploadId: string, partNumber: number): Promise<Buffer> {
    return this.backend.readPart(bucket.name, uploadId, partNumber);
  }

  async deleteUpload(bucket: BucketState, uploadId: string): Promise<void> {
    if (!bucket.uploads.has(uploadId)) return;
    await this.backend.deleteUpload(bucket.name, uploadId);
    bucket.uploads.delete(uploadId);
  }
}
