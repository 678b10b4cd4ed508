/*
 * memtouch [MiB] [percent] [rounds] — allocates MiB mebibytes (default 1) as one
 * anonymous mapping, then for each of `rounds` rounds (default 3) dirties a
 * deterministic pseudo-random `percent` (default 50) of its pages and prints how
 * many pages it dirtied and a checksum read back from every page. For checkpoint
 * benchmarks and incremental-image tests: a thaw that loses or corrupts a page
 * changes a later checksum. Exit 0; 2 on bad arguments.
 */
#include "vkc.h"

static uint32_t rng = 0x9e3779b9u;

static uint32_t next_random(void) {
  rng ^= rng << 13;
  rng ^= rng >> 17;
  rng ^= rng << 5;
  return rng;
}

static int arg(int argc, char **argv, int i, long def, long lo, long hi, long *out) {
  *out = def;
  if (i >= argc) return 0;
  return parse_long(argv[i], out) == 0 && *out >= lo && *out <= hi ? 0 : -1;
}

int main(int argc, char **argv) {
  long mib, percent, rounds;
  if (argc > 4 || arg(argc, argv, 1, 1, 1, 1024, &mib) != 0 || arg(argc, argv, 2, 50, 0, 100, &percent) != 0 ||
      arg(argc, argv, 3, 3, 1, 1000000, &rounds) != 0) {
    eprintf("usage: memtouch [MiB 1..1024] [percent 0..100] [rounds >= 1]\n");
    return 2;
  }
  size_t pages = (size_t)mib * (1024 * 1024 / PAGE_SIZE);
  uint32_t *mem = malloc(pages * PAGE_SIZE);
  if (mem == NULL) {
    eprintf("memtouch: cannot allocate %ld MiB\n", mib);
    return 1;
  }
  const size_t words = PAGE_SIZE / 4;
  printf("memtouch: %ld MiB (%u pages), %ld%% per round, %ld rounds\n", mib, (unsigned)pages, percent, rounds);
  uint32_t total = FNV1A_INIT;
  for (long round = 1; round <= rounds; round++) {
    uint32_t dirtied = 0;
    for (size_t page = 0; page < pages; page++) {
      uint32_t r = next_random();
      if (r % 100 >= (uint32_t)percent) continue;
      uint32_t *p = mem + page * words;
      uint32_t value = ((uint32_t)round << 24) ^ ((uint32_t)page * 2654435761u) ^ r;
      p[0] = value;
      p[1 + (r >> 8) % (words - 1)] ^= value;
      dirtied++;
    }
    uint32_t sum = FNV1A_INIT;
    for (size_t page = 0; page < pages; page++) sum = fnv1a(sum, &mem[page * words], 4);
    sum = fnv1a(sum, &dirtied, 4);
    total = fnv1a(total, &sum, 4);
    printf("round %ld: dirtied %u pages, checksum 0x%08x\n", round, dirtied, sum);
  }
  /* A final pass over every word, so a page lost anywhere shows up. */
  uint32_t all = FNV1A_INIT;
  for (size_t page = 0; page < pages; page++) all = fnv1a(all, mem + page * words, PAGE_SIZE);
  printf("final: checksum 0x%08x, memory 0x%08x\n", total, all);
  free(mem);
  return 0;
}
