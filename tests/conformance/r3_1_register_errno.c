// SPDX-License-Identifier: MIT
/*
 * R3.1: the registration errno matrix, lengths 0, 16, 31, 32, 33, 64, 4096 x
 * alignments 8, 32, 64, 4096 x flags 0, 2, 4, for a thread with no
 * registration, plus the EFAULT position in the check order. Expectations are
 * computed from the running kernel's auxiliary vector:
 *   - V2 kernel (AT_RSEQ_FEATURE_SIZE >= 33): spec R3.1 as written;
 *   - 6.3 .. 6.18 (feature size 28, align 32): flag 2 is unknown (only 0 is
 *     valid), len > 32 must be aligned to __alignof__(struct rseq) == 32 ==
 *     AT_RSEQ_ALIGN and be >= the feature size (kernel/rseq.c of 6.12);
 *   - before 6.3 (no auxv entries): only len 32.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "ct_rseq.h"
#include "tap.h"

static const uint32_t lens[] = { 0, 16, 31, 32, 33, 64, 4096 };
static const size_t aligns[] = { 8, 32, 64, 4096 };
static const int flagsv[] = { 0, 2, 4 };

/* Expected errno (0: success) and why, for a thread with no registration. */
static int expected(const struct kfeat *k, uintptr_t ptr, uint32_t len, int flags,
		    bool user_ptr, char *why, size_t n)
{
	/* Upstream knows the flag on every architecture (kernel/rseq.c
	 * RSEQ_FLAGS_SUPPORTED), also where registrations run legacy. */
	int known = k->v2_kernel ? (int)RSEQKIT_FLAG_SLICE_EXT_DEFAULT_ON : 0;
	bool pre63 = k->feature_size < 28;

	if (flags & ~known) {
		snprintf(why, n, "unknown flag bits 0x%x", flags & ~known);
		return EINVAL;
	}
	if (len < RSEQKIT_ORIG_SIZE) {
		snprintf(why, n, "len < 32");
		return EINVAL;
	}
	if (len == RSEQKIT_ORIG_SIZE && ptr % RSEQKIT_ORIG_SIZE) {
		snprintf(why, n, "len 32 not 32-byte aligned");
		return EINVAL;
	}
	if (len > RSEQKIT_ORIG_SIZE && pre63) {
		snprintf(why, n, "pre-6.3 kernel: only len 32");
		return EINVAL;
	}
	if (len > RSEQKIT_ORIG_SIZE && ptr % k->align) {
		snprintf(why, n, "not aligned to AT_RSEQ_ALIGN %lu", k->align);
		return EINVAL;
	}
	if (len > RSEQKIT_ORIG_SIZE && len < k->feature_size) {
		snprintf(why, n, "len < AT_RSEQ_FEATURE_SIZE %lu", k->feature_size);
		return EINVAL;
	}
	if (!user_ptr) {
		snprintf(why, n, "not a user address");
		return EFAULT;
	}
	snprintf(why, n, "%s registration",
		 len == RSEQKIT_ORIG_SIZE || !k->v2 ? "legacy" : "V2");
	return 0;
}

static void one(const struct kfeat *k, char *ptr, size_t align, uint32_t len,
		int flags, bool user_ptr)
{
	char why[96], what[64];
	int exp = expected(k, (uintptr_t)ptr, len, flags, user_ptr, why, sizeof(why));
	long ret = ct_register(ptr, len, flags);
	int err = errno;

	if (user_ptr)
		snprintf(what, sizeof(what), "align %zu", align);
	else
		snprintf(what, sizeof(what), "kernel address %p", (void *)ptr);
	tap_expect_errno(ret, err, exp, "R3.1: len %u, %s, flags %d -> %s (%s)",
			 len, what, flags, exp ? tap_errno_name(exp) : "0", why);
	if (ret == 0) {
		/* Leave the thread unregistered for the next case. */
		if (ct_unregister(ptr, len))
			tap_bail("unregister after len %u, %s, flags %d: %s", len, what,
				 flags, tap_errno_name(errno));
	}
}

int main(int argc, char **argv)
{
	struct kfeat k;
	char *base;
	/* Canonical kernel half: never a valid user range. */
	char *kptr = (char *)(uintptr_t)CT_KERNEL_ADDR;

	(void)argc;
	ct_start(argv, &k, "R3.1");
	/* base + a is aligned to a but not to 2a, for every a < 8192; 16 KiB
	 * leave room for len 4096 at offset 4096. */
	base = ct_alloc(16384, 8192);
	tap_plan((int)(sizeof(lens) / sizeof(lens[0]) * sizeof(aligns) / sizeof(aligns[0]) *
		       sizeof(flagsv) / sizeof(flagsv[0])) + 5);
	for (size_t f = 0; f < sizeof(flagsv) / sizeof(flagsv[0]); f++)
		for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++)
			for (size_t a = 0; a < sizeof(aligns) / sizeof(aligns[0]); a++)
				one(&k, base + aligns[a], aligns[a], lens[l], flagsv[f], true);

	/* EFAULT comes last in the order: after flags, length and alignment. */
	one(&k, kptr, 0, RSEQKIT_ORIG_SIZE, 0, false);
	one(&k, kptr, 0, ct_mode_len(&k, CT_V2), 0, false);
	one(&k, kptr, 0, 31, 0, false);
	one(&k, kptr, 0, RSEQKIT_ORIG_SIZE, 4, false);
	one(&k, kptr + 8, 0, RSEQKIT_ORIG_SIZE, 0, false);
	free(base);
	return tap_done();
}
