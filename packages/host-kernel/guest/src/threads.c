/*
 * threads [N] [iterations] — N threads (default 4, at most 16) each check their
 * own `__thread` variables (an initialized one copied from .tdata and a zeroed
 * one from .tbss) and set them to per-thread values, block a different set of
 * signals and read the mask back, meet at a start barrier (mutex + condvar), then
 * add to shared counters under a mutex for `iterations` rounds (default 1000).
 * After joining, main prints each thread's checks and the counters, whose values
 * do not depend on scheduling. Needs vkc's lwp_create and umtx. Exit 0 iff every
 * check held.
 */
#include "vkc.h"

#define MAX_THREADS 16
#define NCOUNTERS 8

static __thread uint32_t tls_value = 0x5eed1234u;
static __thread uint32_t tls_zero;
static __thread char tls_name[16];

static mutex_t lock = MUTEX_INITIALIZER;
static cond_t ready_cond = COND_INITIALIZER;
static cond_t go_cond = COND_INITIALIZER;
static int ready;
static int go;
static uint64_t counters[NCOUNTERS];
static long iterations;

/* Signals a thread blocks: the bits of (index + 1) select from this list, so
 * every thread's mask differs. */
static const int mask_signals[5] = {SIGUSR1, SIGUSR2, SIGALRM, SIGTERM, SIGHUP};

struct worker {
  int index;
  thread_t thread;
  int tls_initial_ok;
  int tls_final_ok;
  int mask_initial_ok;
  int mask_final_ok;
  int tid_ok;
  sigset_t mask;
};

static struct worker workers[MAX_THREADS];

static sigset_t mask_for(int index) {
  sigset_t set = 0;
  for (int b = 0; b < 5; b++) {
    if ((index + 1) & (1 << b)) sigaddset(&set, mask_signals[b]);
  }
  return set;
}

static void *work(void *arg) {
  struct worker *w = arg;
  w->tls_initial_ok = tls_value == 0x5eed1234u && tls_zero == 0 && tls_name[0] == 0;
  tls_value = 1000u + (uint32_t)w->index * 7u;
  tls_zero = ~(uint32_t)w->index;
  snprintf(tls_name, sizeof tls_name, "worker-%d", w->index);

  sigset_t want = mask_for(w->index);
  sigset_t got = 0;
  sigprocmask(SIG_SETMASK, &want, NULL);
  sigprocmask(SIG_BLOCK, NULL, &got);
  w->mask_initial_ok = got == want;
  w->tid_ok = gettid() != getpid();

  mutex_lock(&lock);
  ready++;
  cond_signal(&ready_cond);
  while (!go) cond_wait(&go_cond, &lock);
  mutex_unlock(&lock);

  for (long k = 0; k < iterations; k++) {
    mutex_lock(&lock);
    counters[(w->index + k) % NCOUNTERS] += (uint64_t)(k + 1);
    mutex_unlock(&lock);
    if ((k & 63) == 0) sched_yield();
  }

  char expect_name[16];
  snprintf(expect_name, sizeof expect_name, "worker-%d", w->index);
  w->tls_final_ok = tls_value == 1000u + (uint32_t)w->index * 7u && tls_zero == ~(uint32_t)w->index &&
                    strcmp(tls_name, expect_name) == 0;
  sigprocmask(SIG_BLOCK, NULL, &got);
  w->mask_final_ok = got == want;
  w->mask = got;
  return (void *)(uintptr_t)(w->index + 100);
}

int main(int argc, char **argv) {
  long n = 4;
  iterations = 1000;
  if (argc > 3 || (argc > 1 && (parse_long(argv[1], &n) != 0 || n < 1 || n > MAX_THREADS)) ||
      (argc > 2 && (parse_long(argv[2], &iterations) != 0 || iterations < 0 || iterations > 10000000))) {
    eprintf("usage: threads [N 1..16] [iterations]\n");
    return 2;
  }
  printf("threads: %ld threads, %ld iterations each\n", n, iterations);
  int failures = 0;
  int main_tls_ok = tls_value == 0x5eed1234u && tls_zero == 0;
  tls_value = 42;

  for (int i = 0; i < n; i++) {
    workers[i].index = i;
    workers[i].thread = thread_create(work, &workers[i]);
    if (workers[i].thread == NULL) {
      printf("thread_create %d failed: %s\n", i, strerror(errno));
      return 1;
    }
  }
  mutex_lock(&lock);
  while (ready < n) cond_wait(&ready_cond, &lock);
  go = 1;
  cond_broadcast(&go_cond);
  mutex_unlock(&lock);

  for (int i = 0; i < n; i++) {
    void *result = NULL;
    struct worker *w = &workers[i];
    int joined = thread_join(w->thread, &result) == 0 && result == (void *)(uintptr_t)(i + 100);
    int ok = joined && w->tls_initial_ok && w->tls_final_ok && w->mask_initial_ok && w->mask_final_ok && w->tid_ok;
    printf("thread %d: tls %s, mask 0x%08llx %s, own tid %s, joined %s\n", i,
           w->tls_initial_ok && w->tls_final_ok ? "ok" : "BAD", (unsigned long long)w->mask,
           w->mask_initial_ok && w->mask_final_ok ? "ok" : "BAD", w->tid_ok ? "ok" : "BAD", joined ? "ok" : "BAD");
    if (!ok) failures++;
  }
  main_tls_ok = main_tls_ok && tls_value == 42;
  sigset_t main_mask = 1;
  sigprocmask(SIG_BLOCK, NULL, &main_mask);
  printf("main: tls %s, mask 0x%08llx %s\n", main_tls_ok ? "ok" : "BAD", (unsigned long long)main_mask,
         main_mask == 0 ? "ok" : "BAD");
  if (!main_tls_ok || main_mask != 0) failures++;

  /* Every thread adds k+1 to counter (index + k) % 8 for k < iterations: the totals
   * are fixed whatever the interleaving. */
  uint64_t expect[NCOUNTERS] = {0};
  for (int i = 0; i < n; i++) {
    for (long k = 0; k < iterations; k++) expect[(i + k) % NCOUNTERS] += (uint64_t)(k + 1);
  }
  uint64_t total = 0;
  uint32_t checksum = FNV1A_INIT;
  int counters_ok = 1;
  for (int c = 0; c < NCOUNTERS; c++) {
    total += counters[c];
    checksum = fnv1a(checksum, &counters[c], sizeof counters[c]);
    if (counters[c] != expect[c]) counters_ok = 0;
  }
  printf("counters:");
  for (int c = 0; c < NCOUNTERS; c++) printf(" %llu", (unsigned long long)counters[c]);
  printf("\n");
  printf("total %llu, checksum 0x%08x, %s\n", (unsigned long long)total, checksum, counters_ok ? "ok" : "BAD");
  if (!counters_ok) failures++;
  printf("threads: %s\n", failures == 0 ? "ok" : "FAILED");
  return failures == 0 ? 0 : 1;
}
