import { createHash } from "node:crypto";
import type {
  BlobRef,
  CborMap,
  CborValue,
  ExecutableRef,
  ManifestDraft,
  PageWrite,
  VmObjectDraft,
} from "@vkc/checkpoint";
import { PAGE_SIZE } from "../cpu/cpu-types.ts";
import type { Kernel } from "../kernel.ts";
import { isUdpSocket } from "../net/socket.ts";
import { netStackImage } from "../net/socket-image.ts";
import type { Process } from "../proc/proc-types.ts";
import { settleLazy } from "../vm/vm-lazy.ts";
import type { VmObject } from "../vm/vm-object.ts";
import { FreezeError } from "./ckpt-errors.ts";
import {
  cpuStateImage,
  EXT_KEY,
  EXT_VERSION,
  inputImage,
  newDescriptionTable,
  PRNG_ALGORITHM,
  processImage,
  processImageWithStatus,
  sleepQueuesImage,
  ttyImage,
  writableFiles,
} from "./ckpt-images.ts";

export { EXT_KEY, EXT_VERSION, PRNG_ALGORITHM, reservationOf } from "./ckpt-images.ts";

/** Page indexes with non-zero content per VM object id, as the last image of a process holds them. */
export type SavedPages = Map<number, Set<number>>;

export interface FreezeOptions {
  /** The previous image of this process in this run: objects it had are written incrementally. */
  readonly parent?: { readonly id: string; readonly saved: ReadonlyMap<number, ReadonlySet<number>> };
  /** The LWP on the ecall of sys_checkpoint(FREEZE): a thaw returns `retval` to it. */
  readonly callerTid?: number | null;
  /** The executable's bytes, already stored as a blob (`--embed`). */
  readonly embedded?: BlobRef;
  /** Extra manifest extensions (e.g. the CLI's host path of the executable). */
  readonly extensions?: CborMap;
  readonly note?: string;
  /**
   * Pages already stored by a pre-copy session (`ckpt-precopy.ts`), per object: streamed only if
   * dirtied since their capture, the rest inherited from the stage (`writeImage`'s `base`). No
   * parent is recorded; ignored when `parent` is given.
   */
  readonly precopied?: ReadonlyMap<number, ReadonlySet<number>>;
  /** A vkernel's summary map (FORMAT.md §4.1): the image is written with kind `"vkernel"`. */
  readonly vkernel?: CborMap;
}

export interface FrozenProcess {
  readonly draft: ManifestDraft;
  /**
   * Page contents for the writer (read when iterated: keep the kernel still until done). A plain
   * iterable: nothing here waits, so the writer takes pages without an await each.
   */
  readonly pages: Iterable<PageWrite>;
  /** Filled while `pages` is iterated: what the image holds, for the next incremental freeze. */
  readonly saved: SavedPages;
  /** The processes in the image: the frozen one first, then its descendants by pid. */
  readonly pids: readonly number[];
}

const ZERO = new Uint8Array(PAGE_SIZE);

function isZero(page: Uint8Array): boolean {
  // A page that is not zero almost always shows it in its first bytes: no view made for it.
  for (let i = 0; i < Math.min(64, page.length); i++) if (page[i] !== 0) return false;
  if (page.byteOffset % 4 === 0 && page.length % 4 === 0) {
    const words = new Uint32Array(page.buffer, page.byteOffset, page.length / 4);
    for (let i = 0; i < words.length; i++) if (words[i] !== 0) return false;
    return true;
  }
  for (let i = 0; i < page.length; i++) if (page[i] !== 0) return false;
  return true;
}

/**
 * Freeze process `pid` of `kernel` and its whole process tree — every descendant, alive or zombie
 * — into an image draft and a page stream (ARCHITECTURE §3 "Saved", CHECKPOINT.md "Process
 * trees"). `processes` holds `pid` first, then its descendants by pid; VM objects and open file
 * descriptions they share are listed once. A process without descendants gives the same image as
 * ever. Call it between slices: every LWP is then at an instruction boundary (a blocked one sits
 * on its ecall with its sleep recorded). Nothing in the kernel changes; the caller writes the
 * draft, then clears the dirty bits of every process in `pids` (`createStoreTarget` does both).
 */
