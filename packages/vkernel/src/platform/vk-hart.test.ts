import {
  Fault,
  SIGCODE_ADDR,
  Stop,
  signals,
  VMTRAP_BREAKPOINT,
  VMTRAP_FAULT,
  VMTRAP_ILLEGAL,
  VMTRAP_SLICE,
  VMTRAP_SYSCALL,
  VmObjectIds,
  VmSpace,
} from "@vkc/host-kernel";
import { describe, expect, it } from "vitest";
import { VkHart } from "./vk-hart.ts";

const hart = (): VkHart => {
  const h = new VkHart(new VmSpace(new VmObjectIds()));
  h.pc = 0x10000;
  return h;
};
const trap = (
  h: VkHart,
  cause: number,
  extra: Partial<{ value: number; signo: number; code: number }> = {},
) => {
  h.pendingTrap = { cause, value: 0, signo: 0, code: 0, retired: 9, pc: h.pc, ...extra };
};

describe("VkHart", () => {
  it("asks the vCPU to run the guest when no trap is pending (nothing retired)", () => {
    const h = hart();
    expect(h.run(500)).toBe(Stop.Budget);
    expect(h.wantsRun).toBe(true);
    expect(h.budget).toBe(500);
    expect(h.retired).toBe(0);
  });

  it("reports a host trap as the Stop an interpreter would have returned, with its retired count", () => {
    const cases: [number, Partial<{ value: number; signo: number; code: number }>, Stop][] = [
      [VMTRAP_SYSCALL, {}, Stop.Ecall],
      [VMTRAP_SLICE, {}, Stop.Budget],
      [0, {}, Stop.Budget], // a fault the pmap resolved: re-run
      [VMTRAP_ILLEGAL, { value: 0xdead }, Stop.Illegal],
      [VMTRAP_BREAKPOINT, {}, Stop.Ebreak],
      [VMTRAP_FAULT, { value: 0x1234, signo: signals.SIGSEGV, code: signals.SEGV_MAPERR }, Stop.MemoryFault],
      [VMTRAP_FAULT, { value: 0x1235, signo: signals.SIGBUS, code: signals.BUS_ADRALN }, Stop.Misaligned],
    ];
    for (const [cause, extra, stop] of cases) {
      const h = hart();
      trap(h, cause, extra);
      expect(h.run(1000)).toBe(stop);
      expect(h.retired).toBe(9);
      expect(h.wantsRun).toBe(false);
    }
    const h = hart();
    trap(h, VMTRAP_FAULT, { value: 8, signo: signals.SIGSEGV, code: signals.SEGV_ACCERR });
    h.run(1);
    expect(h.fault).toBe(Fault.AccessError);
    expect(h.trapValue).toBe(8);
  });

  it("a return into the sigcode page is its `li a7, 139; ecall`: rt_sigreturn", () => {
    const h = hart();
    h.pc = SIGCODE_ADDR;
    trap(h, VMTRAP_FAULT, { value: SIGCODE_ADDR, signo: signals.SIGSEGV, code: signals.SEGV_MAPERR });
    expect(h.run(100)).toBe(Stop.Ecall);
    expect(h.x[17]).toBe(139);
    expect(h.pc).toBe(SIGCODE_ADDR + 4);
    expect(h.retired).toBe(10);
  });

  it("drops a trap when the kernel moved pc first (a signal was delivered): the guest re-runs", () => {
    const h = hart();
    trap(h, VMTRAP_SYSCALL);
    h.pc = 0x20000;
    expect(h.run(100)).toBe(Stop.Budget);
    expect(h.wantsRun).toBe(true);
    expect(h.pendingTrap).toBeNull();
  });
});
