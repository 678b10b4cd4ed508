import type { CborMap, CborValue, DescriptorImage, ProcessImage } from "@vkc/checkpoint";
import type { TapConfig } from "../dev/tap.ts";
import { FD_LIMIT } from "../fs/fd-table.ts";
import { PIPE_BUF_SIZE } from "../fs/pipe.ts";
import type { ProcState } from "../proc/proc-types.ts";
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
import { EXT_KEY, EXT_VERSION, PRNG_ALGORITHM } from "./ckpt-images.ts";
import { KERNEL_DESCRIPTION_VERSION } from "./describe.ts";
import { signalFrames, tapConfig } from "./thaw.ts";

/**
 * The checks `rebuildKernel` makes on a whole description before it builds anything: every field
 * it reads has the right type and range, ids are unique, and references (object ids, tids in run
 * and sleep queues, linked pages, descriptor sharing) point at something described. Throws
 * `CborShapeError` naming the field's path; returns the description decoded into a plan.
 */

const U32 = 0xffff_ffff;
const I32_MIN = -(2 ** 31);
/** Page indexes and object sizes stay inside a 32-bit address space (with room for offsets). */
const MAX_PAGES = 2 ** 21;
const MAX_TID = 2 ** 31;
const SLEEP_MODES = new Set<string>(["retry", "umtx", "nanosleep"]);
const LWP_STATES = new Set<string>(["runnable", "sleeping", "stopped", "zombie"]);
const DESCRIPTOR_KINDS = new Set<string>(["tty", "pipe", "file", "tap", "socket"]);

export interface PagePlan {
  readonly index: number;
  readonly ref: CborValue;
  /** The object id and index whose array this page shares (copy-on-write after fork). */
  readonly link: readonly [number, number] | null;
  readonly path: string;
}

export interface ObjectPlan {
  readonly id: number;
  readonly kind: "anon" | "file";
  readonly sizePages: number;
  readonly source: { readonly path: string; readonly sha256: string; readonly offset: number } | null;
  readonly cow: readonly number[];
  readonly pages: readonly PagePlan[];
  readonly path: string;
}

export interface DescriptorPlan {
  readonly image: DescriptorImage;
  /** The open file description it shares (kernel-wide), its flags and offset. */
  readonly index: number;
  readonly flags: number;
  readonly offset: number;
  readonly tap: Partial<Pick<TapConfig, "up" | "bridge" | "maxQueue" | "baudrate">>;
  readonly path: string;
}

export interface ProcessPlan {
  readonly image: ProcessImage;
  readonly ext: CborMap;
  readonly lwpExts: readonly CborMap[];
  readonly descriptors: readonly DescriptorPlan[];
  readonly state: ProcState;
  readonly exitStatus: number | null;
  readonly exitSignal: number;
  readonly autoReap: boolean;
  readonly path: string;
}

export interface RebuildPlan {
  readonly kernel: CborMap;
  readonly objects: readonly ObjectPlan[];
  readonly processes: readonly ProcessPlan[];
}

export interface CheckContext {
  /** Native programs the rebuilt kernel will have (LWPs of native processes need theirs). */
  readonly natives: ReadonlySet<string>;
  /** Whether the rebuilt kernel has a network (tap descriptors need one). */
  readonly network: boolean;
}

function fail(path: string, problem: string): never {
  throw new CborShapeError(`${path}: ${problem}`);
}

function sigSet(v: CborValue | undefined, path: string): void {
  if (!Array.isArray(v) || v.length !== 2) fail(path, "expected a signal set [lo, hi]");
  (v as readonly CborValue[]).forEach((w, i) => {
    if (typeof w !== "number" || !Number.isSafeInteger(w) || w < 0 || w > U32)
      fail(`${path}[${i}]`, "expected a u32");
  });
}

