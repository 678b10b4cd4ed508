/*
 * sigdemo — signals step by step: an SA_SIGINFO handler (si_signo, si_code),
 * kill/raise/tgkill, the handler's own mask, a blocked signal that stays pending
 * and is delivered once on unblock, SIG_IGN, a handler on an alternate stack,
 * and SIGSEGV handlers that recover by moving the saved pc past the faulting
 * instruction in the ucontext (a NULL load: SEGV_MAPERR; a store to a read-only
 * page: SEGV_ACCERR). Handlers only record; main prints. Uses Linux-numbered
 * calls only, so it runs under qemu-riscv32 too. Exit 0 iff every check held.
 */
#include "vkc.h"

struct record {
  volatile int count;
  volatile int signo;
  volatile int code;
  volatile int pid;
  volatile uintptr_t addr;
  volatile uintptr_t pc;
  volatile int self_blocked;
  volatile int usr2_blocked;
  volatile int on_altstack;
  volatile int ss_flags;
};

static struct record rec;
static int failures;
static char altstack[SIGSTKSZ] __attribute__((aligned(16)));

static void check(const char *what, int ok) {
  printf("  %s: %s\n", what, ok ? "ok" : "FAILED");
  if (!ok) failures++;
}

static void on_signal(int sig, siginfo_t *info, void *ctx) {
  (void)ctx;
  rec.count++;
  rec.signo = info->si_signo;
  rec.code = info->si_code;
  rec.pid = info->si_pid;
  sigset_t now;
  sigprocmask(SIG_BLOCK, NULL, &now);
  rec.self_blocked = sigismember(&now, sig);
  rec.usr2_blocked = sigismember(&now, SIGUSR2);
  char here;
  uintptr_t sp = (uintptr_t)&here;
  rec.on_altstack = sp >= (uintptr_t)altstack && sp < (uintptr_t)altstack + sizeof altstack;
  stack_t cur;
  rec.ss_flags = sigaltstack(NULL, &cur) == 0 ? cur.ss_flags : -1;
}

static void on_segv(int sig, siginfo_t *info, void *ctx) {
  ucontext_t *uc = ctx;
  rec.count++;
  rec.signo = info->si_signo;
  rec.code = info->si_code;
  rec.addr = (uintptr_t)info->si_addr;
  rec.pc = uc->uc_mcontext.gregs[REG_PC];
  uc->uc_mcontext.gregs[REG_PC] += 4; /* RV32IMA: every instruction is 4 bytes */
}

static void install(int sig, void (*fn)(int, siginfo_t *, void *), uint32_t flags, sigset_t mask) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_mask = mask;
  sa.sa_sigaction = fn;
  sa.sa_flags = SA_SIGINFO | flags;
  if (sigaction(sig, &sa, NULL) != 0) {
    printf("sigaction(%d) failed: %s\n", sig, strerror(errno));
    exit(1);
  }
}

static void reset(void) { memset((void *)&rec, 0, sizeof rec); }

extern const char fault_load_insn[];
extern const char fault_store_insn[];

__attribute__((noinline)) static uint32_t fault_load(volatile uint32_t *addr) {
  uint32_t v = 0x1234;
  __asm__ volatile(".globl fault_load_insn\nfault_load_insn:\n  lw %0, 0(%1)" : "+r"(v) : "r"(addr) : "memory");
  return v;
}

__attribute__((noinline)) static void fault_store(volatile uint32_t *addr) {
  __asm__ volatile(".globl fault_store_insn\nfault_store_insn:\n  sw zero, 0(%0)" : : "r"(addr) : "memory");
}

