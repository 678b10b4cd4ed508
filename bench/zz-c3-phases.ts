import { readFileSync } from "node:fs";
import { join } from "node:path";
import { encodeCanonical, decodeChecked, DEFAULT_LIMITS, toCborValue, type CborMap } from "@vkc/checkpoint";
import { createKernel, describeKernel, rebuildKernel, type Kernel } from "@vkc/host-kernel";
import { createVkernelProgram, VKERNEL_PATH } from "@vkc/vkernel";
import { attach } from "../packages/vkernel/src/vkernel-instance.ts";
import { describeVkernel } from "../packages/vkernel/src/ckpt/ckpt-state.ts";
import { VkHart } from "../packages/vkernel/src/platform/vk-hart.ts";
const elf = readFileSync(join(import.meta.dirname, "..", "packages/host-kernel/guest/bin/spawner.elf"));
async function at(P: number, T: number, G: number) {
  let ready = false;
  const kernel: Kernel = createKernel({
    console: { write: (b) => { if (new TextDecoder().decode(b).includes("all ready")) ready = true; } },
    files: { "/guest/spawner": elf },
    natives: { [VKERNEL_PATH]: createVkernelProgram({ vcpus: 2, memoryBytes: 256 << 20, guests: [{ path: "/guest/spawner", argv: ["spawner", String(P), String(T), String(G), "100000"] }] }) },
  });
  kernel.spawn({ path: VKERNEL_PATH, argv: [VKERNEL_PATH] });
  while (!ready) await kernel.run({ maxInstructions: 500 });
  let vk;
  for (const p of kernel.procs.values()) vk = attach(p.vm) ?? vk;
  if (!vk) throw new Error("no vk");
  const inner = vk.inner;
  console.error(`${P}/${T}/${G}: inner procs ${inner.procs.size} lwps ${inner.lwps.size}`);
  const time = (name: string, f: () => unknown, n = 5) => { f(); const t0 = performance.now(); for (let i = 0; i < n; i++) f(); const ms = (performance.now() - t0) / n; console.error(`  ${name.padEnd(22)} ${ms.toFixed(1)} ms`); return ms; };
  const pageRef = (o: any, i: number) => o.phys.get(i) / 4096;
  let d!: CborMap; let st!: CborMap; let bytes!: Uint8Array; let dbytes!: Uint8Array;
  time("describeKernel", () => { d = describeKernel(inner, { pageRef }); });
  time("describeVkernel", () => { st = describeVkernel(vk); });
  time("encodeCanonical(state)", () => { bytes = encodeCanonical(st, "s"); });
  time("encodeCanonical(kernel)", () => { dbytes = encodeCanonical(d, "s"); });
  let dec!: CborMap;
  time("decode(state)", () => { dec = toCborValue(decodeChecked(bytes, "s", { ...DEFAULT_LIMITS, maxBytesLength: 1 << 30 }), "s") as CborMap; });
  time("rebuildKernel", () => rebuildKernel(d, { cpus: 2, createHart: (s) => new VkHart(s), adoptPage: (o, i, ref) => { o.phys.set(i, (ref as number) * 4096); o.pages.set(i, new Uint8Array(0)); } }));
  console.error(`  state ${bytes.length} B, kernel ${dbytes.length} B`);
}
const sizes = (process.argv[2] ?? "64,250,2;256,1000,2").split(";").map((s) => s.split(",").map(Number));
for (const [P, T, G] of sizes) await at(P!, T!, G!);