function sigInfoList(m: CborMap, key: string, path: string): void {
  list(m, key, path).forEach((v, i) => {
    const p = `${path}.${key}[${i}]`;
    const s = map(v, p);
    int(s, "signo", p, 1, 64);
    int(s, "code", p, I32_MIN, 2 ** 31 - 1);
    int(s, "addr", p, 0, U32);
    int(s, "pid", p, 0, U32);
    int(s, "uid", p, 0, U32);
    if (s.status !== undefined) int(s, "status", p, I32_MIN, 2 ** 31 - 1);
  });
}

/** A list the builder reads directly: it must be present. */
function required(m: CborMap, key: string, path: string): readonly CborValue[] {
  if (m[key] === undefined) fail(`${path}.${key}`, "expected an array");
  return list(m, key, path);
}

function strings(m: CborMap, key: string, path: string): void {
  required(m, key, path).forEach((v, i) => {
    if (typeof v !== "string") fail(`${path}.${key}[${i}]`, "expected a string");
  });
}

/** Check the whole description; the plan the builder follows. */
export function checkDescription(desc: CborValue, ctx: CheckContext): RebuildPlan {
  const root = map(desc, "description");
  if (root.v !== KERNEL_DESCRIPTION_VERSION)
    fail("description.v", `expected version ${KERNEL_DESCRIPTION_VERSION}`);
  const k = checkKernelSection(map(root.kernel, "kernel"));
  const nextId = int(k, "nextId", "kernel", 1, MAX_TID);
  const nextObjectId = int(k, "nextObjectId", "kernel", 1, MAX_TID);
  const sigcodeObject = int(k, "sigcodeObject", "kernel", 0, MAX_TID);
  const objects = checkObjects(list(root, "objects", "description"), nextObjectId, sigcodeObject);
  const objectIds = new Set(objects.map((o) => o.id));
  objectIds.add(sigcodeObject);
  const tids = new Set<number>();
  const pids = new Set<number>();
  const sharedKinds = new Map<number, string>();
  const processes = list(root, "processes", "description").map((v, i) =>
    checkProcess(v, `processes[${i}]`, { ctx, nextId, objectIds, tids, pids, sharedKinds, k }),
  );
  checkTidReferences(k, tids);
  const initPid = int(k, "initPid", "kernel", 0, MAX_TID);
  if (initPid !== 0 && !pids.has(initPid)) fail("kernel.initPid", `process ${initPid} is not described`);
  return { kernel: k, objects, processes };
}

function checkKernelSection(k: CborMap): CborMap {
  const cpus = int(k, "cpus", "kernel", 1, 64);
  int(k, "quantum", "kernel", 1, 2 ** 40);
  int(k, "instructions", "kernel", 0);
  int(k, "roundStart", "kernel", 0);
  int(k, "cursor", "kernel", 0, cpus - 1);
  const cpuState = list(k, "cpuState", "kernel");
  if (cpuState.length !== cpus)
    fail("kernel.cpuState", `expected ${cpus} CPU states, got ${cpuState.length}`);
  cpuState.forEach((c, i) => {
    const p = `kernel.cpuState[${i}]`;
    const cm = map(c, p);
    intOrNull(cm, "current", p, 1, MAX_TID);
    int(cm, "used", p, 0);
    ints(cm, "queue", p, 1, MAX_TID);
  });
  const prng = map(k.prng, "kernel.prng");
  if (str(prng, "algorithm", "kernel.prng") !== PRNG_ALGORITHM)
    fail("kernel.prng.algorithm", `expected ${PRNG_ALGORITHM}`);
  int(prng, "state", "kernel.prng", 0, U32);
  int(k, "nextPipeId", "kernel", 1, MAX_TID);
  int(k, "realtimeEpoch", "kernel", 0);
  ints(k, "lwpOrder", "kernel", 1, MAX_TID);
  const t = map(k.tty, "kernel.tty");
  const ws = ints(t, "winsize", "kernel.tty", 0, 0xffff);
  if (ws.length !== 4) fail("kernel.tty.winsize", "expected [rows, cols, xpixel, ypixel]");
  const tm = map(t.termios, "kernel.tty.termios");
  for (const f of ["iflag", "oflag", "cflag", "lflag"]) int(tm, f, "kernel.tty.termios", 0, U32);
  int(tm, "line", "kernel.tty.termios", 0, 255);
  bytes(tm, "cc", "kernel.tty.termios");
  int(t, "pgrp", "kernel.tty", 0, U32);
  list(t, "lines", "kernel.tty").forEach((b, i) => {
    if (!(b instanceof Uint8Array)) fail(`kernel.tty.lines[${i}]`, "expected a byte string");
  });
  bytes(t, "partial", "kernel.tty");
  bytes(t, "raw", "kernel.tty");
  list(k, "input", "kernel").forEach((e, i) => {
    const p = `kernel.input[${i}]`;
    const m = map(e, p);
    int(m, "at", p);
    if (m.bytes !== undefined) bytes(m, "bytes", p);
    else {
      int(m, "rows", p, 0, 0xffff);
      int(m, "cols", p, 0, 0xffff);
    }
  });
  list(k, "sleepQueues", "kernel").forEach((q, i) => {
    const p = `kernel.sleepQueues[${i}]`;
    const m = map(q, p);
    str(m, "chan", p);
    ints(m, "tids", p, 1, MAX_TID);
  });
  if (k.net !== undefined) map(k.net, "kernel.net"); // its fields: rebuildNetStack (src/net)
  list(k, "files", "kernel").forEach((f, i) => {
    const p = `kernel.files[${i}]`;
    const m = map(f, p);
    if (!str(m, "path", p).startsWith("/")) fail(`${p}.path`, "expected an absolute path");
    bytes(m, "data", p);
  });
  return k;
}

