import {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  type NativeAction,
  type NativeEnv,
  type NativeThreadContext,
  PROT_READ,
  PROT_WRITE,
  SpawnError,
  syscalls,
} from "@vkc/host-kernel";
import { CKPT_SIGSET, HANDLER_COUNT, installCheckpointHandlers } from "./ckpt/ckpt-signals.ts";
import { vconsSetMode } from "./dev/vcons.ts";
import { applyWinsize, getWinsize } from "./dev/vcons-winsize.ts";
import { vkeBootStep } from "./dev/vke-boot.ts";
import {
  MEMIMG_BASE,
  PCPU_BASE,
  PCPU_STRIDE,
  PCPU_TOKEN,
  pcpuAddr,
  SH_SCRATCH,
  SHARED_BASE,
  SHARED_BYTES,
  STATE_BASE,
  STATE_MAX_BYTES,
} from "./memimage-layout.ts";
import { VKERNEL_PANIC } from "./platform/vcpu.ts";
import type { VkernelConfig } from "./vkernel-config.ts";
import { attach, register, VkernelInstance } from "./vkernel-instance.ts";

/** Indexes into the program's `threadRoles` (lwp_create's `entry`). */
export const ROLE_VCPU = 0;
export const ROLE_VCONS_RX = 1;

const act = (syscall: number, ...args: number[]): NativeAction => ({ syscall, args });
const RW = PROT_READ | PROT_WRITE;
const AT_FDCWD = -100;
const SEEK_END = 2;
const SIG_BLOCK = 0;
const SIG_UNBLOCK = 1;
const SIGSET_SIZE = 8;

interface BootState {
  phase: string;
  /** Guest index, or handler / vCPU index, as the phase needs. */
  i: number;
  fd: number;
  size: number;
  addr: number;
  /** A checkpoint signal that arrived during boot: raised again once the vCPUs run. */
  pendingCkpt?: number;
  /** The config (plain data, the program's initial state): a boot thawed mid-way still has it. */
  config?: VkernelConfig;
}

/**
 * The boot thread (DESIGN.md §1.1): maps memimage, the pcpu area, the shared page and the state
 * region; builds the inner kernel and spawns every guest (ELFs read from the host VFS with
 * openat/_llseek/mmap); puts the console in raw mode (vcons_set_mode); installs the checkpoint
 * handlers; creates the vcons-rx cothread with the checkpoint signals blocked (step 1) and the
 * other vCPUs; then becomes vCPU 0. Returns null when it has become vCPU 0 (the caller then runs
 * the vCPU loop).
 */
