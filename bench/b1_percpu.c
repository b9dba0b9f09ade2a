// SPDX-License-Identifier: MIT
/*
 * B1: per-CPU operations and structures, at three API levels, against the
 * usual alternatives. Each operation exists as
 *
 *   raw_<op>_<kind>   the bare operations of rseqkit/percpu.h with a constant
 *                     index kind (index read + critical section per op)
 *   ctx_<op>_<kind>   the same with rseqkit_percpu_ctx() resolved once, the
 *                     rseqkit_*_ctx() variants in the loop
 *   api_<op>_<kind>   the data structure API (rseqkit_counter_add(),
 *                     rseqkit_cpulock_lock/unlock(), rseqkit_freelist_pop/push()):
 *                     self-indexed sections on the field the structure stores
 *   apik_<op>_<kind>  the same with the kind as a compile-time constant
 *                     (rseqkit_counter_add_k(), rseqkit_cpulock_lock_k(), ...)
 *
 * for <op> add (counter add), lock (lock + increment + unlock), list (pop
 * one node and push it back) and <kind> cpu (RSEQKIT_INDEX_CPU_ID) or mmcid
 * (RSEQKIT_INDEX_MM_CID; by CPU when the registration makes mm_cid
 * unusable, R7). Also:
 *   api_ptrbuf_cpu           pop one pointer and push it back
 *   api_membuf32_cpu         pop a 32-byte item and push it back (memcpy)
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
 *   self_*                   when glibc owns a legacy registration (mm_cid
 *                            not usable), the mmcid cases again with rseqkit's
 *                            own registration (GLIBC_TUNABLES=glibc.pthread.
 *                            rseq=0), where mm_cid is usable on kernels >= 6.3
 *
 * Every case is the function case_<name>, one loop of n operations:
 * bench/scripts/b1-insns counts the instructions of its hot path (the loop
 * body when nothing aborts or fails) from the disassembly, which is the
 * instructions/op column next to ns (this host has no usable instruction
 * counter).
 *
 * Default run: threads 1 and 2, 21 repetitions of 1M operations per thread.
 * Options: bench/bench.h; --no-fallback skips both re-runs; --fallback-only /
 * --self-only are the re-runs.
 */
#include <errno.h>
#include <stddef.h>
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
static struct rseqkit_cpulock lk_cpu, lk_mm;
static struct rseqkit_freelist fl_cpu, fl_mm;
/*
 * The raw and _ctx cases work on slots of the same allocator and alignment
 * as the structures' (instances of their own), so that a difference is the
 * API's and not the layout's: a static array can 4K-alias the rseq area and
 * cost 2x for that alone.
 */
static struct rseqkit_counter raw_ctr;
static struct rseqkit_cpulock raw_lk;
static struct rseqkit_freelist raw_fl;
static struct rseqkit_ptrbuf pb;
static struct rseqkit_membuf mb;
static struct { uint64_t v; } __attribute__((aligned(64))) cpu_slots[CPU_SETSIZE];
static struct { long v; } __attribute__((aligned(64))) guarded[CPU_SETSIZE];
static uint64_t shared_ctr __attribute__((aligned(64)));
static __thread uint64_t tls_ctr;

#define NOBJ 4096
static struct rseqkit_freelist_node nodes[NOBJ];
static long items[NOBJ];

#define CASE(name) static void case_##name(void *c, int tid, long n)
#define UNUSED_ARGS (void)c; (void)tid

/*
 * The cases of the three operations are generated: <flavour>_<op>_<kind>
 * for the flavours raw (rseqkit_<op>(kind, ...)), ctx (rseqkit_<op>_ctx()
 * on a context resolved before the loop) and apik (the structure's _k form),
 * and the kinds cpu and mmcid; api_<op> (the plain structure API) is one
 * function for both kinds (the structure's kind decides).
 * A flavour of the raw ops: SETUP declares sel before the loop, INDEX()
 * reads the index, OP(op, ...) runs a critical section.
 */
