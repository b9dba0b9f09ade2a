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

/* The next definitions of the wrapped functions (glibc's, or another
 * interposer's), resolved with dlsym(RTLD_NEXT) / dlvsym. */
struct slicelocks_real {
	int (*mutex_lock)(pthread_mutex_t *);
	int (*mutex_trylock)(pthread_mutex_t *);
	int (*mutex_timedlock)(pthread_mutex_t *, const struct timespec *);
	int (*mutex_clocklock)(pthread_mutex_t *, clockid_t, const struct timespec *);
	int (*mutex_unlock)(pthread_mutex_t *);
	int (*mutex_init)(pthread_mutex_t *, const pthread_mutexattr_t *);
	int (*mutex_destroy)(pthread_mutex_t *);
	int (*spin_init)(pthread_spinlock_t *, int);
	int (*spin_destroy)(pthread_spinlock_t *);
	int (*rwlock_init)(pthread_rwlock_t *, const pthread_rwlockattr_t *);
	int (*rwlock_destroy)(pthread_rwlock_t *);
	int (*spin_lock)(pthread_spinlock_t *);
	int (*spin_trylock)(pthread_spinlock_t *);
	int (*spin_unlock)(pthread_spinlock_t *);
	int (*rwlock_rdlock)(pthread_rwlock_t *);
	int (*rwlock_tryrdlock)(pthread_rwlock_t *);
	int (*rwlock_timedrdlock)(pthread_rwlock_t *, const struct timespec *);
	int (*rwlock_clockrdlock)(pthread_rwlock_t *, clockid_t, const struct timespec *);
	int (*rwlock_wrlock)(pthread_rwlock_t *);
	int (*rwlock_trywrlock)(pthread_rwlock_t *);
	int (*rwlock_timedwrlock)(pthread_rwlock_t *, const struct timespec *);
	int (*rwlock_clockwrlock)(pthread_rwlock_t *, clockid_t, const struct timespec *);
	int (*rwlock_unlock)(pthread_rwlock_t *);
	int (*cond_wait)(pthread_cond_t *, pthread_mutex_t *);
	int (*cond_timedwait)(pthread_cond_t *, pthread_mutex_t *, const struct timespec *);
	int (*cond_clockwait)(pthread_cond_t *, pthread_mutex_t *, clockid_t,
			      const struct timespec *);
};

extern struct slicelocks_real slicelocks_real;

/*
 * The real function for slot FN: resolved at load time by the constructor;
 * a wrapper called earlier (another library's constructor) resolves lazily
 * in slicelocks_slow(). Mutexes and rwlocks have slow paths of their own
 * that survive a lookup recursing into them (real.c).
 */
#define REAL(fn) \
	(__builtin_expect(slicelocks_real.fn != NULL, 1) ? slicelocks_real.fn : \
	 (__typeof__(slicelocks_real.fn))slicelocks_slow((void *const *)&slicelocks_real.fn, #fn))
#define REAL_CALL(fn, ...) \
	(__builtin_expect(slicelocks_real.fn != NULL, 1) ? slicelocks_real.fn(__VA_ARGS__) : \
	 slicelocks_slow_##fn(__VA_ARGS__))

void slicelocks_resolve(void);
void *slicelocks_slow(void *const *slot, const char *name);
int slicelocks_slow_mutex_lock(pthread_mutex_t *m);
int slicelocks_slow_mutex_trylock(pthread_mutex_t *m);
int slicelocks_slow_mutex_unlock(pthread_mutex_t *m);
int slicelocks_slow_rwlock_rdlock(pthread_rwlock_t *l);
int slicelocks_slow_rwlock_tryrdlock(pthread_rwlock_t *l);
int slicelocks_slow_rwlock_wrlock(pthread_rwlock_t *l);
int slicelocks_slow_rwlock_trywrlock(pthread_rwlock_t *l);
int slicelocks_slow_rwlock_unlock(pthread_rwlock_t *l);
int slicelocks_slow_mutex_init(pthread_mutex_t *m, const pthread_mutexattr_t *a);
int slicelocks_slow_mutex_destroy(pthread_mutex_t *m);
int slicelocks_slow_rwlock_init(pthread_rwlock_t *l, const pthread_rwlockattr_t *a);
int slicelocks_slow_rwlock_destroy(pthread_rwlock_t *l);

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
	long off = (long)rseqkit_rseq_offset;

	if (rseqkit_arch_tp_load_u8(off + RSEQKIT_OFF_SLICE_REQUEST) == 0 &&
	    rseqkit_arch_tp_load_u8(off + RSEQKIT_OFF_SLICE_GRANTED) == 0)
		rseqkit_arch_tp_store_u8(off + RSEQKIT_OFF_SLICE_REQUEST, 1);
}

/* LOCK was acquired: the first hold raises the request. */
static inline void slicelocks_hold(const volatile void *lock)
{
	struct slicelocks_thread *t = &slicelocks_self;
	unsigned int n, first;

	if (!rseqkit_slice_on)
		return;
	first = slicelocks_holds() == 0;
	n = t->n;
	if (__builtin_expect(n < SLICELOCKS_TRACKED, 1)) {
		t->n = n + 1;
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		t->lock[n] = lock;
	} else {
		t->untracked++;
	}
	if (first)
		rseqkit_slice_begin();
	else
		slicelocks_reraise();
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
