/* SPDX-License-Identifier: MIT */
/*
 * rseqkit/freelist.h - per-CPU LIFO free list (intrusive, no atomics).
 *
 * One list head per index. Objects embed a struct rseqkit_freelist_node.
 * push: the node links to the head read outside, and the critical section
 * (load_cbne_store) installs it if the head did not change. pop: one
 * critical section (load_cbeq_store_add_load_store) reads the head, fails
 * if it is NULL, and replaces it with head->next; being CPU-local, it has no
 * ABA problem. A thread pops from the list of the CPU it runs on: an empty
 * list there returns NULL even if other CPUs hold nodes (steal with
 * rseqkit_freelist_drain()).
 *
 * Cross-CPU access (rseqkit_freelist_drain) follows the protocol of
 * rseqkit/percpu.h: the head is swapped for a "stopped" sentinel, whose next
 * is itself (a pop that meets it changes nothing and returns NULL; a push
 * waits), the CPU is fenced, the head re-checked, then replaced by NULL.
 */
#ifndef RSEQKIT_FREELIST_H
#define RSEQKIT_FREELIST_H

#include <stddef.h>
#include <stdint.h>

#include <rseqkit/percpu.h>

#ifdef __cplusplus
extern "C" {
#endif

struct rseqkit_freelist_node {
	struct rseqkit_freelist_node *next;
};

struct rseqkit_freelist_slot {
	intptr_t head;		/* struct rseqkit_freelist_node *, or the sentinel */
} __attribute__((aligned(RSEQKIT_CACHELINE)));

struct rseqkit_freelist {
	struct rseqkit_freelist_slot *slots;
	enum rseqkit_index kind;	/* as resolved by rseqkit_percpu_resolve() */
	int nr_slots;
	int index_field;	/* offset of the rseq field read as index (rseqkit__si_field_resolved()) */
};

/* The "stopped" sentinel of the drain protocol (next == itself). */
extern RSEQKIT_API struct rseqkit_freelist_node rseqkit__freelist_stopped;

/* Returns 0, or -EINVAL (fl NULL, kind unknown), -ENOMEM. */
RSEQKIT_API int rseqkit_freelist_init(struct rseqkit_freelist *fl, enum rseqkit_index kind);
/* Free the heads (the nodes belong to the caller). fl may be NULL. */
RSEQKIT_API void rseqkit_freelist_destroy(struct rseqkit_freelist *fl);
/*
 * rseqkit_freelist_drain() - take the whole list of index idx, from any
 * CPU, while other threads keep pushing and popping. *out receives the
 * chain (NULL if empty). Concurrent drains are serialized.
 * Returns 0, or -EINVAL (idx out of range), or the error of
 * rseqkit_membarrier_fence() (then nothing was taken).
 */
RSEQKIT_API int rseqkit_freelist_drain(struct rseqkit_freelist *fl, int idx,
				       struct rseqkit_freelist_node **out);

#define RSEQKIT__FL_STOPPED ((intptr_t)&rseqkit__freelist_stopped)

/* The slow paths of push and pop, out of line: they register the calling
 * thread and return -EAGAIN (the fast path works now), or on the fallbacks
 * do the operation under them and return the index used (push) or 0 with
 * *out the node popped, NULL when empty (pop). */
RSEQKIT_API int rseqkit__freelist_push_batch_slow(struct rseqkit_freelist *fl,
						 struct rseqkit_freelist_node *first,
						 struct rseqkit_freelist_node *last);
RSEQKIT_API int rseqkit__freelist_pop_slow(struct rseqkit_freelist *fl,
					   struct rseqkit_freelist_node **out);

/* What a pop returns for the head it took (the section exits when the head
 * is NULL; the stopped sentinel links to itself and reads as empty). */
static inline __attribute__((always_inline)) struct rseqkit_freelist_node *
rseqkit__freelist_popped(intptr_t load)
{
	if (!load)
		__builtin_unreachable();
	return load == RSEQKIT__FL_STOPPED ? NULL : (struct rseqkit_freelist_node *)load;
}

/* Push first..last as a self-indexed section on the field at fo from rs:
 * link last to the head the section reads, then commit first. */
static inline __attribute__((always_inline)) int
rseqkit__freelist_push_batch_si(struct rseqkit_freelist *fl, struct rseqkit_freelist_node *first,
				struct rseqkit_freelist_node *last, ptrdiff_t rs, ptrdiff_t fo)
{
	for (;;) {
		unsigned long idx;
		int r = rseqkit__si_load_cbeq_store_store_ptr(rs, fo, fl->slots, RSEQKIT__FL_STOPPED,
				(intptr_t *)&last->next, (intptr_t)first, &idx);

		if (__builtin_expect(r == 0, 1))
			return (int)idx;
		if (r > 0)
			rseqkit__drain_wait();	/* a drain is in progress */
		else if (r == -ENOENT && (r = rseqkit__freelist_push_batch_slow(fl, first, last)) >= 0)
			return r;
	}
}

/* rseqkit_freelist_push_batch() with kind, a compile-time constant, the kind the structure was
 * initialized with (rseqkit/percpu.h, "Compile-time kinds"). */
static inline __attribute__((always_inline)) int
rseqkit_freelist_push_batch_k(struct rseqkit_freelist *fl,
			       struct rseqkit_freelist_node *first,
			       struct rseqkit_freelist_node *last, enum rseqkit_index kind)
{
	return rseqkit__freelist_push_batch_si(fl, first, last, rseqkit__rs(),
					       rseqkit__si_field(kind));
}

/* Push the chain first..last (last->next is overwritten); returns the index. */
static inline __attribute__((always_inline)) int
rseqkit_freelist_push_batch(struct rseqkit_freelist *fl,
			    struct rseqkit_freelist_node *first,
			    struct rseqkit_freelist_node *last)
{
	return rseqkit__freelist_push_batch_si(fl, first, last, rseqkit__rs(), fl->index_field);
}

static inline __attribute__((always_inline)) int
rseqkit_freelist_push(struct rseqkit_freelist *fl,
		      struct rseqkit_freelist_node *node)
{
	return rseqkit_freelist_push_batch(fl, node, node);
}

/* rseqkit_freelist_push() with kind, a compile-time constant, the kind the structure was
 * initialized with (rseqkit/percpu.h, "Compile-time kinds"). */
static inline __attribute__((always_inline)) int
rseqkit_freelist_push_k(struct rseqkit_freelist *fl, struct rseqkit_freelist_node *node,
			enum rseqkit_index kind)
{
	return rseqkit_freelist_push_batch_k(fl, node, node, kind);
}

/* Pop as a self-indexed section on the field at fo from rs. */
static inline __attribute__((always_inline)) struct rseqkit_freelist_node *
rseqkit__freelist_pop_si(struct rseqkit_freelist *fl, ptrdiff_t rs, ptrdiff_t fo)
{
	for (;;) {
		unsigned long idx;
		intptr_t load;
		int ret = rseqkit__si_load_cbeq_store_add_load_store_ptr(rs, fo, fl->slots, 0,
				offsetof(struct rseqkit_freelist_node, next), &load, &idx);

		if (__builtin_expect(ret == 0, 1))
			return rseqkit__freelist_popped(load);
		if (ret > 0)
			return NULL;
		if (ret == -ENOENT) {
			struct rseqkit_freelist_node *n;

			if (rseqkit__freelist_pop_slow(fl, &n) == 0)
				return n;
		}
	}
}

/* rseqkit_freelist_pop() with kind, a compile-time constant, the kind the structure was
 * initialized with (rseqkit/percpu.h, "Compile-time kinds"). */
static inline __attribute__((always_inline)) struct rseqkit_freelist_node *
rseqkit_freelist_pop_k(struct rseqkit_freelist *fl, enum rseqkit_index kind)
{
	return rseqkit__freelist_pop_si(fl, rseqkit__rs(), rseqkit__si_field(kind));
}

/* Pop from the calling CPU's list; NULL when it is empty (or being drained). */
static inline __attribute__((always_inline)) struct rseqkit_freelist_node *
rseqkit_freelist_pop(struct rseqkit_freelist *fl)
{
	return rseqkit__freelist_pop_si(fl, rseqkit__rs(), fl->index_field);
}

static inline __attribute__((always_inline)) struct rseqkit_freelist_node *
rseqkit__freelist_pop_all_kc(struct rseqkit_freelist *fl, enum rseqkit_index kind,
		const struct rseqkit__kc *kp)
{
	struct rseqkit__kc k = *kp;
	struct rseqkit_freelist_slot *slots = fl->slots;

	for (;;) {
		unsigned long idx = rseqkit__index_k(kind, &k);
		struct rseqkit_freelist_slot *s = &slots[idx];
		intptr_t head = __atomic_load_n(&s->head, __ATOMIC_RELAXED);

		if (!head || head == RSEQKIT__FL_STOPPED)
			return NULL;
		if (rseqkit__load_cbne_store_u64_k(kind, &k, (int)idx, (uint64_t *)&s->head,
						(uint64_t)head, 0) == 0)
			return (struct rseqkit_freelist_node *)head;
	}
}

/* rseqkit_freelist_pop_all() with kind, a compile-time constant, the kind the structure was
 * initialized with (rseqkit/percpu.h, "Compile-time kinds"). */
static inline __attribute__((always_inline)) struct rseqkit_freelist_node *
rseqkit_freelist_pop_all_k(struct rseqkit_freelist *fl, enum rseqkit_index kind)
{
	struct rseqkit__kc k = rseqkit__kc(kind);

	return rseqkit__freelist_pop_all_kc(fl, kind, &k);
}

/* Detach the calling CPU's whole list (NULL if empty). */
static inline __attribute__((always_inline)) struct rseqkit_freelist_node *
rseqkit_freelist_pop_all(struct rseqkit_freelist *fl)
{
	struct rseqkit__kc k = rseqkit__resolved_kc();	/* both kinds' bases */

	if (__builtin_expect(fl->kind == RSEQKIT_INDEX_CPU_ID, 1))
		return rseqkit__freelist_pop_all_kc(fl, RSEQKIT_INDEX_CPU_ID, &k);
	return rseqkit__freelist_pop_all_kc(fl, RSEQKIT__RESOLVED_MM, &k);
}

#ifdef __cplusplus
}
#endif

#endif /* RSEQKIT_FREELIST_H */
