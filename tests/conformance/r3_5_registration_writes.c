// SPDX-License-Identifier: MIT
/*
 * R3.5: what registration writes, observed on the first user instruction
 * after rseq(2) returns: rseq_cs = 0 (it was pointing at a descriptor);
 * flags = the feature bits of R6.1 (legacy: none; V2: SLICE_EXT_AVAILABLE,
 * plus ..._ENABLED with RSEQ_FLAG_SLICE_EXT_DEFAULT_ON, where the scenario
 * says slice extensions are on; neither where it says they are off); cpu_id_start, cpu_id, node_id, mm_cid = current values;
 * V2 clears slice_ctrl; legacy leaves bytes 28.. alone (more in
 * r3_5_legacy_untouched_tail). The area is pattern-filled beforehand.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ct_rseq.h"
#include "tap.h"

#define AVAIL RSEQKIT_CS_FLAG_SLICE_EXT_AVAILABLE
#define ENABLED RSEQKIT_CS_FLAG_SLICE_EXT_ENABLED

static struct rseqkit_abi_cs desc;

static void run(const struct kfeat *k, enum ct_mode m, int flags)
{
	const char *mn = ct_mode_name(m), *why;
	uint32_t len = ct_mode_len(k, m);
	unsigned char *p = ct_alloc(CT_PAGE, CT_PAGE), before[64];
	/* Read as a struct rseq below: aligned like one. */
	unsigned char snap[64] __attribute__((aligned(RSEQKIT_ORIG_SIZE)));
	struct rseqkit_abi_rseq *a = (struct rseqkit_abi_rseq *)p, *s;
	unsigned int cpu, node;
	char name[48];
	long r;
	int err;

	snprintf(name, sizeof(name), "%s%s", mn, flags ? " +DEFAULT_ON" : "");
	if (!ct_mode_usable(k, m, &why) ||
	    (flags && !k->v2 && (why = "DEFAULT_ON is unknown without V2 (feature size < 33)"))) {
		tap_skip("R3.5 %s: registration writes: %s", name, why);
		free(p);
		return;
	}
	if (ct_getcpu(&cpu, &node) || tap_pin_cpu((int)cpu))
		tap_bail("getcpu/pin: %s", tap_errno_name(errno));

	memset(p, 0xa5, 64);
	a->rseq_cs = (uint64_t)(uintptr_t)&desc;
	/* A pre-V2 kernel never writes flags; keep them valid there. */
	if (!k->v2)
		a->flags = 0;
	memcpy(before, p, 64);
	r = tap_sys_rseq(a, len, flags, RSEQKIT_SIG);
	err = errno;
	memcpy(snap, p, 64);	/* before any other syscall */
	s = (struct rseqkit_abi_rseq *)snap;
	if (!tap_expect_errno(r, err, 0, "R3.5 %s: registration (len %u, flags %d) -> 0", name, len, flags)) {
		free(p);
		return;
	}
	tap_ok(s->rseq_cs == 0, "R3.5 %s: registration clears rseq_cs (got 0x%llx)", name,
	       (unsigned long long)s->rseq_cs);
	tap_ok(s->cpu_id_start == cpu, "R3.5 %s: cpu_id_start = current CPU %u (got %u)", name,
	       cpu, s->cpu_id_start);
	tap_ok(s->cpu_id == cpu, "R3.5 %s: cpu_id = current CPU %u (got %d)", name, cpu,
	       (int32_t)s->cpu_id);
	tap_ok(s->node_id == node, "R3.5 %s: node_id = current node %u (got %u)", name, node,
	       s->node_id);
	tap_ok(s->mm_cid < (uint32_t)sysconf(_SC_NPROCESSORS_CONF),
	       "R3.5 %s: mm_cid = a valid concurrency id < %ld (got %u)", name,
	       sysconf(_SC_NPROCESSORS_CONF), s->mm_cid);
	if (!k->v2_kernel) {
		tap_skip("R3.5 %s: registration writes flags: pre-V2 kernel (feature size %lu) leaves them",
			 name, k->feature_size);
	} else if (m == CT_LEGACY || !k->v2) {	/* !v2: legacy-arch, every one legacy */
		tap_ok(s->flags == 0, "R3.5 %s: flags = 0 (no feature bits in legacy mode; got 0x%x)",
		       name, s->flags);
	} else {
		/* R6.1: the bits follow from the scenario, not from the kernel. */
		uint32_t want = !kfeat_slice_on(k) ? 0 : flags ? AVAIL | ENABLED : AVAIL;

		tap_ok(s->flags == want, "R3.5/R6.1 %s: flags = 0x%x (slice extensions %s) (got 0x%x)",
		       name, want, kfeat_slice_on(k) ? "on" : "off", s->flags);
	}
	if (m == CT_LEGACY)
		tap_ok(!memcmp(snap + 28, before + 28, 36),
		       "R3.5 %s: bytes 28..63 untouched by registration", name);
	else if (k->slice == KFEAT_SLICE_ON || k->slice == KFEAT_SLICE_OFF)
		tap_ok(s->slice_ctrl.all == 0, "R3.5 %s: registration clears slice_ctrl (got 0x%x)",
		       name, s->slice_ctrl.all);
	else
		tap_skip("R3.5 %s: registration clears slice_ctrl: slice extensions compiled out "
			 "(upstream then leaves the word alone)", name);
	r = tap_sys_rseq(a, len, RSEQKIT_FLAG_UNREGISTER, RSEQKIT_SIG);
	tap_expect_errno(r, errno, 0, "R3.4 %s: unregistration -> 0", name);
	free(p);
}

int main(int argc, char **argv)
{
	struct kfeat k;

	(void)argc;
	ct_start(argv, &k, "R3.5");
	ct_cs_desc_init(&desc);
	run(&k, CT_LEGACY, 0);
	run(&k, CT_LEGACY, RSEQKIT_FLAG_SLICE_EXT_DEFAULT_ON);
	run(&k, CT_V2, 0);
	run(&k, CT_V2, RSEQKIT_FLAG_SLICE_EXT_DEFAULT_ON);
	return tap_done();
}
