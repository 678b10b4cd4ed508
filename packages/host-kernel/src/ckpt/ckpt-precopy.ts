import { createPageStage, type ImageStore, type PageStage } from "@vkc/checkpoint";
import { PAGE_SIZE } from "../cpu/cpu-types.ts";
import type { Kernel } from "../kernel.ts";
import { nextStamp, type VmObject } from "../vm/vm-object.ts";
import { FreezeError } from "./ckpt-errors.ts";
import { processTree } from "./freeze.ts";

/** How a pre-copy session iterates (CHECKPOINT.md "Pre-copy"). */
export interface PrecopyOptions {
  /** Rounds after which the session counts as converged even if the dirty set still shrinks (default 8). */
  readonly maxRounds?: number;
  /** A round that captures at most this many pages converges (default 256 pages, 1 MiB). */
  readonly threshold?: number;
  /** Pages captured at once and stored as one pack (default 1024, 4 MiB). */
  readonly batchPages?: number;
  /**
   * Once converged, keep capturing what the process dirties, a round every `followMs` of wall
   * time, until the checkpoint (default 10; 0 stops after convergence).
   */
  readonly followMs?: number;
}

/** What a session has done so far. */
export interface PrecopyStats {
  /** Rounds completed. */
  readonly rounds: number;
  /** Pages captured per completed round (round 0: every resident page). */
  readonly roundPages: readonly number[];
  readonly pagesStaged: number;
  readonly bytesWritten: number;
  readonly converged: boolean;
}

/**
 * A live pre-copy of a process tree's memory into an image store, while the kernel runs. Each
 * capture copies a batch of pages and clears their dirty bits between slices (synchronously, so
 * no hart writes in between), then stores them while slices run. `stop` ends capturing, also
 * synchronously; the store target's checkpoint then writes an image whose page maps take every
 * page not dirtied since its capture from the stage, and streams only the rest.
 */
export interface PrecopySession {
  readonly pid: number;
  readonly stage: PageStage;
  /** Resolves when the rounds converge, or the session stops first. */
  readonly converged: Promise<void>;
  stats(): PrecopyStats;
  /** Stop capturing now (between slices): the checkpoint's freeze follows. Idempotent. */
  stop(): void;
  /** Stop, wait for the batch in flight, and drop the stage's write marker (no image will use it). */
  close(): Promise<void>;
  /** The batch in flight, if any, settled (its error, if it failed, is rethrown by `close`). */
  settled(): Promise<void>;
}

const DEFAULTS = { maxRounds: 8, threshold: 256, batchPages: 1024, followMs: 10 };

function isZero(page: Uint8Array): boolean {
  if (page.byteOffset % 4 === 0) {
    const words = new Uint32Array(page.buffer, page.byteOffset, PAGE_SIZE / 4);
    for (let i = 0; i < words.length; i++) if (words[i] !== 0) return false;
    return true;
  }
  for (let i = 0; i < page.length; i++) if (page[i] !== 0) return false;
  return true;
}

const tick = (ms: number): Promise<void> =>
  new Promise((resolve) => (ms > 0 ? setTimeout(resolve, ms) : setImmediate(resolve)));

/**
 * Start pre-copying process `pid` (and its descendants) of `kernel` into `images`. The rounds run
 * in the background, interleaved with `kernel.run`'s slices: round 0 captures every resident page,
 * round k the pages dirtied (or materialized) since; they converge when a round captures at most
 * `threshold` pages, captures no fewer than the round before, or after `maxRounds`.
 */
