import {
  createImageStore,
  createMemoryStore,
  type ImageStore,
  type LwpImage,
  type MapEntryImage,
  type MemoryStore,
  type ProcessImage,
  REG_PC,
} from "@vkc/checkpoint";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { RunResult } from "../kernel.ts";
import { LazyPageError, ThawReadError } from "./ckpt-errors.ts";
import { createStoreTarget } from "./ckpt-target.ts";
import { guestElf, runToEnd, startGuest, text } from "./ckpt-test-support.ts";
import { thawProcess } from "./thaw.ts";

/**
 * Lazy thaw (ARCHITECTURE §2, law 3: lazy restore == eager restore): the same console bytes,
 * exit status, instruction count and digest, whether pages come on first touch, from the
 * background loader, or all before the run; and a damaged page stops the run, never runs.
 */

/** Programs: name, arguments, about how many instructions the whole run takes. */
const PROGRAMS: readonly (readonly [string, readonly string[], number])[] = [
  ["memtouch", ["1", "40", "2"], 6_300_000],
  ["threads", ["4", "1000"], 290_000],
  ["forkdemo", [], 3_100_000],
];

type Prefetch = "none" | "background" | "all-first";

interface Frozen {
  readonly images: ImageStore;
  readonly store: MemoryStore;
  readonly id: string;
  readonly before: Uint8Array[];
}

async function freezeAt(program: number, cpus: number, seed: number, at: number): Promise<Frozen | null> {
  const [name, args] = PROGRAMS[program] as (typeof PROGRAMS)[number];
  const store = createMemoryStore();
  const images = createImageStore(store);
  const g = startGuest(name, args, { cpus, seed }, images);
  if ((await g.kernel.run({ stopAt: at })).reason !== "stopped") return null;
  const { id } = await createStoreTarget(images).checkpoint(g.kernel, g.kernel.initPid);
  return { images, store, id, before: g.chunks };
}

async function thawAndRun(
  f: Frozen,
  program: number,
  lazy: boolean,
  prefetch: Prefetch = "background",
): Promise<{ out: string; result: RunResult }> {
  const name = (PROGRAMS[program] as (typeof PROGRAMS)[number])[0];
  const chunks = [...f.before];
  const thawed = await thawProcess(f.images, f.id, {
    lazy,
    console: { write: (b) => chunks.push(b.slice()) },
    files: { [`/bin/${name}`]: guestElf(name) },
  });
  // A process tree (forkdemo frozen after its fork) thaws eagerly (thaw-tree.ts); one forking
  // after a lazy thaw gives the child its own lazy pages (VmObject.copy).
  if (lazy && thawed.manifest.processes.length === 1) {
    expect(thawed.lazy).not.toBeNull();
    if (prefetch === "none") thawed.kernel.background = null;
    if (prefetch === "all-first") await thawed.lazy?.finish();
  }
  const result = await runToEnd(thawed.kernel);
  return { out: text(chunks), result };
}

