import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createKernel } from "@vkc/host-kernel";
import { createVkernelProgram, VKERNEL_PATH, type VkernelConfig } from "./src/index.ts";
const BIN = "/work/main/packages/host-kernel/guest/bin";
const elf = readFileSync(join(BIN, "primes.elf"));
const N = process.env.N ?? "2000000";
async function host() {
  const k = createKernel({ files: { "/bin/prog": elf } });
  k.spawn({ path: "/bin/prog", elf, argv: ["/bin/prog", N] });
  const t = performance.now(); await k.run(); return performance.now() - t;
}
async function vk() {
  const config: VkernelConfig = { vcpus: 1, memoryBytes: 64 << 20, guests: [{ path: "/guest/0", argv: ["primes", N] }] };
  const k = createKernel({ console: { write: () => {} }, files: { "/guest/0": elf }, natives: { [VKERNEL_PATH]: createVkernelProgram(config) } });
  k.spawn({ path: VKERNEL_PATH, argv: [VKERNEL_PATH] });
  const t = performance.now(); const r = await k.run(); if (r.exitStatus !== 0) throw new Error(String(r.exitStatus)); return performance.now() - t;
}
const only = process.env.ONLY;
let hb = Infinity, vb = Infinity;
for (let i = 0; i < Number(process.env.REP ?? 4); i++) {
  if (only !== "vk") hb = Math.min(hb, await host());
  if (only !== "host") vb = Math.min(vb, await vk());
}
console.log(`host ${hb.toFixed(0)} ms, vkernel ${vb.toFixed(0)} ms, ratio ${(hb / vb).toFixed(3)}`);
