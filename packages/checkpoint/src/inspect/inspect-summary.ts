import type { DescriptorImage } from "../model/model-descriptor.ts";
import { type LwpState, REG_PC, REG_TP } from "../model/model-lwp.ts";
import type { Manifest } from "../model/model-manifest.ts";
import { PAGE_SIZE, type SigSet } from "../model/model-values.ts";
import { MAP_ENTRY_FLAGS, type PageMap, PROT } from "../model/model-vm.ts";

/** RISC-V ABI names of x0..x31, then pc. */
export const REG_NAMES: readonly string[] = [
  "zero",
  "ra",
  "sp",
  "gp",
  "tp",
  "t0",
  "t1",
  "t2",
  "s0",
  "s1",
  "a0",
  "a1",
  "a2",
  "a3",
  "a4",
  "a5",
  "a6",
  "a7",
  "s2",
  "s3",
  "s4",
  "s5",
  "s6",
  "s7",
  "s8",
  "s9",
  "s10",
  "s11",
  "t3",
  "t4",
  "t5",
  "t6",
  "pc",
];

export interface PageCounts {
  /** Pages the range covers. */
  readonly total: number;
  /** Non-zero pages stored. */
  readonly resident: number;
  /** Zero pages (not stored). */
  readonly zero: number;
  /** Resident pages whose content the parent image already has. */
  readonly shared: number;
  /** Resident pages new in this image. */
  readonly new: number;
}

export interface ThreadSummary {
  readonly tid: number;
  readonly pc: number;
  readonly sp: number;
  readonly tp: number;
  readonly sigmask: SigSet;
  readonly pending: SigSet;
  readonly state: string;
  readonly native: boolean;
}

export interface EntrySummary {
  readonly start: number;
  readonly end: number;
  readonly prot: string;
  readonly flags: readonly string[];
  readonly type: "normal" | "vpagetable";
  readonly objectId?: number;
  readonly offset: number;
  readonly pages: PageCounts;
}

export interface DescriptorSummary {
  readonly fd: number;
  readonly kind: DescriptorImage["kind"];
  readonly detail: string;
}

export interface ProcessSummary {
  readonly pid: number;
  readonly ppid: number;
  readonly comm: string;
  readonly argv: readonly string[];
  readonly threads: readonly ThreadSummary[];
  readonly vmspace: readonly EntrySummary[];
  readonly descriptors: readonly DescriptorSummary[];
}

export interface ImageSummary {
  readonly id?: string;
  readonly parent?: string;
  readonly kind: "process" | "vkernel";
  readonly version: string;
  readonly created: string;
  readonly tool: string;
  readonly instructions: number;
  readonly ns: number;
  readonly processes: readonly ProcessSummary[];
  readonly objects: readonly { id: number; kind: string; size: number; pages: PageCounts }[];
  readonly totals: PageCounts & { readonly bytes: number };
  readonly executables: readonly { path: string; sha256: string; size: number; embedded: boolean }[];
}

function hashAt(map: PageMap, k: number): string {
  return Buffer.from(map.hashes.subarray(k * 32, k * 32 + 32)).toString("hex");
}

/** Page counts of pages `[first, first + count)` of a page map. */
function countPages(
  map: PageMap,
  first: number,
  count: number,
  parentHashes: ReadonlySet<string>,
): PageCounts {
  let resident = 0;
  let shared = 0;
  map.indexes.forEach((index, k) => {
    if (index < first || index >= first + count) return;
    resident++;
    if (parentHashes.has(hashAt(map, k))) shared++;
  });
  return { total: count, resident, zero: count - resident, shared, new: resident - shared };
}

export function protString(prot: number): string {
  return `${prot & PROT.READ ? "r" : "-"}${prot & PROT.WRITE ? "w" : "-"}${prot & PROT.EXEC ? "x" : "-"}`;
}

/**
 * Bits of map-entry `flags` that tools define (FORMAT.md §10): 0x100 is host-kernel's "the kernel
 * made this entry's anonymous object" (`hostKernel` extension).
 */
const TOOL_ENTRY_FLAGS = { "kernel-anon": 0x100 } as const;

export function flagNames(flags: number): string[] {
  const named = { ...MAP_ENTRY_FLAGS, ...TOOL_ENTRY_FLAGS };
  const names = Object.entries(named)
    .filter(([, bit]) => (flags & bit) !== 0)
    .map(([name]) => name.toLowerCase());
  const known = Object.values(named).reduce((a, b) => a | b, 0);
  if ((flags & ~known) !== 0) names.push(`0x${(flags & ~known).toString(16)}`);
  return names;
}

