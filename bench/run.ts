/**
 * `pnpm bench`: runs every benchmark (or those whose name matches argv[2]), prints a table of
 * ratios measured side by side, and writes the rows as JSON to bench/results/ so runs can be
 * compared across commits.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { interpreterBenchmark } from "./bench-interp.ts";
import { interpreterMicroBenchmark } from "./bench-interp-micro.ts";
import { lazyBenchmark } from "./bench-lazy.ts";
import { precopyBenchmark } from "./bench-precopy.ts";
import { scaleBenchmark } from "./bench-scale.ts";
import { storeBenchmark } from "./bench-store.ts";
import { vkernelBenchmark } from "./bench-vkernel.ts";
import { type Benchmark, type BenchRow, formatTable } from "./harness.ts";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const benchmarks: Benchmark[] = [
  interpreterBenchmark,
  interpreterMicroBenchmark,
  storeBenchmark,
  lazyBenchmark,
  vkernelBenchmark,
  scaleBenchmark,
  precopyBenchmark,
];

const filter = process.argv[2];
const rows: BenchRow[] = [];
for (const bench of benchmarks) {
  if (filter && !bench.name.includes(filter)) continue;
  process.stderr.write(`bench: ${bench.name}...\n`);
  rows.push(...(await bench.run()));
}
if (rows.length === 0) {
  process.stdout.write("no benchmarks matched\n");
} else {
  process.stdout.write(`${formatTable(rows)}\n`);
  const dir = join(import.meta.dirname, "results");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `bench-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
  writeFileSync(
    file,
    `${JSON.stringify({ date: new Date().toISOString(), node: process.version, rows }, null, 2)}\n`,
  );
  process.stderr.write(`bench: results written to ${file}\n`);
}
