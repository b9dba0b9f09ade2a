// SPDX-License-Identifier: MIT
/*
 * B1: per-CPU operations and structures against the usual alternatives.
 *
 *   add_cpu / add_mmcid      rseqkit_counter_add() (load_add_store), by CPU /
 *                            by mm_cid (mm_cid not usable -> by CPU, R7)
 *   op_add_cpu               the bare operation with a constant index kind
 *   cpulock                  per-CPU spinlock lock + increment + unlock
 *   freelist_pop_push        pop one node and push it back
 *   ptrbuf_pop_push          pop one pointer and push it back
 *   membuf_pop_push_32B      pop a 32-byte item and push it back (memcpy)
 *   base_atomic_shared       lock xadd on one counter shared by all threads
 *   base_atomic_getcpu       sched_getcpu() + lock xadd on that CPU's slot
 *   base_tls_inc             increment of a thread-local counter
 *   diag_line_rtt            not an operation: the round trip of a cache line
 *                            between the first two CPUs (two threads taking
 *                            turns), i.e. what contention costs here; on a
 *                            VM whose vCPUs are not co-scheduled it is
 *                            microseconds and "2 threads" barely overlap
 *   fallback_*               the same with rseq unavailable: the program
 *                            re-runs itself under a seccomp filter (rseq(2)
 *                            -> ENOSYS), rows named fallback_...
 *
 *   self_*                   when glibc owns a legacy registration (mm_cid
 *                            not usable), the add cases again with rseqkit's
 *                            own registration (GLIBC_TUNABLES=glibc.pthread.
 *                            rseq=0), where mm_cid is usable on kernels >= 6.3
 *
 * Default run: threads 1 and 2, 21 repetitions of 1M operations per thread
 * (about 15-30 s in all). Options: bench/bench.h; --no-fallback skips both
 * re-runs; --fallback-only / --self-only are the re-runs.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rseqkit/counter.h>
#include <rseqkit/cpulock.h>
#include <rseqkit/freelist.h>
#include <rseqkit/membuf.h>
#include <rseqkit/ptrbuf.h>
#include "../bench/bench.h"
#include "seccomp_norseq.h"

#define BENCH "b1_percpu"

static struct rseqkit_counter ctr_cpu, ctr_mm;
static struct rseqkit_cpulock lk;
static struct rseqkit_freelist fl;
static struct rseqkit_ptrbuf pb;
static struct rseqkit_membuf mb;
static struct { uint64_t v; } __attribute__((aligned(64))) slots[CPU_SETSIZE];
static struct { long v; } __attribute__((aligned(64))) guarded[CPU_SETSIZE];
static uint64_t shared_ctr __attribute__((aligned(64)));
static __thread uint64_t tls_ctr;

#define NOBJ 4096
static struct rseqkit_freelist_node nodes[NOBJ];
static long items[NOBJ];

static void add_cpu(void *c, int tid, long n)
{
	(void)tid;
	for (long i = 0; i < n; i++)
		rseqkit_counter_add(c, 1);
}

static void op_add_cpu(void *c, int tid, long n)
{
	(void)c;
	(void)tid;
	for (long i = 0; i < n; i++) {
		int idx;

		do {
			idx = rseqkit_percpu_index(RSEQKIT_INDEX_CPU_ID);
		} while (__builtin_expect(rseqkit_load_add_store_u64(RSEQKIT_INDEX_CPU_ID, idx,
				&slots[idx].v, 1) != 0, 0));
	}
}

static void cpulock_rt(void *c, int tid, long n)
{
	(void)c;
	(void)tid;
	for (long i = 0; i < n; i++) {
		int idx = rseqkit_cpulock_lock(&lk);

		guarded[idx].v++;
		rseqkit_cpulock_unlock(&lk, idx);
	}
}

static void freelist_rt(void *c, int tid, long n)
{
	(void)c;
	(void)tid;
	for (long i = 0; i < n; i++) {
		struct rseqkit_freelist_node *p = rseqkit_freelist_pop(&fl);

		if (__builtin_expect(!p, 0))
			p = &nodes[tid];	/* this CPU's list ran dry: reuse a spare */
		rseqkit_freelist_push(&fl, p);
	}
}

