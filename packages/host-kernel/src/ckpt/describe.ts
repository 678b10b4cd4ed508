import { createHash } from "node:crypto";
import type { CborMap, CborValue } from "@vkc/checkpoint";
import type { Kernel } from "../kernel.ts";
import { netStackImage } from "../net/socket-image.ts";
import { settleLazy } from "../vm/vm-lazy.ts";
import type { VmObject } from "../vm/vm-object.ts";
import {
  cpuStateImage,
  inputImage,
  newDescriptionTable,
  PRNG_ALGORITHM,
  processImageWithStatus,
  sleepQueuesImage,
  ttyImage,
  writableFiles,
} from "./ckpt-images.ts";

/** Version of the whole-kernel description (`describeKernel`'s `v`). */
export const KERNEL_DESCRIPTION_VERSION = 1;

/** How `describeKernel` refers to page contents. */
export interface DescribeOptions {
  /**
   * The reference stored for the materialized page `index` of `object`: its bytes (`pageBytes`),
   * a physical page number, a hash... Called once per distinct page array: a page shared
   * copy-on-write by several objects (after fork) gets one call, and the description links the
   * other places to it.
   */
  pageRef(object: VmObject, index: number, page: Uint8Array): CborValue;
}

/** The by-value `pageRef`: a copy of the page's bytes. */
export function pageBytes(_object: VmObject, _index: number, page: Uint8Array): CborValue {
  return page.slice();
}

/**
 * Describe a whole kernel as plain CBOR data (CHECKPOINT.md "Whole kernels"): every process,
 * alive or zombie, with its LWPs, map entries and descriptors (open file descriptions shared across
 * processes keep one index); every VM object once, its pages through `pageRef`; the scheduler,
 * sleep queues, counters, PRNG, tty, scripted input, guest-made files and the network stack
 * (interfaces, ARP state, ephemeral ports; sockets are descriptors). Call it between
 * slices, like `freezeProcess`. Pure: nothing in the kernel changes. `rebuildKernel` is the
 * inverse; the same kernel always gives the same description (canonical CBOR bytes).
 */
export function describeKernel(kernel: Kernel, options: DescribeOptions): CborMap {
  const table = newDescriptionTable();
  const processes: CborValue[] = [];
  const objects: VmObject[] = [];
  const seen = new Set<VmObject>([kernel.sigcode]);
  for (const proc of kernel.procs.values()) {
    processes.push(processImageWithStatus(proc, null, table) as unknown as CborMap);
    for (const e of proc.vm.entries) {
      if (seen.has(e.object)) continue;
      seen.add(e.object);
      objects.push(e.object);
    }
  }
  return {
    v: KERNEL_DESCRIPTION_VERSION,
    kernel: kernelSection(kernel),
    objects: describeObjects(objects, options),
    processes,
  };
}

/** Kernel-wide state: clock, scheduler, ids, PRNG, tty, input, sleep queues, guest-made files. */
function kernelSection(kernel: Kernel): CborMap {
  const sched = kernel.sched;
  const files: CborValue[] = [];
  writableFiles(kernel.vfs.root, "", files);
  const all = (): boolean => true;
  return {
    cpus: sched.cpus.length,
    quantum: sched.quantum,
    instructions: kernel.instructions,
    roundStart: sched.roundStart,
    cursor: sched.cursor,
    cpuState: cpuStateImage(kernel, all),
    prng: { algorithm: PRNG_ALGORITHM, state: sched.prng.state >>> 0 },
    nextId: kernel.nextId,
    nextPipeId: kernel.nextPipeId,
    nextObjectId: kernel.ids.next,
    initPid: kernel.initPid,
    realtimeEpoch: kernel.realtimeEpoch,
    sigcodeObject: kernel.sigcode.id,
    lwpOrder: [...kernel.lwps.keys()],
    tty: ttyImage(kernel, kernel.tty.pgrp),
    input: inputImage(kernel),
    sleepQueues: sleepQueuesImage(kernel, all),
    files,
    net: netStackImage(kernel),
  };
}

/**
 * Every object once: kind, size, file source (path, SHA-256, offset), copy-on-write indexes and
 * its pages as `[index, ref]`, or `[index, ref, objectId, index]` for an array an earlier object
 * (or index) holds too: the rebuild shares it again.
 */
function describeObjects(objects: readonly VmObject[], options: DescribeOptions): CborValue[] {
  const first = new Map<Uint8Array, { id: number; index: number; ref: CborValue }>();
  return objects.map((o) => {
    const pages: CborValue[] = [];
    settleLazy(o);
    for (const index of [...o.pages.keys()].sort((a, b) => a - b)) {
      const page = o.pages.get(index) as Uint8Array;
      const earlier = first.get(page);
      if (earlier !== undefined) {
        pages.push([index, earlier.ref, earlier.id, earlier.index]);
        continue;
      }
      const ref = options.pageRef(o, index, page);
      first.set(page, { id: o.id, index, ref });
      pages.push([index, ref]);
    }
    return {
      id: o.id,
      kind: o.kind,
      sizePages: o.sizePages,
      ...(o.kind === "file" && o.source !== null
        ? {
            path: o.sourcePath ?? "",
            sha256: createHash("sha256").update(o.source).digest("hex"),
            sourceOffset: o.sourceOffset,
          }
        : {}),
      cow: [...o.cow].sort((a, b) => a - b),
      pages,
    };
  });
}
