// SPDX-License-Identifier: MIT
/*
 * mutex.c - pthread mutexes: every successful acquisition is one hold, every
 * successful unlock ends one. Recursive mutexes therefore nest naturally
 * (each level is a hold); an error-checking mutex's EDEADLK or EPERM, a
 * trylock's EBUSY, a timeout or ENOTRECOVERABLE change nothing, so no
 * request is left behind by a failed call.
 */
#include "slicelocks.h"

SLICELOCKS_EXPORT int pthread_mutex_lock(pthread_mutex_t *m)
{
	int err = REAL_CALL(mutex_lock, m);

	if (slicelocks_acquired(err))
		slicelocks_hold(m);
	return err;
}

SLICELOCKS_EXPORT int pthread_mutex_trylock(pthread_mutex_t *m)
{
	int err = REAL_CALL(mutex_trylock, m);

	if (slicelocks_acquired(err))
		slicelocks_hold(m);
	return err;
}

SLICELOCKS_EXPORT int pthread_mutex_timedlock(pthread_mutex_t *m, const struct timespec *t)
{
	int err = REAL(mutex_timedlock)(m, t);

	if (slicelocks_acquired(err))
		slicelocks_hold(m);
	return err;
}

SLICELOCKS_EXPORT int pthread_mutex_clocklock(pthread_mutex_t *m, clockid_t c,
					      const struct timespec *t)
{
	int err = REAL(mutex_clocklock)(m, c, t);

	if (slicelocks_acquired(err))
		slicelocks_hold(m);
	return err;
}

/* Release first, then end: the request covers the whole critical section. A
 * futex wake inside the unlock ends a live grant at syscall entry (R6.6),
 * which gives the CPU back just as the yield would. */
SLICELOCKS_EXPORT int pthread_mutex_unlock(pthread_mutex_t *m)
{
	int err = REAL_CALL(mutex_unlock, m);

	if (err == 0)
		slicelocks_release(m);
	return err;
}

/* Re-initializing or destroying a held mutex (an atfork child handler that
 * resets its locks with pthread_mutex_init) ends its holds. */
SLICELOCKS_EXPORT int pthread_mutex_init(pthread_mutex_t *m, const pthread_mutexattr_t *a)
{
	slicelocks_forget(m);
	return REAL_CALL(mutex_init, m, a);
}

SLICELOCKS_EXPORT int pthread_mutex_destroy(pthread_mutex_t *m)
{
	int err = REAL_CALL(mutex_destroy, m);

	if (err == 0)
		slicelocks_forget(m);
	return err;
}
