/* SPDX-License-Identifier: MIT */
/*
 * rseqkit/percpu.h - per-CPU operations: restartable sequences that update
 * per-CPU (or per-concurrency-ID) data without atomic instructions.
 *
 * Model. Data is an array of slots, one per index. An operation is given the
 * index the caller read with rseqkit_percpu_index() and pointers into that
 * index's slot; it runs as an RSEQ critical section that first checks that
 * the thread still runs on that index, then does its comparisons and ends
 * with one store (the commit). The kernel moves the thread to the abort
 * handler if it is preempted, migrated or signalled before the commit, so
 * all operations on one index are serialized as if under a per-index lock,
 * without paying for one. Exact semantics: <rseqkit/percpu-pseudocode.h>.
 *
 * Return convention of every operation:
 *    0  committed
 *   >0  a comparison failed, nothing was committed (1 = first comparison,
 *       2 = second one for the two-comparison operations)
 *   <0  aborted (preempted, migrated, signalled, index stale, or the thread
 *       was not registered yet): nothing was committed; read the index again
 *       and retry. Always -EAGAIN.
 * So the canonical use is
 *
 *	do {
 *		idx = rseqkit_percpu_index(kind);
 *		ret = rseqkit_load_add_store_u64(kind, idx, &slots[idx].v, 1);
 *	} while (ret < 0);
 *
 * Index kinds (chosen per call; a data structure uses one kind throughout):
 *   RSEQKIT_INDEX_CPU_ID  the CPU number, < the number of possible CPUs.
 *   RSEQKIT_INDEX_MM_CID  the memory-map concurrency ID: unique among the
 *       process's running threads and compact (below min(threads, CPUs)), so
 *       arrays indexed by it only touch as many slots as the process has
 *       concurrency. When the registration does not make mm_cid usable
 *       (rseqkit_rseq_fields lacks RSEQKIT_FIELD_MM_CID: glibc <= 2.40
 *       registers 32 bytes and publishes __rseq_size 20, spec R7), this kind
 *       indexes by CPU number instead: the reader and the check inside the
 *       critical section both use cpu_id. That choice is made once, by the
 *       registration layer's constructor, before main().
 *   Size arrays with rseqkit_percpu_nr_slots(): it bounds both kinds.
 *
 * Registration. Nothing needs to be called first. A thread that was never
 * registered reads index 0 from its area (cpu_id_start is 0) but its cpu_id
 * is negative, so the index check fails and the operation aborts; the abort
 * path registers the thread (rseqkit_thread_register()) and returns -EAGAIN,
 * and the retry runs on the fast path. The fast path itself never tests for
 * registration. (RSEQKIT_INDEX_MM_CID readers do test cpu_id, because an
 * unregistered area reads mm_cid 0, which would pass the check.)
 *
 * Fallback. When rseq is unavailable for the process (rseqkit_init() < 0:
 * old kernel, seccomp, ...), decided once per process, every operation still
 * works: the index check always fails and the abort path runs the operation
 * under a lock chosen by the index (load_add_store: one atomic add), which
 * serializes operations on one index exactly like the critical sections do.
 * Any index in range is correct there; the reader returns the CPU of
 * sched_getcpu(), refreshed every 64 fallback operations of the thread.
 * Per thread the choice is never mixed: if rseq works for the process but a
 * thread cannot be registered (a thread glibc did not create, another
 * library's registration), running a per-CPU operation in it is a fatal
 * error (rseqkit__fatal: the result could not be correct).
 *
 * Signals. With rseq every operation is async-signal-safe: a handler's
 * operation aborts the one it interrupted, which retries. With the
 * fallbacks only load_add_store is (one atomic instruction); a handler that
 * runs another operation on the index whose fallback lock its thread holds
 * is reported as a fatal error instead of hanging.
 *
 * Ordering. Every operation is a compiler barrier ("memory" clobber) except
 * load_add_store when the compiler supports asm goto outputs (gcc/clang
 * >= 11), which is relaxed. The _release variants commit with a
 * store-release (aarch64: stlr; on x86 every store is one (TSO), so they are
 * the same instructions); their fallbacks too.
 *
 * Processes. cpu_id-indexed data in shared memory works across processes
 * with rseq (a CPU runs one thread at a time); mm_cid is per process, and
 * the fallback locks are per process, so across processes only
 * load_add_store (atomic add) is correct without rseq.
 *
 * Loops. rseqkit_percpu_ctx() resolves a kind once (offsets of the index
 * and of the checked field); the rseqkit_*_ctx() variants of the operations
 * take it, so a loop keeps them in registers. The data structures store
 * rseqkit_percpu_resolve(kind) (RSEQKIT_INDEX_MM_CID becomes
 * RSEQKIT_INDEX_CPU_ID when mm_cid is not usable) and the offset of the
 * field it indexes by; their fast paths are self-indexed sections (below),
 * which read that field inside the section: one path for both kinds, no
 * kind test, no index comparison.
 *
 * Compile-time kinds. Every operation of the data structures also exists as
 * rseqkit_<structure>_<op>_k(..., kind), for a caller that knows the kind
 * at compile time: kind must be the constant the structure was initialized
 * with (RSEQKIT_INDEX_MM_CID also when the process indexes it by CPU: the
 * _k form then reads and checks cpu_id, the field rseqkit__rs_mm() points
 * its mm_cid offset at). The field's offset is then an immediate instead
 * of a load from the structure (bench/b1_percpu: api_* against apik_* and
 * raw_*). Passing another kind than the structure's breaks the per-index
 * mutual exclusion.
 *
 * Cross-CPU access (drain, steal, resize): see rseqkit/membarrier.h. The
 * protocol is: (1) compare-and-swap the slot's commit word to a "stopped"
 * value that makes every operation on it fail its comparison, (2) fence the
 * slot's CPU with rseqkit_membarrier_fence() (all CPUs for mm_cid slots),
 * which aborts every critical section in flight there, (3) read the word
 * again: if it is still "stopped", no critical section committed since (1)
 * and none can until the word changes, so the slot may be read and written
 * with ordinary atomics; otherwise a section committed between (1) and (2):
 * go back to (1). (4) Publish the slot's new state with a store-release;
 * if an operation can commit the stopped value itself (a list pop that
 * meets a self-linked sentinel), publish with compare-and-swap + fence and
 * repeat until the stopped value stays gone. rseqkit_freelist_drain(),
 * rseqkit_ptrbuf_drain() and rseqkit_membuf_drain() implement it.
 *
 * Injection points (stress tests): define RSEQKIT_INJECT before including
 * this header. Point 0 is in C between reading the index and entering the
 * critical section (rseqkit_inject_hook(0)); points 1..3 are busy loops of
 * rseqkit_inject_loops[n] iterations inside the critical section (1 after
 * the index check, 2 after the first comparison, 3 before the commit);
 * point 4 is the C hook after an abort. Without RSEQKIT_INJECT the hooks
 * compile to nothing. Point RSEQKIT_INJECT_DRAIN (5) is called by the
 * library's drains in every build, in the draining thread, while the slot is
 * stopped (tests of callers that meet a stopped slot).
 *
 * dlclose: see rseqkit_prepare_unload() below.
 */
