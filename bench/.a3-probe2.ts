import { readFileSync } from "node:fs";
import { createImageStore, createMemoryStore } from "@vkc/checkpoint";
import { createKernel, createStoreTarget } from "@vkc/host-kernel";
import { createVkernelProgram, VKERNEL_PATH } from "@vkc/vkernel";
const elf = readFileSync("/work/main/packages/host-kernel/guest/bin/memtouch.elf");
const images = createImageStore(createMemoryStore());
const target = createStoreTarget(images, { refs: [] });
const kernel = createKernel({
  console: { write: () => undefined },
  files: { "/guest/0": elf },
  natives: { [VKERNEL_PATH]: createVkernelProgram({ vcpus: 1, memoryBytes: 64 << 20, guests: [
    { path: "/guest/0", argv: ["memtouch", "16", "100", "1"] },
    { path: "/guest/0", argv: ["memtouch", "4", "10", "1000000"] } ] }) },
  checkpointTarget: target,
});
const pid = kernel.spawn({ path: VKERNEL_PATH, argv: [VKERNEL_PATH] });
await kernel.run({ maxInstructions: 400_000 });
const s = target.startPrecopy(kernel, pid);
if (process.env.WAIT) { await new Promise((r) => setTimeout(r, 3000)); console.log("waited", JSON.stringify(s.stats())); }
for (let i = 0; i < 6; i++) {
  const t = performance.now();
  const r = await kernel.run({ maxInstructions: 200_000 });
  console.log(r.reason, kernel.instructions, (performance.now() - t).toFixed(0), JSON.stringify(s.stats()));
}
process.exit(0);
