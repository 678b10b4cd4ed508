import { CKPT_FREEZE, CKPT_THAW } from "../ckpt/ckpt-types.ts";
import type { Kernel } from "../kernel.ts";
import type { Lwp } from "../proc/proc-types.ts";
import { EBADF, EINVAL, EOPNOTSUPP } from "./errno.ts";
import { JUSTRETURN, type SyscallArgs, type SyscallResult, signed } from "./syscall-types.ts";

/**
 * sys_checkpoint(type, fd, pid, retval) — DragonFly's call (500), see CHECKPOINT.md.
 *
 * FREEZE (1): `pid` must be -1 or the caller's pid (EINVAL otherwise). `fd` -1 means the kernel's
 * configured checkpoint target (the store the CLI gave); a real descriptor is refused with
 * EOPNOTSUPP (images live in image stores, not in files; EBADF if it is not open). With a target
 * the call queues a checkpoint request and returns nothing yet: the run loop writes the image
 * between slices, then completes the call with 0 (or -EIO if the write failed); a thaw of that
 * image completes it with the restorer's `retval` instead. With no target configured nothing is
 * written and the call returns 0 at once (a checkpoint to nowhere, like DragonFly's to /dev/null).
 *
 * THAW (2) returns EOPNOTSUPP: a thaw builds a fresh kernel (address space, LWPs, descriptors,
 * scheduler) from a store the guest cannot name, so it is the host's job (`vkc restore`).
 * FREEZEPID (3) and THAWBIN (4) are EOPNOTSUPP as in DragonFly; other types EINVAL.
 */
export function sys_checkpoint(k: Kernel, lwp: Lwp, a: SyscallArgs): SyscallResult {
  const type = signed(a[0] as number);
  const fd = signed(a[1] as number);
  const pid = signed(a[2] as number);
  if (type === CKPT_THAW || type === 3 || type === 4) return -EOPNOTSUPP;
  if (type !== CKPT_FREEZE) return -EINVAL;
  if (pid !== -1 && pid !== lwp.proc.pid) return -EINVAL;
  if (fd !== -1) return lwp.proc.fds.get(fd) === null ? -EBADF : -EOPNOTSUPP;
  if (k.checkpointTarget === null) return 0;
  k.checkpointRequests.push({ pid: lwp.proc.pid, callerTid: lwp.tid, cause: "syscall" });
  return JUSTRETURN;
}
