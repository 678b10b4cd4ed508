import { createHash, randomBytes } from "node:crypto";
import { mkdir, open, readdir, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Bytes } from "./server-checksum.ts";
import type { LoadedBucket, ObjectMeta, PartMeta, StorageBackend, UploadMeta } from "./server-storage.ts";

/**
 * Objects on a directory, so a restarted server loses nothing. Every file is written to
 * `tmp/` first, flushed, then renamed into place: a killed server leaves either the old file
 * or the new one, and only stray temp files (removed at the next start).
 *
 *   tmp/                                 files being written
 *   buckets/<bucket>/bucket.json         { created }   (a bucket without it is half-made)
 *   buckets/<bucket>/objects/<sha256(key)>            header + data
 *   buckets/<bucket>/uploads/<id>/upload.json         the upload (a dir without it is half-made)
 *   buckets/<bucket>/uploads/<id>/<n>.part            header + data
 *
 * An object or part file is `VKCS3O1\n`, a u32 big-endian header length, the JSON header
 * (its metadata, which names the key), then the data.
 */

const MAGIC = Buffer.from("VKCS3O1\n", "latin1");
const PREFIX = MAGIC.length + 4;
const MAX_HEADER = 1 << 20;

export class DirBackend implements StorageBackend {
  constructor(private readonly root: string) {}

  private bucketDir(bucket: string): string {
    return join(this.root, "buckets", bucket);
  }
  private objectPath(bucket: string, key: string): string {
    return join(this.bucketDir(bucket), "objects", createHash("sha256").update(key).digest("hex"));
  }
  private uploadDir(bucket: string, uploadId: string): string {
    return join(this.bucketDir(bucket), "uploads", uploadId);
  }
  private tmpPath(): string {
    return join(this.root, "tmp", randomBytes(12).toString("hex"));
  }

