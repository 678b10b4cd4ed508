/**
 * `pnpm bench:compare [OLD.json] [NEW.json]`: the ratios of two `pnpm bench` runs side by side,
 * row by row (matched by name), with the change and each target's verdict, so a change can be
 * judged by what it did to the ratios. Without arguments: the two newest runs in bench/results/.
 * Ratios, not absolute figures: each was measured beside its baseline in its own run.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { BenchRow } from "./harness.ts";

interface Run {
  readonly date: string;
  readonly rows: readonly BenchRow[];
}

function fail(message: string): never {
  process.stderr.write(`bench:compare: ${message}\n`);
  process.exit(2);
}

function load(path: string): Run {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    fail(`${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const run = parsed as Partial<Run>;
  if (typeof run !== "object" || run === null || !Array.isArray(run.rows) || typeof run.date !== "string")
    fail(`${path}: not a bench result (expected {date, rows})`);
  return run as Run;
}

/** Whether a row meets its target: "met", "NOT MET", or "" without one. */
function verdict(row: BenchRow | undefined): string {
  if (row?.ratio === undefined || row.target === undefined) return "";
  const { min, max } = row.target;
  const ok = (min === undefined || row.ratio >= min) && (max === undefined || row.ratio <= max);
  return ok ? "met" : "NOT MET";
}

const ratio = (row: BenchRow | undefined): string =>
  row?.ratio === undefined ? "-" : `${row.ratio.toFixed(3)}x`;

const args = process.argv.slice(2);
let paths: string[];
if (args.length === 2) {
  paths = args;
} else if (args.length === 0) {
  const dir = join(import.meta.dirname, "results");
  let files: string[] = [];
  try {
    files = readdirSync(dir).filter((f) => f.startsWith("bench-") && f.endsWith(".json"));
  } catch {
    // no results yet
  }
  files.sort();
  if (files.length < 2) fail(`need two runs in ${dir} (run pnpm bench twice), or give two files`);
  paths = files.slice(-2).map((f) => join(dir, f));
} else {
  fail("usage: pnpm bench:compare [OLD.json NEW.json]");
}
const [before, after] = paths.map(load) as [Run, Run];
const names = [...new Set([...before.rows, ...after.rows].map((r) => r.name))];
const find = (run: Run, name: string) => run.rows.find((r) => r.name === name);
const table = names.map((name) => {
  const a = find(before, name);
  const b = find(after, name);
  const change =
    a?.ratio !== undefined && b?.ratio !== undefined && a.ratio !== 0
      ? `${b.ratio >= a.ratio ? "+" : ""}${(((b.ratio - a.ratio) / a.ratio) * 100).toFixed(0)}%`
      : "";
  return [name, ratio(a), ratio(b), change, verdict(a), verdict(b)];
});
const header = ["benchmark", before.date.slice(0, 16), after.date.slice(0, 16), "change", "before", "after"];
const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
const line = (cells: readonly string[]) =>
  cells
    .map((c, i) => c.padEnd(widths[i]!))
    .join("  ")
    .trimEnd();
process.stdout.write(
  `${[line(header), line(widths.map((w) => "-".repeat(w))), ...table.map(line)].join("\n")}\n`,
);
