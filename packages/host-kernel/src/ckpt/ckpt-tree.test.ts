import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { CborMap, ManifestDraft, ProcessImage } from "@vkc/checkpoint";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PIPE_BUF_SIZE, PipeReadOps } from "../fs/pipe.ts";
import type { Kernel } from "../kernel.ts";
import type { SigInfo } from "../proc/proc-types.ts";
import { ThawInvalidImageError } from "./ckpt-errors.ts";
import { sigInfo } from "./ckpt-images.ts";
import { createStoreTarget } from "./ckpt-target.ts";
import {
  expectSameRun,
  GUEST_BIN,
  memoryImages,
  runToEnd,
  startGuest,
  text,
  thawGuest,
  type WholeRun,
} from "./ckpt-test-support.ts";
import { freezeProcess } from "./freeze.ts";
import { sigInfos } from "./thaw.ts";

/**
 * Checkpoints of process trees (CHECKPOINT.md "Process trees"): a freeze of the parent holds its
 * descendants (alive or zombie), their shared pipes and copy-on-write pages; a thaw rebuilds the
 * tree with the same pids and the run ends exactly as the uninterrupted one — same console
 * bytes, exit status, instruction count and digest (the equivalence law). forkdemo: children,
 * zombies, copy-on-write, a parent in waitid; forkpipe: one pipe written by a child and a
 * grandchild (writers blocked on a full pipe) and read by the parent.
 */

interface Program {
  readonly name: string;
  readonly args: readonly string[];
  /** Step (instructions) of the search for a chosen instant. */
  readonly step: number;
}

const FORKDEMO: Program = { name: "forkdemo", args: ["3"], step: 500 };
const FORKPIPE: Program = { name: "forkpipe", args: [], step: 2_000 };
const CPUS = [1, 2, 4] as const;

const wholeRuns = new Map<string, Promise<WholeRun>>();

function whole(program: Program, cpus: number, seed: number): Promise<WholeRun> {
  const key = `${program.name}/${cpus}/${seed}`;
  let run = wholeRuns.get(key);
  if (run === undefined) {
    const g = startGuest(program.name, program.args, { cpus, seed }, memoryImages());
    run = runToEnd(g.kernel).then((result) => ({ out: text(g.chunks), result }));
    wholeRuns.set(key, run);
  }
  return run;
}

/** Run `kernel` in steps of `step` instructions until `when` holds between slices (false: it ended). */
async function runUntil(kernel: Kernel, step: number, when: (k: Kernel) => boolean): Promise<boolean> {
  for (let t = step; ; t += step) {
    if ((await kernel.run({ stopAt: t })).reason !== "stopped") return false;
    if (when(kernel)) return true;
  }
}

/** Freeze the tree at `t` (or the first slice boundary where `at` holds), thaw, run on. */
async function lawAt(
  program: Program,
  cpus: number,
  seed: number,
  at: number | ((k: Kernel) => boolean),
): Promise<{ pids: number[]; kernel: Kernel; thawed: Kernel } | null> {
  const w = await whole(program, cpus, seed);
  const images = memoryImages();
  const g = startGuest(program.name, program.args, { cpus, seed }, images);
  if (typeof at === "number") {
    if ((await g.kernel.run({ stopAt: at })).reason !== "stopped") return null;
  } else if (!(await runUntil(g.kernel, program.step, at))) return null;
  const frozen = await createStoreTarget(images).checkpoint(g.kernel, g.kernel.initPid);
  const manifest = await images.readManifest(frozen.id);
  const thawed = await thawGuest(images, frozen.id, program.name, {}, [...g.chunks]);
  // Same pids, same states, same parents, before the thawed kernel runs.
  for (const p of g.kernel.procs.values()) {
    const q = thawed.kernel.procs.get(p.pid);
    expect(q?.state).toBe(p.state);
    expect(q?.ppid).toBe(p.ppid);
    expect(q?.exitStatus).toBe(p.exitStatus);
  }
  expect(thawed.kernel.result("stopped").digest).toBe(g.kernel.result("stopped").digest);
  const result = await runToEnd(thawed.kernel);
  expectSameRun(text(thawed.chunks), result, w);
  return { pids: manifest.processes.map((p) => p.pid), kernel: g.kernel, thawed: thawed.kernel };
}

/** forkpipe's largest write: a writer blocks when less room than this is left. */
const CHUNK_MAX = 3000;
const root = (k: Kernel) => k.procs.get(k.initPid);
const afterFork = (k: Kernel): boolean => k.procs.size > 1;
const withZombie = (k: Kernel): boolean => [...k.procs.values()].some((p) => p.state === "zombie");
const inWaitid = (k: Kernel): boolean =>
  root(k)?.lwps.some((l) => l.state === "sleeping" && l.wchan?.startsWith("wait:") === true) === true &&
  [...k.procs.values()].some((p) => p.pid !== k.initPid && p.state === "alive");
const pipeHolding = (k: Kernel, least: number): boolean =>
  [...k.procs.values()].some((p) =>
    p.fds.open().some((fd) => {
      const ops = p.fds.get(fd)?.ops;
      return ops instanceof PipeReadOps && ops.pipe.length >= least;
    }),
  );
