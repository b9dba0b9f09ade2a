// SPDX-License-Identifier: MIT
/* rseqkit/ptrbuf.h: setup and the drain protocol. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <rseqkit/ptrbuf.h>
#include "internal.h"
#include "percpu-internal.h"

static bool kind_ok(enum rseqkit_index kind)
{
	return kind == RSEQKIT_INDEX_CPU_ID || kind == RSEQKIT_INDEX_MM_CID;
}

int rseqkit_ptrbuf_init(struct rseqkit_ptrbuf *b, enum rseqkit_index kind, size_t capacity)
{
	if (!b || !kind_ok(kind) || !capacity || capacity > (1ULL << 32))
		return -EINVAL;
	b->nr_slots = rseqkit_percpu_nr_slots();
	b->kind = rseqkit_percpu_resolve(kind);
	b->capacity = capacity;
	b->slots = rseqkit__slots_alloc((size_t)b->nr_slots, sizeof(*b->slots));
	if (!b->slots)
		return -ENOMEM;
	for (int i = 0; i < b->nr_slots; i++) {
		b->slots[i].array = calloc(capacity, sizeof(uint64_t));
		if (!b->slots[i].array) {
			rseqkit_ptrbuf_destroy(b);
			return -ENOMEM;
		}
	}
	return 0;
}

void rseqkit_ptrbuf_destroy(struct rseqkit_ptrbuf *b)
{
	if (!b || !b->slots)
		return;
	for (int i = 0; i < b->nr_slots; i++)
		free(b->slots[i].array);
	free(b->slots);
	b->slots = NULL;
}

long rseqkit_ptrbuf_drain(struct rseqkit_ptrbuf *b, int idx, void **out, size_t max)
{
	struct rseqkit_ptrbuf_slot *s;
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
			out[n] = (void *)(uintptr_t)__atomic_load_n(&s->array[count - 1 - n],
								    __ATOMIC_RELAXED);
			n++;
		}
		/* (4) every caller expects a count without the stop bit: no
		 * section can commit over this store. */
		__atomic_store_n(&s->count, count - n, __ATOMIC_RELEASE);
	}
	rseqkit__drain_unlock();
	return ret ? ret : (long)n;
}
