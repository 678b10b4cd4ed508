import type { Dirent } from "node:fs";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { errnoOf } from "./file-store-errors.ts";
import { DIR_SUFFIX, isValueName, segmentOfDirName } from "./file-store-layout.ts";

interface Entry {
  /** What this entry adds to a key: the file name, or the directory's segment and `/`. */
  readonly sortKey: string;
  readonly name: string;
  readonly isDir: boolean;
}

function compare(a: Entry, b: Entry): number {
  // Keys are ASCII, so UTF-16 code unit order is byte order.
  return a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0;
}

/**
 * Where a prefix starts in the tree: the directory named by its complete segments, and the
 * partial last segment to filter that directory by. `undefined` when no key can have it.
 */
export function prefixStart(prefix: string): { dirs: string[]; partial: string } | undefined {
  const segments = prefix.split("/");
  const partial = segments.pop() as string;
  for (const segment of segments) if (!isValueName(segment)) return undefined;
  return { dirs: segments.map((segment) => segment + DIR_SUFFIX), partial };
}

async function entriesOf(dir: string): Promise<Dirent[]> {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (error) {
    // A directory removed (or never made) while we walk holds no keys.
    const errno = errnoOf(error);
    if (errno === "ENOENT" || errno === "ENOTDIR") return [];
    throw error;
  }
}

/**
 * Every key below `dir` (whose keys start with `keyPrefix`) in ascending byte order, keeping
 * only entries that start with `partial`. Sorting each directory by what its entries add to a
 * key (`name` for a file, `segment/` for a directory) sorts the whole walk: all keys below one
 * directory share its `segment/` and so sit together in byte order.
 *
 * Only regular files and real directories are followed; temporary files, symbolic links and
 * anything else are not keys and are skipped.
 */
export async function* walkKeys(dir: string, keyPrefix: string, partial = ""): AsyncGenerator<string> {
  const entries: Entry[] = [];
  for (const dirent of await entriesOf(dir)) {
    let entry: Entry | undefined;
    if (dirent.isFile() && isValueName(dirent.name)) {
      entry = { sortKey: dirent.name, name: dirent.name, isDir: false };
    } else if (dirent.isDirectory()) {
      const segment = segmentOfDirName(dirent.name);
      if (segment !== undefined) entry = { sortKey: `${segment}/`, name: dirent.name, isDir: true };
    }
    if (entry?.sortKey.startsWith(partial)) entries.push(entry);
  }
  entries.sort(compare);
  for (const entry of entries) {
    if (entry.isDir) yield* walkKeys(join(dir, entry.name), keyPrefix + entry.sortKey);
    else yield keyPrefix + entry.sortKey;
  }
}
