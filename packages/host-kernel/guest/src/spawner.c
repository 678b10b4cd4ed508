/*
 * spawner [procs=4] [threads=8] [pages=2] [hold_ms=10] — many processes and threads at once,
 * all alive and blocked at the same instant (a scale workload for checkpoints).
 *
 * The parent sets a .data marker and forks procs-1 children (procs 1..256). `threads` (procs..
 * 1024) counts every LWP, main threads included: the threads-procs workers are dealt round-robin
 * (process i gets one more while i < remainder), at most 64 per process. Every worker maps its
 * own `pages` (0..64) anonymous pages, writes a pattern derived from (process, worker, page)
 * into each, says it is ready under a mutex and blocks on a condvar. When all of its workers are
 * ready, a child writes one byte to the shared `ready` pipe and blocks reading the shared `go`
 * pipe. The parent, once its own workers and every child are ready, prints "all ready", sleeps
 * hold_ms of (virtual) time — the window a checkpoint is taken in — changes its marker, and
 * closes the go pipe: every child sees end of file, checks its copy of the marker is the old one
 * (copy-on-write), wakes its workers, which read their pages back into a checksum, joins them
 * and exits with a status derived from the checksum. The parent checks each child's status in
 * pid order against the value it computes itself and prints the total. Children print nothing,
 * so the output does not depend on scheduling and is the same under qemu-riscv32 (threads via
 * the linux shim) and vkc. Exit 0 iff every check held.
 */
#include "vkc.h"

#define MAX_PROCS 256
#define MAX_THREADS 1024
#define MAX_WORKERS 64
#define MAX_PAGES 64
#define PAGE 4096
#define WORDS_PER_PAGE 16 /* one word every 256 bytes: the page is dirty, the run stays short */
#define OLD_MARKER 0x5eed
#define NEW_MARKER 0xbeef

static int marker = OLD_MARKER; /* .data: shared copy-on-write after fork */

struct worker {
  int proc;
  int index;
  long pages;
  thread_t thread;
  uint32_t sum;
};

static struct worker workers[MAX_WORKERS];
static mutex_t lock = MUTEX_INITIALIZER;
static cond_t ready_cond = COND_INITIALIZER;
static cond_t go_cond = COND_INITIALIZER;
static int ready;
static int go;

static uint32_t word_of(int proc, int index, long page, int k) {
  uint32_t x = (uint32_t)proc * 2654435761u ^ (uint32_t)index * 40503u ^ (uint32_t)page * 97u ^ (uint32_t)k;
  x ^= x >> 13;
  x *= 0x5bd1e995u;
  return x ^ (x >> 15);
}

/* What worker (proc, index) sums its pages to: computed here without touching memory. */
static uint32_t expected_sum(int proc, int index, long pages) {
  uint32_t h = 2166136261u ^ (uint32_t)index;
  for (long p = 0; p < pages; p++) {
    for (int k = 0; k < WORDS_PER_PAGE; k++) h = (h ^ word_of(proc, index, p, k)) * 16777619u;
  }
  return h;
}

static void *work(void *arg) {
  struct worker *w = arg;
  uint32_t *mem = NULL;
  if (w->pages > 0) {
    mem = mmap(NULL, (size_t)w->pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) {
      w->sum = 0;
      mem = NULL;
    }
  }
  if (mem != NULL) {
    for (long p = 0; p < w->pages; p++) {
      for (int k = 0; k < WORDS_PER_PAGE; k++) mem[p * (PAGE / 4) + k * 64] = word_of(w->proc, w->index, p, k);
    }
  }
  mutex_lock(&lock);
  ready++;
  cond_signal(&ready_cond);
  while (!go) cond_wait(&go_cond, &lock);
  mutex_unlock(&lock);
  uint32_t h = 2166136261u ^ (uint32_t)w->index;
  if (mem != NULL) {
    for (long p = 0; p < w->pages; p++) {
      for (int k = 0; k < WORDS_PER_PAGE; k++) h = (h ^ mem[p * (PAGE / 4) + k * 64]) * 16777619u;
    }
    munmap(mem, (size_t)w->pages * PAGE);
  } else if (w->pages > 0) {
    h = 0;
  }
  w->sum = h;
  return NULL;
}

static int workers_of(int proc, long procs, long threads) {
  long extra = threads - procs;
  return (int)(extra / procs + (proc < extra % procs ? 1 : 0));
}

/* Start this process's workers and wait until each has touched its pages. -1 on failure. */
static int start_workers(int proc, int n, long pages) {
  for (int i = 0; i < n; i++) {
    workers[i] = (struct worker){.proc = proc, .index = i, .pages = pages};
    workers[i].thread = thread_create(work, &workers[i]);
    if (workers[i].thread == NULL) return -1;
  }
  mutex_lock(&lock);
  while (ready < n) cond_wait(&ready_cond, &lock);
  mutex_unlock(&lock);
  return 0;
}

