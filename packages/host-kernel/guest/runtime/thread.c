/*
 * thread.c — threads over lwp_create.
 *
 * One anonymous mapping per thread holds its stack and, above the stack top, its
 * block (descriptor + TLS, see tls.c):
 *     [ stack (THREAD_STACK_SIZE, grows down) ][ struct vkc_thread | TLS ]
 *     ^ map_base                               ^ stack top      ^ tp
 * lwp_create starts the LWP at thread_entry with sp = stack top, tp, a0 = the
 * descriptor, and the kernel's tid word at &descriptor->tid_word: it stores the tid
 * there, and 0 when the LWP exits, waking umtx sleepers, so thread_join sleeps on
 * it and then unmaps the whole thread.
 */
#include "internal.h"

__attribute__((noreturn)) static void thread_entry(void *arg) {
  struct vkc_thread *t = arg;
  thread_exit(t->fn(t->arg));
}

thread_t thread_create(void *(*fn)(void *), void *arg) {
  size_t block = (vkc_tls_block_size() + PAGE_SIZE - 1) & ~(size_t)(PAGE_SIZE - 1);
  size_t map_size = THREAD_STACK_SIZE + block;
  char *base = mmap(NULL, map_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (base == MAP_FAILED) return NULL;
  struct vkc_thread *t = vkc_tls_setup(base + THREAD_STACK_SIZE);
  t->fn = fn;
  t->arg = arg;
  t->map_base = base;
  t->map_size = map_size;
  /* tid_word is -1 (vkc_tls_setup); from here on only the kernel writes it. */
  long tid = lwp_create(thread_entry, base + THREAD_STACK_SIZE, vkc_thread_tp(t), t, &t->tid_word);
  if (tid < 0) {
    munmap(base, map_size);
    errno = (int)-tid;
    return NULL;
  }
  t->tid = (int32_t)tid;
  return t;
}

int thread_join(thread_t t, void **result) {
  if (t == NULL || t == thread_self() || t->map_base == NULL) {
    errno = EINVAL;
    return -1;
  }
  for (;;) {
    int32_t word = __atomic_load_n(&t->tid_word, __ATOMIC_ACQUIRE);
    if (word == 0) break;
    umtx_sleep(&t->tid_word, word, 0);
  }
  if (result != NULL) *result = t->result;
  munmap(t->map_base, t->map_size);
  return 0;
}

thread_t thread_self(void) { return vkc_current(); }

pid_t thread_tid(thread_t t) { return t->tid; }

void thread_exit(void *result) {
  struct vkc_thread *t = vkc_current();
  t->result = result;
  __atomic_thread_fence(__ATOMIC_RELEASE);
  for (;;) vkc_ecall(SYS_exit, 0, 0, 0, 0, 0, 0);
}