/** Run queues, current LWPs, sleep queues and the LWP order name only described LWPs. */
function checkTidReferences(k: CborMap, tids: ReadonlySet<number>): void {
  const known = (tid: number, path: string): void => {
    if (!tids.has(tid)) fail(path, `thread ${tid} is not described`);
  };
  list(k, "cpuState", "kernel").forEach((c, i) => {
    const cm = map(c, `kernel.cpuState[${i}]`);
    const cur = intOrNull(cm, "current", "kernel.cpuState");
    if (cur !== null) known(cur, `kernel.cpuState[${i}].current`);
    for (const [j, t] of ints(cm, "queue", "kernel.cpuState").entries())
      known(t, `kernel.cpuState[${i}].queue[${j}]`);
  });
  list(k, "sleepQueues", "kernel").forEach((q, i) => {
    for (const [j, t] of ints(map(q, "kernel.sleepQueues"), "tids", "kernel.sleepQueues").entries())
      known(t, `kernel.sleepQueues[${i}].tids[${j}]`);
  });
  const order = new Set<number>();
  ints(k, "lwpOrder", "kernel").forEach((t, i) => {
    known(t, `kernel.lwpOrder[${i}]`);
    if (order.has(t)) fail(`kernel.lwpOrder[${i}]`, `thread ${t} appears twice`);
    order.add(t);
  });
}

function checkObjects(values: readonly CborValue[], nextObjectId: number, sigcode: number): ObjectPlan[] {
  const described = new Map<number, Set<number>>();
  return values.map((v, i) => {
    const path = `objects[${i}]`;
    const m = map(v, path);
    const id = int(m, "id", path, 0, MAX_TID);
    if (id >= nextObjectId) fail(`${path}.id`, `object ${id} is not below nextObjectId ${nextObjectId}`);
    if (id === sigcode) fail(`${path}.id`, `object ${id} is the kernel's sigcode object`);
    if (described.has(id)) fail(`${path}.id`, `object ${id} appears twice`);
    const kind = str(m, "kind", path);
    if (kind !== "anon" && kind !== "file") fail(`${path}.kind`, "expected anon or file");
    const sizePages = int(m, "sizePages", path, 0, MAX_PAGES);
    const source =
      kind === "file"
        ? {
            path: str(m, "path", path),
            sha256: str(m, "sha256", path),
            offset: int(m, "sourceOffset", path, 0, U32),
          }
        : null;
    const cow = ints(m, "cow", path, 0, MAX_PAGES);
    const indexes = new Set<number>();
    const pages = list(m, "pages", path).map((p, j): PagePlan => {
      const pp = `${path}.pages[${j}]`;
      if (!Array.isArray(p) || (p.length !== 2 && p.length !== 4))
        fail(pp, "expected [index, ref] or [index, ref, objectId, index]");
      const item = p as readonly CborValue[];
      const index = item[0];
      if (typeof index !== "number" || !Number.isSafeInteger(index) || index < 0 || index >= MAX_PAGES)
        fail(`${pp}[0]`, `expected a page index in 0..${MAX_PAGES - 1}`);
      if (indexes.has(index)) fail(`${pp}[0]`, `page ${index} appears twice`);
      indexes.add(index);
      let link: readonly [number, number] | null = null;
      if (item.length === 4) {
        const [, , lo, li] = item;
        if (typeof lo !== "number" || typeof li !== "number" || described.get(lo)?.has(li) !== true)
          fail(pp, "links to a page not described before it");
        link = [lo, li];
      }
      return { index, ref: item[1] as CborValue, link, path: pp };
    });
    described.set(id, indexes);
    return { id, kind, sizePages, source, cow, pages, path };
  });
}

