import { createHash } from "node:crypto";
import type { CborMap, CborValue, LwpImage, TapDescriptorImage } from "@vkc/checkpoint";
import { PAGE_SIZE } from "../cpu/cpu-types.ts";
import { tapSnapshotFromImage } from "../dev/tap-image.ts";
import { FdTable, newOpenFile } from "../fs/fd-table.ts";
import { O_CREAT, O_EXCL, O_TRUNC, type OpenFile } from "../fs/file-types.ts";
import { Pipe, PipeReadOps, PipeWriteOps } from "../fs/pipe.ts";
import { createKernel, type Kernel, type KernelOptions } from "../kernel.ts";
import { rebuildNetStack, rebuildSocket } from "../net/socket-image.ts";
import { type Lwp, Process } from "../proc/proc-types.ts";
import { VmObject } from "../vm/vm-object.ts";
import { VmSpace } from "../vm/vm-space.ts";
import { bytes, CborShapeError, int, ints, list, map, str } from "./ckpt-cbor.ts";
import { RebuildError } from "./ckpt-errors.ts";
import { fromSigSet } from "./ckpt-sigset.ts";
import {
  checkDescription,
  type DescriptorPlan,
  type ObjectPlan,
  type ProcessPlan,
  type RebuildPlan,
} from "./rebuild-check.ts";
import { buildLwp, buildVmSpace, inputEvents, restoreScheduler, restoreTty, sigInfos } from "./thaw.ts";

/** Puts a described page into an object (see `RebuildOptions.adoptPage`). */
export type AdoptPage = (object: VmObject, index: number, ref: CborValue, path: string) => void;

/** Options of `rebuildKernel`: the new kernel's options plus the page and setup hooks. */
export interface RebuildOptions extends KernelOptions {
  /**
   * Put the page `ref` (what `describeKernel`'s `pageRef` returned) at `index` of `object`.
   * Default `adoptPageBytes`: `ref` is the page's bytes, a copy goes into `object.pages`. With the
   * default, pages the description links (one array shared copy-on-write by several objects) are
   * shared again; a custom hook is called for every page, linked or not, and decides.
   */
  adoptPage?: AdoptPage;
  /** Called on the new kernel before any object is made (e.g. to set `kernel.ids.backend`). */
  configure?: (kernel: Kernel) => void;
}

/** The default `adoptPage`: `ref` must be the page's 4096 bytes; a copy becomes the page. */
export function adoptPageBytes(object: VmObject, index: number, ref: CborValue, path: string): void {
  if (!(ref instanceof Uint8Array) || ref.length !== PAGE_SIZE)
    throw new RebuildError(`${path}: expected the page's ${PAGE_SIZE} bytes`);
  object.pages.set(index, ref.slice());
}

/**
 * Build a kernel from `describeKernel`'s description (CHECKPOINT.md "Whole kernels"). The whole
 * description is checked first — types, ranges, unique pids/tids/object ids/fds, every
 * reference — and a bad one throws `RebuildError` naming the field's path, before any kernel
 * exists. Then: the kernel (the description's CPU count and quantum unless given), guest-made
 * files, open file descriptions (pipes, files, taps; shared across processes as described),
 * VM objects with their ids and pages (through `adoptPage`), every process with its map entries,
 * descriptors and LWPs, then the scheduler, sleep queues, clock, PRNG, tty and input exactly as
 * described. No SIGTHAW is posted: a rebuild is not a thaw.
 */
export function rebuildKernel(desc: CborMap, options: RebuildOptions = {}): Kernel {
  const { adoptPage, configure, ...kernelOptions } = options;
  try {
    const plan = checkDescription(desc, {
      natives: new Set(Object.keys(options.natives ?? {})),
      network: options.network !== undefined,
    });
    if (adoptPage === undefined) checkPageBytes(plan);
    return build(plan, kernelOptions, adoptPage ?? null, configure ?? null);
  } catch (error) {
    if (error instanceof CborShapeError) throw new RebuildError(error.message);
    throw error;
  }
}

function checkPageBytes(plan: RebuildPlan): void {
  for (const o of plan.objects)
    for (const p of o.pages)
      if (p.link === null && (!(p.ref instanceof Uint8Array) || p.ref.length !== PAGE_SIZE))
        throw new RebuildError(`${p.path}[1]: expected the page's ${PAGE_SIZE} bytes`);
}

