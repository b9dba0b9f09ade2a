/* SPDX-License-Identifier: MIT */
/*
 * rseqkit/kstats.h - the kernel's RSEQ counters (spec R4.6): debugfs
 * rseq/stats, one "name: value" line each, summed over CPUs. Only kernels
 * with this project's series (or compatible) have them; benchmarks and tests
 * use deltas to show how much rseq work a workload causes.
 */
#ifndef RSEQKIT_KSTATS_H
#define RSEQKIT_KSTATS_H

#include <rseqkit/api.h>

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RSEQKIT_KSTATS_PATH "/sys/kernel/debug/rseq/stats"

struct rseqkit_kstats {
	uint64_t exits;		/* return-to-user rseq work runs */
	uint64_t ids;		/* ID field writes */
	uint64_t cs;		/* rseq_cs evaluations */
	uint64_t fixups;	/* aborted critical sections */
	uint64_t granted;	/* slice extensions granted ... */
	uint64_t expired;	/* ... and how they ended */
	uint64_t revoked;
	uint64_t yielded;
	uint64_t aborted;
};

/*
 * rseqkit_kstats_read() - read the counters; missing names read as 0.
 * Returns 0, or -errno of opening RSEQKIT_KSTATS_PATH: -ENOENT (kernel
 * without the counters, or debugfs not mounted), -EACCES (not root).
 * Thread-safe.
 */
RSEQKIT_API int rseqkit_kstats_read(struct rseqkit_kstats *s);

/* rseqkit_kstats_delta() - *d = *after - *before, field by field. */
RSEQKIT_API void rseqkit_kstats_delta(struct rseqkit_kstats *d, const struct rseqkit_kstats *before,
				      const struct rseqkit_kstats *after);

#ifdef __cplusplus
}
#endif

#endif /* RSEQKIT_KSTATS_H */
