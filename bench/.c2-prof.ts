import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createFileStore } from "@vkc/backend-file";
import { createImageStore, lazyPageReader } from "@vkc/checkpoint";
import { createKernel, createStoreTarget, thawProcess } from "@vkc/host-kernel";
const BIN = join(import.meta.dirname, "..", "packages", "host-kernel", "guest", "bin");
const elf = new Uint8Array(readFileSync(join(BIN, "memtouch.elf")));
const mib = Number(process.argv[2] ?? 16);
const root = `/tmp/c2/img-${mib}`;
let id: string;
{
  const images = createImageStore(createFileStore({ root, fsync: false }));
  const kernel = createKernel({ files: { "/bin/memtouch": elf } });
  const pid = kernel.spawn({ path: "/bin/memtouch", argv: ["memtouch", `${mib}`, "100", "2"] });
  const want = (mib << 20) / 4096;
  const res = () => { let n = 0; for (const o of new Set(kernel.procs.get(pid)!.vm.entries.map((e) => e.object))) n += o.pages.size; return n; };
  while (res() < want) await kernel.run({ maxInstructions: 4_000_000 });
  id = (await createStoreTarget(images).checkpoint(kernel, pid)).id;
}
for (let r = 0; r < 4; r++) {
  const t0 = performance.now();
  const images = createImageStore(createFileStore({ root, fsync: false }));
  const m = await images.readManifest(id);
  const t1 = performance.now();
  const reader = await lazyPageReader(images, id);
  const t2 = performance.now();
  const thawed = await thawProcess(images, id, { lazy: true, files: { "/bin/memtouch": elf } });
  const t3 = performance.now();
  const before = thawed.kernel.instructions;
  while (thawed.kernel.instructions === before) thawed.kernel.step(before + 1, Infinity);
  const t4 = performance.now();
  console.log(mib, "manifest", (t1 - t0).toFixed(1), "reader", (t2 - t1).toFixed(1), "thaw", (t3 - t2).toFixed(1), "first", (t4 - t3).toFixed(1), "touched", thawed.lazy!.progress().touched, m.objects.length);
}