describe("lazy thaw", () => {
  it("== eager thaw at random instants, CPU counts, seeds and prefetch modes", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          program: fc.integer({ min: 0, max: PROGRAMS.length - 1 }),
          cpus: fc.integer({ min: 1, max: 3 }),
          seed: fc.integer({ min: 0, max: 0xffff_ffff }),
          at: fc.double({ min: 0.01, max: 0.99, noNaN: true }),
          prefetch: fc.constantFrom<Prefetch>("none", "background", "all-first"),
        }),
        async ({ program, cpus, seed, at, prefetch }) => {
          const length = (PROGRAMS[program] as (typeof PROGRAMS)[number])[2];
          const f = await freezeAt(program, cpus, seed, Math.max(1, Math.floor(length * at)));
          if (f === null) return;
          const eager = await thawAndRun(f, program, false);
          const lazy = await thawAndRun(f, program, true, prefetch);
          expect(lazy.out).toBe(eager.out);
          expect(lazy.result.reason).toBe(eager.result.reason);
          expect(lazy.result.exitStatus).toBe(eager.result.exitStatus);
          expect(lazy.result.instructions).toBe(eager.result.instructions);
          expect(lazy.result.digest).toBe(eager.result.digest);
        },
      ),
      { numRuns: 6 },
    );
  }, 120_000);

  it("builds no page bytes up front; touch and background load them all, each once", async () => {
    const f = (await freezeAt(0, 1, 7, 1_500_000)) as Frozen;
    const thawed = await thawProcess(f.images, f.id, {
      lazy: true,
      files: { "/bin/memtouch": guestElf("memtouch") },
    });
    const lazy = thawed.lazy;
    if (lazy === null) throw new Error("no lazy loader");
    const start = lazy.progress();
    expect(start.total).toBeGreaterThan(100); // the pages memtouch wrote so far, and its code
    expect(start).toMatchObject({ touched: 0, prefetched: 0, remaining: start.total });
    await thawed.kernel.run({ maxInstructions: 1 });
    expect(lazy.progress().touched).toBeGreaterThan(0); // at least the code page
    await lazy.finish();
    const end = lazy.progress();
    expect(end.remaining).toBe(0);
    expect(end.touched + end.prefetched).toBe(end.total);
    f.store.resetStats();
    const result = await runToEnd(thawed.kernel);
    expect(result.exitStatus).toBe(0);
    expect(f.store.stats.getRanges).toBe(0); // nothing read after everything was resident
  });

  it("checkpoints a lazily thawed process with every page, as an eager one", async () => {
    const f = (await freezeAt(0, 2, 3, 1_200_000)) as Frozen;
    const thawed = await thawProcess(f.images, f.id, {
      lazy: true,
      files: { "/bin/memtouch": guestElf("memtouch") },
    });
    const again = await createStoreTarget(f.images).checkpoint(thawed.kernel, thawed.pid);
    const [a, b] = await Promise.all([f.images.readManifest(f.id), f.images.readManifest(again.id)]);
    expect(b.objects.map((o) => o.pages)).toEqual(a.objects.map((o) => o.pages));
    const eager = await thawAndRun(f, 0, false);
    const viaLazy = await thawAndRun({ ...f, id: again.id }, 0, false);
    expect(viaLazy.result.digest).toBe(eager.result.digest);
  });

  it("refuses a damaged page when the guest touches it: the run stops with LazyPageError", async () => {
    const f = (await freezeAt(0, 1, 1, 1_500_000)) as Frozen;
    // Damage, in its pack, the page the thawed LWP executes first.
    const proc = (await f.images.readManifest(f.id)).processes[0] as ProcessImage;
    const pc = (proc.lwps[0] as LwpImage).regs[REG_PC] as number;
    const entry = proc.vmspace.entries.find((e) => pc >= e.start && pc < e.end) as MapEntryImage;
    const index = entry.offset + Math.floor((pc - entry.start) / 4096);
    const code = await f.images.readPage(f.id, entry.objectId as number, index);
    let damaged = 0;
    for await (const key of f.store.list("packs/")) {
      const bytes = (await f.store.get(key)) as Uint8Array;
      const at = Buffer.from(bytes).indexOf(Buffer.from(code));
      if (at < 0) continue;
      bytes[at + 100] = (bytes[at + 100] as number) ^ 0x5a;
      await f.store.put(key, bytes);
      damaged++;
    }
    expect(damaged).toBe(1);
    const thawed = await thawProcess(f.images, f.id, {
      lazy: true,
      files: { "/bin/memtouch": guestElf("memtouch") },
    });
    thawed.kernel.background = null; // only touches load pages
    const error = await runToEnd(thawed.kernel).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LazyPageError);
    expect((error as LazyPageError).code).toBe("CKPT_LAZY_PAGE");
    expect((error as Error).message).toMatch(
      new RegExp(
        `^lazy restore of image [0-9a-f]{12}: page ${index} of object ${entry.objectId}: page [0-9a-f]{12} in packs/[0-9a-f]+: content does not match its hash$`,
      ),
    );
    // The eager thaw refuses the same image before building anything.
    await expect(
      thawProcess(f.images, f.id, { files: { "/bin/memtouch": guestElf("memtouch") } }),
    ).rejects.toBeInstanceOf(ThawReadError);
  });

  it("refuses, in one line, a store that cannot read synchronously", async () => {
    const { getRangeSync: _dropped, ...asyncOnly } = createMemoryStore();
    const images = createImageStore(asyncOnly);
    const g = startGuest("hello", ["x"], {}, images);
    await g.kernel.run({ stopAt: 1000 });
    const { id } = await createStoreTarget(images).checkpoint(g.kernel, g.kernel.initPid);
    const error = await thawProcess(images, id, {
      lazy: true,
      files: { "/bin/hello": guestElf("hello") },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ThawReadError);
    expect((error as Error).message).toMatch(/cannot read synchronously, which a lazy restore needs/);
    expect((error as Error).message).not.toContain("\n");
  });
});
