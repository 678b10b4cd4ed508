import { describe, expect, it } from "vitest";
import { createStoreTarget } from "../ckpt/ckpt-target.ts";
import { memoryImages } from "../ckpt/ckpt-test-support.ts";
import { thawProcess } from "../ckpt/thaw.ts";
import { add, addi, bne, ecall, jal, li, lw, sw } from "../cpu/test-asm.ts";
import { createKernel, type Kernel } from "../kernel.ts";
import { Asm, resolve, spawnCode, sys } from "../kernel-test-support.ts";
import { NATIVE_HANDLER_BASE, type NativeProgram } from "../native/native-types.ts";
import { SIGUSR1 } from "../signal/signal-numbers.ts";
import { ENOENT } from "../syscall/errno.ts";
import * as nr from "../syscall/syscall-numbers.ts";
import { ENTRY_SHARED, MAP_ANONYMOUS, MAP_FIXED, MAP_SHARED, PROT_READ, PROT_WRITE } from "./vm-types.ts";
import {
  MADV_SETMAP,
  MAP_VPAGETABLE,
  VMSPACE_CTL_RUN,
  VMTRAP_SLICE,
  VMTRAP_SYSCALL,
} from "./vmspace-guest.ts";
import { FRAME_CAUSE, FRAME_PC } from "./vmspace-guest-frame.ts";
import {
  CODE_PHYS,
  FRAME_PHYS,
  GUEST_CODE,
  GUEST_ID,
  GuestTables,
  guestFrame,
  MEMIMG,
  MEMIMG_PAGES,
  masterPde,
  PTE_R,
  PTE_U,
  PTE_X,
  u32s,
  WINDOW,
  WINDOW_LEN,
} from "./vmspace-guest-test-support.ts";

/**
 * The guest program: a guest syscall 1 (the vkernel answers a0 * 6), then the sum 1..N in a
 * loop that outlasts several host slices, then guest syscall 93 with a0 = answer + sum.
 */
const N = 3000;
const EXPECTED = 42 + (N * (N + 1)) / 2;
const GUEST = resolve([
  li(17, 1),
  li(10, 7),
  ecall(),
  addi(8, 10, 0),
  li(5, 0),
  li(6, N),
  addi(5, 5, 1), // loop:
  add(9, 9, 5),
  bne(5, 6, -8),
  add(10, 8, 9),
  li(17, 93),
  ecall(),
]);
const GUEST_LOOP = GUEST_CODE + 9 * 4;

/** Write the guest's tables, code and first frame into memimage through `poke`. */
function loadGuest(poke: (phys: number, bytes: Uint8Array) => void): void {
  new GuestTables(poke).map(GUEST_CODE, CODE_PHYS, PTE_R | PTE_X | PTE_U);
  poke(CODE_PHYS, u32s(...GUEST));
  poke(FRAME_PHYS, guestFrame(GUEST_CODE));
}

const QUANTUM = 1000;
const FRAME = MEMIMG + FRAME_PHYS;
/** Where the native vkernel keeps what the tests look at (a memimage page the guest never maps). */
const NOTES = MEMIMG + 0xb000;
const NOTE_RESULT = NOTES;
const NOTE_SLICES = NOTES + 4;
const NOTE_REBUILDS = NOTES + 8;
const NOTE_SIGNO = NOTES + 12;
const NOTE_SIG_CAUSE = NOTES + 16;
const NOTE_SIG_PC = NOTES + 20;
const SIGACT = NOTES + 0x100;

type Vk = { phase: string };

/**
 * A miniature vkernel as a native program (DragonFly's go_user loop): maps memimage, loads the
 * guest, builds its vmspace (cpu_vmspace_alloc), and runs it with vmspace_ctl, answering guest
 * syscalls; -ENOENT (after a thaw: guest vmspaces are not saved) rebuilds the vmspace.
 */
