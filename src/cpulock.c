// SPDX-License-Identifier: MIT
/* rseqkit/cpulock.h: per-CPU spinlock. */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>

#include <rseqkit/cpulock.h>
#include "internal.h"
#include "percpu-internal.h"

int rseqkit_cpulock_init(struct rseqkit_cpulock *l, enum rseqkit_index kind)
{
	if (!l || (kind != RSEQKIT_INDEX_CPU_ID && kind != RSEQKIT_INDEX_MM_CID))
		return -EINVAL;
	l->nr_slots = rseqkit_percpu_nr_slots();
	l->kind = rseqkit_percpu_resolve(kind);
	l->index_field = rseqkit__si_field_resolved(l->kind);
	l->slots = rseqkit__slots_alloc((size_t)l->nr_slots, sizeof(*l->slots));
	return l->slots ? 0 : -ENOMEM;
}

void rseqkit_cpulock_destroy(struct rseqkit_cpulock *l)
{
	if (!l)
		return;
	free(l->slots);
	l->slots = NULL;
}

int rseqkit__cpulock_take_slow(struct rseqkit_cpulock *l, int wait)
{
	int idx = rseqkit__fb_index(l->kind);

	if (idx < 0)
		return idx;
	if (rseqkit__fb_load_cbne_store_u32(idx, &l->slots[idx].locked, 0, 1) == 0) {
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		return idx;
	}
	return wait ? rseqkit__cpulock_lock_contended(l) : -EBUSY;
}

int rseqkit__cpulock_lock_contended(struct rseqkit_cpulock *l)
{
	unsigned int spins = 0;
	int idx;

	while ((idx = rseqkit_cpulock_trylock(l)) < 0) {
		/* The holder was preempted or migrated: let it run. */
		if (++spins % 64 == 0)
			sched_yield();
		else
			rseqkit_arch_cpu_relax();
	}
	return idx;
}