int main(void) {
  pid_t pid = getpid();
  printf("sigdemo\n");

  printf("1. SA_SIGINFO handler, raise(SIGUSR1)\n");
  install(SIGUSR1, on_signal, 0, sigmask_of(SIGUSR2));
  reset();
  raise(SIGUSR1);
  printf("  delivered %d time(s): signo=%d code=%d\n", rec.count, rec.signo, rec.code);
  check("signo is SIGUSR1, code is SI_TKILL", rec.count == 1 && rec.signo == SIGUSR1 && rec.code == SI_TKILL);
  check("SIGUSR1 blocked while its handler runs", rec.self_blocked == 1);
  check("sa_mask (SIGUSR2) blocked while it runs", rec.usr2_blocked == 1);
  check("handler ran on the normal stack", rec.on_altstack == 0 && rec.ss_flags == SS_DISABLE);

  printf("2. kill(getpid(), SIGUSR2)\n");
  install(SIGUSR2, on_signal, 0, 0);
  reset();
  kill(pid, SIGUSR2);
  printf("  delivered %d time(s): signo=%d code=%d\n", rec.count, rec.signo, rec.code);
  check("signo is SIGUSR2, code is SI_USER", rec.count == 1 && rec.signo == SIGUSR2 && rec.code == SI_USER);
  check("SIGUSR2 blocked while its handler runs", rec.self_blocked == 1);
  check("si_pid is our pid", rec.pid == pid);

  printf("3. tgkill(getpid(), gettid(), SIGUSR1)\n");
  reset();
  tgkill(pid, gettid(), SIGUSR1);
  printf("  delivered %d time(s): signo=%d code=%d\n", rec.count, rec.signo, rec.code);
  check("signo is SIGUSR1, code is SI_TKILL", rec.count == 1 && rec.signo == SIGUSR1 && rec.code == SI_TKILL);

  printf("4. block SIGUSR1, raise it twice, unblock\n");
  sigset_t set = sigmask_of(SIGUSR1);
  sigset_t old = 0;
  sigprocmask(SIG_BLOCK, &set, &old);
  reset();
  raise(SIGUSR1);
  raise(SIGUSR1);
  int while_blocked = rec.count;
  sigset_t now = 0;
  sigprocmask(SIG_BLOCK, NULL, &now);
  check("mask reads back with SIGUSR1 only", now == set && old == 0);
  sigprocmask(SIG_UNBLOCK, &set, NULL);
  printf("  while blocked: %d deliveries; after unblock: %d\n", while_blocked, rec.count);
  check("pending while blocked, delivered once on unblock", while_blocked == 0 && rec.count == 1);

  printf("5. SIG_IGN\n");
  struct sigaction ign;
  memset(&ign, 0, sizeof ign);
  ign.sa_handler = SIG_IGN;
  struct sigaction prev;
  sigaction(SIGUSR2, &ign, &prev);
  reset();
  raise(SIGUSR2);
  check("ignored SIGUSR2 runs no handler", rec.count == 0);
  check("old action was the SA_SIGINFO handler",
        prev.sa_sigaction == on_signal && (prev.sa_flags & SA_SIGINFO) != 0);

  printf("6. SA_ONSTACK handler on an alternate stack\n");
  stack_t ss = {altstack, 0, sizeof altstack};
  check("sigaltstack installed", sigaltstack(&ss, NULL) == 0);
  install(SIGUSR2, on_signal, SA_ONSTACK, 0);
  reset();
  raise(SIGUSR2);
  printf("  delivered %d time(s), on altstack: %s, ss_flags in handler: %d\n", rec.count,
         rec.on_altstack ? "yes" : "no", rec.ss_flags);
  check("handler sp inside the altstack", rec.count == 1 && rec.on_altstack == 1);
  check("sigaltstack reports SS_ONSTACK inside", rec.ss_flags == SS_ONSTACK);
  stack_t after;
  sigaltstack(NULL, &after);
  check("back on the normal stack after return", after.ss_flags == 0 && after.ss_sp == altstack);

  printf("7. SIGSEGV from a load at NULL, recovered by skipping the instruction\n");
  install(SIGSEGV, on_segv, 0, 0);
  reset();
  uint32_t v = fault_load((volatile uint32_t *)0);
  printf("  signo=%d code=%d addr=%p, faulting pc is the lw: %s\n", rec.signo, rec.code, (void *)rec.addr,
         rec.pc == (uintptr_t)fault_load_insn ? "yes" : "no");
  check("SEGV_MAPERR at address 0", rec.count == 1 && rec.signo == SIGSEGV && rec.code == SEGV_MAPERR && rec.addr == 0);
  check("ucontext pc was the faulting instruction", rec.pc == (uintptr_t)fault_load_insn);
  check("execution resumed after it (register untouched)", v == 0x1234);

  printf("8. SIGSEGV from a store to a read-only page\n");
  uint32_t *page = mmap(NULL, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  check("mmap", page != MAP_FAILED);
  page[1] = 77;
  check("mprotect read-only", mprotect(page, PAGE_SIZE, PROT_READ) == 0);
  reset();
  fault_store(page + 1);
  printf("  signo=%d code=%d, address is the page + 4: %s, faulting pc is the sw: %s\n", rec.signo, rec.code,
         rec.addr == (uintptr_t)(page + 1) ? "yes" : "no", rec.pc == (uintptr_t)fault_store_insn ? "yes" : "no");
  check("SEGV_ACCERR at the written address",
        rec.count == 1 && rec.code == SEGV_ACCERR && rec.addr == (uintptr_t)(page + 1));
  check("the page kept its contents", page[1] == 77);
  munmap(page, PAGE_SIZE);

  if (failures == 0) {
    printf("sigdemo: all checks passed\n");
    return 0;
  }
  printf("sigdemo: %d check(s) failed\n", failures);
  return 1;
}
