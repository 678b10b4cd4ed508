import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import {
  type FileHandle,
  link,
  lstat,
  mkdir,
  open,
  readdir,
  realpath,
  rename,
  rmdir,
  unlink,
} from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import type {
  BlobStore,
  BlobStoreDeferred,
  BlobStoreStreaming,
  BlobStoreSyncRead,
  BlobStoreVolatile,
  DeferredPut,
} from "@vkc/checkpoint";
import { errnoOf, FileStoreIOError, toStoreError } from "./file-store-errors.ts";
import { isInside, type KeyPath, keyPath, TEMP_DIR } from "./file-store-layout.ts";
import { prefixStart, walkKeys } from "./file-store-list.ts";
import { createSyncRangeReader } from "./file-store-sync.ts";

export interface FileStoreOptions {
  /** The store's directory; made (with parents) on the first write. */
  root: string;
  /**
   * fsync each value before it is published and each directory after it changes, so a
   * committed value survives a power loss, not only a crash of the writer. Default `true`;
   * turn off only for scratch stores and tests.
   */
  fsync?: boolean;
}

export interface FileStore
  extends BlobStore,
    BlobStoreStreaming,
    BlobStoreSyncRead,
    BlobStoreDeferred,
    BlobStoreVolatile {
  /** The absolute root directory. */
  readonly root: string;
  /**
   * Remove temporary files older than `olderThanMs` (by modification time), left behind by
   * writers that were killed. Returns how many were removed. A live writer's temporary file
   * is younger than any sensible threshold (minutes); `0` removes all of them, so use it only
   * when no process is writing.
   */
  sweepTemp(olderThanMs: number): Promise<number>;
}

/** How often a write retries when a concurrent `delete` removed its directory under it. */
const PUBLISH_ATTEMPTS = 16;
/**
 * Largest write(2): a 4 MiB pack goes out in one call (each call is a trip through libuv's
 * thread pool and back, which the image store's writer pays per pack), and a huge value still
 * goes out in slices.
 */
const WRITE_CHUNK = 8 * 1024 * 1024;
/** Temporary files fsynced, or values renamed, at once by `publishDeferred`. */
const PUBLISH_LANES = 8;

/** Run `each` over `items`, at most `lanes` at a time; throws the first failure after all settle. */
async function inLanes<T>(
  items: readonly T[],
  lanes: number,
  each: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await each(items[next++]!);
  };
  const results = await Promise.allSettled(Array.from({ length: Math.min(lanes, items.length) }, lane));
  const failed = results.find((r) => r.status === "rejected");
  if (failed !== undefined) throw failed.reason;
}

function checkRange(offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new RangeError(`getRange offset must be a non-negative integer, got ${offset}`);
  }
  if (!Number.isSafeInteger(length) || length < 0) {
    throw new RangeError(`getRange length must be a non-negative integer, got ${length}`);
  }
}