#ifndef RSEQKIT_PERCPU_H
#define RSEQKIT_PERCPU_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include <rseqkit/abi.h>
#include <rseqkit/arch.h>
#include <rseqkit/thread.h>

#ifdef __cplusplus
extern "C" {
#endif

enum rseqkit_index {
	RSEQKIT_INDEX_CPU_ID = 0,
	RSEQKIT_INDEX_MM_CID = 1,
	/* Internal, never accepted by an init: RSEQKIT_INDEX_MM_CID known to be
	 * usable (a structure's resolved kind), for the _k bodies only. */
	RSEQKIT__INDEX_MM_CID_USABLE = 2,
};

#define RSEQKIT_CACHELINE	64
/* log2 of a data structure's slot: one cache line per index (the
 * self-indexed sections, below, form the slot's address from it). */
#define RSEQKIT__SLOT_SHIFT	6
#define RSEQKIT__SLOT_SIZE	64	/* 1 << RSEQKIT__SLOT_SHIFT, as a literal for asm */
RSEQKIT_STATIC_ASSERT(RSEQKIT__SLOT_SIZE == 1 << RSEQKIT__SLOT_SHIFT, "slot size");

/* Number of slots an array indexed by either kind needs: the number of
 * possible CPUs (from /sys/devices/system/cpu/possible), at least 1. */
RSEQKIT_API int rseqkit_percpu_nr_slots(void);

/* 1 when the process uses the fallbacks (no rseq), else 0. Decided once. */
RSEQKIT_API int rseqkit_percpu_fallback(void);

/*
 * rseqkit_prepare_unload() - before dlclose() of an object that contains
 * per-CPU operations (they are inline, so their rseq_cs descriptors live in
 * the object that calls them), every thread that ran one of them must stop
 * pointing its rseq_cs at the object: the kernel reads the descriptor the
 * next time the thread is preempted, and a descriptor in unmapped memory
 * kills the thread. Protocol: each such thread calls
 * rseqkit_prepare_unload() (clears its own rseq_cs; a thread that ran any
 * other critical section since also qualifies), then the unloading thread
 * synchronizes with them (join, barrier), then dlclose(). rseq_cs of other
 * threads cannot be cleared from outside.
 * Returns 0; -ENOENT when the calling thread has no registration (nothing
 * to do).
 */
RSEQKIT_API int rseqkit_prepare_unload(void);

/* Injection (RSEQKIT_INJECT builds only read these). */
#define RSEQKIT_INJECT_POINTS	8
#define RSEQKIT_INJECT_DRAIN	5
extern RSEQKIT_API int rseqkit_inject_loops[RSEQKIT_INJECT_POINTS];
extern RSEQKIT_API void (*rseqkit_inject_hook)(int point);

/* --- internals used by the inline code -------------------------------- */
/* Process-wide choice, read by the abort paths only (the fast path never
 * looks at it): 0 until decided (a constructor decides before main()). */
#define RSEQKIT__PERCPU_RSEQ		1
#define RSEQKIT__PERCPU_FALLBACK	2
extern RSEQKIT_API int rseqkit__percpu_mode;
/* The cold path of the inline operations. */
#define RSEQKIT__COLD __attribute__((cold, noinline))
/* Fallback mode: refresh the calling thread's cached index (sched_getcpu). */
RSEQKIT_API void rseqkit__fb_refresh(void);
RSEQKIT_API RSEQKIT__COLD int rseqkit__percpu_index_slow(enum rseqkit_index kind);
/* Abort path: returns 1 if the operation must run its fallback, 0 if the
 * caller must retry (the thread is registered now). */
RSEQKIT_API int rseqkit__percpu_aborted(void);

/* A data structure operation met a slot stopped by a drain: wait until the
 * drain is over (blocks with priority inheritance; never spins). */
RSEQKIT_API void rseqkit__drain_wait(void);

/* The count word of the bounded buffers (rseqkit/ptrbuf.h, rseqkit/membuf.h):
 * bit 63 set while a drain holds the slot stopped. */
#define RSEQKIT_BUF_STOPPED	(1ULL << 63)

/* The count of a buffer slot for the next critical section: 0 with *count,
 * or -EAGAIN after waiting for a drain (read the index again). */
static inline __attribute__((always_inline)) int
rseqkit__buf_count(uint64_t *word, uint64_t *count)
{
	*count = __atomic_load_n(word, __ATOMIC_RELAXED);
	if (__builtin_expect(*count & RSEQKIT_BUF_STOPPED, 0)) {
		rseqkit__drain_wait();
		return -EAGAIN;
	}
	return 0;
}
/*
 * The abort path of every operation, one call out of line (so the inline
 * fast path keeps no value alive for it): rseqkit__percpu_aborted() first,
 * then -EAGAIN (the thread is registered now: read the index again) or, in
 * the fallback mode, the operation under its fallback lock (load_add_store:
 * one atomic add).
 */
RSEQKIT_API RSEQKIT__COLD int rseqkit__fb_load_cbne_store_u32(int idx, uint32_t *v, uint32_t expect,
		uint32_t newv);
RSEQKIT_API RSEQKIT__COLD int rseqkit__fb_load_cbne_store_u64(int idx, uint64_t *v, uint64_t expect,
		uint64_t newv);
RSEQKIT_API RSEQKIT__COLD int rseqkit__fb_load_add_store_u32(int idx, uint32_t *v, uint32_t count);
RSEQKIT_API RSEQKIT__COLD int rseqkit__fb_load_add_store_u64(int idx, uint64_t *v, uint64_t count);
RSEQKIT_API RSEQKIT__COLD int rseqkit__fb_load_cbne_load_cbne_store_u32(int idx, uint32_t *v, uint32_t expect,
		uint32_t *v2, uint32_t expect2, uint32_t newv);
RSEQKIT_API RSEQKIT__COLD int rseqkit__fb_load_cbne_load_cbne_store_u64(int idx, uint64_t *v, uint64_t expect,
		uint64_t *v2, uint64_t expect2, uint64_t newv);
RSEQKIT_API RSEQKIT__COLD int rseqkit__fb_load_cbne_store_store_u32(int idx, uint32_t *v, uint32_t expect,
		uint32_t *v2, uint32_t newv2, uint32_t newv);
RSEQKIT_API RSEQKIT__COLD int rseqkit__fb_load_cbne_store_store_u64(int idx, uint64_t *v, uint64_t expect,
		uint64_t *v2, uint64_t newv2, uint64_t newv);
RSEQKIT_API RSEQKIT__COLD int rseqkit__fb_load_cbne_memcpy_store_u32(int idx, uint32_t *v, uint32_t expect,
		void *dst, const void *src, size_t len, uint32_t newv);
RSEQKIT_API RSEQKIT__COLD int rseqkit__fb_load_cbne_memcpy_store_u64(int idx, uint64_t *v, uint64_t expect,
		void *dst, const void *src, size_t len, uint64_t newv);
RSEQKIT_API RSEQKIT__COLD int rseqkit__fb_load_cbeq_store_add_load_store_ptr(int idx, intptr_t *v,
		intptr_t expectnot, long voffp, intptr_t *load);
RSEQKIT_API RSEQKIT__COLD int rseqkit__fb_load_add_load_load_add_store_ptr(int idx, intptr_t *ptr, long off,
		intptr_t inc);

#ifdef RSEQKIT_INJECT
# define RSEQKIT_INJECT_C(n)						\
	do {								\
		if (rseqkit_inject_hook)				\
			rseqkit_inject_hook(n);				\
	} while (0)
#else
# define RSEQKIT_INJECT_C(n) do { } while (0)
#endif

/* Byte offset, from the thread pointer, of the field the critical section
 * of kind checks (cpu_id, or mm_cid when usable). */
static inline __attribute__((always_inline)) ptrdiff_t
rseqkit__percpu_field(enum rseqkit_index kind)
{
	if (kind == RSEQKIT_INDEX_MM_CID)
		return rseqkit__rs_mm() + RSEQKIT_OFF_MM_CID;
	return rseqkit__rs() + RSEQKIT_OFF_CPU_ID;
}

/* An index read from the area: the kernel writes only CPU numbers and
 * concurrency IDs there (>= 0; the fallback stores a clamped CPU), which
 * the compiler is told, so that indexing an array needs no sign extension. */
static inline __attribute__((always_inline)) int rseqkit__index_of(uint32_t v)
{
	if (v > INT32_MAX)
		__builtin_unreachable();
	return (int)v;
}

#ifdef __cplusplus
}
#endif

