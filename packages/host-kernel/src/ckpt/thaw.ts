import { createHash } from "node:crypto";
import type { CborMap, CborValue, ImageStore, LwpImage, Manifest, ProcessImage } from "@vkc/checkpoint";
import { CheckpointError, lazyPageReader } from "@vkc/checkpoint";
import { PAGE_SIZE } from "../cpu/cpu-types.ts";
import { Hart } from "../cpu/hart.ts";
import type { InputEvent } from "../dev/input-script.ts";
import type { TapConfig } from "../dev/tap.ts";
import { tapSnapshotFromImage } from "../dev/tap-image.ts";
import { FdTable, newOpenFile } from "../fs/fd-table.ts";
import { type FileOps, O_CREAT, O_EXCL, O_TRUNC, type OpenFile } from "../fs/file-types.ts";
import { Pipe, PipeReadOps, PipeWriteOps } from "../fs/pipe.ts";
import { createKernel, type Kernel, type KernelOptions } from "../kernel.ts";
import { NativeHart } from "../native/native-hart.ts";
import type { NativeSignalFrame, NativeState } from "../native/native-types.ts";
import { rebuildNetStack, rebuildSocket } from "../net/socket-image.ts";
import type { LwpHart } from "../proc/proc-hart.ts";
import { Lwp, type LwpState, Process, type SigInfo, type SleepMode } from "../proc/proc-types.ts";
import { SI_KERNEL, SIGTHAW } from "../signal/signal-numbers.ts";
import { VmObject } from "../vm/vm-object.ts";
import { type VmMapEntry, VmSpace } from "../vm/vm-space.ts";
import {
  bool,
  bytes,
  CborShapeError,
  int,
  intOrNull,
  ints,
  isMap,
  list,
  map,
  str,
  strOrNull,
} from "./ckpt-cbor.ts";
import {
  ThawExecutableMismatchError,
  ThawExecutableMissingError,
  ThawInvalidImageError,
  ThawReadError,
} from "./ckpt-errors.ts";
import { fromImageEntryFlags } from "./ckpt-flags.ts";
import { EXT_KEY, EXT_VERSION, PRNG_ALGORITHM } from "./ckpt-images.ts";
import { fromSigSet } from "./ckpt-sigset.ts";
import { LazyRestore } from "./thaw-lazy.ts";
import { thawTree } from "./thaw-tree.ts";

export interface ThawOptions extends KernelOptions {
  /** What the LWP that froze itself with sys_checkpoint(FREEZE) sees as its result (default 1). */
  retval?: number;
  /**
   * Lazy restore: build the process with its page maps but no page bytes; each page is read
   * (and checked) when first touched, the rest in the background between slices (`Thawed.lazy`).
   * The store must read synchronously (file and memory stores do). Default false: every page is
   * read and checked before the kernel is built.
   */
  lazy?: boolean;
}

export interface Thawed {
  readonly kernel: Kernel;
  readonly pid: number;
  readonly id: string;
  readonly manifest: Manifest;
  /** A lazy thaw's page loader (its progress, `finish()`); null for an eager thaw. */
  readonly lazy: LazyRestore | null;
}

const SLEEP_MODES = new Set<SleepMode>(["retry", "umtx", "nanosleep"]);
const LWP_STATES = new Set<LwpState>(["runnable", "sleeping", "stopped", "zombie"]);
const NS = 0xffff_ffff;

/** Everything the thaw needs, checked and decoded before any kernel object is made. */
interface Plan {
  readonly id: string;
  readonly manifest: Manifest;
  readonly proc: ProcessImage;
  readonly kernelExt: CborMap;
  readonly procExt: CborMap;
  readonly lwpExts: CborMap[];
  readonly files: Map<string, Uint8Array>;
  readonly pages: Map<number, Map<number, Uint8Array>>;
  /** Lazy thaw: where pages come from instead of `pages`. */
  lazy: LazyRestore | null;
}

/**
 * Thaw image `ref` of `images` into a fresh kernel (ARCHITECTURE §3, thaw order): read and
 * validate the whole image first — counts, ranges, TIDs, entries, executables (by SHA-256 against
 * the file at their path, or the embedded copy), every page — then create the kernel, map
 * objects and entries, reopen descriptors, build every LWP with its saved TID, restore the
 * scheduler queues, sleep queues, clock and PRNG exactly, and post SIGTHAW. Nothing outside the
 * new kernel is touched, so a failing thaw leaves the caller as it was; errors are one line.
 */