interface ProcessScope {
  readonly ctx: CheckContext;
  readonly nextId: number;
  readonly objectIds: ReadonlySet<number>;
  readonly tids: Set<number>;
  readonly pids: Set<number>;
  /** Open file description index → the kind it was first described as. */
  readonly sharedKinds: Map<number, string>;
  readonly k: CborMap;
}

function checkProcess(v: CborValue, path: string, s: ProcessScope): ProcessPlan {
  const m = map(v, path);
  const pid = int(m, "pid", path, 1, MAX_TID);
  if (pid >= s.nextId) fail(`${path}.pid`, `pid ${pid} is not below nextId ${s.nextId}`);
  if (s.pids.has(pid)) fail(`${path}.pid`, `pid ${pid} appears twice`);
  s.pids.add(pid);
  for (const f of ["ppid", "pgid", "sid"]) int(m, f, path, 0, MAX_TID);
  str(m, "comm", path);
  strings(m, "argv", path);
  strings(m, "envp", path);
  const cred = map(m.cred, `${path}.cred`);
  int(cred, "uid", `${path}.cred`, 0, U32);
  int(cred, "gid", `${path}.cred`, 0, U32);
  int(m, "flags", path, 0, U32);
  const exitStatus = intOrNull(m, "exitStatus", path, 0, 255);
  required(m, "sigacts", path).forEach((a, i) => {
    const p = `${path}.sigacts[${i}]`;
    const am = map(a, p);
    int(am, "signal", p, 1, 64);
    int(am, "handler", p, 0, U32);
    int(am, "flags", p, 0, U32);
    sigSet(am.mask, `${p}.mask`);
  });
  const extPath = `${path}.extensions.${EXT_KEY}`;
  const ext = map(isMap(m.extensions) ? m.extensions[EXT_KEY] : undefined, extPath);
  if (ext.v !== EXT_VERSION) fail(`${extPath}.v`, `expected version ${EXT_VERSION}`);
  const exe = str(ext, "exe", extPath);
  str(ext, "exeHash", extPath);
  int(ext, "euid", extPath, 0, U32);
  int(ext, "egid", extPath, 0, U32);
  if (ints(ext, "pending", extPath, 0, U32).length !== 2) fail(`${extPath}.pending`, "expected [lo, hi]");
  sigInfoList(ext, "pendingInfo", extPath);
  const state = str(ext, "state", extPath);
  if (state !== "alive" && state !== "zombie") fail(`${extPath}.state`, "expected alive or zombie");
  const exitSignal = int(ext, "exitSignal", extPath, 0, 64);
  const autoReap = bool(ext, "autoReap", extPath);
  const lwpExts = required(m, "lwps", path).map((l, i) => checkLwp(l, `${path}.lwps[${i}]`, exe, s));
  checkVmspace(m, path, s.objectIds);
  const descriptors = checkDescriptors(m, ext, path, extPath, s);
  return {
    image: m as unknown as ProcessImage,
    ext,
    lwpExts,
    descriptors,
    state: state as ProcState,
    exitStatus,
    exitSignal,
    autoReap,
    path,
  };
}

