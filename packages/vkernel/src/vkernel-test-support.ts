import { createImageStore, createMemoryStore, type ImageStore } from "@vkc/checkpoint";
import {
  createKernel,
  createStoreTarget,
  type GuestProgram,
  guestProgram,
  type Kernel,
  type Lwp,
  type RunResult,
  signals,
  thawProcess,
} from "@vkc/host-kernel";
import { vkernelImageSection } from "./ckpt/image-section.ts";
import { VKERNEL_PATH, type VkernelConfig } from "./vkernel-config.ts";
import { attach } from "./vkernel-instance.ts";
import { createVkernelProgram } from "./vkernel-program.ts";

/** A guest to boot in tests: a shipped program and its arguments. */
export interface TestGuest {
  program: GuestProgram;
  args: readonly string[];
}

/** What a run printed and how it ended. */
export interface TestRun {
  out: Uint8Array;
  status: number | null;
  result: RunResult;
  kernel: Kernel;
}

const concat = (chunks: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
};

/** Run `guests` directly on a host kernel (the reference run). */
export async function runOnHost(
  guest: TestGuest,
  opts: { cpus?: number; seed?: number; quantum?: number } = {},
): Promise<TestRun> {
  const chunks: Uint8Array[] = [];
  const kernel = createKernel({ ...opts, console: { write: (b) => chunks.push(b.slice()) } });
  kernel.spawn({
    path: `/bin/${guest.program}`,
    elf: guestProgram(guest.program),
    argv: [guest.program, ...guest.args],
  });
  const result = await kernel.run({ maxInstructions: 400_000_000 });
  return { out: concat(chunks), status: result.exitStatus, result, kernel };
}

/** A host kernel with the guests' ELFs in its VFS and `/boot/vkernel` registered, booted. */
export function bootVkernel(
  guests: readonly TestGuest[],
  config: Partial<VkernelConfig> = {},
  hostOpts: { cpus?: number; seed?: number; quantum?: number } = {},
  images?: ImageStore,
): { kernel: Kernel; chunks: Uint8Array[]; pid: number } {
  const chunks: Uint8Array[] = [];
  const files: Record<string, Uint8Array> = {};
  for (const g of guests) files[`/guest/${g.program}`] = guestProgram(g.program);
  const cfg: VkernelConfig = {
    vcpus: 1,
    memoryBytes: 64 * 1024 * 1024,
    guests: guests.map((g) => ({ path: `/guest/${g.program}`, argv: [g.program, ...g.args] })),
    ...config,
  };
  const kernel = createKernel({
    ...hostOpts,
    console: { write: (b) => chunks.push(b.slice()) },
    files,
    natives: { [VKERNEL_PATH]: createVkernelProgram(cfg) },
    ...(images !== undefined
      ? { checkpointTarget: createStoreTarget(images, { vkernel: vkernelImageSection }) }
      : {}),
  });
  const pid = kernel.spawn({ path: VKERNEL_PATH, argv: ["vkernel"] });
  return { kernel, chunks, pid };
}

/** Boot `guests` in a vkernel and run it to the end. */
export async function runInVkernel(
  guests: readonly TestGuest[],
  config: Partial<VkernelConfig> = {},
  hostOpts: { cpus?: number; seed?: number; quantum?: number } = {},
): Promise<TestRun> {
  const { kernel, chunks } = bootVkernel(guests, config, hostOpts);
  const result = await kernel.run({ maxInstructions: 400_000_000 });
  return { out: concat(chunks), status: result.exitStatus, result, kernel };
}

export { concat };

/** The inner kernel's own result (digest, instructions) of a finished vkernel run. */
export function innerResult(run: TestRun): RunResult {
  for (const p of run.kernel.procs.values()) {
    const vk = attach(p.vm);
    if (vk !== undefined) return vk.inner.result("exited");
  }
  throw new Error("no vkernel in this run");
}

/** An in-memory image store. */
export function memoryImages(): ImageStore {
  return createImageStore(createMemoryStore());
}

