import { formatBytes } from "../commands/images-format.ts";
import type { CliIO } from "../main.ts";

/**
 * vkc's one progress mechanism for long work (verifying, copying, collecting, restoring images):
 * on a terminal (stderr a TTY, `CI` unset) a line redrawn in place with bytes, a bar when the
 * total is known, the rate and the time left; otherwise a plain line now and then (for logs),
 * and nothing at all for work that ends quickly. Never anything on stdout.
 */

export interface ProgressTarget {
  isTTY?: boolean | undefined;
}

/** What the work has done so far. */
export interface ProgressSample {
  /** Bytes moved so far. */
  readonly bytes: number;
  /** Bytes the whole work will move, when known (gives the bar, percentage and ETA). */
  readonly total?: number;
  /** Text to show instead of the bytes (e.g. "3 requests, 2.0 KiB read"). */
  readonly detail?: string;
}

export interface MeterOptions {
  stderr?: ProgressTarget;
  env?: NodeJS.ProcessEnv;
  /** Redraw period on a terminal (default 200 ms). */
  intervalMs?: number;
  /** Period of plain lines when stderr is not a terminal (default 15 s). */
  plainIntervalMs?: number;
  /** Clock for rates (tests). */
  now?: () => number;
}

export function progressEnabled(stderr: ProgressTarget, env: NodeJS.ProcessEnv): boolean {
  return stderr.isTTY === true && (env.CI === undefined || env.CI === "" || env.CI === "false");
}

export function formatSeconds(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

const BAR_WIDTH = 20;

/**
 * The progress text: `label: detail` (or bytes, with a bar and percentage when the total is
 * known), then the rate and the time left once there is something to measure.
 */
export function progressText(label: string, sample: ProgressSample, elapsedMs: number, bar = true): string {
  const parts: string[] = [];
  const { bytes, total } = sample;
  if (sample.detail !== undefined) parts.push(sample.detail);
  else if (total !== undefined && total > 0) {
    const fraction = Math.min(1, bytes / total);
    const filled = Math.round(fraction * BAR_WIDTH);
    const head = bar ? `[${"#".repeat(filled)}${".".repeat(BAR_WIDTH - filled)}] ` : "";
    parts.push(`${head}${formatBytes(bytes)} of ${formatBytes(total)} (${Math.floor(fraction * 100)}%)`);
  } else parts.push(formatBytes(bytes));
  if (elapsedMs >= 500 && bytes > 0) {
    const rate = (bytes * 1000) / elapsedMs;
    parts.push(`${formatBytes(Math.round(rate))}/s`);
    if (total !== undefined && total > bytes) parts.push(`ETA ${formatSeconds((total - bytes) / rate)}`);
  }
  return `${label}: ${parts.join(", ")}`;
}

/** Run `work` while showing its progress, read with `sample`; the terminal line is erased at the end. */
export async function withMeter<T>(
  io: CliIO,
  label: string,
  sample: () => ProgressSample,
  work: () => Promise<T>,
  options: MeterOptions = {},
): Promise<T> {
  const now = options.now ?? (() => performance.now());
  const started = now();
  const tty = progressEnabled(options.stderr ?? process.stderr, options.env ?? process.env);
  const err = io.err;
  const draw = tty
    ? () => err(`\r\x1b[K${progressText(label, sample(), now() - started)}`)
    : () => err(`vkc: ${progressText(label, sample(), now() - started, false)}\n`);
  if (tty) draw();
  const timer = setInterval(draw, tty ? (options.intervalMs ?? 200) : (options.plainIntervalMs ?? 15_000));
  timer.unref();
  // A message the work prints meanwhile (a checkpoint's line) replaces the bar, not joins it.
  if (tty) io.err = (text) => err(`\r\x1b[K${text}`);
  try {
    return await work();
  } finally {
    clearInterval(timer);
    io.err = err;
    if (tty) err("\r\x1b[K");
  }
}