#define raw_SETUP(kind)		const enum rseqkit_index sel = (kind)
#define raw_INDEX()		rseqkit_percpu_index(sel)
#define raw_OP(op, ...)		rseqkit_##op(sel, __VA_ARGS__)
#define ctx_SETUP(kind)		const struct rseqkit_percpu_ctx sel = rseqkit_percpu_ctx(kind)
#define ctx_INDEX()		rseqkit_percpu_index_ctx(&sel)
#define ctx_OP(op, ...)		rseqkit_##op##_ctx(&sel, __VA_ARGS__)

/* X(flavour, kind name, kind) for both kinds. */
#define FOR_KINDS(X, fl)						\
	X(fl, cpu, RSEQKIT_INDEX_CPU_ID)				\
	X(fl, mmcid, RSEQKIT_INDEX_MM_CID)

/* --- add ------------------------------------------------------------------ */

#define RAW_ADD(fl, kn, kind)						\
CASE(fl##_add_##kn)							\
{									\
	fl##_SETUP(kind);						\
	struct rseqkit_counter_slot *slots = raw_ctr.slots;		\
									\
	UNUSED_ARGS;							\
	for (long i = 0; i < n; i++) {					\
		int idx;						\
									\
		do {							\
			idx = fl##_INDEX();				\
		} while (__builtin_expect(fl##_OP(load_add_store_u64, idx, \
				&slots[idx].v, 1) != 0, 0));		\
	}								\
}
FOR_KINDS(RAW_ADD, raw)
FOR_KINDS(RAW_ADD, ctx)

CASE(api_add)
{
	(void)tid;
	for (long i = 0; i < n; i++)
		rseqkit_counter_add(c, 1);
}

