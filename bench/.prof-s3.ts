import { randomFillSync } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startEmbeddedS3 } from "@vkc/backend-s3mock";
import { createImageStore, type PageWrite } from "@vkc/checkpoint";
import { draftFor } from "./bench-store.ts";
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
const mib = Number(process.env.MIB ?? 128);
const data = randomFillSync(Buffer.alloc(mib << 20));
async function* pagesOf(): AsyncIterable<PageWrite> {
  for (let i = 0; i * 4096 < data.length; i++) yield { objectId: 1, pageIndex: i, bytes: data.subarray(i * 4096, (i + 1) * 4096) };
}
for (let r = 0; r < 2; r++) {
  const dir = mkdtempSync(join(tmpdir(), "vkc-prof-s3-"));
  const s3 = await startEmbeddedS3({ dir });
  const images = createImageStore(s3.store());
  const t0 = performance.now();
  const w = await images.writeImage(draftFor(mib * 256), pagesOf());
  const t1 = performance.now();
  let n = 0;
  for await (const _ of images.readPages(w.id)) n++;
  const t2 = performance.now();
  console.log(`s3 write ${(mib / ((t1 - t0) / 1000)).toFixed(0)} MiB/s read ${(mib / ((t2 - t1) / 1000)).toFixed(0)} MiB/s req ${w.stats.requests}`);
  await s3.close();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
