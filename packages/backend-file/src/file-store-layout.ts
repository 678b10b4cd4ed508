import { join, sep } from "node:path";
import { assertValidKey, InvalidKeyError, keyProblem } from "@vkc/checkpoint";

/**
 * How keys map to paths under the store root.
 *
 *   key `packs/ab/cd`   →  ROOT/packs@/ab@/cd
 *   key `packs`         →  ROOT/packs            (a key and longer keys below it can coexist)
 *   temporary files     →  ROOT/tmp~/<pid>-<random>.tmp
 *
 * A value file is named by its key's last segment; every other segment names a directory with
 * `@` appended. `@` and `~` are outside the key alphabet `[A-Za-z0-9._-]`, so a value file, a
 * key directory and the temporary directory can never have the same name, and no name built
 * from a valid key can be `..` or hold a separator: paths cannot leave the root.
 */
export const DIR_SUFFIX = "@";
export const TEMP_DIR = "tmp~";

/** A name must fit the file system's NAME_MAX (255 bytes) with the `@` suffix added. */
export const MAX_SEGMENT_BYTES = 254;

export interface KeyPath {
  /** The key's directory segments, each already suffixed (`["packs@", "ab@"]`). */
  readonly dirs: readonly string[];
  /** The value file's absolute path. */
  readonly file: string;
  /** The directory holding the value file. */
  readonly parent: string;
}

/** Check `key` (throwing `InvalidKeyError` before anything is touched) and map it to its path. */
export function keyPath(root: string, key: string): KeyPath {
  assertValidKey(key);
  const segments = key.split("/");
  for (const segment of segments) {
    if (Buffer.byteLength(segment) > MAX_SEGMENT_BYTES) {
      throw new InvalidKeyError(
        key,
        `segment longer than ${MAX_SEGMENT_BYTES} bytes, more than a file name can hold`,
      );
    }
  }
  const last = segments.pop() as string;
  const dirs = segments.map((segment) => segment + DIR_SUFFIX);
  const parent = join(root, ...dirs);
  return { dirs, file: join(parent, last), parent };
}

/** Is `name`, found in a store directory, a value file name? */
export function isValueName(name: string): boolean {
  return keyProblem(name) === undefined && !name.includes("/");
}

/** The key segment a store directory stands for, or `undefined` when `name` is not one. */
export function segmentOfDirName(name: string): string | undefined {
  if (!name.endsWith(DIR_SUFFIX)) return undefined;
  const segment = name.slice(0, -DIR_SUFFIX.length);
  return isValueName(segment) ? segment : undefined;
}

/** Is the resolved `path` the resolved root or inside it? */
export function isInside(realRoot: string, path: string): boolean {
  return path === realRoot || path.startsWith(realRoot.endsWith(sep) ? realRoot : realRoot + sep);
}
