import { jsonEvent } from "../output.ts";
import { storeUrl, withImageStore } from "../stores/store-session.ts";
import { formatBytes, formatDuration, plural } from "./images-format.ts";
import type { ImagesCommandOptions, ImagesContext } from "./images-options.ts";
import { withProgress } from "./images-progress.ts";

export interface ImagesGcOptions extends ImagesCommandOptions {
  dryRun?: boolean;
  /** `--grace DURATION` in ms: delete only what two runs this far apart found unreachable (default 1 h). */
  grace?: number;
}

export const DEFAULT_GRACE_MS = 60 * 60 * 1000;

/**
 * `vkc images gc [--dry-run] [--grace D]`: delete packs and blobs no image reaches. Two-phase: a
 * run condemns what is unreachable; a later run, at least the grace period after, deletes it.
 */
export async function imagesGc(opts: ImagesGcOptions, ctx: ImagesContext): Promise<number> {
  const url = storeUrl(opts, ctx);
  const { io } = ctx;
  const graceMs = opts.grace ?? DEFAULT_GRACE_MS;
  const dryRun = opts.dryRun ?? false;
  const report = await withImageStore(url, opts, ctx, ({ images }) =>
    withProgress(io, "gc", [images.stats], () => images.gc({ dryRun, graceMs })),
  );
  const deleted = new Set(report.deleted);
  const waiting = report.unreachable.filter((k) => !deleted.has(k));
  if (opts.json) {
    jsonEvent(io, "gc", {
      store: url,
      dryRun,
      graceMs,
      reachable: report.reachable,
      deleted: report.deleted,
      condemned: waiting,
      bytesFreed: report.bytesFreed,
      liveMarkers: report.liveMarkers,
      expiredMarkers: report.expiredMarkers,
    });
    return 0;
  }
  for (const key of report.deleted) io.out(`${dryRun ? "would delete" : "deleted"} ${key}\n`);
  for (const key of waiting) io.out(`condemned ${key}\n`);
  const grace = formatDuration(graceMs);
  const done = dryRun
    ? `${plural(report.deleted.length, "object")} would be deleted`
    : `${plural(report.deleted.length, "object")} deleted (${formatBytes(report.bytesFreed)} freed)`;
  const later =
    waiting.length === 0
      ? ""
      : `, ${plural(waiting.length, "object")} unreachable for less than the grace period (${grace})`;
  io.out(`gc${dryRun ? " (dry run)" : ""}: ${done}${later}, ${plural(report.reachable, "object")} in use\n`);
  return 0;
}
