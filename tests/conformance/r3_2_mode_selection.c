// SPDX-License-Identifier: MIT
/*
 * R3.2: the registered length selects the mode: len 32 -> legacy, len >= 33
 * (valid per R3.1) -> optimized V2 (x86_64). The mode is told apart by its
 * R4.3 behaviour in a forked child: cpu_id_start is scribbled, then a
 * migration makes the kernel write the IDs; legacy overwrites the value and
 * lives, V2 kills with SIGSEGV. On a pre-V2 kernel every accepted length
 * keeps the old (legacy) behaviour.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "ct_rseq.h"
#include "tap.h"

static struct kfeat k;

/* 0: survived, cpu_id_start rewritten; 2 setup failed; 3 not rewritten. */
static int child(void *arg)
{
	uint32_t len = (uint32_t)(uintptr_t)arg;
	struct rseqkit_abi_rseq *a = ct_alloc(8192, 4096);
	uint32_t bad;

	if (tap_pin_cpu(ct_cpu(0)) || ct_register(a, len, 0))
		return 2;
	bad = a->cpu_id_start ^ 0x40404040u;
	a->cpu_id_start = bad;
	tap_pin_cpu(ct_cpu(1));
	for (int i = 0; i < 100; i++)
		usleep(1000);
	return a->cpu_id_start == bad ? 3 : 0;
}

int main(int argc, char **argv)
{
	uint32_t lens[] = { 32, 0, 64, 4096 };

	(void)argc;
	ct_start(argv, &k, "R3.2");
	if (k.feature_size < 28)
		tap_skip_all("R3.2: pre-6.3 kernel accepts only len 32");
	lens[1] = ct_mode_len(&k, CT_V2);
	if (ct_ncpus() < 2)
		tap_skip_all("R3.2: needs 2 CPUs to force the ID write (migration)");
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		void *arg = (void *)(uintptr_t)lens[i];

		if (lens[i] == RSEQKIT_ORIG_SIZE)
			tap_fork_expect_exit(child, arg, 0,
					     "R3.2: len 32 registers legacy (scribbled cpu_id_start rewritten, no kill)");
		else if (k.v2)
			tap_fork_expect_signal(child, arg, SIGSEGV,
					       "R3.2: len %u registers V2 (scribbled cpu_id_start + migration -> SIGSEGV)",
					       lens[i]);
		else
			tap_fork_expect_exit(child, arg, 0,
					     "R3.2: len %u on a pre-V2 kernel (feature size %lu) keeps legacy behaviour (no kill)",
					     lens[i], k.feature_size);
	}
	return tap_done();
}