/* The critical sections of the target architecture, and
 * rseqkit__area_load_u32() (a field of the calling thread's area). */
#if defined(__x86_64__)
# include <rseqkit/arch/x86_64-percpu.h>
#elif defined(__aarch64__)
# include <rseqkit/arch/aarch64-percpu.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The resolved index kind: where to read the index and which field the
 * critical section checks, computed once per structure call so that loops
 * keep them in registers (the "memory" clobber of the sections would
 * otherwise reload the globals after every section).
 */
struct rseqkit_percpu_ctx {
	ptrdiff_t rs;		/* rseqkit_rseq_offset */
	ptrdiff_t field;	/* rs + offset of cpu_id, or of mm_cid */
	int mm;			/* index by the mm_cid field */
};

static inline struct rseqkit_percpu_ctx rseqkit_percpu_ctx(enum rseqkit_index kind)
{
	struct rseqkit_percpu_ctx c;

	c.rs = rseqkit__rs();
	c.mm = kind == RSEQKIT_INDEX_MM_CID && (rseqkit__fields() & RSEQKIT_FIELD_MM_CID);
	c.field = c.rs + (c.mm ? RSEQKIT_OFF_MM_CID : RSEQKIT_OFF_CPU_ID);
	return c;
}

/*
 * rseqkit_percpu_resolve() - the kind that is really used for kind in this
 * process: RSEQKIT_INDEX_MM_CID becomes RSEQKIT_INDEX_CPU_ID when the
 * mm_cid field is not usable. The data structures store the resolved kind
 * at init, so their fast paths test nothing at run time.
 */