function build(
  plan: RebuildPlan,
  options: KernelOptions,
  adoptPage: AdoptPage | null,
  configure: RebuildOptions["configure"] | null,
): Kernel {
  const k = plan.kernel;
  const kernel = createKernel({
    ...options,
    cpus: options.cpus ?? int(k, "cpus", "kernel", 1, 64),
    quantum: options.quantum ?? int(k, "quantum", "kernel", 1),
    realtimeEpoch: options.realtimeEpoch ?? int(k, "realtimeEpoch", "kernel", 0),
  });
  configure?.(kernel);
  restoreFiles(kernel, k);
  if (k.net !== undefined) {
    try {
      rebuildNetStack(kernel, map(k.net, "kernel.net"), "kernel.net");
    } catch (error) {
      if (error instanceof CborShapeError) throw error;
      throw new RebuildError(firstLine(error), { cause: error });
    }
  }
  // What can still fail (mapped files, files to reopen, then taps and sockets, which reach outside
  // the kernel last) comes before any page is adopted.
  const objects = makeObjects(kernel, plan.objects, int(k, "sigcodeObject", "kernel", 0));
  kernel.ids.next = int(k, "nextObjectId", "kernel", 1);
  const fdTables = openDescriptors(kernel, plan.processes);
  kernel.nextPipeId = int(k, "nextPipeId", "kernel", 1);
  adoptPages(plan.objects, objects, adoptPage);

  const built = new Map<number, Lwp>();
  plan.processes.forEach((pp, i) => {
    const proc = buildProcess(kernel, pp, fdTables[i] as FdTable, objects);
    for (const l of proc.lwps) built.set(l.tid, l);
    kernel.procs.set(proc.pid, proc);
  });
  for (const tid of ints(k, "lwpOrder", "kernel")) kernel.lwps.set(tid, built.get(tid) as Lwp);
  kernel.initPid = int(k, "initPid", "kernel", 0);
  kernel.nextId = int(k, "nextId", "kernel", 1);
  kernel.instructions = int(k, "instructions", "kernel", 0);

  restoreScheduler(kernel, k, (tid) => built.get(tid));
  for (const q of list(k, "sleepQueues", "kernel")) {
    const qm = map(q, "kernel.sleepQueues[]");
    kernel.sleepQueues.set(str(qm, "chan", "kernel.sleepQueues[]"), ints(qm, "tids", "kernel.sleepQueues[]"));
  }
  kernel.sched.prng.state = int(map(k.prng, "kernel.prng"), "state", "kernel.prng") >>> 0;
  restoreTty(kernel, map(k.tty, "kernel.tty"));
  if (options.input === undefined) kernel.inputQueue = inputEvents(k);
  return kernel;
}

/** Files guests made (the restorer's own files stay as they are). */
function restoreFiles(kernel: Kernel, k: CborMap): void {
  list(k, "files", "kernel").forEach((f, i) => {
    const p = `kernel.files[${i}]`;
    const fm = map(f, p);
    const path = str(fm, "path", p);
    if (kernel.vfs.readFile(path) !== undefined) return;
    try {
      kernel.vfs.writeFile(path, bytes(fm, "data", p));
    } catch (error) {
      throw new RebuildError(`${p}.path: cannot create ${path}: ${firstLine(error)}`);
    }
  });
}

/** One open file description per index, kernel-wide (fork shares them); pipes by id. */
function openDescriptors(kernel: Kernel, processes: readonly ProcessPlan[]): FdTable[] {
  const described = new Map<number, OpenFile>();
  const pipes = new Map<number, Pipe>();
  return processes.map((pp) => {
    const fds = new FdTable();
    for (const d of pp.descriptors) {
      let file = described.get(d.index);
      if (file === undefined) {
        file = openFile(kernel, d, pipes);
        file.flags = d.flags;
        file.offset = d.offset;
        described.set(d.index, file);
      }
      fds.installAt(d.image.fd, file, d.image.cloexec);
    }
    return fds;
  });
}

/** A new open file description for descriptor `d` (no descriptor refers to it yet). */
function openFile(kernel: Kernel, d: DescriptorPlan, pipes: Map<number, Pipe>): OpenFile {
  const image = d.image;
  switch (image.kind) {
    case "tty":
      return newOpenFile(kernel.tty, d.flags);
    case "pipe": {
      let pipe = pipes.get(image.pipeId);
      if (pipe === undefined) {
        pipe = new Pipe(image.pipeId, kernel);
        pipes.set(image.pipeId, pipe);
      }
      if (image.buffered instanceof Uint8Array) {
        const n = Math.min(image.buffered.length, pipe.buf.length - pipe.length);
        pipe.buf.set(image.buffered.subarray(0, n), pipe.length);
        pipe.length += n;
      }
      return newOpenFile(image.end === "read" ? new PipeReadOps(pipe) : new PipeWriteOps(pipe), d.flags);
    }
    case "file": {
      const opened = kernel.vfs.open(image.path, image.flags & ~(O_CREAT | O_EXCL | O_TRUNC), kernel);
      if (typeof opened === "number")
        throw new RebuildError(`${d.path}: cannot reopen ${image.path} (errno ${-opened})`);
      return newOpenFile(opened, d.flags);
    }
    case "tap": {
      if (kernel.taps === null) throw new RebuildError(`${d.path}: a tap needs a kernel with a network`);
      try {
        return newOpenFile(
          kernel.taps.reopen(tapSnapshotFromImage(image as TapDescriptorImage, d.tap), kernel),
          d.flags,
        );
      } catch (error) {
        throw new RebuildError(`${d.path}: cannot reopen tap ${image.name}: ${firstLine(error)}`);
      }
    }
    case "socket":
      try {
        return rebuildSocket(kernel, image, d.path);
      } catch (error) {
        throw new RebuildError(firstLine(error), { cause: error });
      }
  }
}

