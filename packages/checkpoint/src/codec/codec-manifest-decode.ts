import type {
  DescriptorImage,
  PipeDescriptorImage,
  SocketDatagramImage,
  SocketDescriptorImage,
  TapDescriptorImage,
  TermiosImage,
} from "../model/model-descriptor.ts";
import { LWP_REG_COUNT, type LwpImage, type LwpState } from "../model/model-lwp.ts";
import {
  type ClockImage,
  type CreatedInfo,
  type ExecutableRef,
  IMAGE_FORMAT,
  type Manifest,
  type PrngImage,
} from "../model/model-manifest.ts";
import type { ITimerImage, ProcessImage, SigActionImage } from "../model/model-process.ts";
import type { BlobRef, SigSet } from "../model/model-values.ts";
import type { MapEntryImage, PageMap, VmObjectImage, VmspaceImage } from "../model/model-vm.ts";
import {
  asMap,
  bool,
  bytes,
  bytesView,
  cborMap,
  compact,
  fail,
  hash,
  list,
  oneOf,
  opt,
  req,
  text,
  U53,
  u32List,
  uint,
  uintList,
} from "./codec-fields.ts";
import type { CodecLimits } from "./codec-limits.ts";

/** Decoded CBOR tree → `Manifest`, checking every field's type and range (not cross-field rules). */
export function manifestFromTree(tree: unknown, limits: CodecLimits): Manifest {
  const p = "manifest";
  const m = asMap(tree, p);
  const format = req(m, "format", p, text);
  if (format !== IMAGE_FORMAT) fail(`${p}.format`, `expected ${JSON.stringify(IMAGE_FORMAT)}`);
  const version = req(m, "version", p, (v, vp) => {
    const vm = asMap(v, vp);
    return { major: req(vm, "major", vp, uint), minor: req(vm, "minor", vp, uint) };
  });
  return compact<Manifest>({
    format: IMAGE_FORMAT,
    version,
    created: req(m, "created", p, created),
    parent: opt(m, "parent", p, hash),
    kind: req(m, "kind", p, (v, vp) => oneOf(v, vp, ["process", "vkernel"] as const)),
    processes: req(m, "processes", p, (v, vp) =>
      list(v, vp, limits.maxProcesses, (x, xp) => processImage(x, xp, limits)),
    ),
    vkernel: opt(m, "vkernel", p, cborMap),
    clock: req(m, "clock", p, clock),
    prng: req(m, "prng", p, prng),
    executables: req(m, "executables", p, (v, vp) => list(v, vp, limits.maxExecutables, executable)),
    objects: req(m, "objects", p, (v, vp) =>
      list(v, vp, limits.maxObjects, (x, xp) => vmObject(x, xp, limits)),
    ),
    packs: req(m, "packs", p, (v, vp) => list(v, vp, limits.maxPacks, hash)),
    extensions: opt(m, "extensions", p, cborMap),
    integrity: undefined,
  });
}

function created(v: unknown, p: string): CreatedInfo {
  const m = asMap(v, p);
  return compact<CreatedInfo>({
    time: req(m, "time", p, text),
    tool: req(m, "tool", p, text),
    host: opt(m, "host", p, text),
    note: opt(m, "note", p, text),
  });
}

function clock(v: unknown, p: string): ClockImage {
  const m = asMap(v, p);
  const u53 = (x: unknown, xp: string) => uint(x, xp, U53);
  return { instructions: req(m, "instructions", p, u53), ns: req(m, "ns", p, u53) };
}

function prng(v: unknown, p: string): PrngImage {
  const m = asMap(v, p);
  return {
    algorithm: req(m, "algorithm", p, text),
    state: req(m, "state", p, (x, xp) => list(x, xp, 1024, (w, wp) => uint(w, wp))),
  };
}

function blobRef(v: unknown, p: string): BlobRef {
  const m = asMap(v, p);
  return { sha256: req(m, "sha256", p, hash), size: req(m, "size", p, (x, xp) => uint(x, xp, U53)) };
}

