import type { StoreStats } from "@vkc/checkpoint";
import type { CliIO } from "../main.ts";
import { formatBytes, plural } from "./images-format.ts";

/**
 * A one-line progress display for long store operations (verify, copy, gc): requests made and
 * bytes moved, redrawn in place on stderr. Shown only when stderr is a terminal and `CI` is unset;
 * nothing ever goes to stdout.
 */

export interface ProgressTarget {
  isTTY?: boolean | undefined;
}

export function progressEnabled(stderr: ProgressTarget, env: NodeJS.ProcessEnv): boolean {
  return stderr.isTTY === true && (env.CI === undefined || env.CI === "" || env.CI === "false");
}

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

export interface ProgressOptions {
  stderr?: ProgressTarget;
  env?: NodeJS.ProcessEnv;
  intervalMs?: number;
}

/** Run `work`, redrawing the progress line meanwhile when enabled; the line is erased at the end. */
export async function withProgress<T>(
  io: CliIO,
  label: string,
  stats: readonly Readonly<StoreStats>[],
  work: () => Promise<T>,
  options: ProgressOptions = {},
): Promise<T> {
  if (!progressEnabled(options.stderr ?? process.stderr, options.env ?? process.env)) return work();
  const draw = () => io.err(`\r\x1b[K${progressLine(label, stats)}`);
  draw();
  const timer = setInterval(draw, options.intervalMs ?? 200);
  try {
    return await work();
  } finally {
    clearInterval(timer);
    io.err("\r\x1b[K");
  }
}
