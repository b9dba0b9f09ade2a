// SPDX-License-Identifier: MIT
/*
 * spin.c - pthread spin locks, the case extensions were made for: a
 * preempted holder makes every waiter burn its whole slice.
 */
#include "slicelocks.h"

SLICELOCKS_EXPORT int pthread_spin_lock(pthread_spinlock_t *l)
{
	int err = REAL(spin_lock)(l);

	if (err == 0)
		slicelocks_hold(l);
	return err;
}

SLICELOCKS_EXPORT int pthread_spin_trylock(pthread_spinlock_t *l)
{
	int err = REAL(spin_trylock)(l);

	if (err == 0)
		slicelocks_hold(l);
	return err;
}

SLICELOCKS_EXPORT int pthread_spin_unlock(pthread_spinlock_t *l)
{
	int err = REAL(spin_unlock)(l);

	if (err == 0)
		slicelocks_release(l);
	return err;
}

SLICELOCKS_EXPORT int pthread_spin_init(pthread_spinlock_t *l, int pshared)
{
	slicelocks_forget(l);
	return REAL(spin_init)(l, pshared);
}

SLICELOCKS_EXPORT int pthread_spin_destroy(pthread_spinlock_t *l)
{
	int err = REAL(spin_destroy)(l);

	if (err == 0)
		slicelocks_forget(l);
	return err;
}
