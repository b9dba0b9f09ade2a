/* SPDX-License-Identifier: MIT */
/*
 * kfeat.h - what the kernel offers the tests: the scenario's answer when the
 * program runs under a declaration (the EXPECT_* lines of vm/scenarios/NAME,
 * handed over by the VM init), else what the kernel shows (host runs).
 *
 * Under a declaration kfeat_probe() also probes the kernel and reports every
 * disagreement as a failing TAP case naming the feature, so a kernel that lost
 * a promised feature fails the test instead of turning it into a skip; the
 * test then runs with the promised answer (and fails where the kernel falls
 * short). Where a test still has to skip for want of a feature, it calls
 * kfeat_missing() (a failure if the scenario promises the feature).
 * See vm/scenarios/README.
 */
#ifndef RSEQKIT_KFEAT_H
#define RSEQKIT_KFEAT_H

#include <stdbool.h>
#include <stdint.h>

#include "kfacts.h"

enum kfeat_slice {
	KFEAT_SLICE_NONE,	/* kernel without time slice extensions (no prctl 79, no 471) */
	KFEAT_SLICE_OUT,	/* compiled out: prctl 79 -> ENOTSUPP, 471 -> ENOSYS */
	KFEAT_SLICE_OFF,	/* compiled in, disabled at boot (rseq_slice_ext=off) */
	KFEAT_SLICE_ON,		/* usable on a V2 registration */
	KFEAT_SLICE_UNKNOWN,	/* undeclared, and the kernel's answers fit no state above */
};

enum kfeat_glibc {
	KFEAT_GLIBC_NONE,	/* glibc does not register (or was told not to) */
	KFEAT_GLIBC_LEGACY,	/* glibc registers 32 bytes: legacy mode */
	KFEAT_GLIBC_V2,		/* glibc registers the feature size: V2 mode */
};

struct kfeat {
	bool rseq;			/* rseq(2) exists (not ENOSYS) */
	unsigned long feature_size;	/* AT_RSEQ_FEATURE_SIZE, 20 if absent (probed) */
	unsigned long align;		/* AT_RSEQ_ALIGN, 32 if absent (probed) */
	bool v2;			/* registrations >= 33 bytes run V2 (ABI=v2) */
	/* A kernel of the V2 generation (ABI v2 or legacy-arch): upstream's
	 * registration flags and non-debug rseq_cs checks, whatever mode its
	 * registrations run in (legacy-arch: every one legacy, R3.2). */
	bool v2_kernel;
	enum kfeat_slice slice;		/* time slice extensions */
	bool stats;			/* debugfs rseq/stats readable */
	bool slice_knob;		/* debugfs rseq/slice_ext_nsec readable */
	bool membarrier_rseq;		/* MEMBARRIER_CMD_*_RSEQ supported */
	enum kfeat_glibc glibc;		/* glibc's registration of static programs */
	char trace[KFACTS_VALUE_MAX];	/* tracefs events/rseq/ events, "none" */
	const char *scenario;		/* RSEQKIT_SCENARIO, NULL outside the VM */
	unsigned int declared;		/* bit (1 << enum kfacts_key): the scenario's answer */
	char expect[KFACTS_NKEYS][KFACTS_VALUE_MAX];	/* declared words ("" if not) */
	unsigned int mismatches;	/* declared keys the kernel disagreed with */
};

/* Fill k (see above). Under a declaration: one failing TAP case per
 * disagreement, then the declared answers; a malformed declaration bails. */
void kfeat_probe(struct kfeat *k);
/* Print the facts (and where they come from) as TAP comments. */
void kfeat_diag(const struct kfeat *k);

/* The scenario declares key (so its answer is a promise, not a guess). */
bool kfeat_declared(const struct kfeat *k, enum kfacts_key key);
/* The scenario declares key = value (TRACE: value is one event of the list),
 * e.g. kfeat_promises(k, KFACTS_SLICE, "on"). */
bool kfeat_promises(const struct kfeat *k, enum kfacts_key key, const char *value);
/* events/rseq/<event> exists (or is promised). */
bool kfeat_has_trace(const struct kfeat *k, const char *event);
/* Slice extensions usable on a V2 registration. */
static inline bool kfeat_slice_on(const struct kfeat *k)
{
	return k->slice == KFEAT_SLICE_ON;
}

/*
 * Use instead of tap_skip() when the kernel lacks what a case needs: when
 * promised (kfeat_promises() of what the case needs), the lack breaks the
 * scenario's promise and this is a failing case naming the scenario;
 * otherwise a skip. kfeat_missing_all() likewise for tap_skip_all() (bails
 * when promised). E.g.
 *   kfeat_missing(&k, kfeat_promises(&k, KFACTS_SLICE, "on"),
 *                 "R6.4: slice extensions not available");
 */
void kfeat_missing(const struct kfeat *k, bool promised, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
_Noreturn void kfeat_missing_all(const struct kfeat *k, bool promised,
				 const char *fmt, ...) __attribute__((format(printf, 3, 4)));

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
