import { sys_checkpoint } from "./sys-ckpt.ts";
import { sys_close, sys_ioctl, sys_llseek, sys_openat, sys_pipe2, sys_read, sys_write } from "./sys-file.ts";
import { sys_clone, sys_waitid } from "./sys-fork.ts";
import {
  sys_bind,
  sys_getsockname,
  sys_netif_get,
  sys_netif_set,
  sys_recvfrom,
  sys_sendto,
  sys_socket,
} from "./sys-net.ts";
import {
  sys_exit,
  sys_exit_group,
  sys_getpid,
  sys_getppid,
  sys_gettid,
  sys_lwp_create,
  sys_sched_yield,
} from "./sys-proc.ts";
import {
  sys_kill,
  sys_rt_sigaction,
  sys_rt_sigprocmask,
  sys_rt_sigreturn,
  sys_sigaltstack,
  sys_tgkill,
} from "./sys-signal.ts";
import { sys_clock_gettime64, sys_clock_nanosleep_time64 } from "./sys-time.ts";
import { sys_umtx_sleep, sys_umtx_wakeup } from "./sys-umtx.ts";
import { sys_brk, sys_mmap2, sys_mprotect, sys_munmap } from "./sys-vm.ts";
import {
  sys_vmspace_create,
  sys_vmspace_ctl,
  sys_vmspace_destroy,
  sys_vmspace_mcontrol,
  sys_vmspace_mmap,
  sys_vmspace_munmap,
} from "./sys-vmspace.ts";
import * as nr from "./syscall-numbers.ts";
import type { SyscallHandler } from "./syscall-types.ts";

/**
 * The one syscall table: number → handler. Numbers not here return -ENOSYS (later issues may
 * add theirs with `registerSyscall`).
 */
export const syscallTable = new Map<number, SyscallHandler>([
  [nr.SYS_ioctl, sys_ioctl],
  [nr.SYS_openat, sys_openat],
  [nr.SYS_close, sys_close],
  [nr.SYS_pipe2, sys_pipe2],
  [nr.SYS_llseek, sys_llseek],
  [nr.SYS_read, sys_read],
  [nr.SYS_write, sys_write],
  [nr.SYS_exit, sys_exit],
  [nr.SYS_exit_group, sys_exit_group],
  [nr.SYS_waitid, sys_waitid],
  [nr.SYS_sched_yield, sys_sched_yield],
  [nr.SYS_kill, sys_kill],
  [nr.SYS_tgkill, sys_tgkill],
  [nr.SYS_sigaltstack, sys_sigaltstack],
  [nr.SYS_rt_sigaction, sys_rt_sigaction],
  [nr.SYS_rt_sigprocmask, sys_rt_sigprocmask],
  [nr.SYS_rt_sigreturn, sys_rt_sigreturn],
  [nr.SYS_getpid, sys_getpid],
  [nr.SYS_getppid, sys_getppid],
  [nr.SYS_gettid, sys_gettid],
  [nr.SYS_brk, sys_brk],
  [nr.SYS_munmap, sys_munmap],
  [nr.SYS_clone, sys_clone],
  [nr.SYS_mmap2, sys_mmap2],
  [nr.SYS_mprotect, sys_mprotect],
  [nr.SYS_clock_gettime64, sys_clock_gettime64],
  [nr.SYS_clock_nanosleep_time64, sys_clock_nanosleep_time64],
  [nr.SYS_lwp_create, sys_lwp_create],
  [nr.SYS_umtx_sleep, sys_umtx_sleep],
  [nr.SYS_umtx_wakeup, sys_umtx_wakeup],
  [nr.SYS_checkpoint, sys_checkpoint],
  [nr.SYS_vmspace_create, sys_vmspace_create],
  [nr.SYS_vmspace_destroy, sys_vmspace_destroy],
  [nr.SYS_vmspace_mmap, sys_vmspace_mmap],
  [nr.SYS_vmspace_munmap, sys_vmspace_munmap],
  [nr.SYS_vmspace_mcontrol, sys_vmspace_mcontrol],
  [nr.SYS_vmspace_ctl, sys_vmspace_ctl],
  [nr.SYS_socket, sys_socket],
  [nr.SYS_bind, sys_bind],
  [nr.SYS_getsockname, sys_getsockname],
  [nr.SYS_sendto, sys_sendto],
  [nr.SYS_recvfrom, sys_recvfrom],
  [nr.SYS_netif_get, sys_netif_get],
  [nr.SYS_netif_set, sys_netif_set],
]);

/** Add a handler for a new number (later issues: sys_checkpoint, vmspace_*). */
export function registerSyscall(number: number, handler: SyscallHandler): void {
  if (syscallTable.has(number)) throw new RangeError(`syscall ${number} is already registered`);
  syscallTable.set(number, handler);
}