function describeDescriptor(d: DescriptorImage): string {
  switch (d.kind) {
    case "file":
      return `${d.path} @${d.offset} flags=0x${d.flags.toString(16)}`;
    case "pipe": {
      const buffered =
        d.buffered === undefined ? 0 : d.buffered instanceof Uint8Array ? d.buffered.length : d.buffered.size;
      return `pipe ${d.pipeId} ${d.end} end, ${buffered} bytes buffered`;
    }
    case "tty":
      return `${d.path} lflag=0x${d.termios.lflag.toString(16)}`;
    case "tap":
      return `${d.name} ${[...d.address].join(".")}/${d.prefixLength} mtu ${d.mtu}, ${d.queued.length} frames queued`;
    case "socket":
      return `udp ${[...d.address].join(".")}:${d.port}, ${d.queued.length} datagrams queued`;
  }
}

function describeState(state: LwpState): string {
  switch (state.kind) {
    case "runnable":
    case "exited":
      return state.kind;
    case "sleeping":
      return `sleeping on 0x${state.addr.toString(16)}${state.deadlineNs === undefined ? "" : ` until ${state.deadlineNs} ns`}`;
    case "syscall":
      return `in syscall ${state.number} (${state.restart})`;
  }
}

/** Every page hash of a manifest (for "shared with parent"). */
export function allPageHashes(manifest: Manifest): Set<string> {
  const out = new Set<string>();
  for (const o of manifest.objects)
    for (let k = 0; k < o.pages.indexes.length; k++) out.add(hashAt(o.pages, k));
  return out;
}

/** Plain data about an image for the CLI (`vkc images show`). Pass the parent to count shared pages. */
export function summarizeImage(manifest: Manifest, options: { parent?: Manifest } = {}): ImageSummary {
  const parentHashes = options.parent === undefined ? new Set<string>() : allPageHashes(options.parent);
  const objects = new Map(manifest.objects.map((o) => [o.id, o]));
  const objectSummaries = manifest.objects.map((o) => ({
    id: o.id,
    kind: o.kind,
    size: o.size,
    pages: countPages(o.pages, 0, o.size, parentHashes),
  }));
  const totals = objectSummaries.reduce(
    (t, o) => ({
      total: t.total + o.pages.total,
      resident: t.resident + o.pages.resident,
      zero: t.zero + o.pages.zero,
      shared: t.shared + o.pages.shared,
      new: t.new + o.pages.new,
    }),
    { total: 0, resident: 0, zero: 0, shared: 0, new: 0 },
  );
  return {
    ...(manifest.integrity !== undefined ? { id: manifest.integrity.digest } : {}),
    ...(manifest.parent !== undefined ? { parent: manifest.parent } : {}),
    kind: manifest.kind,
    version: `${manifest.version.major}.${manifest.version.minor}`,
    created: manifest.created.time,
    tool: manifest.created.tool,
    instructions: manifest.clock.instructions,
    ns: manifest.clock.ns,
    processes: manifest.processes.map((p) => ({
      pid: p.pid,
      ppid: p.ppid,
      comm: p.comm,
      argv: p.argv,
      threads: p.lwps.map((l) => ({
        tid: l.tid,
        pc: l.regs[REG_PC] ?? 0,
        sp: l.regs[2] ?? 0,
        tp: l.regs[REG_TP] ?? 0,
        sigmask: l.sigmask,
        pending: l.pending,
        state: describeState(l.state),
        native: l.native !== undefined,
      })),
      vmspace: p.vmspace.entries.map((e) => {
        const count = (e.end - e.start) / PAGE_SIZE;
        const object = e.objectId === undefined ? undefined : objects.get(e.objectId);
        const pages =
          object === undefined || e.type === "vpagetable"
            ? object === undefined
              ? { total: count, resident: 0, zero: count, shared: 0, new: 0 }
              : countPages(object.pages, 0, object.size, parentHashes)
            : countPages(object.pages, e.offset, count, parentHashes);
        return {
          start: e.start,
          end: e.end,
          prot: protString(e.prot),
          flags: flagNames(e.flags),
          type: e.type,
          ...(e.objectId !== undefined ? { objectId: e.objectId } : {}),
          offset: e.offset,
          pages,
        };
      }),
      descriptors: p.descriptors.map((d) => ({ fd: d.fd, kind: d.kind, detail: describeDescriptor(d) })),
    })),
    objects: objectSummaries,
    totals: { ...totals, bytes: totals.resident * PAGE_SIZE },
    executables: manifest.executables.map((x) => ({
      path: x.path,
      sha256: x.sha256,
      size: x.size,
      embedded: x.embedded !== undefined,
    })),
  };
}
