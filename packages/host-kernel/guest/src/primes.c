/*
 * primes [N] — sieve of Eratosthenes up to N (default 100000), prints the count,
 * the sum, the largest prime and an FNV-1a checksum of all primes (as 32-bit
 * little-endian words). Compute-heavy on request: it retires about 20.5
 * instructions per unit of N (default ~2 million; `primes 4000000` ~8e7,
 * `primes 5000000` ~1e8). Exit 0; 2 on a bad argument.
 */
#include "vkc.h"

int main(int argc, char **argv) {
  long n = 100000;
  if (argc > 2 || (argc == 2 && (parse_long(argv[1], &n) != 0 || n < 2 || n > 100000000))) {
    eprintf("usage: primes [N]  (2 <= N <= 100000000)\n");
    return 2;
  }
  uint8_t *composite = calloc((size_t)n + 1, 1);
  if (composite == NULL) {
    eprintf("primes: cannot allocate %ld bytes\n", n + 1);
    return 1;
  }
  for (long i = 2; i * i <= n; i++) {
    if (composite[i]) continue;
    for (long j = i * i; j <= n; j += i) composite[j] = 1;
  }
  uint32_t count = 0;
  uint64_t sum = 0;
  uint32_t last = 0;
  uint32_t checksum = FNV1A_INIT;
  for (long i = 2; i <= n; i++) {
    if (composite[i]) continue;
    uint32_t p = (uint32_t)i;
    count++;
    sum += p;
    last = p;
    uint8_t le[4] = {(uint8_t)p, (uint8_t)(p >> 8), (uint8_t)(p >> 16), (uint8_t)(p >> 24)};
    checksum = fnv1a(checksum, le, 4);
  }
  free(composite);
  printf("primes up to %ld\n", n);
  printf("count: %u\n", count);
  printf("sum: %llu\n", (unsigned long long)sum);
  printf("largest: %u\n", last);
  printf("checksum: 0x%08x\n", checksum);
  return 0;
}
