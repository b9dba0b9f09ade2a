// SPDX-License-Identifier: MIT
/*
 * R3.4: unregistration (RSEQ_FLAG_UNREGISTER). Other flag bits -> EINVAL;
 * nothing registered or other pointer -> EINVAL; other length -> EINVAL;
 * other signature -> EPERM. On success the kernel writes cpu_id_start = 0,
 * cpu_id = -1, node_id = 0, mm_cid = 0 and stops updating the area; a new
 * registration is then possible. Legacy and V2 columns.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ct_rseq.h"
#include "tap.h"

#define SIG RSEQKIT_SIG
#define OSIG CT_OTHER_SIG
#define UNREG RSEQKIT_FLAG_UNREGISTER

static void run_mode(const struct kfeat *k, enum ct_mode m)
{
	const char *mn = ct_mode_name(m), *why;
	uint32_t len = ct_mode_len(k, m);
	uint32_t olen = ct_other_len(k, m);
	struct rseqkit_abi_rseq *a, *b;
	unsigned char tail[64];
	long r;

	if (!ct_mode_usable(k, m, &why)) {
		tap_skip("R3.4 %s: unregistration matrix: %s", mn, why);
		return;
	}
	a = ct_alloc(CT_PAGE, CT_PAGE);
	b = ct_alloc(CT_PAGE, CT_PAGE);

	r = tap_sys_rseq(a, len, UNREG, SIG);
	tap_expect_errno(r, errno, EINVAL, "R3.4 %s: unregister with nothing registered -> EINVAL", mn);
	r = tap_sys_rseq(a, len, 0, SIG);
	if (!tap_expect_errno(r, errno, 0, "R3.4 %s: registration (len %u) -> 0", mn, len))
		goto out;

	r = tap_sys_rseq(a, len, UNREG | RSEQKIT_FLAG_SLICE_EXT_DEFAULT_ON, SIG);
	tap_expect_errno(r, errno, EINVAL, "R3.4 %s: UNREGISTER|DEFAULT_ON (0x3) -> EINVAL", mn);
	r = tap_sys_rseq(a, len, UNREG | 4, SIG);
	tap_expect_errno(r, errno, EINVAL, "R3.4 %s: UNREGISTER|4 -> EINVAL", mn);
	r = tap_sys_rseq(b, len, UNREG, SIG);
	tap_expect_errno(r, errno, EINVAL, "R3.4 %s: other pointer -> EINVAL", mn);
	r = tap_sys_rseq(NULL, len, UNREG, SIG);
	tap_expect_errno(r, errno, EINVAL, "R3.4 %s: NULL pointer -> EINVAL", mn);
	r = tap_sys_rseq(a, olen, UNREG, SIG);
	tap_expect_errno(r, errno, EINVAL, "R3.4 %s: other length %u -> EINVAL", mn, olen);
	r = tap_sys_rseq(a, len, UNREG, OSIG);
	tap_expect_errno(r, errno, EPERM, "R3.4 %s: other signature -> EPERM", mn);
	r = tap_sys_rseq(b, len, UNREG, OSIG);
	tap_expect_errno(r, errno, EINVAL,
			 "R3.4 %s: other pointer and signature -> EINVAL (pointer checked before sig)", mn);
	r = tap_sys_rseq(a, olen, UNREG, OSIG);
	tap_expect_errno(r, errno, EINVAL,
			 "R3.4 %s: other length and signature -> EINVAL (length checked before sig)", mn);

	/* Legacy: the bytes from 28 on are the user's (R3.5), also here. */
	if (m == CT_LEGACY) {
		for (int i = 28; i < 64; i++)
			((unsigned char *)a)[i] = (unsigned char)(0xc0 + i);
	}
	memcpy(tail, (unsigned char *)a + 28, 36);
	r = tap_sys_rseq(a, len, UNREG, SIG);
	if (!tap_expect_errno(r, errno, 0, "R3.4 %s: matching unregistration -> 0", mn))
		goto out;
	tap_ok(a->cpu_id_start == 0, "R3.4 %s: unregistration writes cpu_id_start = 0 (got %u)",
	       mn, a->cpu_id_start);
	tap_ok((int32_t)a->cpu_id == RSEQKIT_CPU_ID_UNINITIALIZED,
	       "R3.4 %s: unregistration writes cpu_id = -1 (got %d)", mn, (int32_t)a->cpu_id);
	tap_ok(a->node_id == 0, "R3.4 %s: unregistration writes node_id = 0 (got %u)", mn, a->node_id);
	tap_ok(a->mm_cid == 0, "R3.4 %s: unregistration writes mm_cid = 0 (got %u)", mn, a->mm_cid);
	if (m == CT_LEGACY)
		tap_ok(!memcmp(tail, (unsigned char *)a + 28, 36),
		       "R3.4/R3.5 legacy: unregistration leaves bytes 28..63 alone");

	/* Unregistered: the kernel no longer writes the area. */
	a->cpu_id_start = 0x7777;
	a->cpu_id = 0x7777;
	for (int i = 0; i < 5; i++) {
		usleep(200);
		if (ct_ncpus() > 1)
			tap_pin_cpu(ct_cpu(i));
	}
	tap_ok(a->cpu_id_start == 0x7777 && a->cpu_id == 0x7777,
	       "R3.4 %s: after unregistration sleeps and migrations leave the area alone", mn);
	r = tap_sys_rseq(a, len, UNREG, SIG);
	tap_expect_errno(r, errno, EINVAL, "R3.4 %s: second unregistration -> EINVAL", mn);

	r = tap_sys_rseq(b, len, 0, SIG);
	tap_expect_errno(r, errno, 0, "R3.4 %s: a new registration after unregistration -> 0", mn);
	if (r == 0) {
		r = tap_sys_rseq(b, len, UNREG, SIG);
		tap_expect_errno(r, errno, 0, "R3.4 %s: ... and its unregistration -> 0", mn);
	}
out:
	free(a);
	free(b);
}

int main(int argc, char **argv)
{
	struct kfeat k;

	(void)argc;
	ct_start(argv, &k, "R3.4");
	run_mode(&k, CT_LEGACY);
	run_mode(&k, CT_V2);
	return tap_done();
}
