/* SPDX-License-Identifier: MIT */
/*
 * slicelocks.h - internals of librseqkit-slicelocks.so, the LD_PRELOAD
 * interposer that gives unmodified programs time slice extensions while they
 * hold pthread locks (rseqkit-slicelocks(7)).
 *
 * The model: a thread that holds at least one lock taken through the
 * wrappers has its slice extension request raised. Each successful
 * acquisition is one "hold", recorded in a per-thread table; each successful
 * release ends the hold of that lock; the first hold begins the request
 * (rseqkit_slice_begin), the last one ends it (rseqkit_slice_end: clear the
 * request, yield if the kernel granted). The table, rather than the library's
 * nesting count alone, matches releases to acquisitions (see below).
 *
 * Everything is gated by rseqkit_slice_on, the library's invariant process
 * decision: when it is "off" the wrappers only add a flag test to the real
 * call (and `rseqkit run` does not even preload).
 */
#ifndef RSEQKIT_SLICELOCKS_H
#define RSEQKIT_SLICELOCKS_H

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <rseqkit/slice.h>

#define SLICELOCKS_EXPORT __attribute__((visibility("default")))

/*
 * Every wrapped function, once: X(slot, how, parameters, arguments). The
 * slot of struct slicelocks_real holds the next definition of
 * pthread_<slot> (glibc's, or another interposer's), resolved with
 * dlsym(RTLD_NEXT) / dlvsym (real.c). How it is resolved:
 *  ALIASED  must exist; until it is resolved (a lookup recursing into the
 *           wrappers) calls go to glibc's internal alias __pthread_<slot>
 *           through slicelocks_slow_<slot>() (use REAL_CALL)
 *  MUST     must exist (use REAL)
 *  VERSIONED must exist, in the version the program binds (cond.c)
 *  OPTIONAL added by a later glibc (clock*: 2.30), NULL when absent
 * The table is in resolution order: mutex_lock comes last so that every
 * lookup made while resolving finds it unresolved and takes the alias.
 */
#define SLICELOCKS_FUNCS(X) \
	X(mutex_trylock, ALIASED, (pthread_mutex_t *m), (m)) \
	X(mutex_unlock, ALIASED, (pthread_mutex_t *m), (m)) \
	X(mutex_timedlock, MUST, (pthread_mutex_t *m, const struct timespec *t), (m, t)) \
	X(mutex_clocklock, OPTIONAL, \
	  (pthread_mutex_t *m, clockid_t c, const struct timespec *t), (m, c, t)) \
	X(mutex_init, ALIASED, (pthread_mutex_t *m, const pthread_mutexattr_t *a), (m, a)) \
	X(mutex_destroy, ALIASED, (pthread_mutex_t *m), (m)) \
	X(spin_init, MUST, (pthread_spinlock_t *l, int pshared), (l, pshared)) \
	X(spin_destroy, MUST, (pthread_spinlock_t *l), (l)) \
	X(rwlock_init, ALIASED, (pthread_rwlock_t *l, const pthread_rwlockattr_t *a), (l, a)) \
	X(rwlock_destroy, ALIASED, (pthread_rwlock_t *l), (l)) \
	X(spin_lock, MUST, (pthread_spinlock_t *l), (l)) \
	X(spin_trylock, MUST, (pthread_spinlock_t *l), (l)) \
	X(spin_unlock, MUST, (pthread_spinlock_t *l), (l)) \
	X(rwlock_rdlock, ALIASED, (pthread_rwlock_t *l), (l)) \
	X(rwlock_tryrdlock, ALIASED, (pthread_rwlock_t *l), (l)) \
	X(rwlock_timedrdlock, MUST, (pthread_rwlock_t *l, const struct timespec *t), (l, t)) \
	X(rwlock_clockrdlock, OPTIONAL, \
	  (pthread_rwlock_t *l, clockid_t c, const struct timespec *t), (l, c, t)) \
	X(rwlock_wrlock, ALIASED, (pthread_rwlock_t *l), (l)) \
	X(rwlock_trywrlock, ALIASED, (pthread_rwlock_t *l), (l)) \
	X(rwlock_timedwrlock, MUST, (pthread_rwlock_t *l, const struct timespec *t), (l, t)) \
	X(rwlock_clockwrlock, OPTIONAL, \
	  (pthread_rwlock_t *l, clockid_t c, const struct timespec *t), (l, c, t)) \
	X(rwlock_unlock, ALIASED, (pthread_rwlock_t *l), (l)) \
	X(cond_wait, VERSIONED, (pthread_cond_t *c, pthread_mutex_t *m), (c, m)) \
	X(cond_timedwait, VERSIONED, \
	  (pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *t), (c, m, t)) \
	X(cond_clockwait, OPTIONAL, \
	  (pthread_cond_t *c, pthread_mutex_t *m, clockid_t k, const struct timespec *t), \
	  (c, m, k, t)) \
	X(mutex_lock, ALIASED, (pthread_mutex_t *m), (m))

#define SLICELOCKS_SLOT(slot, how, params, args) int (*slot) params;
struct slicelocks_real {
	SLICELOCKS_FUNCS(SLICELOCKS_SLOT)
};

extern struct slicelocks_real slicelocks_real;

/*
 * The real function for slot FN: resolved at load time by the constructor;
 * a wrapper called earlier (another library's constructor) resolves lazily
 * in slicelocks_slow(). ALIASED slots have slow paths of their own that
 * survive a lookup recursing into them (REAL_CALL).
 */