export function bootStep(
  config: VkernelConfig,
  ctx: NativeThreadContext,
  env: NativeEnv,
): NativeAction | null {
  const raw = (ctx.state ?? {}) as unknown as Partial<BootState>;
  const st: BootState =
    typeof raw === "object" && typeof raw.phase === "string"
      ? { ...(raw as BootState) }
      : {
          phase: "start",
          i: 0,
          fd: -1,
          size: 0,
          addr: 0,
          ...(raw.config !== undefined ? { config: raw.config } : {}),
          ...(raw.pendingCkpt !== undefined ? { pendingCkpt: raw.pendingCkpt } : {}),
        };
  const r = ctx.result;
  const vm = env.vm;
  const go = (phase: string, action: NativeAction, patch: Partial<BootState> = {}): NativeAction => {
    ctx.state = { ...st, ...patch, phase } as unknown as NativeThreadContext["state"];
    return action;
  };
  const panic = (): NativeAction => go("panic", act(syscalls.SYS_exit_group, VKERNEL_PANIC));
  const scratch = SHARED_BASE + SH_SCRATCH;
  const skip = new Set(config.testHooks?.skipStep ?? []);

  const openGuest = (i: number): NativeAction => {
    const g = config.guests[i];
    if (g === undefined) return go("mode", vconsSetMode(env, scratch));
    const path = new TextEncoder().encode(`${g.path}\0`);
    if (path.length > 1024 || vm.copyout(scratch, path) !== 0) return panic();
    return go("open", act(syscalls.SYS_openat, AT_FDCWD, scratch, 0, 0), { i });
  };
  const sigmask = (how: number, phase: string): NativeAction => {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, CKPT_SIGSET, true);
    vm.copyout(scratch, b);
    return go(phase, act(syscalls.SYS_rt_sigprocmask, how, scratch, 0, SIGSET_SIZE));
  };
  const nextVcpu = (i: number): NativeAction | null => {
    // tp = the vCPU's pcpu page: `mycpu` through TLS (DragonFly's `gd` through %gs); vCPU 0 is
    // this thread, tp 0.
    if (i < config.vcpus)
      return go("vcpu", act(syscalls.SYS_lwp_create, ROLE_VCPU, 0, pcpuAddr(i), i, 0), { i });
    ctx.role = "vcpu";
    // A checkpoint signal that came during boot is raised again by vCPU 0's first step.
    ctx.state = {
      cpu: 0,
      phase: "start",
      ...(st.pendingCkpt !== undefined ? { raise: st.pendingCkpt } : {}),
    };
    return null;
  };

  switch (st.phase) {
    case "start":
      return go(
        "memimage",
        act(
          syscalls.SYS_mmap2,
          MEMIMG_BASE,
          config.memoryBytes,
          RW,
          MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED,
          -1,
          0,
        ),
      );
    case "memimage":
      if (r >>> 0 !== MEMIMG_BASE) return panic();
      return go(
        "pcpu",
        act(
          syscalls.SYS_mmap2,
          PCPU_BASE,
          config.vcpus * PCPU_STRIDE,
          RW,
          MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
          -1,
          0,
        ),
      );
    case "pcpu":
      if (r >>> 0 !== PCPU_BASE) return panic();
      return go(
        "shared",
        act(
          syscalls.SYS_mmap2,
          SHARED_BASE,
          SHARED_BYTES,
          RW,
          MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
          -1,
          0,
        ),
      );
    case "shared":
      if (r >>> 0 !== SHARED_BASE) return panic();
      // The handlers go in before the inner kernel exists: a checkpoint signal before them takes
      // the host's default (a plain process image, which thaws back into this boot thread).
      return go("handlers", installCheckpointHandlers(env, scratch, 0), { i: 0 });
    case "handlers":
      if (st.i + 1 < HANDLER_COUNT)
        return go("handlers", installCheckpointHandlers(env, scratch, st.i + 1), { i: st.i + 1 });
      return go(
        "state",
        act(
          syscalls.SYS_mmap2,
          STATE_BASE,
          STATE_MAX_BYTES,
          RW,
          MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
          -1,
          0,
        ),
      );
    case "state": {
      if (r >>> 0 !== STATE_BASE) return panic();
      register(vm, new VkernelInstance(config, vm));
      vm.writeU32(pcpuAddr(0) + PCPU_TOKEN, 1);
      // The inner console starts with the host terminal's size (vcons, DESIGN.md §4.2).
      return go("winsize", getWinsize(0));
    }
    case "winsize": {
      const vk = attach(vm);
      if (vk !== undefined && r === 0) applyWinsize(vk.inner, env, 0);
      return openGuest(0);
    }
    case "open":
      if (r < 0) return panic();
      return go("size", act(syscalls.SYS_llseek, r, 0, 0, scratch + 0x800, SEEK_END), { fd: r });
    case "size": {
      const size = vm.readU32(scratch + 0x800) ?? 0;
      if (r < 0 || size === 0) return panic();
      return go("map", act(syscalls.SYS_mmap2, 0, size, PROT_READ, MAP_PRIVATE, st.fd, 0), { size });
    }
    case "map":
      if (r < 0 && r > -4096) return panic();
      return go("close", act(syscalls.SYS_close, st.fd), { addr: r >>> 0 });
    case "close": {
      const elf = vm.copyin(st.addr, st.size);
      const g = config.guests[st.i];
      const vk = attach(vm);
      if (typeof elf === "number" || g === undefined || vk === undefined) return panic();
      try {
        vk.inner.spawn({ path: g.path, elf, argv: [...g.argv] });
      } catch (e) {
        if (e instanceof SpawnError) return panic();
        throw e;
      }
      return go("unmap", act(syscalls.SYS_munmap, st.addr, st.size));
    }
    case "unmap":
      return openGuest(st.i + 1);
    case "mode":
    case "vke": {
      // Not a tty (-ENOTTY) is fine: output is passed through unchanged either way.
      // vke: map its rings, open and configure the taps, start its cothreads (dev/vke-boot.ts).
      const v = vkeBootStep(config, env, st.phase === "vke" ? st.i : 0, r);
      if (v !== null) return "panic" in v ? v.panic : go("vke", v.action, { i: v.next });
      if (skip.has("1")) return go("rx", act(syscalls.SYS_lwp_create, ROLE_VCONS_RX, 0, 0, 0, 0));
      return sigmask(SIG_BLOCK, "block");
    }
    case "block":
      return go("rx", act(syscalls.SYS_lwp_create, ROLE_VCONS_RX, 0, 0, 0, 0));
    case "rx":
      if (r < 0) return panic();
      if (skip.has("1")) return nextVcpu(1);
      return sigmask(SIG_UNBLOCK, "unblock");
    case "unblock":
      return nextVcpu(1);
    case "vcpu":
      if (r < 0) return panic();
      return nextVcpu(st.i + 1);
    default:
      return panic();
  }
}