export async function thawProcess(
  images: ImageStore,
  ref: string,
  options: ThawOptions = {},
): Promise<Thawed> {
  const { id, manifest } = await readManifest(images, ref);
  // A process with its descendants (CHECKPOINT.md "Process trees"): thaw-tree.ts.
  if (manifest.kind === "process" && manifest.processes.length > 1)
    return thawTree(images, id, manifest, options);
  const plan = await readPlan(images, ref, id, manifest, options);
  const kernel = build(plan, options);
  return { kernel, pid: plan.proc.pid, id: plan.id, manifest: plan.manifest, lazy: plan.lazy };
}

async function readManifest(images: ImageStore, ref: string): Promise<{ id: string; manifest: Manifest }> {
  try {
    const id = await images.resolve(ref);
    return { id, manifest: await images.readManifest(id) };
  } catch (cause) {
    throw new ThawReadError(ref, firstLine(cause), { cause });
  }
}

async function readPlan(
  images: ImageStore,
  ref: string,
  id: string,
  manifest: Manifest,
  options: ThawOptions,
): Promise<Plan> {
  const plan = validate(id, manifest, options.network !== undefined);
  await checkExecutables(images, manifest, plan.files, options);
  if (options.lazy === true) {
    for (const o of manifest.objects) {
      const last = o.pages.indexes[o.pages.indexes.length - 1];
      if (last !== undefined && last >= o.size)
        throw new ThawInvalidImageError(id, `page ${last} of object ${o.id} is out of range`);
    }
    try {
      plan.lazy = new LazyRestore(await lazyPageReader(images, id));
    } catch (cause) {
      throw new ThawReadError(ref, firstLine(cause), { cause });
    }
    return plan;
  }
  const objects = new Map(manifest.objects.map((o) => [o.id, o]));
  try {
    for await (const page of images.readPages(id)) {
      const object = objects.get(page.objectId);
      if (object === undefined || page.pageIndex >= object.size || page.bytes.length !== PAGE_SIZE)
        throw new ThawInvalidImageError(
          id,
          `page ${page.pageIndex} of object ${page.objectId} is out of range`,
        );
      let m = plan.pages.get(page.objectId);
      if (m === undefined) {
        m = new Map();
        plan.pages.set(page.objectId, m);
      }
      m.set(page.pageIndex, page.bytes.slice());
    }
  } catch (cause) {
    if (cause instanceof ThawInvalidImageError) throw cause;
    throw new ThawReadError(ref, firstLine(cause), { cause });
  }
  return plan;
}

export function firstLine(error: unknown): string {
  const message = CheckpointError.isInstance(error) || error instanceof Error ? error.message : String(error);
  return message.split("\n")[0] ?? "unknown error";
}

// ---- validation -----------------------------------------------------------------------------

