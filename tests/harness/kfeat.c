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
	static const struct { const char *name; size_t off; } fields[] = {
#define F(x) { #x, offsetof(struct kfeat_stats, x) }
		F(exits), F(ids), F(cs), F(fixups), F(granted), F(expired),
		F(revoked), F(yielded), F(aborted),
#undef F
	};
	char name[32];
	unsigned long long v;
	FILE *f = fopen(KFEAT_DEBUGFS "/stats", "r");

	memset(s, 0, sizeof(*s));
	if (!f)
		return -errno;
	while (fscanf(f, " %31[^:]: %llu", name, &v) == 2) {
		for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
			if (!strcmp(name, fields[i].name))
				*(uint64_t *)((char *)s + fields[i].off) = v;
	}
	fclose(f);
	return 0;
}

struct kfeat_stats kfeat_stats_delta(const struct kfeat_stats *a,
				     const struct kfeat_stats *b)
{
	struct kfeat_stats d;
	const uint64_t *pa = (const uint64_t *)a, *pb = (const uint64_t *)b;
	uint64_t *pd = (uint64_t *)&d;

	for (size_t i = 0; i < sizeof(d) / sizeof(uint64_t); i++)
		pd[i] = pb[i] - pa[i];
	return d;
}
