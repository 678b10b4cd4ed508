import { createKernel, type Kernel, type Lwp, type VmSpace } from "@vkc/host-kernel";
import { vkeNetifs } from "./dev/vke-netif.ts";
import { MEMIMG_BASE, PAGE_BYTES } from "./memimage-layout.ts";
import { PhysAllocator } from "./phys-memory.ts";
import { Memimage } from "./platform/memimage.ts";
import { VkHart } from "./platform/vk-hart.ts";
import { VkPmap } from "./platform/vk-pmap.ts";
import type { VkernelConfig } from "./vkernel-config.ts";

/** Per-vCPU state kept beside the pcpu page (JavaScript cache; empty at every freeze). */
export interface VcpuCache {
  /** The inner LWP whose frame is out in a vmspace_ctl run and not yet absorbed. */
  inGuest: number | null;
}

/** The guest vmspace id of inner process `pid` (DragonFly names it by its pmap). */
export const guestVmspaceId = (pid: number): number => (0x8000_0000 | pid) >>> 0;

/**
 * A running vkernel: the inner kernel (host-kernel's `Kernel` on VkHarts whose pages are
 * memimage pages), its pmaps and the console bytes on their way out. This is a *cache* (DESIGN.md
 * §1.2): JavaScript heap a host freeze does not see; its authoritative copy at every freeze is
 * the state region. `attach(vm)` finds it for a native step; a miss means a thawed process.
 */
export class VkernelInstance {
  readonly inner: Kernel;
  readonly mem: Memimage;
  /** Inner pid → its pmap (and guest vmspace). */
  readonly pmaps = new Map<number, VkPmap>();
  /** Inner pids that exited since `deadPmap` last looked (their pmaps, if any, are dead). */
  readonly exited: number[] = [];
  readonly cpus: VcpuCache[];
  /** Inner console output not yet written to the host's fd 1. */
  readonly consoleOut: Uint8Array[] = [];
  /** The memimage page that stays zero (mapped read-only for untouched anonymous pages). */
  readonly zeroPhys: number;
  /** True once the vcons rx cothread saw EOF (then the inner kernel may report a deadlock). */
  inputClosed = false;

  constructor(
    readonly config: VkernelConfig,
    vm: VmSpace,
    alloc: PhysAllocator = new PhysAllocator(config.memoryBytes / PAGE_BYTES),
    inner?: Kernel,
    zeroPhys?: number,
  ) {
    this.mem = Memimage.of(vm, alloc);
    this.inner =
      inner ??
      createKernel({
        cpus: config.vcpus,
        seed: config.seed ?? 1,
        quantum: config.quantum ?? 10_000,
        console: { write: (b) => this.consoleOut.push(b.slice()) },
        liveInput: true,
        createHart: (space) => new VkHart(space),
        netifs: vkeNetifs(config, vm),
        onProcessExit: (pid) => this.exited.push(pid),
      });
    this.inner.ids.backend = this.mem.backend();
    this.zeroPhys = zeroPhys ?? this.mem.allocZeroed();
    this.cpus = Array.from({ length: config.vcpus }, () => ({ inGuest: null }));
  }

  /** The pmap of inner process `pid` (made on first use; its guest vmspace needs 3 host calls). */
  pmapFor(pid: number): VkPmap {
    let p = this.pmaps.get(pid);
    if (p === undefined) {
      p = new VkPmap(this.mem, guestVmspaceId(pid), this.zeroPhys);
      this.pmaps.set(pid, p);
    }
    return p;
  }

  /** The inner LWP current on CPU `cpu`, if any. */
  current(cpu: number): Lwp | undefined {
    const tid = this.inner.sched.cpus[cpu]?.current;
    return tid === null || tid === undefined ? undefined : this.inner.lwps.get(tid);
  }

  /**
   * A pmap whose process is gone: its guest vmspace can be destroyed. Fed by the inner kernel's
   * `onProcessExit`, so the vCPU loop asks in O(1) instead of scanning every pmap.
   */
  deadPmap(): VkPmap | undefined {
    while (this.exited.length > 0) {
      const p = this.pmaps.get(this.exited[0] as number);
      if (p !== undefined) return p; // dropPmap removes it; the pid leaves the queue below
      this.exited.shift();
    }
    return undefined;
  }

  /** Forget a pmap whose guest vmspace was destroyed, and free its tables. */
  dropPmap(p: VkPmap): void {
    for (const [pid, q] of this.pmaps)
      if (q === p) {
        this.pmaps.delete(pid);
        p.destroy();
      }
  }

  /** Take up to `max` bytes of pending console output. */
  takeConsole(max: number): Uint8Array | null {
    const first = this.consoleOut[0];
    if (first === undefined) return null;
    if (first.length <= max) {
      this.consoleOut.shift();
      return first;
    }
    this.consoleOut[0] = first.subarray(max);
    return first.subarray(0, max);
  }
}

const instances = new WeakMap<VmSpace, VkernelInstance>();

/** The running vkernel of the process whose address space is `vm`, or undefined (thawed). */
export function attach(vm: VmSpace): VkernelInstance | undefined {
  return instances.get(vm);
}

/** Register `vk` as the running vkernel of `vm`. */
export function register(vm: VmSpace, vk: VkernelInstance): void {
  instances.set(vm, vk);
}

/** memimage address of physical address `phys` in vmspace0. */
export const memimageAddr = (phys: number): number => MEMIMG_BASE + phys;
