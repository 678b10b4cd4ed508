/*
 * linux-threads.c — a test-only stand-in for vkc's lwp_create/umtx_sleep/
 * umtx_wakeup on Linux's clone and futex_time64, so the thread programs can be
 * checked under qemu-riscv32 before (and independently of) vkc's kernel. Linked
 * only by `build.sh --linux-shim DIR`; the committed ELFs never contain it.
 *
 * clone(CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|SETTLS|PARENT_SETTID|CHILD_CLEARTID)
 * gives the same contract as lwp_create: the tid is stored at tid_addr before
 * either thread runs, and cleared + futex-woken when the thread exits.
 */
#include "../runtime/internal.h"

#define SYS_clone 220
#define SYS_futex_time64 422
#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define CLONE_FLAGS 0x3d0f00

long vkc_shim_clone(long flags, void *stack, volatile int32_t *ptid, void *tls, volatile int32_t *ctid,
                    void (*entry)(void *), void *arg);

/* The child returns from ecall with sp = stack and every other register as the
 * parent had it, so entry and arg travel in callee-saved registers. */
__asm__(".text\n"
        ".globl vkc_shim_clone\n"
        "vkc_shim_clone:\n"
        "  mv t0, a5\n"
        "  mv t1, a6\n"
        "  li a7, 220\n"
        "  ecall\n"
        "  bnez a0, 1f\n"
        "  mv a0, t1\n"
        "  mv ra, zero\n"
        "  jr t0\n"
        "1:\n"
        "  ret\n");

long lwp_create(void (*entry)(void *), void *stack_top, void *tls, void *arg, volatile int32_t *tid_addr) {
  return vkc_shim_clone(CLONE_FLAGS, stack_top, tid_addr, tls, tid_addr, entry, arg);
}

long umtx_sleep(volatile const int32_t *addr, int32_t value, uint32_t timeout_us) {
  struct timespec ts = {timeout_us / 1000000u, (int64_t)(timeout_us % 1000000u) * 1000};
  long r = vkc_ecall(SYS_futex_time64, (long)addr, FUTEX_WAIT, value, timeout_us ? (long)&ts : 0, 0, 0);
  return r == -EAGAIN ? -EBUSY : r;
}

long umtx_wakeup(volatile const int32_t *addr, int32_t count) {
  return vkc_ecall(SYS_futex_time64, (long)addr, FUTEX_WAKE, count == 0 ? 0x7fffffff : count, 0, 0, 0);
}
