/*
 * mutex.c — futex-style mutex and condition variable over umtx_sleep/umtx_wakeup
 * (Drepper, "Futexes Are Tricky", mutex #2). Atomics are the A extension's
 * lr/sc/amo instructions, emitted by clang for the __atomic builtins.
 *
 * Mutex word: 0 unlocked, 1 locked, 2 locked and maybe contended. Only a locker
 * that saw contention sets 2, and only an unlocker that finds 2 makes a syscall,
 * so the uncontended path is one atomic each way.
 */
#include "internal.h"

void mutex_init(mutex_t *m) { __atomic_store_n(&m->state, 0, __ATOMIC_RELAXED); }

int mutex_trylock(mutex_t *m) {
  int32_t expected = 0;
  return __atomic_compare_exchange_n(&m->state, &expected, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED) ? 0 : -1;
}

void mutex_lock(mutex_t *m) {
  int32_t c = 0;
  if (__atomic_compare_exchange_n(&m->state, &c, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) return;
  if (c != 2) c = __atomic_exchange_n(&m->state, 2, __ATOMIC_ACQUIRE);
  while (c != 0) {
    umtx_sleep(&m->state, 2, 0); /* -EBUSY if it changed meanwhile: just retry */
    c = __atomic_exchange_n(&m->state, 2, __ATOMIC_ACQUIRE);
  }
}

void mutex_unlock(mutex_t *m) {
  if (__atomic_fetch_sub(&m->state, 1, __ATOMIC_RELEASE) != 1) {
    __atomic_store_n(&m->state, 0, __ATOMIC_RELEASE);
    umtx_wakeup(&m->state, 1);
  }
}

/*
 * Condition variable: a sequence number. A waiter samples it under the mutex,
 * unlocks and sleeps while it is unchanged; signal/broadcast bump it before
 * waking, so a wakeup between the unlock and the sleep is never lost (the sleep
 * returns -EBUSY at once). The waiter relocks as "contended" because other
 * waiters may be queued on the mutex behind it.
 */
void cond_init(cond_t *c) { __atomic_store_n(&c->seq, 0, __ATOMIC_RELAXED); }

void cond_wait(cond_t *c, mutex_t *m) {
  int32_t seq = __atomic_load_n(&c->seq, __ATOMIC_RELAXED);
  mutex_unlock(m);
  umtx_sleep(&c->seq, seq, 0);
  while (__atomic_exchange_n(&m->state, 2, __ATOMIC_ACQUIRE) != 0) umtx_sleep(&m->state, 2, 0);
}

void cond_signal(cond_t *c) {
  __atomic_fetch_add(&c->seq, 1, __ATOMIC_RELEASE);
  umtx_wakeup(&c->seq, 1);
}

void cond_broadcast(cond_t *c) {
  __atomic_fetch_add(&c->seq, 1, __ATOMIC_RELEASE);
  umtx_wakeup(&c->seq, 0);
}
