import { Fault, Stop } from "../cpu/cpu-types.ts";
import type { Hart } from "../cpu/hart.ts";
import {
  BUS_ADRALN,
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
  VMTRAP_BREAKPOINT,
  VMTRAP_FAULT,
  VMTRAP_ILLEGAL,
  VMTRAP_SLICE,
  VMTRAP_SYSCALL,
} from "./vmspace-guest.ts";
import type { GuestTrap } from "./vmspace-guest-frame.ts";

/**
 * Run guest code on `hart` (whose memory is the guest vmspace) for at most `budget` instructions
 * and say why it stopped, in the terms the vkernel needs (DragonFly's `vkernel_trap`). A trapping
 * instruction is not retired and `pc` stays on it (an `ecall` too: the vkernel advances pc by 4
 * when it has handled the guest's syscall).
 */
export function runGuest(hart: Hart, budget: number): { trap: GuestTrap; retired: number } {
  if (budget <= 0) return { trap: { cause: VMTRAP_SLICE, value: 0, signo: 0, code: 0 }, retired: 0 };
  const stop = hart.run(budget);
  return { trap: trapOf(hart, stop), retired: hart.retired };
}

function trapOf(hart: Hart, stop: Stop): GuestTrap {
  switch (stop) {
    case Stop.Budget:
    case Stop.Yield:
      return { cause: VMTRAP_SLICE, value: 0, signo: 0, code: 0 };
    case Stop.Ecall:
      return { cause: VMTRAP_SYSCALL, value: (hart.x[17] as number) >>> 0, signo: 0, code: 0 };
    case Stop.Ebreak:
      return { cause: VMTRAP_BREAKPOINT, value: hart.pc >>> 0, signo: SIGTRAP, code: TRAP_BRKPT };
    case Stop.Misaligned:
      return { cause: VMTRAP_FAULT, value: hart.trapValue >>> 0, signo: SIGBUS, code: BUS_ADRALN };
    case Stop.MemoryFault: {
      const value = hart.trapValue >>> 0;
      if (hart.fault === Fault.BusError)
        return { cause: VMTRAP_FAULT, value, signo: SIGBUS, code: BUS_ADRERR };
      const code = hart.fault === Fault.AccessError ? SEGV_ACCERR : SEGV_MAPERR;
      return { cause: VMTRAP_FAULT, value, signo: SIGSEGV, code };
    }
    default:
      // Stop.Illegal, or a stop this kernel does not know: never spin on it.
      return { cause: VMTRAP_ILLEGAL, value: hart.trapValue >>> 0, signo: SIGILL, code: ILL_ILLOPC };
  }
}
