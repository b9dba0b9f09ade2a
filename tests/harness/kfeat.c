// SPDX-License-Identifier: MIT
/* Run-time probing of the kernel's RSEQ features for the tests. */

#include "kfeat.h"
#include "tap.h"

#include <errno.h>
#include <linux/membarrier.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <rseqkit/abi.h>

void kfeat_probe(struct kfeat *k)
{
	long cmds;

	memset(k, 0, sizeof(*k));
	/* A NULL area with a bad length is rejected before any other check
	 * except ENOSYS, so this never registers anything. */
	k->rseq = !(tap_sys_rseq(NULL, 0, 0, 0) == -1 && errno == ENOSYS);
	k->feature_size = getauxval(RSEQKIT_AT_RSEQ_FEATURE_SIZE);
	if (!k->feature_size)
		k->feature_size = RSEQKIT_LEGACY_USABLE_SIZE;
	k->align = getauxval(RSEQKIT_AT_RSEQ_ALIGN);
	if (!k->align)
		k->align = RSEQKIT_ORIG_SIZE;
	k->v2 = k->rseq && k->feature_size >= RSEQKIT_FEATURE_SIZE_V2;
	k->stats = access(KFEAT_DEBUGFS "/stats", R_OK) == 0;
	k->slice_knob = access(KFEAT_DEBUGFS "/slice_ext_nsec", R_OK) == 0;
	cmds = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
	k->membarrier_rseq = cmds > 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ);
}

void kfeat_diag(const struct kfeat *k)
{
	tap_diag("kernel: rseq %s, feature size %lu, align %lu, V2 %s, stats %s, membarrier rseq %s",
		 k->rseq ? "yes" : "no", k->feature_size, k->align,
		 k->v2 ? "yes" : "no", k->stats ? "yes" : "no",
		 k->membarrier_rseq ? "yes" : "no");
}

int kfeat_read_stats(struct kfeat_stats *s)
{
	return rseqkit_kstats_read(s);
}

struct kfeat_stats kfeat_stats_delta(const struct kfeat_stats *a,
				     const struct kfeat_stats *b)
{
	struct kfeat_stats d;

	rseqkit_kstats_delta(&d, a, b);
	return d;
}
