import {
  decodeGuestFrame,
  encodeGuestFrame,
  errno,
  GUEST_FRAME_SIZE,
  MADV_SETMAP,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  MAP_VPAGETABLE,
  type NativeAction,
  type NativeEnv,
  type NativeProgram,
  type NativeThreadContext,
  PROT_EXEC,
  PROT_READ,
  PROT_WRITE,
  syscalls,
  VMSPACE_CTL_RUN,
  VMTRAP_SLICE,
  VMTRAP_SYSCALL,
} from "@vkc/host-kernel";
import { VkernelError } from "./errors.ts";
import { type LoadedGuest, loadGuest } from "./guest-loader.ts";
import {
  BOUNCE_ADDR,
  BOUNCE_BYTES,
  DEFAULT_MEMIMG_BYTES,
  FRAME_ADDR,
  GUEST_WINDOW_END,
  GUEST_WINDOW_START,
  MEMIMG_BASE,
  PAGE_BYTES,
  PCPU_BASE,
  PCPU_BYTES,
} from "./memimage-layout.ts";
import { PhysAllocator, vmPhysMemory } from "./phys-memory.ts";
import { copyinGuest, Sv32Pmap } from "./pmap-sv32.ts";

/** What the first slice boots: one static guest ELF and its argv. */
export interface VkernelSliceConfig {
  readonly elf: Uint8Array;
  readonly argv: readonly string[];
  /** memimage size in bytes, a multiple of 4096 (default 1 MiB). */
  readonly memoryBytes?: number;
}

/** The guest vmspace id of the one guest (DragonFly names it by its pmap's address). */
export const SLICE_GUEST_ID = 0x8000_0001;
/** Exit status of the vkernel when booting fails (a host call refused, the guest does not load or fit). */
export const VKERNEL_PANIC_STATUS = 70;

const RW = PROT_READ | PROT_WRITE;
const WINDOW_LEN = GUEST_WINDOW_END - GUEST_WINDOW_START;

/**
 * The boot thread's state (plain data, so a host freeze could save it): which host call it is
 * waiting for, and what it must remember between steps. Everything else is in memory: the guest
 * frame in the pcpu page, page tables and guest pages in memimage.
 */
type SliceState =
  | { phase: "start" }
  | { phase: "memimage" | "pcpu" }
  | {
      phase: "created" | "windowed" | "setmap" | "running" | "writing";
      root: number;
      pde: number;
      next: number;
    };

const act = (syscall: number, ...args: number[]): NativeAction => ({ syscall, args });
const panic = (): NativeAction => act(syscalls.SYS_exit_group, VKERNEL_PANIC_STATUS);

/**
 * `/boot/vkernel`, first slice (DESIGN.md §8 milestone 0): map memimage, load one guest ELF into
 * memimage pages behind Sv32 tables, make a guest vmspace over it, and run it on one vCPU with
 * vmspace_ctl(RUN), handling its write (forwarded to the host's fd 1/2), exit and exit_group
 * calls itself; every other guest syscall returns -ENOSYS. A guest fault ends the vkernel with
 * 128 + the signal, as a host process would end. This is a shim, not the kernel core: milestone 1
 * replaces the syscall handling with host-kernel's `Kernel` on a VkHart.
 */
