import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createFileStore } from "@vkc/backend-file";
import { createImageStore } from "@vkc/checkpoint";
import { thawProcess } from "@vkc/host-kernel";
const BIN = join(import.meta.dirname, "..", "packages", "host-kernel", "guest", "bin");
const elf = new Uint8Array(readFileSync(join(BIN, "memtouch.elf")));
const root = `/tmp/c2/img-256`;
for (let r = 0; r < 6; r++) {
  const t0 = performance.now();
  const images = createImageStore(createFileStore({ root, fsync: false }));
  const thawed = await thawProcess(images, "latest", { lazy: true, files: { "/bin/memtouch": elf } });
  const t1 = performance.now();
  const before = thawed.kernel.instructions;
  while (thawed.kernel.instructions === before) thawed.kernel.step(before + 1, Infinity);
  const t2 = performance.now();
  console.log("thaw", (t1 - t0).toFixed(1), "first", (t2 - t1).toFixed(1), thawed.lazy!.progress().touched);
}