static inline enum rseqkit_index rseqkit_percpu_resolve(enum rseqkit_index kind)
{
	rseqkit_init();		/* idempotent; normally done by the constructor */
	if (kind == RSEQKIT_INDEX_MM_CID && (rseqkit_rseq_fields & RSEQKIT_FIELD_MM_CID))
		return RSEQKIT_INDEX_MM_CID;
	return RSEQKIT_INDEX_CPU_ID;
}

/* The context of an already resolved kind (no test of the usable fields). */
static inline struct rseqkit_percpu_ctx rseqkit__percpu_ctx_resolved(enum rseqkit_index kind)
{
	struct rseqkit_percpu_ctx c;

	c.rs = rseqkit__rs();
	c.mm = kind == RSEQKIT_INDEX_MM_CID;
	c.field = c.rs + (c.mm ? RSEQKIT_OFF_MM_CID : RSEQKIT_OFF_CPU_ID);
	return c;
}

static inline __attribute__((always_inline)) int
rseqkit_percpu_index_ctx(const struct rseqkit_percpu_ctx *c)
{
	if (c->mm) {
		if (__builtin_expect((int32_t)rseqkit__area_load_u32(c->rs + RSEQKIT_OFF_CPU_ID) < 0, 0))
			return rseqkit__percpu_index_slow(RSEQKIT_INDEX_MM_CID);
		return rseqkit__index_of(rseqkit__area_load_u32(c->rs + RSEQKIT_OFF_MM_CID));
	}
	return rseqkit__index_of(rseqkit__area_load_u32(c->rs + RSEQKIT_OFF_CPU_ID_START));
}


