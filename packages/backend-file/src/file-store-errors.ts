import { CheckpointError, StoreIOError } from "@vkc/checkpoint";

/**
 * A file store operation failed. It is a `StoreIOError` (code `STORE_IO`), so code above the
 * store handles every backend's failures alike; `errno` (e.g. `ENOSPC`) and `path` say more.
 * The message is one line: `file:/data: put packs/ab failed: no space left on device (ENOSPC)`.
 */
export class FileStoreIOError extends StoreIOError {
  readonly errno: string | undefined;
  readonly path: string | undefined;

  constructor(
    store: string,
    operation: string,
    key: string,
    reason: string,
    options: { cause?: unknown; errno?: string; path?: string } = {},
  ) {
    super(store, operation, key, { cause: options.cause });
    this.message = `${store}: ${operation} ${key} failed: ${reason}`;
    this.errno = options.errno;
    this.path = options.path;
  }
}

interface ErrnoLike {
  code?: unknown;
  path?: unknown;
  message?: unknown;
}

/** The `code` of a Node.js file system error (`ENOENT`, …), or `undefined`. */
export function errnoOf(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const code = (error as ErrnoLike).code;
  return typeof code === "string" ? code : undefined;
}

/** One line saying what went wrong, for a Node.js file system error. */
export function describeFsError(error: unknown): string {
  const errno = errnoOf(error);
  const rawPath = typeof error === "object" && error !== null ? (error as ErrnoLike).path : undefined;
  const on = typeof rawPath === "string" ? ` on ${rawPath}` : "";
  switch (errno) {
    case "ENOSPC":
      return "no space left on device (ENOSPC)";
    case "EDQUOT":
      return "disk quota exceeded (EDQUOT)";
    case "EACCES":
      return `permission denied${on} (EACCES)`;
    case "EPERM":
      return `operation not permitted${on} (EPERM)`;
    case "EROFS":
      return "read-only file system (EROFS)";
    case "EMFILE":
    case "ENFILE":
      return `too many open files (${errno})`;
    case "ENAMETOOLONG":
      return `file name too long${on} (ENAMETOOLONG)`;
    case "ENOTDIR":
      return `a path component is not a directory${on} (ENOTDIR)`;
    case "ELOOP":
      return `refusing a symbolic link${on} (ELOOP)`;
    case "EXDEV":
      return `temporary file and target are on different file systems${on} (EXDEV)`;
    case "EIO":
      return `input/output error${on} (EIO)`;
    default: {
      const message = error instanceof Error ? error.message : String(error);
      return message.split("\n")[0] ?? message;
    }
  }
}

/**
 * `error` as a `FileStoreIOError` for `operation` on `key`; errors that already belong to the
 * checkpoint family (`InvalidKeyError`, `StoreIOError`) pass through unchanged.
 */
export function toStoreError(store: string, operation: string, key: string, error: unknown): Error {
  if (CheckpointError.isInstance(error)) return error;
  const errno = errnoOf(error);
  const rawPath = typeof error === "object" && error !== null ? (error as ErrnoLike).path : undefined;
  return new FileStoreIOError(store, operation, key, describeFsError(error), {
    cause: error,
    ...(errno === undefined ? {} : { errno }),
    ...(typeof rawPath === "string" ? { path: rawPath } : {}),
  });
}
