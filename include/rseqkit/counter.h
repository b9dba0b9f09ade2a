/* SPDX-License-Identifier: MIT */
/*
 * rseqkit/counter.h - per-CPU counter: add without atomics, read the sum.
 *
 * One 64-bit slot per index (CPU number or mm_cid, see rseqkit/percpu.h),
 * each on its own cache line. rseqkit_counter_add() is one critical section
 * (load_add_store) on the caller's slot, retried when aborted; reading sums
 * the slots with relaxed loads. Values wrap modulo 2^64 (int64_t view).
 *
 * Consistency: a read that runs while adds are in flight returns a sum that
 * includes each of them or not; with no concurrent add it is exact.
 * rseqkit_counter_reset() makes the counter read 0: it records the current
 * sum as the new origin (slots are never written remotely), so adds
 * concurrent with a reset are each counted before or after it.
 */
#ifndef RSEQKIT_COUNTER_H
#define RSEQKIT_COUNTER_H

#include <stdint.h>

#include <rseqkit/percpu.h>

#ifdef __cplusplus
extern "C" {
#endif

struct rseqkit_counter_slot {
	uint64_t v;
} __attribute__((aligned(RSEQKIT_CACHELINE)));

struct rseqkit_counter {
	struct rseqkit_counter_slot *slots;	/* rseqkit_percpu_nr_slots() of them */
	enum rseqkit_index kind;	/* as resolved by rseqkit_percpu_resolve() */
	int nr_slots;
	uint64_t origin;			/* sum at the last reset */
	int index_field;	/* offset of the rseq field read as index (rseqkit__si_field_resolved()) */
};

/* rseqkit_counter_init() - a counter reading 0, indexed by kind.
 * Returns 0, or -EINVAL (c NULL, kind unknown), -ENOMEM. */
RSEQKIT_API int rseqkit_counter_init(struct rseqkit_counter *c, enum rseqkit_index kind);
/* Free the slots (no add may run concurrently). c may be NULL. */
RSEQKIT_API void rseqkit_counter_destroy(struct rseqkit_counter *c);
/* The sum of every add since init or the last reset. */
RSEQKIT_API int64_t rseqkit_counter_read(const struct rseqkit_counter *c);
/* Make the counter read 0 (see above). */
RSEQKIT_API void rseqkit_counter_reset(struct rseqkit_counter *c);

/* The add's slow path, out of line: registers the calling thread and
 * returns -EAGAIN (the fast path works now), or on the fallbacks adds under
 * them and returns the index used. */
RSEQKIT_API int rseqkit__counter_add_slow(struct rseqkit_counter *c, int64_t n);

/* The add as a self-indexed section on the field at fo from rs. */
static inline __attribute__((always_inline)) int
rseqkit__counter_add_si(struct rseqkit_counter *c, int64_t n, ptrdiff_t rs, ptrdiff_t fo)
{
	for (;;) {
		unsigned long idx;
		int r = rseqkit__si_load_add_store_u64(rs, fo, c->slots, (uint64_t)n, &idx);

		if (__builtin_expect(r == 0, 1))
			return (int)idx;
		if (r == -ENOENT && (r = rseqkit__counter_add_slow(c, n)) >= 0)
			return r;
	}
}

/* rseqkit_counter_add() with kind, a compile-time constant, the kind the structure was
 * initialized with (rseqkit/percpu.h, "Compile-time kinds"). */
static inline __attribute__((always_inline)) int
rseqkit_counter_add_k(struct rseqkit_counter *c, int64_t n, enum rseqkit_index kind)
{
	return rseqkit__counter_add_si(c, n, rseqkit__rs(), rseqkit__si_field(kind));
}

/* Add n on the calling thread's index; returns the index used. */
static inline __attribute__((always_inline)) int
rseqkit_counter_add(struct rseqkit_counter *c, int64_t n)
{
	return rseqkit__counter_add_si(c, n, rseqkit__rs(), c->index_field);
}

#ifdef __cplusplus
}
#endif

#endif /* RSEQKIT_COUNTER_H */
