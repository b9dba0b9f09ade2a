/* SPDX-License-Identifier: MIT */
/*
 * kfacts.h - the RSEQ features a running kernel shows to user space, as
 * short words ("v2", "on", "yes", ...), and a VM scenario's declaration of
 * them (the EXPECT_* lines of vm/scenarios/NAME).
 *
 * Shared by the VM init (vm/init.c checks the declaration at boot and hands
 * it to the programs) and by the tests' kfeat.c, so both judge a kernel the
 * same way. No TAP, no library: only libc and rseqkit/abi.h constants.
 *
 * Keys and their words (docs: vm/scenarios/README):
 *   ABI              v2 | legacy |          AT_RSEQ_FEATURE_SIZE >= 33 with
 *                    legacy-arch | none     AT_RSEQ_ALIGN its power of two /
 *                                           rseq(2) without V2 / the V2 auxv
 *                                           but every registration legacy (an
 *                                           architecture without the generic
 *                                           entry code, R3.2) / no rseq(2)
 *   SLICE            on | off | out | none  time slice extensions on a V2
 *                                           registration: usable / compiled in,
 *                                           disabled at boot / compiled out /
 *                                           kernel without prctl 79 and 471
 *   STATS            yes | no               debugfs rseq/stats
 *   KNOB             yes | no               debugfs rseq/slice_ext_nsec
 *   TRACE            none | NAME...         the tracefs events/rseq/ events,
 *                                           exactly (sorted, blank-separated)
 *   MEMBARRIER_RSEQ  yes | no               MEMBARRIER_CMD_QUERY lists
 *                                           PRIVATE_EXPEDITED_RSEQ
 *   GLIBC            legacy | v2 | none     glibc's own registration in the
 *                                           static programs (host glibc): 32
 *                                           bytes / the feature size / none;
 *                                           a program on glibc >= 2.41 expects
 *                                           v2 where ABI=v2 (R7)
 * A probed word that fits none of these is "inconsistent"; the detail says
 * what was seen.
 */
#ifndef RSEQKIT_KFACTS_H
#define RSEQKIT_KFACTS_H

#include <stdbool.h>
#include <stddef.h>

enum kfacts_key {
	KFACTS_ABI,
	KFACTS_SLICE,
	KFACTS_STATS,
	KFACTS_KNOB,
	KFACTS_TRACE,
	KFACTS_MEMBARRIER_RSEQ,
	KFACTS_GLIBC,
	KFACTS_NKEYS
};

#define KFACTS_VALUE_MAX 256
#define KFACTS_DETAIL_MAX 256

/* Environment variable prefix: RSEQKIT_EXPECT_ABI=v2 ... */
#define KFACTS_ENV_PREFIX "RSEQKIT_EXPECT_"
/* The same declaration as KEY=VALUE lines, written by the VM init. */
#define KFACTS_FILE "/rseqkit/expect"

struct kfacts {
	char value[KFACTS_NKEYS][KFACTS_VALUE_MAX];	/* "" = not known / not declared */
	char detail[KFACTS_NKEYS][KFACTS_DETAIL_MAX];	/* probed: what was seen */
	unsigned int have;				/* bit (1 << key): value is set */
	/* Probed only: a seccomp filter is installed, so what this process
	 * sees (e.g. rseq -> ENOSYS) need not be what the kernel offers. */
	bool sandboxed;
	/* Probed only: glibc was told not to register (GLIBC_TUNABLES). */
	bool glibc_tunable_off;
};

/* "ABI", "SLICE", ... */
const char *kfacts_key_name(enum kfacts_key key);
/* The words a key accepts, for messages ("v2 | legacy | none"). */
const char *kfacts_key_words(enum kfacts_key key);
/* The key named name (also with the RSEQKIT_EXPECT_ / EXPECT_ prefix), or -1. */
int kfacts_key_from_name(const char *name);

/*
 * Probe the running kernel. Forks a child for the slice check (it registers
 * a V2 area there), so the caller's own registration and state are untouched;
 * call it before creating threads.
 */
void kfacts_probe(struct kfacts *f);

/*
 * Declare key = value (normalised: TRACE sorted, blanks collapsed). Returns 0,
 * or -EINVAL with a message naming the key, the value and the accepted words
 * in err.
 */
int kfacts_declare(struct kfacts *f, enum kfacts_key key, const char *value,
		   char *err, size_t errlen);

/*
 * The declaration this program runs under: the RSEQKIT_EXPECT_* environment,
 * else the KFACTS_FILE the VM init wrote. Returns the number of keys declared
 * (0: none, e.g. on the host), or -EINVAL with err filled on a bad entry.
 */
int kfacts_declared(struct kfacts *f, char *err, size_t errlen);

/* Whether probed disagrees with declared on key (false if either is unset). */
bool kfacts_mismatch(const struct kfacts *declared, const struct kfacts *probed,
		     enum kfacts_key key);

#endif /* RSEQKIT_KFACTS_H */
