/* SPDX-License-Identifier: MIT */
/*
 * slicelocks.h - internals of librseqkit-slicelocks.so, the LD_PRELOAD
 * interposer that gives unmodified programs time slice extensions while they
 * hold pthread locks (rseqkit-slicelocks(7)).
 *
 * The model: a thread that holds at least one lock taken through the
 * wrappers has its slice extension request raised. Each successful
 * acquisition counts one "hold", each successful release ends one; the first
 * hold begins the request (rseqkit_slice_begin), the last one ends it
 * (rseqkit_slice_end: clear the request, yield if the kernel granted). The
 * interposer keeps its own per-thread count instead of relying on the
 * library's nesting alone, so that an unlock this thread never locked (a lock
 * handed over from another thread) cannot drive the count below zero.
 *
 * Everything is gated by rseqkit_slice_on, the library's invariant process
 * decision: when it is "off" the wrappers only add a flag test to the real
 * call.
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

/* Options, read once by the constructor (rseqkit run sets them). */
extern bool slicelocks_read_side;	/* RSEQKIT_SLICE_LOCKS_READ=1 */

/* Locks this thread holds through the wrappers (only counted while on). */
extern __thread uint32_t slicelocks_held __attribute__((tls_model("initial-exec")));

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

/* One more lock held: the first raises the request. */
static inline void slicelocks_hold(void)
{
	if (!rseqkit_slice_on)
		return;
	if (slicelocks_held++ == 0)
		rseqkit_slice_begin();
	else
		slicelocks_reraise();
}

/* One lock less: the last ends the request and yields if granted. A release
 * without a matching hold on this thread is ignored. */
static inline void slicelocks_release(void)
{
	if (!rseqkit_slice_on || slicelocks_held == 0)
		return;
	if (--slicelocks_held == 0)
		rseqkit_slice_end();
}

/* EOWNERDEAD from a robust mutex still hands the lock over. */
static inline bool slicelocks_acquired(int err)
{
	return err == 0 || err == EOWNERDEAD;
}

#endif /* RSEQKIT_SLICELOCKS_H */