export function freezeProcess(kernel: Kernel, pid: number, options: FreezeOptions = {}): FrozenProcess {
  const proc = kernel.procs.get(pid);
  if (proc === undefined) throw new FreezeError(`process ${pid}`, "no such process");
  if (proc.state !== "alive") throw new FreezeError(`process ${pid}`, "it has exited");
  const tree = processTree(kernel, proc);
  const single = tree.length === 1;
  const objects = collectObjects(tree);
  const tids = new Set(tree.flatMap((p) => p.lwps.map((l) => l.tid)));
  const executables = executableRefs(kernel, tree, options.embedded);
  const table = newDescriptionTable();
  const callerTid = options.callerTid ?? null;
  // One process: the image as it always was. A tree: each process also says whether it is a
  // zombie and with what status (describeKernel's process images).
  const images = single
    ? [processImage(proc, callerTid, table)]
    : tree.map((p) => processImageWithStatus(p, callerTid, table));
  const parentSaved = options.parent?.saved ?? options.precopied;
  const objectDrafts: VmObjectDraft[] = objects.map((o) => {
    const base: VmObjectDraft = {
      id: o.id,
      kind: o.kind === "file" ? "file" : "anon",
      size: objectSize(tree, o),
      ...(o.kind === "file" && o.source !== null
        ? { path: o.sourcePath ?? "", sha256: createHash("sha256").update(o.source).digest("hex") }
        : {}),
    };
    return parentSaved?.has(o.id) === true ? { ...base, inheritFromParent: true } : base;
  });
  const draft: ManifestDraft = {
    ...(options.vkernel !== undefined
      ? { kind: "vkernel" as const, vkernel: options.vkernel }
      : { kind: "process" as const }),
    ...(options.parent !== undefined ? { parent: options.parent.id } : {}),
    ...(options.note !== undefined
      ? { created: { time: new Date().toISOString(), tool: "vkc", note: options.note } }
      : {}),
    processes: images,
    clock: { instructions: kernel.instructions, ns: kernel.now() },
    prng: { algorithm: PRNG_ALGORITHM, state: [kernel.sched.prng.state >>> 0] },
    executables,
    objects: objectDrafts,
    extensions: { ...(options.extensions ?? {}), [EXT_KEY]: kernelState(kernel, tree, tids, objects) },
  };
  const saved: SavedPages = new Map();
  const sizes = new Map(objectDrafts.map((o) => [o.id, o.size]));
  return {
    draft,
    pages: pageStream(objects, sizes, parentSaved, saved),
    saved,
    pids: tree.map((p) => p.pid),
  };
}

/** `root` and every descendant (alive or zombie): `root` first, then the descendants by pid. */
export function processTree(kernel: Kernel, root: Process): Process[] {
  const children = new Map<number, Process[]>();
  for (const p of kernel.procs.values()) {
    if (p === root || p.ppid === 0) continue;
    const siblings = children.get(p.ppid);
    if (siblings === undefined) children.set(p.ppid, [p]);
    else siblings.push(p);
  }
  const descendants: Process[] = [];
  const todo = [root.pid];
  for (let pid = todo.pop(); pid !== undefined; pid = todo.pop()) {
    for (const child of children.get(pid) ?? []) {
      descendants.push(child);
      todo.push(child.pid);
    }
  }
  descendants.sort((a, b) => a.pid - b.pid);
  return [root, ...descendants];
}

/** Every VM object the processes map, once, in process then map order. */
function collectObjects(tree: readonly Process[]): VmObject[] {
  const seen = new Set<VmObject>();
  for (const p of tree) for (const e of p.vm.entries) seen.add(e.object);
  for (const o of seen) settleLazy(o); // a lazy thaw's pages still in the image: freeze reads `pages`
  return [...seen];
}

/** Pages the object needs in the image: its own size, every mapping, every materialized page. */
function objectSize(tree: readonly Process[], o: VmObject): number {
  let size = Math.max(1, o.sizePages);
  for (const p of tree)
    for (const e of p.vm.entries)
      if (e.object === o) size = Math.max(size, (e.offset + (e.end - e.start)) / PAGE_SIZE);
  for (const i of o.pages.keys()) size = Math.max(size, i + 1);
  return size;
}

function* pageStream(
  objects: readonly VmObject[],
  sizes: ReadonlyMap<number, number>,
  parentSaved: ReadonlyMap<number, ReadonlySet<number>> | undefined,
  saved: SavedPages,
): Generator<PageWrite> {
  for (const o of objects) {
    const size = sizes.get(o.id) ?? 0;
    const prev = parentSaved?.get(o.id);
    const keep = new Set<number>(prev ?? []);
    // Full: every materialized page. Incremental: dirty pages, pages the parent lacks, and the
    // parent's pages that are gone (streamed as zeros, which clears them).
    // A kept page that is still there and not dirty is unchanged, so still non-zero: skipped
    // without a look (a pre-copied image keeps most pages so).
    const candidates = prev === undefined ? [...o.pages.keys()] : changedSince(o, keep);
    candidates.sort((a, b) => a - b);
    for (const index of candidates) {
      if (index >= size) continue;
      const page = o.pages.get(index);
      const dirty = prev === undefined || o.dirty.has(index) || !keep.has(index);
      if (!dirty && page !== undefined) continue;
      if (page === undefined || isZero(page)) {
        if (keep.delete(index)) yield { objectId: o.id, pageIndex: index, bytes: ZERO };
        continue;
      }
      if (!dirty) continue;
      keep.add(index);
      yield { objectId: o.id, pageIndex: index, bytes: page };
    }
    saved.set(o.id, keep);
  }
}