/* Wake the workers, join them, and fold their sums. */
static uint32_t finish_workers(int n) {
  mutex_lock(&lock);
  go = 1;
  cond_broadcast(&go_cond);
  mutex_unlock(&lock);
  uint32_t total = 0;
  for (int i = 0; i < n; i++) {
    thread_join(workers[i].thread, NULL);
    total = total * 31u + workers[i].sum;
  }
  return total;
}

static uint32_t expected_total(int proc, int n, long pages) {
  uint32_t total = 0;
  for (int i = 0; i < n; i++) total = total * 31u + expected_sum(proc, i, pages);
  return total;
}

/* The status a child exits with when every check held: 1..200. */
static int status_of(uint32_t total) { return (int)(total % 200u) + 1; }

/* A child: 201.. = which check failed. */
static int child(int proc, int n, long pages, int ready_fd, int go_fd) {
  if (start_workers(proc, n, pages) != 0) {
    write(ready_fd, "x", 1); /* still counted: the parent must not wait for this child forever */
    return 201;                /* exit_group ends the workers already started */
  }
  if (write(ready_fd, "r", 1) != 1) return 202;
  char c;
  if (read(go_fd, &c, 1) != 0) return 203; /* end of file: the parent closed the go pipe */
  if (marker != OLD_MARKER) return 204;
  uint32_t total = finish_workers(n);
  if (total != expected_total(proc, n, pages)) return 205;
  return status_of(total);
}

int main(int argc, char **argv) {
  long procs = 4, threads = 8, pages = 2, hold_ms = 10;
  int bad = argc > 5;
  if (!bad && argc > 1) bad = parse_long(argv[1], &procs) != 0 || procs < 1 || procs > MAX_PROCS;
  if (!bad && argc > 2) bad = parse_long(argv[2], &threads) != 0 || threads < procs || threads > MAX_THREADS;
  if (!bad && argc > 3) bad = parse_long(argv[3], &pages) != 0 || pages < 0 || pages > MAX_PAGES;
  if (!bad && argc > 4) bad = parse_long(argv[4], &hold_ms) != 0 || hold_ms < 0 || hold_ms > 100000;
  if (!bad && workers_of(0, procs, threads) > MAX_WORKERS) bad = 1;
  if (bad) {
    eprintf("usage: spawner [procs 1..256] [threads procs..1024, <= 65 per process] [pages 0..64] [hold_ms]\n");
    return 2;
  }
  int ready_pipe[2], go_pipe[2];
  if (pipe(ready_pipe) != 0 || pipe(go_pipe) != 0) return 1;
  static pid_t pids[MAX_PROCS];
  for (int p = 1; p < procs; p++) {
    pids[p] = fork();
    if (pids[p] < 0) {
      printf("fork %d failed: %s\n", p, strerror(errno));
      return 1;
    }
    if (pids[p] == 0) {
      close(ready_pipe[0]);
      close(go_pipe[1]);
      exit(child(p, workers_of(p, procs, threads), pages, ready_pipe[1], go_pipe[0]));
    }
  }
  close(ready_pipe[1]);
  close(go_pipe[0]);
  int ok = 1;
  int mine = workers_of(0, procs, threads);
  if (start_workers(0, mine, pages) != 0) {
    printf("thread_create failed: %s\n", strerror(errno));
    return 1;
  }
  long seen = 0;
  char buf[64];
  while (seen < procs - 1) {
    long n = read(ready_pipe[0], buf, sizeof buf);
    if (n <= 0) break;
    seen += n;
  }
  ok &= seen == procs - 1;
  printf("spawner: %ld processes, %ld threads, %ld pages per worker: all ready\n", procs, threads, pages);
  fflush_stdout();

  struct timespec hold = {.tv_sec = hold_ms / 1000, .tv_nsec = (hold_ms % 1000) * 1000000};
  nanosleep(&hold, NULL);
  marker = NEW_MARKER; /* after the forks: no child may see it */
  close(go_pipe[1]);

  uint32_t total = finish_workers(mine);
  int good = total == expected_total(0, mine, pages);
  ok &= good;
  printf("process 0: %d workers %s\n", mine, good ? "ok" : "FAILED");
  long children_ok = 0;
  uint32_t sum = total;
  for (int p = 1; p < procs; p++) {
    int st = 0;
    pid_t r = waitpid(pids[p], &st, 0);
    int n = workers_of(p, procs, threads);
    int want = status_of(expected_total(p, n, pages));
    int fine = r == pids[p] && WIFEXITED(st) && WEXITSTATUS(st) == want;
    if (!fine) printf("child %d: status %d (expected %d) FAILED\n", p, WIFEXITED(st) ? WEXITSTATUS(st) : -1, want);
    children_ok += fine;
    sum = sum * 31u + (uint32_t)WEXITSTATUS(st);
  }
  ok &= children_ok == procs - 1;
  printf("children: %ld/%ld ok, checksum %08x\n", children_ok, procs - 1, sum);
  printf("spawner %s\n", ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
