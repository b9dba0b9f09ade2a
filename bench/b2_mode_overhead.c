// SPDX-License-Identifier: MIT
/*
 * B2: what each RSEQ mode costs the kernel (DESIGN "Benchmarks"; issue:
 * slice extensions in librseqkit). Three registrations of the worker threads:
 *   none     not registered (glibc told to stay out, nobody registers)
 *   legacy   a 32-byte registration: IDs rewritten and rseq_cs evaluated
 *            after every context switch (R4.1, R4.2)
 *   V2       a feature-size registration: work only when something changed
 * and two workloads:
 *   syscall        getppid() in a loop (no context switch)
 *   futex_pingpong two threads on one CPU handing a token back and forth
 *                  through futexes: every operation is two context switches
 * Timing: median and p99 of repetitions (bench.h). Kernel work: the debugfs
 * rseq/stats deltas per context switch (R4.6), where the kernel has them.
 * Targets: V2 ids+cs <= 0.01 per switch (legacy ~1); V2 time within 1% of none.
 *
 * Defaults: 11 repetitions of 200k syscalls / 20k round trips per mode.
 * Extra options: --quick (5 repetitions, fewer operations: the demo).
 */
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <rseqkit/abi.h>
#include <rseqkit/kstats.h>
#include "../bench/bench.h"
#include "tap.h"

#define BENCH "b2_mode_overhead"

enum mode { MODE_NONE, MODE_LEGACY, MODE_V2, NR_MODES };
static const char *const mode_names[] = { "none", "legacy", "V2" };

static enum mode cur_mode;
static uint32_t feature_size = 32;

/* Each worker thread registers its own area once, in the current mode: room
 * for any feature size the kernel reports (struct rseqkit_abi_rseq ends in a
 * flexible array, so the area is plain bytes). */
static __thread unsigned char area[128] __attribute__((aligned(64)));
static __thread int registered_mode = -1;

static int register_thread(void)
{
	uint32_t len;

	if (registered_mode == (int)cur_mode)
		return 0;
	if (registered_mode > MODE_NONE)
		syscall(RSEQKIT_NR_rseq, area, registered_mode == MODE_LEGACY ? 32 : feature_size,
			RSEQKIT_FLAG_UNREGISTER, RSEQKIT_SIG);
	registered_mode = MODE_NONE;
	if (cur_mode == MODE_NONE)
		return 0;
	len = cur_mode == MODE_LEGACY ? 32 : feature_size;
	if (syscall(RSEQKIT_NR_rseq, area, len, 0, RSEQKIT_SIG))
		return -errno;
	registered_mode = (int)cur_mode;
	return 0;
}

static void syscall_fn(void *ctx, int tid, long n)
{
	(void)ctx;
	(void)tid;
	register_thread();
	for (long i = 0; i < n; i++)
		syscall(SYS_getppid);
}

/* The token: whose turn it is (0 or 1). */
static uint32_t turn;

