import type { CborMap, CborValue } from "@vkc/checkpoint";
import { describeKernel, rebuildKernel, type VmSpace } from "@vkc/host-kernel";
import { vkeNetifs } from "../dev/vke-netif.ts";
import { vkeTapsFromState, vkeTapsState } from "../dev/vke-state.ts";
import { VkernelStateError } from "../errors.ts";
import { PAGE_BYTES } from "../memimage-layout.ts";
import { PhysAllocator } from "../phys-memory.ts";
import { VkHart } from "../platform/vk-hart.ts";
import { VkPmap } from "../platform/vk-pmap.ts";
import type { VkernelConfig } from "../vkernel-config.ts";
import { VkernelInstance } from "../vkernel-instance.ts";

/** Version of the vkernel state (the state region's payload). */
export const VKERNEL_STATE_VERSION = 1;

/**
 * The whole vkernel as plain CBOR (DESIGN.md §5.8), in a fixed key order: its config, the
 * inner kernel (`describeKernel`, pages as physical page numbers: their bytes are in memimage),
 * the physical allocator, the pmaps (root tables), traps absorbed but not yet seen by the inner
 * kernel, console bytes not yet written, and the vcons mode.
 */
export function describeVkernel(vk: VkernelInstance): CborMap {
  const kernel = describeKernel(vk.inner, {
    pageRef: (object, index) => {
      const phys = object.phys.get(index);
      if (phys === undefined)
        throw new VkernelStateError(`inner object ${object.id} page ${index} is not in memimage`);
      return phys / PAGE_BYTES;
    },
  });
  const pending: CborValue[] = [];
  for (const l of [...vk.inner.lwps.values()].sort((a, b) => a.tid - b.tid)) {
    const t = l.hart instanceof VkHart ? l.hart.pendingTrap : null;
    if (t !== null) pending.push([l.tid, t.cause, t.value, t.signo, t.code, t.retired, t.pc]);
  }
  const c = vk.config;
  const bytes = vk.consoleOut.reduce((n, b) => n + b.length, 0);
  const console = new Uint8Array(bytes);
  let at = 0;
  for (const b of vk.consoleOut) {
    console.set(b, at);
    at += b.length;
  }
  const phys = vk.mem.alloc.toState();
  return {
    v: VKERNEL_STATE_VERSION,
    config: {
      vcpus: c.vcpus,
      memoryBytes: c.memoryBytes,
      guests: c.guests.map((g) => ({ path: g.path, argv: [...g.argv] })),
      seed: c.seed ?? 1,
      quantum: c.quantum ?? 10_000,
      taps: vkeTapsState(c.taps),
      skipStep: [...(c.testHooks?.skipStep ?? [])],
    },
    kernel,
    phys: { pages: phys.pages, bitmap: phys.bitmap, shares: phys.shares },
    zeroPhys: vk.zeroPhys / PAGE_BYTES,
    pmaps: [...vk.pmaps].sort((a, b) => a[0] - b[0]).map(([pid, p]) => [pid, p.root / PAGE_BYTES]),
    pending,
    console,
    inputClosed: vk.inputClosed,
    vcons: { mode: "raw" },
  };
}

const fail = (what: string): never => {
  throw new VkernelStateError(what);
};
const num = (m: CborMap, k: string): number => {
  const v = m[k];
  return typeof v === "number" && Number.isInteger(v) ? v : fail(`${k} is not an integer`);
};
const mapOf = (m: CborMap, k: string): CborMap => {
  const v = m[k];
  return v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof Uint8Array)
    ? (v as CborMap)
    : fail(`${k} is not a map`);
};
const listOf = (m: CborMap, k: string): CborValue[] => {
  const v = m[k];
  return Array.isArray(v) ? v : fail(`${k} is not a list`);
};

/** The config a state holds. */
export function configOf(state: CborMap): VkernelConfig {
  if (state.v !== VKERNEL_STATE_VERSION) fail(`version ${String(state.v)} is not ${VKERNEL_STATE_VERSION}`);
  const c = mapOf(state, "config");
  const skip = listOf(c, "skipStep").map(String);
  return {
    vcpus: num(c, "vcpus"),
    memoryBytes: num(c, "memoryBytes"),
    guests: listOf(c, "guests").map((g) => {
      const m = g as CborMap;
      return { path: String(m.path), argv: (Array.isArray(m.argv) ? m.argv : []).map(String) };
    }),
    seed: num(c, "seed"),
    quantum: num(c, "quantum"),
    ...(c.taps !== undefined ? { taps: vkeTapsFromState(c.taps) } : {}),
    ...(skip.length > 0 ? { testHooks: { skipStep: skip } } : {}),
  };
}

