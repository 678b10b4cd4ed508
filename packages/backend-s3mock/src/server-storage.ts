import type { Bytes, Checksum } from "./server-checksum.ts";

/**
 * Where the S3 server keeps bytes. The server holds every bucket's metadata index in memory
 * (see server-state.ts); a `StorageBackend` persists metadata and data, in memory or in a
 * directory, and gives the whole state back at start-up.
 */

export interface ObjectMeta {
  key: string;
  size: number;
  /** With quotes, as S3 sends it: `"<md5 hex>"` or `"<md5 hex>-<parts>"`. */
  etag: string;
  /** Milliseconds since the epoch. */
  lastModified: number;
  contentType: string;
  /** User metadata (`x-amz-meta-*`), names lower-case without the prefix. */
  metadata: Record<string, string>;
  checksum?: Checksum;
}

export interface UploadMeta {
  uploadId: string;
  key: string;
  initiated: number;
  contentType: string;
  metadata: Record<string, string>;
}

export interface PartMeta {
  partNumber: number;
  etag: string;
  size: number;
  lastModified: number;
}

export interface LoadedBucket {
  name: string;
  created: number;
  objects: ObjectMeta[];
  uploads: Array<{ upload: UploadMeta; parts: PartMeta[] }>;
}

export interface StorageBackend {
  /** Everything persisted so far (empty for a fresh store). */
  load(): Promise<LoadedBucket[]>;
  createBucket(name: string, created: number): Promise<void>;
  deleteBucket(name: string): Promise<void>;
  /**
   * Replace the object atomically: a reader sees the old or the new value, never a mix. `data`
   * may be the chunks the body arrived in; the backend keeps no reference to them.
   */
  writeObject(bucket: string, meta: ObjectMeta, data: Bytes): Promise<void>;
  /** Bytes `start` (inclusive) to `end` (exclusive) of the object. */
  readObject(bucket: string, key: string, start: number, end: number): Promise<Buffer>;
  deleteObject(bucket: string, key: string): Promise<void>;
  createUpload(bucket: string, upload: UploadMeta): Promise<void>;
  writePart(bucket: string, uploadId: string, part: PartMeta, data: Uint8Array): Promise<void>;
  readPart(bucket: string, uploadId: string, partNumber: number): Promise<Buffer>;
  deleteUpload(bucket: string, uploadId: string): Promise<void>;
  close(): Promise<void>;
}

/** Everything in memory: lost when the server stops. */
export class MemoryBackend implements StorageBackend {
  private readonly objects = new Map<string, Buffer>();
  private readonly parts = new Map<string, Buffer>();

  async load(): Promise<LoadedBucket[]> {
    return [];
  }
  async createBucket(): Promise<void> {}
  async deleteBucket(name: string): Promise<void> {
    for (const id of this.objects.keys()) if (id.startsWith(`${name}\0`)) this.objects.delete(id);
    for (const id of this.parts.keys()) if (id.startsWith(`${name}\0`)) this.parts.delete(id);
  }
  async writeObject(bucket: string, meta: ObjectMeta, data: Bytes): Promise<void> {
    const copy = data instanceof Uint8Array ? Buffer.from(data) : Buffer.concat(data, meta.size);
    this.objects.set(`${bucket}\0${meta.key}`, copy);
  }
  async readObject(bucket: string, key: string, start: number, end: number): Promise<Buffer> {
    const data = this.objects.get(`${bucket}\0${key}`);
    if (data === undefined) throw new Error(`object ${bucket}/${key} has no data`);
    return data.subarray(start, end);
  }
  async deleteObject(bucket: string, key: string): Promise<void> {
    this.objects.delete(`${bucket}\0${key}`);
  }
  async createUpload(): Promise<void> {}
  async writePart(bucket: string, uploadId: string, part: PartMeta, data: Uint8Array): Promise<void> {
    this.parts.set(`${bucket}\0${uploadId}\0${part.partNumber}`, Buffer.from(data));
  }
  async readPart(bucket: string, uploadId: string, partNumber: number): Promise<Buffer> {
    const data = this.parts.get(`${bucket}\0${uploadId}\0${partNumber}`);
    if (data === undefined) throw new Error(`part ${partNumber} of upload ${uploadId} has no data`);
    return data;
  }
  async deleteUpload(bucket: string, uploadId: string): Promise<void> {
    const prefix = `${bucket}\0${uploadId}\0`;
    for (const id of this.parts.keys()) if (id.startsWith(prefix)) this.parts.delete(id);
  }
  async close(): Promise<void> {
    this.objects.clear();
    this.parts.clear();
  }
}
