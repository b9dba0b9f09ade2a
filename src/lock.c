// SPDX-License-Identifier: MIT
/* Contended paths of the slice-aware locks (rseqkit/lock.h). */
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <rseqkit/lock.h>
#include "internal.h"

/* Backoff caps: long enough to keep the cache line quiet, short enough to
 * notice a release within a few hundred cycles. */
#define SPIN_BACKOFF_MAX	256U
#define MUTEX_SPINS		100U

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

void rseqkit_mutex_lock_slow(struct rseqkit_mutex *m)
{
	uint32_t c;

	/* Contention: ask the next holders (and ourselves, below) to raise the
	 * slice request. Only when the process uses extensions (deciding now if
	 * nothing did yet: an uncontended mutex never asks). */
	if (__atomic_load_n(&rseqkit_slice_on, __ATOMIC_RELAXED) == RSEQKIT_SLICE_UNDECIDED)
		rseqkit_slice_init();
	if (__atomic_load_n(&rseqkit_slice_on, __ATOMIC_RELAXED) == 1)
		__atomic_store_n(&m->hint, RSEQKIT_MUTEX_HINT, __ATOMIC_RELAXED);
	/* Spin a little: the holder's critical section is short and, with a
	 * slice extension, rarely preempted. Measured (B3, issue 14, icount):
	 * spinning longer with extensions on (up to the 5 us limit) changed
	 * neither the sleeps nor the throughput, and was reverted. */
	for (unsigned int i = 0; i < MUTEX_SPINS; i++) {
		c = 0;
		if (__atomic_load_n(&m->state, __ATOMIC_RELAXED) == 0 &&
		    __atomic_compare_exchange_n(&m->state, &c, 1, false, __ATOMIC_ACQUIRE,
						__ATOMIC_RELAXED))
			goto locked;
		rseqkit_arch_cpu_relax();
	}
	/* Then sleep, marking the lock contended so the unlocker wakes us. */
	c = __atomic_exchange_n(&m->state, 2, __ATOMIC_ACQUIRE);
	while (c != 0) {
		futex(&m->state, FUTEX_WAIT_PRIVATE, 2);
		c = __atomic_exchange_n(&m->state, 2, __ATOMIC_ACQUIRE);
	}
locked:
	rseqkit__mutex_slice_begin(m);
}

void rseqkit_mutex_wake(struct rseqkit_mutex *m)
{
	futex(&m->state, FUTEX_WAKE_PRIVATE, 1);
}