/**
 * Rebuild a vkernel from its state (a thaw: DESIGN.md §5.8): the inner kernel through
 * `rebuildKernel`, each inner page linked to its memimage page by physical number, VkHarts with
 * their saved registers and absorbed traps, pmaps over their old root tables (their guest
 * vmspaces are gone with the old host process: they are made again before the next run).
 */
export function rebuildVkernel(state: CborMap, vm: VmSpace): VkernelInstance {
  const config = configOf(state);
  const p = mapOf(state, "phys");
  const alloc = PhysAllocator.fromState({
    pages: num(p, "pages"),
    bitmap: String(p.bitmap),
    shares: listOf(p, "shares") as number[][],
  });
  if (alloc.pages * PAGE_BYTES !== config.memoryBytes) fail("phys.pages does not match memoryBytes");
  let vk: VkernelInstance | null = null;
  const consoleOut: Uint8Array[] = [];
  const inner = rebuildKernel(mapOf(state, "kernel"), {
    cpus: config.vcpus,
    seed: config.seed ?? 1,
    quantum: config.quantum ?? 10_000,
    console: { write: (b) => (vk === null ? consoleOut : vk.consoleOut).push(b.slice()) },
    liveInput: state.inputClosed !== true,
    createHart: (space) => new VkHart(space),
    netifs: vkeNetifs(config, vm),
    onProcessExit: (pid) => vk?.exited.push(pid),
    configure: (k) => {
      k.ids.backend = null; // set below, once memimage is known
    },
    adoptPage: (object, index, ref, path) => {
      if (typeof ref !== "number" || !Number.isInteger(ref) || ref < 1 || ref >= alloc.pages)
        fail(`${path}: ${String(ref)} is not a physical page`);
      const phys = (ref as number) * PAGE_BYTES;
      object.phys.set(index, phys);
      object.pages.set(index, vk === null ? placeholder(phys) : vk.mem.pageForWrite(phys));
    },
  });
  vk = new VkernelInstance(config, vm, alloc, inner, num(state, "zeroPhys") * PAGE_BYTES);
  const instance = vk;
  // Link every inner page to the very array of its memimage page (the placeholders above).
  const seen = new Set<object>();
  for (const proc of inner.procs.values())
    for (const e of proc.vm.entries) {
      if (seen.has(e.object)) continue;
      seen.add(e.object);
      e.object.backend = inner.ids.backend;
      for (const [index, phys] of e.object.phys) e.object.pages.set(index, instance.mem.pageForWrite(phys));
    }
  for (const item of listOf(state, "pmaps")) {
    const [pid, root] = item as number[];
    if (pid === undefined || root === undefined) fail("pmaps entry is not [pid, root]");
    instance.pmaps.set(
      pid as number,
      new VkPmap(
        instance.mem,
        (0x8000_0000 | (pid as number)) >>> 0,
        instance.zeroPhys,
        (root as number) * PAGE_BYTES,
      ),
    );
  }
  // Processes that had exited before the freeze and still hold a pmap: dead now too.
  for (const pid of instance.pmaps.keys()) {
    const proc = inner.procs.get(pid);
    if (proc === undefined || proc.state === "zombie") instance.exited.push(pid);
  }
  for (const item of listOf(state, "pending")) {
    const [tid, cause, value, signo, code, retired, pc] = item as number[];
    const l = inner.lwps.get(tid ?? -1);
    if (l === undefined || !(l.hart instanceof VkHart)) fail(`pending trap of unknown thread ${String(tid)}`);
    (l?.hart as VkHart).pendingTrap = {
      cause: cause ?? 0,
      value: value ?? 0,
      signo: signo ?? 0,
      code: code ?? 0,
      retired: retired ?? 0,
      pc: pc ?? 0,
    };
  }
  const cons = state.console;
  if (cons instanceof Uint8Array && cons.length > 0) instance.consoleOut.push(cons.slice());
  instance.consoleOut.push(...consoleOut);
  instance.inputClosed = state.inputClosed === true;
  return instance;
}

/** Stand-in page array until memimage is reachable (replaced before the kernel runs). */
const placeholder = (_phys: number): Uint8Array => new Uint8Array(0);
