// SPDX-License-Identifier: MIT
/* rseqkit/freelist.h: per-CPU LIFO free list and its drain protocol. */
#include <errno.h>
#include <stdlib.h>

#include <rseqkit/freelist.h>
#include <rseqkit/membarrier.h>
#include "internal.h"
#include "percpu-internal.h"

struct rseqkit_freelist_node rseqkit__freelist_stopped = { &rseqkit__freelist_stopped };

int rseqkit_freelist_init(struct rseqkit_freelist *fl, enum rseqkit_index kind)
{
	if (!fl || (kind != RSEQKIT_INDEX_CPU_ID && kind != RSEQKIT_INDEX_MM_CID))
		return -EINVAL;
	fl->nr_slots = rseqkit_percpu_nr_slots();
	fl->kind = rseqkit_percpu_resolve(kind);
	fl->index_field = rseqkit__si_field_resolved(fl->kind);
	fl->slots = rseqkit__slots_alloc((size_t)fl->nr_slots, sizeof(*fl->slots));
	return fl->slots ? 0 : -ENOMEM;
}

void rseqkit_freelist_destroy(struct rseqkit_freelist *fl)
{
	if (!fl)
		return;
	free(fl->slots);
	fl->slots = NULL;
}

int rseqkit_freelist_drain(struct rseqkit_freelist *fl, int idx,
			   struct rseqkit_freelist_node **out)
{
	struct rseqkit_freelist_slot *s;
	int fence_cpu, ret = 0;
	intptr_t head;

	if (!fl || !out || idx < 0 || idx >= fl->nr_slots)
		return -EINVAL;
	s = &fl->slots[idx];
	fence_cpu = fl->kind == RSEQKIT_INDEX_CPU_ID ? idx : -1;
	rseqkit__drain_lock();
	for (;;) {
		/* (1) stop: the head becomes the sentinel. */
		head = __atomic_load_n(&s->head, __ATOMIC_RELAXED);
		if (!__atomic_compare_exchange_n(&s->head, &head, RSEQKIT__FL_STOPPED, false,
						 __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
			continue;
		/* (2) fence: sections in flight there abort. */
		ret = rseqkit_membarrier_fence(fence_cpu);
		if (ret) {
			/* Undo if nothing committed over the sentinel. */
			intptr_t stopped = RSEQKIT__FL_STOPPED;

			__atomic_compare_exchange_n(&s->head, &stopped, head, false,
						    __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
			head = 0;
			break;
		}
		/* (3) still stopped: nothing committed since (1); head is ours. */
		if (__atomic_load_n(&s->head, __ATOMIC_SEQ_CST) == RSEQKIT__FL_STOPPED) {
			rseqkit__drain_stopped();
			break;
		}
	}
	/*
	 * (4) publish the empty list. A pop that loaded the sentinel commits
	 * the sentinel again (its next is itself), so a plain store could be
	 * overwritten: swap, fence, and repeat until the sentinel stays gone.
	 */
	while (!ret) {
		intptr_t stopped = RSEQKIT__FL_STOPPED;

		if (__atomic_compare_exchange_n(&s->head, &stopped, 0, false,
						__ATOMIC_SEQ_CST, __ATOMIC_RELAXED) &&
		    rseqkit_membarrier_fence(fence_cpu))
			rseqkit_arch_cpu_relax();	/* cannot fail after (2) did */
		if (__atomic_load_n(&s->head, __ATOMIC_SEQ_CST) != RSEQKIT__FL_STOPPED)
			break;
	}
	rseqkit__drain_unlock();
	*out = (struct rseqkit_freelist_node *)head;
	return ret;
}

int rseqkit__freelist_push_batch_slow(struct rseqkit_freelist *fl,
				      struct rseqkit_freelist_node *first,
				      struct rseqkit_freelist_node *last)
{
	for (;;) {
		int idx = rseqkit__fb_index(fl->kind);
		intptr_t *head, old;

		if (idx < 0)
			return idx;
		head = &fl->slots[idx].head;
		old = __atomic_load_n(head, __ATOMIC_RELAXED);
		if (old == RSEQKIT__FL_STOPPED) {
			rseqkit__drain_wait();
			continue;
		}
		last->next = (struct rseqkit_freelist_node *)old;
		if (rseqkit__fb_load_cbne_store_u64(idx, (uint64_t *)head, (uint64_t)old,
						    (uint64_t)(intptr_t)first) == 0)
			return idx;
	}
}

int rseqkit__freelist_pop_slow(struct rseqkit_freelist *fl, struct rseqkit_freelist_node **out)
{
	int idx = rseqkit__fb_index(fl->kind);
	intptr_t load;

	if (idx < 0)
		return idx;
	*out = rseqkit__fb_load_cbeq_store_add_load_store_ptr(idx, &fl->slots[idx].head, 0,
			offsetof(struct rseqkit_freelist_node, next), &load) == 0 ?
	       rseqkit__freelist_popped(load) : NULL;
	return 0;
}
