import { describe, expect, it } from "vitest";
import { addi, ebreak, ecall, jal, jalr, li, lw, sw } from "../cpu/test-asm.ts";
import { createKernel } from "../kernel.ts";
import { resolve, spawnCode } from "../kernel-test-support.ts";
import {
  BUS_ADRERR,
  ILL_ILLOPC,
  SEGV_ACCERR,
  SEGV_MAPERR,
  SIGBUS,
  SIGILL,
  SIGSEGV,
  SIGTRAP,
  TRAP_BRKPT,
} from "../signal/signal-numbers.ts";
import {
  ENTRY_SHARED,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  PROT_READ,
  PROT_WRITE,
} from "../vm/vm-types.ts";
import {
  MADV_INVAL,
  MADV_SETMAP,
  MAP_VPAGETABLE,
  VMSPACE_CTL_RUN,
  VMTRAP_BREAKPOINT,
  VMTRAP_FAULT,
  VMTRAP_ILLEGAL,
  VMTRAP_SLICE,
  VMTRAP_SYSCALL,
} from "../vm/vmspace-guest.ts";
import { GUEST_FRAME_SIZE } from "../vm/vmspace-guest-frame.ts";
import {
  CODE_PHYS,
  DATA_PHYS,
  FRAME_PHYS,
  frameWord,
  GUEST_CODE,
  GUEST_DATA,
  GUEST_ID,
  GuestTables,
  guestFrame,
  MEMIMG,
  MEMIMG_PAGES,
  masterPde,
  PTE_R,
  PTE_U,
  PTE_W,
  PTE_X,
  RWXU,
  SECRET_PHYS,
  u32s,
  WINDOW,
  WINDOW_LEN,
} from "../vm/vmspace-guest-test-support.ts";
import { EEXIST, EFAULT, EINVAL, ENOENT } from "./errno.ts";
import * as nr from "./syscall-numbers.ts";
import { syscallTable } from "./syscall-table.ts";

const words = (code: Parameters<typeof resolve>[0]): Uint8Array => u32s(...resolve(code));

/**
 * A process that owns a memimage-like shared object at MEMIMG, and direct calls of its syscalls
 * through the syscall table (the kernel-level harness; ELF and native callers are tested in
 * vmspace-guest.test.ts).
 */
function vkernel(quantum = 10_000) {
  const k = createKernel({ quantum });
  const pid = spawnCode(k, [jal(0, 0)]);
  const proc = k.procs.get(pid);
  const lwp = k.lwps.get(pid);
  if (proc === undefined || lwp === undefined) throw new Error("no process");
  proc.vm.map({
    addr: MEMIMG,
    len: MEMIMG_PAGES * 4096,
    prot: PROT_READ | PROT_WRITE,
    flags: ENTRY_SHARED,
    fixed: true,
  });
  const poke = (phys: number, bytes: Uint8Array) => proc.vm.poke(MEMIMG + phys, bytes);
  const call = (number: number, ...args: number[]): number => {
    const handler = syscallTable.get(number);
    if (handler === undefined) throw new Error(`syscall ${number} is not registered`);
    const r = handler(
      k,
      lwp,
      args.map((a) => a >>> 0),
    );
    if (typeof r !== "number") throw new Error("unexpected sleep");
    return r;
  };
  /** Create guest vmspace `id` windowing memimage through the tables at ROOT_PHYS. */
  const guest = (id = GUEST_ID): void => {
    expect(call(nr.SYS_vmspace_create, id)).toBe(0);
    const flags = MAP_SHARED | MAP_FIXED | MAP_VPAGETABLE;
    expect(call(nr.SYS_vmspace_mmap, id, WINDOW, WINDOW_LEN, 7, flags, MEMIMG)).toBe(WINDOW);
    expect(call(nr.SYS_vmspace_mcontrol, id, WINDOW, WINDOW_LEN, MADV_SETMAP, masterPde())).toBe(0);
  };
  /** Run guest `id` from a fresh slice; the frame comes back with the result. */
  const run = (pc: number, regs: Record<number, number> = {}, id = GUEST_ID) => {
    poke(FRAME_PHYS, guestFrame(pc, regs));
    const cpu = k.sched.cpus[0];
    if (cpu !== undefined) cpu.used = 0;
    const before = k.instructions;
    const result = call(nr.SYS_vmspace_ctl, id, VMSPACE_CTL_RUN, MEMIMG + FRAME_PHYS);
    const frame = proc.vm.copyin(MEMIMG + FRAME_PHYS, GUEST_FRAME_SIZE);
    if (typeof frame === "number") throw new Error("frame unreadable");
    return {
      result,
      frame,
      x: (i: number) => frameWord(frame, i),
      pc: frameWord(frame, 32),
      cause: frameWord(frame, 33),
      value: frameWord(frame, 34),
      signo: frameWord(frame, 35),
      code: frameWord(frame, 36),
      retired: k.instructions - before,
    };
  };
  return { k, proc, lwp, poke, call, guest, run, tables: new GuestTables(poke) };
}

