import type { DescriptorImage } from "../model/model-descriptor.ts";
import type { LwpImage, LwpState } from "../model/model-lwp.ts";
import type { Manifest } from "../model/model-manifest.ts";
import type { ProcessImage } from "../model/model-process.ts";
import type { BlobRef, CborMap } from "../model/model-values.ts";
import type { MapEntryImage, VmObjectImage } from "../model/model-vm.ts";
import type { EncodableValue } from "./codec-canonical.ts";
import { hexToBytes, LITTLE_ENDIAN } from "./codec-fields.ts";

/** From this minor version on, a page map's `indexes` is a byte string and it may have `inPack` (FORMAT.md §4.6). */
const PAGE_INDEX_BYTES_MINOR = 3;

/**
 * Model → CBOR-ready tree, field by field (so nothing outside the format, such as
 * `integrity`, leaks into the body). Hex hashes become 32-byte byte strings. Key order is
 * applied later by the canonical encoder.
 */
type Tree = { [key: string]: EncodableValue };

function blobRef(ref: BlobRef, path: string): Tree {
  return { sha256: hexToBytes(ref.sha256, `${path}.sha256`), size: ref.size };
}

function opaque(map: CborMap | undefined): EncodableValue {
  return map as EncodableValue;
}

function lwpState(state: LwpState): Tree {
  switch (state.kind) {
    case "runnable":
    case "exited":
      return { kind: state.kind };
    case "sleeping":
      return { kind: "sleeping", addr: state.addr, deadlineNs: state.deadlineNs };
    case "syscall":
      return { kind: "syscall", number: state.number, args: [...state.args], restart: state.restart };
  }
}

function lwp(l: LwpImage): Tree {
  return {
    tid: l.tid,
    regs: [...l.regs],
    sigmask: [...l.sigmask],
    pending: [...l.pending],
    altstack: { sp: l.altstack.sp, size: l.altstack.size, flags: l.altstack.flags },
    state: lwpState(l.state),
    native: opaque(l.native),
    extensions: opaque(l.extensions),
  };
}

function entry(e: MapEntryImage): Tree {
  return {
    start: e.start,
    end: e.end,
    prot: e.prot,
    maxprot: e.maxprot,
    flags: e.flags,
    type: e.type,
    objectId: e.objectId,
    offset: e.offset,
    masterPde: e.masterPde,
  };
}

function descriptor(d: DescriptorImage, path: string): Tree {
  const base = { fd: d.fd, cloexec: d.cloexec, kind: d.kind };
  switch (d.kind) {
    case "file":
      return { ...base, path: d.path, offset: d.offset, flags: d.flags, mode: d.mode };
    case "pipe":
      return {
        ...base,
        pipeId: d.pipeId,
        end: d.end,
        buffered:
          d.buffered === undefined || d.buffered instanceof Uint8Array
            ? d.buffered
            : blobRef(d.buffered, `${path}.buffered`),
      };
    case "tty":
      return {
        ...base,
        path: d.path,
        termios: {
          iflag: d.termios.iflag,
          oflag: d.termios.oflag,
          cflag: d.termios.cflag,
          lflag: d.termios.lflag,
          cc: d.termios.cc,
        },
      };
    case "tap":
      return {
        ...base,
        name: d.name,
        address: d.address,
        prefixLength: d.prefixLength,
        mtu: d.mtu,
        mac: d.mac,
        queued: [...d.queued],
      };
    case "socket":
      return {
        ...base,
        domain: d.domain,
        type: d.type,
        address: d.address,
        port: d.port,
        nonblocking: d.nonblocking,
        queued: d.queued.map((q) => ({ address: q.address, port: q.port, payload: q.payload })),
        dropped: d.dropped,
      };
  }
}

function processImage(p: ProcessImage, path: string): Tree {
  return {
    pid: p.pid,
    ppid: p.ppid,
    pgid: p.pgid,
    sid: p.sid,
    comm: p.comm,
    argv: [...p.argv],
    envp: [...p.envp],
    cwd: p.cwd,
    cred: { uid: p.cred.uid, gid: p.cred.gid },
    flags: p.flags,
    exitStatus: p.exitStatus,
    sigacts: p.sigacts.map((s) => ({
      signal: s.signal,
      handler: s.handler,
      flags: s.flags,
      mask: [...s.mask],
      restorer: s.restorer,
    })),
    itimers: p.itimers.map((t) => ({ which: t.which, valueNs: t.valueNs, intervalNs: t.intervalNs })),
    lwps: p.lwps.map(lwp),
    vmspace: {
      entries: p.vmspace.entries.map(entry),
      brk: { start: p.vmspace.brk.start, end: p.vmspace.brk.end },
      mmapBase: p.vmspace.mmapBase,
    },
    descriptors: p.descriptors.map((d, i) => descriptor(d, `${path}.descriptors[${i}]`)),
    extensions: opaque(p.extensions),
  };
}

function vmObject(o: VmObjectImage, path: string, minor: number): Tree {
  return {
    id: o.id,
    kind: o.kind,
    size: o.size,
    path: o.path,
    sha256: o.sha256 === undefined ? undefined : hexToBytes(o.sha256, `${path}.sha256`),
    pages:
      minor >= PAGE_INDEX_BYTES_MINOR
        ? {
            indexes: u32Bytes(o.pages.indexes),
            hashes: o.pages.hashes,
            inPack: o.pages.inPack === undefined ? undefined : u32Bytes(o.pages.inPack),
          }
        : { indexes: [...o.pages.indexes], hashes: o.pages.hashes },
  };
}

/** Numbers as format 1.3 stores page indexes: 4 bytes each, unsigned little-endian. */
function u32Bytes(numbers: Uint32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(numbers.buffer, numbers.byteOffset, numbers.byteLength);
  const out = new Uint8Array(numbers.length * 4);
  const view = new DataView(out.buffer);
  for (let k = 0; k < numbers.length; k++) view.setUint32(k * 4, numbers[k]!, true);
  return out;
}

/** The manifest body as a CBOR-ready tree. */
export function manifestToTree(m: Manifest): Tree {
  return {
    format: m.format,
    version: { major: m.version.major, minor: m.version.minor },
    created: { time: m.created.time, tool: m.created.tool, host: m.created.host, note: m.created.note },
    parent: m.parent === undefined ? undefined : hexToBytes(m.parent, "manifest.parent"),
    kind: m.kind,
    processes: m.processes.map((p, i) => processImage(p, `manifest.processes[${i}]`)),
    vkernel: opaque(m.vkernel),
    clock: { instructions: m.clock.instructions, ns: m.clock.ns },
    prng: { algorithm: m.prng.algorithm, state: [...m.prng.state] },
    executables: m.executables.map((x, i) => ({
      path: x.path,
      sha256: hexToBytes(x.sha256, `manifest.executables[${i}].sha256`),
      size: x.size,
      embedded:
        x.embedded === undefined ? undefined : blobRef(x.embedded, `manifest.executables[${i}].embedded`),
    })),
    objects: m.objects.map((o, i) => vmObject(o, `manifest.objects[${i}]`, m.version.minor)),
    packs: m.packs.map((p, i) => hexToBytes(p, `manifest.packs[${i}]`)),
    extensions: opaque(m.extensions),
  };
}
