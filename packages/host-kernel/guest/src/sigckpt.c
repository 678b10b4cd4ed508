/*
 * sigckpt [iterations] — catches SIGCKPT (33) with a handler that reports its
 * progress and checkpoints the process itself with sys_checkpoint(FREEZE), and
 * SIGTHAW (35) with a handler that reports the thaw; meanwhile main runs a hash
 * loop of `iterations` rounds (default 20000000, a few hundred million
 * instructions) so there is time to send SIGCKPT (kill -33, or ^E on the
 * console). Handlers write with write(2) only (printf is not async-signal-safe).
 * Needs vkc's sys_checkpoint. Exit 0 (1 if a checkpoint failed).
 */
#include "vkc.h"

static volatile long progress;
static volatile int checkpoints;
static volatile int thaws;
static volatile int failed;

static void say(const char *fmt, ...) {
  char line[160];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (n > (int)sizeof line - 1) n = (int)sizeof line - 1;
  write_all(STDOUT_FILENO, line, (size_t)n);
}

static void on_ckpt(int sig) {
  say("sigckpt: SIGCKPT at iteration %ld, checkpointing\n", progress);
  long r = sys_checkpoint(CKPT_FREEZE, -1, -1, 0);
  if (r == 0) {
    checkpoints++;
    say("sigckpt: checkpoint written, continuing\n");
  } else if (r > 0) {
    say("sigckpt: resumed from the checkpoint (sys_checkpoint returned %ld)\n", r);
  } else {
    failed = 1;
    say("sigckpt: sys_checkpoint failed: %s\n", strerror((int)-r));
  }
}

static void on_thaw(int sig) {
  thaws++;
  say("sigckpt: SIGTHAW: this process was thawed at iteration %ld\n", progress);
}

int main(int argc, char **argv) {
  long iterations = 20000000;
  if (argc > 2 || (argc == 2 && (parse_long(argv[1], &iterations) != 0 || iterations < 0))) {
    eprintf("usage: sigckpt [iterations]\n");
    return 2;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_ckpt;
  sa.sa_flags = SA_RESTART;
  if (sigaction(SIGCKPT, &sa, NULL) != 0) {
    printf("sigckpt: cannot catch SIGCKPT: %s\n", strerror(errno));
    return 1;
  }
  sa.sa_handler = on_thaw;
  sigaction(SIGTHAW, &sa, NULL);

  printf("sigckpt: pid %d, %ld iterations; send SIGCKPT (kill -33 %d, or ^E) to checkpoint\n", getpid(),
         iterations, getpid());
  fflush_stdout();
  uint32_t h = FNV1A_INIT;
  for (long i = 0; i < iterations; i++) {
    h ^= (uint32_t)i;
    h *= 0x01000193u;
    if ((i & 1023) == 0) progress = i;
  }
  progress = iterations;
  printf("sigckpt: done, result 0x%08x, %d checkpoint(s) written here, %d thaw(s) seen\n", h, checkpoints, thaws);
  return failed ? 1 : 0;
}