describe("vmspace_create / destroy / mmap / mcontrol", () => {
  it("keys guest vmspaces by the caller's id", () => {
    const v = vkernel();
    expect(v.call(nr.SYS_vmspace_create, 7)).toBe(0);
    expect(v.call(nr.SYS_vmspace_create, 7)).toBe(-EEXIST);
    expect(v.call(nr.SYS_vmspace_create, 0xffff_fff0)).toBe(0);
    expect(v.proc.vkernel?.spaces.size).toBe(2);
    expect(v.call(nr.SYS_vmspace_destroy, 7)).toBe(0);
    expect(v.call(nr.SYS_vmspace_destroy, 7)).toBe(-ENOENT);
    expect(v.call(nr.SYS_vmspace_create, 7)).toBe(0);
  });

  it("shares the caller's memimage object with the VPAGETABLE window", () => {
    const v = vkernel();
    v.guest();
    const space = v.proc.vkernel?.get(GUEST_ID);
    const mine = v.proc.vm.lookup(MEMIMG);
    expect(space?.entries).toHaveLength(1);
    expect(space?.entries[0]?.type).toBe("vpagetable");
    expect(space?.entries[0]?.object).toBe(mine?.object);
    expect(space?.entries[0]?.masterPde).toBe(masterPde());
    expect(mine?.object.refs).toBe(2);
    v.call(nr.SYS_vmspace_destroy, GUEST_ID);
    expect(mine?.object.refs).toBe(1);
  });

  it("rejects what it cannot map", () => {
    const v = vkernel();
    v.call(nr.SYS_vmspace_create, 1);
    const vp = MAP_SHARED | MAP_FIXED | MAP_VPAGETABLE;
    expect(v.call(nr.SYS_vmspace_mmap, 2, WINDOW, 4096, 3, vp, MEMIMG)).toBe(-ENOENT);
    // the caller's private code segment is not a shared object
    expect(v.call(nr.SYS_vmspace_mmap, 1, WINDOW, 4096, 3, vp, 0x10000)).toBe(-EINVAL);
    expect(v.call(nr.SYS_vmspace_mmap, 1, WINDOW, 4096, 3, vp, 0x7000_0000)).toBe(-EFAULT);
    expect(v.call(nr.SYS_vmspace_mmap, 1, WINDOW, 4096, 3, vp | MAP_ANONYMOUS, 0)).toBe(-EINVAL);
    expect(v.call(nr.SYS_vmspace_mmap, 1, WINDOW, 4096, 3, MAP_PRIVATE | MAP_FIXED, MEMIMG)).toBe(-EINVAL);
    expect(v.call(nr.SYS_vmspace_mmap, 1, WINDOW, 0, 3, vp, MEMIMG)).toBe(-EINVAL);
    // SETMAP needs a VPAGETABLE entry; unknown behaviours are refused
    expect(v.call(nr.SYS_vmspace_mmap, 1, WINDOW, 4096, 3, MAP_SHARED | MAP_FIXED, MEMIMG)).toBe(WINDOW);
    expect(v.call(nr.SYS_vmspace_mcontrol, 1, WINDOW, 4096, MADV_SETMAP, masterPde())).toBe(-EINVAL);
    expect(v.call(nr.SYS_vmspace_mcontrol, 1, WINDOW, 4096, 4, 0)).toBe(-EINVAL);
    expect(v.call(nr.SYS_vmspace_munmap, 1, WINDOW, 4096)).toBe(0);
    expect(v.proc.vkernel?.get(1)?.entries).toHaveLength(0);
  });

  it("maps memimage pages directly without MAP_VPAGETABLE", () => {
    const v = vkernel();
    v.call(nr.SYS_vmspace_create, 1);
    v.poke(CODE_PHYS, words([li(5, 0x10000), li(10, 0x1234), sw(10, 5, 0x100), lw(11, 5, 0x100), ecall()]));
    // guest page 0 = memimage CODE_PHYS; both the caller and the guest see the store
    const flags = MAP_SHARED | MAP_FIXED;
    expect(v.call(nr.SYS_vmspace_mmap, 1, 0x10000, 4096, 7, flags, MEMIMG + CODE_PHYS)).toBe(0x10000);
    const r = v.run(0x10000, {}, 1);
    expect(r.result).toBe(VMTRAP_SYSCALL);
    expect(r.x(11)).toBe(0x1234);
    expect(v.proc.vm.readU32(MEMIMG + CODE_PHYS + 0x100)).toBe(0x1234);
  });
});