static void ptrbuf_rt(void *c, int tid, long n)
{
	(void)c;
	for (long i = 0; i < n; i++) {
		void *p = rseqkit_ptrbuf_pop(&pb);

		rseqkit_ptrbuf_push(&pb, p ? p : &items[tid]);
	}
}

static void membuf_rt(void *c, int tid, long n)
{
	unsigned char item[32] = { (unsigned char)tid };

	(void)c;
	for (long i = 0; i < n; i++) {
		rseqkit_membuf_pop(&mb, item);
		rseqkit_membuf_push(&mb, item);
	}
}

static void atomic_shared(void *c, int tid, long n)
{
	(void)c;
	(void)tid;
	for (long i = 0; i < n; i++)
		__atomic_fetch_add(&shared_ctr, 1, __ATOMIC_RELAXED);
}

static void atomic_getcpu(void *c, int tid, long n)
{
	(void)c;
	(void)tid;
	for (long i = 0; i < n; i++)
		__atomic_fetch_add(&slots[sched_getcpu()].v, 1, __ATOMIC_RELAXED);
}

/* Two threads pass a token through one cache line, n times each. */
static volatile long token __attribute__((aligned(64)));

static void line_rtt(void *c, int tid, long n)
{
	(void)c;
	if (tid == 0)
		token = 0;
	for (long i = 0; i < n; i++) {
		long want = 2 * i + tid;

		while (token != want)
			;
		token = want + 1;
	}
}

static void line_rtt_reset(void *c, int t)
{
	(void)c;
	(void)t;
	token = 0;
}

static void tls_inc(void *c, int tid, long n)
{
	(void)c;
	(void)tid;
	for (long i = 0; i < n; i++) {
		tls_ctr++;
		__asm__ __volatile__ ("" : "+m" (tls_ctr));	/* one increment per op */
	}
}

/* Fill every CPU's list/buffer a little so pops mostly succeed. */
static void fill(void *c, int t)
{
	(void)c;
	(void)t;
	for (int cpu = 0; cpu < rseqkit_percpu_nr_slots() && cpu < CPU_SETSIZE; cpu++) {
		cpu_set_t one, saved;

		sched_getaffinity(0, sizeof(saved), &saved);
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		if (sched_setaffinity(0, sizeof(one), &one))
			continue;
		for (int i = 0; i < 64; i++) {
			int k = 64 + cpu * 64 + i;

			if (k >= NOBJ)
				break;
			rseqkit_freelist_push(&fl, &nodes[k]);
			rseqkit_ptrbuf_push(&pb, &items[k]);
		}
		sched_setaffinity(0, sizeof(saved), &saved);
	}
}