async function readFully(fh: FileHandle, into: Uint8Array, position: number): Promise<number> {
  let done = 0;
  while (done < into.byteLength) {
    const { bytesRead } = await fh.read(into, done, into.byteLength - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}

async function writeFully(fh: FileHandle, data: Uint8Array): Promise<void> {
  // Written in slices of WRITE_CHUNK so one huge value does not become one huge write(2).
  for (let at = 0; at < data.byteLength; at += WRITE_CHUNK) {
    const slice = data.subarray(at, Math.min(at + WRITE_CHUNK, data.byteLength));
    let done = 0;
    while (done < slice.byteLength) {
      const { bytesWritten } = await fh.write(slice, done, slice.byteLength - done);
      done += bytesWritten;
    }
  }
}

function listName(prefix: string): string {
  return prefix === "" ? "all keys" : `prefix ${prefix}`;
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function unlinkQuietly(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch {
    // Already gone, or not ours to remove: sweepTemp collects what is left.
  }
}

/**
 * A `BlobStore` on a local directory. Every write goes to a temporary file under the root,
 * is fsynced, and is then published in one atomic step: `rename(2)` over the target for `put`
 * and `putStream`, `link(2)` for `putIfAbsent` (which fails with EEXIST instead of replacing,
 * so of any number of racing writers, in any number of processes, exactly one wins). Readers
 * see a whole old value or a whole new one, never a partial file. See the README for the rules.
 */
export function createFileStore(options: FileStoreOptions): FileStore {
  const root = resolve(options.root);
  const fsync = options.fsync ?? true;
  const name = `file:${root}`;
  const tempDir = join(root, TEMP_DIR);
  let realRoot: Promise<string> | undefined;

  const fail = (operation: string, key: string, error: unknown) => toStoreError(name, operation, key, error);
  const syncReader = createSyncRangeReader(root, name);

  /** Directory syncs by path: the one running, and the one waiting to start after it. */
  const dirSyncs = new Map<
    string,
    { running: Promise<void> | undefined; waiting: Promise<void> | undefined }
  >();

  /**
   * fsync `dir` after a change to it, shared between concurrent writers (group commit): a
   * caller needs an fsync that *starts* after its change, so it joins the one waiting to
   * start, or queues one behind the running one. Four packs renamed into one directory at once
   * then cost one or two directory syncs instead of four, with the same guarantee each.
   */
  function syncDir(dir: string): Promise<void> {
    let state = dirSyncs.get(dir);
    if (state === undefined) {
      state = { running: undefined, waiting: undefined };
      dirSyncs.set(dir, state);
    }
    if (state.waiting !== undefined) return state.waiting;
    const entry = state;
    const waiting = (entry.running ?? Promise.resolve())
      .catch(() => undefined) // the earlier sync's failure belongs to its own callers
      .then(() => {
        entry.waiting = undefined; // changes from now on need a later sync
        const running = fsyncDir(dir);
        entry.running = running;
        const done = () => {
          if (entry.running === running) entry.running = undefined;
          if (entry.running === undefined && entry.waiting === undefined) dirSyncs.delete(dir);
        };
        running.then(done, done);
        return running;
      });
    entry.waiting = waiting;
    return waiting;
  }

  /** The resolved root, making it on first use when `create`; `undefined` when it does not exist. */
  async function resolvedRoot(create: boolean): Promise<string | undefined> {
    if (realRoot !== undefined) return realRoot;
    if (create) {
      await mkdir(tempDir, { recursive: true });
    } else {
      try {
        await lstat(root);
      } catch (error) {
        if (errnoOf(error) === "ENOENT") return undefined;
        throw error;
      }
    }
    const pending = realpath(root);
    realRoot = pending;
    pending.catch(() => {
      if (realRoot === pending) realRoot = undefined;
    });
    return pending;
  }

  /**
   * The resolved directory of `dir` when it exists and lies inside the root, `undefined` when
   * it does not exist; throws when a symbolic link leads it out of the root.
   */
  async function checkedDir(operation: string, key: string, dir: string, create: boolean) {
    const base = await resolvedRoot(create);
    if (base === undefined) return undefined;
    let real: string;
    try {
      real = await realpath(dir);
    } catch (error) {
      const errno = errnoOf(error);
      if (errno === "ENOENT" || errno === "ENOTDIR") return undefined;
      throw error;
    }
    if (!isInside(base, real)) {
      throw new FileStoreIOError(
        name,
        operation,
        key,
        `${dir} leads outside the store root through a symbolic link`,
        { path: dir },
      );
    }
    return real;
  }

  /** Open the value file of `key` for reading, or `undefined` when the key does not exist. */
  async function openValue(operation: string, key: string, at: KeyPath) {
    if ((await checkedDir(operation, key, at.parent, false)) === undefined) return undefined;
    let fh: FileHandle;
    try {
      // O_NOFOLLOW: the store never makes symbolic links, so one in place of a value is refused.
      fh = await open(at.file, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (error) {
      const errno = errnoOf(error);
      if (errno === "ENOENT" || errno === "ENOTDIR") return undefined;
      throw error;
    }
    try {
      const stat = await fh.stat();
      if (!stat.isFile())
        throw new FileStoreIOError(name, operation, key, `${at.file} is not a regular file`);
      return { fh, size: stat.size };
    } catch (error) {
      await fh.close();
      throw error;
    }
  }

  /** Make the key's directories; returns the directories whose entries changed. */
  async function makeDirs(at: KeyPath): Promise<string[]> {
    const changed: string[] = [];
    let dir = root;
    for (const segment of at.dirs) {
      const next = join(dir, segment);
      try {
        await mkdir(next);
        changed.push(dir);
      } catch (error) {
        if (errnoOf(error) !== "EEXIST") throw error;
      }
      dir = next;
    }
    return changed;
  }

  async function createTemp(): Promise<{ path: string; fh: FileHandle }> {
    const path = join(tempDir, `${process.pid}-${randomBytes(8).toString("hex")}.tmp`);
    try {
      return { path, fh: await open(path, "wx") };
    } catch (error) {
      if (errnoOf(error) !== "ENOENT") throw error;
      // Someone removed the temporary directory: make it again, once.
      await mkdir(tempDir, { recursive: true });
      return { path, fh: await open(path, "wx") };
    }
  }

  /**
   * Publish the complete, synced temporary file `temp` as `key`: rename over the target, or
   * link to it when `exclusive` (false when the key exists). Retries when a concurrent delete
   * removed a directory on the way.
   */
  async function publish(
    operation: string,
    key: string,
    at: KeyPath,
    temp: string,
    exclusive: boolean,
    syncParent = true,
  ) {
    for (let attempt = 1; ; attempt++) {
      const parent = await checkedDir(operation, key, at.parent, true);
      if (parent === undefined) {
        if (attempt >= PUBLISH_ATTEMPTS) {
          throw new FileStoreIOError(name, operation, key, `cannot make the directory ${at.parent}`);
        }
        const changed = await makeDirs(at);
        if (fsync) for (const dir of changed) await fsyncDir(dir);
        continue;
      }
      try {
        if (exclusive) await link(temp, at.file);
        else await rename(temp, at.file);
      } catch (error) {
        const errno = errnoOf(error);
        if (exclusive && errno === "EEXIST") return false;
        if (errno === "ENOENT" && attempt < PUBLISH_ATTEMPTS) continue;
        throw error;
      }
      if (fsync && syncParent) await syncDir(at.parent);
      return true;
    }
  }

  /**
   * Write a value through a temporary file. Errors thrown by `fill`'s source pass unchanged.
   * `durable` false (`putVolatile`) skips the fsyncs: the value is visible, atomically, but a
   * crash may lose it.
   */
  async function writeValue(
    operation: string,
    key: string,
    exclusive: boolean,
    fill: (write: (data: Uint8Array) => Promise<void>) => Promise<void>,
    durable = true,
  ): Promise<boolean> {
    const at = keyPath(root, key);
    let temp: { path: string; fh: FileHandle } | undefined;
    let isOpen = false;
    try {
      try {
        await resolvedRoot(true);
        temp = await createTemp();
        isOpen = true;
      } catch (error) {
        throw fail(operation, key, error);
      }
      const { fh } = temp;
      await fill(async (data) => {
        try {
          await writeFully(fh, data);
        } catch (error) {
          throw fail(operation, key, error);
        }
      });
      try {
        if (fsync && durable) await fh.sync();
        isOpen = false;
        await fh.close();
        return await publish(operation, key, at, temp.path, exclusive, durable);
      } catch (error) {
        throw fail(operation, key, error);
      }
    } finally {
      if (temp !== undefined) {
        if (isOpen) await temp.fh.close().catch(() => undefined);
        // After rename the temporary name is gone; after link (or a failure) it must go.
        await unlinkQuietly(temp.path);
      }
    }
  }

  /** Where each deferred value waits: its temporary file. */
  const deferredTemps = new WeakMap<DeferredPut, { path: string; at: KeyPath; synced: Promise<void> }>();
  /** Background fsyncs of deferred values still running (at most `PUBLISH_LANES`). */
  const backgroundSyncs = new Set<Promise<void>>();

  /**
   * fsync and close `fh` in the background, so the writer goes on packing while the disk works;
   * waits first while `PUBLISH_LANES` syncs are running (each holds a file descriptor).
   */
  async function syncInBackground(
    operation: string,
    key: string,
    fh: FileHandle,
  ): Promise<{ synced: Promise<void> }> {
    while (backgroundSyncs.size >= PUBLISH_LANES) await Promise.race(backgroundSyncs).catch(() => undefined);
    const synced = (async () => {
      try {
        await fh.sync();
      } catch (error) {
        throw fail(operation, key, error);
      } finally {
        await fh.close().catch(() => undefined);
      }
    })();
    const tracked = synced.catch(() => undefined);
    backgroundSyncs.add(tracked);
    void tracked.then(() => backgroundSyncs.delete(tracked));
    synced.catch(() => undefined); // awaited by publishDeferred or discardDeferred
    return { synced };
  }

  /** Write `chunks` to a temporary file, unsynced and unpublished (`BlobStoreDeferred`). */
  async function putDeferred(key: string, chunks: AsyncIterable<Uint8Array>): Promise<DeferredPut> {
    const operation = "putDeferred";
    const at = keyPath(root, key);
    let temp: { path: string; fh: FileHandle } | undefined;
    let done = false;
    try {
      try {
        await resolvedRoot(true);
        temp = await createTemp();
      } catch (error) {
        throw fail(operation, key, error);
      }
      for await (const chunk of chunks) {
        try {
          await writeFully(temp.fh, chunk);
        } catch (error) {
          throw fail(operation, key, error);
        }
      }
      let synced: Promise<void>;
      if (fsync) {
        ({ synced } = await syncInBackground(operation, key, temp.fh));
      } else {
        try {
          await temp.fh.close();
        } catch (error) {
          throw fail(operation, key, error);
        }
        synced = Promise.resolve();
      }
      const value: DeferredPut = { key };
      deferredTemps.set(value, { path: temp.path, at, synced });
      done = true;
      return value;
    } finally {
      if (temp !== undefined && !done) {
        await temp.fh.close().catch(() => undefined);
        await unlinkQuietly(temp.path);
      }
    }
  }

  /**
   * Publish deferred values: wait for every temporary file's fsync (started in the background
   * by `putDeferred`), rename each into place, then fsync each changed directory once.
   * Unpublished values are removed on failure.
   */
  async function publishDeferred(values: readonly DeferredPut[]): Promise<void> {
    const operation = "publishDeferred";
    const items = values.map((value) => {
      const temp = deferredTemps.get(value);
      if (temp === undefined)
        throw new FileStoreIOError(name, operation, value.key, "not a pending deferred value");
      return { value, key: value.key, ...temp };
    });
    try {
      const syncs = await Promise.allSettled(items.map((item) => item.synced));
      const failed = syncs.find((r) => r.status === "rejected");
      if (failed !== undefined) throw failed.reason;
      const parents = new Set<string>();
      await inLanes(items, PUBLISH_LANES, async ({ value, key, path, at }) => {
        try {
          await publish(operation, key, at, path, false, false);
        } catch (error) {
          throw fail(operation, key, error);
        }
        parents.add(at.parent);
        deferredTemps.delete(value);
      });
      if (fsync) await Promise.all([...parents].map((dir) => syncDir(dir)));
    } catch (error) {
      await discardDeferred(values);
      throw error;
    }
  }

  /** Remove the temporary files of deferred values never published. */
  async function discardDeferred(values: readonly DeferredPut[]): Promise<void> {
    for (const value of values) {
      const temp = deferredTemps.get(value);
      if (temp === undefined) continue;
      deferredTemps.delete(value);
      await temp.synced.catch(() => undefined);
      await unlinkQuietly(temp.path);
    }
  }

  async function head(key: string, operation = "head"): Promise<{ size: number } | undefined> {
    const at = keyPath(root, key);
    try {
      if ((await checkedDir(operation, key, at.parent, false)) === undefined) return undefined;
      let stat: Awaited<ReturnType<typeof lstat>>;
      try {
        stat = await lstat(at.file);
      } catch (error) {
        const errno = errnoOf(error);
        if (errno === "ENOENT" || errno === "ENOTDIR") return undefined;
        throw error;
      }
      if (stat.isSymbolicLink()) {
        throw new FileStoreIOError(name, operation, key, `refusing a symbolic link on ${at.file}`);
      }
      if (!stat.isFile())
        throw new FileStoreIOError(name, operation, key, `${at.file} is not a regular file`);
      return { size: Number(stat.size) };
    } catch (error) {
      throw fail(operation, key, error);
    }
  }

  async function removeEmptyDirs(at: KeyPath): Promise<void> {
    // rmdir(2) removes only empty directories, so a concurrent writer's directory survives;
    // a writer whose directory goes anyway retries (see publish).
    let dir = at.parent;
    for (let i = 0; i < at.dirs.length; i++) {
      try {
        await rmdir(dir);
      } catch {
        return;
      }
      dir = dirname(dir);
    }
  }

  /** Remove `key` (a missing key is no error); `durable` syncs the directory after. */
  async function remove(operation: string, key: string, durable: boolean): Promise<void> {
    const at = keyPath(root, key);
    try {
      if ((await checkedDir(operation, key, at.parent, false)) === undefined) return;
      try {
        await unlink(at.file);
      } catch (error) {
        const errno = errnoOf(error);
        if (errno === "ENOENT" || errno === "ENOTDIR") return;
        throw error;
      }
      if (fsync && durable) await fsyncDir(at.parent);
      await removeEmptyDirs(at);
    } catch (error) {
      throw fail(operation, key, error);
    }
  }

  return {
    specificationVersion: "v1",
    name,
    root,

    async put(key, data) {
      await writeValue("put", key, false, (write) => write(data));
    },

    async putIfAbsent(key, data) {
      return writeValue("putIfAbsent", key, true, (write) => write(data));
    },

    async putStream(key, chunks) {
      await writeValue("putStream", key, false, async (write) => {
        for await (const chunk of chunks) await write(chunk);
      });
    },

    putDeferred,
    publishDeferred,
    discardDeferred,

    async get(key) {
      const at = keyPath(root, key);
      try {
        const found = await openValue("get", key, at);
        if (found === undefined) return undefined;
        try {
          const out = new Uint8Array(found.size);
          const read = await readFully(found.fh, out, 0);
          return read === out.byteLength ? out : out.slice(0, read);
        } finally {
          await found.fh.close();
        }
      } catch (error) {
        throw fail("get", key, error);
      }
    },

    async getRange(key, offset, length) {
      const at = keyPath(root, key);
      checkRange(offset, length);
      try {
        const found = await openValue("getRange", key, at);
        if (found === undefined) return undefined;
        try {
          const start = Math.min(offset, found.size);
          const end = Math.min(offset + length, found.size);
          const out = new Uint8Array(end - start);
          const read = await readFully(found.fh, out, start);
          return read === out.byteLength ? out : out.slice(0, read);
        } finally {
          await found.fh.close();
        }
      } catch (error) {
        throw fail("getRange", key, error);
      }
    },

    getRangeSync: (key, offset, length) => syncReader.getRangeSync(key, offset, length),

    head: (key) => head(key),

    async has(key) {
      return (await head(key, "has")) !== undefined;
    },
    async *list(prefix) {
      const start = prefixStart(prefix);
      if (start === undefined) return;
      const dir = join(root, ...start.dirs);
      const keyPrefix = prefix.slice(0, prefix.length - start.partial.length);
      try {
        if ((await checkedDir("list", listName(prefix), dir, false)) === undefined) return;
      } catch (error) {
        throw fail("list", listName(prefix), error);
      }
      try {
        yield* walkKeys(dir, keyPrefix, start.partial);
      } catch (error) {
        throw fail("list", listName(prefix), error);
      }
    },

    delete: (key) => remove("delete", key, true),

    async putVolatile(key, data) {
      await writeValue("putVolatile", key, false, (write) => write(data), false);
    },

    deleteVolatile: (key) => remove("deleteVolatile", key, false),

    async sweepTemp(olderThanMs) {
      if (!Number.isFinite(olderThanMs) || olderThanMs < 0) {
        throw new RangeError(`sweepTemp needs a non-negative age in milliseconds, got ${olderThanMs}`);
      }
      let names: string[];
      try {
        names = await readdir(tempDir);
      } catch (error) {
        if (errnoOf(error) === "ENOENT") return 0;
        throw fail("sweepTemp", TEMP_DIR, error);
      }
      const cutoff = Date.now() - olderThanMs;
      let removed = 0;
      for (const entry of names) {
        const path = join(tempDir, entry);
        try {
          const stat = await lstat(path);
          if (stat.mtimeMs > cutoff) continue;
          await unlink(path);
          removed++;
        } catch (error) {
          if (errnoOf(error) !== "ENOENT") throw fail("sweepTemp", `${TEMP_DIR}/${entry}`, error);
        }
      }
      return removed;
    },

    async close() {
      // No handle outlives a call, except the pack files synchronous reads keep open.
      syncReader.close();
    },
  };
}
