import { precopyBenchmark } from "/work/main/bench/bench-precopy.ts";
import { formatTable } from "/work/main/bench/harness.ts";
const t0 = performance.now();
const rows = await precopyBenchmark.run();
console.log(formatTable(rows));
for (const r of rows) console.log(r.note);
console.log("total s", ((performance.now() - t0) / 1000).toFixed(1));
process.exit(0);