static int run_all(const struct bench_opts *o, const char *prefix)
{
	struct { const char *name; bench_fn fn; void *ctx; bool fallback; } cases[] = {
		{ "add_cpu", add_cpu, &ctr_cpu, true },
		{ "add_mmcid", add_cpu, &ctr_mm, true },
		{ "op_add_cpu", op_add_cpu, NULL, true },
		{ "cpulock", cpulock_rt, NULL, true },
		{ "freelist_pop_push", freelist_rt, NULL, true },
		{ "ptrbuf_pop_push", ptrbuf_rt, NULL, true },
		{ "membuf_pop_push_32B", membuf_rt, NULL, true },
		{ "base_atomic_shared", atomic_shared, NULL, false },
		{ "base_atomic_getcpu", atomic_getcpu, NULL, false },
		{ "base_tls_inc", tls_inc, NULL, false },
	};
	bool fb = !strcmp(prefix, "fallback_"), self = !strcmp(prefix, "self_");

	if (rseqkit_counter_init(&ctr_cpu, RSEQKIT_INDEX_CPU_ID) ||
	    rseqkit_counter_init(&ctr_mm, RSEQKIT_INDEX_MM_CID) ||
	    rseqkit_cpulock_init(&lk, RSEQKIT_INDEX_CPU_ID) ||
	    rseqkit_freelist_init(&fl, RSEQKIT_INDEX_CPU_ID) ||
	    rseqkit_ptrbuf_init(&pb, RSEQKIT_INDEX_CPU_ID, 256) ||
	    rseqkit_membuf_init(&mb, RSEQKIT_INDEX_CPU_ID, 256, 32)) {
		fprintf(stderr, "%s: init failed\n", BENCH);
		return 1;
	}
	fill(NULL, 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char name[64];

		if ((fb && !cases[i].fallback) || (self && strstr(cases[i].name, "add") == NULL))
			continue;
		snprintf(name, sizeof(name), "%s%s", prefix, cases[i].name);
		bench_case(o, BENCH, name, cases[i].fn, cases[i].ctx, NULL, 0, NULL);
	}
	if (!prefix[0] && rseqkit_percpu_nr_slots() >= 2) {
		struct bench_opts one = *o;

		/* Per pass: one hand-off each way; few passes (slow on VMs). */
		one.ops = o->ops / 100 > 0 ? o->ops / 100 : 1;
		one.reps = o->reps < 5 ? o->reps : 5;
		bench_case(&one, BENCH, "diag_line_rtt", line_rtt, NULL, line_rtt_reset, 2, NULL);
	}
	return 0;
}

/* Re-run this program with --MODE-only, under the seccomp filter (no rseq)
 * or with glibc's registration disabled (self-owned). */
static int rerun(int argc, char **argv, const char *mode)
{
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		char **args = calloc((size_t)argc + 2, sizeof(*args));

		for (int k = 0; k < argc; k++)
			args[k] = argv[k];
		args[argc] = strcmp(mode, "fallback") ? "--self-only" : "--fallback-only";
		if (!strcmp(mode, "fallback") && seccomp_norseq_install()) {
			fprintf(stderr, "%s: seccomp filter: cannot install, no fallback rows\n", BENCH);
			_exit(0);
		}
		if (!strcmp(mode, "self"))
			setenv("GLIBC_TUNABLES", "glibc.pthread.rseq=0", 1);
		execv("/proc/self/exe", args);
		_exit(127);
	}
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

int main(int argc, char **argv)
{
	bool no_fb = false, fb_only = false, self_only = false;
	struct bench_opts o;
	struct rseqkit_mode m;
	int ret;

	bench_parse(&o, argc, argv, " [--no-fallback] [--fallback-only] [--self-only]");
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--no-fallback"))
			no_fb = true;
		else if (!strcmp(argv[i], "--fallback-only"))
			fb_only = true;
		else if (!strcmp(argv[i], "--self-only"))
			self_only = true;
	}
	rseqkit_get_mode(&m);
	if (fb_only) {
		if (!rseqkit_percpu_fallback()) {
			fprintf(stderr, "%s: --fallback-only but rseq is usable\n", BENCH);
			return 1;
		}
		return run_all(&o, "fallback_");
	}
	if (self_only) {
		printf("# self-owned: owner %s, mode %s, mm_cid %s\n", rseqkit_owner_name(m.owner),
		       rseqkit_abi_mode_name(m.abi),
		       (m.fields & RSEQKIT_FIELD_MM_CID) ? "usable" : "not usable");
		fflush(stdout);
		return run_all(&o, "self_");
	}
	bench_banner(BENCH);
	printf("# rseq: owner %s, mode %s, mm_cid %s\n", rseqkit_owner_name(m.owner),
	       rseqkit_abi_mode_name(m.abi),
	       (m.fields & RSEQKIT_FIELD_MM_CID) ? "usable" : "not usable (mm_cid ops index by CPU)");
	fflush(stdout);
	if (run_all(&o, ""))
		return 1;
	if (no_fb)
		return 0;
	ret = rerun(argc, argv, "fallback");
	if (!ret && m.owner == RSEQKIT_OWNER_LIBC && !(m.fields & RSEQKIT_FIELD_MM_CID))
		ret = rerun(argc, argv, "self");
	return ret;
}
