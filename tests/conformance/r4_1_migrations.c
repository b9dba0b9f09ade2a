// SPDX-License-Identifier: MIT
/*
 * R4.1, both columns: after each of hundreds of forced migrations
 * (sched_setaffinity between two CPUs) cpu_id and cpu_id_start equal the CPU
 * the thread runs on, node_id its node, mm_cid a valid concurrency id. In V2
 * the kernel writes the IDs only when they change; a migration changes them.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "ct_rseq.h"
#include "tap.h"

#define N 300
#define MAX_NS 20000000000ULL	/* bound under TCG */

static struct kfeat k;

static void run(enum ct_mode m)
{
	const char *mn = ct_mode_name(m), *why;
	struct ct_area a;
	unsigned int cpu, node;
	uint32_t ncpu_conf = (uint32_t)sysconf(_SC_NPROCESSORS_CONF);
	int done = 0, bad_cpu = 0, bad_other = 0;
	uint64_t t0 = tap_now_ns();

	if (!ct_mode_usable(&k, m, &why) || (ct_ncpus() < 2 && (why = "needs 2 CPUs"))) {
		tap_skip("R4.1 %s: IDs after %d forced migrations: %s", mn, N, why);
		return;
	}
	tap_pin_cpu(ct_cpu(0));
	if (ct_area_register(&a, &k, m)) {
		tap_ok(false, "R4.1 %s: registration: %s", mn, tap_errno_name(errno));
		return;
	}
	for (int i = 1; i <= N && tap_now_ns() - t0 < MAX_NS; i++) {
		int want = ct_cpu(i);

		if (tap_pin_cpu(want))
			break;
		done++;
		ct_getcpu(&cpu, &node);
		if (a.rs->cpu_id != (uint32_t)want || a.rs->cpu_id_start != (uint32_t)want ||
		    cpu != (unsigned int)want) {
			if (bad_cpu++ < 3)
				tap_diag("  migration %d to CPU %d: cpu_id %d, cpu_id_start %u, getcpu %u",
					 i, want, (int32_t)a.rs->cpu_id, a.rs->cpu_id_start, cpu);
		}
		if (a.rs->node_id != node || a.rs->mm_cid >= ncpu_conf)
			bad_other++;
	}
	ct_area_unregister(&a);
	tap_ok(done >= 100 && bad_cpu == 0,
	       "R4.1 %s: cpu_id and cpu_id_start = the new CPU after each of %d forced migrations (%d wrong)",
	       mn, done, bad_cpu);
	tap_ok(done >= 100 && bad_other == 0,
	       "R4.1 %s: node_id = getcpu node and mm_cid valid after each migration (%d wrong)",
	       mn, bad_other);
}

int main(int argc, char **argv)
{
	(void)argc;
	ct_start(argv, &k, "R4.1");
	run(CT_LEGACY);
	run(CT_V2);
	return tap_done();
}
