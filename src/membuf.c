// SPDX-License-Identifier: MIT
/* rseqkit/membuf.h: setup and the drain protocol. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>

#include <rseqkit/membuf.h>
#include "internal.h"
#include "percpu-internal.h"

RSEQKIT_STATIC_ASSERT(offsetof(struct rseqkit_membuf_slot, count) == 0 &&
		      offsetof(struct rseqkit_membuf_slot, data) == 8 &&
		      sizeof(struct rseqkit_membuf_slot) == RSEQKIT_CACHELINE,
		      "the buffers' shared slot layout (percpu.c)");

int rseqkit_membuf_init(struct rseqkit_membuf *b, enum rseqkit_index kind, size_t capacity,
			size_t item_size)
{
	if (!b || (kind != RSEQKIT_INDEX_CPU_ID && kind != RSEQKIT_INDEX_MM_CID) ||
	    !capacity || !item_size)
		return -EINVAL;
	if (item_size > RSEQKIT_MEMBUF_ITEM_MAX)
		return -EMSGSIZE;
	if (capacity > (1UL << 30) / item_size)
		return -EINVAL;
	b->nr_slots = rseqkit_percpu_nr_slots();
	b->kind = rseqkit_percpu_resolve(kind);
	b->capacity = capacity;
	b->item_size = item_size;
	b->slots = rseqkit__buf_slots_alloc(b->nr_slots, capacity, item_size);
	return b->slots ? 0 : -ENOMEM;
}

void rseqkit_membuf_destroy(struct rseqkit_membuf *b)
{
	if (!b)
		return;
	rseqkit__buf_slots_free(b->slots, b->nr_slots);
	b->slots = NULL;
}

long rseqkit_membuf_drain(struct rseqkit_membuf *b, int idx, void *out, size_t max)
{
	if (!b || idx < 0 || idx >= b->nr_slots || (!out && max))
		return -EINVAL;
	return rseqkit__buf_drain(b->slots, idx, b->kind == RSEQKIT_INDEX_CPU_ID ? idx : -1,
				  b->item_size, out, max);
}
