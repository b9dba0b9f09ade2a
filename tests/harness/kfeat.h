/* SPDX-License-Identifier: MIT */
/*
 * kfeat.h - what the running kernel offers, probed at run time, so that a
 * test never hard-codes which kernel it is on (HACKING.md "Tests").
 */
#ifndef RSEQKIT_KFEAT_H
#define RSEQKIT_KFEAT_H

#include <stdbool.h>
#include <stdint.h>

struct kfeat {
	bool rseq;			/* rseq(2) exists (not ENOSYS) */
	unsigned long feature_size;	/* AT_RSEQ_FEATURE_SIZE, 20 if absent */
	unsigned long align;		/* AT_RSEQ_ALIGN, 32 if absent */
	bool v2;			/* feature size >= 33: V2 registrations */
	bool stats;			/* debugfs rseq/stats readable */
	bool slice_knob;		/* debugfs rseq/slice_ext_nsec readable */
	bool membarrier_rseq;		/* MEMBARRIER_CMD_*_RSEQ supported */
};

void kfeat_probe(struct kfeat *k);
/* Print the probed facts as TAP comments. */
void kfeat_diag(const struct kfeat *k);

/* R4.6 counters; missing ones read as 0 (the library's reader: it opens a
 * debugfs file and registers nothing, so conformance tests may use it). */
#include <rseqkit/kstats.h>
#define kfeat_stats rseqkit_kstats
/* 0, or -errno when debugfs rseq/stats cannot be read. */
int kfeat_read_stats(struct kfeat_stats *s);
/* b - a, field by field. */
struct kfeat_stats kfeat_stats_delta(const struct kfeat_stats *a,
				     const struct kfeat_stats *b);

#define KFEAT_DEBUGFS "/sys/kernel/debug/rseq"

#endif /* RSEQKIT_KFEAT_H */
