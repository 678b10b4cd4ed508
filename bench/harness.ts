/**
 * The benchmark harness: each benchmark measures vkc and its baseline side by side in one run
 * (machines here are shared and noisy, so ratios are what we keep) and returns result rows.
 */
export interface BenchRow {
  /** What is measured, e.g. "interpreter: primes". */
  name: string;
  /** vkc's figure and its unit, e.g. 41.2, "MIPS". */
  value: number;
  unit: string;
  /** The baseline's figure in the same unit, and what it is. */
  baseline?: { name: string; value: number };
  /**
   * The ratio to the baseline and its target: `min` when higher is better (throughput, or
   * baseline / value for times), `max` when lower is better (a fraction of a baseline's time,
   * memory, requests).
   */
  ratio?: number;
  target?: { min?: number; max?: number; description: string };
  note?: string;
}

export interface Benchmark {
  name: string;
  run(): Promise<BenchRow[]>;
}

/** Median of `runs` timings of `fn`, in milliseconds, after one warm-up. */
export async function timeMedian(fn: () => Promise<unknown> | unknown, runs = 3): Promise<number> {
  await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

export function formatTable(rows: readonly BenchRow[]): string {
  const header = ["benchmark", "vkc", "baseline", "ratio", "target", ""];
  const body = rows.map((r) => [
    r.name,
    `${fmt(r.value)} ${r.unit}`,
    r.baseline ? `${fmt(r.baseline.value)} ${r.unit} (${r.baseline.name})` : "",
    r.ratio === undefined ? "" : `${r.ratio.toFixed(3)}x`,
    targetText(r),
    verdict(r),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...body.map(line)].join("\n");
}

function targetText(r: BenchRow): string {
  if (r.target?.min !== undefined) return `>= ${r.target.min}x`;
  if (r.target?.max !== undefined) return `<= ${r.target.max}x`;
  return "";
}

/** "met" / "NOT MET" (and the note, if any), or only the note for a row without a target. */
function verdict(r: BenchRow): string {
  const t = r.target;
  if (t === undefined || r.ratio === undefined) return r.note ?? "";
  const met = (t.min === undefined || r.ratio >= t.min) && (t.max === undefined || r.ratio <= t.max);
  return `${met ? "met" : "NOT MET"}${r.note === undefined ? "" : `; ${r.note}`}`;
}

function fmt(n: number): string {
  if (Math.abs(n) >= 100) return n.toFixed(0);
  if (Math.abs(n) >= 1) return n.toFixed(2);
  return n.toPrecision(3);
}