export function startPrecopy(
  kernel: Kernel,
  pid: number,
  images: ImageStore,
  options: PrecopyOptions = {},
): PrecopySession {
  const proc = kernel.procs.get(pid);
  if (proc === undefined || proc.state !== "alive")
    throw new FreezeError(`process ${pid}`, "no such live process");
  const opts = { ...DEFAULTS, ...options };
  const stage = createPageStage(images);
  const roundPages: number[] = [];
  let stopped = false;
  let converged = false;
  let markConverged: () => void = () => undefined;
  const convergedPromise = new Promise<void>((resolve) => {
    markConverged = () => {
      converged = true;
      resolve();
    };
  });
  let inFlight: Promise<void> = Promise.resolve();
  /**
   * The pages of the batch being stored: captured (their dirty bits cleared) but not in the stage
   * yet. A checkpoint that comes meanwhile must stream them itself: `stop` marks them dirty again.
   */
  let inTransit: { object: VmObject; index: number }[] = [];
  let failure: unknown;

  /** Pages this round must capture: every resident one (round 0), or dirty or not yet staged. */
  const roundWork = (first: boolean): { object: VmObject; index: number }[] => {
    const root = kernel.procs.get(pid);
    if (root === undefined || root.state !== "alive") return [];
    const objects = new Set<VmObject>();
    for (const p of processTree(kernel, root)) for (const e of p.vm.entries) objects.add(e.object);
    const staged = stage.staged();
    const work: { object: VmObject; index: number }[] = [];
    for (const object of objects) {
      const mine = staged.get(object.id);
      for (const index of object.pages.keys()) {
        if (first || object.dirty.has(index) || mine?.has(index) !== true) work.push({ object, index });
      }
    }
    return work;
  };

  /** Copy a batch of pages and clear their dirty bits (synchronous: no slice runs meanwhile). */
  const capture = (work: readonly { object: VmObject; index: number }[]) => {
    const ids: number[] = [];
    const indexes: number[] = [];
    const buffer = new Uint8Array(work.length * PAGE_SIZE);
    const touched = new Set<VmObject>();
    for (const { object, index } of work) {
      const page = object.pages.get(index);
      if (page === undefined || isZero(page)) {
        stage.forget(object.id, index);
        continue;
      }
      buffer.set(page, ids.length * PAGE_SIZE);
      ids.push(object.id);
      indexes.push(index);
      inTransit.push({ object, index });
      object.dirty.delete(index);
      touched.add(object);
    }
    // Harts may cache write translations that skip the dirty bit: make them re-translate, for
    // every object a page was captured from, dirty or not (a page written before any dirty bit
    // was kept, e.g. since the process started, is not dirty, yet its writes are cached).
    for (const object of touched) object.generation = nextStamp();
    return { ids, indexes, buffer, count: ids.length };
  };

  const loop = async (): Promise<void> => {
    let previous = Number.POSITIVE_INFINITY;
    for (let round = 0; !stopped; round++) {
      const work = roundWork(round === 0);
      let captured = 0;
      for (let at = 0; at < work.length && !stopped; at += opts.batchPages) {
        inTransit = [];
        const batch = capture(work.slice(at, at + opts.batchPages));
        captured += batch.count;
        inFlight = stage.put(batch.ids, batch.indexes, batch.buffer, batch.count);
        await inFlight;
        if (!stopped) inTransit = [];
        await tick(0); // let the kernel run a batch of slices between captures
      }
      if (stopped) break;
      roundPages.push(captured);
      if (
        !converged &&
        round > 0 &&
        (captured <= opts.threshold || captured >= previous || round + 1 >= opts.maxRounds)
      )
        markConverged();
      previous = captured;
      if (converged && opts.followMs === 0) break;
      await tick(converged ? opts.followMs : 0);
      const root = kernel.procs.get(pid);
      if (root === undefined || root.state !== "alive") break;
    }
    markConverged();
  };

  const running = loop().catch((error: unknown) => {
    failure = error;
    stopped = true;
    markConverged();
  });

  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    // Their copies may not be in the stage (its `base` is taken now): the freeze streams them.
    for (const { object, index } of inTransit) object.dirty.add(index);
    inTransit = [];
  };
  return {
    pid,
    stage,
    converged: convergedPromise,
    stats: () => {
      const s = stage.stats();
      return {
        rounds: roundPages.length,
        roundPages: [...roundPages],
        pagesStaged: s.pagesStaged,
        bytesWritten: s.bytesWritten,
        converged,
      };
    },
    stop,
    settled: async () => {
      await inFlight.catch(() => undefined);
    },
    close: async () => {
      stop();
      await running;
      await stage.release();
      if (failure !== undefined) throw failure;
    },
  };
}