/*
 * The operations (semantics: <rseqkit/percpu-pseudocode.h>; returns: top of
 * this file). Each exists as rseqkit_<op>_<width>(kind, idx, ...) and, for
 * loops, rseqkit_<op>_<width>_ctx(&ctx, idx, ...).
 *
 * Architecture interface: rseqkit__<op>_<width>_kat(rs, fb, fo, idx, ...)
 * checks the field at fb + fo from the thread pointer, fo a compile-time
 * constant (0 when fb is the field's offset). An architecture without it
 * (no RSEQKIT_ARCH_HAS_KAT) provides rseqkit__<op>_<width>_at(rs, field,
 * idx, ...) and rseqkit__area_load_u32(), and gets the _kat forms,
 * rseqkit__area_load_idx() and rseqkit__area_negative() from these.
 * Internally the data structures use rseqkit__<op>_<width>_k(kind, rs, idx,
 * ...) for their resolved, compile-time kind.
 */
#ifdef RSEQKIT_ARCH_HAS_KAT
# define RSEQKIT__OP_KAT(op, sfx, T, PARAMS, ARGS)
#else
# define RSEQKIT__OP_KAT(op, sfx, T, PARAMS, ARGS)				\
static inline __attribute__((always_inline)) int				\
rseqkit__##op##_##sfx##_kat(ptrdiff_t rs, ptrdiff_t fb, ptrdiff_t fo, int idx, PARAMS) \
{										\
	return rseqkit__##op##_##sfx##_at(rs, fb + fo, idx, ARGS);		\
}
static inline __attribute__((always_inline)) unsigned long
rseqkit__area_load_idx(ptrdiff_t base, ptrdiff_t off)
{
	return rseqkit__area_load_u32(base + off);
}
static inline __attribute__((always_inline)) int
rseqkit__area_negative(ptrdiff_t base, ptrdiff_t off)
{
	return (int32_t)rseqkit__area_load_u32(base + off) < 0;
}
#endif

/*
 * A compile-time kind's bases: rs (rseq_cs, cpu_id_start, cpu_id) and fb,
 * the base of its checked field: rs for RSEQKIT_INDEX_CPU_ID, rseqkit__rs_mm()
 * for RSEQKIT_INDEX_MM_CID, so that one code path serves both a usable
 * mm_cid (index and check on mm_cid) and an unusable one (index and check on
 * cpu_id, as documented above). Both are compiler constants: a loop keeps
 * them in registers.
 */
struct rseqkit__kc {
	ptrdiff_t rs;
	ptrdiff_t fb;
};

static inline __attribute__((always_inline)) struct rseqkit__kc
rseqkit__kc(enum rseqkit_index kind)
{
	struct rseqkit__kc k;

	k.rs = rseqkit__rs();
	/* RSEQKIT__INDEX_MM_CID_USABLE: mm_cid is at its own offset from rs */
	k.fb = kind == RSEQKIT_INDEX_MM_CID ? rseqkit__rs_mm() : k.rs;
	return k;
}

/* Offsets from fb of the index read and of the field checked. */
#define RSEQKIT__IDX_OFF(kind) \
	((kind) != RSEQKIT_INDEX_CPU_ID ? RSEQKIT_OFF_MM_CID : RSEQKIT_OFF_CPU_ID_START)
#define RSEQKIT__CHK_OFF(kind) \
	((kind) != RSEQKIT_INDEX_CPU_ID ? RSEQKIT_OFF_MM_CID : RSEQKIT_OFF_CPU_ID)

/*
 * The _k kind a structure's plain operation runs for its stored (resolved)
 * kind: RSEQKIT_INDEX_MM_CID is stored only when mm_cid is usable, so its
 * base is rs itself, not rseqkit__rs_mm() (which a call outside a loop
 * would recompute from rseqkit_rseq_fields).
 */
#define RSEQKIT__RESOLVED_MM	RSEQKIT__INDEX_MM_CID_USABLE

/* The bases of both kinds a structure stores (RSEQKIT_INDEX_CPU_ID and
 * RSEQKIT__RESOLVED_MM: both rs), computed once before the kind test so
 * that both branches share them. */
static inline __attribute__((always_inline)) struct rseqkit__kc rseqkit__resolved_kc(void)
{
	return rseqkit__kc(RSEQKIT_INDEX_CPU_ID);
}

/*
 * The index of a compile-time kind (the data structures' fast path), as an
 * unsigned long for indexing. RSEQKIT_INDEX_MM_CID tests cpu_id first: an
 * unregistered area reads mm_cid 0, which would pass the check of the
 * critical section.
 */
