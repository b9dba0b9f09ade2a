// SPDX-License-Identifier: MIT
/* rseqkit/ptrbuf.h: setup and the drain protocol. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>

#include <rseqkit/ptrbuf.h>
#include "internal.h"
#include "percpu-internal.h"

static bool kind_ok(enum rseqkit_index kind)
{
	return kind == RSEQKIT_INDEX_CPU_ID || kind == RSEQKIT_INDEX_MM_CID;
}

RSEQKIT_STATIC_ASSERT(offsetof(struct rseqkit_ptrbuf_slot, count) == 0 &&
		      offsetof(struct rseqkit_ptrbuf_slot, array) == 8 &&
		      sizeof(struct rseqkit_ptrbuf_slot) == RSEQKIT_CACHELINE,
		      "the buffers' shared slot layout (percpu.c)");

int rseqkit_ptrbuf_init(struct rseqkit_ptrbuf *b, enum rseqkit_index kind, size_t capacity)
{
	if (!b || !kind_ok(kind) || !capacity || capacity > (1ULL << 32))
		return -EINVAL;
	b->nr_slots = rseqkit_percpu_nr_slots();
	b->kind = rseqkit_percpu_resolve(kind);
	b->capacity = capacity;
	b->slots = rseqkit__buf_slots_alloc(b->nr_slots, capacity, sizeof(uint64_t));
	return b->slots ? 0 : -ENOMEM;
}

void rseqkit_ptrbuf_destroy(struct rseqkit_ptrbuf *b)
{
	if (!b)
		return;
	rseqkit__buf_slots_free(b->slots, b->nr_slots);
	b->slots = NULL;
}

long rseqkit_ptrbuf_drain(struct rseqkit_ptrbuf *b, int idx, void **out, size_t max)
{
	if (!b || idx < 0 || idx >= b->nr_slots || (!out && max))
		return -EINVAL;
	/* A pointer is stored as its uint64_t; on LP64 the same bytes. */
	return rseqkit__buf_drain(b->slots, idx, b->kind == RSEQKIT_INDEX_CPU_ID ? idx : -1,
				  sizeof(uint64_t), out, max);
}
