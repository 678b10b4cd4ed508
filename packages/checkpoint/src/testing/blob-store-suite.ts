import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CheckpointError } from "../errors.ts";
import { type BlobStore, MAX_KEY_BYTES, supportsPutStream } from "../store/blob-store.ts";
import {
  allByteValues,
  bytesDifference,
  chunksOf,
  concatBytes,
  seededBytes,
  textBytes,
} from "./test-bytes.ts";

/** What `create` hands the suite: a fresh, empty store, and how to throw its storage away. */
export interface BlobStoreUnderTest {
  store: BlobStore;
  /** Called after the test, after `store.close()`. Remove directories, stop servers. */
  cleanup?: () => Promise<void>;
}

/** Given to `additionalTests`; only valid inside a running test. */
export interface BlobStoreTestContext {
  /** The fresh store of the running test (made before each test, closed and cleaned up after it). */
  readonly store: BlobStore;
  /** Make one more store with the suite's `create`; it is closed and cleaned up after the test. */
  create(): Promise<BlobStoreUnderTest>;
}

export interface TestBlobStoreOptions {
  /** Shown in the suite's name, e.g. `file`. */
  name: string;
  /** Make a new, empty store. Called once before every test. */
  create: () => Promise<BlobStoreUnderTest>;
  /**
   * Optional capabilities the store claims. The suite checks the claim both ways: a declared
   * capability must be present and behave, an undeclared one must be absent.
   */
  capabilities?: { putStream?: boolean };
  /** Register more `it`/`describe` blocks inside the suite, sharing its per-test store. */
  additionalTests?: (ctx: BlobStoreTestContext) => void;
  /** Size of the large-object tests; default 12 MiB. */
  largeObjectBytes?: number;
  /** Keys in the listing test (pick more than the backend's page size); default 1,200. */
  manyKeys?: number;
  /** Concurrent callers in race tests; default 16. */
  racers?: number;
}

/** Keys every store must refuse with `InvalidKeyError` before touching storage. */
export const INVALID_KEYS: ReadonlyArray<readonly [what: string, key: string]> = [
  ["empty", ""],
  ["'..'", ".."],
  ["'.'", "."],
  ["a '..' segment", "a/../b"],
  ["a leading '..'", "../outside"],
  ["a '.' segment", "a/./b"],
  ["a leading '/'", "/a"],
  ["a trailing '/'", "a/"],
  ["an empty segment", "a//b"],
  ["a backslash", "a\\b"],
  ["a backslash traversal", "..\\outside"],
  ["a NUL byte", "a\u0000b"],
  ["over-long", "k".repeat(MAX_KEY_BYTES + 1)],
  ["non-ASCII", "caf\u00e9"],
  ["a space", "a b"],
  ["a newline", "a\nb"],
  ["a drive letter", "c:/x"],
];

/** A valid key of exactly `MAX_KEY_BYTES` bytes, in segments short enough for any file system. */
export function longestValidKey(): string {
  const segments: string[] = [];
  let length = -1;
  let i = 0;
  while (length + 1 + 100 <= MAX_KEY_BYTES) {
    const seg = `s${i++}`.padEnd(100, "x");
    segments.push(seg);
    length += 1 + seg.length;
  }
  const rest = MAX_KEY_BYTES - length - 1;
  if (rest > 0) segments.push("z".repeat(rest));
  return segments.join("/");
}

async function collect(items: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const item of items) out.push(item);
  return out;
}

async function rejectionOf(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

function expectBytes(actual: unknown, expected: Uint8Array, what: string): void {
  expect(bytesDifference(actual, expected), what).toBeUndefined();
}

function byteOrder(keys: readonly string[]): string[] {
  // Keys are ASCII, so UTF-16 code unit order is byte order.
  return [...keys].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let x = seed >>> 0 || 1;
  for (let i = out.length - 1; i > 0; i--) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const j = x % (i + 1);
    const tmp = out[i] as T;
    out[i] = out[j] as T;
    out[j] = tmp;
  }
  return out;
}

/**
 * The `BlobStore` conformance suite. Call it at the top level of a vitest test file; every
 * backend runs the same tests against a fresh store per test.
 *
 * ```ts
 * testBlobStore({ name: "memory", create: async () => ({ store: createMemoryStore() }) });
 * ```
 */
