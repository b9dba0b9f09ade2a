// SPDX-License-Identifier: MIT
/* rseqkit/membuf.h: setup and the drain protocol. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <rseqkit/membuf.h>
#include "internal.h"
#include "percpu-internal.h"

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
	b->slots = rseqkit__slots_alloc((size_t)b->nr_slots, sizeof(*b->slots));
	if (!b->slots)
		return -ENOMEM;
	for (int i = 0; i < b->nr_slots; i++) {
		b->slots[i].data = calloc(capacity, item_size);
		if (!b->slots[i].data) {
			rseqkit_membuf_destroy(b);
			return -ENOMEM;
		}
	}
	return 0;
}

void rseqkit_membuf_destroy(struct rseqkit_membuf *b)
{
	if (!b || !b->slots)
		return;
	for (int i = 0; i < b->nr_slots; i++)
		free(b->slots[i].data);
	free(b->slots);
	b->slots = NULL;
}

long rseqkit_membuf_drain(struct rseqkit_membuf *b, int idx, void *out, size_t max)
{
	struct rseqkit_membuf_slot *s;
	uint64_t count;
	size_t n = 0;
	int ret;

	if (!b || idx < 0 || idx >= b->nr_slots || (!out && max))
		return -EINVAL;
	s = &b->slots[idx];
	rseqkit__drain_lock();
	ret = rseqkit__stop_count(&s->count, b->kind == RSEQKIT_INDEX_CPU_ID ? idx : -1, &count);
	if (!ret) {
		while (n < max && n < count) {
			memcpy((unsigned char *)out + n * b->item_size,
			       s->data + (count - 1 - n) * b->item_size, b->item_size);
			n++;
		}
		__atomic_store_n(&s->count, count - n, __ATOMIC_RELEASE);
	}
	rseqkit__drain_unlock();
	return ret ? ret : (long)n;
}
