import {
  defaultTermios,
  ECHO,
  encodeTermios,
  ICANON,
  ICRNL,
  IEXTEN,
  ISIG,
  IXON,
  type NativeAction,
  type NativeEnv,
  type NativeThreadContext,
  OPOST,
  syscalls,
  TCSETS,
} from "@vkc/host-kernel";
import {
  SH_DOORBELL,
  SH_RX_CAP,
  SH_RX_COUNT,
  SH_RX_DATA,
  SH_RX_EOF,
  SH_RX_READ,
  SH_RX_READ_BYTES,
  SHARED_BASE,
} from "../memimage-layout.ts";

const act = (syscall: number, ...args: number[]): NativeAction => ({ syscall, args });

/**
 * The raw mode vcons puts the host tty in (DESIGN.md §4.2): no ICANON/ECHO/ISIG/IEXTEN, no input
 * translation, and no OPOST (the inner tty already did ONLCR; a second pass would double `\r`).
 */
export function rawTermios(): Uint8Array {
  const t = defaultTermios();
  t.lflag &= ~(ICANON | ECHO | ISIG | IEXTEN);
  t.iflag &= ~(ICRNL | IXON);
  t.oflag &= ~OPOST;
  return encodeTermios(t);
}

/** vcons_set_mode(raw): `ioctl(0, TCSETS, raw)` with the termios written at `scratch` first. */
export function vconsSetMode(env: NativeEnv, scratch: number): NativeAction {
  env.vm.copyout(scratch, rawTermios());
  return act(syscalls.SYS_ioctl, 0, TCSETS, scratch);
}

interface RxState {
  phase: "read" | "full" | "wake" | "eof";
  /** Bytes read but not yet in the ring (it was full). */
  held?: number;
}

/**
 * The vcons-rx cothread (DESIGN.md §3.5, §4.2): a blocking host `read(0)`, the bytes appended to
 * the rx ring in vmspace0, the idle vCPUs woken through the doorbell. It blocks the checkpoint
 * signals from birth (its creator blocked them) and never touches the inner kernel.
 */
export function vconsRxStep(ctx: NativeThreadContext, env: NativeEnv): NativeAction {
  const vm = env.vm;
  const st = (ctx.state ?? { phase: "start" }) as unknown as RxState | { phase: "start" };
  const r = ctx.result;
  const set = (s: RxState): void => {
    ctx.state = { ...s } as unknown as NativeThreadContext["state"];
  };
  const read = (): NativeAction => {
    set({ phase: "read" });
    return act(syscalls.SYS_read, 0, SHARED_BASE + SH_RX_READ, SH_RX_READ_BYTES);
  };
  const queue = (n: number): NativeAction => {
    const count = vm.readU32(SHARED_BASE + SH_RX_COUNT) ?? 0;
    if (count + n > SH_RX_CAP) {
      set({ phase: "full", held: n });
      return act(syscalls.SYS_umtx_sleep, SHARED_BASE + SH_RX_COUNT, count, 0);
    }
    const bytes = vm.copyin(SHARED_BASE + SH_RX_READ, n);
    if (typeof bytes !== "number") vm.copyout(SHARED_BASE + SH_RX_DATA + count, bytes);
    vm.writeU32(SHARED_BASE + SH_RX_COUNT, count + n);
    vm.writeU32(SHARED_BASE + SH_DOORBELL, ((vm.readU32(SHARED_BASE + SH_DOORBELL) ?? 0) + 1) >>> 0);
    set({ phase: "wake" });
    return act(syscalls.SYS_umtx_wakeup, SHARED_BASE + SH_DOORBELL, 0);
  };
  switch (st.phase) {
    case "read":
      if (r > 0) return queue(r);
      if (r === -4) return read(); // EINTR
      vm.writeU32(SHARED_BASE + SH_RX_EOF, 1);
      vm.writeU32(SHARED_BASE + SH_DOORBELL, ((vm.readU32(SHARED_BASE + SH_DOORBELL) ?? 0) + 1) >>> 0);
      set({ phase: "eof" });
      return act(syscalls.SYS_umtx_wakeup, SHARED_BASE + SH_DOORBELL, 0);
    case "full":
      return queue((st as RxState).held ?? 0);
    case "eof":
      return act(syscalls.SYS_exit, 0);
    default:
      return read();
  }
}
