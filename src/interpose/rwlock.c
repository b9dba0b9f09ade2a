// SPDX-License-Identifier: MIT
/*
 * rwlock.c - pthread rwlocks. The write side is a hold like a mutex. The
 * read side counts only with RSEQKIT_SLICE_LOCKS_READ=1: readers rarely
 * block each other, and a program with many long readers would otherwise
 * ask for extensions most of the time.
 *
 * pthread_rwlock_unlock() does not say which side it releases; it needs not:
 * a release ends a hold only if the thread's table has the lock, which with
 * the read side off means a write hold (a thread cannot hold both sides).
 */
#include "slicelocks.h"

static void read_acquired(pthread_rwlock_t *l)
{
	if (slicelocks_read_side)
		slicelocks_hold(l);
}

SLICELOCKS_EXPORT int pthread_rwlock_rdlock(pthread_rwlock_t *l)
{
	int err = REAL_CALL(rwlock_rdlock, l);

	if (err == 0)
		read_acquired(l);
	return err;
}

SLICELOCKS_EXPORT int pthread_rwlock_tryrdlock(pthread_rwlock_t *l)
{
	int err = REAL_CALL(rwlock_tryrdlock, l);

	if (err == 0)
		read_acquired(l);
	return err;
}

SLICELOCKS_EXPORT int pthread_rwlock_timedrdlock(pthread_rwlock_t *l, const struct timespec *t)
{
	int err = REAL(rwlock_timedrdlock)(l, t);

	if (err == 0)
		read_acquired(l);
	return err;
}

SLICELOCKS_EXPORT int pthread_rwlock_clockrdlock(pthread_rwlock_t *l, clockid_t c,
						 const struct timespec *t)
{
	int err = REAL(rwlock_clockrdlock)(l, c, t);

	if (err == 0)
		read_acquired(l);
	return err;
}

SLICELOCKS_EXPORT int pthread_rwlock_wrlock(pthread_rwlock_t *l)
{
	int err = REAL_CALL(rwlock_wrlock, l);

	if (err == 0)
		slicelocks_hold(l);
	return err;
}

SLICELOCKS_EXPORT int pthread_rwlock_trywrlock(pthread_rwlock_t *l)
{
	int err = REAL_CALL(rwlock_trywrlock, l);

	if (err == 0)
		slicelocks_hold(l);
	return err;
}

SLICELOCKS_EXPORT int pthread_rwlock_timedwrlock(pthread_rwlock_t *l, const struct timespec *t)
{
	int err = REAL(rwlock_timedwrlock)(l, t);

	if (err == 0)
		slicelocks_hold(l);
	return err;
}

SLICELOCKS_EXPORT int pthread_rwlock_clockwrlock(pthread_rwlock_t *l, clockid_t c,
						 const struct timespec *t)
{
	int err = REAL(rwlock_clockwrlock)(l, c, t);

	if (err == 0)
		slicelocks_hold(l);
	return err;
}

SLICELOCKS_EXPORT int pthread_rwlock_unlock(pthread_rwlock_t *l)
{
	int err = REAL_CALL(rwlock_unlock, l);

	if (err == 0)
		slicelocks_release(l);
	return err;
}

SLICELOCKS_EXPORT int pthread_rwlock_init(pthread_rwlock_t *l, const pthread_rwlockattr_t *a)
{
	slicelocks_forget(l);
	return REAL_CALL(rwlock_init, l, a);
}

SLICELOCKS_EXPORT int pthread_rwlock_destroy(pthread_rwlock_t *l)
{
	int err = REAL_CALL(rwlock_destroy, l);

	if (err == 0)
		slicelocks_forget(l);
	return err;
}