static inline __attribute__((always_inline)) unsigned long
rseqkit__index_k(enum rseqkit_index kind, const struct rseqkit__kc *k)
{
	unsigned long idx;

	if (kind != RSEQKIT_INDEX_CPU_ID &&
	    __builtin_expect(rseqkit__area_negative(k->rs, RSEQKIT_OFF_CPU_ID), 0))
		return (unsigned long)rseqkit__percpu_index_slow(RSEQKIT_INDEX_MM_CID);
	idx = rseqkit__area_load_idx(k->fb, RSEQKIT__IDX_OFF(kind));
	if (idx > INT32_MAX)
		__builtin_unreachable();	/* as rseqkit__index_of() */
	return idx;
}

/*
 * rseqkit_percpu_index() - the index the next operation of kind should use:
 * one load (cpu_id_start for RSEQKIT_INDEX_CPU_ID; a test of cpu_id, then
 * mm_cid, or cpu_id when mm_cid is not usable, for RSEQKIT_INDEX_MM_CID).
 * Always in [0, rseqkit_percpu_nr_slots()).
 */
static inline __attribute__((always_inline)) int rseqkit_percpu_index(enum rseqkit_index kind)
{
	struct rseqkit__kc k = rseqkit__kc(kind);

	if (kind == RSEQKIT_INDEX_MM_CID)
		return (int)rseqkit__index_k(RSEQKIT_INDEX_MM_CID, &k);
	return (int)rseqkit__index_k(RSEQKIT_INDEX_CPU_ID, &k);
}

#define RSEQKIT__OP_WRAP(op, sfx, T, PARAMS, ARGS)				\
RSEQKIT__OP_KAT(op, sfx, T, RSEQKIT__P(PARAMS), RSEQKIT__P(ARGS))		\
static inline __attribute__((always_inline)) int				\
rseqkit__##op##_##sfx##_k(enum rseqkit_index kind, const struct rseqkit__kc *k,	\
			  int idx, PARAMS)					\
{										\
	return rseqkit__##op##_##sfx##_kat(k->rs, k->fb, RSEQKIT__CHK_OFF(kind), idx, ARGS); \
}										\
static inline __attribute__((always_inline)) int				\
rseqkit_##op##_##sfx(enum rseqkit_index kind, int idx, PARAMS)			\
{										\
	struct rseqkit__kc k = rseqkit__kc(kind);				\
										\
	if (kind == RSEQKIT_INDEX_MM_CID)					\
		return rseqkit__##op##_##sfx##_k(RSEQKIT_INDEX_MM_CID, &k, idx, ARGS); \
	return rseqkit__##op##_##sfx##_k(RSEQKIT_INDEX_CPU_ID, &k, idx, ARGS);	\
}										\
static inline __attribute__((always_inline)) int				\
rseqkit_##op##_##sfx##_ctx(const struct rseqkit_percpu_ctx *c, int idx, PARAMS)	\
{										\
	return rseqkit__##op##_##sfx##_kat(c->rs, c->field, 0, idx, ARGS);	\
}

#define RSEQKIT__P(...) __VA_ARGS__

#define RSEQKIT__OPS_WRAP(sfx, T)						\
RSEQKIT__OP_WRAP(load_cbne_store, sfx, T,					\
	RSEQKIT__P(T *v, T expect, T newv), RSEQKIT__P(v, expect, newv))	\
RSEQKIT__OP_WRAP(load_add_store, sfx, T,					\
	RSEQKIT__P(T *v, T count), RSEQKIT__P(v, count))			\
RSEQKIT__OP_WRAP(load_cbne_load_cbne_store, sfx, T,				\
	RSEQKIT__P(T *v, T expect, T *v2, T expect2, T newv),			\
	RSEQKIT__P(v, expect, v2, expect2, newv))				\
RSEQKIT__OP_WRAP(load_cbne_store_store, sfx, T,					\
	RSEQKIT__P(T *v, T expect, T *v2, T newv2, T newv),			\
	RSEQKIT__P(v, expect, v2, newv2, newv))					\
RSEQKIT__OP_WRAP(load_cbne_store_store_release, sfx, T,				\
	RSEQKIT__P(T *v, T expect, T *v2, T newv2, T newv),			\
	RSEQKIT__P(v, expect, v2, newv2, newv))					\
RSEQKIT__OP_WRAP(load_cbne_memcpy_store, sfx, T,				\
	RSEQKIT__P(T *v, T expect, void *dst, const void *src, size_t len, T newv), \
	RSEQKIT__P(v, expect, dst, src, len, newv))				\
RSEQKIT__OP_WRAP(load_cbne_memcpy_store_release, sfx, T,			\
	RSEQKIT__P(T *v, T expect, void *dst, const void *src, size_t len, T newv), \
	RSEQKIT__P(v, expect, dst, src, len, newv))