#define APIK_ADD(fl, kn, kind)						\
CASE(fl##_add_##kn)							\
{									\
	(void)tid;							\
	for (long i = 0; i < n; i++)					\
		rseqkit_counter_add_k(c, 1, kind);			\
}
FOR_KINDS(APIK_ADD, apik)

/* --- lock + increment + unlock -------------------------------------------- */

#define RAW_LOCK(fl, kn, kind)						\
CASE(fl##_lock_##kn)							\
{									\
	fl##_SETUP(kind);						\
	struct rseqkit_cpulock_slot *locks = raw_lk.slots;		\
									\
	UNUSED_ARGS;							\
	for (long i = 0; i < n; i++) {					\
		int idx;						\
									\
		do {							\
			idx = fl##_INDEX();				\
		} while (__builtin_expect(fl##_OP(load_cbne_store_u32, idx, \
				&locks[idx].locked, 0, 1) != 0, 0));	\
		__atomic_thread_fence(__ATOMIC_ACQUIRE);		\
		guarded[idx].v++;					\
		__atomic_store_n(&locks[idx].locked, 0, __ATOMIC_RELEASE);	\
	}								\
}
FOR_KINDS(RAW_LOCK, raw)
FOR_KINDS(RAW_LOCK, ctx)

CASE(api_lock)
{
	(void)tid;
	for (long i = 0; i < n; i++) {
		int idx = rseqkit_cpulock_lock(c);

		guarded[idx].v++;
		rseqkit_cpulock_unlock(c, idx);
	}
}

#define APIK_LOCK(fl, kn, kind)						\
CASE(fl##_lock_##kn)							\
{									\
	(void)tid;							\
	for (long i = 0; i < n; i++) {					\
		int idx = rseqkit_cpulock_lock_k(c, kind);		\
									\
		guarded[idx].v++;					\
		rseqkit_cpulock_unlock(c, idx);				\
	}								\
}
FOR_KINDS(APIK_LOCK, apik)

/* --- list pop + push ------------------------------------------------------- */

#define NEXT_OFF ((long)offsetof(struct rseqkit_freelist_node, next))

#define RAW_LIST(fl, kn, kind)						\
CASE(fl##_list_##kn)							\
{									\
	struct rseqkit_freelist_slot *heads = raw_fl.slots;		\
	fl##_SETUP(kind);						\
									\
	(void)c;							\
	for (long i = 0; i < n; i++) {					\
		struct rseqkit_freelist_node *p;			\
		intptr_t load, head;					\
		int idx, ret;						\
									\
		do {							\
			idx = fl##_INDEX();				\
			ret = fl##_OP(load_cbeq_store_add_load_store_ptr, idx, \
				      &heads[idx].head, 0, NEXT_OFF, &load); \
		} while (__builtin_expect(ret < 0, 0));			\
		p = ret == 0 ? (struct rseqkit_freelist_node *)load : &nodes[tid]; \
		do {							\
			idx = fl##_INDEX();				\
			head = __atomic_load_n(&heads[idx].head, __ATOMIC_RELAXED); \
			p->next = (struct rseqkit_freelist_node *)head;	\
		} while (__builtin_expect(fl##_OP(load_cbne_store_u64, idx, \
				(uint64_t *)&heads[idx].head, (uint64_t)head, \
				(uint64_t)(uintptr_t)p) != 0, 0));	\
	}								\
}
FOR_KINDS(RAW_LIST, raw)
FOR_KINDS(RAW_LIST, ctx)

CASE(api_list)
{
	for (long i = 0; i < n; i++) {
		struct rseqkit_freelist_node *p = rseqkit_freelist_pop(c);

		if (__builtin_expect(!p, 0))
			p = &nodes[tid];	/* this CPU's list ran dry: reuse a spare */
		rseqkit_freelist_push(c, p);
	}
}

#define APIK_LIST(fl, kn, kind)						\
CASE(fl##_list_##kn)							\
{									\
	for (long i = 0; i < n; i++) {					\
		struct rseqkit_freelist_node *p = rseqkit_freelist_pop_k(c, kind); \
									\
		if (__builtin_expect(!p, 0))				\
			p = &nodes[tid];				\
		rseqkit_freelist_push_k(c, p, kind);			\
	}								\
}
FOR_KINDS(APIK_LIST, apik)

/* --- other structures and baselines --------------------------------------- */

CASE(api_ptrbuf_cpu)
{
	(void)c;
	for (long i = 0; i < n; i++) {
		void *p = rseqkit_ptrbuf_pop(&pb);

		rseqkit_ptrbuf_push(&pb, p ? p : &items[tid]);
	}
}

CASE(api_membuf32_cpu)
{
	unsigned char item[32] = { (unsigned char)tid };

	(void)c;
	for (long i = 0; i < n; i++) {
		rseqkit_membuf_pop(&mb, item);
		rseqkit_membuf_push(&mb, item);
	}
}

CASE(base_atomic_shared)
{
	UNUSED_ARGS;
	for (long i = 0; i < n; i++)
		__atomic_fetch_add(&shared_ctr, 1, __ATOMIC_RELAXED);
}

CASE(base_atomic_getcpu)
{
	UNUSED_ARGS;
	for (long i = 0; i < n; i++)
		__atomic_fetch_add(&cpu_slots[sched_getcpu()].v, 1, __ATOMIC_RELAXED);
}

/* Two threads pass a token through one cache line, n times each. */
static volatile long token __attribute__((aligned(64)));

CASE(diag_line_rtt)
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

CASE(base_tls_inc)
{
	(void)c;
	(void)tid;
	for (long i = 0; i < n; i++) {
		tls_ctr++;
		__asm__ __volatile__ ("" : "+m" (tls_ctr));	/* one increment per op */
	}
}

/* Fill every CPU's lists and buffer a little so pops mostly succeed. */
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
		for (int i = 0; i < 16; i++) {
			int k = 64 + cpu * 64 + i * 4;

			if (k + 3 >= NOBJ)
				break;
			rseqkit_freelist_push(&fl_cpu, &nodes[k]);
			rseqkit_freelist_push(&fl_mm, &nodes[k + 1]);
			rseqkit_ptrbuf_push(&pb, &items[k]);
		}
		sched_setaffinity(0, sizeof(saved), &saved);
	}
}

