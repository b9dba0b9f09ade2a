// SPDX-License-Identifier: MIT
/* rseqkit/counter.h: per-CPU counter. */
#include <errno.h>
#include <stdlib.h>

#include <rseqkit/counter.h>
#include "internal.h"
#include "percpu-internal.h"

int rseqkit_counter_init(struct rseqkit_counter *c, enum rseqkit_index kind)
{
	if (!c || (kind != RSEQKIT_INDEX_CPU_ID && kind != RSEQKIT_INDEX_MM_CID))
		return -EINVAL;
	c->nr_slots = rseqkit_percpu_nr_slots();
	c->kind = rseqkit_percpu_resolve(kind);
	c->index_field = rseqkit__si_field_resolved(c->kind);
	c->origin = 0;
	c->slots = rseqkit__slots_alloc((size_t)c->nr_slots, sizeof(*c->slots));
	return c->slots ? 0 : -ENOMEM;
}

int rseqkit__counter_add_slow(struct rseqkit_counter *c, int64_t n)
{
	int idx = rseqkit__fb_index(c->kind);

	if (idx < 0)
		return idx;
	rseqkit__fb_load_add_store_u64(idx, &c->slots[idx].v, (uint64_t)n);
	return idx;
}

void rseqkit_counter_destroy(struct rseqkit_counter *c)
{
	if (!c)
		return;
	free(c->slots);
	c->slots = NULL;
}

static uint64_t sum(const struct rseqkit_counter *c)
{
	uint64_t s = 0;

	for (int i = 0; i < c->nr_slots; i++)
		s += __atomic_load_n(&c->slots[i].v, __ATOMIC_RELAXED);
	return s;
}

int64_t rseqkit_counter_read(const struct rseqkit_counter *c)
{
	return (int64_t)(sum(c) - __atomic_load_n(&c->origin, __ATOMIC_RELAXED));
}

void rseqkit_counter_reset(struct rseqkit_counter *c)
{
	__atomic_store_n(&c->origin, sum(c), __ATOMIC_RELAXED);
}
