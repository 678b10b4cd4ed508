import { createHash } from "node:crypto";
import type {
  BlobRef,
  CborMap,
  CborValue,
  DescriptorImage,
  ExecutableRef,
  LwpImage,
  LwpState as LwpStateImage,
  ManifestDraft,
  MapEntryImage,
  PageWrite,
  ProcessImage,
  SigActionImage,
  VmObjectDraft,
} from "@vkc/checkpoint";
import { PAGE_SIZE } from "../cpu/cpu-types.ts";
import { Hart } from "../cpu/hart.ts";
import { TapFile } from "../dev/tap-file.ts";
import { tapDescriptorImage } from "../dev/tap-image.ts";
import { NullDevice, Tty } from "../dev/tty.ts";
import type { OpenFile } from "../fs/file-types.ts";
import { PipeReadOps, PipeWriteOps } from "../fs/pipe.ts";
import { RegularFileOps, type VfsDirectory } from "../fs/vfs.ts";
import type { Kernel } from "../kernel.ts";
import { NativeHart } from "../native/native-hart.ts";
import type { Lwp, Process, SigInfo } from "../proc/proc-types.ts";
import type { VmObject } from "../vm/vm-object.ts";
import { MMAP_BASE } from "../vm/vm-types.ts";
import { FreezeError } from "./ckpt-errors.ts";
import { toImageEntryFlags } from "./ckpt-flags.ts";
import { toSigSet } from "./ckpt-sigset.ts";

/** Key of vkc's host-kernel state in the manifest's, processes' and LWPs' `extensions`. */
export const EXT_KEY = "hostKernel";
/** Version of the `hostKernel` extension maps (FORMAT.md: "host-kernel extensions"). */
export const EXT_VERSION = 1;
export const PRNG_ALGORITHM = "splitmix32";

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

function sigInfo(info: SigInfo): CborMap {
  return { signo: info.signo, code: info.code, addr: info.addr >>> 0, pid: info.pid, uid: info.uid };
}