RSEQKIT__OPS_WRAP(u32, uint32_t)
RSEQKIT__OPS_WRAP(u64, uint64_t)
RSEQKIT__OP_WRAP(load_cbeq_store_add_load_store, ptr, intptr_t,
	RSEQKIT__P(intptr_t *v, intptr_t expectnot, long voffp, intptr_t *load),
	RSEQKIT__P(v, expectnot, voffp, load))
RSEQKIT__OP_WRAP(load_add_load_load_add_store, ptr, intptr_t,
	RSEQKIT__P(intptr_t *ptr, long off, intptr_t inc), RSEQKIT__P(ptr, off, inc))

#undef RSEQKIT__OPS_WRAP
#undef RSEQKIT__OP_WRAP
#undef RSEQKIT__P

/*
 * Self-indexed sections: the data structures' fast path. The section reads
 * the index itself, after it has started, so a preemption or migration after
 * that read aborts it: no comparison of the index is needed (the raw
 * operations above take an index read before the section and must compare
 * it). The slot is base + (idx << RSEQKIT__SLOT_SHIFT): one cache line per
 * index, the section's word at its start. fo is the offset from rs of the
 * field read as the index (rseqkit__si_field()). Each section first tests
 * cpu_id: negative means the thread has no registered area yet, or the
 * process runs on the fallbacks, and the section returns -ENOENT without
 * touching anything; the structure then takes its slow path (out of line),
 * which registers the thread and retries, or runs the operation on the
 * fallbacks. So one test serves the
 * registration check of both kinds (an unregistered area reads mm_cid 0).
 *
 * Returns 0 (committed, *idxp the index used), 1 (the comparison failed),
 * -EAGAIN (aborted: retry) or -ENOENT (slow path).
 *
 *   load_add_store_u64:		*slot += count
 *   load_cbne_store_u32:		if (*slot != expect) fail; *slot = newv
 *   load_cbeq_store_add_load_store_ptr:	the list pop (voffp: offset of next)
 *   load_cbeq_store_store_ptr:		the list push: old = *slot;
 *					if (old == expectnot) fail;
 *					*v2 = old; *slot = newv
 *
 * An architecture provides them as RSEQKIT_ARCH_HAS_SI; otherwise they are
 * composed here from the _kat operations (index read and compared).
 */

/* The field a compile-time kind reads as its index, as an offset from rs:
 * cpu_id, mm_cid, or for RSEQKIT_INDEX_MM_CID the offset rseqkit__rs_mm()
 * maps onto cpu_id when mm_cid is not usable (a loop hoists it). */
static inline __attribute__((always_inline)) ptrdiff_t rseqkit__si_field(enum rseqkit_index kind)
{
	if (kind == RSEQKIT_INDEX_CPU_ID)
		return RSEQKIT_OFF_CPU_ID;
	if (kind == RSEQKIT__INDEX_MM_CID_USABLE)
		return RSEQKIT_OFF_MM_CID;
	return rseqkit__rs_mm() - rseqkit__rs() + RSEQKIT_OFF_MM_CID;
}

/* The field a structure stores for its resolved kind (rseqkit_percpu_resolve()). */
static inline int rseqkit__si_field_resolved(enum rseqkit_index resolved)
{
	return resolved == RSEQKIT_INDEX_MM_CID ? RSEQKIT_OFF_MM_CID : RSEQKIT_OFF_CPU_ID;
}

#ifndef RSEQKIT_ARCH_HAS_SI
/*
 * The index for a composed self-indexed section, or -1: not registered;
 * *chk the field its section compares (the index was read before it). The
 * cpu_id field reads cpu_id_start and compares cpu_id, as the raw
 * operations do: an unregistered area (cpu_id -1) then aborts, and the
 * abort registers the thread or runs the fallback, with no test here.
 */
static inline __attribute__((always_inline)) long
rseqkit__si_index(ptrdiff_t rs, ptrdiff_t fo, ptrdiff_t *chk)
{
	unsigned long idx;

	if (fo == RSEQKIT_OFF_CPU_ID) {	/* a constant here (RSEQKIT__SI_COMPOSED) */
		*chk = rs + RSEQKIT_OFF_CPU_ID;
		idx = rseqkit__area_load_idx(rs, RSEQKIT_OFF_CPU_ID_START);
	} else {
		if (__builtin_expect(rseqkit__area_negative(rs, RSEQKIT_OFF_CPU_ID), 0))
			return -1;
		*chk = rs + fo;
		idx = rseqkit__area_load_idx(rs + fo, 0);
	}
	if (idx > INT32_MAX)
		__builtin_unreachable();	/* as rseqkit__index_of() */
	return (long)idx;
}

#define RSEQKIT__SI_SLOT(T, base, idx) \
	((T *)((char *)(base) + ((unsigned long)(idx) << RSEQKIT__SLOT_SHIFT)))

