import { CheckpointError, InvalidKeyError, StoreIOError } from "@vkc/checkpoint";
import { describe, expect, it } from "vitest";
import { describeFsError, errnoOf, FileStoreIOError, toStoreError } from "./file-store-errors.ts";

function fsError(code: string, path?: string): Error {
  const error = new Error(
    `${code}: something low-level, open '${path ?? "?"}'\n    at somewhere`,
  ) as Error & {
    code: string;
    path?: string;
  };
  error.code = code;
  if (path !== undefined) error.path = path;
  return error;
}

describe("describeFsError", () => {
  it.each([
    ["ENOSPC", undefined, "no space left on device (ENOSPC)"],
    ["EDQUOT", undefined, "disk quota exceeded (EDQUOT)"],
    ["EACCES", "/data/store/packs@", "permission denied on /data/store/packs@ (EACCES)"],
    ["EPERM", "/data/store/k", "operation not permitted on /data/store/k (EPERM)"],
    ["EROFS", undefined, "read-only file system (EROFS)"],
    ["EMFILE", undefined, "too many open files (EMFILE)"],
    ["ENOTDIR", "/data/x", "a path component is not a directory on /data/x (ENOTDIR)"],
  ])("turns %s into one line", (code, path, expected) => {
    expect(describeFsError(fsError(code, path))).toBe(expected);
  });

  it("keeps the first line of anything else", () => {
    expect(describeFsError(fsError("EWHATEVER"))).toBe("EWHATEVER: something low-level, open '?'");
    expect(describeFsError("plain text")).toBe("plain text");
  });
});

describe("toStoreError", () => {
  it("wraps a file system error as a FileStoreIOError naming the store and key", () => {
    const cause = fsError("ENOSPC", "/data/store/tmp~/1-a.tmp");
    const error = toStoreError("file:/data/store", "put", "packs/ab", cause) as FileStoreIOError;
    expect(error).toBeInstanceOf(FileStoreIOError);
    expect(error).toBeInstanceOf(StoreIOError);
    expect(CheckpointError.isInstance(error)).toBe(true);
    expect(error.code).toBe("STORE_IO");
    expect(error.errno).toBe("ENOSPC");
    expect(error.path).toBe("/data/store/tmp~/1-a.tmp");
    expect(error.cause).toBe(cause);
    expect(error.name).toBe("FileStoreIOError");
    expect(error.message).toBe("file:/data/store: put packs/ab failed: no space left on device (ENOSPC)");
  });

  it("passes checkpoint errors through unchanged", () => {
    const invalid = new InvalidKeyError("../x", "path segment '..'");
    expect(toStoreError("file:/s", "get", "../x", invalid)).toBe(invalid);
  });

  it("reads errno codes only from objects that carry one", () => {
    expect(errnoOf(fsError("EIO"))).toBe("EIO");
    expect(errnoOf(new Error("no code"))).toBeUndefined();
    expect(errnoOf(undefined)).toBeUndefined();
  });
});
