import { NATIVE_HANDLER_BASE, type NativeAction, type NativeEnv, signals, syscalls } from "@vkc/host-kernel";

/** SIGCKPT, SIGCKPTEXIT and SIGTHAW as a sigset (what cothreads block from birth: step 1). */
export const CKPT_SIGSET =
  (1n << BigInt(signals.SIGCKPT - 1)) |
  (1n << BigInt(signals.SIGCKPTEXIT - 1)) |
  (1n << BigInt(signals.SIGTHAW - 1));

/** Handler indexes (NATIVE_HANDLER_BASE + i runs `handlerRoles[i]`). */
export const HANDLER_CKPT = 0;
export const HANDLER_THAW = 1;
export const HANDLER_WINCH = 2;

const HANDLED = [
  [signals.SIGCKPT, HANDLER_CKPT],
  [signals.SIGCKPTEXIT, HANDLER_CKPT],
  [signals.SIGTHAW, HANDLER_THAW],
  [signals.SIGWINCH, HANDLER_WINCH],
] as const;

/** How many handlers boot installs (`installCheckpointHandlers(env, scratch, 0 … n-1)`). */
export const HANDLER_COUNT = HANDLED.length;

/**
 * rt_sigaction for the `i`-th handled signal (0 SIGCKPT, 1 SIGCKPTEXIT, 2 SIGTHAW, 3 SIGWINCH for
 * vcons), with every checkpoint signal masked while a handler runs (a second SIGCKPT waits for the
 * first to finish).
 */
export function installCheckpointHandlers(env: NativeEnv, scratch: number, i: number): NativeAction {
  const [sig, handler] = HANDLED[i] ?? HANDLED[0];
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setUint32(0, NATIVE_HANDLER_BASE + handler, true);
  v.setUint32(4, 0, true);
  v.setBigUint64(8, CKPT_SIGSET, true);
  env.vm.copyout(scratch, b);
  return { syscall: syscalls.SYS_rt_sigaction, args: [sig, scratch, 0, 8] };
}