function checkLwp(v: CborValue, path: string, exe: string, s: ProcessScope): CborMap {
  const l = map(v, path);
  const tid = int(l, "tid", path, 1, MAX_TID);
  if (tid >= s.nextId) fail(`${path}.tid`, `tid ${tid} is not below nextId ${s.nextId}`);
  if (s.tids.has(tid)) fail(`${path}.tid`, `thread ${tid} appears twice`);
  s.tids.add(tid);
  const regs = ints(l, "regs", path, 0, U32);
  if (regs.length !== 33) fail(`${path}.regs`, `expected 33 registers, got ${regs.length}`);
  sigSet(l.sigmask, `${path}.sigmask`);
  sigSet(l.pending, `${path}.pending`);
  const alt = map(l.altstack, `${path}.altstack`);
  for (const f of ["sp", "size", "flags"]) int(alt, f, `${path}.altstack`, 0, U32);
  if (l.native !== undefined) {
    const n = map(l.native, `${path}.native`);
    str(n, "role", `${path}.native`);
    int(n, "result", `${path}.native`, I32_MIN, U32);
    bool(n, "started", `${path}.native`);
    signalFrames(n, `${path}.native`);
    if (!s.ctx.natives.has(exe)) fail(`${path}.native`, `native program ${exe} is not registered`);
  }
  const extPath = `${path}.extensions.${EXT_KEY}`;
  const ext = map(isMap(l.extensions) ? l.extensions[EXT_KEY] : undefined, extPath);
  if (!LWP_STATES.has(str(ext, "state", extPath))) fail(`${extPath}.state`, "expected an LWP state");
  int(ext, "cpu", extPath, 0, 63);
  int(ext, "instret", extPath, 0);
  if (!SLEEP_MODES.has(str(ext, "sleepMode", extPath))) fail(`${extPath}.sleepMode`, "expected a sleep mode");
  strOrNull(ext, "wchan", extPath);
  intOrNull(ext, "deadline", extPath, 0);
  strOrNull(ext, "interrupted", extPath);
  bool(ext, "timedOut", extPath);
  int(ext, "tidAddr", extPath, 0, U32);
  sigInfoList(ext, "pendingInfo", extPath);
  bool(ext, "ckptCaller", extPath);
  intOrNull(ext, "reservation", extPath, 0, U32);
  return ext;
}

function checkVmspace(m: CborMap, path: string, objectIds: ReadonlySet<number>): void {
  const vp = `${path}.vmspace`;
  const vm = map(m.vmspace, vp);
  let end = 0;
  required(vm, "entries", vp).forEach((e, i) => {
    const p = `${vp}.entries[${i}]`;
    const em = map(e, p);
    const start = int(em, "start", p, 0, U32);
    const stop = int(em, "end", p, 1, 2 ** 32);
    if (start % 4096 !== 0 || stop % 4096 !== 0 || start >= stop) fail(p, "expected a page-aligned range");
    if (start < end) fail(p, "overlaps the entry before it");
    end = stop;
    int(em, "prot", p, 0, 7);
    intOrNull(em, "maxprot", p, 0, 7);
    int(em, "flags", p, 0, U32);
    const type = str(em, "type", p);
    if (type !== "normal" && type !== "vpagetable") fail(`${p}.type`, "expected normal or vpagetable");
    const objectId = int(em, "objectId", p, 0, MAX_TID);
    if (!objectIds.has(objectId)) fail(`${p}.objectId`, `object ${objectId} is not described`);
    int(em, "offset", p, 0, MAX_PAGES);
    intOrNull(em, "masterPde", p, 0, U32);
  });
  const brk = map(vm.brk, `${vp}.brk`);
  int(brk, "start", `${vp}.brk`, 0, 2 ** 32);
  int(brk, "end", `${vp}.brk`, 0, 2 ** 32);
}