function validate(id: string, manifest: Manifest, network: boolean): Plan {
  const bad = (problem: string): never => {
    throw new ThawInvalidImageError(id, problem);
  };
  // A "vkernel" image is the process image of a vkernel plus its `vkernel` map (FORMAT.md §4.1).
  if (manifest.kind !== "process" && manifest.kind !== "vkernel")
    bad(`it is a ${String(manifest.kind)} image, not a process image`);
  if (manifest.processes.length !== 1) bad(`it holds ${manifest.processes.length} processes, expected 1`);
  const proc = manifest.processes[0] as ProcessImage;
  if (manifest.prng.algorithm !== PRNG_ALGORITHM || manifest.prng.state.length !== 1)
    bad(`PRNG ${manifest.prng.algorithm} with ${manifest.prng.state.length} words is not ${PRNG_ALGORITHM}`);
  try {
    const kernelExt = map(manifest.extensions?.[EXT_KEY], "extensions.hostKernel");
    if (int(kernelExt, "v", "extensions.hostKernel") !== EXT_VERSION)
      bad("host-kernel state version is not 1");
    const procExt = map(proc.extensions?.[EXT_KEY], "process.extensions.hostKernel");
    if (proc.lwps.length === 0) bad("the process has no threads");
    const tids = new Set<number>();
    const lwpExts = proc.lwps.map((l, i) => {
      if (tids.has(l.tid)) bad(`thread id ${l.tid} appears twice`);
      tids.add(l.tid);
      if (l.regs.length !== 33) bad(`thread ${l.tid} has ${l.regs.length} registers, expected 33`);
      const ext = map(l.extensions?.[EXT_KEY], `lwps[${i}].extensions.hostKernel`);
      const state = str(ext, "state", `lwp ${l.tid}`);
      if (!LWP_STATES.has(state as LwpState)) bad(`thread ${l.tid} has unknown state ${state}`);
      const mode = str(ext, "sleepMode", `lwp ${l.tid}`);
      if (!SLEEP_MODES.has(mode as SleepMode)) bad(`thread ${l.tid} has unknown sleep mode ${mode}`);
      return ext;
    });
    const cpus = int(kernelExt, "cpus", "hostKernel", 1, 64);
    int(kernelExt, "quantum", "hostKernel", 1);
    const nextId = int(kernelExt, "nextId", "hostKernel", 1);
    if (proc.pid >= nextId || [...tids].some((t) => t >= nextId)) bad("a pid or tid is not below nextId");
    const cpuState = list(kernelExt, "cpuState", "hostKernel");
    if (cpuState.length !== cpus) bad(`${cpuState.length} CPU states for ${cpus} CPUs`);
    for (const [i, c] of cpuState.entries()) {
      const cm = map(c, `cpuState[${i}]`);
      for (const t of ints(cm, "queue", `cpuState[${i}]`))
        if (!tids.has(t)) bad(`CPU ${i} queues unknown thread ${t}`);
      const cur = intOrNull(cm, "current", `cpuState[${i}]`);
      if (cur !== null && !tids.has(cur)) bad(`CPU ${i} runs unknown thread ${cur}`);
    }
    for (const [i, q] of list(kernelExt, "sleepQueues", "hostKernel").entries()) {
      const qm = map(q, `sleepQueues[${i}]`);
      str(qm, "chan", `sleepQueues[${i}]`);
      for (const t of ints(qm, "tids", `sleepQueues[${i}]`))
        if (!tids.has(t)) bad(`a sleep queue holds unknown thread ${t}`);
    }
    const objects = new Map(manifest.objects.map((o) => [o.id, o]));
    if (objects.size !== manifest.objects.length) bad("two VM objects share an id");
    const nextObjectId = int(kernelExt, "nextObjectId", "hostKernel", 1);
    if (manifest.objects.some((o) => o.id >= nextObjectId)) bad("a VM object id is not below nextObjectId");
    let end = 0;
    for (const e of proc.vmspace.entries) {
      if (e.start % PAGE_SIZE !== 0 || e.end % PAGE_SIZE !== 0 || e.start >= e.end || e.end > 2 ** 32)
        bad(`map entry 0x${e.start.toString(16)}-0x${e.end.toString(16)} is not a page-aligned range`);
      if (e.start < end) bad(`map entry at 0x${e.start.toString(16)} overlaps the one before it`);
      end = e.end;
      const o = e.objectId === undefined ? undefined : objects.get(e.objectId);
      if (o === undefined) bad(`map entry at 0x${e.start.toString(16)} has no VM object`);
      else if (e.offset + (e.end - e.start) / PAGE_SIZE > o.size)
        bad(`map entry at 0x${e.start.toString(16)} maps past the end of object ${o.id}`);
    }
    const fds = new Set<number>();
    for (const d of proc.descriptors) {
      if (fds.has(d.fd)) bad(`descriptor ${d.fd} appears twice`);
      fds.add(d.fd);
      if (d.kind === "tap" && !network)
        bad(
          `descriptor ${d.fd} is tap ${d.name}: thaw it into a kernel with a network (KernelOptions.network)`,
        );
    }
    const shares = list(procExt, "fdFiles", "process.hostKernel");
    if (shares.length !== proc.descriptors.length)
      bad("descriptor sharing table does not match the descriptors");
    for (const f of list(kernelExt, "files", "hostKernel")) {
      const fm = map(f, "files[]");
      str(fm, "path", "files[]");
      bytes(fm, "data", "files[]");
    }
    return {
      id,
      manifest,
      proc,
      kernelExt,
      procExt,
      lwpExts,
      files: new Map(),
      pages: new Map(),
      lazy: null,
    };
  } catch (error) {
    if (error instanceof CborShapeError) bad(error.message);
    throw error;
  }
}

