import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { checkedValue, readCheckedValue } from "./__fixtures__/checked-value.ts";
import { createFileStore, type FileStore } from "./file-store.ts";
import { TEMP_DIR } from "./file-store-layout.ts";

/**
 * These tests run a second OS process on the same store. The child is plain `node` with tsx's
 * loader (`--import`), not the `tsx` launcher: the launcher runs the script in a grandchild,
 * so SIGKILL would hit the launcher and leave the writer running.
 */
const WRITER = fileURLToPath(new URL("./__fixtures__/store-writer.ts", import.meta.url));
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;

interface Writer {
  child: ChildProcessWithoutNullStreams;
  lines: string[];
  /** Resolves with the exit code (or signal name) once the child is gone. */
  exited: Promise<number | string>;
  /** Resolves once `predicate` holds for the lines seen so far. */
  until(predicate: (lines: readonly string[]) => boolean): Promise<void>;
}

function startWriter(...args: string[]): Writer {
  const child = spawn(
    process.execPath,
    ["--import", TSX_LOADER, "--conditions=@vkc/source", WRITER, ...args],
    {
      stdio: ["pipe", "pipe", "pipe"],
    },
  );
  const lines: string[] = [];
  let stderr = "";
  let partial = "";
  const waiters: Array<() => void> = [];
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (text: string) => {
    partial += text;
    const parts = partial.split("\n");
    partial = parts.pop() ?? "";
    lines.push(...parts);
    for (const wake of waiters.splice(0)) wake();
  });
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (text: string) => {
    stderr += text;
  });
  const exited = new Promise<number | string>((resolve) => {
    child.on("exit", (code, signal) => {
      for (const wake of waiters.splice(0)) wake();
      resolve(signal ?? code ?? -1);
    });
  });
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  async function until(predicate: (lines: readonly string[]) => boolean): Promise<void> {
    while (!predicate(lines)) {
      if (gone)
        throw new Error(`writer exited early; stderr: ${stderr.trim().split("\n").slice(-5).join(" | ")}`);
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  }
  return { child, lines, exited, until };
}

/** A small seeded PRNG, so a failing round can be replayed from the seed in the message. */
function prng(seed: number): (below: number) => number {
  let x = seed >>> 0 || 1;
  return (below) => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % below;
  };
}

async function listAll(store: FileStore, prefix = ""): Promise<string[]> {
  const keys: string[] = [];
  for await (const key of store.list(prefix)) keys.push(key);
  return keys;
}

