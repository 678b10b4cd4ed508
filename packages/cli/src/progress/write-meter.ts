import type { ImageStore } from "@vkc/checkpoint";
import type { Kernel } from "@vkc/host-kernel";
import type { CliIO } from "../main.ts";
import { type MeterOptions, withMeter } from "./progress-meter.ts";

/**
 * Run `write` (one checkpoint being written to `images`) under a "write" progress meter on
 * stderr: bytes put so far out of `expected` (a bar, percentage, rate and ETA). Without a store
 * yet, or under the interactive console (`quiet`: its screen is the guest's, and its one-line
 * notice says when the image is written), it just runs `write`.
 */
export function meterWrite<T>(
  io: CliIO,
  images: ImageStore | null,
  quiet: boolean,
  write: () => Promise<T>,
  options: MeterOptions = {},
  expected?: number,
): Promise<T> {
  if (images === null || quiet) return write();
  const before = images.stats.bytesPut;
  const total = expected !== undefined && expected > 0 ? { total: expected } : {};
  return withMeter(io, "write", () => ({ bytes: images.stats.bytesPut - before, ...total }), write, options);
}

/**
 * What a checkpoint of `pid` will write, for the meter's total: the pages of its process tree
 * (each VM object once) that are resident, or only the dirty ones for an incremental image. An
 * estimate: pages that deduplicate or are zero are not written, and the manifest is extra.
 */
export function expectedWriteBytes(kernel: Kernel, pid: number, incremental: boolean): number {
  const tree = new Set([pid]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of kernel.procs.values())
      if (!tree.has(p.pid) && tree.has(p.ppid) && p.state === "alive") {
        tree.add(p.pid);
        grew = true;
      }
  }
  const seen = new Set<object>();
  let pages = 0;
  for (const id of tree) {
    for (const { object } of kernel.procs.get(id)?.vm.entries ?? []) {
      if (seen.has(object)) continue;
      seen.add(object);
      pages += incremental ? object.dirty.size : object.pages.size;
    }
  }
  return pages * 4096;
}
