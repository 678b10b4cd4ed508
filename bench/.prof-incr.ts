import { randomFillSync } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createFileStore } from "@vkc/backend-file";
import { createImageStore, type PageWrite } from "@vkc/checkpoint";
import { draftFor } from "./bench-store.ts";
const mib = Number(process.env.MIB ?? 256);
const data = randomFillSync(Buffer.alloc(mib << 20));
async function* pagesOf(idx?: number[]): AsyncIterable<PageWrite> {
  const n = idx?.length ?? data.length / 4096;
  for (let k = 0; k < n; k++) { const i = idx ? idx[k]! : k; yield { objectId: 1, pageIndex: i, bytes: data.subarray(i * 4096, (i + 1) * 4096) }; }
}
for (let r = 0; r < Number(process.env.ROUNDS ?? 2); r++) {
  const dir = mkdtempSync(join(tmpdir(), "vkc-prof-"));
  const images = createImageStore(createFileStore({ root: dir }));
  let t = performance.now();
  const w = await images.writeImage(draftFor(mib * 256), pagesOf());
  const full = performance.now() - t;
  const dirty: number[] = [];
  for (let i = r; i < mib * 256; i += 100) { data[i * 4096] ^= 0xff; dirty.push(i); }
  t = performance.now();
  await images.writeImage(draftFor(mib * 256, w.id), pagesOf(dirty));
  const inc = performance.now() - t;
  console.log(`full ${full.toFixed(0)} ms (${(mib / full * 1000).toFixed(0)} MiB/s), incremental ${inc.toFixed(0)} ms`);
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