const pipeHoldsBytes = (k: Kernel): boolean => pipeHolding(k, 1);
const pipeFull = (k: Kernel): boolean => pipeHolding(k, PIPE_BUF_SIZE - CHUNK_MAX);

describe("checkpoints of process trees", () => {
  for (const program of [FORKDEMO, FORKPIPE]) {
    it(`${program.name}: the law at random instants (freeze the tree, thaw it, run on)`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...CPUS),
          fc.integer({ min: 0, max: 0xffff_ffff }),
          fc.double({ min: 0.01, max: 0.99, noNaN: true }),
          async (cpus, seed, f) => {
            const w = await whole(program, cpus, seed);
            await lawAt(program, cpus, seed, Math.max(1, Math.floor(w.result.instructions * f)));
          },
        ),
        { numRuns: 6 },
      );
    }, 120_000);
  }

  for (const cpus of CPUS) {
    it(`forkdemo on ${cpus} CPU(s): right after fork, with a zombie, parent in waitid, bytes in a pipe`, async () => {
      const fork = await lawAt(FORKDEMO, cpus, 7, afterFork);
      expect(fork?.pids.length).toBeGreaterThan(1);
      expect(fork?.pids[0]).toBe(fork?.kernel.initPid);
      expect(fork?.pids.slice(1)).toEqual([...(fork?.pids.slice(1) ?? [])].sort((a, b) => a - b));
      const zombie = await lawAt(FORKDEMO, cpus, 7, withZombie);
      expect(zombie).not.toBeNull();
      expect([...(zombie?.thawed.procs.values() ?? [])].some((p) => p.state === "zombie")).toBe(true);
      expect(await lawAt(FORKDEMO, cpus, 7, inWaitid)).not.toBeNull();
      expect(await lawAt(FORKDEMO, cpus, 7, pipeHoldsBytes)).not.toBeNull();
    }, 60_000);

    it(`forkpipe on ${cpus} CPU(s): three processes on one pipe, writers blocked on it`, async () => {
      const w = await whole(FORKPIPE, cpus, 7);
      expect(w.out.replaceAll("\r\n", "\n")).toBe(
        readFileSync(join(GUEST_BIN, "..", "expected", "forkpipe.txt"), "utf8"),
      );
      const full = (k: Kernel): boolean =>
        k.procs.size === 3 && pipeFull(k) && [...k.procs.values()].every((p) => p.state === "alive");
      const frozen = await lawAt(FORKPIPE, cpus, 7, full);
      expect(frozen?.pids).toHaveLength(3);
    }, 60_000);
  }

  it("an incremental chain of tree images thaws like the uninterrupted run", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...CPUS),
        fc.integer({ min: 0, max: 0xffff_ffff }),
        fc.array(fc.double({ min: 0.01, max: 0.99, noNaN: true }), { minLength: 2, maxLength: 4 }),
        async (cpus, seed, instants) => {
          const w = await whole(FORKDEMO, cpus, seed);
          const images = memoryImages();
          const chain = createStoreTarget(images);
          const g = startGuest(FORKDEMO.name, FORKDEMO.args, { cpus, seed }, images);
          const ts = [...new Set(instants.map((f) => Math.max(1, Math.floor(w.result.instructions * f))))];
          let last: string | null = null;
          for (const t of ts.sort((a, b) => a - b)) {
            if ((await g.kernel.run({ stopAt: t })).reason !== "stopped") break;
            last = (await chain.checkpoint(g.kernel, g.kernel.initPid)).id;
          }
          if (last === null) return;
          const thawed = await thawGuest(images, last, FORKDEMO.name, {}, [...g.chunks]);
          const result = await runToEnd(thawed.kernel);
          expectSameRun(text(thawed.chunks), result, w);
        },
      ),
      { numRuns: 5 },
    );
  }, 120_000);

  it("pages shared copy-on-write are stored once and shared again after the thaw", async () => {
    const images = memoryImages();
    const g = startGuest(FORKDEMO.name, FORKDEMO.args, { cpus: 2, seed: 3 }, images);
    await runUntil(g.kernel, FORKDEMO.step, afterFork);
    const frozen = await createStoreTarget(images).checkpoint(g.kernel, g.kernel.initPid);
    expect(frozen.stats.pagesDeduped).toBeGreaterThan(0);
    const { kernel } = await thawGuest(images, frozen.id, FORKDEMO.name);
    const [parent, child] = [...kernel.procs.values()].sort((a, b) => a.pid - b.pid);
    // Pages of the parent's objects that the child's own (copy-on-write) objects hold too.
    const arrays = new Set<Uint8Array>();
    const parentObjects = new Set((parent?.vm.entries ?? []).map((e) => e.object));
    for (const o of parentObjects) for (const p of o.pages.values()) arrays.add(p);
    const shared = (child?.vm.entries ?? [])
      .filter((e) => !parentObjects.has(e.object))
      .flatMap((e) =>
        [...e.object.pages.entries()].filter(([, p]) => arrays.has(p)).map(([i]) => [e.object, i] as const),
      );
    expect(shared.length).toBeGreaterThan(0);
    for (const [object, index] of shared) expect(object.cow.has(index)).toBe(true);
  });

  it("^E checkpoints the foreground group once: one image of the tree, thawed like the whole run", async () => {
    const input = '480000 "\\u0005"\n';
    const images = memoryImages();
    const g = startGuest(FORKDEMO.name, FORKDEMO.args, { cpus: 2, seed: 1, input });
    let before: Uint8Array[] = [];
    const written: number[] = [];
    g.kernel.checkpointTarget = createStoreTarget(images, {
      onWritten: (w) => {
        written.push(w.pid);
        before = [...g.chunks];
      },
    });
    const w = { result: await runToEnd(g.kernel), out: text(g.chunks) };
    expect(written).toEqual([g.kernel.initPid]); // not one image per process of the group
    const manifest = await images.readManifest("latest");
    expect(manifest.processes.length).toBeGreaterThan(1);
    const thawed = await thawGuest(images, "latest", FORKDEMO.name, {}, before);
    const result = await runToEnd(thawed.kernel);
    expectSameRun(text(thawed.chunks), result, w);
  });

  it("the LWP that froze itself gets the restorer's retval in a tree image too", async () => {
    const images = memoryImages();
    const g = startGuest(FORKDEMO.name, FORKDEMO.args, { cpus: 2, seed: 3 });
    await runUntil(g.kernel, FORKDEMO.step, afterFork);
    const caller = root(g.kernel)?.lwps[0];
    const pc = caller?.hart.getContext().pc ?? 0;
    const frozen = await createStoreTarget(images).checkpoint(g.kernel, g.kernel.initPid, {
      callerTid: caller?.tid ?? null,
    });
    const { kernel } = await thawGuest(images, frozen.id, FORKDEMO.name, { retval: 7 });
    const thawed = kernel.lwps.get(caller?.tid ?? 0)?.hart.getContext();
    expect(thawed?.x[10]).toBe(7);
    expect(thawed?.pc).toBe((pc + 4) >>> 0);
    expect(kernel.procs.size).toBe(g.kernel.procs.size);
  });

  it("a damaged tree image is refused with one ThawInvalidImageError naming the field", async () => {
    const g = startGuest(FORKDEMO.name, FORKDEMO.args, { cpus: 1, seed: 3 });
    await runUntil(g.kernel, FORKDEMO.step, afterFork);
    const damage: ((draft: ManifestDraft) => ManifestDraft)[] = [
      (d) => {
        const kx = d.extensions?.hostKernel as CborMap;
        const objects = (kx.objects as CborMap[]).map((o) => ({ ...o, links: ["bad"] }));
        return { ...d, extensions: { ...d.extensions, hostKernel: { ...kx, objects } } };
      },
      (d) => {
        const [first, second, ...rest] = d.processes;
        const ext = { ...(second?.extensions?.hostKernel as CborMap), state: "sleepy" };
        const damaged = { ...(second as ProcessImage), extensions: { hostKernel: ext } };
        return { ...d, processes: [first as ProcessImage, damaged, ...rest] };
      },
    ];
    for (const [i, harm] of damage.entries()) {
      const images = memoryImages();
      const frozen = freezeProcess(g.kernel, g.kernel.initPid);
      const { id } = await images.writeImage(harm(frozen.draft), frozen.pages);
      const error = await thawGuest(images, id, FORKDEMO.name).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ThawInvalidImageError);
      expect(String((error as Error).message)).toMatch(i === 0 ? /links\[0\]/ : /processes\[1\].*state/);
    }
  });

  it("a process without descendants gives the image it always did", async () => {
    const images = memoryImages();
    const g = startGuest(FORKDEMO.name, FORKDEMO.args, { cpus: 1, seed: 1 }, images);
    await g.kernel.run({ stopAt: 5_000 });
    expect(g.kernel.procs.size).toBe(1);
    const frozen = await createStoreTarget(images).checkpoint(g.kernel, g.kernel.initPid);
    const m = await images.readManifest(frozen.id);
    expect(m.processes).toHaveLength(1);
    const px = m.processes[0]?.extensions?.hostKernel as CborMap;
    const kx = m.extensions?.hostKernel as CborMap;
    expect(Object.keys(px)).not.toContain("state");
    expect(Object.keys(kx)).not.toContain("lwpOrder");
    expect(Object.keys((kx.objects as CborMap[])[0] ?? {})).toEqual(["id", "sizePages", "sourceOffset"]);
  });

  it("keeps SIGCHLD's si_status in a siginfo", () => {
    const info: SigInfo = { signo: 17, code: 1, addr: 0, pid: 5, uid: 0, status: 42 };
    const back = new Map<number, SigInfo>();
    sigInfos([sigInfo(info)], back, "test");
    expect(back.get(17)).toEqual(info);
    const plain = new Map<number, SigInfo>();
    const { status: _status, ...noStatus } = info;
    sigInfos([sigInfo(noStatus)], plain, "test");
    expect(plain.get(17)?.status).toBeUndefined();
  });
});
