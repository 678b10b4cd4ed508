/*
 * forkpipe [KiB=48] — one pipe shared by three processes. The parent makes a pipe and forks a
 * child, which forks a grandchild: child and grandchild each write KiB kibibytes of their own
 * deterministic data into the same write end (chunks of varying sizes under PIPE_BUF), while
 * the parent first computes what should arrive (so the writers fill the pipe and block: twice
 * the default KiB is more than a pipe holds), then reads it all in 1000-byte reads. The parent sees end of file only once every copy of the write end is closed (its own,
 * the child's, the grandchild's). The child waits for the grandchild and checks its exit status;
 * the parent checks the byte count and sum (a sum, so the interleaving does not matter) and the
 * child's status, and prints one line each. Only the parent prints, so the output does not
 * depend on scheduling and is the same under qemu-riscv32 and vkc. Exit 0 iff every check held.
 */
#include "vkc.h"

#define CHUNK_MAX 3000
#define READ_SIZE 1000

static uint8_t next_byte(uint32_t *state) {
  *state = *state * 1664525u + 1013904223u;
  return (uint8_t)(*state >> 24);
}

/* The sum of the `total` bytes a writer with `seed` sends (what it would write, not written). */
static uint32_t sum_of(uint32_t seed, size_t total) {
  uint32_t s = seed, sum = 0;
  for (size_t k = 0; k < total; k++) sum += next_byte(&s);
  return sum;
}

/* The status a writer exits with when it wrote everything: 1..200. */
static int status_of(uint32_t seed, size_t total) { return (int)(sum_of(seed, total) % 200u) + 1; }

/* Write `total` bytes of `seed`'s data to `fd` in chunks of varying sizes. */
static int produce(int fd, uint32_t seed, size_t total) {
  static uint8_t buf[CHUNK_MAX];
  uint32_t s = seed;
  size_t sent = 0;
  for (uint32_t i = 0; sent < total; i++) {
    size_t n = 1 + (size_t)((i * 7919u) % CHUNK_MAX);
    if (n > total - sent) n = total - sent;
    for (size_t k = 0; k < n; k++) buf[k] = next_byte(&s);
    if (write_all(fd, buf, n) != (ssize_t)n) return -1;
    sent += n;
  }
  return 0;
}

/* The child: fork the grandchild, write its share, reap the grandchild. 201.. = a failed check. */
static int child(int fd, pid_t parent, size_t total) {
  pid_t me = getpid();
  pid_t g = fork();
  if (g < 0) return 201;
  if (g == 0) {
    if (getppid() != me) _exit(202);
    _exit(produce(fd, 2, total) == 0 ? status_of(2, total) : 203);
  }
  if (getppid() != parent) return 204;
  if (produce(fd, 1, total) != 0) return 205;
  close(fd);
  int st = 0;
  if (waitpid(g, &st, 0) != g || !WIFEXITED(st) || WEXITSTATUS(st) != status_of(2, total)) return 206;
  return status_of(1, total);
}

int main(int argc, char **argv) {
  long kib = 48;
  if (argc > 2 || (argc == 2 && (parse_long(argv[1], &kib) != 0 || kib < 1 || kib > 4096))) {
    eprintf("usage: forkpipe [KiB 1..4096]\n");
    return 2;
  }
  size_t total = (size_t)kib * 1024;
  int fds[2];
  if (pipe(fds) != 0) return 1;
  pid_t me = getpid();
  pid_t c = fork();
  if (c < 0) {
    printf("fork failed: %s\n", strerror(errno));
    return 1;
  }
  if (c == 0) {
    close(fds[0]);
    exit(child(fds[1], me, total));
  }
  close(fds[1]);
  /* What should arrive, computed before reading: meanwhile the writers fill the pipe and block. */
  uint32_t expected = sum_of(1, total) + sum_of(2, total);

  static uint8_t buf[READ_SIZE];
  size_t got = 0;
  uint32_t sum = 0;
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) {
    for (ssize_t k = 0; k < n; k++) sum += buf[k];
    got += (size_t)n;
  }
  int ok = n == 0;
  printf("read %s\n", n == 0 ? "until end of file" : "FAILED");
  int bytes_ok = got == 2 * total && sum == expected;
  printf("bytes %u (expected %u), sum %u (expected %u) %s\n", (unsigned)got, (unsigned)(2 * total),
         (unsigned)sum, (unsigned)expected, bytes_ok ? "ok" : "FAILED");
  ok &= bytes_ok;
  int st = 0;
  pid_t r = waitpid(c, &st, 0);
  int status_ok = r == c && WIFEXITED(st) && WEXITSTATUS(st) == status_of(1, total);
  printf("child: exit status %d (expected %d) %s\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1,
         status_of(1, total), status_ok ? "ok" : "FAILED");
  ok &= status_ok;
  printf("forkpipe %s\n", ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