export function createVkernelSliceProgram(config: VkernelSliceConfig): NativeProgram {
  const memBytes = config.memoryBytes ?? DEFAULT_MEMIMG_BYTES;
  if (memBytes <= 0 || memBytes % PAGE_BYTES !== 0 || MEMIMG_BASE + memBytes > 0xb000_0000)
    throw new RangeError(`vkernel memory ${memBytes}: must be a positive multiple of 4096 below 1 GiB`);
  const pages = memBytes / PAGE_BYTES;

  const step = (ctx: NativeThreadContext, env: NativeEnv): NativeAction => {
    const st = (ctx.state ?? { phase: "start" }) as SliceState;
    const result = ctx.result;
    const mem = vmPhysMemory(env.vm, MEMIMG_BASE, memBytes);
    const set = (s: SliceState): void => {
      ctx.state = s as unknown as NativeThreadContext["state"];
    };
    switch (st.phase) {
      case "start":
        set({ phase: "memimage" });
        return act(
          syscalls.SYS_mmap2,
          MEMIMG_BASE,
          memBytes,
          RW,
          MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED,
          -1,
          0,
        );
      case "memimage":
        if (result >>> 0 !== MEMIMG_BASE) return panic();
        set({ phase: "pcpu" });
        return act(
          syscalls.SYS_mmap2,
          PCPU_BASE,
          PCPU_BYTES,
          RW,
          MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
          -1,
          0,
        );
      case "pcpu": {
        if (result >>> 0 !== PCPU_BASE) return panic();
        const alloc = new PhysAllocator(pages);
        let guest: LoadedGuest;
        try {
          guest = loadGuest(mem, alloc, { elf: config.elf, argv: config.argv });
        } catch (e) {
          if (VkernelError.isInstance(e)) return panic();
          throw e;
        }
        const x = new Array<number>(32).fill(0);
        x[2] = guest.sp;
        writeFrame(env, { x, pc: guest.entry });
        set({ phase: "created", root: guest.root, pde: guest.masterPde, next: alloc.next });
        return act(syscalls.SYS_vmspace_create, SLICE_GUEST_ID, 0, 0);
      }
      case "created":
        if (result !== 0) return panic();
        set({ ...st, phase: "windowed" });
        return act(
          syscalls.SYS_vmspace_mmap,
          SLICE_GUEST_ID,
          GUEST_WINDOW_START,
          WINDOW_LEN,
          RW | PROT_EXEC,
          MAP_SHARED | MAP_FIXED | MAP_VPAGETABLE,
          MEMIMG_BASE,
        );
      case "windowed":
        if (result >>> 0 !== GUEST_WINDOW_START) return panic();
        set({ ...st, phase: "setmap" });
        return act(
          syscalls.SYS_vmspace_mcontrol,
          SLICE_GUEST_ID,
          GUEST_WINDOW_START,
          WINDOW_LEN,
          MADV_SETMAP,
          st.pde,
        );
      case "setmap":
        if (result < 0) return panic();
        set({ ...st, phase: "running" });
        return runGuest();
      case "writing":
        set({ ...st, phase: "running" });
        return completeSyscall(env, result);
      case "running": {
        if (result < 0) return panic();
        if (result === VMTRAP_SLICE) return runGuest();
        const frame = readFrame(env);
        if (result !== VMTRAP_SYSCALL) return act(syscalls.SYS_exit_group, 128 + frameWord(env, 140));
        const nr = frame.x[17] ?? 0;
        const [a0 = 0, a1 = 0, a2 = 0] = frame.x.slice(10, 13);
        switch (nr) {
          case syscalls.SYS_exit:
          case syscalls.SYS_exit_group:
            return act(syscalls.SYS_exit_group, a0 & 0xff);
          case syscalls.SYS_write: {
            if (a0 !== 1 && a0 !== 2) return completeSyscall(env, -errno.EBADF);
            const n = Math.min(a2, BOUNCE_BYTES);
            const pmap = new Sv32Pmap(mem, new PhysAllocator(pages, st.next), st.root);
            const bytes = copyinGuest(pmap, mem, a1, n);
            if (bytes === null) return completeSyscall(env, -errno.EFAULT);
            if (env.vm.copyout(BOUNCE_ADDR, bytes) !== 0) return panic();
            set({ ...st, phase: "writing" });
            return act(syscalls.SYS_write, a0, BOUNCE_ADDR, n);
          }
          case syscalls.SYS_getpid:
          case syscalls.SYS_gettid:
            return completeSyscall(env, 1);
          default:
            return completeSyscall(env, -errno.ENOSYS);
        }
      }
    }
  };

  return { main: "boot", steps: { boot: step } };
}

const runGuest = (): NativeAction =>
  act(syscalls.SYS_vmspace_ctl, SLICE_GUEST_ID, VMSPACE_CTL_RUN, FRAME_ADDR);

/** Put `value` in the guest's a0, step past its ecall and re-enter it. */
function completeSyscall(env: NativeEnv, value: number): NativeAction {
  const frame = readFrame(env);
  frame.x[10] = value >>> 0;
  frame.pc = (frame.pc + 4) >>> 0;
  writeFrame(env, frame);
  return runGuest();
}

function readFrame(env: NativeEnv): { x: number[]; pc: number } {
  const bytes = env.vm.copyin(FRAME_ADDR, GUEST_FRAME_SIZE);
  if (typeof bytes === "number") throw new RangeError("vkernel: the pcpu frame page is not mapped");
  return decodeGuestFrame(bytes);
}

function frameWord(env: NativeEnv, offset: number): number {
  return env.vm.readU32(FRAME_ADDR + offset) ?? 0;
}

function writeFrame(env: NativeEnv, frame: { x: number[]; pc: number }): void {
  const bytes = encodeGuestFrame(frame, { cause: 0, value: 0, signo: 0, code: 0 });
  if (env.vm.copyout(FRAME_ADDR, bytes) !== 0)
    throw new RangeError("vkernel: the pcpu frame page is not mapped");
}
