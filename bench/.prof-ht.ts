import { randomBytes } from "node:crypto";
import { HashTable } from "/work/main/packages/checkpoint/src/store/store-hash-table.ts";
const n = 65536;
const h = new Uint8Array(randomBytes(32 * n));
for (let r = 0; r < 5; r++) {
  let t = performance.now();
  const ht = new HashTable(n);
  for (let k = 0; k < n; k++) ht.set(h, k * 32, k);
  const t1 = performance.now();
  let s = 0;
  for (let k = 0; k < n; k++) s += ht.get(h, k * 32);
  const t2 = performance.now();
  const m = new Map<string, number>();
  const hex = Buffer.from(h).toString("hex");
  for (let k = 0; k < n; k++) m.set(hex.slice(k * 64, k * 64 + 64), k);
  const t3 = performance.now();
  console.log(`table set ${(t1 - t).toFixed(1)} get ${(t2 - t1).toFixed(1)} ms; Map<hex> set ${(t3 - t2).toFixed(1)} ms`, s > 0);
}