/** Indexes an incremental image may need to stream: dirty, new, or kept but gone. */
function changedSince(o: VmObject, keep: ReadonlySet<number>): number[] {
  const out = new Set<number>(o.dirty);
  for (const i of o.pages.keys()) if (!keep.has(i)) out.add(i);
  for (const i of keep) if (!o.pages.has(i)) out.add(i);
  return [...out];
}

/** The executables the processes run, once per path (`embedded` is the first process's). */
function executableRefs(
  kernel: Kernel,
  tree: readonly Process[],
  embedded: BlobRef | undefined,
): ExecutableRef[] {
  const refs: ExecutableRef[] = [];
  tree.forEach((proc, i) => {
    if (!/^[0-9a-f]{64}$/.test(proc.exeHash) || refs.some((r) => r.path === proc.exe)) return;
    const mine = i === 0 || proc.exeHash === tree[0]?.exeHash ? embedded : undefined;
    const bytes = kernel.vfs.readFile(proc.exe);
    refs.push({
      path: proc.exe,
      sha256: proc.exeHash,
      size: mine?.size ?? bytes?.length ?? 0,
      ...(mine !== undefined ? { embedded: mine } : {}),
    });
  });
  return refs;
}

/**
 * The kernel-wide state the processes' future depends on: scheduler, clock, ids, tty, input. A
 * tree adds the kernel's LWP order and, per object, its copy-on-write indexes and the pages it
 * shares with an object listed before it (`links`), so a thaw shares them again.
 */
function kernelState(
  kernel: Kernel,
  tree: readonly Process[],
  tids: ReadonlySet<number>,
  objects: readonly VmObject[],
): CborMap {
  const proc = tree[0] as Process;
  const single = tree.length === 1;
  const sched = kernel.sched;
  const tty = kernel.tty;
  const files: CborValue[] = [];
  writableFiles(kernel.vfs.root, "", files);
  const mine = (tid: number): boolean => tids.has(tid);
  return {
    v: EXT_VERSION,
    pid: proc.pid,
    cpus: sched.cpus.length,
    quantum: sched.quantum,
    roundStart: sched.roundStart,
    cursor: sched.cursor,
    cpuState: cpuStateImage(kernel, mine),
    nextId: kernel.nextId,
    nextPipeId: kernel.nextPipeId,
    nextObjectId: kernel.ids.next,
    realtimeEpoch: kernel.realtimeEpoch,
    sigcodeObject: kernel.sigcode.id,
    objects: single
      ? objects.map((o) => ({ id: o.id, sizePages: o.sizePages, sourceOffset: o.sourceOffset }))
      : sharedObjects(objects),
    tty: ttyImage(kernel, tree.some((p) => tty.pgrp === p.pgid || tty.pgrp === p.pid) ? tty.pgrp : 0),
    input: inputImage(kernel),
    sleepQueues: sleepQueuesImage(kernel, mine),
    files,
    // The network stack, for a process that holds sockets (absent otherwise: images without
    // sockets are as before).
    ...(tree.some(holdsSocket) ? { net: netStackImage(kernel) } : {}),
    ...(single ? {} : { lwpOrder: [...kernel.lwps.keys()].filter(mine) }),
  };
}

/**
 * Objects of a tree: as for one process, plus `cow` (indexes to copy before writing) and `links`,
 * `[index, objectId, index]` for each non-zero page whose array an object listed before it holds
 * too (copy-on-write after fork). The page is in the image for both (the store keeps it once).
 */
function sharedObjects(objects: readonly VmObject[]): CborValue[] {
  const first = new Map<Uint8Array, readonly [number, number]>();
  return objects.map((o) => {
    const links: CborValue[] = [];
    for (const index of [...o.pages.keys()].sort((a, b) => a - b)) {
      const page = o.pages.get(index) as Uint8Array;
      if (isZero(page)) continue;
      const earlier = first.get(page);
      if (earlier === undefined) first.set(page, [o.id, index]);
      else links.push([index, earlier[0], earlier[1]]);
    }
    return {
      id: o.id,
      sizePages: o.sizePages,
      sourceOffset: o.sourceOffset,
      cow: [...o.cow].sort((a, b) => a - b),
      links,
    };
  });
}

function holdsSocket(proc: Process): boolean {
  return proc.fds.open().some((fd) => {
    const file = proc.fds.get(fd);
    return file !== null && isUdpSocket(file.ops);
  });
}