#define REAL(fn) \
	(__builtin_expect(slicelocks_real.fn != NULL, 1) ? slicelocks_real.fn : \
	 (__typeof__(slicelocks_real.fn))slicelocks_slow((void *const *)&slicelocks_real.fn, #fn))
#define REAL_CALL(fn, ...) \
	(__builtin_expect(slicelocks_real.fn != NULL, 1) ? slicelocks_real.fn(__VA_ARGS__) : \
	 slicelocks_slow_##fn(__VA_ARGS__))

void slicelocks_resolve(void);
void *slicelocks_slow(void *const *slot, const char *name);
#define SLICELOCKS_SLOW_ALIASED(slot, params) int slicelocks_slow_##slot params;
#define SLICELOCKS_SLOW_MUST(slot, params)
#define SLICELOCKS_SLOW_VERSIONED(slot, params)
#define SLICELOCKS_SLOW_OPTIONAL(slot, params)
#define SLICELOCKS_SLOW_DECL(slot, how, params, args) SLICELOCKS_SLOW_##how(slot, params)
SLICELOCKS_FUNCS(SLICELOCKS_SLOW_DECL)

/* Options, read once by the constructor (rseqkit run sets them). */
extern bool slicelocks_read_side;	/* RSEQKIT_SLICE_LOCKS_READ=1 */

/*
 * The locks this thread holds through the wrappers, one entry per
 * acquisition (a recursive mutex taken twice is there twice), only while the
 * decision is on. Addresses rather than a count so that a release is matched
 * to its acquisition: an unlock of a lock this thread never took (handed over
 * by another thread) is ignored, and a held lock that is re-initialized or
 * destroyed (an atfork child handler's pthread_mutex_init, for instance) is
 * forgotten. Beyond SLICELOCKS_TRACKED entries acquisitions are only counted
 * (untracked): the outermost hold still ends with the last release.
 *
 * Signal handlers that lock run to completion on top of the interrupted
 * code: the count moves before a slot is written, so a handler uses slots
 * above every slot the interrupted code is touching.
 */
#define SLICELOCKS_TRACKED 32

struct slicelocks_thread {
	unsigned int n;			/* slots in use */
	unsigned int untracked;		/* acquisitions past the table */
	const volatile void *lock[SLICELOCKS_TRACKED];
};

extern __thread struct slicelocks_thread slicelocks_self
	__attribute__((tls_model("initial-exec")));

/* The number of holds of this thread. */
static inline unsigned int slicelocks_holds(void)
{
	return slicelocks_self.n + slicelocks_self.untracked;
}

/*
 * A nested acquisition re-raises a request the kernel dropped: in V2 every
 * return to user space after the thread was scheduled out (a blocking call
 * made while holding a lock) clears slice_ctrl (R6.5). Only when both bytes
 * are 0: the kernel grants only while request != 0, so no grant can slip in
 * between the loads and the store, and a live grant is never disturbed
 * (request = 1 while granted is a protocol violation, R6.8).
 */
static inline void slicelocks_reraise(void)
{
	/* enter's raise: the same test and store, its token unused (the
	 * first hold's section ends the request). */
	(void)rseqkit__slice_raise((long)rseqkit__rs());
}

/* LOCK was acquired: the first hold raises the request. */
static inline void slicelocks_hold(const volatile void *lock)
{
	struct slicelocks_thread *t = &slicelocks_self;
	unsigned int n, first;

	if (!rseqkit_slice_on)
		return;
	first = slicelocks_holds() == 0;
	/* Raise before the hold is published. A signal handler that locks in
	 * between then sees no hold and runs a section of its own, nested in
	 * ours or ended before ours begins. Published first, the handler's
	 * re-raise would come before our begin, which would then find the
	 * request raised, take itself for a nested section and never end it. */
	if (first)
		rseqkit_slice_begin();
	else
		slicelocks_reraise();
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	n = t->n;
	if (__builtin_expect(n < SLICELOCKS_TRACKED, 1)) {
		t->n = n + 1;
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		t->lock[n] = lock;
	} else {
		t->untracked++;
	}
}

/* Drop entry I (the last one, or one that a move from the end replaces). */
static inline void slicelocks_drop(unsigned int i)
{
	struct slicelocks_thread *t = &slicelocks_self;
	unsigned int n = t->n;

	t->lock[i] = t->lock[n - 1];
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	t->n = n - 1;
	if (slicelocks_holds() == 0)
		rseqkit_slice_end();
}

/* LOCK was released: end one of its holds (the most recent); the last hold
 * ends the request and yields if granted. Returns whether it was held. */
static inline bool slicelocks_release(const volatile void *lock)
{
	struct slicelocks_thread *t = &slicelocks_self;

	if (!rseqkit_slice_on)
		return false;
	for (unsigned int i = t->n; i-- > 0;) {
		if (t->lock[i] == lock) {
			slicelocks_drop(i);
			return true;
		}
	}
	if (t->untracked) {
		/* Possibly one of the acquisitions past the table. */
		if (--t->untracked == 0 && t->n == 0)
			rseqkit_slice_end();
		return true;
	}
	return false;
}

/* LOCK is re-initialized or destroyed: forget every hold of it. */
void slicelocks_forget(const volatile void *lock);

/* EOWNERDEAD from a robust mutex still hands the lock over. */
static inline bool slicelocks_acquired(int err)
{
	return err == 0 || err == EOWNERDEAD;
}

#endif /* RSEQKIT_SLICELOCKS_H */
