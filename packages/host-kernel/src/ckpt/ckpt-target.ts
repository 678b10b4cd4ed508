import type { CborMap, ImageStore } from "@vkc/checkpoint";
import type { Kernel } from "../kernel.ts";
import { FreezeError } from "./ckpt-errors.ts";
import { type PrecopyOptions, type PrecopySession, startPrecopy } from "./ckpt-precopy.ts";
import type { CheckpointCause, CheckpointTarget, CheckpointWritten } from "./ckpt-types.ts";
import { freezeProcess, type SavedPages } from "./freeze.ts";

export interface StoreTargetOptions {
  /** Store the executable's bytes in the image store too (`--embed`). */
  readonly embed?: boolean;
  /** Refs moved to every new image (default `["latest"]`). */
  readonly refs?: readonly string[];
  /**
   * Extra manifest extensions for every image (e.g. the host path of the executable), or a
   * function of the kernel and pid evaluated at each checkpoint, between slices (e.g. the CLI's
   * `vkernel` section read from the frozen vkernel's memory).
   */
  readonly extensions?: CborMap | ((kernel: Kernel, pid: number) => CborMap);
  /** Called after each image is committed. */
  readonly onWritten?: (written: CheckpointWritten) => void;
  /** How `startPrecopy` sessions of this target iterate (CHECKPOINT.md "Pre-copy"). */
  readonly precopy?: PrecopyOptions;
  /**
   * A vkernel's summary map for the image of `pid`, or undefined for a plain process (evaluated at
   * each checkpoint, between slices; @vkc/vkernel's `vkernelImageSection`): a map makes the image
   * kind `"vkernel"` (FORMAT.md §4.1).
   */
  readonly vkernel?: (kernel: Kernel, pid: number) => CborMap | undefined;
}

/** A store target; `startPrecopy` begins a live pre-copy its next checkpoint of `pid` uses. */
export interface StoreTarget extends CheckpointTarget {
  /**
   * Start pre-copying `pid`'s process tree while the kernel runs. The next checkpoint of `pid`
   * stops it at the freeze and writes a full image that takes every page not dirtied since its
   * capture from the stage; call `close` on the session if no checkpoint comes.
   */
  startPrecopy(kernel: Kernel, pid: number): PrecopySession;
  /** Wait until the pre-copy sessions checkpoints used have dropped their write markers. */
  settle(): Promise<void>;
}

/**
 * A checkpoint target over an image store. The first checkpoint of a process in this run is a
 * full image; later ones have the previous one as parent and stream only pages dirtied since
 * (the VM objects' dirty bits, cleared after each successful write) — the rest is inherited.
 */
export function createStoreTarget(images: ImageStore, options: StoreTargetOptions = {}): StoreTarget {
  const last = new Map<number, { id: string; saved: SavedPages }>();
  const sessions = new Map<number, PrecopySession>();
  const closing = new Set<Promise<void>>();
  return {
    async settle(): Promise<void> {
      await Promise.all(closing);
    },
    startPrecopy(kernel: Kernel, pid: number): PrecopySession {
      if (sessions.has(pid)) throw new FreezeError(`process ${pid}`, "a pre-copy is already running");
      const session = startPrecopy(kernel, pid, images, options.precopy);
      sessions.set(pid, session);
      return session;
    },
    async checkpoint(kernel: Kernel, pid: number, opts = {}): Promise<CheckpointWritten> {
      const started = performance.now();
      const session = sessions.get(pid);
      sessions.delete(pid);
      session?.stop(); // the freeze: no more captures
      try {
        return await write(kernel, pid, opts, started, session);
      } finally {
        // The stage's marker goes once the image is committed, in the background (not in the pause).
        if (session !== undefined) {
          const closed = session.close().catch(() => undefined);
          closing.add(closed);
          void closed.then(() => closing.delete(closed));
        }
      }
    },
  };

  async function write(
    kernel: Kernel,
    pid: number,
    opts: { callerTid?: number | null; cause?: CheckpointCause },
    started: number,
    session: PrecopySession | undefined,
  ): Promise<CheckpointWritten> {
    const cause: CheckpointCause = opts.cause ?? "host";
    const proc = kernel.procs.get(pid);
    let embedded: { sha256: string; size: number } | undefined;
    if (options.embed === true && proc !== undefined) {
      const bytes = kernel.vfs.readFile(proc.exe);
      if (bytes !== undefined) embedded = await images.putBlob(bytes);
    }
    // A pre-copied image is full (no parent): its pages come from the stage or from memory.
    const previous = session === undefined ? last.get(pid) : undefined;
    const base = session?.stage.base();
    const extensions =
      typeof options.extensions === "function" ? options.extensions(kernel, pid) : options.extensions;
    const vkernel = options.vkernel?.(kernel, pid);
    const frozen = freezeProcess(kernel, pid, {
      ...(vkernel !== undefined ? { vkernel } : {}),
      ...(previous !== undefined ? { parent: previous } : {}),
      callerTid: opts.callerTid ?? null,
      ...(embedded !== undefined ? { embedded } : {}),
      ...(extensions !== undefined ? { extensions } : {}),
      ...(session !== undefined ? { precopied: session.stage.staged() } : {}),
    });
    const result = await images.writeImage(frozen.draft, frozen.pages, {
      refs: options.refs ?? ["latest"],
      ...(base !== undefined ? { base } : {}),
    });
    // The image holds the whole process tree: every process in it starts clean.
    for (const p of frozen.pids) kernel.procs.get(p)?.vm.clearDirty();
    last.set(pid, { id: result.id, saved: frozen.saved });
    const written: CheckpointWritten = {
      id: result.id,
      pid,
      parent: previous?.id ?? null,
      instructions: kernel.instructions,
      cause,
      stats: result.stats,
      pauseMs: performance.now() - started,
      ...(session !== undefined ? { precopy: session.stats() } : {}),
    };
    options.onWritten?.(written);
    return written;
  }
}
