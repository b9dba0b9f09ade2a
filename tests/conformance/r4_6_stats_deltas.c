// SPDX-License-Identifier: MIT
/*
 * R4.6 (proving R4.1 / R4.2 by counting): with debugfs rseq/stats, a pinned
 * thread that sleeps 10,000 times with rseq_cs pointing at a descriptor (IP
 * outside the section, re-armed each time because legacy clears it):
 *   - legacy: about one `ids` write per switch, but almost no `cs`
 *     evaluation: like V2, upstream (7.x, generic entry, rseq debug off)
 *     evaluates rseq_cs only after a user-mode interruption, in legacy mode
 *     too (the R4.2 upstream ruling; the old 6.12 series evaluated it on
 *     every switch);
 *   - V2: almost none of either (IDs unchanged, never interrupted in user mode).
 * Prints the measured per-switch numbers. Skipped without rseq/stats (only
 * the patched kernel has it) or without V2.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "ct_rseq.h"
#include "tap.h"

#define SLEEPS 10000
#define MAX_NS 15000000000ULL	/* per mode, for TCG */

static struct kfeat k;
static struct rseqkit_abi_cs desc;

struct result {
	int err, sleeps;
	uint64_t switches;
	struct kfeat_stats d;
};

struct job {
	enum ct_mode m;
	struct result r;
};

static void *sleeper(void *arg)
{
	struct job *j = arg;
	struct ct_area a;
	struct kfeat_stats s0, s1;
	struct timespec ts = { 0, 1000 };
	uint64_t v0, v1, i0, i1, t0;
	int r, n = 0;

	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	tap_pin_cpu(ct_cpu(0));
	r = ct_area_register(&a, &k, j->m);
	if (r) {
		j->r.err = -r;
		return NULL;
	}
	usleep(1000);
	t0 = tap_now_ns();
	ct_thread_switches(&v0, &i0);
	kfeat_read_stats(&s0);
	for (; n < SLEEPS; n++) {
		if ((n & 255) == 0 && tap_now_ns() - t0 > MAX_NS)
			break;
		a.rs->rseq_cs = (uint64_t)(uintptr_t)&desc;
		nanosleep(&ts, NULL);
	}
	kfeat_read_stats(&s1);
	ct_thread_switches(&v1, &i1);
	a.rs->rseq_cs = 0;
	ct_area_unregister(&a);
	j->r.sleeps = n;
	j->r.switches = (v1 - v0) + (i1 - i0);
	j->r.d = kfeat_stats_delta(&s0, &s1);
	return NULL;
}

static bool measure(enum ct_mode m, struct result *res)
{
	struct job j;
	pthread_t th;

	memset(&j, 0, sizeof(j));
	j.m = m;
	pthread_create(&th, NULL, sleeper, &j);
	pthread_join(th, NULL);
	*res = j.r;
	if (res->err) {
		tap_ok(false, "R4.6 %s: registration: %s", ct_mode_name(m), tap_errno_name(res->err));
		return false;
	}
	if (!res->switches)
		res->switches = 1;
	tap_diag("%s: %d sleeps, %llu switches; per switch: ids %.3f, cs %.3f, fixups %.3f, exits %.3f",
		 ct_mode_name(m), res->sleeps, (unsigned long long)res->switches,
		 (double)res->d.ids / res->switches, (double)res->d.cs / res->switches,
		 (double)res->d.fixup / res->switches, (double)res->d.fastp / res->switches);
	return true;
}

int main(int argc, char **argv)
{
	struct kfeat_stats s;
	struct result l, v;
	int r;

	(void)argc;
	ct_start(argv, &k, "R4.6");
	if (!k.stats)
		tap_skip_all("R4.6: no debugfs %s/stats (unpatched kernel or debugfs not mounted)",
			     KFEAT_DEBUGFS);
	r = kfeat_read_stats(&s);
	if (r)
		tap_skip_all("R4.6: cannot read %s/stats: %s", KFEAT_DEBUGFS, tap_errno_name(-r));
	ct_cs_desc_init(&desc);

	if (measure(CT_LEGACY, &l)) {
		tap_ok(l.sleeps >= 1000, "R4.6 legacy: the sleeper ran %d sleeps (>= 1000)", l.sleeps);
		tap_ok(l.d.ids >= l.switches * 8 / 10,
		       "R4.1/R4.6 legacy: about one ids write per context switch (%llu for %llu switches)",
		       (unsigned long long)l.d.ids, (unsigned long long)l.switches);
		/* Only the generic entry code tracks user-mode interruptions;
		 * without it (ABI legacy-arch: arm64 on 6.12) upstream
		 * evaluates rseq_cs after every event. */
		if (k.v2)
			tap_ok(l.d.cs <= l.switches / 20,
			       "R4.2/R4.6 legacy: almost no rseq_cs evaluations for a pinned sleeper, only after a user-mode interruption as upstream (%llu for %llu switches, <= 5%%)",
			       (unsigned long long)l.d.cs, (unsigned long long)l.switches);
		else
			tap_ok(l.d.cs >= l.switches * 8 / 10,
			       "R4.2/R4.6 legacy: about one rseq_cs evaluation per context switch, no user-mode interruption tracking on this architecture as upstream (%llu for %llu switches)",
			       (unsigned long long)l.d.cs, (unsigned long long)l.switches);
	}
	if (!k.v2) {
		tap_skip("R4.6 V2: ids/cs per switch: kernel has no V2 (feature size %lu)", k.feature_size);
	} else if (measure(CT_V2, &v)) {
		tap_ok(v.sleeps >= 1000, "R4.6 V2: the sleeper ran %d sleeps (>= 1000)", v.sleeps);
		tap_ok(v.d.ids <= v.switches / 20,
		       "R4.1/R4.6 V2: almost no ids writes for a pinned sleeper (%llu for %llu switches, <= 5%%)",
		       (unsigned long long)v.d.ids, (unsigned long long)v.switches);
		tap_ok(v.d.cs <= v.switches / 20,
		       "R4.2/R4.6 V2: almost no rseq_cs evaluations for a pinned sleeper (%llu for %llu switches, <= 5%%)",
		       (unsigned long long)v.d.cs, (unsigned long long)v.switches);
	}
	return tap_done();
}
