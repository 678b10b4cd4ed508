import type {
  CborMap,
  CborValue,
  DescriptorImage,
  LwpImage,
  LwpState as LwpStateImage,
  MapEntryImage,
  ProcessImage,
  SigActionImage,
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
import type { NativeSignalFrame } from "../native/native-types.ts";
import { isUdpSocket } from "../net/socket.ts";
import { socketDescriptorImage } from "../net/socket-image.ts";
import type { Lwp, Process, SigInfo } from "../proc/proc-types.ts";
import { MMAP_BASE } from "../vm/vm-types.ts";
import { FreezeError } from "./ckpt-errors.ts";
import { toImageEntryFlags } from "./ckpt-flags.ts";
import { toSigSet } from "./ckpt-sigset.ts";

/**
 * The pieces of kernel state as plain CBOR data, shared by `freezeProcess` (one process into an
 * image) and `describeKernel` (a whole kernel): processes, LWPs, map entries, descriptors, the
 * scheduler, the tty, scripted input, sleep queues and guest-made files. Pure: nothing changes.
 */

/** Key of vkc's host-kernel state in the manifest's, processes' and LWPs' `extensions`. */
export const EXT_KEY = "hostKernel";
/** Version of the `hostKernel` extension maps (FORMAT.md: "host-kernel extensions"). */
export const EXT_VERSION = 1;
export const PRNG_ALGORITHM = "splitmix32";

/**
 * Open file descriptions already numbered and pipes whose buffer is already carried. One per
 * image: a freeze numbers one process's descriptions, a kernel description all processes' (so
 * descriptions shared across processes after fork stay shared).
 */
export interface DescriptionTable {
  readonly files: Map<OpenFile, number>;
  readonly carried: Set<number>;
}

export function newDescriptionTable(): DescriptionTable {
  return { files: new Map(), carried: new Set() };
}

/** A siginfo as CBOR data; SIGCHLD's `status` (si_status) when it has one. */
export function sigInfo(info: SigInfo): CborMap {
  return {
    signo: info.signo,
    code: info.code,
    addr: info.addr >>> 0,
    pid: info.pid,
    uid: info.uid,
    ...(info.status !== undefined ? { status: info.status } : {}),
  };
}

export function pendingInfo(m: ReadonlyMap<number, SigInfo>): CborValue[] {
  return [...m.entries()].sort((a, b) => a[0] - b[0]).map(([, info]) => sigInfo(info));
}

/**
 * The model's process image of `proc` (its LWPs, map entries and descriptors; objects are listed
 * by id only). `callerTid` is the LWP on the ecall of sys_checkpoint(FREEZE), if any.
 */
export function processImage(proc: Process, callerTid: number | null, table: DescriptionTable): ProcessImage {
  const desc = descriptors(proc, table);
  return {
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
    lwps: proc.lwps.map((l) => lwpImage(l, callerTid)),
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
}

/**
 * `processImage` plus what a process that may have exited needs (describeKernel, and freezes of
 * process trees): `exitStatus`, and `state`, `exitSignal`, `autoReap` in its `hostKernel` map.
 */
export function processImageWithStatus(
  proc: Process,
  callerTid: number | null,
  table: DescriptionTable,
): ProcessImage {
  const image = processImage(proc, callerTid, table);
  const ext = image.extensions?.[EXT_KEY] as CborMap;
  return {
    ...image,
    ...(proc.exitStatus !== null ? { exitStatus: proc.exitStatus } : {}),
    extensions: {
      [EXT_KEY]: { ...ext, state: proc.state, exitSignal: proc.exitSignal, autoReap: proc.autoReap },
    },
  };
}

export function sigacts(proc: Process): SigActionImage[] {
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

export function lwpImage(l: Lwp, callerTid: number | null): LwpImage {
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
            // A thread frozen inside a signal handler (the vkernel's checkpoint handler) keeps
            // the contexts the handler interrupted, for its rt_sigreturn.
            ...(hart.ctx.signalFrames !== undefined && hart.ctx.signalFrames.length > 0
              ? { signalFrames: hart.ctx.signalFrames.map(signalFrameImage) }
              : {}),
          },
        }
      : {}),
    extensions: { [EXT_KEY]: ext },
  };
  return image;
}

function signalFrameImage(f: NativeSignalFrame): CborMap {
  return {
    role: f.role,
    state: f.state as CborValue,
    result: f.result | 0,
    started: f.started,
    x: f.x.map((v) => v >>> 0),
    pc: f.pc >>> 0,
    mask: [f.mask[0] >>> 0, f.mask[1] >>> 0],
  };
}

export function entryImage(e: Process["vm"]["entries"][number]): MapEntryImage {
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
export function descriptors(
  proc: Process,
  table: DescriptionTable,
): { images: DescriptorImage[]; shares: CborValue[] } {
  const { files, carried } = table;
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
    } else if (isUdpSocket(ops)) {
      images.push(socketDescriptorImage(fd, slot.cloexec, file));
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
export function writableFiles(dir: VfsDirectory, prefix: string, out: CborValue[]): void {
  for (const [name, node] of [...dir.children.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const path = `${prefix}/${name}`;
    if (node.type === "dir") writableFiles(node, path, out);
    else if (node.type === "file" && !node.readonly) out.push({ path, data: node.data.slice(0, node.size) });
  }
}

/** The scheduler's CPUs (queues and current LWPs filtered by `keep`). */
export function cpuStateImage(kernel: Kernel, keep: (tid: number) => boolean): CborValue[] {
  return kernel.sched.cpus.map((c) => ({
    current: c.current !== null && keep(c.current) ? c.current : null,
    used: c.used,
    queue: c.queue.filter(keep),
  }));
}

/** Sleep queues in FIFO order (tids filtered by `keep`; empty queues left out). */
export function sleepQueuesImage(kernel: Kernel, keep: (tid: number) => boolean): CborValue[] {
  const out: CborValue[] = [];
  for (const [chan, queue] of kernel.sleepQueues) {
    const kept = queue.filter(keep);
    if (kept.length > 0) out.push({ chan, tids: kept });
  }
  return out;
}

/** The console tty: modes, window size, foreground group `pgrp`, typed-ahead input. */
export function ttyImage(kernel: Kernel, pgrp: number): CborMap {
  const tty = kernel.tty;
  return {
    pgrp,
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
  };
}

/** Scripted input not delivered yet. */
export function inputImage(kernel: Kernel): CborValue[] {
  return kernel.inputQueue.map((ev) =>
    "bytes" in ev
      ? { at: ev.at, bytes: ev.bytes.slice() }
      : { at: ev.at, rows: ev.winsize.rows, cols: ev.winsize.cols },
  );
}
