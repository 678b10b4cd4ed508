/*
 * syscall.c — the raw ecall layer and the POSIX-style wrappers for files, memory,
 * processes, time and the vkc-only calls (sys_checkpoint, lwp_create, umtx).
 */
#include "internal.h"

long vkc_syscall0(long n) { return vkc_ecall(n, 0, 0, 0, 0, 0, 0); }
long vkc_syscall1(long n, long a0) { return vkc_ecall(n, a0, 0, 0, 0, 0, 0); }
long vkc_syscall2(long n, long a0, long a1) { return vkc_ecall(n, a0, a1, 0, 0, 0, 0); }
long vkc_syscall3(long n, long a0, long a1, long a2) { return vkc_ecall(n, a0, a1, a2, 0, 0, 0); }
long vkc_syscall4(long n, long a0, long a1, long a2, long a3) { return vkc_ecall(n, a0, a1, a2, a3, 0, 0); }
long vkc_syscall5(long n, long a0, long a1, long a2, long a3, long a4) {
  return vkc_ecall(n, a0, a1, a2, a3, a4, 0);
}
long vkc_syscall6(long n, long a0, long a1, long a2, long a3, long a4, long a5) {
  return vkc_ecall(n, a0, a1, a2, a3, a4, a5);
}

/* ---- files ---- */

ssize_t read(int fd, void *buf, size_t n) { return vkc_ret(vkc_ecall(SYS_read, fd, (long)buf, (long)n, 0, 0, 0)); }

ssize_t write(int fd, const void *buf, size_t n) {
  return vkc_ret(vkc_ecall(SYS_write, fd, (long)buf, (long)n, 0, 0, 0));
}

ssize_t write_all(int fd, const void *buf, size_t n) {
  const char *p = buf;
  size_t done = 0;
  while (done < n) {
    ssize_t w = write(fd, p + done, n - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    done += (size_t)w;
  }
  return (ssize_t)done;
}

int openat(int dirfd, const char *path, int flags, int mode) {
  return (int)vkc_ret(vkc_ecall(SYS_openat, dirfd, (long)path, flags, mode, 0, 0));
}

int open(const char *path, int flags, ...) {
  int mode = 0;
  if (flags & O_CREAT) {
    va_list ap;
    va_start(ap, flags);
    mode = va_arg(ap, int);
    va_end(ap);
  }
  return openat(AT_FDCWD, path, flags, mode);
}

int close(int fd) { return (int)vkc_ret(vkc_ecall(SYS_close, fd, 0, 0, 0, 0, 0)); }

off_t lseek(int fd, off_t offset, int whence) {
  int64_t result = 0;
  long r = vkc_ecall(SYS_llseek, fd, (long)(uint32_t)((uint64_t)offset >> 32), (long)(uint32_t)offset,
                     (long)&result, whence, 0);
  if (vkc_is_err(r)) {
    errno = (int)-r;
    return -1;
  }
  return result;
}

int pipe2(int fds[2], int flags) { return (int)vkc_ret(vkc_ecall(SYS_pipe2, (long)fds, flags, 0, 0, 0, 0)); }

int pipe(int fds[2]) { return pipe2(fds, 0); }

int ioctl(int fd, unsigned long req, void *arg) {
  return (int)vkc_ret(vkc_ecall(SYS_ioctl, fd, (long)req, (long)arg, 0, 0, 0));
}

/* ---- memory ---- */

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t offset) {
  if (offset & (PAGE_SIZE - 1)) {
    errno = EINVAL;
    return MAP_FAILED;
  }
  long r = vkc_ecall(SYS_mmap2, (long)addr, (long)len, prot, flags, fd, (long)(offset / PAGE_SIZE));
  if (vkc_is_err(r)) {
    errno = (int)-r;
    return MAP_FAILED;
  }
  return (void *)r;
}

int munmap(void *addr, size_t len) { return (int)vkc_ret(vkc_ecall(SYS_munmap, (long)addr, (long)len, 0, 0, 0, 0)); }

int mprotect(void *addr, size_t len, int prot) {
  return (int)vkc_ret(vkc_ecall(SYS_mprotect, (long)addr, (long)len, prot, 0, 0, 0));
}

/* The Linux brk call returns the new break on success and the old one on failure. */
static uintptr_t current_break;

int brk(void *addr) {
  uintptr_t r = (uintptr_t)vkc_ecall(SYS_brk, (long)addr, 0, 0, 0, 0, 0);
  current_break = r;
  if (r < (uintptr_t)addr) {
    errno = ENOMEM;
    return -1;
  }
  return 0;
}

/* Not thread-safe by itself; malloc() serializes its own use. */
void *sbrk(intptr_t inc) {
  if (current_break == 0) current_break = (uintptr_t)vkc_ecall(SYS_brk, 0, 0, 0, 0, 0, 0);
  uintptr_t old = current_break;
  if (inc == 0) return (void *)old;
  if (brk((void *)(old + (uintptr_t)inc)) != 0) return (void *)-1;
  return (void *)old;
}

/* ---- processes, time ---- */

pid_t getpid(void) { return (pid_t)vkc_ecall(SYS_getpid, 0, 0, 0, 0, 0, 0); }
pid_t gettid(void) { return (pid_t)vkc_ecall(SYS_gettid, 0, 0, 0, 0, 0, 0); }
int sched_yield(void) { return (int)vkc_ret(vkc_ecall(SYS_sched_yield, 0, 0, 0, 0, 0, 0)); }

int clock_gettime(int clock, struct timespec *ts) {
  return (int)vkc_ret(vkc_ecall(SYS_clock_gettime64, clock, (long)ts, 0, 0, 0, 0));
}

int clock_nanosleep(int clock, int flags, const struct timespec *req, struct timespec *rem) {
  return (int)vkc_ret(vkc_ecall(SYS_clock_nanosleep_time64, clock, flags, (long)req, (long)rem, 0, 0));
}

int nanosleep(const struct timespec *req, struct timespec *rem) {
  return clock_nanosleep(CLOCK_MONOTONIC, 0, req, rem);
}

/* ---- vkc-only calls: raw, -errno ----
 * Weak, so that shim/linux-threads.c can stand in for them when testing thread
 * programs under qemu-riscv32 (build.sh --linux-shim); never in the shipped ELFs. */

long sys_checkpoint(int type, int fd, pid_t pid, int retval) {
  return vkc_ecall(SYS_sys_checkpoint, type, fd, pid, retval, 0, 0);
}

__attribute__((weak)) long lwp_create(void (*entry)(void *), void *stack_top, void *tls, void *arg, volatile int32_t *tid_addr) {
  return vkc_ecall(SYS_lwp_create, (long)entry, (long)stack_top, (long)tls, (long)arg, (long)tid_addr, 0);
}

__attribute__((weak)) long umtx_sleep(volatile const int32_t *addr, int32_t value, uint32_t timeout_us) {
  return vkc_ecall(SYS_umtx_sleep, (long)addr, value, (long)timeout_us, 0, 0, 0);
}

__attribute__((weak)) long umtx_wakeup(volatile const int32_t *addr, int32_t count) {
  return vkc_ecall(SYS_umtx_wakeup, (long)addr, count, 0, 0, 0, 0);
}
