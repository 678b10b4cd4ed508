import type { CborMap, ImageStore } from "@vkc/checkpoint";
import type { Kernel } from "../kernel.ts";
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
}

/**
 * A checkpoint target over an image store. The first checkpoint of a process in this run is a
 * full image; later ones have the previous one as parent and stream only pages dirtied since
 * (the VM objects' dirty bits, cleared after each successful write) — the rest is inherited.
 */
export function createStoreTarget(images: ImageStore, options: StoreTargetOptions = {}): CheckpointTarget {
  const last = new Map<number, { id: string; saved: SavedPages }>();
  return {
    async checkpoint(kernel: Kernel, pid: number, opts = {}): Promise<CheckpointWritten> {
      const cause: CheckpointCause = opts.cause ?? "host";
      const proc = kernel.procs.get(pid);
      let embedded: { sha256: string; size: number } | undefined;
      if (options.embed === true && proc !== undefined) {
        const bytes = kernel.vfs.readFile(proc.exe);
        if (bytes !== undefined) embedded = await images.putBlob(bytes);
      }
      const previous = last.get(pid);
      const extensions =
        typeof options.extensions === "function" ? options.extensions(kernel, pid) : options.extensions;
      const frozen = freezeProcess(kernel, pid, {
        ...(previous !== undefined ? { parent: previous } : {}),
        callerTid: opts.callerTid ?? null,
        ...(embedded !== undefined ? { embedded } : {}),
        ...(extensions !== undefined ? { extensions } : {}),
      });
      const result = await images.writeImage(frozen.draft, frozen.pages, {
        refs: options.refs ?? ["latest"],
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
      };
      options.onWritten?.(written);
      return written;
    },
  };
}