static void futex_wait(uint32_t *p, uint32_t val)
{
	syscall(SYS_futex, p, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(uint32_t *p)
{
	syscall(SYS_futex, p, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/* Both threads on CPU 0: one round trip = two context switches. */
static void pingpong_fn(void *ctx, int tid, long n)
{
	uint32_t me = (uint32_t)tid;

	(void)ctx;
	register_thread();
	pin(0);
	for (long i = 0; i < n; i++) {
		while (__atomic_load_n(&turn, __ATOMIC_ACQUIRE) != me)
			futex_wait(&turn, !me);
		__atomic_store_n(&turn, !me, __ATOMIC_RELEASE);
		futex_wake(&turn);
	}
}

static void pingpong_setup(void *ctx, int nthreads)
{
	(void)ctx;
	(void)nthreads;
	turn = 0;
}

struct pass_arg {
	int tid;
	long n;
};

static void *pass_thread(void *p)
{
	struct pass_arg *a = p;

	pingpong_fn(NULL, a->tid, a->n);
	return NULL;
}

/* One ping-pong pass of n round trips (2n switches) outside the timing
 * harness, for the kernel's counters. */
static bool stats_pass(long n, struct rseqkit_kstats *d, double *ns_switch)
{
	struct pass_arg args[2] = { { 0, n }, { 1, n } };
	struct rseqkit_kstats a, b;
	pthread_t t[2];
	uint64_t t0;
	bool have = rseqkit_kstats_read(&a) == 0;

	turn = 0;
	t0 = tap_now_ns();
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, pass_thread, &args[i]);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	*ns_switch = (double)(tap_now_ns() - t0) / (2.0 * (double)n);
	if (!have)
		return false;
	rseqkit_kstats_read(&b);
	rseqkit_kstats_delta(d, &a, &b);
	return true;
}

/*
 * Targets (issue 14): V2 round trip within 1% of none, V2 rseq work per
 * switch (ids+cs) <= 0.01, legacy's extra cost stated. Time targets are only
 * judged where time means something: a deterministic clock (icount) or real
 * hardware; under QEMU following the host clock they are printed as numbers.
 */
static void print_targets(struct bench_result res[NR_MODES][2], struct rseqkit_kstats *d,
			  const bool *have, const double *ns_sw, double sw)
{
	/* The round trip judged is the long single pass (2 switches per round
	 * trip): on icount it repeats to 0.01%, the medians of the short
	 * repetitions only to ~0.5%. */
	double rt = ns_sw[MODE_V2] / ns_sw[MODE_NONE] - 1.0;
	double lrt = ns_sw[MODE_LEGACY] / ns_sw[MODE_NONE] - 1.0;
	double lsc = res[MODE_LEGACY][0].ns_op_median / res[MODE_NONE][0].ns_op_median - 1.0;
	bool judge = bench_clock_deterministic() || !bench_clock_emulated();

	printf("\ntargets (clock %s):\n", bench_clock());
	printf("  V2 round trip %+.2f%% vs none (%.1f vs %.1f ns; within 1%%): %s\n", 100.0 * rt,
	       2 * ns_sw[MODE_V2], 2 * ns_sw[MODE_NONE],
	       !judge ? "not judged (guest time follows host load; VM_CLOCK=icount)" :
	       rt <= 0.01 ? "met" : "MISSED");
	if (have[MODE_V2]) {
		double v2 = (double)(d[MODE_V2].ids + d[MODE_V2].cs) / sw;

		printf("  V2 ids+cs per switch %.4f (<= 0.01): %s\n", v2,
		       v2 <= 0.01 ? "met" : "MISSED");
	} else {
		printf("  V2 ids+cs per switch: not measurable here (no debugfs rseq/stats)\n");
	}
	printf("  legacy's extra cost: round trip %+.2f%%, syscall %+.2f%% vs none", 100.0 * lrt,
	       100.0 * lsc);
	if (have[MODE_LEGACY])
		printf("; %.3f ids + %.3f cs per switch", (double)d[MODE_LEGACY].ids / sw,
		       (double)d[MODE_LEGACY].cs / sw);
	printf("\n");
}

/* b2.csv -> b2-stats.csv: one row per mode, everything the cross-kernel
 * comparison (bench/scripts/compare) needs. */
static void write_summary(const char *csv, struct bench_result res[NR_MODES][2],
			  struct rseqkit_kstats *d, const bool *have, const double *ns_sw,
			  double sw)
{
	struct utsname u;
	FILE *f;

	f = bench_open_stats_csv(csv);
	if (!f)
		return;
	uname(&u);
	fprintf(f, "mode,ns_per_switch,fastp_per_switch,ids_per_switch,cs_per_switch,"
		"syscall_ns,roundtrip_ns,stats,kernel,scenario,clock,roundtrip_pass_ns\n");
	for (int m = 0; m < NR_MODES; m++)
		fprintf(f, "%s,%.1f,%.4f,%.4f,%.4f,%.1f,%.1f,%s,%s,%s,%s,%.1f\n", mode_names[m],
			ns_sw[m], have[m] ? (double)d[m].fastp / sw : 0,
			have[m] ? (double)d[m].ids / sw : 0, have[m] ? (double)d[m].cs / sw : 0,
			res[m][0].ns_op_median, res[m][1].ns_op_median, have[m] ? "yes" : "no",
			u.release, getenv("RSEQKIT_SCENARIO") ?: "host", bench_clock(), 2 * ns_sw[m]);
	fclose(f);
}

int main(int argc, char **argv)
{
	struct bench_result res[NR_MODES][2];
	struct rseqkit_kstats d[NR_MODES];
	double ns_sw[NR_MODES];
	bool have[NR_MODES] = { false };
	struct bench_opts o;
	bool quick = false, given_ops = false, given_reps = false;
	unsigned long fs = getauxval(RSEQKIT_AT_RSEQ_FEATURE_SIZE);
	long n_pass;

	tap_reexec_without_glibc_rseq(argv);
	for (int i = 1; i < argc; i++)
		quick |= !strcmp(argv[i], "--quick");
	bench_parse(&o, argc, argv, " [--quick]");
	/* Defaults sized for QEMU TCG too (about a minute there): 11 x 200k. */
	for (int i = 1; i < argc; i++) {
		given_ops |= !strcmp(argv[i], "--ops");
		given_reps |= !strcmp(argv[i], "--reps");
	}
	if (!given_ops)
		o.ops = 200000;
	if (!given_reps)
		o.reps = bench_clock_deterministic() ? 3 : 11;	/* icount repeats itself */
	if (quick) {
		o.reps = 5;
		o.ops = 20000;
	}
	n_pass = quick ? 2000 : 20000;
	feature_size = fs > 32 ? (uint32_t)fs : 32;
	bench_banner(BENCH);
	if (feature_size == 32)
		printf("# kernel without V2 (feature size %lu): the V2 rows register 32 bytes "
		       "(legacy)\n", fs ? fs : 20);

	for (int m = 0; m < NR_MODES; m++) {
		char name[64];

		cur_mode = (enum mode)m;
		snprintf(name, sizeof(name), "syscall_%s", mode_names[m]);
		bench_case(&o, BENCH, name, syscall_fn, NULL, NULL, 1, &res[m][0]);
		snprintf(name, sizeof(name), "futex_pingpong_%s", mode_names[m]);
		o.ops /= 10;	/* a round trip costs ~10 syscalls' time */
		bench_case(&o, BENCH, name, pingpong_fn, NULL, pingpong_setup, 2, &res[m][1]);
		o.ops *= 10;
		have[m] = stats_pass(n_pass, &d[m], &ns_sw[m]);
	}

	/* round trip: median of the repetitions; pass: one long run of n_pass
	 * round trips (the one the target is judged on, and the counters'). */
	printf("\n%-8s %10s %13s %11s %9s %9s %9s %9s %11s\n", "mode", "syscall ns",
	       "round trip ns", "pass rt ns", "vs none", "fastp/sw", "ids/sw", "cs/sw",
	       "(ids+cs)/sw");
	for (int m = 0; m < NR_MODES; m++) {
		double sw = 2.0 * (double)n_pass;

		printf("%-8s %10.1f %13.1f %11.1f %+8.2f%%", mode_names[m], res[m][0].ns_op_median,
		       res[m][1].ns_op_median, 2 * ns_sw[m],
		       100.0 * (ns_sw[m] / ns_sw[MODE_NONE] - 1.0));
		if (have[m])
			printf(" %9.3f %9.3f %9.3f %11.4f\n", (double)d[m].fastp / sw,
			       (double)d[m].ids / sw, (double)d[m].cs / sw,
			       (double)(d[m].ids + d[m].cs) / sw);
		else
			printf("  (no debugfs rseq/stats on this kernel)\n");
	}
	print_targets(res, d, have, ns_sw, 2.0 * (double)n_pass);
	if (o.csv)
		write_summary(o.csv, res, d, have, ns_sw, 2.0 * (double)n_pass);
	return 0;
}