describe("vmspace_ctl(RUN)", () => {
  it("runs guest code to its ecall and hands back the frame", () => {
    const v = vkernel();
    v.guest();
    v.tables.map(GUEST_CODE, CODE_PHYS, PTE_R | PTE_X | PTE_U);
    v.tables.map(GUEST_DATA, DATA_PHYS, PTE_R | PTE_W | PTE_U);
    v.poke(DATA_PHYS, u32s(40));
    v.poke(
      CODE_PHYS,
      words([li(5, GUEST_DATA), lw(10, 5, 0), addi(10, 10, 2), sw(10, 5, 4), li(17, 77), ecall()]),
    );
    const r = v.run(GUEST_CODE, { 4: 0xdead_beef });
    expect(r.result).toBe(VMTRAP_SYSCALL);
    expect(r.cause).toBe(VMTRAP_SYSCALL);
    expect(r.x(17)).toBe(77);
    expect(r.value).toBe(77);
    expect(r.x(10)).toBe(42);
    expect(r.x(4)).toBe(0xdead_beef); // tp travels with the frame
    expect(r.x(0)).toBe(0);
    expect(r.pc).toBe(GUEST_CODE + 7 * 4); // on the ecall: the vkernel steps over it
    expect(r.retired).toBe(7);
    // the guest's store went to memimage, where the caller sees it
    expect(v.proc.vm.readU32(MEMIMG + DATA_PHYS + 4)).toBe(42);
  });

  it("reports a fault on an unmapped guest page", () => {
    const v = vkernel();
    v.guest();
    v.tables.map(GUEST_CODE, CODE_PHYS, PTE_R | PTE_X | PTE_U);
    v.poke(CODE_PHYS, words([li(5, 0x0050_0000), lw(6, 5, 8), ecall()]));
    const r = v.run(GUEST_CODE);
    expect(r.result).toBe(VMTRAP_FAULT);
    expect([r.value, r.signo, r.code]).toEqual([0x0050_0008, SIGSEGV, SEGV_MAPERR]);
    expect(r.pc).toBe(GUEST_CODE + 8);
  });

  it("reports a write to a read-only page, execution without X and a page without U", () => {
    const v = vkernel();
    v.guest();
    v.tables.map(GUEST_CODE, CODE_PHYS, PTE_R | PTE_X | PTE_U);
    v.tables.map(GUEST_DATA, DATA_PHYS, PTE_R | PTE_U);
    v.poke(CODE_PHYS, words([li(5, GUEST_DATA), sw(5, 5, 0), ecall()]));
    const ro = v.run(GUEST_CODE);
    expect([ro.result, ro.value, ro.signo, ro.code]).toEqual([
      VMTRAP_FAULT,
      GUEST_DATA,
      SIGSEGV,
      SEGV_ACCERR,
    ]);
    expect(v.proc.vm.readU32(MEMIMG + DATA_PHYS)).toBe(0);

    v.tables.map(GUEST_DATA, DATA_PHYS, PTE_R | PTE_W | PTE_U);
    v.call(nr.SYS_vmspace_mcontrol, GUEST_ID, WINDOW, WINDOW_LEN, MADV_INVAL, 0);
    v.poke(CODE_PHYS, words([li(5, GUEST_DATA), jalr(0, 5, 0)]));
    const nx = v.run(GUEST_CODE);
    expect([nx.result, nx.value, nx.signo, nx.code]).toEqual([
      VMTRAP_FAULT,
      GUEST_DATA,
      SIGSEGV,
      SEGV_ACCERR,
    ]);

    const supervisor = GUEST_CODE + 0x2000;
    v.tables.map(supervisor, CODE_PHYS, PTE_R | PTE_X);
    v.call(nr.SYS_vmspace_mcontrol, GUEST_ID, supervisor, 4096, MADV_INVAL, 0);
    const noU = v.run(supervisor);
    expect([noU.result, noU.value, noU.code]).toEqual([VMTRAP_FAULT, supervisor, SEGV_ACCERR]);
  });

  it("reports ebreak, illegal instructions and accesses past memimage", () => {
    const v = vkernel();
    v.guest();
    v.tables.map(GUEST_CODE, CODE_PHYS, PTE_R | PTE_X | PTE_U);
    v.tables.map(GUEST_DATA, MEMIMG_PAGES * 4096, PTE_R | PTE_U); // past the object's end
    v.poke(CODE_PHYS, words([addi(10, 0, 1), ebreak(), 0xffff_ffff, li(5, GUEST_DATA), lw(6, 5, 0)]));
    const bp = v.run(GUEST_CODE);
    expect([bp.result, bp.pc, bp.signo, bp.code]).toEqual([
      VMTRAP_BREAKPOINT,
      GUEST_CODE + 4,
      SIGTRAP,
      TRAP_BRKPT,
    ]);
    const ill = v.run(GUEST_CODE + 8);
    expect([ill.result, ill.value, ill.signo, ill.code]).toEqual([
      VMTRAP_ILLEGAL,
      0xffff_ffff,
      SIGILL,
      ILL_ILLOPC,
    ]);
    const bus = v.run(GUEST_CODE + 12);
    expect([bus.result, bus.value, bus.signo, bus.code]).toEqual([
      VMTRAP_FAULT,
      GUEST_DATA,
      SIGBUS,
      BUS_ADRERR,
    ]);
  });

  it("uses a changed PTE after MADV_INVAL", () => {
    const v = vkernel();
    v.guest();
    v.tables.map(GUEST_CODE, CODE_PHYS, PTE_R | PTE_X | PTE_U);
    v.tables.map(GUEST_DATA, DATA_PHYS, PTE_R | PTE_U);
    v.poke(DATA_PHYS, u32s(111));
    v.poke(DATA_PHYS + 0x1000, u32s(222));
    v.poke(CODE_PHYS, words([li(5, GUEST_DATA), lw(10, 5, 0), ecall()]));
    expect(v.run(GUEST_CODE).x(10)).toBe(111);
    v.tables.map(GUEST_DATA, DATA_PHYS + 0x1000, PTE_R | PTE_U);
    expect(v.call(nr.SYS_vmspace_mcontrol, GUEST_ID, WINDOW, WINDOW_LEN, MADV_INVAL, 0)).toBe(0);
    expect(v.run(GUEST_CODE).x(10)).toBe(222);
    v.tables.unmap(GUEST_DATA);
    v.call(nr.SYS_vmspace_mcontrol, GUEST_ID, WINDOW, WINDOW_LEN, MADV_INVAL, 0);
    expect(v.run(GUEST_CODE).result).toBe(VMTRAP_FAULT);
  });

  it("keeps a guest inside its own tables", () => {
    const v = vkernel();
    v.guest();
    v.tables.map(GUEST_CODE, CODE_PHYS, PTE_R | PTE_X | PTE_U);
    v.tables.map(GUEST_DATA, DATA_PHYS, PTE_R | PTE_U);
    v.poke(SECRET_PHYS, u32s(0x5ec2e7));
    v.poke(CODE_PHYS, words([lw(10, 5, 0), ecall()]));
    // no guest address reaches memimage pages its tables do not map, nor the caller's own memory
    for (const addr of [
      MEMIMG,
      MEMIMG + SECRET_PHYS,
      0x10000,
      SECRET_PHYS,
      GUEST_DATA + 0x1000,
      0xffff_e000,
    ]) {
      const r = v.run(GUEST_CODE, { 5: addr });
      expect([r.result, r.value]).toEqual([VMTRAP_FAULT, addr]);
    }
    // another guest vmspace with its own root table sees other pages at the same address
    const other = 0x7777;
    v.guest(other);
    const root2 = 0x6000;
    v.call(nr.SYS_vmspace_mcontrol, other, WINDOW, WINDOW_LEN, MADV_SETMAP, masterPde(root2));
    v.poke(root2 + (GUEST_CODE >>> 22) * 4, u32s(((0x7000 >>> 12) << 10) | 1));
    v.poke(
      0x7000,
      u32s(((CODE_PHYS >>> 12) << 10) | RWXU | 1, ((SECRET_PHYS >>> 12) << 10) | PTE_R | PTE_U | 1),
    );
    expect(v.run(GUEST_CODE, { 5: GUEST_DATA }, other).x(10)).toBe(0x5ec2e7);
    const mine = v.run(GUEST_CODE, { 5: GUEST_DATA });
    expect([mine.result, mine.x(10)]).toEqual([VMTRAP_SYSCALL, 0]);
  });

  it("ends the run with the caller's time slice, charging the guest's instructions", () => {
    const v = vkernel(500);
    v.guest();
    v.tables.map(GUEST_CODE, CODE_PHYS, PTE_R | PTE_X | PTE_U);
    v.poke(CODE_PHYS, words([addi(6, 6, 1), jal(0, -4)]));
    const t0 = v.k.now();
    const r = v.run(GUEST_CODE);
    expect(r.result).toBe(VMTRAP_SLICE);
    expect(r.retired).toBe(500);
    expect(r.x(6)).toBe(250);
    expect(v.k.now() - t0).toBe(500);
    // re-entering from the saved frame continues where the guest was
    const cpu = v.k.sched.cpus[0];
    if (cpu !== undefined) cpu.used = 300;
    const again = v.call(nr.SYS_vmspace_ctl, GUEST_ID, VMSPACE_CTL_RUN, MEMIMG + FRAME_PHYS);
    expect(again).toBe(VMTRAP_SLICE);
    expect(v.proc.vm.readU32(MEMIMG + FRAME_PHYS + 6 * 4)).toBe(350);
  });

  it("takes a frame that straddles two pages", () => {
    const v = vkernel();
    v.guest();
    v.tables.map(GUEST_CODE, CODE_PHYS, PTE_R | PTE_X | PTE_U);
    v.poke(CODE_PHYS, words([addi(10, 11, 5), li(17, 64), ecall()]));
    const at = MEMIMG + 0xd000 - 80;
    v.proc.vm.poke(at, guestFrame(GUEST_CODE, { 11: 37 }));
    expect(v.call(nr.SYS_vmspace_ctl, GUEST_ID, VMSPACE_CTL_RUN, at)).toBe(VMTRAP_SYSCALL);
    const frame = v.proc.vm.copyin(at, GUEST_FRAME_SIZE);
    if (typeof frame === "number") throw new Error("frame unreadable");
    expect([frameWord(frame, 10), frameWord(frame, 11), frameWord(frame, 17)]).toEqual([42, 37, 64]);
    expect([frameWord(frame, 32), frameWord(frame, 33), frameWord(frame, 34)]).toEqual([
      GUEST_CODE + 12,
      VMTRAP_SYSCALL,
      64,
    ]);
  });

  it("fails cleanly on a bad id, command or frame", () => {
    const v = vkernel();
    v.guest();
    const frame = MEMIMG + FRAME_PHYS;
    expect(v.call(nr.SYS_vmspace_ctl, 99, VMSPACE_CTL_RUN, frame)).toBe(-ENOENT);
    expect(v.call(nr.SYS_vmspace_ctl, GUEST_ID, 2, frame)).toBe(-EINVAL);
    expect(v.call(nr.SYS_vmspace_ctl, GUEST_ID, VMSPACE_CTL_RUN, 0x7000_0000)).toBe(-EFAULT);
    // the code segment is readable but not writable
    expect(v.call(nr.SYS_vmspace_ctl, GUEST_ID, VMSPACE_CTL_RUN, 0x10000)).toBe(-EFAULT);
    v.call(nr.SYS_vmspace_destroy, GUEST_ID);
    expect(v.call(nr.SYS_vmspace_ctl, GUEST_ID, VMSPACE_CTL_RUN, frame)).toBe(-ENOENT);
  });
});

