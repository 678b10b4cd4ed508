import { newOpenFile } from "../fs/fd-table.ts";
import {
  type IoResult,
  isBlock,
  O_ACCMODE,
  O_APPEND,
  O_CLOEXEC,
  O_NONBLOCK,
  O_RDONLY,
  O_WRONLY,
  type OpenFile,
} from "../fs/file-types.ts";
import { Pipe, PipeReadOps, PipeWriteOps } from "../fs/pipe.ts";
import type { Kernel } from "../kernel.ts";
import type { Lwp } from "../proc/proc-types.ts";
import { SI_KERNEL, SIGPIPE } from "../signal/signal-numbers.ts";
import { EAGAIN, EBADF, EFAULT, EINVAL, ENOTTY, EPIPE, ESPIPE } from "./errno.ts";
import { type SyscallArgs, type SyscallResult, sleepOn } from "./syscall-types.ts";

export const AT_FDCWD = -100;
const PATH_MAX = 4096;
/** Largest transfer one read/write call does (longer requests return short counts). */
const MAX_IO = 1 << 20;

/** Turn a file method's result into a syscall result: block → sleep (retry) or -EAGAIN. */
function finish(file: OpenFile, r: IoResult): SyscallResult {
  if (!isBlock(r)) return r;
  if ((file.flags & O_NONBLOCK) !== 0) return -EAGAIN;
  return sleepOn(r.block, r.deadline ?? null, "retry");
}

/**
 * openat(dirfd, path, flags, mode). Paths resolve from "/" (vkc has no cwd other than the root);
 * dirfd must be AT_FDCWD or an open descriptor.
 */
export function sys_openat(k: Kernel, lwp: Lwp, a: SyscallArgs): SyscallResult {
  const [dirfd, pathAddr, flags] = a as [number, number, number];
  const proc = lwp.proc;
  if ((dirfd | 0) !== AT_FDCWD && proc.fds.get(dirfd | 0) === null) return -EBADF;
  const path = proc.vm.copyinstr(pathAddr, PATH_MAX);
  if (typeof path === "number") return path;
  const ops = k.vfs.open(path, flags, k);
  if (typeof ops === "number") return ops;
  const file = newOpenFile(ops, flags & (O_ACCMODE | O_APPEND | O_NONBLOCK));
  const fd = proc.fds.install(file, (flags & O_CLOEXEC) !== 0);
  if (fd < 0) ops.close(file);
  return fd;
}

export function sys_close(_k: Kernel, lwp: Lwp, a: SyscallArgs): SyscallResult {
  return lwp.proc.fds.close((a[0] as number) | 0);
}

export function sys_read(k: Kernel, lwp: Lwp, a: SyscallArgs): SyscallResult {
  const [fd, buf, count] = a as [number, number, number];
  const file = lwp.proc.fds.get(fd | 0);
  if (file === null || (file.flags & O_ACCMODE) === O_WRONLY) return -EBADF;
  if ((count | 0) < 0) return -EINVAL;
  const tmp = new Uint8Array(Math.min(count, MAX_IO));
  const r = file.ops.read(file, tmp, k.caller(lwp));
  if (typeof r === "number" && r > 0 && lwp.proc.vm.copyout(buf, tmp.subarray(0, r)) !== 0) return -EFAULT;
  return finish(file, r);
}

export function sys_write(k: Kernel, lwp: Lwp, a: SyscallArgs): SyscallResult {
  const [fd, buf, count] = a as [number, number, number];
  const file = lwp.proc.fds.get(fd | 0);
  if (file === null || (file.flags & O_ACCMODE) === O_RDONLY) return -EBADF;
  if ((count | 0) < 0) return -EINVAL;
  const data = lwp.proc.vm.copyin(buf, Math.min(count, MAX_IO));
  if (typeof data === "number") return -EFAULT;
  const r = file.ops.write(file, data, k.caller(lwp));
  if (r === -EPIPE) {
    k.postSignalLwp(lwp, SIGPIPE, { signo: SIGPIPE, code: SI_KERNEL, addr: 0, pid: 0, uid: 0 });
  }
  return finish(file, r);
}

/** _llseek(fd, offset_hi, offset_lo, loff_t *result, whence). */
export function sys_llseek(_k: Kernel, lwp: Lwp, a: SyscallArgs): SyscallResult {
  const [fd, hi, lo, resultAddr, whence] = a as [number, number, number, number, number];
  const file = lwp.proc.fds.get(fd | 0);
  if (file === null) return -EBADF;
  if (file.ops.lseek === undefined) return -ESPIPE;
  const offset = (hi | 0) * 0x1_0000_0000 + (lo >>> 0);
  const r = file.ops.lseek(file, offset, whence);
  if (r < 0) return r;
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigInt64(0, BigInt(r), true);
  return lwp.proc.vm.copyout(resultAddr, b) === 0 ? 0 : -EFAULT;
}

export function sys_ioctl(k: Kernel, lwp: Lwp, a: SyscallArgs): SyscallResult {
  const [fd, request, arg] = a as [number, number, number];
  const file = lwp.proc.fds.get(fd | 0);
  if (file === null) return -EBADF;
  if (file.ops.ioctl === undefined) return -ENOTTY;
  return finish(file, file.ops.ioctl(file, request >>> 0, arg, k.caller(lwp)));
}

/** pipe2(int fds[2], flags): flags O_CLOEXEC | O_NONBLOCK. */
export function sys_pipe2(k: Kernel, lwp: Lwp, a: SyscallArgs): SyscallResult {
  const [fdsAddr, flags] = a as [number, number];
  if ((flags & ~(O_CLOEXEC | O_NONBLOCK)) !== 0) return -EINVAL;
  const proc = lwp.proc;
  const pipe = new Pipe(k.nextPipeId++, k);
  const nb = flags & O_NONBLOCK;
  const cloexec = (flags & O_CLOEXEC) !== 0;
  const r = newOpenFile(new PipeReadOps(pipe), O_RDONLY | nb);
  const w = newOpenFile(new PipeWriteOps(pipe), O_WRONLY | nb);
  const rfd = proc.fds.install(r, cloexec);
  if (rfd < 0) {
    r.ops.close(r);
    w.ops.close(w);
    return rfd;
  }
  const wfd = proc.fds.install(w, cloexec);
  if (wfd < 0) {
    proc.fds.close(rfd);
    w.ops.close(w);
    return wfd;
  }
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setInt32(0, rfd, true);
  v.setInt32(4, wfd, true);
  if (proc.vm.copyout(fdsAddr, b) !== 0) {
    proc.fds.close(rfd);
    proc.fds.close(wfd);
    return -EFAULT;
  }
  return 0;
}
