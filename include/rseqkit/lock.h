/* SPDX-License-Identifier: MIT */
/*
 * rseqkit/lock.h - slice-aware locks: a test-and-test-and-set spinlock with
 * exponential backoff and a futex mutex (spin, then sleep). Both hold a time
 * slice extension (rseqkit/slice.h) while the lock is held, so the holder is
 * rarely preempted inside its critical section - the lock-holder preemption
 * that makes oversubscribed spinning collapse. The request is raised only
 * once the lock is held (a waiter that asks would waste grants on spinning)
 * and ends after the release (a yield must never happen while holding the
 * lock).
 *
 * The spinlock raises the request on every acquisition. The mutex raises it
 * only while it is contended: a preempted holder costs nothing when nobody
 * waits, and a sleeping waiter costs no CPU, so the request (about 20
 * instructions per lock/unlock pair) would be pure cost on an uncontended
 * mutex. Every waiter re-arms a countdown (RSEQKIT_MUTEX_HINT acquisitions);
 * the holders of those acquisitions, and every holder that had to wait,
 * raise the request.
 *
 * Critical sections should be short (well under the kernel's slice_ext_nsec,
 * 5 us by default) and must not make system calls (a syscall ends a grant).
 * Locks nest with each other (slice sections nest: the outermost raises
 * and ends the request).
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
	uint16_t hint;		/* acquisitions left that raise a slice request */
	uint8_t slice;		/* the holder raised one (written by the holder only) */
	uint8_t reserved;
};

#define RSEQKIT_SPINLOCK_INIT { 0 }
#define RSEQKIT_MUTEX_INIT { 0, 0, 0, 0 }
/* Acquisitions after the last contention whose holders still raise the
 * request: about a scheduler period's worth at sub-microsecond sections. */
#define RSEQKIT_MUTEX_HINT 1024

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

/* Raise the slice request for this holder (the mutex is held). */
static inline void rseqkit__mutex_slice_begin(struct rseqkit_mutex *m)
{
	rseqkit_slice_begin();
	m->slice = 1;
}

static inline bool rseqkit_mutex_trylock(struct rseqkit_mutex *m)
{
	uint32_t expected = 0;
	uint16_t hint;

	if (!__atomic_compare_exchange_n(&m->state, &expected, 1, false, __ATOMIC_ACQUIRE,
					 __ATOMIC_RELAXED))
		return false;
	/* Waiters write the hint concurrently: a lost decrement is harmless. */
	hint = __atomic_load_n(&m->hint, __ATOMIC_RELAXED);
	if (__builtin_expect(hint != 0, 0)) {
		__atomic_store_n(&m->hint, (uint16_t)(hint - 1), __ATOMIC_RELAXED);
		rseqkit__mutex_slice_begin(m);
	}
	return true;
}

static inline void rseqkit_mutex_lock(struct rseqkit_mutex *m)
{
	if (!rseqkit_mutex_trylock(m))
		rseqkit_mutex_lock_slow(m);
}

static inline void rseqkit_mutex_unlock(struct rseqkit_mutex *m)
{
	uint8_t slice = m->slice;	/* ours to read and clear until the release */
	uint32_t prev;

	if (__builtin_expect(slice, 0))
		m->slice = 0;
	prev = __atomic_exchange_n(&m->state, 0, __ATOMIC_RELEASE);
	if (__builtin_expect(slice, 0))
		rseqkit_slice_end();	/* before the wake: a syscall would end a grant */
	if (__builtin_expect(prev == 2, 0))
		rseqkit_mutex_wake(m);
}

#ifdef __cplusplus
}
#endif

#endif /* RSEQKIT_LOCK_H */
