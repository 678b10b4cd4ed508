/*
 * signal.c — rt_sigaction and friends, with 8-byte sigsets. Handlers return
 * through the kernel's sigcode page (ra points there), or qemu's trampoline.
 */
#include "internal.h"

/*
 * The ABI's struct is 16 bytes: {handler, flags, mask[2]} (Linux rv32 has no
 * sa_restorer). qemu-riscv32 (7.2) instead reads and writes a 20-byte struct with
 * an sa_restorer word at offset 8. So that one binary is right on both, the first
 * sigaction() probes once: it reads an action into a buffer of sentinels and looks
 * at whether the fifth word was written. The buffer below fits either layout.
 */
#define SENTINEL 0xa5a5a5a5u

static int mask_word = 0; /* index of mask[0]: 2 (ABI) or 3 (qemu); 0 = not probed yet */

static long k_sigaction(int sig, const uint32_t *act, uint32_t *old) {
  return vkc_ecall(SYS_rt_sigaction, sig, (long)act, (long)old, 8, 0, 0);
}

static int probe_layout(void) {
  if (mask_word == 0) {
    uint32_t buf[8];
    for (int i = 0; i < 8; i++) buf[i] = SENTINEL;
    long r = k_sigaction(SIGUSR1, NULL, buf);
    mask_word = (r == 0 && buf[4] != SENTINEL) ? 3 : 2;
  }
  return mask_word;
}

int sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
  int m = probe_layout();
  uint32_t kact[8] = {0};
  uint32_t kold[8] = {0};
  if (act != NULL) {
    kact[0] = (uint32_t)(uintptr_t)act->sa_handler;
    kact[1] = act->sa_flags;
    kact[m] = (uint32_t)act->sa_mask;
    kact[m + 1] = (uint32_t)(act->sa_mask >> 32);
  }
  long r = k_sigaction(sig, act != NULL ? kact : NULL, old != NULL ? kold : NULL);
  if (vkc_is_err(r)) {
    errno = (int)-r;
    return -1;
  }
  if (old != NULL) {
    old->sa_handler = (void (*)(int))(uintptr_t)kold[0];
    old->sa_flags = kold[1];
    old->sa_mask = (sigset_t)kold[m] | (sigset_t)kold[m + 1] << 32;
  }
  return 0;
}

void (*signal(int sig, void (*handler)(int)))(int) {
  struct sigaction act = {0};
  struct sigaction old = {0};
  act.sa_handler = handler;
  act.sa_flags = SA_RESTART;
  if (sigaction(sig, &act, &old) != 0) return (void (*)(int)) - 1;
  return old.sa_handler;
}

int sigprocmask(int how, const sigset_t *set, sigset_t *old) {
  return (int)vkc_ret(vkc_ecall(SYS_rt_sigprocmask, how, (long)set, (long)old, 8, 0, 0));
}

int sigaltstack(const stack_t *ss, stack_t *old) {
  return (int)vkc_ret(vkc_ecall(SYS_sigaltstack, (long)ss, (long)old, 0, 0, 0, 0));
}

int kill(pid_t pid, int sig) { return (int)vkc_ret(vkc_ecall(SYS_kill, pid, sig, 0, 0, 0, 0)); }

int tgkill(pid_t tgid, pid_t tid, int sig) { return (int)vkc_ret(vkc_ecall(SYS_tgkill, tgid, tid, sig, 0, 0, 0)); }

int raise(int sig) { return tgkill(getpid(), gettid(), sig); }
