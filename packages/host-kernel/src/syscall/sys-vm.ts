import { O_ACCMODE, O_RDWR, O_WRONLY } from "../fs/file-types.ts";
import { RegularFileOps } from "../fs/vfs.ts";
import type { Kernel } from "../kernel.ts";
import type { Lwp } from "../proc/proc-types.ts";
import { VmObject } from "../vm/vm-object.ts";
import {
  ENTRY_SHARED,
  ENTRY_STACK,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_FIXED_NOREPLACE,
  MAP_PRIVATE,
  MAP_SHARED,
  MAP_STACK,
  MAP_TYPE,
  PROT_EXEC,
  PROT_READ,
  PROT_WRITE,
  USER_END,
} from "../vm/vm-types.ts";
import { EACCES, EBADF, EEXIST, EINVAL, ENODEV, ENOMEM } from "./errno.ts";
import type { SyscallArgs, SyscallResult } from "./syscall-types.ts";

const PAGE = 4096;

/** brk(addr): the new break, or the current one when `addr` is 0 or cannot be granted. */
export function sys_brk(_k: Kernel, lwp: Lwp, a: SyscallArgs): SyscallResult {
  return lwp.proc.vm.setBrk(a[0] as number);
}

/**
 * mmap2(addr, len, prot, flags, fd, pgoff). Anonymous or file-backed (a VFS regular file,
 * copy-on-write: MAP_SHARED file mappings behave like private ones, writes never reach the file).
 */
export function sys_mmap2(_k: Kernel, lwp: Lwp, a: SyscallArgs): SyscallResult {
  const [addr, len, prot, flags, fdArg, pgoff] = a as [number, number, number, number, number, number];
  const vm = lwp.proc.vm;
  if (len === 0 || (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC)) !== 0) return -EINVAL;
  const type = flags & MAP_TYPE;
  if (type !== MAP_SHARED && type !== MAP_PRIVATE) return -EINVAL;
  const fixed = (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) !== 0;
  if (fixed && addr % PAGE !== 0) return -EINVAL;
  const rounded = Math.ceil(len / PAGE) * PAGE;
  if (rounded > USER_END) return -ENOMEM;
  if ((flags & MAP_FIXED_NOREPLACE) !== 0 && !vm.isFree(addr, addr + rounded)) return -EEXIST;
  let entryFlags = (type === MAP_SHARED ? ENTRY_SHARED : 0) | ((flags & MAP_STACK) !== 0 ? ENTRY_STACK : 0);
  let object: VmObject | undefined;
  if ((flags & MAP_ANONYMOUS) === 0) {
    const file = lwp.proc.fds.get(fdArg | 0);
    if (file === null) return -EBADF;
    if (!(file.ops instanceof RegularFileOps)) return -ENODEV;
    const acc = file.flags & O_ACCMODE;
    if (acc === O_WRONLY) return -EACCES;
    if (type === MAP_SHARED && (prot & PROT_WRITE) !== 0 && acc !== O_RDWR) return -EACCES;
    const node = file.ops.node;
    const offset = pgoff * PAGE;
    const sizePages = Math.max(0, Math.ceil((node.size - offset) / PAGE));
    object = new VmObject(vm.ids.take(), "file", sizePages, {
      bytes: node.data.slice(0, node.size),
      path: file.ops.path,
      offset,
    });
    entryFlags &= ~ENTRY_SHARED;
  }
  const req = { addr, len: rounded, prot, flags: entryFlags, fixed };
  return object === undefined ? vm.map(req) : vm.map({ ...req, object });
}

export function sys_munmap(_k: Kernel, lwp: Lwp, a: SyscallArgs): SyscallResult {
  const [addr, len] = a as [number, number];
  if (len === 0 || addr % PAGE !== 0 || addr + len > USER_END) return -EINVAL;
  return lwp.proc.vm.unmap(addr, len);
}

export function sys_mprotect(_k: Kernel, lwp: Lwp, a: SyscallArgs): SyscallResult {
  const [addr, len, prot] = a as [number, number, number];
  return lwp.proc.vm.protect(addr, len, prot);
}