function checkDescriptors(
  m: CborMap,
  ext: CborMap,
  path: string,
  extPath: string,
  s: ProcessScope,
): DescriptorPlan[] {
  const shares = new Map<
    number,
    { index: number; flags: number; offset: number; tap: CborValue | undefined }
  >();
  list(ext, "fdFiles", extPath).forEach((f, i) => {
    const p = `${extPath}.fdFiles[${i}]`;
    if (
      !Array.isArray(f) ||
      (f.length !== 4 && f.length !== 5) ||
      !f.slice(0, 4).every((x) => typeof x === "number" && Number.isSafeInteger(x) && x >= 0)
    )
      fail(p, "expected [fd, file, flags, offset, tap config?]");
    const [fd, index, flags, offset] = f as readonly number[];
    if ((fd as number) >= FD_LIMIT) fail(p, `fd ${fd} is not below ${FD_LIMIT}`);
    if ((index as number) >= MAX_TID || (flags as number) > U32) fail(p, "file index or flags out of range");
    if (shares.has(fd as number)) fail(p, `fd ${fd} appears twice`);
    shares.set(fd as number, {
      index: index as number,
      flags: flags as number,
      offset: offset as number,
      tap: (f as readonly CborValue[])[4],
    });
  });
  const seen = new Set<number>();
  const nextPipeId = int(s.k, "nextPipeId", "kernel", 1);
  const plans = required(m, "descriptors", path).map((d, i): DescriptorPlan => {
    const p = `${path}.descriptors[${i}]`;
    const dm = map(d, p);
    const fd = int(dm, "fd", p, 0, FD_LIMIT - 1);
    if (seen.has(fd)) fail(`${p}.fd`, `fd ${fd} appears twice`);
    seen.add(fd);
    bool(dm, "cloexec", p);
    const kind = str(dm, "kind", p);
    if (!DESCRIPTOR_KINDS.has(kind)) fail(`${p}.kind`, `descriptor kind ${kind} cannot be rebuilt`);
    const share = shares.get(fd);
    if (share === undefined) fail(p, `fd ${fd} has no entry in fdFiles`);
    if (kind === "pipe") {
      int(dm, "pipeId", p, 1, nextPipeId - 1);
      const end = str(dm, "end", p);
      if (end !== "read" && end !== "write") fail(`${p}.end`, "expected read or write");
      if (dm.buffered !== undefined && bytes(dm, "buffered", p).length > PIPE_BUF_SIZE)
        fail(`${p}.buffered`, `more than ${PIPE_BUF_SIZE} bytes`);
    } else if (kind === "file") {
      str(dm, "path", p);
      int(dm, "flags", p, 0, U32);
    } else if (kind === "tap") {
      if (!s.ctx.network) fail(p, "a tap needs a kernel with a network (KernelOptions.network)");
      str(dm, "name", p);
      if (bytes(dm, "address", p).length !== 4) fail(`${p}.address`, "expected 4 bytes");
      if (bytes(dm, "mac", p).length !== 6) fail(`${p}.mac`, "expected 6 bytes");
      int(dm, "prefixLength", p, 0, 32);
      int(dm, "mtu", p, 68, 65535);
      list(dm, "queued", p).forEach((q, j) => {
        if (!(q instanceof Uint8Array)) fail(`${p}.queued[${j}]`, "expected a byte string");
      });
    }
    // One open file description is one kind of file (dup'd and inherited fds share it).
    const what = kind === "pipe" ? `pipe:${dm.pipeId}:${dm.end}` : kind;
    const before = s.sharedKinds.get(share.index);
    if (before !== undefined && before !== what)
      fail(p, `shares open file ${share.index} with a different kind of file`);
    s.sharedKinds.set(share.index, what);
    return {
      image: dm as unknown as DescriptorImage,
      index: share.index,
      flags: share.flags,
      offset: share.offset,
      tap: share.tap === undefined ? {} : tapConfig(share.tap, `${p}.tap`),
      path: p,
    };
  });
  if (plans.length !== shares.size) fail(`${extPath}.fdFiles`, "does not match the descriptors");
  return plans;
}