static int run_all(const struct bench_opts *o, const char *prefix)
{
	struct { const char *name; bench_fn fn; void *ctx; bool fallback; } cases[] = {
		/* per operation and kind: raw, ctx, api, apik (api: one function) */
#define ROWS(op, kn, obj)						\
		{ "raw_" #op "_" #kn, case_raw_##op##_##kn, NULL, true },	\
		{ "ctx_" #op "_" #kn, case_ctx_##op##_##kn, NULL, true },	\
		{ "api_" #op "_" #kn, case_api_##op, obj, true },		\
		{ "apik_" #op "_" #kn, case_apik_##op##_##kn, obj, true },
		ROWS(add, cpu, &ctr_cpu) ROWS(add, mmcid, &ctr_mm)
		ROWS(lock, cpu, &lk_cpu) ROWS(lock, mmcid, &lk_mm)
		ROWS(list, cpu, &fl_cpu) ROWS(list, mmcid, &fl_mm)
#undef ROWS
		{ "api_ptrbuf_cpu", case_api_ptrbuf_cpu, NULL, true },
		{ "api_membuf32_cpu", case_api_membuf32_cpu, NULL, true },
		{ "base_atomic_shared", case_base_atomic_shared, NULL, false },
		{ "base_atomic_getcpu", case_base_atomic_getcpu, NULL, false },
		{ "base_tls_inc", case_base_tls_inc, NULL, false },
	};
	bool fb = !strcmp(prefix, "fallback_"), self = !strcmp(prefix, "self_");

	if (rseqkit_counter_init(&raw_ctr, RSEQKIT_INDEX_CPU_ID) ||
	    rseqkit_cpulock_init(&raw_lk, RSEQKIT_INDEX_CPU_ID) ||
	    rseqkit_freelist_init(&raw_fl, RSEQKIT_INDEX_CPU_ID) ||
	    rseqkit_counter_init(&ctr_cpu, RSEQKIT_INDEX_CPU_ID) ||
	    rseqkit_counter_init(&ctr_mm, RSEQKIT_INDEX_MM_CID) ||
	    rseqkit_cpulock_init(&lk_cpu, RSEQKIT_INDEX_CPU_ID) ||
	    rseqkit_cpulock_init(&lk_mm, RSEQKIT_INDEX_MM_CID) ||
	    rseqkit_freelist_init(&fl_cpu, RSEQKIT_INDEX_CPU_ID) ||
	    rseqkit_freelist_init(&fl_mm, RSEQKIT_INDEX_MM_CID) ||
	    rseqkit_ptrbuf_init(&pb, RSEQKIT_INDEX_CPU_ID, 256) ||
	    rseqkit_membuf_init(&mb, RSEQKIT_INDEX_CPU_ID, 256, 32)) {
		fprintf(stderr, "%s: init failed\n", BENCH);
		return 1;
	}
	fill(NULL, 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char name[64];

		if ((fb && !cases[i].fallback) || (self && strstr(cases[i].name, "mmcid") == NULL))
			continue;
		snprintf(name, sizeof(name), "%s%s", prefix, cases[i].name);
		bench_case(o, BENCH, name, cases[i].fn, cases[i].ctx, NULL, 0, NULL);
	}
	if (!prefix[0] && rseqkit_percpu_nr_slots() >= 2) {
		struct bench_opts one = *o;

		/* Per pass: one hand-off each way; few passes (slow on VMs). */
		one.ops = o->ops / 100 > 0 ? o->ops / 100 : 1;
		one.reps = o->reps < 5 ? o->reps : 5;
		bench_case(&one, BENCH, "diag_line_rtt", case_diag_line_rtt, NULL, line_rtt_reset,
			   2, NULL);
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