function executable(v: unknown, p: string): ExecutableRef {
  const m = asMap(v, p);
  return compact<ExecutableRef>({
    path: req(m, "path", p, text),
    sha256: req(m, "sha256", p, hash),
    size: req(m, "size", p, (x, xp) => uint(x, xp, U53)),
    embedded: opt(m, "embedded", p, blobRef),
  });
}

function sigset(v: unknown, p: string): SigSet {
  if (!Array.isArray(v) || v.length !== 2) {
    fail(p, `expected 2 u32, got ${Array.isArray(v) ? v.length : typeof v}`);
  }
  return [uint(v[0], `${p}[0]`), uint(v[1], `${p}[1]`)];
}

function processImage(v: unknown, p: string, limits: CodecLimits): ProcessImage {
  const m = asMap(v, p);
  const strings = (x: unknown, xp: string) => list(x, xp, limits.maxArgs, text);
  return compact<ProcessImage>({
    pid: req(m, "pid", p, uint),
    ppid: req(m, "ppid", p, uint),
    pgid: req(m, "pgid", p, uint),
    sid: req(m, "sid", p, uint),
    comm: req(m, "comm", p, text),
    argv: req(m, "argv", p, strings),
    envp: req(m, "envp", p, strings),
    cwd: req(m, "cwd", p, text),
    cred: req(m, "cred", p, (x, xp) => {
      const c = asMap(x, xp);
      return { uid: req(c, "uid", xp, uint), gid: req(c, "gid", xp, uint) };
    }),
    flags: req(m, "flags", p, uint),
    exitStatus: opt(m, "exitStatus", p, uint),
    sigacts: req(m, "sigacts", p, (x, xp) => list(x, xp, 64, sigaction)),
    itimers: req(m, "itimers", p, (x, xp) => list(x, xp, 3, itimer)),
    lwps: req(m, "lwps", p, (x, xp) => list(x, xp, limits.maxLwpsPerProcess, lwp)),
    vmspace: req(m, "vmspace", p, (x, xp) => vmspace(x, xp, limits)),
    descriptors: req(m, "descriptors", p, (x, xp) =>
      list(x, xp, limits.maxDescriptorsPerProcess, (d, dp) => descriptor(d, dp, limits)),
    ),
    extensions: opt(m, "extensions", p, cborMap),
  });
}

function sigaction(v: unknown, p: string): SigActionImage {
  const m = asMap(v, p);
  return {
    signal: req(m, "signal", p, (x, xp) => {
      const n = uint(x, xp, 64);
      if (n === 0) fail(xp, "signal 0");
      return n;
    }),
    handler: req(m, "handler", p, uint),
    flags: req(m, "flags", p, uint),
    mask: req(m, "mask", p, sigset),
    restorer: req(m, "restorer", p, uint),
  };
}

function itimer(v: unknown, p: string): ITimerImage {
  const m = asMap(v, p);
  return {
    which: req(m, "which", p, (x, xp) => oneOf(x, xp, ["real", "virtual", "prof"] as const)),
    valueNs: req(m, "valueNs", p, (x, xp) => uint(x, xp, U53)),
    intervalNs: req(m, "intervalNs", p, (x, xp) => uint(x, xp, U53)),
  };
}

function lwp(v: unknown, p: string): LwpImage {
  const m = asMap(v, p);
  return compact<LwpImage>({
    tid: req(m, "tid", p, uint),
    regs: req(m, "regs", p, (x, xp) => {
      if (!Array.isArray(x) || x.length !== LWP_REG_COUNT) {
        fail(xp, `expected ${LWP_REG_COUNT} u32, got ${Array.isArray(x) ? x.length : typeof x}`);
      }
      return x.map((r, i) => uint(r, `${xp}[${i}]`));
    }),
    sigmask: req(m, "sigmask", p, sigset),
    pending: req(m, "pending", p, sigset),
    altstack: req(m, "altstack", p, (x, xp) => {
      const a = asMap(x, xp);
      return { sp: req(a, "sp", xp, uint), size: req(a, "size", xp, uint), flags: req(a, "flags", xp, uint) };
    }),
    state: req(m, "state", p, lwpState),
    native: opt(m, "native", p, cborMap),
    extensions: opt(m, "extensions", p, cborMap),
  });
}