const vkernelProgram: NativeProgram = {
  main: "main",
  handlerRoles: ["onusr1"],
  initialState: { phase: "map" },
  steps: {
    main(ctx, env) {
      const s = ctx.state as Vk;
      const vm = env.vm;
      const bump = (addr: number) => vm.writeU32(addr, (vm.readU32(addr) ?? 0) + 1);
      const run = () => ({ syscall: nr.SYS_vmspace_ctl, args: [GUEST_ID, VMSPACE_CTL_RUN, FRAME] });
      switch (s.phase) {
        case "map":
          s.phase = "sigaction";
          return {
            syscall: nr.SYS_mmap2,
            args: [
              MEMIMG,
              MEMIMG_PAGES * 4096,
              PROT_READ | PROT_WRITE,
              MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED,
              -1,
              0,
            ],
          };
        case "sigaction":
          vm.copyout(SIGACT, u32s(NATIVE_HANDLER_BASE, 0, 0, 0));
          s.phase = "create";
          return { syscall: nr.SYS_rt_sigaction, args: [SIGUSR1, SIGACT, 0, 8] };
        case "create":
          loadGuest((phys, bytes) => vm.poke(MEMIMG + phys, bytes));
          s.phase = "mmap";
          return { syscall: nr.SYS_vmspace_create, args: [GUEST_ID] };
        case "mmap":
          s.phase = "setmap";
          return {
            syscall: nr.SYS_vmspace_mmap,
            args: [GUEST_ID, WINDOW, WINDOW_LEN, 7, MAP_SHARED | MAP_FIXED | MAP_VPAGETABLE, MEMIMG],
          };
        case "setmap":
          s.phase = "trap";
          return {
            syscall: nr.SYS_vmspace_mcontrol,
            args: [GUEST_ID, WINDOW, WINDOW_LEN, MADV_SETMAP, masterPde()],
          };
        case "trap": {
          const r = ctx.result;
          if (r === 0) return run(); // the vmspace is ready: enter the guest
          if (r === -ENOENT) {
            bump(NOTE_REBUILDS);
            s.phase = "mmap";
            return { syscall: nr.SYS_vmspace_create, args: [GUEST_ID] };
          }
          if (r === VMTRAP_SLICE) {
            bump(NOTE_SLICES);
            return run();
          }
          if (r === VMTRAP_SYSCALL) {
            const a0 = vm.readU32(FRAME + 10 * 4) ?? 0;
            if (vm.readU32(FRAME + 17 * 4) === 93) {
              vm.writeU32(NOTE_RESULT, a0);
              s.phase = "done";
              return { syscall: nr.SYS_exit, args: [a0 & 0xff] };
            }
            vm.writeU32(FRAME + 10 * 4, a0 * 6);
            vm.writeU32(FRAME + FRAME_PC, (vm.readU32(FRAME + FRAME_PC) ?? 0) + 4);
            return run();
          }
          return { syscall: nr.SYS_exit, args: [200] };
        }
        default:
          return { syscall: nr.SYS_exit, args: [201] };
      }
    },
    onusr1(ctx, env) {
      // Runs in the vkernel's own context: the guest's run has ended and its frame is saved.
      env.vm.writeU32(NOTE_SIGNO, ctx.result);
      env.vm.writeU32(NOTE_SIG_CAUSE, env.vm.readU32(FRAME + FRAME_CAUSE) ?? 0);
      env.vm.writeU32(NOTE_SIG_PC, env.vm.readU32(FRAME + FRAME_PC) ?? 0);
      return { syscall: nr.SYS_rt_sigreturn };
    },
  },
};

const natives = { "/boot/vkernel": vkernelProgram };

function bootVkernel(options: Parameters<typeof createKernel>[0] = {}): { k: Kernel; pid: number } {
  const k = createKernel({ quantum: QUANTUM, natives, ...options });
  return { k, pid: k.spawn({ path: "/boot/vkernel" }) };
}

const note = (k: Kernel, pid: number, addr: number): number | null =>
  k.procs.get(pid)?.vm.readU32(addr) ?? null;

