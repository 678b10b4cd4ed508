import type { CborMap, CborValue, ImageStore, Manifest } from "@vkc/checkpoint";
import { PAGE_SIZE } from "../cpu/cpu-types.ts";
import type { Process } from "../proc/proc-types.ts";
import { SI_KERNEL, SIGTHAW } from "../signal/signal-numbers.ts";
import { CborShapeError, int, isMap, list, map } from "./ckpt-cbor.ts";
import { RebuildError, ThawInvalidImageError, ThawReadError } from "./ckpt-errors.ts";
import { EXT_KEY, EXT_VERSION } from "./ckpt-images.ts";
import { KERNEL_DESCRIPTION_VERSION } from "./describe.ts";
import { rebuildKernel } from "./rebuild.ts";
import { checkExecutables, firstLine, type Thawed, type ThawOptions } from "./thaw.ts";

/**
 * Thaw of a process tree (CHECKPOINT.md "Process trees"): an image whose `processes` hold the
 * frozen process and its descendants. The image is turned into a whole-kernel description
 * (describe.ts) — kernel state from the `hostKernel` extension, objects with their pages and the
 * copy-on-write links between them, the processes as they are — and `rebuildKernel` builds it, so
 * a tree thaws with the code and the checks of a rebuild: every process with its pid, ppid and
 * state (zombies keep their status), descriptions shared across processes, pages shared again,
 * sleeps (a parent in waitid) and queues as saved. Then the LWP that froze itself gets `retval`,
 * and every live process gets SIGTHAW. Pages are read eagerly (`lazy` is not applied to trees).
 */
export async function thawTree(
  images: ImageStore,
  id: string,
  manifest: Manifest,
  options: ThawOptions,
): Promise<Thawed> {
  const bad = (problem: string): never => {
    throw new ThawInvalidImageError(id, problem);
  };
  const files = new Map<string, Uint8Array>();
  const given = options.files ?? {};
  for (const [p, b] of given instanceof Map ? given : Object.entries(given)) files.set(p, b as Uint8Array);
  await checkExecutables(images, manifest, files, options);
  const pages = await readPages(images, id, manifest);
  const { retval: _retval, lazy: _lazy, ...kernelOptions } = options;
  let desc: CborMap;
  try {
    desc = treeDescription(manifest, pages);
  } catch (error) {
    if (error instanceof CborShapeError) bad(error.message);
    throw error;
  }
  let kernel: Thawed["kernel"];
  try {
    kernel = rebuildKernel(desc, { ...kernelOptions, files });
  } catch (error) {
    if (RebuildError.isInstance(error)) bad(error.message.replace(/^cannot rebuild the kernel: /, ""));
    throw error;
  }
  const retval = (options.retval ?? 1) | 0;
  for (const image of manifest.processes)
    for (const l of image.lwps) {
      const ext = l.extensions?.[EXT_KEY];
      // rebuildKernel answered the caller's sys_checkpoint with 1: the restorer's retval instead.
      if (isMap(ext) && ext.ckptCaller === true) {
        const lwp = kernel.lwps.get(l.tid);
        if (lwp !== undefined) lwp.hart.x[10] = retval;
      }
    }
  for (const image of manifest.processes) {
    const proc = kernel.procs.get(image.pid) as Process;
    if (proc.state === "alive")
      kernel.postSignal(proc, SIGTHAW, { signo: SIGTHAW, code: SI_KERNEL, addr: 0, pid: 0, uid: 0 });
  }
  const root = manifest.processes[0];
  return { kernel, pid: root?.pid ?? 0, id, manifest, lazy: null };
}

/** Every page of the image by object id and index, range-checked. */
async function readPages(
  images: ImageStore,
  id: string,
  manifest: Manifest,
): Promise<Map<number, Map<number, Uint8Array>>> {
  const sizes = new Map(manifest.objects.map((o) => [o.id, o.size]));
  const pages = new Map<number, Map<number, Uint8Array>>();
  try {
    for await (const page of images.readPages(id)) {
      const size = sizes.get(page.objectId);
      if (size === undefined || page.pageIndex >= size || page.bytes.length !== PAGE_SIZE)
        throw new ThawInvalidImageError(
          id,
          `page ${page.pageIndex} of object ${page.objectId} is out of range`,
        );
      let m = pages.get(page.objectId);
      if (m === undefined) {
        m = new Map();
        pages.set(page.objectId, m);
      }
      m.set(page.pageIndex, page.bytes.slice());
    }
  } catch (cause) {
    if (cause instanceof ThawInvalidImageError) throw cause;
    throw new ThawReadError(id, firstLine(cause), { cause });
  }
  return pages;
}

