/* SPDX-License-Identifier: MIT */
/*
 * rseqkit/ptrbuf.h - bounded per-CPU pointer buffer (a LIFO stack of
 * pointers per index, fixed capacity, no atomics).
 *
 * Slot: a count and an array of capacity pointers. push stores the pointer
 * above the top and commits count + 1 (load_cbne_store_store_release, so a
 * remote drainer that sees the count sees the pointer); pop checks that
 * count and the top pointer are unchanged and commits count - 1
 * (load_cbne_load_cbne_store). A full buffer refuses (-ENOSPC), an empty
 * one returns NULL: both are about the calling CPU's slot only.
 *
 * Cross-CPU: rseqkit_ptrbuf_drain() takes pointers out of any index with the
 * protocol of rseqkit/percpu.h; the "stopped" state is the count with bit 63
 * set, which no caller ever expects, so every critical section fails on it.
 */
#ifndef RSEQKIT_PTRBUF_H
#define RSEQKIT_PTRBUF_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include <rseqkit/percpu.h>

#ifdef __cplusplus
extern "C" {
#endif

struct rseqkit_ptrbuf_slot {
	uint64_t count;		/* | RSEQKIT_BUF_STOPPED while drained */
	uint64_t *array;	/* capacity pointers */
} __attribute__((aligned(RSEQKIT_CACHELINE)));

struct rseqkit_ptrbuf {
	struct rseqkit_ptrbuf_slot *slots;
	enum rseqkit_index kind;	/* as resolved by rseqkit_percpu_resolve() */
	int nr_slots;
	uint64_t capacity;
};

/* Returns 0, or -EINVAL (b NULL, kind unknown, capacity 0 or > 2^32),
 * -ENOMEM. */
RSEQKIT_API int rseqkit_ptrbuf_init(struct rseqkit_ptrbuf *b, enum rseqkit_index kind,
				    size_t capacity);
/* b may be NULL; the pointers left in it are not touched. */
RSEQKIT_API void rseqkit_ptrbuf_destroy(struct rseqkit_ptrbuf *b);
/*
 * rseqkit_ptrbuf_drain() - move up to max pointers (the most recent first)
 * of index idx into out, from any CPU, while other threads use the buffer.
 * Returns the number moved (>= 0), or -EINVAL (idx out of range, out NULL
 * with max > 0), or the error of rseqkit_membarrier_fence() (nothing moved).
 */
RSEQKIT_API long rseqkit_ptrbuf_drain(struct rseqkit_ptrbuf *b, int idx, void **out,
				      size_t max);

/* The body of rseqkit_ptrbuf_push_k(), with kp the bases of kind (rseqkit__kc(), or
 * rseqkit__resolved_kc() for the kind the structure stores). */
static inline __attribute__((always_inline)) int
rseqkit__ptrbuf_push_kc(struct rseqkit_ptrbuf *b, void *p, enum rseqkit_index kind,
		const struct rseqkit__kc *kp)
{
	struct rseqkit__kc k = *kp;
	struct rseqkit_ptrbuf_slot *slots = b->slots;

	for (;;) {
		unsigned long idx = rseqkit__index_k(kind, &k);
		struct rseqkit_ptrbuf_slot *s = &slots[idx];
		uint64_t count;

		if (rseqkit__buf_count(&s->count, &count))
			continue;	/* waited for a drain */
		if (count >= b->capacity)
			return -ENOSPC;
		if (__builtin_expect(rseqkit__load_cbne_store_store_release_u64_k(kind, &k, (int)idx,
				&s->count, count, &s->array[count], (uint64_t)(uintptr_t)p,
				count + 1) == 0, 1))
			return 0;
	}
}

/* rseqkit_ptrbuf_push() with kind, a compile-time constant, the kind the structure was
 * initialized with (rseqkit/percpu.h, "Compile-time kinds"). */
static inline __attribute__((always_inline)) int
rseqkit_ptrbuf_push_k(struct rseqkit_ptrbuf *b, void *p, enum rseqkit_index kind)
{
	struct rseqkit__kc k = rseqkit__kc(kind);

	return rseqkit__ptrbuf_push_kc(b, p, kind, &k);
}

/* Push p on the calling CPU's buffer: 0, or -ENOSPC when it is full. */
static inline __attribute__((always_inline)) int
rseqkit_ptrbuf_push(struct rseqkit_ptrbuf *b, void *p)
{
	struct rseqkit__kc k = rseqkit__resolved_kc();	/* both kinds' bases */

	if (__builtin_expect(b->kind == RSEQKIT_INDEX_CPU_ID, 1))
		return rseqkit__ptrbuf_push_kc(b, p, RSEQKIT_INDEX_CPU_ID, &k);
	return rseqkit__ptrbuf_push_kc(b, p, RSEQKIT__RESOLVED_MM, &k);
}

/* The body of rseqkit_ptrbuf_pop_k(), with kp the bases of kind (rseqkit__kc(), or
 * rseqkit__resolved_kc() for the kind the structure stores). */
static inline __attribute__((always_inline)) void *
rseqkit__ptrbuf_pop_kc(struct rseqkit_ptrbuf *b, enum rseqkit_index kind,
		const struct rseqkit__kc *kp)
{
	struct rseqkit__kc k = *kp;
	struct rseqkit_ptrbuf_slot *slots = b->slots;

	for (;;) {
		unsigned long idx = rseqkit__index_k(kind, &k);
		struct rseqkit_ptrbuf_slot *s = &slots[idx];
		uint64_t count, p;

		if (rseqkit__buf_count(&s->count, &count))
			continue;	/* waited for a drain */
		if (!count)
			return NULL;
		p = __atomic_load_n(&s->array[count - 1], __ATOMIC_RELAXED);
		if (__builtin_expect(rseqkit__load_cbne_load_cbne_store_u64_k(kind, &k, (int)idx, &s->count,
				count, &s->array[count - 1], p, count - 1) == 0, 1))
			return (void *)(uintptr_t)p;
	}
}

/* rseqkit_ptrbuf_pop() with kind, a compile-time constant, the kind the structure was
 * initialized with (rseqkit/percpu.h, "Compile-time kinds"). */
static inline __attribute__((always_inline)) void *
rseqkit_ptrbuf_pop_k(struct rseqkit_ptrbuf *b, enum rseqkit_index kind)
{
	struct rseqkit__kc k = rseqkit__kc(kind);

	return rseqkit__ptrbuf_pop_kc(b, kind, &k);
}

/* Pop the calling CPU's most recent pointer; NULL when empty. */
static inline __attribute__((always_inline)) void *
rseqkit_ptrbuf_pop(struct rseqkit_ptrbuf *b)
{
	struct rseqkit__kc k = rseqkit__resolved_kc();	/* both kinds' bases */

	if (__builtin_expect(b->kind == RSEQKIT_INDEX_CPU_ID, 1))
		return rseqkit__ptrbuf_pop_kc(b, RSEQKIT_INDEX_CPU_ID, &k);
	return rseqkit__ptrbuf_pop_kc(b, RSEQKIT__RESOLVED_MM, &k);
}

#ifdef __cplusplus
}
#endif

#endif /* RSEQKIT_PTRBUF_H */
