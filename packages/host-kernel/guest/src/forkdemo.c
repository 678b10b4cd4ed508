/*
 * forkdemo [rounds=10] — fork, copy-on-write, waitpid and kill across processes.
 *
 * The parent fills a global and a 4 KiB heap buffer, then forks 3 worker children. After the
 * forks it changes both (a new global value, the buffer overwritten) and only then releases
 * each child with one byte through its own pipe, so every child checks its copy *after* the
 * parent's writes: it must still see the old values (copy-on-write), see its parent with
 * getppid(), read the byte, then end of file once every write end is closed. Each child then
 * hashes the buffer `rounds` * (i+1) times (a result distinct per child), overwrites its own
 * copy (which the parent must never see), and exits with a status derived from the hash.
 * While child 0 waits for its byte, waitpid(WNOHANG) must say 0. The parent waits for each
 * child in order with waitpid(pid), prints one line per child, kills a 4th child blocked in
 * read with SIGTERM and reports how it ended, checks waitpid(-1) fails with ECHILD, and prints
 * its total. Children print nothing, so the output does not depend on scheduling and is the
 * same under qemu-riscv32 and vkc. Exit 0 iff every check held.
 */
#include "vkc.h"

#define WORKERS 3
#define BUF_SIZE 4096
#define OLD_MARKER 1234
#define NEW_MARKER 9999

static int marker = OLD_MARKER; /* .data: a private page shared copy-on-write after fork */
static uint8_t *heap;

static uint8_t pattern(size_t k) { return (uint8_t)(k * 31u + 7u); }

static uint32_t work(int child, long rounds) {
  uint32_t h = 2166136261u ^ (uint32_t)child;
  for (long r = 0; r < rounds * (child + 1); r++) h = fnv1a(h, heap, BUF_SIZE);
  return h;
}

/* The status a worker exits with when every check held: 1..200. */
static int status_of(uint32_t h) { return (int)(h % 200u) + 1; }

static int heap_is(int old) {
  for (size_t k = 0; k < BUF_SIZE; k++) {
    if (heap[k] != (old ? pattern(k) : 0x5a)) return 0;
  }
  return 1;
}

/* A worker: 201.. = which check failed. */
static int worker(int i, int fd, pid_t parent, long rounds) {
  char c = 0;
  if (read(fd, &c, 1) != 1 || c != 'g') return 201;
  if (marker != OLD_MARKER) return 202;
  if (!heap_is(1)) return 203;
  if (getppid() != parent) return 204;
  if (read(fd, &c, 1) != 0) return 205; /* EOF: every copy of the write end is closed */
  uint32_t h = work(i, rounds);
  marker = -i;
  memset(heap, 0xee, BUF_SIZE);
  return status_of(h);
}

int main(int argc, char **argv) {
  long rounds = 10;
  if (argc > 2 || (argc == 2 && (parse_long(argv[1], &rounds) != 0 || rounds < 1 || rounds > 100000))) {
    eprintf("usage: forkdemo [rounds 1..100000]\n");
    return 2;
  }
  heap = malloc(BUF_SIZE);
  if (heap == NULL) return 1;
  for (size_t k = 0; k < BUF_SIZE; k++) heap[k] = pattern(k);
  int expected[WORKERS];
  for (int i = 0; i < WORKERS; i++) expected[i] = status_of(work(i, rounds));

  pid_t me = getpid();
  int fds[WORKERS][2];
  pid_t pids[WORKERS];
  for (int i = 0; i < WORKERS; i++) {
    if (pipe(fds[i]) != 0) return 1;
    pids[i] = fork();
    if (pids[i] < 0) {
      printf("fork failed: %s\n", strerror(errno));
      return 1;
    }
    if (pids[i] == 0) {
      /* Close the write ends this child inherited (its own and its elder siblings'; the
       * parent closed their read ends before this fork, so those numbers are reused). */
      for (int j = 0; j <= i; j++) close(fds[j][1]);
      exit(worker(i, fds[i][0], me, rounds));
    }
    close(fds[i][0]);
  }

  /* The parent's writes, after every fork: the children must not see them. */
  marker = NEW_MARKER;
  memset(heap, 0x5a, BUF_SIZE);
  int ok = 1;
  int st = 0;
  pid_t r = waitpid(pids[0], &st, WNOHANG);
  printf("waitpid(child 0, WNOHANG) before its start: %d\n", (int)r);
  ok &= r == 0;
  for (int i = 0; i < WORKERS; i++) {
    if (write(fds[i][1], "g", 1) != 1) ok = 0;
    close(fds[i][1]);
  }

  int total = 0;
  for (int i = 0; i < WORKERS; i++) {
    r = waitpid(pids[i], &st, 0);
    int good = r == pids[i] && WIFEXITED(st) && WEXITSTATUS(st) == expected[i];
    printf("child %d: exit status %d (expected %d) %s\n", i, WIFEXITED(st) ? WEXITSTATUS(st) : -1, expected[i],
           good ? "ok" : "FAILED");
    ok &= good;
    total += WEXITSTATUS(st);
  }
  int mine = marker == NEW_MARKER && heap_is(0);
  printf("parent's copy after the children wrote theirs: %s\n", mine ? "unchanged" : "CHANGED");
  ok &= mine;

  /* A 4th child blocks reading a pipe nobody writes; the parent kills it. */
  int block[2];
  if (pipe(block) != 0) return 1;
  pid_t victim = fork();
  if (victim == 0) {
    char c;
    close(block[1]);
    read(block[0], &c, 1);
    _exit(3); /* not reached: SIGTERM ends it while it reads */
  }
  close(block[0]);
  if (kill(victim, SIGTERM) != 0) ok = 0;
  r = waitpid(victim, &st, 0);
  int killed = r == victim && WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM;
  printf("child 3: %s\n", killed ? "killed by SIGTERM" : "NOT killed by SIGTERM");
  ok &= killed;
  close(block[1]);

  r = waitpid(-1, &st, 0);
  int echild = r == -1 && errno == ECHILD;
  printf("waitpid(-1) with no children left: %s\n", echild ? "ECHILD" : "unexpected");
  ok &= echild;
  printf("total %d\n", total);
  printf("forkdemo %s\n", ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