static inline __attribute__((always_inline)) int
rseqkit__sic_load_add_store_u64(ptrdiff_t rs, ptrdiff_t fo, void *base, uint64_t count,
			       unsigned long *idxp)
{
	ptrdiff_t chk;
	long idx = rseqkit__si_index(rs, fo, &chk);

	if (idx < 0)
		return -ENOENT;
	*idxp = (unsigned long)idx;
	return rseqkit__load_add_store_u64_kat(rs, chk, 0, (int)idx,
					       RSEQKIT__SI_SLOT(uint64_t, base, idx), count);
}

static inline __attribute__((always_inline)) int
rseqkit__sic_load_cbne_store_u32(ptrdiff_t rs, ptrdiff_t fo, void *base, uint32_t expect,
				uint32_t newv, unsigned long *idxp)
{
	ptrdiff_t chk;
	long idx = rseqkit__si_index(rs, fo, &chk);

	if (idx < 0)
		return -ENOENT;
	*idxp = (unsigned long)idx;
	return rseqkit__load_cbne_store_u32_kat(rs, chk, 0, (int)idx,
						RSEQKIT__SI_SLOT(uint32_t, base, idx), expect, newv);
}

static inline __attribute__((always_inline)) int
rseqkit__sic_load_cbeq_store_add_load_store_ptr(ptrdiff_t rs, ptrdiff_t fo, void *base,
		intptr_t expectnot, long voffp, intptr_t *load, unsigned long *idxp)
{
	ptrdiff_t chk;
	long idx = rseqkit__si_index(rs, fo, &chk);

	if (idx < 0)
		return -ENOENT;
	*idxp = (unsigned long)idx;
	return rseqkit__load_cbeq_store_add_load_store_ptr_kat(rs, chk, 0, (int)idx,
			RSEQKIT__SI_SLOT(intptr_t, base, idx), expectnot, voffp, load);
}

static inline __attribute__((always_inline)) int
rseqkit__sic_load_cbeq_store_store_ptr(ptrdiff_t rs, ptrdiff_t fo, void *base,
		intptr_t expectnot, intptr_t *v2, intptr_t newv, unsigned long *idxp)
{
	ptrdiff_t chk;
	long idx = rseqkit__si_index(rs, fo, &chk);
	intptr_t *v, old;
	int r;

	if (idx < 0)
		return -ENOENT;
	v = RSEQKIT__SI_SLOT(intptr_t, base, idx);
	old = __atomic_load_n(v, __ATOMIC_RELAXED);
	if (old == expectnot)
		return 1;
	*v2 = old;
	*idxp = (unsigned long)idx;
	r = rseqkit__load_cbne_store_u64_kat(rs, chk, 0, (int)idx, (uint64_t *)v,
					     (uint64_t)old, (uint64_t)newv);
	return r > 0 ? -EAGAIN : r;	/* changed since the read: retry */
}

/*
 * The composed sections for a field known at compile time: a structure's
 * stored field (run time) is tested against cpu_id once, as the structures'
 * kind test used to be, and each branch then has its field as a constant.
 */
#define RSEQKIT__SI_COMPOSED(name, PARAMS, ARGS)				\
static inline __attribute__((always_inline)) int				\
rseqkit__si_##name(ptrdiff_t rs, ptrdiff_t fo, PARAMS, unsigned long *idxp)	\
{										\
	if (__builtin_expect(fo == RSEQKIT_OFF_CPU_ID, 1))			\
		return rseqkit__sic_##name(rs, RSEQKIT_OFF_CPU_ID, ARGS, idxp);	\
	return rseqkit__sic_##name(rs, fo, ARGS, idxp);				\
}
#define RSEQKIT__P(...) __VA_ARGS__
RSEQKIT__SI_COMPOSED(load_add_store_u64, RSEQKIT__P(void *base, uint64_t count),
		     RSEQKIT__P(base, count))
RSEQKIT__SI_COMPOSED(load_cbne_store_u32, RSEQKIT__P(void *base, uint32_t expect, uint32_t newv),
		     RSEQKIT__P(base, expect, newv))
RSEQKIT__SI_COMPOSED(load_cbeq_store_add_load_store_ptr,
		     RSEQKIT__P(void *base, intptr_t expectnot, long voffp, intptr_t *load),
		     RSEQKIT__P(base, expectnot, voffp, load))
RSEQKIT__SI_COMPOSED(load_cbeq_store_store_ptr,
		     RSEQKIT__P(void *base, intptr_t expectnot, intptr_t *v2, intptr_t newv),
		     RSEQKIT__P(base, expectnot, v2, newv))
#undef RSEQKIT__P
#undef RSEQKIT__SI_COMPOSED
#undef RSEQKIT__SI_SLOT
#endif /* !RSEQKIT_ARCH_HAS_SI */

#ifdef __cplusplus
}
#endif

#endif /* RSEQKIT_PERCPU_H */
