/*
 * rtcheck — a self-test of the runtime that runs the same under qemu-riscv32 and
 * vkc: printf formatting (each line shows a format's output between brackets),
 * 64-bit division helpers, string functions, malloc/calloc/realloc/free, sbrk,
 * mmap/munmap, lseek on a pipe (ESPIPE), clocks and nanosleep, getauxval, and
 * errno. Prints each result; exit 0 iff every check held.
 */
#include "vkc.h"

void _start(void);
uint64_t __udivdi3(uint64_t n, uint64_t d);
uint64_t __umoddi3(uint64_t n, uint64_t d);

static int failures;

static void check(const char *what, int ok) {
  printf("%s: %s\n", what, ok ? "ok" : "FAILED");
  if (!ok) failures++;
}

static void formats(void) {
  printf("[%d] [%i] [%d] [%u] [%u]\n", 0, 42, -42, 3000000000u, 0u);
  printf("[%5d] [%-5d] [%05d] [%+d] [% d] [%+d]\n", 42, 42, -42, 42, 42, -7);
  printf("[%x] [%X] [%08x] [%#x] [%#X] [%#x] [%o] [%#o]\n", 0xbeefu, 0xbeefu, 0xbeefu, 255u, 255u, 0u, 8u, 8u);
  printf("[%ld] [%lu] [%lx] [%li]\n", -2147483647L - 1, 4294967295UL, 0xdeadbeefUL, 123456789L);
  printf("[%lld] [%lld] [%llu] [%llx] [%llX]\n", -9223372036854775807LL - 1, 1234567890123LL,
         18446744073709551615ULL, 0x0123456789abcdefULL, 0xfedcba9876543210ULL);
  printf("[%20llu] [%-20lld] [%020lld]\n", 12345678901234ULL, -12345678901234LL, -12345678901234LL);
  printf("[%s] [%10s] [%-10s] [%.3s] [%10.2s] [%s]\n", "abc", "right", "left", "truncate", "xyz", "");
  printf("[%c] [%3c] [%-3c] [%%]\n", 'A', 'B', 'C');
  printf("[%p] [%p] [%12p]\n", (void *)0, (void *)0x12345678, (void *)0x10);
  printf("[%*d] [%-*d] [%.*d] [%.0d] [%.5d] [%8.3d]\n", 6, 1, 6, 2, 4, 3, 0, 7, -7);
  printf("[%hhd] [%hhu] [%hd] [%hu] [%zu] [%zd]\n", (signed char)-56, (unsigned char)200, (short)-1234,
         (unsigned short)60000, (size_t)4096, (ssize_t)-5);

  char buf[16];
  int n = snprintf(buf, sizeof buf, "%s-%d-%s", "truncated", 12345, "output");
  printf("snprintf: \"%s\" returned %d\n", buf, n);
  n = snprintf(buf, 0, "%d", 123456);
  printf("snprintf size 0 returned %d\n", n);
  n = snprintf(NULL, 0, "%08x|%s", 1u, "x");
  printf("snprintf NULL returned %d\n", n);
}

static void division(void) {
  uint64_t a = 0xfedcba9876543210ULL;
  uint64_t b = 0x12345678ULL;
  int64_t c = -1000000000000000000LL;
  int64_t d = 7;
  printf("div: %llu %llu %lld %lld\n", a / b, a % b, c / d, c % d);
  printf("div: %lld %lld %llu %llu\n", c / -d, c % -d, a / 10, a % 10);
  check("64-bit division identities", a / b * b + a % b == a && c / d * d + c % d == c && (-c) / d == -(c / d));
  /* Division by zero is undefined in C, so call the helpers directly: they follow
   * RISC-V's DIVU/REMU (all ones, the dividend). */
  check("__udivdi3/__umoddi3 by zero give all ones and the dividend", __udivdi3(a, 0) == ~0ULL && __umoddi3(a, 0) == a);
}

static void strings(void) {
  char s[32];
  strcpy(s, "hello");
  check("strlen/strcmp/strncmp", strlen(s) == 5 && strcmp(s, "hello") == 0 && strcmp("a", "b") < 0 &&
                                     strncmp("abcX", "abcY", 3) == 0 && strncmp("abc", "abd", 3) < 0);
  check("strchr/strrchr", strchr(s, 'l') == s + 2 && strrchr(s, 'l') == s + 3 && strchr(s, 'z') == NULL &&
                              strchr(s, 0) == s + 5);
  char m[16] = "0123456789";
  memmove(m + 2, m, 8);
  check("memmove overlapping forward", memcmp(m, "0101234567", 10) == 0);
  memmove(m, m + 2, 8);
  check("memmove overlapping backward", memcmp(m, "0123456767", 10) == 0);
  memset(m, 'x', 3);
  check("memset/memchr", memcmp(m, "xxx", 3) == 0 && memchr(m, '3', 10) == m + 3);
  long v = 0;
  check("parse_long", parse_long("-123", &v) == 0 && v == -123 && parse_long("0x7fffffff", &v) == 0 &&
                          v == 0x7fffffff && parse_long("2147483648", &v) != 0 && parse_long("12a", &v) != 0 &&
                          parse_long("", &v) != 0 && atoi("77") == 77);
}

