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
		slicelocks_hold();
	return err;
}

SLICELOCKS_EXPORT int pthread_spin_trylock(pthread_spinlock_t *l)
{
	int err = REAL(spin_trylock)(l);

	if (err == 0)
		slicelocks_hold();
	return err;
}

SLICELOCKS_EXPORT int pthread_spin_unlock(pthread_spinlock_t *l)
{
	int err = REAL(spin_unlock)(l);

	if (err == 0)
		slicelocks_release();
	return err;
}