/**
 * The whole-kernel description (`describeKernel`'s shape) of a tree image: the kernel section
 * from the manifest's clock and PRNG and its `hostKernel` map (the root is the kernel's init),
 * the objects (but the kernel's sigcode object) with their pages and links, the processes as
 * written. Shape errors throw `CborShapeError`; `rebuildKernel` checks the rest.
 */
function treeDescription(
  manifest: Manifest,
  pages: ReadonlyMap<number, ReadonlyMap<number, Uint8Array>>,
): CborMap {
  const kx = map(manifest.extensions?.[EXT_KEY], "extensions.hostKernel");
  if (int(kx, "v", "extensions.hostKernel") !== EXT_VERSION)
    throw new CborShapeError(`extensions.hostKernel.v: expected version ${EXT_VERSION}`);
  const sigcodeObject = int(kx, "sigcodeObject", "hostKernel");
  const info = new Map<number, CborMap>();
  for (const [i, v] of list(kx, "objects", "hostKernel").entries()) {
    const m = map(v, `hostKernel.objects[${i}]`);
    info.set(int(m, "id", `hostKernel.objects[${i}]`), m);
  }
  const objects: CborValue[] = [];
  for (const o of manifest.objects) {
    if (o.id === sigcodeObject) continue;
    const path = `hostKernel.objects[id ${o.id}]`;
    const fx = info.get(o.id);
    if (fx === undefined) throw new CborShapeError(`${path}: object ${o.id} is not described`);
    const own = pages.get(o.id) ?? new Map<number, Uint8Array>();
    const linked = new Map<number, [number, number]>();
    for (const [j, l] of list(fx, "links", path).entries()) {
      if (!Array.isArray(l) || l.length !== 3 || !l.every((x) => typeof x === "number"))
        throw new CborShapeError(`${path}.links[${j}]: expected [index, objectId, index]`);
      const [index, lo, li] = l as [number, number, number];
      // Links only to pages the image holds (an all-zero page is in none: nothing to share).
      if (own.has(index) && pages.get(lo)?.has(li) === true) linked.set(index, [lo, li]);
    }
    const described: CborValue[] = [...own.keys()]
      .sort((a, b) => a - b)
      .map((index) => {
        const bytes = own.get(index) as Uint8Array;
        const link = linked.get(index);
        return link === undefined ? [index, bytes] : [index, bytes, link[0], link[1]];
      });
    objects.push({
      id: o.id,
      kind: o.kind,
      sizePages: int(fx, "sizePages", path),
      ...(o.kind === "file"
        ? { path: o.path ?? "", sha256: o.sha256 ?? "", sourceOffset: int(fx, "sourceOffset", path) }
        : {}),
      cow: list(fx, "cow", path) as CborValue[],
      pages: described,
    });
  }
  const processes = manifest.processes as unknown as CborValue[];
  const tids = manifest.processes.flatMap((p) => p.lwps.map((l) => l.tid));
  const root = manifest.processes[0]?.pid ?? 0;
  return {
    v: KERNEL_DESCRIPTION_VERSION,
    kernel: {
      cpus: int(kx, "cpus", "hostKernel", 1, 64),
      quantum: int(kx, "quantum", "hostKernel", 1),
      instructions: manifest.clock.instructions,
      roundStart: int(kx, "roundStart", "hostKernel"),
      cursor: int(kx, "cursor", "hostKernel"),
      cpuState: list(kx, "cpuState", "hostKernel") as CborValue[],
      prng: { algorithm: manifest.prng.algorithm, state: manifest.prng.state[0] ?? 0 },
      nextId: int(kx, "nextId", "hostKernel", 1),
      nextPipeId: int(kx, "nextPipeId", "hostKernel", 1),
      nextObjectId: int(kx, "nextObjectId", "hostKernel", 1),
      initPid: root,
      realtimeEpoch: int(kx, "realtimeEpoch", "hostKernel"),
      sigcodeObject,
      lwpOrder: kx.lwpOrder === undefined ? tids : (list(kx, "lwpOrder", "hostKernel") as CborValue[]),
      tty: map(kx.tty, "hostKernel.tty"),
      input: list(kx, "input", "hostKernel") as CborValue[],
      sleepQueues: list(kx, "sleepQueues", "hostKernel") as CborValue[],
      files: list(kx, "files", "hostKernel") as CborValue[],
      ...(kx.net !== undefined ? { net: map(kx.net, "hostKernel.net") } : {}),
    },
    objects,
    processes,
  };
}
