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
}

export interface FrozenProcess {
  readonly draft: ManifestDraft;
  /** Page contents for the writer (read when iterated: keep the kernel still until done). */
  readonly pages: AsyncIterable<PageWrite>;
  /** Filled while `pages` is iterated: what the image holds, for the next incremental freeze. */
  readonly saved: SavedPages;
}

const ZERO = new Uint8Array(PAGE_SIZE);

function isZero(page: Uint8Array): boolean {
  if (page.byteOffset % 4 === 0 && page.length % 4 === 0) {
    const words = new Uint32Array(page.buffer, page.byteOffset, page.length / 4);
    for (let i = 0; i < words.length; i++) if (words[i] !== 0) return false;
    return true;
  }
  for (let i = 0; i < page.length; i++) if (page[i] !== 0) return false;
  return true;
}

/**
 * Freeze process `pid` of `kernel` into an image draft and a page stream (ARCHITECTURE §3
 * "Saved"). Call it between slices: every LWP is then at an instruction boundary (a blocked one
 * sits on its ecall with its sleep recorded). Nothing in the kernel changes; the caller writes the
 * draft, then clears the dirty bits (`checkpointProcess` does both).
 */
export function freezeProcess(kernel: Kernel, pid: number, options: FreezeOptions = {}): FrozenProcess {
  const proc = kernel.procs.get(pid);
  if (proc === undefined) throw new FreezeError(`process ${pid}`, "no such process");
  if (proc.state !== "alive") throw new FreezeError(`process ${pid}`, "it has exited");
  const objects = collectObjects(proc);
  const tids = new Set(proc.lwps.map((l) => l.tid));
  const executables = executableRefs(kernel, proc, options.embedded);
  const image = processImage(proc, options.callerTid ?? null, newDescriptionTable());
  const parentSaved = options.parent?.saved;
  const objectDrafts: VmObjectDraft[] = objects.map((o) => {
    const base: VmObjectDraft = {
      id: o.id,
      kind: o.kind === "file" ? "file" : "anon",
      size: objectSize(proc, o),
      ...(o.kind === "file" && o.source !== null
        ? { path: o.sourcePath ?? "", sha256: createHash("sha256").update(o.source).digest("hex") }
        : {}),
    };
    return parentSaved?.has(o.id) === true ? { ...base, inheritFromParent: true } : base;
  });
  const draft: ManifestDraft = {
    kind: "process",
    ...(options.parent !== undefined ? { parent: options.parent.id } : {}),
    ...(options.note !== undefined
      ? { created: { time: new Date().toISOString(), tool: "vkc", note: options.note } }
      : {}),
    processes: [image],
    clock: { instructions: kernel.instructions, ns: kernel.now() },
    prng: { algorithm: PRNG_ALGORITHM, state: [kernel.sched.prng.state >>> 0] },
    executables,
    objects: objectDrafts,
    extensions: { ...(options.extensions ?? {}), [EXT_KEY]: kernelState(kernel, proc, tids, objects) },
  };
  const saved: SavedPages = new Map();
  const sizes = new Map(objectDrafts.map((o) => [o.id, o.size]));
  return { draft, pages: pageStream(objects, sizes, parentSaved, saved), saved };
}

/** Every VM object the process maps, once, in map order. */
function collectObjects(proc: Process): VmObject[] {
  const seen = new Set<VmObject>();
  for (const e of proc.vm.entries) seen.add(e.object);
  return [...seen];
}

/** Pages the object needs in the image: its own size, every mapping, every materialized page. */
function objectSize(proc: Process, o: VmObject): number {
  let size = Math.max(1, o.sizePages);
  for (const e of proc.vm.entries)
    if (e.object === o) size = Math.max(size, (e.offset + (e.end - e.start)) / PAGE_SIZE);
  for (const i of o.pages.keys()) size = Math.max(size, i + 1);
  return size;
}

async function* pageStream(
  objects: readonly VmObject[],
  sizes: ReadonlyMap<number, number>,
  parentSaved: ReadonlyMap<number, ReadonlySet<number>> | undefined,
  saved: SavedPages,
): AsyncGenerator<PageWrite> {
  for (const o of objects) {
    const size = sizes.get(o.id) ?? 0;
    const prev = parentSaved?.get(o.id);
    const keep = new Set<number>(prev ?? []);
    // Full: every materialized page. Incremental: dirty pages, pages the parent lacks, and the
    // parent's pages that are gone (streamed as zeros, which clears them).
    const candidates =
      prev === undefined
        ? [...o.pages.keys()]
        : [...new Set([...o.dirty, ...[...o.pages.keys()].filter((i) => !keep.has(i)), ...keep])];
    candidates.sort((a, b) => a - b);
    for (const index of candidates) {
      if (index >= size) continue;
      const page = o.pages.get(index);
      const dirty = prev === undefined || o.dirty.has(index) || !keep.has(index);
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

function executableRefs(kernel: Kernel, proc: Process, embedded: BlobRef | undefined): ExecutableRef[] {
  if (!/^[0-9a-f]{64}$/.test(proc.exeHash)) return [];
  const bytes = kernel.vfs.readFile(proc.exe);
  return [
    {
      path: proc.exe,
      sha256: proc.exeHash,
      size: embedded?.size ?? bytes?.length ?? 0,
      ...(embedded !== undefined ? { embedded } : {}),
    },
  ];
}

/** The kernel-wide state the process's future depends on: scheduler, clock, ids, tty, input. */
function kernelState(
  kernel: Kernel,
  proc: Process,
  tids: ReadonlySet<number>,
  objects: readonly VmObject[],
): CborMap {
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
    objects: objects.map((o) => ({ id: o.id, sizePages: o.sizePages, sourceOffset: o.sourceOffset })),
    tty: ttyImage(kernel, tty.pgrp === proc.pgid || tty.pgrp === proc.pid ? tty.pgrp : 0),
    input: inputImage(kernel),
    sleepQueues: sleepQueuesImage(kernel, mine),
    files,
    // The network stack, for a process that holds sockets (absent otherwise: images without
    // sockets are as before).
    ...(holdsSocket(proc) ? { net: netStackImage(kernel) } : {}),
  };
}

function holdsSocket(proc: Process): boolean {
  return proc.fds.open().some((fd) => {
    const file = proc.fds.get(fd);
    return file !== null && isUdpSocket(file.ops);
  });
}
