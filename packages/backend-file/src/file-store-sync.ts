import { closeSync, constants, fstatSync, openSync, readSync, realpathSync } from "node:fs";
import { resolve } from "node:path";
import { errnoOf, FileStoreIOError, toStoreError } from "./file-store-errors.ts";
import { isInside, keyPath } from "./file-store-layout.ts";

/** Pack files kept open between synchronous reads. */
const OPEN_FILES = 64;
/** Keys whose value never changes (content-addressed packs): only these are kept open. */
const IMMUTABLE_PREFIX = "packs/";

/** Synchronous ranged reads of a file store's values (`BlobStoreSyncRead`), for lazy restores. */
export interface SyncRangeReader {
  getRangeSync(key: string, offset: number, length: number): Uint8Array | undefined;
  /** Close the cached descriptors. */
  close(): void;
}

/**
 * `fs.readSync` on the value file of a key, with the same rules as the store's `getRange`: the
 * key is checked first, a directory that a symbolic link leads out of the root is refused, a
 * symbolic link in place of a value is refused (O_NOFOLLOW), a missing key is `undefined`. The
 * last `OPEN_FILES` pack files stay open (a pack's content is its name: it never changes), so
 * page-by-page reads of one pack cost one `pread`; other keys are opened and closed each time.
 */
export function createSyncRangeReader(root: string, name: string): SyncRangeReader {
  const open = new Map<string, { fd: number; size: number }>();
  const checkedDirs = new Set<string>();
  let realRoot: string | undefined;

  function dirInsideRoot(operation: string, key: string, dir: string): boolean {
    if (checkedDirs.has(dir)) return true;
    let real: string;
    try {
      realRoot ??= realpathSync(resolve(root));
      real = realpathSync(dir);
    } catch (error) {
      const errno = errnoOf(error);
      if (errno === "ENOENT" || errno === "ENOTDIR") return false;
      throw error;
    }
    if (!isInside(realRoot, real))
      throw new FileStoreIOError(
        name,
        operation,
        key,
        `${dir} leads outside the store root through a symbolic link`,
        {
          path: dir,
        },
      );
    checkedDirs.add(dir);
    return true;
  }

  function openValue(key: string): { fd: number; size: number } | undefined {
    const cached = open.get(key);
    if (cached !== undefined) return cached;
    const at = keyPath(root, key);
    if (!dirInsideRoot("getRangeSync", key, at.parent)) return undefined;
    let fd: number;
    try {
      fd = openSync(at.file, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (error) {
      const errno = errnoOf(error);
      if (errno === "ENOENT" || errno === "ENOTDIR") return undefined;
      throw error;
    }
    const stat = fstatSync(fd);
    if (!stat.isFile()) {
      closeSync(fd);
      throw new FileStoreIOError(name, "getRangeSync", key, `${at.file} is not a regular file`);
    }
    if (open.size >= OPEN_FILES && key.startsWith(IMMUTABLE_PREFIX)) {
      const [oldest, value] = open.entries().next().value as [string, { fd: number }];
      open.delete(oldest);
      closeSync(value.fd);
    }
    const entry = { fd, size: stat.size };
    if (key.startsWith(IMMUTABLE_PREFIX)) open.set(key, entry);
    return entry;
  }

  return {
    getRangeSync(key, offset, length) {
      if (!Number.isSafeInteger(offset) || offset < 0)
        throw new RangeError(`getRange offset must be a non-negative integer, got ${offset}`);
      if (!Number.isSafeInteger(length) || length < 0)
        throw new RangeError(`getRange length must be a non-negative integer, got ${length}`);
      try {
        const found = openValue(key);
        if (found === undefined) return undefined;
        try {
          const start = Math.min(offset, found.size);
          const out = new Uint8Array(Math.min(offset + length, found.size) - start);
          let done = 0;
          while (done < out.byteLength) {
            const read = readSync(found.fd, out, done, out.byteLength - done, start + done);
            if (read === 0) break;
            done += read;
          }
          return done === out.byteLength ? out : out.slice(0, done);
        } finally {
          if (!open.has(key)) closeSync(found.fd);
        }
      } catch (error) {
        throw toStoreError(name, "getRangeSync", key, error);
      }
    },
    close() {
      for (const { fd } of open.values()) closeSync(fd);
      open.clear();
    },
  };
}
