/* SPDX-License-Identifier: MIT */
/*
 * rseqkit/lock.h - slice-aware locks: a test-and-test-and-set spinlock with
 * exponential backoff and a futex mutex (spin, then sleep). Both hold a time
 * slice extension (rseqkit/slice.h) from the moment the lock is taken until
 * it is released, so the holder is rarely preempted inside its critical
 * section - the lock-holder preemption that makes oversubscribed spinning
 * collapse. The request is raised only once the lock is held (a waiter that
 * asks would waste grants on spinning) and ends after the release (a yield
 * must never happen while holding the lock).
 *
 * Critical sections should be short (well under the kernel's slice_ext_nsec,
 * 5 us by default) and must not make system calls (a syscall ends a grant).
 * Locks nest with each other (the slice nesting counter: outermost wins).
 */
#ifndef RSEQKIT_LOCK_H
#define RSEQKIT_LOCK_H

#include <stdbool.h>
#include <stdint.h>

#include <rseqkit/slice.h>

#ifdef __cplusplus
extern "C" {
#endif

struct rseqkit_spinlock {
	uint32_t locked;
};

struct rseqkit_mutex {
	uint32_t state;		/* 0 free, 1 held, 2 held with (possible) sleepers */
};

#define RSEQKIT_SPINLOCK_INIT { 0 }
#define RSEQKIT_MUTEX_INIT { 0 }

/* Slow paths (contention). */
RSEQKIT_API void rseqkit_spin_lock_slow(struct rseqkit_spinlock *l);
RSEQKIT_API void rseqkit_mutex_lock_slow(struct rseqkit_mutex *m);
RSEQKIT_API void rseqkit_mutex_wake(struct rseqkit_mutex *m);

static inline bool rseqkit_spin_trylock(struct rseqkit_spinlock *l)
{
	if (__atomic_load_n(&l->locked, __ATOMIC_RELAXED) ||
	    __atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE))
		return false;
	rseqkit_slice_begin();
	return true;
}

static inline void rseqkit_spin_lock(struct rseqkit_spinlock *l)
{
	if (__builtin_expect(!__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE), 1))
		rseqkit_slice_begin();
	else
		rseqkit_spin_lock_slow(l);
}

static inline void rseqkit_spin_unlock(struct rseqkit_spinlock *l)
{
	__atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
	rseqkit_slice_end();
}

static inline bool rseqkit_mutex_trylock(struct rseqkit_mutex *m)
{
	uint32_t expected = 0;

	if (!__atomic_compare_exchange_n(&m->state, &expected, 1, false, __ATOMIC_ACQUIRE,
					 __ATOMIC_RELAXED))
		return false;
	rseqkit_slice_begin();
	return true;
}

static inline void rseqkit_mutex_lock(struct rseqkit_mutex *m)
{
	if (!rseqkit_mutex_trylock(m))
		rseqkit_mutex_lock_slow(m);
}

static inline void rseqkit_mutex_unlock(struct rseqkit_mutex *m)
{
	uint32_t prev = __atomic_exchange_n(&m->state, 0, __ATOMIC_RELEASE);

	rseqkit_slice_end();		/* before the wake: a syscall would end a grant */
	if (__builtin_expect(prev == 2, 0))
		rseqkit_mutex_wake(m);
}

#ifdef __cplusplus
}
#endif

#endif /* RSEQKIT_LOCK_H */