  /** Write `data` (in order, one writev) to a temp file, flush it, and rename it to `path`. */
  private async writeAtomic(path: string, ...data: Uint8Array[]): Promise<void> {
    const tmp = this.tmpPath();
    const fh = await open(tmp, "w");
    try {
      // libuv writes every buffer of a writev (looping over partial writes and IOV_MAX).
      const { bytesWritten } = await fh.writev(data);
      const size = data.reduce((n, d) => n + d.length, 0);
      if (bytesWritten !== size) throw new Error(`${tmp}: wrote ${bytesWritten} of ${size} bytes`);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  }

  /** Move a directory out of sight in one step, then delete it. */
  private async removeDir(path: string): Promise<void> {
    const tmp = this.tmpPath();
    try {
      await rename(path, tmp);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      throw err;
    }
    await rm(tmp, { recursive: true, force: true });
  }

  async load(): Promise<LoadedBucket[]> {
    await rm(join(this.root, "tmp"), { recursive: true, force: true });
    await mkdir(join(this.root, "tmp"), { recursive: true });
    await mkdir(join(this.root, "buckets"), { recursive: true });
    const result: LoadedBucket[] = [];
    for (const name of (await readdir(join(this.root, "buckets"))).sort()) {
      const dir = this.bucketDir(name);
      let created: number;
      try {
        created = (JSON.parse(await readFile(join(dir, "bucket.json"), "utf8")) as { created: number })
          .created;
      } catch {
        await this.removeDir(dir);
        continue;
      }
      const bucket: LoadedBucket = { name, created, objects: [], uploads: [] };
      for (const file of await readdir(join(dir, "objects"))) {
        bucket.objects.push(await readHeader<ObjectMeta>(join(dir, "objects", file)));
      }
      for (const id of await readdir(join(dir, "uploads"))) {
        const udir = join(dir, "uploads", id);
        let upload: UploadMeta;
        try {
          upload = JSON.parse(await readFile(join(udir, "upload.json"), "utf8")) as UploadMeta;
        } catch {
          await this.removeDir(udir);
          continue;
        }
        const parts: PartMeta[] = [];
        for (const file of await readdir(udir)) {
          if (file.endsWith(".part")) parts.push(await readHeader<PartMeta>(join(udir, file)));
        }
        bucket.uploads.push({ upload, parts });
      }
      result.push(bucket);
    }
    return result;
  }

  async createBucket(name: string, created: number): Promise<void> {
    const dir = this.bucketDir(name);
    await mkdir(join(dir, "objects"), { recursive: true });
    await mkdir(join(dir, "uploads"), { recursive: true });
    await this.writeAtomic(join(dir, "bucket.json"), Buffer.from(JSON.stringify({ created })));
  }

  async deleteBucket(name: string): Promise<void> {
    await this.removeDir(this.bucketDir(name));
  }

  async writeObject(bucket: string, meta: ObjectMeta, data: Bytes): Promise<void> {
    const chunks = data instanceof Uint8Array ? [data] : data;
    await this.writeAtomic(this.objectPath(bucket, meta.key), encodeHeader(meta), ...chunks);
  }

  async readObject(bucket: string, key: string, start: number, end: number): Promise<Buffer> {
    return readData(this.objectPath(bucket, key), start, end);
  }

  async deleteObject(bucket: string, key: string): Promise<void> {
    await rm(this.objectPath(bucket, key), { force: true });
  }

  async createUpload(bucket: string, upload: UploadMeta): Promise<void> {
    const dir = this.uploadDir(bucket, upload.uploadId);
    await mkdir(dir, { recursive: true });
    await this.writeAtomic(join(dir, "upload.json"), Buffer.from(JSON.stringify(upload)));
  }

  async writePart(bucket: string, uploadId: string, part: PartMeta, data: Uint8Array): Promise<void> {
    await this.writeAtomic(
      join(this.uploadDir(bucket, uploadId), `${part.partNumber}.part`),
      encodeHeader(part),
      data,
    );
  }

  async readPart(bucket: string, uploadId: string, partNumber: number): Promise<Buffer> {
    return readData(join(this.uploadDir(bucket, uploadId), `${partNumber}.part`), 0, undefined);
  }

  async deleteUpload(bucket: string, uploadId: string): Promise<void> {
    await this.removeDir(this.uploadDir(bucket, uploadId));
  }

  async close(): Promise<void> {}
}

function encodeHeader(meta: object): Buffer {
  const json = Buffer.from(JSON.stringify(meta), "utf8");
  const head = Buffer.alloc(PREFIX);
  MAGIC.copy(head);
  head.writeUInt32BE(json.length, MAGIC.length);
  return Buffer.concat([head, json]);
}

async function readHeader<T>(path: string): Promise<T> {
  const fh = await open(path, "r");
  try {
    const head = Buffer.alloc(PREFIX);
    await fh.read(head, 0, PREFIX, 0);
    const length = head.readUInt32BE(MAGIC.length);
    if (!head.subarray(0, MAGIC.length).equals(MAGIC) || length > MAX_HEADER) {
      throw new Error(`${path} is not an s3mock object file`);
    }
    const json = Buffer.alloc(length);
    await fh.read(json, 0, length, PREFIX);
    return JSON.parse(json.toString("utf8")) as T;
  } finally {
    await fh.close();
  }
}

/** Data bytes [start, end) of an object or part file (`end` undefined: to the end of the file). */
async function readData(path: string, start: number, end: number | undefined): Promise<Buffer> {
  const fh = await open(path, "r");
  try {
    const head = Buffer.alloc(PREFIX);
    await fh.read(head, 0, PREFIX, 0);
    const base = PREFIX + head.readUInt32BE(MAGIC.length);
    const stop = end ?? (await fh.stat()).size - base;
    const out = Buffer.allocUnsafe(stop - start); // every byte is read into it below, or it throws
    let done = 0;
    while (done < out.length) {
      const { bytesRead } = await fh.read(out, done, out.length - done, base + start + done);
      if (bytesRead === 0) throw new Error(`${path} is shorter than its header says`);
      done += bytesRead;
    }
    return out;
  } finally {
    await fh.close();
  }
}
