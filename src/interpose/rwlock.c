// SPDX-License-Identifier: MIT
/*
 * rwlock.c - pthread rwlocks. The write side is a hold like a mutex. The
 * read side counts only with RSEQKIT_SLICE_LOCKS_READ=1: readers rarely
 * block each other, and a program with many long readers would otherwise
 * ask for extensions most of the time.
 *
 * pthread_rwlock_unlock() does not say which side it releases, so with the
 * read side off each thread remembers the rwlocks it write-holds (a writer
 * cannot take the same rwlock twice, so one entry per lock suffices). With
 * more than WRITE_HELD_MAX write-held at once the extra ones go unprotected
 * rather than unbalanced.
 */
#include "slicelocks.h"

#define WRITE_HELD_MAX 16

static __thread pthread_rwlock_t *write_held[WRITE_HELD_MAX]
	__attribute__((tls_model("initial-exec")));
static __thread unsigned int write_held_n __attribute__((tls_model("initial-exec")));

/* The count moves before the slot is written, so a signal handler that
 * takes and releases rwlocks in between uses another slot. */
static void write_acquired(pthread_rwlock_t *l)
{
	unsigned int n;

	if (!rseqkit_slice_on)
		return;
	if (slicelocks_read_side) {
		slicelocks_hold();
		return;
	}
	n = write_held_n;
	if (n >= WRITE_HELD_MAX)
		return;
	write_held_n = n + 1;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	write_held[n] = l;
	slicelocks_hold();
}

static void read_acquired(void)
{
	if (slicelocks_read_side)
		slicelocks_hold();
}

static void released(pthread_rwlock_t *l)
{
	unsigned int n = write_held_n;

	if (!rseqkit_slice_on)
		return;
	if (slicelocks_read_side) {
		slicelocks_release();
		return;
	}
	for (unsigned int i = 0; i < n; i++) {
		if (write_held[i] != l)
			continue;
		write_held[i] = write_held[n - 1];
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		write_held_n = n - 1;
		slicelocks_release();
		return;
	}
}

SLICELOCKS_EXPORT int pthread_rwlock_rdlock(pthread_rwlock_t *l)
{
	int err = REAL_CALL(rwlock_rdlock, l);

	if (err == 0)
		read_acquired();
	return err;
}

SLICELOCKS_EXPORT int pthread_rwlock_tryrdlock(pthread_rwlock_t *l)
{
	int err = REAL_CALL(rwlock_tryrdlock, l);

	if (err == 0)
		read_acquired();
	return err;
}

SLICELOCKS_EXPORT int pthread_rwlock_timedrdlock(pthread_rwlock_t *l, const struct timespec *t)
{
	int err = REAL(rwlock_timedrdlock)(l, t);

	if (err == 0)
		read_acquired();
	return err;
}

SLICELOCKS_EXPORT int pthread_rwlock_clockrdlock(pthread_rwlock_t *l, clockid_t c,
						 const struct timespec *t)
{
	int err = REAL(rwlock_clockrdlock)(l, c, t);

	if (err == 0)
		read_acquired();
	return err;
}

SLICELOCKS_EXPORT int pthread_rwlock_wrlock(pthread_rwlock_t *l)
{
	int err = REAL_CALL(rwlock_wrlock, l);

	if (err == 0)
		write_acquired(l);
	return err;
}

SLICELOCKS_EXPORT int pthread_rwlock_trywrlock(pthread_rwlock_t *l)
{
	int err = REAL_CALL(rwlock_trywrlock, l);

	if (err == 0)
		write_acquired(l);
	return err;
}

SLICELOCKS_EXPORT int pthread_rwlock_timedwrlock(pthread_rwlock_t *l, const struct timespec *t)
{
	int err = REAL(rwlock_timedwrlock)(l, t);

	if (err == 0)
		write_acquired(l);
	return err;
}

SLICELOCKS_EXPORT int pthread_rwlock_clockwrlock(pthread_rwlock_t *l, clockid_t c,
						 const struct timespec *t)
{
	int err = REAL(rwlock_clockwrlock)(l, c, t);

	if (err == 0)
		write_acquired(l);
	return err;
}

SLICELOCKS_EXPORT int pthread_rwlock_unlock(pthread_rwlock_t *l)
{
	int err = REAL_CALL(rwlock_unlock, l);

	if (err == 0)
		released(l);
	return err;
}