// Several OS processes doing fsync-heavy work: slow on a loaded machine, so these tests get a
// generous timeout (a timed-out test body would otherwise keep running into the next test).
describe("file store shared by two OS processes", () => {
  let dir: string;
  let store: FileStore;
  const children: Writer[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "vkc-file-procs-"));
    store = createFileStore({ root: join(dir, "store") });
  });

  afterEach(async () => {
    for (const writer of children.splice(0)) {
      writer.child.kill("SIGKILL");
      await writer.exited;
    }
    await rm(dir, { recursive: true, force: true });
  });

  it("stays consistent while another process writes, races and deletes", async () => {
    const count = 150;
    const other = startWriter("race", store.root, "child", String(count));
    children.push(other);
    await other.until((lines) => lines.includes("ready"));

    const wins = new Set<string>();
    const ownKeys = new Set<string>();
    const listings: Promise<void>[] = [];
    let torn = 0;
    const checkListing = async () => {
      for (const key of await listAll(store)) {
        const value = await store.get(key);
        // Deleted since it was listed is fine; present but not whole is not.
        if (value !== undefined && readCheckedValue(value) === undefined) torn++;
      }
    };
    for (let i = 0; i < count; i++) {
      const key = `race/${i}`;
      if (await store.putIfAbsent(key, checkedValue(`parent:${key}`, 3000 + i))) wins.add(key);
      await store.put(`shared/${i % 8}`, checkedValue(`parent:shared/${i % 8}:${i}`, 40_000));
      const own = `w-parent/${i % 40}/${i}`;
      await store.put(own, checkedValue(`parent:${own}`, 1000));
      ownKeys.add(own);
      if (i % 10 === 0) listings.push(checkListing());
    }
    await Promise.all(listings);
    expect(await other.exited).toBe(0);
    expect(other.lines.at(-1)).toBe("done");
    expect(torn, "listed values that were not whole").toBe(0);

    const childWins = new Set(other.lines.filter((l) => l.startsWith("won ")).map((l) => l.slice(4)));
    const childDeleted = new Set(other.lines.filter((l) => l.startsWith("deleted ")).map((l) => l.slice(8)));
    for (let i = 0; i < count; i++) {
      const key = `race/${i}`;
      const winners = (wins.has(key) ? 1 : 0) + (childWins.has(key) ? 1 : 0);
      expect(winners, `winners of ${key}`).toBe(1);
      const expected = wins.has(key) ? `parent:${key}` : `child:${key}`;
      expect(readCheckedValue(await store.get(key)), key).toBe(expected);
    }
    for (let j = 0; j < 8; j++) {
      expect(readCheckedValue(await store.get(`shared/${j}`)), `shared/${j} is whole`).toMatch(
        /^(parent|child):/,
      );
    }
    const childKeys = other.lines
      .filter((l) => l.startsWith("put w-child/"))
      .map((l) => l.slice(4))
      .filter((key) => !childDeleted.has(key));
    const listed = await listAll(store);
    expect(listed).toEqual([...listed].sort());
    expect(await listAll(store, "w-child/")).toEqual([...new Set(childKeys)].sort());
    expect(await listAll(store, "w-parent/")).toEqual([...ownKeys].sort());
    for (const key of listed) expect(readCheckedValue(await store.get(key)), key).toBeDefined();
    expect(await readdir(join(store.root, TEMP_DIR)), "no temporary files are left").toEqual([]);
  }, 240_000);

  it("keeps every committed value whole when the writer is killed with SIGKILL", async () => {
    const seed = Date.now() >>> 0;
    const random = prng(seed);
    const committed = new Map<string, string>();
    for (let round = 0; round < 4; round++) {
      const where = `seed ${seed}, round ${round}`;
      const writer = startWriter("big", store.root, `r${round}`);
      children.push(writer);
      const after = 1 + random(8);
      await writer.until((lines) => lines.filter((l) => l.startsWith("committed ")).length >= after);
      await new Promise((resolve) => setTimeout(resolve, random(40)));
      writer.child.kill("SIGKILL");
      expect(await writer.exited, where).toBe("SIGKILL");
      for (const line of writer.lines) {
        const [word, key, label] = line.split(" ");
        if (word === "committed" && key !== undefined && label !== undefined) committed.set(key, label);
      }

      const listed = await listAll(store);
      expect(listed, where).toEqual([...listed].sort());
      for (const key of listed) {
        expect(key, `${where}: only real keys are listed`).toMatch(/^(big|pia|hot)\/[A-Za-z0-9-]+$/);
        expect(readCheckedValue(await store.get(key)), `${where}: ${key} is whole`).toBeDefined();
      }
      for (const [key, label] of committed) {
        const value = readCheckedValue(await store.get(key));
        // hot/ keys are overwritten by later rounds; the others are written once.
        if (key.startsWith("hot/")) expect(value, `${where}: ${key}`).toBeDefined();
        else expect(value, `${where}: committed ${key}`).toBe(label);
      }
    }
    const leftovers = await readdir(join(store.root, TEMP_DIR));
    expect(await store.sweepTemp(0)).toBe(leftovers.length);
    expect(await readdir(join(store.root, TEMP_DIR))).toEqual([]);
    for (const key of await listAll(store)) {
      expect(readCheckedValue(await store.get(key)), `after sweep: ${key}`).toBeDefined();
    }
  }, 240_000);
});
