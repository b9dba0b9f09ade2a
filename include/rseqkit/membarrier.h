/* SPDX-License-Identifier: MIT */
/*
 * rseqkit/membarrier.h - fence the critical sections running on other CPUs,
 * for cross-CPU work on per-CPU data (drain, steal, resize; protocol in
 * <rseqkit/percpu.h>).
 *
 * rseqkit_membarrier_fence(cpu) returns after every per-CPU operation that
 * was in flight on cpu (on every CPU if cpu < 0) when it was called has
 * either committed or aborted, and with every store made before the call
 * visible to the operations that start after it. Slots indexed by mm_cid
 * can be used from any CPU: fence them with cpu < 0.
 *
 * How, chosen once per process (rseqkit_membarrier_register()):
 *   rseq in use, kernel >= 5.10: membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ),
 *       with MEMBARRIER_CMD_FLAG_CPU for one CPU (an IPI that restarts the
 *       critical section running there).
 *   rseq in use, no RSEQ membarrier (kernel < 5.10, or membarrier denied):
 *       the calling thread moves itself onto each target CPU in turn
 *       (sched_setaffinity); whatever ran there was switched out, which
 *       aborts its critical section. Slower (two context switches per CPU).
 *   no rseq (fallbacks): takes and releases the fallback lock of the index
 *       (all of them for cpu < 0), which waits for the operation in flight.
 * The environment variable RSEQKIT_FENCE_AFFINITY (any value; ignored in
 * set-uid programs) forces the affinity method, for tests.
 */
#ifndef RSEQKIT_MEMBARRIER_H
#define RSEQKIT_MEMBARRIER_H

#include <rseqkit/api.h>

#ifdef __cplusplus
extern "C" {
#endif

enum rseqkit_fence_method {
	RSEQKIT_FENCE_MEMBARRIER_RSEQ = 1,	/* membarrier RSEQ command */
	RSEQKIT_FENCE_AFFINITY = 2,		/* visit the CPU (no RSEQ membarrier) */
	RSEQKIT_FENCE_FALLBACK_LOCKS = 3,	/* the process uses the fallbacks */
};

/*
 * rseqkit_membarrier_register() - register the process for the RSEQ
 * membarrier once (idempotent, thread-safe; also done by the first fence).
 * Returns the method in use (> 0), never an error: when the kernel lacks
 * MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ or refuses it, fences use the
 * affinity method, and rseqkit_membarrier_error() tells why.
 */
RSEQKIT_API int rseqkit_membarrier_register(void);

/* The errno that ruled the RSEQ membarrier out (ENOSYS: no membarrier(2);
 * EOPNOTSUPP: no RSEQ command in MEMBARRIER_CMD_QUERY; EPERM/EINVAL: the
 * registration failed), or 0. */
RSEQKIT_API int rseqkit_membarrier_error(void);

/*
 * rseqkit_membarrier_fence() - see above. cpu < 0: every CPU.
 * Returns 0, or:
 *   -EINVAL  cpu >= rseqkit_percpu_nr_slots()
 *   -EPERM   affinity method: the CPU is online but outside the calling
 *            thread's cpuset (sched_setaffinity(2) says EINVAL), or the
 *            thread could not get onto it; another thread of the process
 *            may run there, so nothing was fenced and the caller must not
 *            touch the slot (an offline CPU runs nothing: 0)
 *   other    the errno of membarrier(2) (e.g. -ENOMEM)
 */
RSEQKIT_API int rseqkit_membarrier_fence(int cpu);

#ifdef __cplusplus
}
#endif

#endif /* RSEQKIT_MEMBARRIER_H */
