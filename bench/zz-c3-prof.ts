import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createImageStore, createMemoryStore } from "@vkc/checkpoint";
import { createKernel, createStoreTarget, type Kernel, signals, thawProcess } from "@vkc/host-kernel";
import { createVkernelProgram, VKERNEL_PATH } from "@vkc/vkernel";
const [P, T, G] = (process.argv[2] ?? "256,1000,2").split(",").map(Number);
const elf = readFileSync(join(import.meta.dirname, "..", "packages/host-kernel/guest/bin/spawner.elf"));
const images = createImageStore(createMemoryStore());
let writtenAt = 0;
const target = createStoreTarget(images, { onWritten: () => { writtenAt = performance.now(); } });
let text = "", sAt = 0, pid = 0;
let kernel: Kernel | undefined;
kernel = createKernel({
  console: { write: (b) => { if (sAt) return; text += new TextDecoder().decode(b); if (text.includes("all ready")) { sAt = performance.now(); kernel?.signalProcess(pid, signals.SIGCKPTEXIT); } } },
  files: { "/guest/spawner": elf },
  natives: { [VKERNEL_PATH]: createVkernelProgram({ vcpus: 2, memoryBytes: 256 << 20, guests: [{ path: "/guest/spawner", argv: ["spawner", String(P), String(T), String(G), "1000"] }] }) },
  checkpointTarget: target,
});
pid = kernel.spawn({ path: VKERNEL_PATH, argv: [VKERNEL_PATH] });
const tb = performance.now();
const r = await kernel.run({ maxInstructions: 2_000_000_000 });
const tend = performance.now();
console.error(`boot→ready ${(sAt - tb).toFixed(0)} ms, signal→written ${(writtenAt - sAt).toFixed(0)} ms, →exit ${(tend - sAt).toFixed(0)} ms`, r.exitStatus);
const t0 = performance.now();
const th = await thawProcess(images, "latest", { files: { "/guest/spawner": elf }, console: { write: () => {} }, natives: { [VKERNEL_PATH]: createVkernelProgram() } });
const t1 = performance.now();
await th.kernel.run({ maxInstructions: 1 });
const t2 = performance.now();
console.error(`thawProcess ${(t1 - t0).toFixed(0)} ms, first step ${(t2 - t1).toFixed(0)} ms`);
let out = "";
const th2 = th.kernel;
const r2 = await th2.run({ maxInstructions: 2_000_000_000 });
console.error("after thaw", r2.reason, r2.exitStatus);