/**
 * VM objects with their described ids, anonymous ones made by the kernel's object factory
 * (`VmSpace.newAnonObject` over `kernel.ids`: its page backend applies to them); file objects over
 * the VFS file at their path, which must have the described SHA-256, with the factory's backend.
 * The kernel's sigcode object stands for its id. The caller sets `ids.next` afterwards.
 */
function makeObjects(kernel: Kernel, plans: readonly ObjectPlan[], sigcodeId: number): Map<number, VmObject> {
  const objects = new Map<number, VmObject>([[sigcodeId, kernel.sigcode]]);
  const factory = new VmSpace(kernel.ids);
  for (const o of plans) {
    let source: { bytes: Uint8Array; path: string; offset: number } | null = null;
    if (o.source !== null) {
      const bytes = kernel.vfs.readFile(o.source.path);
      if (bytes === undefined)
        throw new RebuildError(`${o.path}.path: mapped file ${o.source.path} is missing`);
      if (createHash("sha256").update(bytes).digest("hex") !== o.source.sha256)
        throw new RebuildError(`${o.path}.sha256: mapped file ${o.source.path} has changed`);
      source = { bytes, path: o.source.path, offset: o.source.offset };
    }
    let object: VmObject;
    if (source === null) {
      // The factory itself (so whatever it attaches applies), handing out the described id.
      kernel.ids.next = o.id;
      object = factory.newAnonObject(o.sizePages);
    } else {
      // File objects are made outside the factory and take its backend, as `VmSpace.map` does.
      object = new VmObject(o.id, "file", o.sizePages, source);
      object.backend = kernel.ids.backend;
    }
    objects.set(o.id, object);
  }
  return objects;
}

function adoptPages(
  plans: readonly ObjectPlan[],
  objects: ReadonlyMap<number, VmObject>,
  adoptPage: AdoptPage | null,
): void {
  for (const o of plans) {
    const object = objects.get(o.id) as VmObject;
    for (const p of o.pages) {
      if (adoptPage !== null) adoptPage(object, p.index, p.ref, `${p.path}[1]`);
      else if (p.link !== null) {
        const shared = objects.get(p.link[0])?.pages.get(p.link[1]);
        if (shared !== undefined) object.pages.set(p.index, shared);
      } else adoptPageBytes(object, p.index, p.ref, `${p.path}[1]`);
    }
    for (const index of o.cow) object.cow.add(index);
    object.dirty.clear();
  }
}

function buildProcess(
  kernel: Kernel,
  pp: ProcessPlan,
  fds: FdTable,
  objects: ReadonlyMap<number, VmObject>,
): Process {
  const image = pp.image;
  const ext = pp.ext;
  const where = `${pp.path}.extensions.hostKernel`;
  const vm = buildVmSpace(kernel, image.vmspace, objects);

  const proc = new Process(
    image.pid,
    image.ppid,
    image.pgid,
    image.sid,
    [...image.argv],
    [...image.envp],
    fds,
    vm,
    str(ext, "exe", where),
  );
  proc.comm = image.comm;
  proc.exeHash = str(ext, "exeHash", where);
  proc.cred = {
    uid: image.cred.uid,
    gid: image.cred.gid,
    euid: int(ext, "euid", where),
    egid: int(ext, "egid", where),
  };
  proc.stopped = (image.flags & 1) !== 0;
  proc.state = pp.state;
  proc.exitStatus = pp.exitStatus;
  proc.exitSignal = pp.exitSignal;
  proc.autoReap = pp.autoReap;
  for (const a of image.sigacts) {
    const slot = proc.sigacts[a.signal];
    if (slot === undefined) continue;
    slot.handler = a.handler;
    slot.flags = a.flags;
    slot.mask = fromSigSet(a.mask);
  }
  const pending = ints(ext, "pending", where);
  proc.pending = fromSigSet([pending[0] ?? 0, pending[1] ?? 0]);
  sigInfos(list(ext, "pendingInfo", where), proc.pendingInfo, `${where}.pendingInfo`);
  image.lwps.forEach((l: LwpImage, i) => {
    proc.lwps.push(buildLwp(kernel, proc, l, pp.lwpExts[i] as CborMap, 1));
  });
  return proc;
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0] ?? "unknown error";
}