static void memory(void) {
  void *blocks[64];
  int ok = 1;
  for (int i = 0; i < 64; i++) {
    size_t size = (size_t)(i * 37 + 1) * (i % 4 == 0 ? 1000 : 1);
    blocks[i] = malloc(size);
    if (blocks[i] == NULL || ((uintptr_t)blocks[i] & 15) != 0) ok = 0;
    else memset(blocks[i], i, size);
  }
  for (int i = 0; i < 64; i++) {
    size_t size = (size_t)(i * 37 + 1) * (i % 4 == 0 ? 1000 : 1);
    const unsigned char *p = blocks[i];
    if (p != NULL && (p[0] != i || p[size - 1] != i)) ok = 0;
  }
  for (int i = 0; i < 64; i += 2) free(blocks[i]);
  for (int i = 1; i < 64; i += 2) free(blocks[i]);
  check("malloc: 64 blocks, 16-byte aligned, contents intact", ok);

  unsigned char *z = calloc(1000, 3);
  int zero = z != NULL;
  for (int i = 0; zero && i < 3000; i++) zero = z[i] == 0;
  free(z);
  z = calloc(200000, 1);
  for (int i = 0; z != NULL && zero && i < 200000; i += 4096) zero = z[i] == 0;
  check("calloc zeroes small and large blocks", zero && z != NULL);
  free(z);

  char *r = malloc(10);
  strcpy(r, "realloc");
  r = realloc(r, 100000);
  int kept = r != NULL && strcmp(r, "realloc") == 0;
  r = realloc(r, 5);
  kept = kept && r != NULL && memcmp(r, "reall", 5) == 0;
  free(r);
  check("realloc grows and shrinks keeping contents", kept);
  check("calloc overflow fails with ENOMEM", calloc(0x10000, 0x10000) == NULL && errno == ENOMEM);

  char *before = sbrk(0);
  char *grown = sbrk(8192);
  check("sbrk grows the break", grown == before && (char *)sbrk(0) == before + 8192);
  grown[8191] = 1;

  uint32_t *page = mmap(NULL, 3 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  int mm = page != MAP_FAILED && ((uintptr_t)page & (PAGE_SIZE - 1)) == 0 && page[0] == 0 && page[3 * 1024 - 1] == 0;
  if (page != MAP_FAILED) page[1024] = 7;
  check("mmap anonymous: page aligned and zero", mm);
  check("munmap", page != MAP_FAILED && munmap(page, 3 * PAGE_SIZE) == 0);
  check("mmap with an unaligned offset fails with EINVAL",
        mmap(NULL, PAGE_SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 100) == MAP_FAILED && errno == EINVAL);
}

static void files(void) {
  int fds[2];
  check("pipe", pipe(fds) == 0);
  errno = 0;
  check("lseek on a pipe fails with ESPIPE", lseek(fds[0], 0, SEEK_SET) == -1 && errno == ESPIPE);
  close(fds[0]);
  close(fds[1]);
  errno = 0;
  check("read from a closed fd fails with EBADF", read(fds[0], fds, 1) == -1 && errno == EBADF);
  check("write to a bad fd fails with EBADF", write(999, "x", 1) == -1 && errno == EBADF);
}

static void clocks(void) {
  struct timespec a, b, c;
  check("clock_gettime(CLOCK_MONOTONIC)", clock_gettime(CLOCK_MONOTONIC, &a) == 0 && a.tv_nsec >= 0 &&
                                               a.tv_nsec < 1000000000);
  check("clock_gettime(CLOCK_REALTIME) after 2011", clock_gettime(CLOCK_REALTIME, &c) == 0 && c.tv_sec >= 1310688000);
  struct timespec req = {0, 2000000};
  check("nanosleep 2 ms", nanosleep(&req, NULL) == 0);
  clock_gettime(CLOCK_MONOTONIC, &b);
  int64_t elapsed = (b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec);
  check("monotonic clock advanced by at least 2 ms", elapsed >= 2000000);
  check("bad clock id fails with EINVAL", clock_gettime(12345, &a) == -1 && errno == EINVAL);
}

static void process(int argc, char **argv) {
  check("getauxval(AT_PAGESZ) is 4096", getauxval(AT_PAGESZ) == 4096);
  check("getauxval(AT_RANDOM) is set", getauxval(AT_RANDOM) != 0);
  check("getauxval(AT_ENTRY) is _start", getauxval(AT_ENTRY) == (unsigned long)(uintptr_t)_start);
  check("argv is NULL-terminated", argv[argc] == NULL);
  check("main thread's tid is the pid", gettid() == getpid() && getpid() > 0);
  check("sched_yield", sched_yield() == 0);
  check("isatty is false for a pipe", ({
          int p[2];
          int r = pipe(p) == 0 && !isatty(p[0]) && errno == ENOTTY;
          close(p[0]);
          close(p[1]);
          r;
        }));
}

int main(int argc, char **argv) {
  printf("rtcheck\n");
  formats();
  division();
  strings();
  memory();
  files();
  clocks();
  process(argc, argv);
  printf("rtcheck: %s\n", failures == 0 ? "all checks passed" : "FAILED");
  return failures == 0 ? 0 : 1;
}