describe("vmspace_ctl frame words (H3)", () => {
  it("runs at most the frame's budget (148) and reports what the guest retired (152)", () => {
    const v = vkernel(10_000);
    v.guest();
    v.tables.map(GUEST_CODE, CODE_PHYS, PTE_R | PTE_X | PTE_U);
    v.poke(CODE_PHYS, words([addi(6, 6, 1), jal(0, -4)]));
    v.poke(FRAME_PHYS, guestFrame(GUEST_CODE, {}));
    v.poke(FRAME_PHYS + 148, u32s(123));
    const cpu = v.k.sched.cpus[0];
    if (cpu !== undefined) cpu.used = 0;
    expect(v.call(nr.SYS_vmspace_ctl, GUEST_ID, VMSPACE_CTL_RUN, MEMIMG + FRAME_PHYS)).toBe(VMTRAP_SLICE);
    expect(v.proc.vm.readU32(MEMIMG + FRAME_PHYS + 152)).toBe(123);
    expect(v.proc.vm.readU32(MEMIMG + FRAME_PHYS + 148)).toBe(0); // written back as 0
    // 0 = the rest of the slice, as before
    const r = v.run(GUEST_CODE);
    expect(r.retired).toBe(10_000);
    expect(v.proc.vm.readU32(MEMIMG + FRAME_PHYS + 152)).toBe(10_000);
  });

  it("runs an explicit budget past the slice, up to one quantum, charging the next round (H9)", () => {
    const v = vkernel(1000);
    v.guest();
    v.tables.map(GUEST_CODE, CODE_PHYS, PTE_R | PTE_X | PTE_U);
    v.poke(CODE_PHYS, words([addi(6, 6, 1), jal(0, -4)]));
    const cpu = v.k.sched.cpus[0];
    if (cpu === undefined) throw new Error("no cpu");
    const ask = (budget: number, used: number): number => {
      v.poke(FRAME_PHYS, guestFrame(GUEST_CODE, {}));
      v.poke(FRAME_PHYS + 148, u32s(budget));
      cpu.used = used;
      expect(v.call(nr.SYS_vmspace_ctl, GUEST_ID, VMSPACE_CTL_RUN, MEMIMG + FRAME_PHYS)).toBe(VMTRAP_SLICE);
      return v.proc.vm.readU32(MEMIMG + FRAME_PHYS + 152) ?? -1;
    };
    // 700 of the slice used: a budget of 800 still runs whole, and the CPU is 500 past the round
    expect(ask(800, 700)).toBe(800);
    expect(cpu.used).toBe(1500);
    const t = v.k.now();
    v.k.sched.advanceCursor();
    expect([cpu.used, v.k.now()]).toEqual([500, t]); // the clock does not go back
    // never more than one quantum
    expect(ask(5000, 0)).toBe(1000);
  });

  it("keeps the LR reservation across runs only with VMFRAME_SAME_CONTEXT (156)", () => {
    for (const same of [false, true]) {
      const v = vkernel(10_000);
      v.guest();
      v.tables.map(GUEST_CODE, CODE_PHYS, PTE_R | PTE_X | PTE_U);
      v.tables.map(GUEST_DATA, DATA_PHYS, PTE_R | PTE_W | PTE_U);
      // lr.w a0, (t0); ecall; sc.w a2, a1, (t0); ecall
      const lr = (0b00010 << 27) | (5 << 15) | (2 << 12) | (10 << 7) | 0x2f;
      const sc = (0b00011 << 27) | (11 << 20) | (5 << 15) | (2 << 12) | (12 << 7) | 0x2f;
      v.poke(CODE_PHYS, words([li(5, GUEST_DATA), lr >>> 0, ecall(), sc >>> 0, ecall()]));
      const first = v.run(GUEST_CODE, { 11: 9 });
      expect(first.cause).toBe(VMTRAP_SYSCALL);
      const regs: Record<number, number> = { 5: GUEST_DATA, 11: 9 };
      v.poke(FRAME_PHYS, guestFrame(first.pc + 4, regs));
      v.poke(FRAME_PHYS + 156, u32s(same ? 1 : 0));
      const cpu = v.k.sched.cpus[0];
      if (cpu !== undefined) cpu.used = 0;
      expect(v.call(nr.SYS_vmspace_ctl, GUEST_ID, VMSPACE_CTL_RUN, MEMIMG + FRAME_PHYS)).toBe(VMTRAP_SYSCALL);
      expect(v.proc.vm.readU32(MEMIMG + FRAME_PHYS + 12 * 4)).toBe(same ? 0 : 1); // sc.w result
    }
  });
});
