import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { RunResult } from "../kernel.ts";
import { createStoreTarget } from "./ckpt-target.ts";
import { memoryImages, runToEnd, startGuest, text, thawGuest } from "./ckpt-test-support.ts";

/**
 * The equivalence law (ARCHITECTURE §2) as property tests over random programs, CPU counts,
 * seeds and instants: (a) freeze at t + thaw in a fresh kernel == the uninterrupted run;
 * (b) checkpoint-and-continue at t changes nothing; (c) an incremental chain thaws like a full
 * image. "Same" means the same console bytes, exit status, instruction count and final digest
 * (registers, memory pages, map entries, descriptors, virtual clock: kernel-digest.ts).
 */

const TTY_INPUT = '300000 "ab"\n900000 "\\u0005c"\n1500000 "q"\n';

/** Programs of the law: name, arguments, scripted tty input. */
const PROGRAMS: readonly (readonly [string, readonly string[], string?])[] = [
  ["threads", ["4", "1000"]],
  ["sigdemo", []],
  ["pipes", ["64", "threads"]],
  ["memtouch", []],
  ["ckptself", ["200000"]],
  ["primes", ["1000"]],
  ["hello", ["law"]],
  ["ttyraw", [], TTY_INPUT],
];

interface Whole {
  readonly out: string;
  readonly result: RunResult;
}

const wholeRuns = new Map<string, Promise<Whole>>();

/** The uninterrupted run (with a checkpoint target, so ckptself's own FREEZE behaves the same). */
function whole(program: number, cpus: number, seed: number): Promise<Whole> {
  const key = `${program}/${cpus}/${seed}`;
  let run = wholeRuns.get(key);
  if (run === undefined) {
    const [name, args, input] = PROGRAMS[program] as (typeof PROGRAMS)[number];
    const g = startGuest(
      name,
      args,
      { cpus, seed, ...(input === undefined ? {} : { input }) },
      memoryImages(),
    );
    run = runToEnd(g.kernel).then((result) => ({ out: text(g.chunks), result }));
    wholeRuns.set(key, run);
  }
  return run;
}

const caseArb = fc.record({
  program: fc.integer({ min: 0, max: PROGRAMS.length - 1 }),
  cpus: fc.integer({ min: 1, max: 4 }),
  seed: fc.integer({ min: 0, max: 0xffff_ffff }),
  at: fc.double({ min: 0.01, max: 0.99, noNaN: true }),
});

function expectSame(out: string, result: RunResult, w: Whole): void {
  expect(out).toBe(w.out);
  expect(result.reason).toBe("exited");
  expect(result.exitStatus).toBe(w.result.exitStatus);
  expect(result.instructions).toBe(w.result.instructions);
  expect(result.digest).toBe(w.result.digest);
}

describe("the equivalence law", () => {
  it("(a) run to t, freeze, thaw in a fresh kernel, run to the end == run to the end", async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, async ({ program, cpus, seed, at }) => {
        const w = await whole(program, cpus, seed);
        const [name, args, input] = PROGRAMS[program] as (typeof PROGRAMS)[number];
        const images = memoryImages();
        const g = startGuest(name, args, { cpus, seed, ...(input === undefined ? {} : { input }) }, images);
        const t = Math.max(1, Math.floor(w.result.instructions * at));
        const stop = await g.kernel.run({ stopAt: t });
        if (stop.reason !== "stopped") return;
        const frozen = await createStoreTarget(images).checkpoint(g.kernel, g.kernel.initPid);
        const thawed = await thawGuest(
          images,
          frozen.id,
          name,
          { checkpointTarget: createStoreTarget(images) },
          [...g.chunks],
        );
        const result = await runToEnd(thawed.kernel);
        expectSame(text(thawed.chunks), result, w);
      }),
      { numRuns: 10 },
    );
  }, 120_000);

  it("(b) checkpoint-and-continue at t changes nothing", async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, async ({ program, cpus, seed, at }) => {
        const w = await whole(program, cpus, seed);
        const [name, args, input] = PROGRAMS[program] as (typeof PROGRAMS)[number];
        const images = memoryImages();
        const g = startGuest(name, args, { cpus, seed, ...(input === undefined ? {} : { input }) }, images);
        const stop = await g.kernel.run({ stopAt: Math.max(1, Math.floor(w.result.instructions * at)) });
        if (stop.reason === "stopped") await createStoreTarget(images).checkpoint(g.kernel, g.kernel.initPid);
        const result = await runToEnd(g.kernel);
        expectSame(text(g.chunks), result, w);
      }),
      { numRuns: 8 },
    );
  }, 120_000);

  it("(c) a chain of incremental images thaws the same as a full image", async () => {
    await fc.assert(
      fc.asyncProperty(
        caseArb,
        fc.array(fc.double({ min: 0.01, max: 0.99, noNaN: true }), { minLength: 2, maxLength: 4 }),
        async ({ program, cpus, seed }, instants) => {
          const w = await whole(program, cpus, seed);
          const [name, args, input] = PROGRAMS[program] as (typeof PROGRAMS)[number];
          const images = memoryImages();
          const chain = createStoreTarget(images);
          const g = startGuest(name, args, { cpus, seed, ...(input === undefined ? {} : { input }) }, images);
          let last: { id: string; parent: string | null } | null = null;
          const ts = [
            ...new Set(instants.map((f) => Math.max(1, Math.floor(w.result.instructions * f)))),
          ].sort((a, b) => a - b);
          for (const t of ts) {
            if ((await g.kernel.run({ stopAt: t })).reason !== "stopped") break;
            const written = await chain.checkpoint(g.kernel, g.kernel.initPid);
            expect(written.parent).toBe(last?.id ?? null);
            last = written;
          }
          if (last === null) return;
          const full = await createStoreTarget(images).checkpoint(g.kernel, g.kernel.initPid);
          expect(full.parent).toBeNull();
          const a = await thawGuest(images, last.id, name, {}, [...g.chunks]);
          const b = await thawGuest(images, full.id, name, {}, [...g.chunks]);
          expect(a.kernel.result("stopped").digest).toBe(b.kernel.result("stopped").digest);
          const ra = await runToEnd(a.kernel);
          const rb = await runToEnd(b.kernel);
          expectSame(text(a.chunks), ra, w);
          expectSame(text(b.chunks), rb, w);
        },
      ),
      { numRuns: 5 },
    );
  }, 120_000);
});
