// SPDX-License-Identifier: MIT
/* Contended paths of the slice-aware locks (rseqkit/lock.h). */
#include <linux/futex.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <rseqkit/lock.h>
#include "internal.h"

/* Backoff caps: long enough to keep the cache line quiet, short enough to
 * notice a release within a few hundred cycles. */
#define SPIN_BACKOFF_MAX	256U
#define MUTEX_SPINS		100U
#define MUTEX_BACKOFF_MAX	64U
/* How long a waiter spins before sleeping when extensions are on: the
 * kernel's default grant limit (slice_ext_nsec, 5 us). */
#define MUTEX_SPIN_EXT_NS	5000U

void rseqkit_spin_lock_slow(struct rseqkit_spinlock *l)
{
	unsigned int backoff = 1;

	for (;;) {
		while (__atomic_load_n(&l->locked, __ATOMIC_RELAXED)) {
			for (unsigned int i = 0; i < backoff; i++)
				rseqkit_arch_cpu_relax();
			if (backoff < SPIN_BACKOFF_MAX)
				backoff <<= 1;
		}
		if (!__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE))
			break;
	}
	rseqkit_slice_begin();
}

static long futex(uint32_t *uaddr, int op, uint32_t val)
{
	return syscall(SYS_futex, uaddr, op, val, NULL, NULL, 0);
}

/* Monotonic time in ns (vDSO: no system call, so no grant is ended). */
static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/*
 * Wait for the mutex to look free, spinning with exponential backoff, for
 * at most budget_ns. Returns true if it was seen free (the caller then tries
 * to take it).
 */
static bool mutex_spin(struct rseqkit_mutex *m, uint64_t budget_ns)
{
	unsigned int backoff = 1;
	uint64_t end = 0;

	for (;;) {
		if (__atomic_load_n(&m->state, __ATOMIC_RELAXED) == 0)
			return true;
		for (unsigned int i = 0; i < backoff; i++)
			rseqkit_arch_cpu_relax();
		if (backoff < MUTEX_BACKOFF_MAX) {
			backoff <<= 1;
			continue;
		}
		/* Only read the clock once the backoff is at its cap. */
		if (!end)
			end = mono_ns() + budget_ns;
		else if (mono_ns() >= end)
			return false;
	}
}

void rseqkit_mutex_lock_slow(struct rseqkit_mutex *m)
{
	uint32_t c;

	/*
	 * Spin first. Without time slice extensions only a little: a holder
	 * preempted inside its critical section keeps the lock for a whole
	 * time slice, and a sleeping waiter gives its CPU to it. With
	 * extensions the holder is rarely preempted, so the lock comes free
	 * within about one critical section; spinning up to a grant's length
	 * (MUTEX_SPIN_EXT_NS) is then far cheaper than sleeping: a futex sleep
	 * and wake cost two system calls and two context switches, and every
	 * later unlock pays the wake while the lock stays marked contended.
	 */
	if (rseqkit_slice_on) {
		for (int tries = 0; tries < 4 && mutex_spin(m, MUTEX_SPIN_EXT_NS); tries++) {
			c = 0;
			if (__atomic_compare_exchange_n(&m->state, &c, 1, false, __ATOMIC_ACQUIRE,
							__ATOMIC_RELAXED))
				goto locked;
		}
	} else {
		for (unsigned int i = 0; i < MUTEX_SPINS; i++) {
			c = 0;
			if (__atomic_load_n(&m->state, __ATOMIC_RELAXED) == 0 &&
			    __atomic_compare_exchange_n(&m->state, &c, 1, false, __ATOMIC_ACQUIRE,
							__ATOMIC_RELAXED))
				goto locked;
			rseqkit_arch_cpu_relax();
		}
	}
	/* Then sleep, marking the lock contended so the unlocker wakes us. */
	c = __atomic_exchange_n(&m->state, 2, __ATOMIC_ACQUIRE);
	while (c != 0) {
		futex(&m->state, FUTEX_WAIT_PRIVATE, 2);
		c = __atomic_exchange_n(&m->state, 2, __ATOMIC_ACQUIRE);
	}
locked:
	rseqkit_slice_begin();
}

void rseqkit_mutex_wake(struct rseqkit_mutex *m)
{
	futex(&m->state, FUTEX_WAKE_PRIVATE, 1);
}