describe("guest vmspaces from a native caller (the vkernel)", () => {
  it("runs a guest across slices, answering its syscalls, to its exit", async () => {
    const { k, pid } = bootVkernel();
    const r = await k.run();
    expect(r.reason).toBe("exited");
    expect(note(k, pid, NOTE_RESULT)).toBe(EXPECTED);
    expect(r.exitStatus).toBe(EXPECTED & 0xff);
    expect(note(k, pid, NOTE_SLICES)).toBeGreaterThanOrEqual(Math.floor((3 * N) / QUANTUM));
    // the guest's instructions are the run's virtual time
    expect(r.instructions).toBeGreaterThan(3 * N);
    expect(r.time).toBeGreaterThanOrEqual(r.instructions);
  });

  it("delivers a signal after the run returns, in the caller's context, with the frame saved", async () => {
    const { k, pid } = bootVkernel();
    const stop = await k.run({ stopAt: 4000 });
    expect(stop.reason).toBe("stopped");
    k.signalProcess(pid, SIGUSR1);
    const r = await k.run();
    expect(r.reason).toBe("exited");
    expect(note(k, pid, NOTE_SIGNO)).toBe(SIGUSR1);
    expect(note(k, pid, NOTE_SIG_CAUSE)).toBe(VMTRAP_SLICE);
    const pc = note(k, pid, NOTE_SIG_PC) ?? 0;
    expect(pc).toBeGreaterThanOrEqual(GUEST_LOOP);
    expect(pc).toBeLessThan(GUEST_LOOP + 12);
    // the guest went on where it was
    expect(note(k, pid, NOTE_RESULT)).toBe(EXPECTED);
  });

  it("a freeze omits guest vmspaces; the thawed caller has returned from vmspace_ctl and rebuilds", async () => {
    const whole = await bootVkernel().k.run();
    const images = memoryImages();
    const { k, pid } = bootVkernel();
    expect((await k.run({ stopAt: 4000 })).reason).toBe("stopped");
    expect(k.procs.get(pid)?.vkernel?.spaces.size).toBe(1);
    const frozen = await createStoreTarget(images).checkpoint(k, pid);
    const manifest = await images.readManifest(frozen.id);
    const image = manifest.processes[0];
    // only the caller's own map: memimage (shared anon) and the sigcode page, no VPAGETABLE window
    expect(image?.vmspace.entries.map((e) => e.type ?? "normal")).not.toContain("vpagetable");
    expect(manifest.objects.length).toBe(k.procs.get(pid)?.vm.entries.length);

    const thawed = await thawProcess(images, frozen.id, { natives, quantum: QUANTUM });
    const proc = thawed.kernel.procs.get(pid);
    expect(proc?.vkernel).toBeNull();
    // the LWP comes back having returned from vmspace_ctl (a slice trap): it re-enters itself
    const lwp = thawed.kernel.lwps.get(pid);
    expect(lwp?.hart.x[10]).toBe(VMTRAP_SLICE);
    expect(lwp?.state).toBe("runnable");
    const r = await thawed.kernel.run();
    expect(r.exitStatus).toBe(whole.exitStatus);
    expect(note(thawed.kernel, pid, NOTE_RESULT)).toBe(EXPECTED);
    expect(note(thawed.kernel, pid, NOTE_REBUILDS)).toBe(1);
  });

  it("checkpoint-and-continue with guest vmspaces changes nothing", async () => {
    const whole = await bootVkernel().k.run();
    const images = memoryImages();
    const { k, pid } = bootVkernel();
    await k.run({ stopAt: 4000 });
    await createStoreTarget(images).checkpoint(k, pid);
    const r = await k.run();
    expect([r.exitStatus, r.instructions, r.digest]).toEqual([
      whole.exitStatus,
      whole.instructions,
      whole.digest,
    ]);
    expect(note(k, pid, NOTE_REBUILDS)).toBe(0);
  });
});

describe("guest vmspaces from an ELF caller", () => {
  it("runs the guest with hand-assembled vmspace_* calls until its exit syscall", async () => {
    const k = createKernel({ quantum: QUANTUM });
    const ID = GUEST_ID;
    const a = new Asm();
    a.emit(
      sys(nr.SYS_vmspace_create, ID),
      sys(nr.SYS_vmspace_mmap, ID, WINDOW, WINDOW_LEN, 7, MAP_SHARED | MAP_FIXED | MAP_VPAGETABLE, MEMIMG),
      sys(nr.SYS_vmspace_mcontrol, ID, WINDOW, WINDOW_LEN, MADV_SETMAP, masterPde()),
    );
    a.label("run");
    a.emit(sys(nr.SYS_vmspace_ctl, ID, VMSPACE_CTL_RUN, FRAME));
    // SLICE: go again. SYSCALL 1: a0 *= 6, pc += 4, go again. SYSCALL 93: exit with the guest's a0.
    a.emit(
      li(5, VMTRAP_SLICE),
      (pc, L) => bne(10, 5, L("trap") - pc),
      (pc, L) => jal(0, L("run") - pc),
    );
    a.label("trap");
    a.emit(
      li(5, FRAME),
      lw(6, 5, 17 * 4),
      li(7, 93),
      (pc, L) => bne(6, 7, L("answer") - pc),
      lw(10, 5, 10 * 4),
      li(17, nr.SYS_exit),
      ecall(),
    );
    a.label("answer");
    a.emit(
      lw(6, 5, 10 * 4),
      addi(7, 6, 0),
      add(6, 6, 6), // 2x
      add(6, 6, 7), // 3x
      add(6, 6, 6), // 6x
      sw(6, 5, 10 * 4),
      lw(6, 5, FRAME_PC),
      addi(6, 6, 4),
      sw(6, 5, FRAME_PC),
      (pc, L) => jal(0, L("run") - pc),
    );
    const pid = spawnCode(k, a.words());
    const proc = k.procs.get(pid);
    proc?.vm.map({
      addr: MEMIMG,
      len: MEMIMG_PAGES * 4096,
      prot: PROT_READ | PROT_WRITE,
      flags: ENTRY_SHARED,
      fixed: true,
    });
    loadGuest((phys, bytes) => proc?.vm.poke(MEMIMG + phys, bytes));
    const r = await k.run();
    expect(r.reason).toBe("exited");
    expect(r.exitStatus).toBe(EXPECTED & 0xff);
    expect(proc?.vm.readU32(FRAME + 10 * 4)).toBe(EXPECTED);
    expect(proc?.vm.readU32(FRAME + 17 * 4)).toBe(93);
  });
});
