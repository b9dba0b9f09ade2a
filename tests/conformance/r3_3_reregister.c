// SPDX-License-Identifier: MIT
/*
 * R3.3: rseq(2) on a thread that is already registered: same pointer, length
 * and signature -> EBUSY; same pointer and length, other signature -> EPERM;
 * other pointer or length -> EINVAL (checked before the signature). The
 * registration survives every failed attempt. Legacy (len 32) and V2 (len
 * AT_RSEQ_FEATURE_SIZE) columns.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ct_rseq.h"
#include "tap.h"

#define SIG RSEQKIT_SIG
#define OSIG CT_OTHER_SIG

static void run_mode(const struct kfeat *k, enum ct_mode m)
{
	const char *mn = ct_mode_name(m), *why;
	uint32_t len = ct_mode_len(k, m);
	uint32_t olen = ct_other_len(k, m);
	struct rseqkit_abi_rseq *a, *b;
	unsigned int cpu, node;
	long r;

	if (!ct_mode_usable(k, m, &why)) {
		tap_skip("R3.3 %s: re-registration matrix: %s", mn, why);
		return;
	}
	a = ct_alloc(CT_PAGE, CT_PAGE);
	b = ct_alloc(CT_PAGE, CT_PAGE);
	/* Pinned, so cpu_id can be compared with getcpu(2). */
	if (ct_getcpu(&cpu, &node) == 0)
		tap_pin_cpu((int)cpu);
	r = tap_sys_rseq(a, len, 0, SIG);
	if (!tap_expect_errno(r, errno, 0, "R3.3 %s: first registration (len %u) -> 0", mn, len))
		goto out;

	r = tap_sys_rseq(a, len, 0, SIG);
	tap_expect_errno(r, errno, EBUSY, "R3.3 %s: same ptr, len %u, sig -> EBUSY", mn, len);
	r = tap_sys_rseq(a, len, 0, OSIG);
	tap_expect_errno(r, errno, EPERM, "R3.3 %s: same ptr and len, other sig -> EPERM", mn);
	r = tap_sys_rseq(b, len, 0, SIG);
	tap_expect_errno(r, errno, EINVAL, "R3.3 %s: other ptr, same len and sig -> EINVAL", mn);
	r = tap_sys_rseq(b, len, 0, OSIG);
	tap_expect_errno(r, errno, EINVAL,
			 "R3.3 %s: other ptr and other sig -> EINVAL (pointer checked before sig)", mn);
	r = tap_sys_rseq(a, olen, 0, SIG);
	tap_expect_errno(r, errno, EINVAL, "R3.3 %s: same ptr, other len %u -> EINVAL", mn, olen);
	r = tap_sys_rseq(a, olen, 0, OSIG);
	tap_expect_errno(r, errno, EINVAL,
			 "R3.3 %s: same ptr, other len %u, other sig -> EINVAL (len checked before sig)",
			 mn, olen);
	r = tap_sys_rseq(a, 31, 0, SIG);
	tap_expect_errno(r, errno, EINVAL, "R3.3 %s: same ptr, len 31 -> EINVAL", mn);
	r = tap_sys_rseq(a, len, 4, SIG);
	tap_expect_errno(r, errno, EINVAL, "R3.1/R3.3 %s: unknown flag 4 while registered -> EINVAL", mn);

	/* Still registered, same area: the IDs are kept current (legacy
	 * rewrites a scribbled cpu_id after a sleep; V2 must not be scribbled,
	 * R4.3, so it is only compared). */
	if (m == CT_LEGACY)
		a->cpu_id = (uint32_t)-5;
	ct_sleep_switch(1000);
	if (ct_getcpu(&cpu, &node) == 0)
		tap_ok(a->cpu_id == cpu && a->cpu_id_start == cpu,
		       "R3.3 %s: registration intact after failed attempts (cpu_id %d, cpu %u)",
		       mn, (int)a->cpu_id, cpu);
	r = tap_sys_rseq(a, len, RSEQKIT_FLAG_UNREGISTER, SIG);
	tap_expect_errno(r, errno, 0, "R3.3 %s: original registration unregisters -> 0", mn);
out:
	free(a);
	free(b);
}

int main(int argc, char **argv)
{
	struct kfeat k;

	(void)argc;
	ct_start(argv, &k, "R3.3");
	run_mode(&k, CT_LEGACY);
	run_mode(&k, CT_V2);
	return tap_done();
}
