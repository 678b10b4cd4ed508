import type { CborMap, CborValue, ImageStore } from "@vkc/checkpoint";
import { configOf } from "./ckpt/ckpt-state.ts";
import { readVkernelSection } from "./ckpt/image-section.ts";
import { decodeStateHeader, decodeStatePayload, STATE_HEADER_BYTES } from "./ckpt/state-region.ts";
import { VKE_BASE } from "./dev/vke-layout.ts";
import { readVkeView, type VkeView } from "./dev/vke-view.ts";
import { VkernelStateError } from "./errors.ts";
import { PAGE_BYTES, STATE_BASE } from "./memimage-layout.ts";
import { PhysAllocator } from "./phys-memory.ts";

/** One thread of an inner process, as the vkernel saved it. */
export interface VkernelThreadView {
  tid: number;
  /** runnable, sleeping, stopped, exited... (the image's LWP state kind). */
  state: string;
  pc: number;
  sp: number;
  tp: number;
  ra: number;
  a0: number;
  a7: number;
}

/** One inner process. */
export interface VkernelProcessView {
  pid: number;
  ppid: number;
  comm: string;
  /** "alive" or "zombie". */
  state: string;
  exitStatus: number | null;
  /** memimage pages its map entries reach. */
  residentPages: number;
  threads: VkernelThreadView[];
}

/** A vkernel image seen from inside: what its state region says (plain, JSON-serializable). */
export interface VkernelView {
  /** State-region generation (1 for the first checkpoint of a boot) and payload SHA-256. */
  generation: number;
  sha256: string;
  vcpus: number;
  memoryBytes: number;
  /** memimage pages in use (guest pages and page tables). */
  residentPages: number;
  /** vcons mode saved for step 7. */
  consoleMode: string;
  guests: { path: string; argv: string[] }[];
  processes: VkernelProcessView[];
  /** The vke interfaces and what their rings held (dev/vke-view.ts); absent without taps. */
  vke?: VkeView[];
}

const isMap = (v: CborValue | undefined): v is CborMap =>
  v !== null && v !== undefined && typeof v === "object" && !Array.isArray(v) && !(v instanceof Uint8Array);
const n = (v: CborValue | undefined): number => (typeof v === "number" ? v : 0);

/**
 * The vkernel's own view of image `ref` (`vkc images show`): the state region decoded from the
 * image's pages (only those pages are read). Null for an image that is not a vkernel's (no state
 * region mapped, or never written).
 */
export async function readVkernelView(images: ImageStore, ref: string): Promise<VkernelView | null> {
  const id = await images.resolve(ref);
  const manifest = await images.readManifest(id);
  const proc = manifest.processes[0];
  // A kind "vkernel" image names its state region (a malformed map is a VkernelStateError); a
  // "process" image written before the kind existed is looked at the fixed address.
  const section = readVkernelSection(manifest);
  if (section !== null && section.generation === 0) return null;
  const address = section?.stateAddress ?? STATE_BASE;
  const entry = proc?.vmspace.entries.find((e) => e.start === address);
  if (entry === undefined || entry.objectId === undefined) return null;
  const objectId = entry.objectId;
  const page = async (i: number): Promise<Uint8Array | null> => {
    try {
      return await images.readPage(id, objectId, entry.offset + i);
    } catch {
      return null;
    }
  };
  const first = await page(0);
  if (first === null) return null;
  const header = decodeStateHeader(first.subarray(0, STATE_HEADER_BYTES));
  if (header === null) return null;
  if (section !== null && (section.generation !== header.generation || section.sha256 !== header.sha256))
    throw new VkernelStateError(
      `image vkernel map: generation ${section.generation} does not match the region's ${header.generation}`,
    );
  const payload = new Uint8Array(header.length);
  for (let at = 0; at < header.length; ) {
    const abs = STATE_HEADER_BYTES + at;
    const p = await page(Math.floor(abs / PAGE_BYTES));
    const off = abs % PAGE_BYTES;
    const take = Math.min(PAGE_BYTES - off, header.length - at);
    if (p !== null) payload.set(p.subarray(off, off + take), at);
    at += take;
  }
  const state = decodeStatePayload(header, payload);
  const view = viewOf(state, header.generation, header.sha256);
  const vkeEntry = proc?.vmspace.entries.find((e) => e.start === VKE_BASE);
  const taps = configOf(state).taps;
  if (vkeEntry?.objectId !== undefined && taps !== undefined && taps.length > 0) {
    const vkeObject = vkeEntry.objectId;
    view.vke = await readVkeView(taps, (i) =>
      images.readPage(id, vkeObject, vkeEntry.offset + i).catch(() => null),
    );
  }
  return view;
}

/** The view of a decoded state. */
export function viewOf(state: CborMap, generation: number, sha256: string): VkernelView {
  const config = configOf(state);
  const phys = state.phys as CborMap;
  const alloc = PhysAllocator.fromState({
    pages: n(phys.pages),
    bitmap: String(phys.bitmap),
    shares: (Array.isArray(phys.shares) ? phys.shares : []) as number[][],
  });
  const kernel = state.kernel as CborMap;
  const objects = new Map<number, Set<number>>();
  for (const o of Array.isArray(kernel.objects) ? kernel.objects : []) {
    if (!isMap(o)) continue;
    const idx = new Set<number>();
    for (const p of Array.isArray(o.pages) ? o.pages : []) if (Array.isArray(p)) idx.add(n(p[0]));
    objects.set(n(o.id), idx);
  }
  const processes: VkernelProcessView[] = [];
  for (const p of Array.isArray(kernel.processes) ? kernel.processes : []) {
    if (!isMap(p)) continue;
    const ext = isMap(p.extensions) ? Object.values(p.extensions).find(isMap) : undefined;
    let resident = 0;
    const vmspace = isMap(p.vmspace) ? p.vmspace : {};
    for (const e of Array.isArray(vmspace.entries) ? vmspace.entries : []) {
      if (!isMap(e)) continue;
      const pages = objects.get(n(e.objectId));
      if (pages === undefined) continue;
      const lo = n(e.offset);
      const hi = lo + (n(e.end) - n(e.start)) / PAGE_BYTES;
      for (const i of pages) if (i >= lo && i < hi) resident++;
    }
    processes.push({
      pid: n(p.pid),
      ppid: n(p.ppid),
      comm: String(p.comm ?? ""),
      state: String(ext?.state ?? "alive"),
      exitStatus: typeof p.exitStatus === "number" ? p.exitStatus : null,
      residentPages: resident,
      threads: (Array.isArray(p.lwps) ? p.lwps : []).filter(isMap).map((l) => {
        const regs = Array.isArray(l.regs) ? l.regs.map(n) : [];
        const st = isMap(l.state) ? String(l.state.kind ?? "") : String(l.state ?? "");
        return {
          tid: n(l.tid),
          state: st,
          pc: regs[32] ?? 0,
          sp: regs[2] ?? 0,
          tp: regs[4] ?? 0,
          ra: regs[1] ?? 0,
          a0: regs[10] ?? 0,
          a7: regs[17] ?? 0,
        };
      }),
    });
  }
  const vcons = isMap(state.vcons) ? state.vcons : {};
  return {
    generation,
    sha256,
    vcpus: config.vcpus,
    memoryBytes: config.memoryBytes,
    residentPages: alloc.inUse,
    consoleMode: String(vcons.mode ?? "raw"),
    guests: config.guests.map((g) => ({ path: g.path, argv: [...g.argv] })),
    processes,
  };
}
