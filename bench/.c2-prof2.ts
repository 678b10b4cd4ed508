import { createFileStore } from "@vkc/backend-file";
import { createImageStore, lazyPageReader } from "@vkc/checkpoint";
const root = `/tmp/c2/img-256`;
const images0 = createImageStore(createFileStore({ root, fsync: false }));
const id = await images0.resolve("latest");
for (let r = 0; r < 6; r++) {
  const t0 = performance.now();
  const images = createImageStore(createFileStore({ root, fsync: false }));
  await images.readManifest(id);
  const t1 = performance.now();
  await lazyPageReader(images, id);
  const t2 = performance.now();
  console.log("manifest", (t1 - t0).toFixed(1), "reader", (t2 - t1).toFixed(1));
}