function lwpState(v: unknown, p: string): LwpState {
  const m = asMap(v, p);
  const kind = req(m, "kind", p, (x, xp) =>
    oneOf(x, xp, ["runnable", "exited", "sleeping", "syscall"] as const),
  );
  switch (kind) {
    case "runnable":
    case "exited":
      return { kind };
    case "sleeping":
      return compact<LwpState & { kind: "sleeping" }>({
        kind,
        addr: req(m, "addr", p, uint),
        deadlineNs: opt(m, "deadlineNs", p, (x, xp) => uint(x, xp, U53)),
      });
    case "syscall":
      return {
        kind,
        number: req(m, "number", p, uint),
        args: req(m, "args", p, (x, xp) => {
          if (!Array.isArray(x) || x.length !== 6) {
            fail(xp, `expected 6 u32, got ${Array.isArray(x) ? x.length : typeof x}`);
          }
          return x.map((r, i) => uint(r, `${xp}[${i}]`));
        }),
        restart: req(m, "restart", p, (x, xp) => oneOf(x, xp, ["restart", "eintr", "resume"] as const)),
      };
  }
}

function vmspace(v: unknown, p: string, limits: CodecLimits): VmspaceImage {
  const m = asMap(v, p);
  return {
    entries: req(m, "entries", p, (x, xp) => list(x, xp, limits.maxMapEntriesPerVmspace, mapEntry)),
    brk: req(m, "brk", p, (x, xp) => {
      const b = asMap(x, xp);
      return { start: req(b, "start", xp, uint), end: req(b, "end", xp, uint) };
    }),
    mmapBase: req(m, "mmapBase", p, uint),
  };
}

function mapEntry(v: unknown, p: string): MapEntryImage {
  const m = asMap(v, p);
  const addr = (x: unknown, xp: string) => uint(x, xp, 0x100000000);
  return compact<MapEntryImage>({
    start: req(m, "start", p, addr),
    end: req(m, "end", p, addr),
    prot: req(m, "prot", p, (x, xp) => uint(x, xp, 7)),
    maxprot: opt(m, "maxprot", p, (x, xp) => uint(x, xp, 7)),
    flags: req(m, "flags", p, uint),
    type: req(m, "type", p, (x, xp) => oneOf(x, xp, ["normal", "vpagetable"] as const)),
    objectId: opt(m, "objectId", p, uint),
    offset: req(m, "offset", p, uint),
    masterPde: opt(m, "masterPde", p, uint),
  });
}

