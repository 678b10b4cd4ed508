import { readFileSync } from "node:fs";
import { createKernel } from "@vkc/host-kernel";
import { createVkernelProgram, VKERNEL_PATH } from "@vkc/vkernel";
const elf = readFileSync("/work/main/packages/host-kernel/guest/bin/memtouch.elf");
const two = process.argv[2] === "2";
let output = "";
const kernel = createKernel({
  console: { write: (b) => (output += Buffer.from(b).toString("latin1")) },
  files: { "/guest/0": elf },
  natives: { [VKERNEL_PATH]: createVkernelProgram({ vcpus: 1, memoryBytes: 64 << 20, guests: [
    { path: "/guest/0", argv: ["memtouch", "16", "100", "1"] },
    ...(two ? [{ path: "/guest/0", argv: ["memtouch", "4", "10", "1000000"] }] : []) ] }) },
});
kernel.spawn({ path: VKERNEL_PATH, argv: [VKERNEL_PATH] });
for (let i = 0; i < 10; i++) {
  const t = performance.now();
  const r = await kernel.run({ maxInstructions: 200_000 });
  console.log(r.reason, kernel.instructions, (performance.now() - t).toFixed(0), JSON.stringify(output.slice(-80)));
}
process.exit(0);
