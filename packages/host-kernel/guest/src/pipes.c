/*
 * pipes [KiB] [single|threads] — moves KiB kibibytes (default 64) of
 * deterministic data through a pipe2() pipe in chunks of varying sizes, checks
 * the bytes that come out against the bytes that went in, sees EOF once the write
 * end is closed, and sees EPIPE (SIGPIPE ignored) when writing to a pipe with no
 * reader.
 *   single  (default): one thread alternates a bounded write (< 1 KiB in flight,
 *           well under any pipe's capacity) with reads; Linux-numbered calls only,
 *           so it runs under qemu-riscv32.
 *   threads: a producer thread writes chunks of up to 8 KiB (so writes block and
 *           fill the pipe) while main reads; needs vkc's lwp_create and umtx.
 * Both modes print the same lines. Exit 0 iff every check held.
 */
#include "vkc.h"

static uint32_t gen_state;

static uint8_t next_byte(void) {
  gen_state = gen_state * 1664525u + 1013904223u;
  return (uint8_t)(gen_state >> 24);
}

/* Chunk sizes cycle through a fixed pattern scaled to `max`. */
static size_t chunk_size(uint32_t i, size_t max) { return 1 + (size_t)((i * 7919u) % (uint32_t)max); }

struct producer {
  int fd;
  size_t total;
  uint32_t checksum;
  int error;
};

static void *produce(void *arg) {
  struct producer *p = arg;
  static uint8_t buf[8192];
  size_t sent = 0;
  for (uint32_t i = 0; sent < p->total; i++) {
    size_t n = chunk_size(i, sizeof buf);
    if (n > p->total - sent) n = p->total - sent;
    for (size_t k = 0; k < n; k++) buf[k] = next_byte();
    p->checksum = fnv1a(p->checksum, buf, n);
    if (write_all(p->fd, buf, n) != (ssize_t)n) {
      p->error = errno;
      break;
    }
    sent += n;
  }
  close(p->fd);
  return NULL;
}

int main(int argc, char **argv) {
  long kib = 64;
  int threaded = 0;
  if (argc > 3 || (argc > 1 && (parse_long(argv[1], &kib) != 0 || kib < 1 || kib > 65536)) ||
      (argc > 2 && strcmp(argv[2], "single") != 0 && !(threaded = strcmp(argv[2], "threads") == 0))) {
    eprintf("usage: pipes [KiB 1..65536] [single|threads]\n");
    return 2;
  }
  size_t total = (size_t)kib * 1024;
  int failures = 0;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    printf("pipe2 failed: %s\n", strerror(errno));
    return 1;
  }
  printf("pipes: %ld KiB through a pipe\n", kib);

  gen_state = 12345;
  struct producer prod = {fds[1], total, FNV1A_INIT, 0};
  uint32_t got_sum = FNV1A_INIT;
  size_t got = 0;
  static uint8_t in[4096];

  if (threaded) {
    thread_t t = thread_create(produce, &prod);
    if (t == NULL) {
      printf("thread_create failed: %s\n", strerror(errno));
      return 1;
    }
    for (uint32_t i = 0;; i++) {
      ssize_t r = read(fds[0], in, chunk_size(i * 3 + 1, sizeof in));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      got_sum = fnv1a(got_sum, in, (size_t)r);
      got += (size_t)r;
    }
    thread_join(t, NULL);
  } else {
    static uint8_t out[1000];
    size_t sent = 0;
    for (uint32_t i = 0; sent < total; i++) {
      size_t n = chunk_size(i, sizeof out);
      if (n > total - sent) n = total - sent;
      for (size_t k = 0; k < n; k++) out[k] = next_byte();
      prod.checksum = fnv1a(prod.checksum, out, n);
      if (write_all(fds[1], out, n) != (ssize_t)n) {
        prod.error = errno;
        break;
      }
      sent += n;
      /* Drain exactly what is in flight, in reads of varying sizes. */
      for (uint32_t j = 0; got < sent; j++) {
        size_t want = chunk_size(i + j * 5, 300);
        if (want > sent - got) want = sent - got;
        ssize_t r = read(fds[0], in, want);
        if (r <= 0) {
          printf("read failed mid-stream: %ld\n", (long)r);
          return 1;
        }
        got_sum = fnv1a(got_sum, in, (size_t)r);
        got += (size_t)r;
      }
    }
    close(fds[1]);
  }
  printf("written: %u bytes, checksum 0x%08x\n", (unsigned)total, prod.checksum);
  printf("read:    %u bytes, checksum 0x%08x\n", (unsigned)got, got_sum);
  if (prod.error != 0 || got != total || got_sum != prod.checksum) {
    printf("MISMATCH (writer error: %s)\n", strerror(prod.error));
    failures++;
  }

  ssize_t eof = read(fds[0], in, sizeof in);
  printf("read after the writer closed: %ld (EOF)\n", (long)eof);
  if (eof != 0) failures++;
  close(fds[0]);

  signal(SIGPIPE, SIG_IGN);
  if (pipe(fds) != 0) return 1;
  close(fds[0]);
  ssize_t w = write(fds[1], "x", 1);
  int err = errno;
  printf("write with no reader: %ld, errno %s\n", (long)w, w < 0 && err == EPIPE ? "EPIPE" : strerror(err));
  if (!(w < 0 && err == EPIPE)) failures++;
  close(fds[1]);

  printf("pipes: %s\n", failures == 0 ? "ok" : "FAILED");
  return failures == 0 ? 0 : 1;
}
