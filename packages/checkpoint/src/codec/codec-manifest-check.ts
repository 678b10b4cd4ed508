import { LWP_REG_COUNT } from "../model/model-lwp.ts";
import type { Manifest } from "../model/model-manifest.ts";
import { PAGE_SIZE } from "../model/model-values.ts";
import type { VmObjectImage } from "../model/model-vm.ts";
import { fail, HEX64 } from "./codec-fields.ts";
import type { CodecLimits } from "./codec-limits.ts";

const U32 = 0xffffffff;
const ADDRESS_END = 0x100000000;

function u32(value: number, path: string): void {
  if (!Number.isInteger(value) || value < 0 || value > U32) fail(path, `expected a u32, got ${value}`);
}

/**
 * The rules that relate fields to each other, run on every manifest written and read:
 * unique pids, tids (across the image), fds, signals, object ids and packs; map entries
 * page-aligned, inside 32 bits, sorted and non-overlapping, over objects that exist and are
 * large enough; page maps strictly ascending and inside their object; register files complete.
 */
export function checkManifest(m: Manifest, limits: CodecLimits): void {
  if (m.kind === "vkernel" && m.vkernel === undefined) fail("manifest.vkernel", "missing for kind vkernel");
  if (m.parent !== undefined && !HEX64.test(m.parent))
    fail("manifest.parent", "expected an image id (64 hex)");
  if (m.processes.length > limits.maxProcesses)
    fail("manifest.processes", `more than ${limits.maxProcesses}`);

  const objects = new Map<number, VmObjectImage>();
  m.objects.forEach((o, i) => {
    const p = `manifest.objects[${i}]`;
    u32(o.id, `${p}.id`);
    if (objects.has(o.id)) fail(`${p}.id`, `duplicate object id ${o.id}`);
    objects.set(o.id, o);
    if (!Number.isInteger(o.size) || o.size < 0 || o.size > limits.maxObjectPages) {
      fail(`${p}.size`, `expected 0..${limits.maxObjectPages} pages, got ${o.size}`);
    }
    if (o.kind === "file" && (o.path === undefined || o.sha256 === undefined)) {
      fail(p, "file-backed object without path and sha256");
    }
    if (o.sha256 !== undefined && !HEX64.test(o.sha256)) fail(`${p}.sha256`, "expected 64 hex");
    const { indexes, hashes } = o.pages;
    if (hashes.length !== indexes.length * 32) {
      fail(`${p}.pages.hashes`, `expected ${indexes.length * 32} bytes (32 per index), got ${hashes.length}`);
    }
    let previous = -1;
    for (let k = 0; k < indexes.length; k++) {
      const index = indexes[k]!;
      if (!Number.isInteger(index) || index <= previous) {
        fail(`${p}.pages.indexes[${k}]`, `page ${index} is not above the previous page ${previous}`);
      }
      if (index >= o.size)
        fail(`${p}.pages.indexes[${k}]`, `page ${index} is past the object's ${o.size} pages`);
      previous = index;
    }
    const inPack = o.pages.inPack;
    if (inPack !== undefined) {
      if (inPack.length !== indexes.length)
        fail(`${p}.pages.inPack`, `expected ${indexes.length} entries (one per index), got ${inPack.length}`);
      for (let k = 0; k < inPack.length; k++)
        if (inPack[k]! >= m.packs.length)
          fail(`${p}.pages.inPack[${k}]`, `pack ${inPack[k]} of an image with ${m.packs.length} packs`);
    }
  });

  const packs = new Set<string>();
  m.packs.forEach((pack, i) => {
    if (!HEX64.test(pack)) fail(`manifest.packs[${i}]`, "expected 64 hex");
    if (packs.has(pack)) fail(`manifest.packs[${i}]`, `duplicate pack ${pack.slice(0, 12)}`);
    packs.add(pack);
  });
  m.executables.forEach((x, i) => {
    if (!HEX64.test(x.sha256)) fail(`manifest.executables[${i}].sha256`, "expected 64 hex");
  });

  const pids = new Set<number>();
  const tids = new Set<number>();
  m.processes.forEach((proc, pi) => {
    const p = `manifest.processes[${pi}]`;
    u32(proc.pid, `${p}.pid`);
    if (pids.has(proc.pid)) fail(`${p}.pid`, `duplicate pid ${proc.pid}`);
    pids.add(proc.pid);
    if (proc.lwps.length > limits.maxLwpsPerProcess)
      fail(`${p}.lwps`, `more than ${limits.maxLwpsPerProcess}`);
    proc.lwps.forEach((l, li) => {
      const lp = `${p}.lwps[${li}]`;
      u32(l.tid, `${lp}.tid`);
      if (tids.has(l.tid)) fail(`${lp}.tid`, `duplicate tid ${l.tid}`);
      tids.add(l.tid);
      if (l.regs.length !== LWP_REG_COUNT)
        fail(`${lp}.regs`, `expected ${LWP_REG_COUNT} u32, got ${l.regs.length}`);
      l.regs.forEach((r, ri) => {
        u32(r, `${lp}.regs[${ri}]`);
      });
      if (l.state.kind === "syscall" && l.state.args.length !== 6) {
        fail(`${lp}.state.args`, `expected 6 u32, got ${l.state.args.length}`);
      }
    });
    const signals = new Set<number>();
    proc.sigacts.forEach((s, si) => {
      if (!Number.isInteger(s.signal) || s.signal < 1 || s.signal > 64) {
        fail(`${p}.sigacts[${si}].signal`, `expected 1..64, got ${s.signal}`);
      }
      if (signals.has(s.signal)) fail(`${p}.sigacts[${si}].signal`, `duplicate signal ${s.signal}`);
      signals.add(s.signal);
    });
    const timers = new Set<string>();
    proc.itimers.forEach((t, ti) => {
      if (timers.has(t.which)) fail(`${p}.itimers[${ti}].which`, `duplicate timer ${t.which}`);
      timers.add(t.which);
    });
    const fds = new Set<number>();
    proc.descriptors.forEach((d, di) => {
      const dp = `${p}.descriptors[${di}]`;
      if (!Number.isInteger(d.fd) || d.fd < 0 || d.fd >= limits.maxFd) {
        fail(`${dp}.fd`, `fd ${d.fd} is outside 0..${limits.maxFd - 1}`);
      }
      if (fds.has(d.fd)) fail(`${dp}.fd`, `duplicate fd ${d.fd}`);
      fds.add(d.fd);
      if (d.kind === "tap" && (d.address.length !== 4 || d.mac.length !== 6)) {
        fail(dp, "tap address must be 4 bytes and mac 6 bytes");
      }
      if (d.kind === "socket" && (d.address.length !== 4 || d.queued.some((q) => q.address.length !== 4))) {
        fail(dp, "socket addresses must be 4 bytes");
      }
    });
    const vm = proc.vmspace;
    if (vm.brk.start > vm.brk.end)
      fail(`${p}.vmspace.brk`, `start ${vm.brk.start} is above end ${vm.brk.end}`);
    let previousEnd = 0;
    vm.entries.forEach((e, ei) => {
      const ep = `${p}.vmspace.entries[${ei}]`;
      for (const [name, value] of [
        ["start", e.start],
        ["end", e.end],
      ] as const) {
        if (!Number.isInteger(value) || value < 0 || value > ADDRESS_END) {
          fail(`${ep}.${name}`, `address ${value} is outside 32 bits`);
        }
        if (value % PAGE_SIZE !== 0)
          fail(`${ep}.${name}`, `address 0x${value.toString(16)} is not page-aligned`);
      }
      if (e.start >= e.end)
        fail(ep, `empty or inverted range 0x${e.start.toString(16)}..0x${e.end.toString(16)}`);
      if (e.start < previousEnd) {
        fail(
          ep,
          `range 0x${e.start.toString(16)}..0x${e.end.toString(16)} overlaps or precedes the previous entry`,
        );
      }
      previousEnd = e.end;
      if (e.type === "vpagetable") {
        if (e.masterPde === undefined) fail(`${ep}.masterPde`, "missing for a vpagetable entry");
        if (e.masterPde % PAGE_SIZE !== 0) fail(`${ep}.masterPde`, "not page-aligned");
      }
      if (e.objectId !== undefined) {
        const object = objects.get(e.objectId);
        if (object === undefined) fail(`${ep}.objectId`, `no object ${e.objectId} in manifest.objects`);
        const pages = (e.end - e.start) / PAGE_SIZE;
        if (e.type === "normal" && e.offset + pages > object.size) {
          fail(
            ep,
            `maps pages ${e.offset}..${e.offset + pages} of object ${e.objectId} which has ${object.size}`,
          );
        }
      }
    });
  });
}
