/*
 * start.c — from the initial stack to main(): argv/envp/auxv, the main thread's
 * TLS block and tp, then exit_group with main's result.
 */
#include "internal.h"

char **environ;
static const uint32_t *auxv;

int main(int argc, char **argv, char **envp);

unsigned long getauxval(unsigned long type) {
  for (const uint32_t *a = auxv; a != NULL && a[0] != AT_NULL; a += 2) {
    if (a[0] == type) return a[1];
  }
  return 0;
}

/* The main thread's block lives in .bss when the TLS image is small enough, so a
 * program that makes no allocation never maps anything. */
static char main_block[512] __attribute__((aligned(64)));

__attribute__((noreturn, used)) void vkc_start_main(uint32_t *sp) {
  int argc = (int)sp[0];
  char **argv = (char **)(sp + 1);
  char **envp = argv + argc + 1;
  char **e = envp;
  while (*e != NULL) e++;
  environ = envp;
  auxv = (const uint32_t *)(e + 1);

  vkc_tls_init();
  void *block = main_block;
  size_t size = vkc_tls_block_size();
  if (size > sizeof main_block || vkc_tls_block_align() > 64) {
    long r = vkc_ecall(SYS_mmap2, 0, (long)((size + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (vkc_is_err(r)) vkc_ecall(SYS_exit_group, 127, 0, 0, 0, 0, 0);
    block = (void *)r;
  }
  struct vkc_thread *self = vkc_tls_setup(block);
  self->tid = (int32_t)vkc_ecall(SYS_gettid, 0, 0, 0, 0, 0, 0);
  self->tid_word = self->tid;
  void *tp = vkc_thread_tp(self);
  __asm__ volatile("mv tp, %0" : : "r"(tp) : "memory");

  exit(main(argc, argv, envp));
}

void exit(int status) {
  vkc_stdio_flush_at_exit();
  _exit(status);
}

void _exit(int status) {
  for (;;) vkc_ecall(SYS_exit_group, status, 0, 0, 0, 0, 0);
}

void abort(void) {
  sigset_t abrt = sigmask_of(SIGABRT);
  sigprocmask(SIG_UNBLOCK, &abrt, NULL);
  raise(SIGABRT);
  struct sigaction dfl = {0};
  dfl.sa_handler = SIG_DFL;
  sigaction(SIGABRT, &dfl, NULL);
  raise(SIGABRT);
  _exit(128 + SIGABRT);
}

int *__errno_location(void) { return &vkc_current()->errno_value; }
