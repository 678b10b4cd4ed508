import { it } from "vitest";
import { addi, bne, ecall, li } from "../cpu/test-asm.ts";
import { createKernel } from "../kernel.ts";
import { resolve, spawnCode } from "../kernel-test-support.ts";
import type { NativeProgram } from "../native/native-types.ts";
import * as nr from "../syscall/syscall-numbers.ts";
import { MAP_ANONYMOUS, MAP_FIXED, MAP_SHARED } from "./vm-types.ts";
import { MADV_SETMAP, MAP_VPAGETABLE, VMSPACE_CTL_RUN, VMTRAP_SLICE } from "./vmspace-guest.ts";
import { CODE_PHYS, FRAME_PHYS, GUEST_CODE, GUEST_ID, GuestTables, guestFrame, MEMIMG, masterPde, PTE_R, PTE_U, PTE_X, u32s, WINDOW, WINDOW_LEN } from "./vmspace-guest-test-support.ts";

const N = 10_000_000;
const loop = [li(5, 0), li(6, N), addi(5, 5, 1), addi(7, 7, 3), bne(5, 6, -8)];
it("bench", async () => {
  for (const quantum of [10_000, 10_000, 10_000, 100_000, 100_000]) {
    const code = resolve([...loop, li(17, 93), ecall()]);
    const prog: NativeProgram = { main: "m", initialState: 0, steps: { m(ctx, env) {
      const s = ctx.state as number; ctx.state = s + 1;
      if (s === 0) return { syscall: nr.SYS_mmap2, args: [MEMIMG, 0x20000, 3, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0] };
      if (s === 1) { const poke = (p: number, b: Uint8Array) => env.vm.poke(MEMIMG + p, b); new GuestTables(poke).map(GUEST_CODE, CODE_PHYS, PTE_R|PTE_X|PTE_U); poke(CODE_PHYS, u32s(...code)); poke(FRAME_PHYS, guestFrame(GUEST_CODE)); return { syscall: nr.SYS_vmspace_create, args: [GUEST_ID] }; }
      if (s === 2) return { syscall: nr.SYS_vmspace_mmap, args: [GUEST_ID, WINDOW, WINDOW_LEN, 7, MAP_SHARED | MAP_FIXED | MAP_VPAGETABLE, MEMIMG] };
      if (s === 3) return { syscall: nr.SYS_vmspace_mcontrol, args: [GUEST_ID, WINDOW, WINDOW_LEN, MADV_SETMAP, masterPde()] };
      if (s === 4 || ctx.result === VMTRAP_SLICE) return { syscall: nr.SYS_vmspace_ctl, args: [GUEST_ID, VMSPACE_CTL_RUN, MEMIMG] };
      return { syscall: nr.SYS_exit, args: [0] };
    } } };
    const k1 = createKernel({ quantum, natives: { "/v": prog } });
    k1.spawn({ path: "/v" });
    let t = performance.now();
    const r1 = await k1.run();
    const guest = performance.now() - t;
    const k0 = createKernel({ quantum });
    spawnCode(k0, [...loop, li(17, 93), ecall()]);
    t = performance.now();
    const r0 = await k0.run();
    const bare = performance.now() - t;
    console.log(`quantum ${quantum}: bare ${(r0.instructions / bare / 1000).toFixed(1)} MIPS, guest via vmspace_ctl ${(r1.instructions / guest / 1000).toFixed(1)} MIPS`);
  }
}, 120_000);
