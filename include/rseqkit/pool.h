/* SPDX-License-Identifier: MIT */
/*
 * rseqkit/pool.h - per-CPU memory pool: allocate objects that have one
 * instance per index (mm_cid by default), with memory proportional to the
 * process's concurrency rather than to the number of possible CPUs.
 *
 * An allocation returns a handle: the address of instance 0. Instance i is
 * at handle + i * stride (rseqkit_pool_ptr()), in a range reserved for
 * rseqkit_percpu_nr_slots() instances with MAP_NORESERVE. Pages are
 * populated lazily, by the kernel, when an instance is first written: with
 * the mm_cid index (compact, below min(threads, CPUs)), a process with 4
 * threads on a 256-CPU machine touches 4 instances, not 256. Reading an
 * instance never written costs no memory (the zero page). Every instance of
 * a new allocation reads as zero.
 *
 * Typical use, a per-concurrency-ID counter without atomics:
 *
 *	uint64_t *h = rseqkit_pool_alloc(&pool, sizeof(*h));
 *	do {
 *		idx = rseqkit_percpu_index(RSEQKIT_INDEX_MM_CID);
 *	} while (rseqkit_load_add_store_u64(RSEQKIT_INDEX_MM_CID, idx,
 *			rseqkit_pool_ptr(&pool, h, idx), 1) < 0);
 *
 * Growth and cross-index access. The pool grows by whole new ranges; an
 * object never moves, so growing needs no coordination with the per-CPU
 * operations (there is no resize that could race with them). Reading other
 * indices' instances (sums) needs nothing either. Writing another index's
 * instance while it is in use (drain, reset) follows the protocol of
 * rseqkit/percpu.h: stop value in the commit word, rseqkit_membarrier_fence(-1)
 * (mm_cid instances can run on any CPU), re-check, then publish.
 *
 * Threads: alloc and free are serialized by a mutex (not fast paths).
 */
#ifndef RSEQKIT_POOL_H
#define RSEQKIT_POOL_H

#include <stddef.h>

#include <rseqkit/percpu.h>

#ifdef __cplusplus
extern "C" {
#endif

struct rseqkit__pool_priv;

struct rseqkit_pool {
	size_t stride;		/* bytes between instances (range per index) */
	int nr_slots;		/* instances per object */
	enum rseqkit_index kind;	/* as resolved by rseqkit_percpu_resolve() */
	struct rseqkit__pool_priv *priv;
};

/*
 * rseqkit_pool_init() - a pool whose ranges hold range_bytes per index
 * (rounded up to the page size; the largest object is range_bytes).
 * Returns 0, or -EINVAL (pool NULL, kind unknown, range_bytes 0 or over
 * 1 GiB), -ENOMEM.
 */
RSEQKIT_API int rseqkit_pool_init(struct rseqkit_pool *pool, size_t range_bytes,
				  enum rseqkit_index kind);
/* Unmap everything (no object may be in use). pool may be NULL. */
RSEQKIT_API void rseqkit_pool_destroy(struct rseqkit_pool *pool);
/*
 * rseqkit_pool_alloc() - an object of size bytes (rounded up to 8) in every
 * instance, all reading zero. Returns its handle, or NULL with errno
 * EINVAL (size 0 or > stride) or ENOMEM.
 */
RSEQKIT_API void *rseqkit_pool_alloc(struct rseqkit_pool *pool, size_t size);
/* Give an object back (size as allocated); freed neighbours merge, so
 * their space serves larger objects. Returns 0, or -EINVAL if h is not an
 * object of the pool, -EALREADY if (part of) it is already free: a double
 * free, also reported through the diagnostic hook; nothing is changed. */
RSEQKIT_API int rseqkit_pool_free(struct rseqkit_pool *pool, void *h, size_t size);
/* Bytes of index idx's instances resident in memory (mincore), over all
 * ranges; -EINVAL for a bad idx. For tests and accounting. */
RSEQKIT_API long rseqkit_pool_resident(const struct rseqkit_pool *pool, int idx);

/* The instance of index idx of the object h. */
static inline void *rseqkit_pool_ptr(const struct rseqkit_pool *pool, void *h, int idx)
{
	return (char *)h + (size_t)idx * pool->stride;
}

#ifdef __cplusplus
}
#endif

#endif /* RSEQKIT_POOL_H */
