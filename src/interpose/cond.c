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
 * Only a mutex this thread holds through the wrappers ends and is restored;
 * one taken before the decision, or elsewhere, stays as it was.
 */
#include "slicelocks.h"

static void rehold(void *m)
{
	slicelocks_hold(m);
}

/* Returns true when a hold of M was ended (and must be restored). */
static bool before_wait(pthread_mutex_t *m)
{
	return slicelocks_release(m);
}

SLICELOCKS_EXPORT int pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
	int (*wait)(pthread_cond_t *, pthread_mutex_t *) = REAL(cond_wait);
	bool held = before_wait(m);
	int err;

	if (!held)
		return wait(c, m);
	pthread_cleanup_push(rehold, m);
	err = wait(c, m);
	pthread_cleanup_pop(0);
	slicelocks_hold(m);
	return err;
}

SLICELOCKS_EXPORT int pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m,
					     const struct timespec *t)
{
	int (*wait)(pthread_cond_t *, pthread_mutex_t *, const struct timespec *) =
		REAL(cond_timedwait);
	bool held = before_wait(m);
	int err;

	if (!held)
		return wait(c, m, t);
	pthread_cleanup_push(rehold, m);
	err = wait(c, m, t);
	pthread_cleanup_pop(0);
	slicelocks_hold(m);
	return err;
}

SLICELOCKS_EXPORT int pthread_cond_clockwait(pthread_cond_t *c, pthread_mutex_t *m, clockid_t k,
					     const struct timespec *t)
{
	int (*wait)(pthread_cond_t *, pthread_mutex_t *, clockid_t, const struct timespec *) =
		REAL(cond_clockwait);
	bool held = before_wait(m);
	int err;

	if (!held)
		return wait(c, m, k, t);
	pthread_cleanup_push(rehold, m);
	err = wait(c, m, k, t);
	pthread_cleanup_pop(0);
	slicelocks_hold(m);
	return err;
}