/**
 * Check every executable of `manifest`: the file at its path (`options.files`) must have the saved
 * SHA-256, else the embedded copy is read, checked and put in `files`, else the thaw fails.
 */
export async function checkExecutables(
  images: ImageStore,
  manifest: Manifest,
  files: Map<string, Uint8Array>,
  options: ThawOptions,
): Promise<void> {
  const given = options.files ?? {};
  const lookup = (path: string): Uint8Array | undefined =>
    given instanceof Map ? given.get(path) : (given as Readonly<Record<string, Uint8Array>>)[path];
  for (const exe of manifest.executables) {
    const file = lookup(exe.path);
    if (file !== undefined) {
      const got = sha256(file);
      if (got !== exe.sha256) throw new ThawExecutableMismatchError(exe.path, exe.sha256, got);
      continue;
    }
    if (exe.embedded === undefined) throw new ThawExecutableMissingError(exe.path);
    let bytes: Uint8Array;
    try {
      bytes = await images.readBlob(exe.embedded);
    } catch (cause) {
      throw new ThawReadError(exe.path, `embedded executable: ${firstLine(cause)}`, { cause });
    }
    const got = sha256(bytes);
    if (got !== exe.sha256) throw new ThawExecutableMismatchError(exe.path, exe.sha256, got);
    files.set(exe.path, bytes);
  }
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

// ---- building the kernel --------------------------------------------------------------------

/** Pending siginfo list of an image into `into` (checked reads). */
export function sigInfos(values: readonly unknown[], into: Map<number, SigInfo>, path: string): void {
  for (const v of values) {
    const m = map(v as CborMap, path);
    const info: SigInfo = {
      signo: int(m, "signo", path, 1, 64),
      code: int(m, "code", path, -(2 ** 31), 2 ** 31 - 1),
      addr: int(m, "addr", path, 0, NS),
      pid: int(m, "pid", path, 0, NS),
      uid: int(m, "uid", path, 0, NS),
    };
    // SIGCHLD's si_status (absent in images written before it was kept).
    if (m.status !== undefined) info.status = int(m, "status", path, -(2 ** 31), 2 ** 31 - 1);
    into.set(info.signo, info);
  }
}

function build(plan: Plan, options: ThawOptions): Kernel {
  const { id, proc: image, kernelExt: kx, procExt: px } = plan;
  const bad = (problem: string): never => {
    throw new ThawInvalidImageError(id, problem);
  };
  try {
    const files = new Map<string, Uint8Array>();
    const given = options.files ?? {};
    for (const [p, b] of given instanceof Map ? given : Object.entries(given)) files.set(p, b as Uint8Array);
    for (const [p, b] of plan.files) files.set(p, b);
    const { retval: _retval, lazy: _lazy, ...kernelOptions } = options;
    const kernel = createKernel({
      ...kernelOptions,
      cpus: options.cpus ?? int(kx, "cpus", "hostKernel", 1, 64),
      quantum: options.quantum ?? int(kx, "quantum", "hostKernel", 1),
      realtimeEpoch: options.realtimeEpoch ?? int(kx, "realtimeEpoch", "hostKernel", 0),
      files,
    });
    // The network stack (interfaces, ARP state, ephemeral ports) when the process held sockets.
    if (kx.net !== undefined) {
      try {
        rebuildNetStack(kernel, map(kx.net, "hostKernel.net"), "hostKernel.net");
      } catch (error) {
        if (error instanceof CborShapeError) throw error;
        bad(firstLine(error));
      }
    }
    // Files the guest made (the restorer's imports stay as they are).
    for (const f of list(kx, "files", "hostKernel")) {
      const fm = map(f, "files[]");
      const path = str(fm, "path", "files[]");
      if (kernel.vfs.readFile(path) === undefined) kernel.vfs.writeFile(path, bytes(fm, "data", "files[]"));
    }

    // 1. The address space: objects with their ids and pages, then the entries.
    kernel.ids.next = int(kx, "nextObjectId", "hostKernel", 1);
    const sigcodeId = int(kx, "sigcodeObject", "hostKernel", 0);
    const objectInfo = new Map<number, CborMap>();
    for (const f of list(kx, "objects", "hostKernel")) {
      const fm = map(f, "objects[]");
      objectInfo.set(int(fm, "id", "objects[]"), fm);
    }
    const objects = new Map<number, VmObject>();
    for (const o of plan.manifest.objects) {
      if (o.id === sigcodeId) {
        objects.set(o.id, kernel.sigcode);
        continue;
      }
      let object: VmObject;
      const fx = objectInfo.get(o.id);
      const sizePages = fx === undefined ? o.size : int(fx, "sizePages", "objects[]");
      if (o.kind === "file" && fx !== undefined) {
        const path = o.path ?? "";
        const source = kernel.vfs.readFile(path);
        if (source === undefined) bad(`mapped file ${path} is missing`);
        else if (sha256(source) !== o.sha256) bad(`mapped file ${path} has changed`);
        object = new VmObject(o.id, "file", sizePages, {
          bytes: source as Uint8Array,
          path,
          offset: int(fx, "sourceOffset", "objects[]"),
        });
      } else {
        object = new VmObject(o.id, "anon", sizePages);
      }
      for (const [index, page] of plan.pages.get(o.id) ?? []) object.pages.set(index, page);
      plan.lazy?.attach(object, o.id, o.pages.indexes);
      object.dirty.clear();
      objects.set(o.id, object);
    }
    const vm = buildVmSpace(kernel, image.vmspace, objects);

    // 2. Descriptors: one open file description per shared index; pipes by id.
    const fds = new FdTable();
    // fd → [open file description index, its flags, its offset]
    const shares = new Map<number, [number, number, number]>();
    const tapConfigs = new Map<number, Partial<Pick<TapConfig, "up" | "bridge" | "maxQueue" | "baudrate">>>();
    for (const s of list(px, "fdFiles", "process.hostKernel")) {
      if (
        !Array.isArray(s) ||
        (s.length !== 4 && s.length !== 5) ||
        !s.slice(0, 4).every((v) => typeof v === "number" && Number.isSafeInteger(v))
      )
        throw new CborShapeError("fdFiles[]: expected [fd, file, flags, offset, tap config?]");
      const [fd, index, flags, offset] = s as [number, number, number, number];
      shares.set(fd, [index, flags, offset]);
      if (s.length === 5) tapConfigs.set(fd, tapConfig(s[4] as CborValue, `fdFiles[${fd}]`));
    }
    const described = new Map<number, OpenFile>();
    const pipes = new Map<number, Pipe>();
    for (const d of image.descriptors) {
      const [index, flags, offset] = shares.get(d.fd) ?? [-1 - d.fd, 0, 0];
      let file = described.get(index);
      if (file === undefined && d.kind === "socket") {
        try {
          file = rebuildSocket(kernel, d, `descriptor ${d.fd}`);
        } catch (error) {
          bad(firstLine(error));
          throw error;
        }
        file.flags = flags;
        file.offset = offset;
        described.set(index, file);
      }
      if (file === undefined) {
        let ops: FileOps;
        if (d.kind === "tty") {
          ops = kernel.tty;
        } else if (d.kind === "pipe") {
          let pipe = pipes.get(d.pipeId);
          if (pipe === undefined) {
            pipe = new Pipe(d.pipeId, kernel);
            pipes.set(d.pipeId, pipe);
          }
          if (d.buffered instanceof Uint8Array) {
            pipe.buf.set(d.buffered.subarray(0, pipe.buf.length), pipe.length);
            pipe.length += Math.min(d.buffered.length, pipe.buf.length - pipe.length);
          } else if (d.buffered !== undefined) {
            bad(`pipe ${d.pipeId} keeps its buffer in a blob, which this kernel does not read yet`);
          }
          ops = d.end === "read" ? new PipeReadOps(pipe) : new PipeWriteOps(pipe);
        } else if (d.kind === "file") {
          const opened = kernel.vfs.open(d.path, d.flags & ~(O_CREAT | O_EXCL | O_TRUNC), kernel);
          if (typeof opened === "number")
            bad(`descriptor ${d.fd}: cannot reopen ${d.path} (errno ${-opened})`);
          ops = opened as FileOps;
        } else if (d.kind === "tap" && kernel.taps !== null) {
          try {
            ops = kernel.taps.reopen(tapSnapshotFromImage(d, tapConfigs.get(d.fd) ?? {}), kernel);
          } catch (error) {
            bad(`descriptor ${d.fd}: cannot reopen tap ${d.name}: ${firstLine(error)}`);
            throw error;
          }
        } else {
          bad(`descriptor ${d.fd} is a ${d.kind}`);
          throw new Error("unreachable");
        }
        file = newOpenFile(ops, flags);
        file.offset = offset;
        described.set(index, file);
      }
      fds.installAt(d.fd, file, d.cloexec);
    }
    kernel.nextPipeId = int(kx, "nextPipeId", "hostKernel", 1);

    // 3. The process.
    const exe = str(px, "exe", "process.hostKernel");
    const proc = new Process(
      image.pid,
      image.ppid,
      image.pgid,
      image.sid,
      [...image.argv],
      [...image.envp],
      fds,
      vm,
      exe,
    );
    proc.comm = image.comm;
    proc.exeHash = str(px, "exeHash", "process.hostKernel");
    proc.cred = {
      uid: image.cred.uid,
      gid: image.cred.gid,
      euid: int(px, "euid", "process.hostKernel", 0, NS),
      egid: int(px, "egid", "process.hostKernel", 0, NS),
    };
    proc.stopped = (image.flags & 1) !== 0;
    for (const a of image.sigacts) {
      const slot = proc.sigacts[a.signal];
      if (slot === undefined) bad(`sigaction for signal ${a.signal}`);
      else {
        slot.handler = a.handler;
        slot.flags = a.flags;
        slot.mask = fromSigSet(a.mask);
      }
    }
    const pending = ints(px, "pending", "process.hostKernel", 0, NS);
    proc.pending = fromSigSet([pending[0] ?? 0, pending[1] ?? 0]);
    sigInfos(list(px, "pendingInfo", "process.hostKernel"), proc.pendingInfo, "process.pendingInfo");

    // 4. Every LWP with its saved TID, before any is scheduled.
    const retval = options.retval ?? 1;
    image.lwps.forEach((l, i) => {
      const lwp = buildLwp(kernel, proc, l, plan.lwpExts[i] as CborMap, retval);
      proc.lwps.push(lwp);
      kernel.lwps.set(lwp.tid, lwp);
    });
    kernel.procs.set(proc.pid, proc);
    kernel.initPid = proc.pid;
    kernel.nextId = int(kx, "nextId", "hostKernel", 1);
    kernel.instructions = plan.manifest.clock.instructions;

    // 5. Scheduler, sleep queues, PRNG, tty, input: exactly as frozen.
    restoreScheduler(kernel, kx, (tid) => proc.lwps.find((l) => l.tid === tid));
    for (const q of list(kx, "sleepQueues", "hostKernel")) {
      const qm = map(q, "sleepQueues[]");
      kernel.sleepQueues.set(str(qm, "chan", "sleepQueues[]"), ints(qm, "tids", "sleepQueues[]"));
    }
    kernel.sched.prng.state = (plan.manifest.prng.state[0] ?? 0) >>> 0;
    restoreTty(kernel, map(kx.tty, "hostKernel.tty"));
    if (options.input === undefined) kernel.inputQueue = inputEvents(kx);

    // 6. SIGTHAW (ignored unless caught).
    kernel.postSignal(proc, SIGTHAW, { signo: SIGTHAW, code: SI_KERNEL, addr: 0, pid: 0, uid: 0 });
    kernel.background = plan.lazy;
    return kernel;
  } catch (error) {
    if (error instanceof CborShapeError) bad(error.message);
    throw error;
  }
}

/**
 * An LWP from its image and `hostKernel` extension: registers, TID, CPU, masks, pending signals,
 * altstack, sleep and LR/SC reservation. RISC-V LWPs get the kernel's hart (`createHart`), native
 * ones a NativeHart of the registered program. Not linked into the process or kernel.
 */
export function buildLwp(kernel: Kernel, proc: Process, l: LwpImage, ext: CborMap, retval: number): Lwp {
  const path = `lwp ${l.tid}`;
  const x = l.regs.slice(0, 32).map((v) => v >>> 0);
  const pc = (l.regs[32] ?? 0) >>> 0;
  let hart: LwpHart;
  if (l.native !== undefined) {
    const program = kernel.natives.get(proc.exe);
    if (program === undefined)
      throw new CborShapeError(`${path}: native program ${proc.exe} is not registered`);
    const n = map(l.native, `${path}.native`);
    const native = new NativeHart(
      program,
      {
        role: str(n, "role", path),
        state: (n.state ?? null) as NativeState,
        result: int(n, "result", path, -(2 ** 31), NS),
      },
      { pid: proc.pid, tid: l.tid, vm: proc.vm },
    );
    native.started = bool(n, "started", path);
    const frames = signalFrames(n, `${path}.native`);
    if (frames.length > 0) native.ctx.signalFrames = frames;
    native.setContext({ x, pc });
    hart = native;
  } else {
    hart = kernel.createHart(proc.vm);
    hart.setContext({ x, pc });
    if (hart instanceof Hart) hart.instret = int(ext, "instret", path);
  }
  const cpus = kernel.sched.cpus.length;
  const lwp = new Lwp(l.tid, proc, hart, int(ext, "cpu", path, 0, 63) % cpus);
  lwp.state = str(ext, "state", path) as LwpState;
  lwp.sigmask = fromSigSet(l.sigmask);
  lwp.pending = fromSigSet(l.pending);
  sigInfos(list(ext, "pendingInfo", path), lwp.pendingInfo, `${path}.pendingInfo`);
  lwp.altstack = { sp: l.altstack.sp, size: l.altstack.size, flags: l.altstack.flags };
  lwp.sleepMode = str(ext, "sleepMode", path) as SleepMode;
  lwp.wchan = strOrNull(ext, "wchan", path);
  lwp.deadline = intOrNull(ext, "deadline", path);
  const interrupted = strOrNull(ext, "interrupted", path);
  lwp.interrupted =
    interrupted !== null && SLEEP_MODES.has(interrupted as SleepMode) ? (interrupted as SleepMode) : null;
  lwp.timedOut = bool(ext, "timedOut", path);
  lwp.tidAddr = int(ext, "tidAddr", path, 0, NS);
  // A sleeping LWP sits on its ecall with a7/a0..a5 unchanged: its sleep continues as it was
  // (same channel, place in the FIFO, deadline, completion rule), so the call completes or
  // restarts exactly as it would have. The model's `state` says the same for other readers.
  if (lwp.state === "sleeping") lwp.syscall = { nr: x[17] as number, args: x.slice(10, 16) };
  const reservation = intOrNull(ext, "reservation", path, 0, NS);
  if (reservation !== null) proc.vm.reservations.reserve(hart, reservation);
  if (bool(ext, "ckptCaller", path)) {
    // It froze itself: its sys_checkpoint(FREEZE) returns the restorer's retval.
    hart.x[10] = retval | 0;
    hart.pc = (hart.pc + 4) >>> 0;
  }
  return lwp;
}

/**
 * The scheduler exactly as saved (round start, cursor, each CPU's queue, current LWP and use);
 * with another CPU count a new round starts and runnable LWPs go to `cpu mod n`.
 */
export function restoreScheduler(kernel: Kernel, kx: CborMap, lwpOf: (tid: number) => Lwp | undefined): void {
  const sched = kernel.sched;
  const saved = list(kx, "cpuState", "hostKernel").map((c, i) => map(c, `cpuState[${i}]`));
  sched.roundStart = int(kx, "roundStart", "hostKernel");
  if (saved.length === sched.cpus.length) {
    sched.cursor = int(kx, "cursor", "hostKernel", 0, sched.cpus.length - 1);
    saved.forEach((c, i) => {
      const cpu = sched.cpus[i];
      if (cpu === undefined) return;
      cpu.current = intOrNull(c, "current", `cpuState[${i}]`);
      cpu.used = int(c, "used", `cpuState[${i}]`);
      cpu.queue.push(...ints(c, "queue", `cpuState[${i}]`));
    });
    return;
  }
  // Another CPU count: a new round starts; runnable LWPs go to their CPU modulo the new count.
  sched.cursor = 0;
  const order: number[] = [];
  for (const c of saved) {
    const cur = intOrNull(c, "current", "cpuState[]");
    if (cur !== null) order.push(cur);
  }
  for (const c of saved) order.push(...ints(c, "queue", "cpuState[]"));
  for (const tid of order) {
    const lwp = lwpOf(tid);
    if (lwp !== undefined && lwp.state === "runnable") sched.enqueue(tid, lwp.cpu);
  }
}

/** The console tty: window size, modes, foreground group, typed-ahead input. */
export function restoreTty(kernel: Kernel, t: CborMap): void {
  const tty = kernel.tty;
  const ws = ints(t, "winsize", "tty", 0, 0xffff);
  tty.winsize = { rows: ws[0] ?? 24, cols: ws[1] ?? 80, xpixel: ws[2] ?? 0, ypixel: ws[3] ?? 0 };
  const tm = map(t.termios, "tty.termios");
  tty.termios = {
    iflag: int(tm, "iflag", "tty.termios", 0, NS),
    oflag: int(tm, "oflag", "tty.termios", 0, NS),
    cflag: int(tm, "cflag", "tty.termios", 0, NS),
    lflag: int(tm, "lflag", "tty.termios", 0, NS),
    line: int(tm, "line", "tty.termios", 0, 255),
    cc: [...bytes(tm, "cc", "tty.termios")],
  };
  const pgrp = int(t, "pgrp", "tty", 0, NS);
  if (pgrp !== 0) tty.pgrp = pgrp;
  tty.lines = list(t, "lines", "tty").map((b) => {
    if (!(b instanceof Uint8Array)) throw new CborShapeError("tty.lines: expected byte strings");
    return [...b];
  });
  tty.partial = [...bytes(t, "partial", "tty")];
  tty.raw = [...bytes(t, "raw", "tty")];
}

/** Scripted input not delivered yet. */
export function inputEvents(kx: CborMap): InputEvent[] {
  return list(kx, "input", "hostKernel").map((e, i) => {
    const m = map(e, `input[${i}]`);
    const at = int(m, "at", `input[${i}]`);
    if (isMap(m) && m.bytes instanceof Uint8Array) return { at, bytes: m.bytes.slice() };
    return {
      at,
      winsize: {
        rows: int(m, "rows", `input[${i}]`, 0, 0xffff),
        cols: int(m, "cols", `input[${i}]`, 0, 0xffff),
      },
    };
  });
}

/** The host-side tap config a freeze keeps beside a tap descriptor (see freeze.ts). */
export function tapConfig(
  v: CborValue | undefined,
  where: string,
): Partial<Pick<TapConfig, "up" | "bridge" | "maxQueue" | "baudrate">> {
  const m = map(v, where);
  const out: Partial<Pick<TapConfig, "up" | "bridge" | "maxQueue" | "baudrate">> = {};
  if (typeof m.up === "boolean") out.up = m.up;
  if (typeof m.bridge === "string") out.bridge = m.bridge;
  if (typeof m.maxQueue === "number") out.maxQueue = int(m, "maxQueue", where, 1, 65536);
  if (typeof m.baudrate === "number") out.baudrate = int(m, "baudrate", where, 0);
  return out;
}

/** The contexts a native signal handler interrupted (innermost last), checked. */
export function signalFrames(n: CborMap, path: string): NativeSignalFrame[] {
  return list(n, "signalFrames", path).map((v, i) => {
    const p = `${path}.signalFrames[${i}]`;
    const f = map(v, p);
    const x = ints(f, "x", p, 0, NS);
    if (x.length !== 32) throw new CborShapeError(`${p}.x: expected 32 registers`);
    const mask = ints(f, "mask", p, 0, NS);
    if (mask.length !== 2) throw new CborShapeError(`${p}.mask: expected [lo, hi]`);
    return {
      role: str(f, "role", p),
      state: (f.state ?? null) as NativeState,
      result: int(f, "result", p, -(2 ** 31), NS),
      started: bool(f, "started", p),
      x,
      pc: int(f, "pc", p, 0, NS),
      mask: [mask[0] as number, mask[1] as number],
    };
  });
}

/** A process's address space from its image: map entries over the already built `objects`. */
export function buildVmSpace(
  kernel: Kernel,
  vmspace: ProcessImage["vmspace"],
  objects: ReadonlyMap<number, VmObject>,
): VmSpace {
  const vm = new VmSpace(kernel.ids);
  for (const e of vmspace.entries) {
    const object = objects.get(e.objectId ?? -1) as VmObject;
    object.refs += 1;
    const entry: VmMapEntry = {
      start: e.start,
      end: e.end,
      prot: e.prot,
      maxprot: e.maxprot ?? e.prot,
      flags: fromImageEntryFlags(e.flags),
      object,
      offset: e.offset * PAGE_SIZE,
      type: e.type,
      masterPde: e.masterPde ?? 0,
    };
    vm.entries.push(entry);
  }
  vm.brkBase = vmspace.brk.start;
  vm.brk = vmspace.brk.end;
  vm.invalidate();
  return vm;
}
