/* SPDX-License-Identifier: MIT */
/*
 * rseqkit/kstats.h - the kernel's RSEQ counters (spec R4.6): debugfs
 * rseq/stats of a kernel built with CONFIG_RSEQ_STATS (upstream Linux >= 7.0,
 * or 6.12 with this project's series), one "name: value" line each, summed
 * over CPUs. The fields carry the kernel's own names. Benchmarks and tests
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
	uint64_t exit;		/* returns to user space (all tasks) */
	uint64_t signal;	/* signal deliveries that evaluated rseq_cs */
	uint64_t slowp;		/* slow-path retries after a failed update */
	uint64_t fastp;		/* return-to-user rseq work after a scheduler event */
	uint64_t ids;		/* ID field writes */
	uint64_t cs;		/* evaluations of a non-NULL rseq_cs */
	uint64_t clear;		/* rseq_cs cleared, IP outside the section */
	uint64_t fixup;		/* aborted critical sections */
	uint64_t sgrant;	/* slice extensions granted */
	uint64_t sexpir;	/* enforcement timer expiries of a live grant */
	uint64_t srevok;	/* grants revoked (expiry, second resched, sched out) */
	uint64_t syield;	/* grants ended by rseq_slice_yield() */
	uint64_t sabort;	/* grants ended by another system call */
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
