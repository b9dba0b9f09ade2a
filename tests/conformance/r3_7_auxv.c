// SPDX-License-Identifier: MIT
/*
 * R3.7 / R1: the auxiliary vector. On a V2 kernel AT_RSEQ_FEATURE_SIZE = 33
 * and AT_RSEQ_ALIGN = 64. On every kernel with the entries (6.3+): the
 * alignment is the next power of two of the feature size, and getauxval()
 * agrees with /proc/self/auxv.
 */
#include <errno.h>
#include <stdio.h>
#include <sys/auxv.h>

#include "ct_rseq.h"
#include "tap.h"

static int proc_auxv(unsigned long type, unsigned long *val)
{
	unsigned long e[2];
	FILE *f = fopen("/proc/self/auxv", "r");
	int found = 0;

	if (!f)
		return -errno;
	while (fread(e, sizeof(e), 1, f) == 1 && e[0] != AT_NULL) {
		if (e[0] == type) {
			*val = e[1];
			found = 1;
		}
	}
	fclose(f);
	return found ? 0 : -ENOENT;
}

int main(int argc, char **argv)
{
	struct kfeat k;
	unsigned long fs, al, pfs = 0, pal = 0, p2 = 1;
	int r1, r2;

	(void)argc;
	ct_start(argv, &k, "R3.7");
	fs = getauxval(RSEQKIT_AT_RSEQ_FEATURE_SIZE);
	al = getauxval(RSEQKIT_AT_RSEQ_ALIGN);
	if (!fs && !al)
		tap_skip_all("R3.7: no AT_RSEQ_FEATURE_SIZE/AT_RSEQ_ALIGN (kernel before 6.3)");
	r1 = proc_auxv(RSEQKIT_AT_RSEQ_FEATURE_SIZE, &pfs);
	r2 = proc_auxv(RSEQKIT_AT_RSEQ_ALIGN, &pal);
	if (r1 == -ENOENT || r2 == -ENOENT || (r1 && r2))
		tap_skip("R3.7: /proc/self/auxv not readable or incomplete (%s)", tap_errno_name(-(r1 ? r1 : r2)));
	else
		tap_ok(pfs == fs && pal == al,
		       "R3.7: /proc/self/auxv agrees with getauxval (feature size %lu, align %lu)", pfs, pal);
	tap_ok(fs >= 20, "R3.7: AT_RSEQ_FEATURE_SIZE %lu >= 20 (the original usable size)", fs);
	while (p2 < fs)
		p2 <<= 1;
	tap_ok(al == p2 && al >= 32,
	       "R3.7: AT_RSEQ_ALIGN %lu = next power of two of the feature size (%lu), >= 32", al, p2);
	if (fs < RSEQKIT_FEATURE_SIZE_V2) {
		tap_skip("R3.7: AT_RSEQ_FEATURE_SIZE = 33, AT_RSEQ_ALIGN = 64: kernel has no V2 (feature size %lu)",
			 fs);
	} else {
		tap_ok(fs == RSEQKIT_FEATURE_SIZE_V2, "R3.7: AT_RSEQ_FEATURE_SIZE = 33 (got %lu)", fs);
		tap_ok(al == RSEQKIT_ALIGN_V2, "R3.7: AT_RSEQ_ALIGN = 64 (got %lu)", al);
	}
	return tap_done();
}