export function testBlobStore(options: TestBlobStoreOptions): void {
  const largeBytes = options.largeObjectBytes ?? 12 * 1024 * 1024;
  const manyKeys = options.manyKeys ?? 1200;
  const racers = options.racers ?? 16;
  const streaming = options.capabilities?.putStream ?? false;

  describe(`BlobStore conformance: ${options.name}`, () => {
    let current: BlobStoreUnderTest | undefined;
    let extra: BlobStoreUnderTest[] = [];

    function store(): BlobStore {
      if (current === undefined) throw new Error("the conformance store is only available inside a test");
      return current.store;
    }

    async function dispose(made: BlobStoreUnderTest): Promise<void> {
      await made.store.close?.();
      await made.cleanup?.();
    }

    beforeEach(async () => {
      current = await options.create();
    });

    afterEach(async () => {
      const all = current === undefined ? extra : [current, ...extra];
      current = undefined;
      extra = [];
      for (const made of all) await dispose(made);
    });

    const context: BlobStoreTestContext = {
      get store() {
        return store();
      },
      async create() {
        const made = await options.create();
        extra.push(made);
        return made;
      },
    };

    describe("identity", () => {
      it("declares specification v1 and a name", () => {
        expect(store().specificationVersion).toBe("v1");
        expect(typeof store().name).toBe("string");
        expect(store().name.length).toBeGreaterThan(0);
      });

      it("starts empty", async () => {
        expect(await collect(store().list(""))).toEqual([]);
      });
    });

    describe("round trips", () => {
      it("keeps every byte value", async () => {
        const value = allByteValues(4);
        await store().put("bytes/all", value);
        expectBytes(await store().get("bytes/all"), value, "get after put");
        expect(await store().head("bytes/all")).toEqual({ size: value.byteLength });
      });

      it("keeps an empty value", async () => {
        await store().put("empty", new Uint8Array(0));
        expectBytes(await store().get("empty"), new Uint8Array(0), "get of an empty value");
        expect(await store().has("empty")).toBe(true);
        expect(await store().head("empty")).toEqual({ size: 0 });
        expect(await collect(store().list(""))).toEqual(["empty"]);
      });

      it("accepts a Buffer and a view into a larger buffer", async () => {
        const big = seededBytes(4096, 7);
        const view = big.subarray(100, 1100);
        await store().put("views/sub", view);
        expectBytes(
          await store().get("views/sub"),
          big.slice(100, 1100),
          "a subarray stores only its window",
        );
        const buf = Buffer.from(textBytes("from a Buffer"));
        await store().put("views/buffer", buf);
        expectBytes(await store().get("views/buffer"), textBytes("from a Buffer"), "a Buffer");
      });

      it("accepts every key character and the longest valid key", async () => {
        const keys = ["A-Z_a-z.0-9", "x/y/z", "..a/.b/c..", "-/_/.x", longestValidKey()];
        expect(Buffer.byteLength(keys[keys.length - 1] ?? "")).toBe(MAX_KEY_BYTES);
        for (const [i, key] of keys.entries()) await store().put(key, textBytes(`value ${i}`));
        for (const [i, key] of keys.entries()) {
          expectBytes(await store().get(key), textBytes(`value ${i}`), `get ${key}`);
        }
        expect(await collect(store().list(""))).toEqual(byteOrder(keys));
      });

      it("is not changed by later mutation of the caller's arrays", async () => {
        const input = textBytes("original");
        await store().put("mut/put", input);
        input.fill(0x21);
        expectBytes(await store().get("mut/put"), textBytes("original"), "after mutating the input");
        const output = await store().get("mut/put");
        output?.fill(0x3f);
        expectBytes(await store().get("mut/put"), textBytes("original"), "after mutating a returned value");
        const range = await store().getRange("mut/put", 0, 4);
        range?.fill(0x3f);
        expectBytes(await store().get("mut/put"), textBytes("original"), "after mutating a returned range");

        const pia = textBytes("first");
        expect(await store().putIfAbsent("mut/pia", pia)).toBe(true);
        pia.fill(0);
        expectBytes(await store().get("mut/pia"), textBytes("first"), "after mutating a putIfAbsent input");
      });
    });

    describe("large objects", () => {
      it(`round-trips ${largeBytes} bytes whole and in ranges`, async () => {
        const value = seededBytes(largeBytes, 12);
        await store().put("large/one", value);
        expect(await store().head("large/one")).toEqual({ size: largeBytes });
        expectBytes(await store().get("large/one"), value, "get of a large value");
        const mid = Math.floor(largeBytes / 2) - 7;
        const span = Math.min(1024 * 1024 + 13, largeBytes - mid);
        expectBytes(
          await store().getRange("large/one", mid, span),
          value.subarray(mid, mid + span),
          "a range in the middle",
        );
        expectBytes(
          await store().getRange("large/one", largeBytes - 5, 100),
          value.subarray(largeBytes - 5),
          "a range over the end",
        );
      });
    });

    describe("getRange", () => {
      const value = seededBytes(1000, 3);
      const cases: ReadonlyArray<
        readonly [what: string, offset: number, length: number, start: number, end: number]
      > = [
        ["the start", 0, 10, 0, 10],
        ["the middle", 100, 50, 100, 150],
        ["exactly the end", 990, 10, 990, 1000],
        ["across the end", 995, 10, 995, 1000],
        ["at the end", 1000, 5, 1000, 1000],
        ["past the end", 5000, 5, 1000, 1000],
        ["zero length", 10, 0, 10, 10],
        ["the whole value", 0, 1000, 0, 1000],
        ["more than the whole value", 0, 2 ** 40, 0, 1000],
      ];
      for (const [what, offset, length, start, end] of cases) {
        it(`reads ${what} (offset ${offset}, length ${length})`, async () => {
          await store().put("range/v", value);
          expectBytes(await store().getRange("range/v", offset, length), value.subarray(start, end), what);
        });
      }

      it("reads ranges of an empty value as empty", async () => {
        await store().put("range/empty", new Uint8Array(0));
        expectBytes(await store().getRange("range/empty", 0, 10), new Uint8Array(0), "range of empty");
        expectBytes(await store().getRange("range/empty", 3, 10), new Uint8Array(0), "range past empty");
      });
    });

    describe("missing keys", () => {
      it("get, getRange and head resolve undefined; has resolves false", async () => {
        await store().put("present", textBytes("x"));
        expect(await store().get("absent")).toBeUndefined();
        expect(await store().getRange("absent", 0, 10)).toBeUndefined();
        expect(await store().getRange("absent", 0, 0)).toBeUndefined();
        expect(await store().head("absent")).toBeUndefined();
        expect(await store().has("absent")).toBe(false);
        expect(await store().has("present")).toBe(true);
      });

      it("a key's prefix is not a key, nor a longer key", async () => {
        await store().put("dir/file", textBytes("x"));
        for (const key of ["dir", "di", "dir/fil", "dir/file/more", "dir/file2"]) {
          expect(await store().has(key), `has(${key})`).toBe(false);
          expect(await store().get(key), `get(${key})`).toBeUndefined();
          expect(await store().head(key), `head(${key})`).toBeUndefined();
          expect(await store().getRange(key, 0, 1), `getRange(${key})`).toBeUndefined();
        }
      });
    });

    describe("list", () => {
      it("treats the prefix as a string prefix, not a directory", async () => {
        const keys = ["a", "a-b", "a.c", "a/b", "a/c/d", "a/c/e", "ab", "b", "B"];
        for (const key of shuffled(keys, 5)) await store().put(key, textBytes(key));
        expect(await collect(store().list(""))).toEqual(byteOrder(keys));
        expect(await collect(store().list("a"))).toEqual(["a", "a-b", "a.c", "a/b", "a/c/d", "a/c/e", "ab"]);
        expect(await collect(store().list("a/"))).toEqual(["a/b", "a/c/d", "a/c/e"]);
        expect(await collect(store().list("a/c"))).toEqual(["a/c/d", "a/c/e"]);
        expect(await collect(store().list("a/c/d"))).toEqual(["a/c/d"]);
        expect(await collect(store().list("c"))).toEqual([]);
        expect(await collect(store().list("a/x"))).toEqual([]);
        for (const key of keys) expectBytes(await store().get(key), textBytes(key), `value of ${key}`);
      });

      it("lists an empty store and an unmatched prefix as nothing", async () => {
        expect(await collect(store().list(""))).toEqual([]);
        expect(await collect(store().list("nothing/"))).toEqual([]);
        await store().put("something", textBytes("x"));
        expect(await collect(store().list("nothing/"))).toEqual([]);
        expect(await collect(store().list("something/"))).toEqual([]);
      });

      it(`lists ${manyKeys} keys under one prefix in ascending byte order`, async () => {
        const keys: string[] = [];
        for (let i = 0; i < manyKeys; i++) {
          const id = i.toString(16).padStart(6, "0");
          keys.push(i % 3 === 0 ? `many/${id}` : `many/d${i % 7}/${id}`);
        }
        const others = ["man", "many", "manx/1", "manz", "zzz/many/1"];
        const all = shuffled([...keys, ...others], 11);
        for (let i = 0; i < all.length; i += 32) {
          await Promise.all(all.slice(i, i + 32).map((key) => store().put(key, textBytes(key))));
        }
        const listed = await collect(store().list("many/"));
        expect(listed.length).toBe(manyKeys);
        expect(listed).toEqual(byteOrder(keys));
        const everything = await collect(store().list(""));
        expect(everything).toEqual(byteOrder(all));
        expect(await collect(store().list("many/d3/"))).toEqual(
          byteOrder(keys.filter((k) => k.startsWith("many/d3/"))),
        );
      });

      it("can be iterated twice and partially", async () => {
        for (const key of ["p/1", "p/2", "p/3"]) await store().put(key, textBytes(key));
        const first: string[] = [];
        for await (const key of store().list("p/")) {
          first.push(key);
          if (first.length === 2) break;
        }
        expect(first).toEqual(["p/1", "p/2"]);
        expect(await collect(store().list("p/"))).toEqual(["p/1", "p/2", "p/3"]);
      });
    });

    describe("delete", () => {
      it("removes a key from get, getRange, head, has and list", async () => {
        await store().put("del/a", textBytes("a"));
        await store().put("del/b", textBytes("b"));
        await store().delete("del/a");
        expect(await store().get("del/a")).toBeUndefined();
        expect(await store().getRange("del/a", 0, 1)).toBeUndefined();
        expect(await store().head("del/a")).toBeUndefined();
        expect(await store().has("del/a")).toBe(false);
        expect(await collect(store().list(""))).toEqual(["del/b"]);
      });

      it("accepts a missing key, twice", async () => {
        await store().delete("never/there");
        await store().put("once", textBytes("1"));
        await store().delete("once");
        await store().delete("once");
        expect(await collect(store().list(""))).toEqual([]);
      });

      it("removes only that key, not longer keys below it", async () => {
        await store().put("d", textBytes("d"));
        await store().put("d/e", textBytes("d/e"));
        await store().put("d/e/f", textBytes("d/e/f"));
        await store().delete("d/e");
        expect(await collect(store().list(""))).toEqual(["d", "d/e/f"]);
        await store().delete("d");
        expect(await collect(store().list(""))).toEqual(["d/e/f"]);
        expectBytes(await store().get("d/e/f"), textBytes("d/e/f"), "the deepest key survives");
      });

      it("lets a deleted key be written again", async () => {
        await store().put("again/k", textBytes("one"));
        await store().delete("again/k");
        await store().put("again/k", textBytes("two"));
        expectBytes(await store().get("again/k"), textBytes("two"), "rewritten after delete");
      });
    });

    describe("overwrite", () => {
      it("replaces the whole value, longer then shorter", async () => {
        const long = seededBytes(100_000, 1);
        const short = textBytes("short");
        await store().put("ow/k", long);
        await store().put("ow/k", short);
        expectBytes(await store().get("ow/k"), short, "no tail of the old value remains");
        expect(await store().head("ow/k")).toEqual({ size: short.byteLength });
        await store().put("ow/k", long);
        expectBytes(await store().get("ow/k"), long, "longer again");
        expect(await collect(store().list("ow/"))).toEqual(["ow/k"]);
      });
    });

    describe("putIfAbsent", () => {
      it("creates a missing key and leaves an existing one alone", async () => {
        expect(await store().putIfAbsent("pia/k", textBytes("first"))).toBe(true);
        expect(await store().putIfAbsent("pia/k", textBytes("second"))).toBe(false);
        expectBytes(await store().get("pia/k"), textBytes("first"), "the first value stays");
        await store().put("pia/k", textBytes("third"));
        expect(await store().putIfAbsent("pia/k", textBytes("fourth"))).toBe(false);
        expectBytes(await store().get("pia/k"), textBytes("third"), "put still overwrites");
        await store().delete("pia/k");
        expect(await store().putIfAbsent("pia/k", textBytes("fifth"))).toBe(true);
        expectBytes(await store().get("pia/k"), textBytes("fifth"), "after delete");
      });

      it("treats an empty value as present", async () => {
        expect(await store().putIfAbsent("pia/empty", new Uint8Array(0))).toBe(true);
        expect(await store().putIfAbsent("pia/empty", textBytes("x"))).toBe(false);
        expect(await store().head("pia/empty")).toEqual({ size: 0 });
      });

      it(`lets exactly one of ${racers} concurrent callers win, with its value`, async () => {
        for (let round = 0; round < 3; round++) {
          const key = `race/${round}`;
          const values = Array.from({ length: racers }, (_, i) =>
            seededBytes(1000 + i * 997, round * 100 + i),
          );
          const results = await Promise.all(values.map((value) => store().putIfAbsent(key, value)));
          const winners = results.flatMap((won, i) => (won ? [i] : []));
          expect(winners.length, `winners of round ${round}: ${winners.join(",")}`).toBe(1);
          const winner = values[winners[0] ?? -1];
          if (winner === undefined) throw new Error("no winner");
          expectBytes(await store().get(key), winner, "the stored value is the winner's");
        }
      });

      it("races against a concurrent put without a torn value", async () => {
        const a = seededBytes(300_000, 21);
        const b = seededBytes(200_000, 22);
        const [, won] = await Promise.all([
          store().put("race/mixed", a),
          store().putIfAbsent("race/mixed", b),
        ]);
        // Whichever lands first, put's value is last: if putIfAbsent won, put replaced it after.
        expect(typeof won).toBe("boolean");
        expectBytes(await store().get("race/mixed"), a, "put's value is stored");
      });
    });

    describe("concurrency", () => {
      it(`keeps ${racers * 4} concurrent writes to different keys`, async () => {
        const n = racers * 4;
        const values = Array.from({ length: n }, (_, i) => seededBytes(5000 + i * 331, 1000 + i));
        await Promise.all(values.map((value, i) => store().put(`conc/${i}`, value)));
        const keys = values.map((_, i) => `conc/${i}`);
        expect(await collect(store().list("conc/"))).toEqual(byteOrder(keys));
        for (const [i, value] of values.entries())
          expectBytes(await store().get(`conc/${i}`), value, `conc/${i}`);
      });

      it("leaves one whole value after concurrent puts to the same key", async () => {
        const values = Array.from({ length: racers }, (_, i) => seededBytes(1024 * (1 + i * 13), 2000 + i));
        await Promise.all(values.map((value) => store().put("conc/same", value)));
        const stored = await store().get("conc/same");
        const matches = values.filter((value) => bytesDifference(stored, value) === undefined);
        expect(matches.length, "the stored value equals one of the written values").toBe(1);
        expect(await collect(store().list("conc/"))).toEqual(["conc/same"]);
      });

      it("reads whole old or new values while a key is overwritten", async () => {
        const old = seededBytes(256 * 1024, 31);
        const fresh = seededBytes(128 * 1024, 32);
        await store().put("conc/rw", old);
        const reads = Promise.all(Array.from({ length: 8 }, () => store().get("conc/rw")));
        const write = store().put("conc/rw", fresh);
        const [seen] = await Promise.all([reads, write]);
        for (const value of seen) {
          expect(
            bytesDifference(value, old) === undefined || bytesDifference(value, fresh) === undefined,
          ).toBe(true);
        }
        expectBytes(await store().get("conc/rw"), fresh, "after the write");
      });
    });

    describe("invalid keys", () => {
      for (const [what, key] of INVALID_KEYS) {
        it(`refuses a key with ${what} in every method, touching nothing`, async () => {
          const s = store();
          const calls: Array<readonly [string, () => Promise<unknown>]> = [
            ["put", () => s.put(key, textBytes("x"))],
            ["putIfAbsent", () => s.putIfAbsent(key, textBytes("x"))],
            ["get", () => s.get(key)],
            ["getRange", () => s.getRange(key, 0, 1)],
            ["head", () => s.head(key)],
            ["has", () => s.has(key)],
            ["delete", () => s.delete(key)],
          ];
          if (supportsPutStream(s)) {
            calls.push([
              "putStream",
              () =>
                s.putStream(
                  key,
                  (async function* () {
                    yield textBytes("x");
                  })(),
                ),
            ]);
          }
          for (const [method, call] of calls) {
            const error = await rejectionOf(call);
            const code = CheckpointError.isInstance(error) ? error.code : String(error);
            expect(code, `${method}(${JSON.stringify(key)}) must reject with INVALID_KEY`).toBe(
              "INVALID_KEY",
            );
          }
          expect(await collect(s.list(""))).toEqual([]);
          for (const neighbour of ["a", "b", "outside", "x", "a/b"]) {
            expect(await s.has(neighbour), `has(${neighbour}) after refused writes`).toBe(false);
          }
        });
      }
    });

    describe("putStream", () => {
      if (!streaming) {
        it("is not offered (the suite was told the store has no putStream)", () => {
          expect(supportsPutStream(store())).toBe(false);
        });
        return;
      }

      function streamingStore() {
        const s = store();
        if (!supportsPutStream(s))
          throw new Error(`${s.name} was declared to support putStream but has none`);
        return s;
      }

      async function* from(chunks: readonly Uint8Array[], pause = false): AsyncGenerator<Uint8Array> {
        for (const chunk of chunks) {
          if (pause) await new Promise((resolve) => setImmediate(resolve));
          yield chunk;
        }
      }

      it("is offered", () => {
        expect(supportsPutStream(store())).toBe(true);
      });

      it("stores the concatenated chunks, empty chunks included", async () => {
        const chunks = [textBytes("one,"), new Uint8Array(0), allByteValues(1), textBytes(",three")];
        await streamingStore().putStream("stream/a", from(chunks, true));
        expectBytes(await store().get("stream/a"), concatBytes(chunks), "streamed value");
        expect(await store().head("stream/a")).toEqual({ size: concatBytes(chunks).byteLength });
      });

      it("stores an empty stream as an empty value", async () => {
        await streamingStore().putStream("stream/empty", from([]));
        expect(await store().head("stream/empty")).toEqual({ size: 0 });
      });

      it(`streams ${largeBytes} bytes in 64 KiB chunks`, async () => {
        const value = seededBytes(largeBytes, 44);
        await streamingStore().putStream("stream/large", from(chunksOf(value, 64 * 1024)));
        expectBytes(await store().get("stream/large"), value, "large streamed value");
      });

      it("replaces an existing value", async () => {
        await store().put("stream/ow", seededBytes(50_000, 1));
        await streamingStore().putStream("stream/ow", from([textBytes("new")]));
        expectBytes(await store().get("stream/ow"), textBytes("new"), "after streaming over it");
      });

      it("leaves the key untouched when the producer fails", async () => {
        await store().put("stream/keep", textBytes("old value"));
        const boom = new Error("producer failed");
        async function* failing(): AsyncGenerator<Uint8Array> {
          yield seededBytes(100_000, 5);
          yield seededBytes(100_000, 6);
          throw boom;
        }
        expect(await rejectionOf(() => streamingStore().putStream("stream/keep", failing()))).toBe(boom);
        expect(await rejectionOf(() => streamingStore().putStream("stream/new", failing()))).toBe(boom);
        expectBytes(await store().get("stream/keep"), textBytes("old value"), "the old value stays");
        expect(await store().has("stream/new")).toBe(false);
        expect(await collect(store().list(""))).toEqual(["stream/keep"]);
      });

      it("refuses an invalid key without reading the stream", async () => {
        let pulled = 0;
        async function* counting(): AsyncGenerator<Uint8Array> {
          pulled++;
          yield textBytes("x");
        }
        const error = await rejectionOf(() => streamingStore().putStream("../escape", counting()));
        expect(CheckpointError.isInstance(error) ? error.code : String(error)).toBe("INVALID_KEY");
        expect(pulled).toBe(0);
      });
    });

    describe("close", () => {
      it("is a function or absent, and idempotent", async () => {
        const made = await context.create();
        const close = made.store.close;
        expect(close === undefined || typeof close === "function").toBe(true);
        await made.store.close?.();
        await made.store.close?.();
      });
    });

    options.additionalTests?.(context);
  });
}