/** Thaw the vkernel image `ref` in a fresh host kernel (`createVkernelProgram()` registered). */
export async function thawVkernel(
  images: ImageStore,
  ref = "latest",
  hostOpts: { cpus?: number; seed?: number; quantum?: number } = {},
  guests: readonly TestGuest[] = [],
): Promise<{ kernel: Kernel; chunks: Uint8Array[] }> {
  const chunks: Uint8Array[] = [];
  // The guests' ELFs at their host paths, as `vkc restore` provides them (a boot thawed before
  // it read them reads them then).
  const files: Record<string, Uint8Array> = {};
  for (const g of guests) files[`/guest/${g.program}`] = guestProgram(g.program);
  const { kernel } = await thawProcess(images, ref, {
    ...hostOpts,
    files,
    console: { write: (b) => chunks.push(b.slice()) },
    natives: { [VKERNEL_PATH]: createVkernelProgram() },
    checkpointTarget: createStoreTarget(images, { vkernel: vkernelImageSection }),
  });
  return { kernel, chunks };
}

/** The vkernel instance of a host kernel's vkernel process (after a run or a thaw's first step). */
export function vkernelOf(kernel: Kernel) {
  for (const p of kernel.procs.values()) {
    const vk = attach(p.vm);
    if (vk !== undefined) return vk;
  }
  return undefined;
}

/** What a law run is compared on: console bytes, exit status and the inner kernel's final digest. */
export interface LawOutcome {
  out: string;
  status: number | null;
  digest: string | undefined;
}

const outcome = (chunks: Uint8Array[], status: number | null, kernel: Kernel): LawOutcome => ({
  out: new TextDecoder().decode(concat(chunks)),
  status,
  digest: vkernelOf(kernel)?.inner.result("exited").digest,
});

/** The uninterrupted run of `guests`. */
export async function lawReference(
  guests: readonly TestGuest[],
  config: Partial<VkernelConfig>,
): Promise<LawOutcome> {
  const r = await runInVkernel(guests, config);
  return outcome([r.out], r.status, r.kernel);
}

/** Where to stop before the checkpoint signal: a host instruction count, or a predicate polled. */
export type LawInstant = number | ((kernel: Kernel) => boolean);

/** Run to `at`; then `deliver` posts the signal (default: to the vkernel process). */
async function runTo(kernel: Kernel, at: LawInstant): Promise<boolean> {
  if (typeof at === "number") return (await kernel.run({ stopAt: at })).reason === "stopped";
  for (let i = 0; i < 20_000; i++) {
    if (at(kernel)) return true;
    const r = await kernel.run({ maxInstructions: 500 });
    if (r.reason !== "limit") return false;
  }
  return false;
}

/**
 * Law (1): run to `at`, SIGCKPTEXIT, thaw in a fresh host kernel, run on. Law (2) with
 * `continue`: SIGCKPT at `at` and run on in the same kernel. `target` picks the vkernel LWP the
 * signal is sent to (default: the process, so the host picks).
 */
export async function lawCheckpointed(
  guests: readonly TestGuest[],
  config: Partial<VkernelConfig>,
  at: LawInstant,
  mode: "exit" | "continue",
  target?: (kernel: Kernel, pid: number) => Lwp | undefined,
): Promise<LawOutcome & { reached: boolean; checkpointed: boolean }> {
  const images = memoryImages();
  const a = bootVkernel(guests, config, {}, images);
  const reached = await runTo(a.kernel, at);
  const sig = mode === "exit" ? signals.SIGCKPTEXIT : signals.SIGCKPT;
  const lwp = target?.(a.kernel, a.pid);
  if (lwp !== undefined) a.kernel.postSignalLwp(lwp, sig, { signo: sig, code: 0, addr: 0, pid: 0, uid: 0 });
  else a.kernel.signalProcess(a.pid, sig);
  const first = await a.kernel.run({ maxInstructions: 400_000_000 });
  const written = await images
    .resolve("latest")
    .then(() => true)
    .catch(() => false);
  if (mode === "continue" || first.exitStatus !== 128 + signals.SIGCKPTEXIT)
    return { ...outcome(a.chunks, first.exitStatus, a.kernel), reached, checkpointed: written };
  const b = await thawVkernel(images, "latest", {}, guests);
  const second = await b.kernel.run({ maxInstructions: 400_000_000 });
  return {
    ...outcome([...a.chunks, ...b.chunks], second.exitStatus, b.kernel),
    reached,
    checkpointed: written,
  };
}