function pendingInfo(m: ReadonlyMap<number, SigInfo>): CborValue[] {
  return [...m.entries()].sort((a, b) => a[0] - b[0]).map(([, info]) => sigInfo(info));
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
  const desc = descriptors(proc);
  const processImage: ProcessImage = {
    pid: proc.pid,
    ppid: proc.ppid,
    pgid: proc.pgid,
    sid: proc.sid,
    comm: proc.comm,
    argv: [...proc.argv],
    envp: [...proc.envp],
    cwd: "/",
    cred: { uid: proc.cred.uid, gid: proc.cred.gid },
    flags: proc.stopped ? 1 : 0,
    sigacts: sigacts(proc),
    itimers: [],
    lwps: proc.lwps.map((l) => lwpImage(l, options.callerTid ?? null)),
    vmspace: {
      entries: proc.vm.entries.map(entryImage),
      brk: { start: proc.vm.brkBase, end: proc.vm.brk },
      mmapBase: MMAP_BASE,
    },
    descriptors: desc.images,
    extensions: {
      [EXT_KEY]: {
        v: EXT_VERSION,
        exe: proc.exe,
        exeHash: proc.exeHash,
        euid: proc.cred.euid,
        egid: proc.cred.egid,
        pending: [...toSigSet(proc.pending)],
        pendingInfo: pendingInfo(proc.pendingInfo),
        fdFiles: desc.shares,
      },
    },
  };
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
    processes: [processImage],
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

function sigacts(proc: Process): SigActionImage[] {
  const out: SigActionImage[] = [];
  proc.sigacts.forEach((a, signal) => {
    if (signal === 0 || (a.handler === 0 && a.flags === 0 && a.mask === 0n)) return;
    out.push({ signal, handler: a.handler >>> 0, flags: a.flags >>> 0, mask: toSigSet(a.mask), restorer: 0 });
  });
  return out;
}

function lwpState(l: Lwp): LwpStateImage {
  if (l.state === "zombie") return { kind: "exited" };
  if (l.state !== "sleeping" || l.syscall === null) return { kind: "runnable" };
  const args = [...l.syscall.args, 0, 0, 0, 0, 0, 0].slice(0, 6).map((a) => a >>> 0);
  if (l.sleepMode === "umtx") {
    return {
      kind: "sleeping",
      addr: args[0] as number,
      ...(l.deadline !== null ? { deadlineNs: l.deadline } : {}),
    };
  }
  return {
    kind: "syscall",
    number: l.syscall.nr >>> 0,
    args,
    restart: l.sleepMode === "retry" ? "restart" : "resume",
  };
}

/**
 * The LR/SC reservation `hart` holds, if any: a freeze between an `lr.w` and its `sc.w` must keep
 * it, or the thawed `sc.w` fails and retries (more instructions than the uninterrupted run).
 * `ReservationSet` (src/cpu) keeps its map private and has no query, so it is read here.
 */
export function reservationOf(l: Lwp): number | null {
  const byHart = (l.proc.vm.reservations as unknown as { byHart?: Map<object, number> }).byHart;
  return byHart?.get(l.hart) ?? null;
}

function lwpImage(l: Lwp, callerTid: number | null): LwpImage {
  const ctx = l.hart.getContext();
  const hart = l.hart;
  const ext: Record<string, CborValue> = {
    v: EXT_VERSION,
    state: l.state,
    cpu: l.cpu,
    instret: hart instanceof Hart ? hart.instret : 0,
    sleepMode: l.sleepMode,
    wchan: l.wchan,
    deadline: l.deadline,
    interrupted: l.interrupted,
    timedOut: l.timedOut,
    tidAddr: l.tidAddr >>> 0,
    pendingInfo: pendingInfo(l.pendingInfo),
    ckptCaller: l.tid === callerTid,
    reservation: reservationOf(l),
  };
  const image: LwpImage = {
    tid: l.tid,
    regs: [...ctx.x.map((v) => v >>> 0), ctx.pc >>> 0],
    sigmask: toSigSet(l.sigmask),
    pending: toSigSet(l.pending),
    altstack: { sp: l.altstack.sp >>> 0, size: l.altstack.size >>> 0, flags: l.altstack.flags >>> 0 },
    state: lwpState(l),
    ...(hart instanceof NativeHart
      ? {
          native: {
            role: hart.ctx.role,
            state: hart.ctx.state as CborValue,
            result: hart.ctx.result | 0,
            started: hart.started,
          },
        }
      : {}),
    extensions: { [EXT_KEY]: ext },
  };
  return image;
}

function entryImage(e: Process["vm"]["entries"][number]): MapEntryImage {
  return {
    start: e.start >>> 0,
    end: e.end,
    prot: e.prot,
    maxprot: e.maxprot,
    flags: toImageEntryFlags(e.flags),
    type: e.type,
    objectId: e.object.id,
    offset: e.offset / PAGE_SIZE,
    ...(e.type === "vpagetable" ? { masterPde: e.masterPde >>> 0 } : {}),
  };
}

/** Descriptor images, and which open file description each fd shares (dup'd fds share one). */
function descriptors(proc: Process): { images: DescriptorImage[]; shares: CborValue[] } {
  const files = new Map<OpenFile, number>();
  const carried = new Set<number>();
  const images: DescriptorImage[] = [];
  const shares: CborValue[] = [];
  for (const fd of proc.fds.open()) {
    const slot = proc.fds.slots[fd];
    if (slot === null || slot === undefined) continue;
    const file = slot.file;
    let index = files.get(file);
    if (index === undefined) {
      index = files.size;
      files.set(file, index);
    }
    shares.push([fd, index, file.flags >>> 0, file.offset]);
    const base = { fd, cloexec: slot.cloexec };
    const ops = file.ops;
    if (ops instanceof Tty) {
      const t = ops.termios;
      images.push({
        ...base,
        kind: "tty",
        path: "/dev/tty",
        termios: {
          iflag: t.iflag,
          oflag: t.oflag,
          cflag: t.cflag,
          lflag: t.lflag,
          cc: Uint8Array.from(t.cc),
        },
      });
    } else if (ops instanceof PipeReadOps || ops instanceof PipeWriteOps) {
      const pipe = ops.pipe;
      const read = ops instanceof PipeReadOps;
      const carry = read && !carried.has(pipe.id) && pipe.length > 0;
      if (carry) carried.add(pipe.id);
      images.push({
        ...base,
        kind: "pipe",
        pipeId: pipe.id,
        end: read ? "read" : "write",
        ...(carry ? { buffered: pipe.contents() } : {}),
      });
    } else if (ops instanceof RegularFileOps) {
      images.push({
        ...base,
        kind: "file",
        path: ops.path,
        offset: file.offset,
        flags: file.flags,
        mode: 0o644,
      });
    } else if (ops instanceof TapFile) {
      // The image keeps the interface (address, MTU, MAC, queued frames); the host-side config
      // the model has no field for (up, bridge, queue bound, baudrate) rides in fdFiles' 5th item.
      const saved = ops.snapshot();
      images.push(tapDescriptorImage(fd, slot.cloexec, saved));
      const { up, bridge, maxQueue, baudrate } = saved.config;
      shares[shares.length - 1] = [
        fd,
        index,
        file.flags >>> 0,
        file.offset,
        { up, bridge, maxQueue, baudrate },
      ];
    } else if (ops instanceof NullDevice) {
      images.push({
        ...base,
        kind: "file",
        path: "/dev/null",
        offset: file.offset,
        flags: file.flags,
        mode: 0o666,
      });
    } else {
      throw new FreezeError(
        `process ${proc.pid}`,
        `descriptor ${fd} is a ${ops.kind}, which images cannot hold yet`,
      );
    }
  }
  return { images, shares };
}

/** Writable VFS files (made by guests): the restorer does not have them. */
function writableFiles(dir: VfsDirectory, prefix: string, out: CborValue[]): void {
  for (const [name, node] of [...dir.children.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const path = `${prefix}/${name}`;
    if (node.type === "dir") writableFiles(node, path, out);
    else if (node.type === "file" && !node.readonly) out.push({ path, data: node.data.slice(0, node.size) });
  }
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
  const sleepQueues: CborValue[] = [];
  for (const [chan, queue] of kernel.sleepQueues) {
    const mine = queue.filter((t) => tids.has(t));
    if (mine.length > 0) sleepQueues.push({ chan, tids: mine });
  }
  return {
    v: EXT_VERSION,
    pid: proc.pid,
    cpus: sched.cpus.length,
    quantum: sched.quantum,
    roundStart: sched.roundStart,
    cursor: sched.cursor,
    cpuState: sched.cpus.map((c) => ({
      current: c.current !== null && tids.has(c.current) ? c.current : null,
      used: c.used,
      queue: c.queue.filter((t) => tids.has(t)),
    })),
    nextId: kernel.nextId,
    nextPipeId: kernel.nextPipeId,
    nextObjectId: kernel.ids.next,
    realtimeEpoch: kernel.realtimeEpoch,
    sigcodeObject: kernel.sigcode.id,
    objects: objects.map((o) => ({ id: o.id, sizePages: o.sizePages, sourceOffset: o.sourceOffset })),
    tty: {
      pgrp: tty.pgrp === proc.pgid || tty.pgrp === proc.pid ? tty.pgrp : 0,
      winsize: [tty.winsize.rows, tty.winsize.cols, tty.winsize.xpixel, tty.winsize.ypixel],
      termios: {
        iflag: tty.termios.iflag >>> 0,
        oflag: tty.termios.oflag >>> 0,
        cflag: tty.termios.cflag >>> 0,
        lflag: tty.termios.lflag >>> 0,
        line: tty.termios.line,
        cc: Uint8Array.from(tty.termios.cc),
      },
      lines: tty.lines.map((l) => Uint8Array.from(l)),
      partial: Uint8Array.from(tty.partial),
      raw: Uint8Array.from(tty.raw),
    },
    input: kernel.inputQueue.map((ev) =>
      "bytes" in ev
        ? { at: ev.at, bytes: ev.bytes.slice() }
        : { at: ev.at, rows: ev.winsize.rows, cols: ev.winsize.cols },
    ),
    sleepQueues,
    files,
  };
}
