// SPDX-License-Identifier: MIT
/*
 * cond.c - condition variable waits release the mutex while they sleep and
 * take it again before they return. So the hold the mutex stands for ends
 * before the wait (a thread asleep needs no extension, and its request would
 * be cleared by the kernel anyway, R6.5) and begins again after, whatever
 * the wait returns: glibc re-acquires the mutex on timeouts too. Cancellation
 * also re-acquires it before the cleanup handlers run (which usually unlock
 * it), hence the cleanup handler of our own that restores the hold.
 *
 * Only a thread that counted the mutex as held ends and restores it; one
 * that waits with a mutex taken before the decision stays balanced too.
 */
#include "slicelocks.h"

static void rehold(void *arg)
{
	(void)arg;
	slicelocks_hold();
}

/* Returns true when a hold was ended (and must be restored). */
static bool before_wait(void)
{
	if (!rseqkit_slice_on || slicelocks_held == 0)
		return false;
	slicelocks_release();
	return true;
}

SLICELOCKS_EXPORT int pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
	int (*wait)(pthread_cond_t *, pthread_mutex_t *) = REAL(cond_wait);
	bool held = before_wait();
	int err;

	if (!held)
		return wait(c, m);
	pthread_cleanup_push(rehold, NULL);
	err = wait(c, m);
	pthread_cleanup_pop(0);
	slicelocks_hold();
	return err;
}

SLICELOCKS_EXPORT int pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m,
					     const struct timespec *t)
{
	int (*wait)(pthread_cond_t *, pthread_mutex_t *, const struct timespec *) =
		REAL(cond_timedwait);
	bool held = before_wait();
	int err;

	if (!held)
		return wait(c, m, t);
	pthread_cleanup_push(rehold, NULL);
	err = wait(c, m, t);
	pthread_cleanup_pop(0);
	slicelocks_hold();
	return err;
}

SLICELOCKS_EXPORT int pthread_cond_clockwait(pthread_cond_t *c, pthread_mutex_t *m, clockid_t k,
					     const struct timespec *t)
{
	int (*wait)(pthread_cond_t *, pthread_mutex_t *, clockid_t, const struct timespec *) =
		REAL(cond_clockwait);
	bool held = before_wait();
	int err;

	if (!held)
		return wait(c, m, k, t);
	pthread_cleanup_push(rehold, NULL);
	err = wait(c, m, k, t);
	pthread_cleanup_pop(0);
	slicelocks_hold();
	return err;
}
