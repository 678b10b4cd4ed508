import type { StoreStats } from "@vkc/checkpoint";
import type { CliIO } from "../main.ts";
import { type MeterOptions, withMeter } from "../progress/progress-meter.ts";
import { formatBytes, plural } from "./images-format.ts";

/**
 * Progress of long store operations (verify, copy, gc): requests made and bytes moved, shown by
 * vkc's one progress meter (src/progress), which decides where and how (never on stdout).
 */

export type { ProgressTarget } from "../progress/progress-meter.ts";
export { progressEnabled } from "../progress/progress-meter.ts";

/** The progress text for counters summed over the stores an operation uses. */
export function progressLine(label: string, stats: readonly Readonly<StoreStats>[]): string {
  let requests = 0;
  let got = 0;
  let put = 0;
  for (const s of stats) {
    requests += s.requests;
    got += s.bytesGot;
    put += s.bytesPut;
  }
  const parts = [plural(requests, "request"), `${formatBytes(got)} read`];
  if (put > 0) parts.push(`${formatBytes(put)} written`);
  return `${label}: ${parts.join(", ")}`;
}

export type ProgressOptions = MeterOptions;

/**
 * Run `work` while showing the store counters through vkc's progress meter (redrawn in place on
 * a terminal, erased at the end; plain lines now and then otherwise).
 */
export async function withProgress<T>(
  io: CliIO,
  label: string,
  stats: readonly Readonly<StoreStats>[],
  work: () => Promise<T>,
  options: ProgressOptions = {},
): Promise<T> {
  const sample = () => ({
    bytes: stats.reduce((n, s) => n + s.bytesGot + s.bytesPut, 0),
    detail: progressLine(label, stats).slice(label.length + 2),
  });
  return withMeter(io, label, sample, work, options);
}
