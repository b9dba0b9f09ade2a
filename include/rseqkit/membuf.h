/* SPDX-License-Identifier: MIT */
/*
 * rseqkit/membuf.h - bounded per-CPU buffer of fixed-size items copied in
 * and out (the memcpy buffer).
 *
 * Slot: a count and capacity * item_size bytes. push copies the item above
 * the top and commits count + 1, pop copies the top item out and commits
 * count - 1, each as one critical section (load_cbne_memcpy_store; the
 * release variant for push). An aborted pop may have written part of the
 * caller's item buffer: only a return of 0 makes it valid.
 *
 * Cross-CPU: rseqkit_membuf_drain() with the protocol of rseqkit/percpu.h
 * (stopped = count | RSEQKIT_BUF_STOPPED, as for rseqkit/ptrbuf.h).
 */
#ifndef RSEQKIT_MEMBUF_H
#define RSEQKIT_MEMBUF_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include <rseqkit/percpu.h>

#ifdef __cplusplus
extern "C" {
#endif

struct rseqkit_membuf_slot {
	uint64_t count;		/* | RSEQKIT_BUF_STOPPED while drained */
	unsigned char *data;	/* capacity * item_size bytes */
} __attribute__((aligned(RSEQKIT_CACHELINE)));

struct rseqkit_membuf {
	struct rseqkit_membuf_slot *slots;
	enum rseqkit_index kind;	/* as resolved by rseqkit_percpu_resolve() */
	int nr_slots;
	uint64_t capacity;
	size_t item_size;
};

/*
 * Largest item: push and pop copy one item inside a critical section, which
 * the kernel restarts on every preemption, migration or signal; a copy that
 * takes longer than the time between two interrupts would abort forever.
 * 4 KiB copies in well under a microsecond (a few under QEMU TCG).
 */
#define RSEQKIT_MEMBUF_ITEM_MAX	4096

/* Returns 0, or -EINVAL (b NULL, kind unknown, capacity or item_size 0,
 * capacity * item_size over 1 GiB), -EMSGSIZE (item_size over
 * RSEQKIT_MEMBUF_ITEM_MAX), -ENOMEM. */
RSEQKIT_API int rseqkit_membuf_init(struct rseqkit_membuf *b, enum rseqkit_index kind,
				    size_t capacity, size_t item_size);
RSEQKIT_API void rseqkit_membuf_destroy(struct rseqkit_membuf *b);
/*
 * rseqkit_membuf_drain() - copy up to max items (the most recent first) of
 * index idx into out (max * item_size bytes) and remove them, from any CPU.
 * Returns the number moved, or -EINVAL, or the error of
 * rseqkit_membarrier_fence() (nothing moved).
 */
RSEQKIT_API long rseqkit_membuf_drain(struct rseqkit_membuf *b, int idx, void *out,
				      size_t max);

/* rseqkit_membuf_push() with kind, a compile-time constant, the kind the structure was
 * initialized with (rseqkit/percpu.h, "Compile-time kinds"). */
static inline __attribute__((always_inline)) int
rseqkit_membuf_push_k(struct rseqkit_membuf *b, const void *item, enum rseqkit_index kind)
{
	struct rseqkit__kc k = rseqkit__kc(kind);
	struct rseqkit_membuf_slot *slots = b->slots;
	size_t sz = b->item_size;

	for (;;) {
		unsigned long idx = rseqkit__index_k(kind, &k);
		struct rseqkit_membuf_slot *s = &slots[idx];
		uint64_t count;

		if (rseqkit__buf_count(&s->count, &count))
			continue;	/* waited for a drain */
		if (count >= b->capacity)
			return -ENOSPC;
		if (__builtin_expect(rseqkit__load_cbne_memcpy_store_release_u64_k(kind, &k, (int)idx,
				&s->count, count, s->data + count * sz, item, sz,
				count + 1) == 0, 1))
			return 0;
	}
}

/* Copy item (item_size bytes) onto the calling CPU's buffer: 0 or -ENOSPC. */
static inline __attribute__((always_inline)) int
rseqkit_membuf_push(struct rseqkit_membuf *b, const void *item)
{
	/* Constant kinds: each path resolves its fields at compile time. */
	if (__builtin_expect(b->kind == RSEQKIT_INDEX_CPU_ID, 1))
		return rseqkit_membuf_push_k(b, item, RSEQKIT_INDEX_CPU_ID);
	return rseqkit_membuf_push_k(b, item, RSEQKIT__RESOLVED_MM);
}

/* rseqkit_membuf_pop() with kind, a compile-time constant, the kind the structure was
 * initialized with (rseqkit/percpu.h, "Compile-time kinds"). */
static inline __attribute__((always_inline)) int
rseqkit_membuf_pop_k(struct rseqkit_membuf *b, void *item, enum rseqkit_index kind)
{
	struct rseqkit__kc k = rseqkit__kc(kind);
	struct rseqkit_membuf_slot *slots = b->slots;
	size_t sz = b->item_size;

	for (;;) {
		unsigned long idx = rseqkit__index_k(kind, &k);
		struct rseqkit_membuf_slot *s = &slots[idx];
		uint64_t count;

		if (rseqkit__buf_count(&s->count, &count))
			continue;	/* waited for a drain */
		if (!count)
			return -ENOENT;
		if (__builtin_expect(rseqkit__load_cbne_memcpy_store_u64_k(kind, &k, (int)idx, &s->count,
				count, item, s->data + (count - 1) * sz, sz,
				count - 1) == 0, 1))
			return 0;
	}
}

/* Copy the calling CPU's top item into item and remove it: 0, or -ENOENT
 * when empty. */
static inline __attribute__((always_inline)) int
rseqkit_membuf_pop(struct rseqkit_membuf *b, void *item)
{
	/* Constant kinds: each path resolves its fields at compile time. */
	if (__builtin_expect(b->kind == RSEQKIT_INDEX_CPU_ID, 1))
		return rseqkit_membuf_pop_k(b, item, RSEQKIT_INDEX_CPU_ID);
	return rseqkit_membuf_pop_k(b, item, RSEQKIT__RESOLVED_MM);
}

#ifdef __cplusplus
}
#endif

#endif /* RSEQKIT_MEMBUF_H */