function descriptor(v: unknown, p: string, limits: CodecLimits): DescriptorImage {
  const m = asMap(v, p);
  const fd = req(m, "fd", p, (x, xp) => {
    const n = uint(x, xp);
    if (n >= limits.maxFd) fail(xp, `fd ${n} is past the limit ${limits.maxFd - 1}`);
    return n;
  });
  const cloexec = req(m, "cloexec", p, bool);
  const kind = req(m, "kind", p, (x, xp) => oneOf(x, xp, ["file", "pipe", "tty", "tap", "socket"] as const));
  switch (kind) {
    case "file":
      return {
        fd,
        cloexec,
        kind,
        path: req(m, "path", p, text),
        offset: req(m, "offset", p, (x, xp) => uint(x, xp, U53)),
        flags: req(m, "flags", p, uint),
        mode: req(m, "mode", p, uint),
      };
    case "pipe":
      return compact<PipeDescriptorImage>({
        fd,
        cloexec,
        kind,
        pipeId: req(m, "pipeId", p, uint),
        end: req(m, "end", p, (x, xp) => oneOf(x, xp, ["read", "write"] as const)),
        buffered: opt(m, "buffered", p, (x, xp) => (x instanceof Uint8Array ? bytes(x, xp) : blobRef(x, xp))),
      });
    case "tty":
      return { fd, cloexec, kind, path: req(m, "path", p, text), termios: req(m, "termios", p, termios) };
    case "tap":
      return {
        fd,
        cloexec,
        kind,
        name: req(m, "name", p, text),
        address: req(m, "address", p, (x, xp) => bytes(x, xp, 4)),
        prefixLength: req(m, "prefixLength", p, (x, xp) => uint(x, xp, 32)),
        mtu: req(m, "mtu", p, (x, xp) => uint(x, xp, 65535)),
        mac: req(m, "mac", p, (x, xp) => bytes(x, xp, 6)),
        queued: req(m, "queued", p, (x, xp) => list(x, xp, 4096, (f, fp) => bytes(f, fp))),
      } satisfies TapDescriptorImage;
    case "socket":
      return compact<SocketDescriptorImage>({
        fd,
        cloexec,
        kind,
        domain: req(m, "domain", p, (x, xp) => uint(x, xp, 0xffff)),
        type: req(m, "type", p, (x, xp) => uint(x, xp, 0xffff)),
        address: req(m, "address", p, (x, xp) => bytes(x, xp, 4)),
        port: req(m, "port", p, (x, xp) => uint(x, xp, 65535)),
        nonblocking: req(m, "nonblocking", p, bool),
        queued: req(m, "queued", p, (x, xp) => list(x, xp, 4096, socketDatagram)),
        dropped: opt(m, "dropped", p, (x, xp) => uint(x, xp, U53)),
      });
  }
}

function socketDatagram(v: unknown, p: string): SocketDatagramImage {
  const m = asMap(v, p);
  return {
    address: req(m, "address", p, (x, xp) => bytes(x, xp, 4)),
    port: req(m, "port", p, (x, xp) => uint(x, xp, 65535)),
    payload: req(m, "payload", p, (x, xp) => bytes(x, xp)),
  };
}

function termios(v: unknown, p: string): TermiosImage {
  const m = asMap(v, p);
  return {
    iflag: req(m, "iflag", p, uint),
    oflag: req(m, "oflag", p, uint),
    cflag: req(m, "cflag", p, uint),
    lflag: req(m, "lflag", p, uint),
    cc: req(m, "cc", p, (x, xp) => {
      const b = bytes(x, xp);
      if (b.length > 64) fail(xp, `expected at most 64 bytes, got ${b.length}`);
      return b;
    }),
  };
}

function vmObject(v: unknown, p: string, limits: CodecLimits): VmObjectImage {
  const m = asMap(v, p);
  return compact<VmObjectImage>({
    id: req(m, "id", p, uint),
    kind: req(m, "kind", p, (x, xp) => oneOf(x, xp, ["anon", "file", "shared"] as const)),
    size: req(m, "size", p, (x, xp) => uint(x, xp, limits.maxObjectPages)),
    path: opt(m, "path", p, text),
    sha256: opt(m, "sha256", p, hash),
    pages: req(m, "pages", p, (x, xp) => pageMap(x, xp, limits)),
  });
}

function pageMap(v: unknown, p: string, limits: CodecLimits): PageMap {
  const m = asMap(v, p);
  // Format 1.3 stores the indexes as bytes (u32 little-endian each); 1.0–1.2 as an array.
  const indexes = req(m, "indexes", p, (x, xp) =>
    x instanceof Uint8Array ? u32List(x, xp, limits.maxObjectPages) : uintList(x, xp, limits.maxObjectPages),
  );
  const hashes = req(m, "hashes", p, bytesView);
  if (hashes.length !== indexes.length * 32) {
    fail(`${p}.hashes`, `expected ${indexes.length * 32} bytes (32 per index), got ${hashes.length}`);
  }
  const inPack = opt(m, "inPack", p, (x, xp) => u32List(bytesView(x, xp), xp, limits.maxObjectPages));
  if (inPack !== undefined && inPack.length !== indexes.length)
    fail(`${p}.inPack`, `expected ${indexes.length} entries (one per index), got ${inPack.length}`);
  return inPack === undefined ? { indexes, hashes } : { indexes, hashes, inPack };
}
