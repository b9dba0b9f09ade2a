/* SPDX-License-Identifier: MIT */
/*
 * rseqkit/cpulock.h - per-CPU spinlock: one lock word per index, taken with
 * a critical section (load_cbne_store 0 -> 1) instead of an atomic
 * instruction, released with a plain store-release.
 *
 * Use it to protect per-CPU state that needs more than one operation.
 * rseqkit_cpulock_lock() returns the index it locked; pass it to unlock
 * (the thread may have migrated since: unlocking from another CPU is fine,
 * because only the holder writes a held lock). Contention comes only from a
 * thread preempted or migrated while holding the lock of the CPU; waiters
 * spin with a pause, then yield.
 *
 * Time slice extensions: define RSEQKIT_CPULOCK_SLICE before including
 * this header to hold a slice extension request (rseqkit/slice.h) from the
 * moment the lock is taken until it is released (the hook points are
 * RSEQKIT_CPULOCK_SLICE_BEGIN/END; they compile to nothing otherwise).
 */
#ifndef RSEQKIT_CPULOCK_H
#define RSEQKIT_CPULOCK_H

#include <sched.h>
#include <stdint.h>

#include <rseqkit/percpu.h>

#ifdef RSEQKIT_CPULOCK_SLICE
# include <rseqkit/slice.h>
# define RSEQKIT_CPULOCK_SLICE_BEGIN()	rseqkit_slice_begin()
# define RSEQKIT_CPULOCK_SLICE_END()	rseqkit_slice_end()
#else
# define RSEQKIT_CPULOCK_SLICE_BEGIN()	do { } while (0)
# define RSEQKIT_CPULOCK_SLICE_END()	do { } while (0)
#endif

#ifdef __cplusplus
extern "C" {
#endif

struct rseqkit_cpulock_slot {
	uint32_t locked;
} __attribute__((aligned(RSEQKIT_CACHELINE)));

struct rseqkit_cpulock {
	struct rseqkit_cpulock_slot *slots;
	enum rseqkit_index kind;	/* as resolved by rseqkit_percpu_resolve() */
	int nr_slots;
	int index_field;	/* offset of the rseq field read as index (rseqkit__si_field_resolved()) */
};

/* Returns 0, or -EINVAL (l NULL, kind unknown), -ENOMEM. */
RSEQKIT_API int rseqkit_cpulock_init(struct rseqkit_cpulock *l, enum rseqkit_index kind);
/* l may be NULL; no lock may be held. */
RSEQKIT_API void rseqkit_cpulock_destroy(struct rseqkit_cpulock *l);

/* The contended half of rseqkit_cpulock_lock(): spins (pause, then yield)
 * until the lock of the calling thread's index is taken; returns the index.
 * Out of line, so the caller's fast path keeps nothing for it; the caller
 * raises the slice request. */
RSEQKIT_API int rseqkit__cpulock_lock_contended(struct rseqkit_cpulock *l);

/* The take's slow path, out of line: registers the calling thread and
 * returns -EAGAIN (the fast path works now), or on the fallbacks takes the
 * lock under them and returns the index locked, or -EBUSY (!wait); the
 * caller raises the slice request. */
RSEQKIT_API int rseqkit__cpulock_take_slow(struct rseqkit_cpulock *l, int wait);

/* Take the lock as a self-indexed section on the field at fo from rs. */
static inline __attribute__((always_inline)) int
rseqkit__cpulock_take_si(struct rseqkit_cpulock *l, int wait, ptrdiff_t rs, ptrdiff_t fo)
{
	for (;;) {
		unsigned long idx;
		int ret = rseqkit__si_load_cbne_store_u32(rs, fo, l->slots, 0, 1, &idx);

		if (__builtin_expect(ret == 0, 1)) {
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			RSEQKIT_CPULOCK_SLICE_BEGIN();
			return (int)idx;
		}
		if (ret > 0 && !wait)
			return -EBUSY;
		if (ret > 0 || ret == -ENOENT) {
			/* held (its holder was preempted or migrated), or the slow path */
			int i = ret > 0 ? rseqkit__cpulock_lock_contended(l) :
				rseqkit__cpulock_take_slow(l, wait);

			if (i == -EAGAIN)
				continue;
			if (i >= 0)
				RSEQKIT_CPULOCK_SLICE_BEGIN();
			return i;
		}
	}
}

/* rseqkit_cpulock_trylock() with kind, a compile-time constant, the kind the structure was
 * initialized with (rseqkit/percpu.h, "Compile-time kinds"). */
static inline __attribute__((always_inline)) int
rseqkit_cpulock_trylock_k(struct rseqkit_cpulock *l, enum rseqkit_index kind)
{
	return rseqkit__cpulock_take_si(l, 0, rseqkit__rs(), rseqkit__si_field(kind));
}

/* rseqkit_cpulock_lock() with kind, a compile-time constant, the kind the structure was
 * initialized with (rseqkit/percpu.h, "Compile-time kinds"). */
static inline __attribute__((always_inline)) int
rseqkit_cpulock_lock_k(struct rseqkit_cpulock *l, enum rseqkit_index kind)
{
	int idx = rseqkit__cpulock_take_si(l, 1, rseqkit__rs(), rseqkit__si_field(kind));

	if (idx < 0)
		__builtin_unreachable();	/* lock waits: an index, never -EBUSY */
	return idx;
}

/* Take the lock of the calling thread's index, or return -EBUSY if it is
 * held. Returns the index locked. */
static inline __attribute__((always_inline)) int
rseqkit_cpulock_trylock(struct rseqkit_cpulock *l)
{
	return rseqkit__cpulock_take_si(l, 0, rseqkit__rs(), l->index_field);
}

/* Take the lock of the calling thread's index; returns the index. */
static inline __attribute__((always_inline)) int
rseqkit_cpulock_lock(struct rseqkit_cpulock *l)
{
	int idx = rseqkit__cpulock_take_si(l, 1, rseqkit__rs(), l->index_field);

	if (idx < 0)
		__builtin_unreachable();	/* lock waits: an index, never -EBUSY */
	return idx;
}

static inline __attribute__((always_inline)) void
rseqkit_cpulock_unlock(struct rseqkit_cpulock *l, int idx)
{
	__atomic_store_n(&l->slots[idx].locked, 0, __ATOMIC_RELEASE);
	RSEQKIT_CPULOCK_SLICE_END();
}

#ifdef __cplusplus
}
#endif

#endif /* RSEQKIT_CPULOCK_H */
