// SPDX-License-Identifier: MIT
/* rseqkit/ptrbuf.h and rseqkit/membuf.h: setup and the drain protocol. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <rseqkit/membarrier.h>
#include <rseqkit/membuf.h>
#include <rseqkit/ptrbuf.h>
#include "internal.h"
#include "percpu-internal.h"

static pthread_mutex_t drain_lock = PTHREAD_MUTEX_INITIALIZER;

static bool kind_ok(enum rseqkit_index kind)
{
	return kind == RSEQKIT_INDEX_CPU_ID || kind == RSEQKIT_INDEX_MM_CID;
}

/*
 * Stop the count word of a slot (percpu.h protocol steps 1-3). Returns 0
 * with *count the stable count, or the fence error (the word restored).
 * Called with drain_lock held.
 */
static int stop_count(uint64_t *word, int fence_cpu, uint64_t *count)
{
	for (;;) {
		uint64_t c = __atomic_load_n(word, __ATOMIC_RELAXED);
		int ret;

		if (!__atomic_compare_exchange_n(word, &c, c | RSEQKIT_BUF_STOPPED, false,
						 __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
			continue;
		ret = rseqkit_membarrier_fence(fence_cpu);
		if (ret) {
			uint64_t s = c | RSEQKIT_BUF_STOPPED;

			__atomic_compare_exchange_n(word, &s, c, false, __ATOMIC_SEQ_CST,
						    __ATOMIC_RELAXED);
			return ret;
		}
		if (__atomic_load_n(word, __ATOMIC_SEQ_CST) == (c | RSEQKIT_BUF_STOPPED)) {
			*count = c;
			return 0;
		}
	}
}

int rseqkit_ptrbuf_init(struct rseqkit_ptrbuf *b, enum rseqkit_index kind, size_t capacity)
{
	if (!b || !kind_ok(kind) || !capacity || capacity > (1ULL << 32))
		return -EINVAL;
	b->nr_slots = rseqkit_percpu_nr_slots();
	b->kind = kind;
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
	pthread_mutex_lock(&drain_lock);
	ret = stop_count(&s->count, b->kind == RSEQKIT_INDEX_CPU_ID ? idx : -1, &count);
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
	pthread_mutex_unlock(&drain_lock);
	return ret ? ret : (long)n;
}

int rseqkit_membuf_init(struct rseqkit_membuf *b, enum rseqkit_index kind, size_t capacity,
			size_t item_size)
{
	if (!b || !kind_ok(kind) || !capacity || !item_size ||
	    capacity > (1UL << 30) / item_size)
		return -EINVAL;
	b->nr_slots = rseqkit_percpu_nr_slots();
	b->kind = kind;
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
	pthread_mutex_lock(&drain_lock);
	ret = stop_count(&s->count, b->kind == RSEQKIT_INDEX_CPU_ID ? idx : -1, &count);
	if (!ret) {
		while (n < max && n < count) {
			memcpy((unsigned char *)out + n * b->item_size,
			       s->data + (count - 1 - n) * b->item_size, b->item_size);
			n++;
		}
		__atomic_store_n(&s->count, count - n, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&drain_lock);
	return ret ? ret : (long)n;
}
