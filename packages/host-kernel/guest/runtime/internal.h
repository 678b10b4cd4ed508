/*
 * internal.h — shared between the runtime's own files; programs use vkc.h only.
 */
#ifndef VKC_INTERNAL_H
#define VKC_INTERNAL_H

#include "vkc.h"

/*
 * Per-thread descriptor. It sits immediately below the thread pointer: every
 * thread's block is [struct vkc_thread, padded to the TLS alignment][TLS data],
 * and tp points at the TLS data (RISC-V TLS variant I with no TCB gap, which is
 * what lld's local-exec offsets assume).
 */
struct vkc_thread {
  struct vkc_thread *self;
  /* Written by the kernel (lwp_create's tid_addr): the tid, then 0 when the LWP
   * has exited. thread_join sleeps on it. -1 until the kernel writes it. */
  volatile int32_t tid_word;
  int32_t tid;
  int32_t errno_value;
  void *(*fn)(void *);
  void *arg;
  void *result;
  void *map_base; /* the mapping holding stack + block (0 for the main thread's static one) */
  size_t map_size;
};

static inline struct vkc_thread *vkc_current(void) {
  char *tp;
  __asm__("mv %0, tp" : "=r"(tp));
  return (struct vkc_thread *)(tp - sizeof(struct vkc_thread));
}

static inline long vkc_ecall(long n, long a0, long a1, long a2, long a3, long a4, long a5) {
  register long r_a0 __asm__("a0") = a0;
  register long r_a1 __asm__("a1") = a1;
  register long r_a2 __asm__("a2") = a2;
  register long r_a3 __asm__("a3") = a3;
  register long r_a4 __asm__("a4") = a4;
  register long r_a5 __asm__("a5") = a5;
  register long r_a7 __asm__("a7") = n;
  __asm__ volatile("ecall"
                   : "+r"(r_a0)
                   : "r"(r_a1), "r"(r_a2), "r"(r_a3), "r"(r_a4), "r"(r_a5), "r"(r_a7)
                   : "memory");
  return r_a0;
}

/* -errno results are -4095..-1. */
static inline int vkc_is_err(long r) { return (unsigned long)r > (unsigned long)-4096L; }

/* Turns a raw result into the POSIX convention: -1 with errno set. */
static inline long vkc_ret(long r) {
  if (vkc_is_err(r)) {
    errno = (int)-r;
    return -1;
  }
  return r;
}

/* tls.c */
void vkc_tls_init(void);
size_t vkc_tls_block_size(void);
size_t vkc_tls_block_align(void);
/* Lays out a thread block at `block` (aligned to vkc_tls_block_align()), copies the
 * TLS template into it, and returns the descriptor; the block's tp is vkc_thread_tp(). */
struct vkc_thread *vkc_tls_setup(void *block);
static inline void *vkc_thread_tp(struct vkc_thread *t) { return (char *)t + sizeof(struct vkc_thread); }

/* stdio.c */
void vkc_stdio_flush_at_exit(void);

#endif /* VKC_INTERNAL_H */
