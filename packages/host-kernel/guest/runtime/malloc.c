/*
 * malloc.c — a small, predictable allocator.
 *
 * Every chunk has a 16-byte header, so user pointers are 16-byte aligned.
 * Requests up to 64 KiB (header included) are rounded up to a power of two and
 * served from one free list per size class; the lists are refilled from 64 KiB
 * arenas taken with sbrk (falling back to mmap if the break cannot move).
 * Larger requests get their own anonymous mapping, returned with munmap on free,
 * so a big buffer is a clean, zero-filled VM object of its own (and calloc skips
 * clearing it). One mutex serializes everything.
 */
#include "internal.h"

#define HEADER 16u
#define MIN_SHIFT 5 /* 32-byte chunks: 16 usable */
#define MAX_SHIFT 16
#define ARENA (64u * 1024u)
#define MAGIC 0x6d616c6cu
#define LARGE 0xffffffffu

struct header {
  uint32_t shift; /* size class, or LARGE */
  uint32_t size;  /* LARGE: mapping size */
  uint32_t magic;
  uint32_t fresh; /* LARGE: mapping never reused, so already zero */
};

struct free_chunk {
  struct free_chunk *next;
};

static struct free_chunk *bins[MAX_SHIFT + 1];
static char *arena_next;
static char *arena_end;
static mutex_t heap_lock = MUTEX_INITIALIZER;

static unsigned class_of(size_t total) {
  unsigned shift = MIN_SHIFT;
  while (((size_t)1 << shift) < total) shift++;
  return shift;
}

static int arena_refill(void) {
  void *p = sbrk(ARENA);
  if (p == (void *)-1) {
    p = mmap(NULL, ARENA, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return -1;
  }
  /* Keep chunks 16-byte aligned even if the break was not. */
  arena_next = (char *)(((uintptr_t)p + 15) & ~(uintptr_t)15);
  arena_end = (char *)p + ARENA;
  return 0;
}

static void *alloc_small(unsigned shift) {
  size_t size = (size_t)1 << shift;
  struct free_chunk *c = bins[shift];
  if (c != NULL) {
    bins[shift] = c->next;
    return c;
  }
  if (arena_next == NULL || (size_t)(arena_end - arena_next) < size) {
    /* Give what is left of the old arena to the smaller bins. */
    while (arena_next != NULL && (size_t)(arena_end - arena_next) >= ((size_t)1 << MIN_SHIFT)) {
      unsigned s = MAX_SHIFT;
      while (((size_t)1 << s) > (size_t)(arena_end - arena_next)) s--;
      struct free_chunk *left = (struct free_chunk *)arena_next;
      left->next = bins[s];
      bins[s] = left;
      arena_next += (size_t)1 << s;
    }
    if (arena_refill() != 0) return NULL;
  }
  void *p = arena_next;
  arena_next += size;
  return p;
}

void *malloc(size_t n) {
  if (n > 0x7fff0000u) {
    errno = ENOMEM;
    return NULL;
  }
  size_t total = n + HEADER;
  struct header *h;
  if (total <= ((size_t)1 << MAX_SHIFT)) {
    unsigned shift = class_of(total);
    mutex_lock(&heap_lock);
    h = alloc_small(shift);
    mutex_unlock(&heap_lock);
    if (h == NULL) {
      errno = ENOMEM;
      return NULL;
    }
    h->shift = shift;
    h->size = (uint32_t)1 << shift;
    h->fresh = 0;
  } else {
    size_t size = (total + PAGE_SIZE - 1) & ~(size_t)(PAGE_SIZE - 1);
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    h = p;
    h->shift = LARGE;
    h->size = (uint32_t)size;
    h->fresh = 1;
  }
  h->magic = MAGIC;
  return (char *)h + HEADER;
}

static struct header *header_of(void *p) {
  struct header *h = (struct header *)((char *)p - HEADER);
  if (h->magic != MAGIC) {
    eprintf("malloc: bad pointer %p passed to free/realloc\n", p);
    abort();
  }
  return h;
}

void free(void *p) {
  if (p == NULL) return;
  struct header *h = header_of(p);
  h->magic = 0;
  if (h->shift == LARGE) {
    munmap(h, h->size);
    return;
  }
  unsigned shift = h->shift; /* the free-list link overwrites the header */
  struct free_chunk *c = (struct free_chunk *)h;
  mutex_lock(&heap_lock);
  c->next = bins[shift];
  bins[shift] = c;
  mutex_unlock(&heap_lock);
}

void *calloc(size_t count, size_t size) {
  if (size != 0 && count > 0x7fff0000u / size) {
    errno = ENOMEM;
    return NULL;
  }
  size_t n = count * size;
  void *p = malloc(n);
  if (p != NULL && !header_of(p)->fresh) memset(p, 0, n);
  return p;
}

void *realloc(void *p, size_t n) {
  if (p == NULL) return malloc(n);
  if (n == 0) {
    free(p);
    return NULL;
  }
  struct header *h = header_of(p);
  size_t usable = h->size - HEADER;
  if (n <= usable && (h->shift == LARGE || n + HEADER > (usable + HEADER) / 2)) return p;
  void *q = malloc(n);
  if (q == NULL) return NULL;
  memcpy(q, p, n < usable ? n : usable);
  free(p);
  return q;
}
