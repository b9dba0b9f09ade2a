// SPDX-License-Identifier: MIT
/*
 * Per-CPU operations (rseqkit/percpu.h): every operation, both widths, both
 * index kinds, the commit / comparison-failure / abort paths, in the three
 * environments (glibc-owned, rseqkit-owned, no rseq). The expected memory
 * comes from the pseudo-code oracles (rseqkit/percpu-pseudocode.h).
 *
 * Abort paths: (a) a stale index (the section checks cpu_id/mm_cid and
 * aborts; with the fallbacks any index commits), (b) a real kernel abort: a
 * timer signal delivered while the section spins at injection point 1,
 * (c) lazy registration: a new thread's first operation aborts, registers
 * the thread and the retry commits (rseqkit-owned environment).
 */
#define RSEQKIT_INJECT
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <ucontext.h>

#include <rseqkit/percpu.h>
#include <rseqkit/percpu-pseudocode.h>
#include "envrun.h"
#include "tap.h"

static bool fallback;
static const char *kn;
static enum rseqkit_index kind;
static long sig_aborts;

#define RETRY(ret, idx, call)						\
	do {								\
		int n_ = 0;						\
		do {							\
			idx = rseqkit_percpu_index(kind);		\
			ret = (call);					\
		} while (ret < 0 && ++n_ < 1000);			\
	} while (0)

/* 1: the last timer signal landed outside a critical section, 2: inside
 * one (judged from the interrupted instruction pointer, see on_alarm()). */
static volatile sig_atomic_t in_op, sig_landed;

extern const struct rseqkit_abi_cs __start___rseq_cs[] __attribute__((weak));
extern const struct rseqkit_abi_cs __stop___rseq_cs[] __attribute__((weak));

/*
 * Did the signal interrupt a critical section? The kernel's fixup runs
 * before the signal frame is built, so an aborted section shows up as the
 * abort handler's address, and a section the kernel failed to abort as an
 * address inside [start_ip, start_ip + post_commit_offset). Anything else
 * (the signal came before the section started, e.g. while the slow QEMU
 * TCG was still in the operation's prologue) proves nothing.
 */
static bool ip_in_section(uint64_t ip)
{
	if (!__start___rseq_cs)
		return false;
	for (const struct rseqkit_abi_cs *d = __start___rseq_cs; d < __stop___rseq_cs; d++)
		if (ip == d->abort_ip ||
		    (ip >= d->start_ip && ip - d->start_ip < d->post_commit_offset))
			return true;
	return false;
}

static void on_alarm(int sig, siginfo_t *si, void *uc_)
{
	ucontext_t *uc = uc_;

	(void)sig;
	(void)si;
	sig_aborts++;
#if defined(__x86_64__)
	sig_landed = in_op && ip_in_section((uint64_t)uc->uc_mcontext.gregs[REG_RIP]) ? 2 : 1;
#elif defined(__aarch64__)
	sig_landed = in_op && ip_in_section((uint64_t)uc->uc_mcontext.pc) ? 2 : 1;
#else
# error "percpu_ops: the interrupted instruction pointer of this architecture"
#endif
}

/* Arm a one-shot timer and make point 1 spin long enough to be hit. */
static void sig_arm(void)
{
	struct itimerval it = { .it_value = { .tv_usec = 300 } };

	sig_landed = 0;
	rseqkit_inject_loops[1] = 100 * 1000 * 1000;
	setitimer(ITIMER_REAL, &it, NULL);
}

static void sig_disarm(void)
{
	struct itimerval it = { 0 };

	setitimer(ITIMER_REAL, &it, NULL);
	rseqkit_inject_loops[1] = 0;
}

/*
 * Run call with a timer signal due while it spins at point 1. A signal that
 * lands before the operation (or after it, when the timer is late, as under
 * a hypervisor) proves nothing: retry, up to 5 times.
 */
#define SIG_TRY(reset, call)						\
	do {								\
		int t_ = 0;						\
									\
		do {							\
			reset;						\
			sig_arm();					\
			in_op = 1;					\
			call;						\
			in_op = 0;					\
			sig_disarm();					\
		} while (!fallback && ret >= 0 && sig_landed != 2 && ++t_ < 5); \
	} while (0)

static const char SIGNAL_CASE[] = "signal at point 1";

/* An abort-path case: rseq environments expect <0 and no change; the
 * fallback commits whatever the index. */
static void expect_abort(int ret, bool unchanged, bool committed, const char *what,
			 const char *op, const char *w)
{
	if (fallback)
		tap_ok(ret == 0 && committed, "%s %s %s: %s -> fallback commits (ret %d)",
		       op, w, kn, what, ret);
	else if (what == SIGNAL_CASE && ret >= 0 && sig_landed != 2)
		tap_skip("%s %s %s: %s: no timer signal landed inside the section in 5 "
			 "tries", op, w, kn, what);
	else
		tap_ok(ret < 0 && unchanged, "%s %s %s: %s -> aborted, nothing stored (ret %d)",
		       op, w, kn, what, ret);
}

#define TEST_WIDTH(sfx, T)							\
static void test_##sfx(void)							\
{										\
	const char *w = #sfx;							\
	T v, v2, e, e2;								\
	int ret, idx, bad;							\
	unsigned char src[67], dst[67], ref[67];				\
										\
	/* load_cbne_store */							\
	v = 5;									\
	RETRY(ret, idx, rseqkit_load_cbne_store_##sfx(kind, idx, &v, 5, 7));	\
	tap_ok(ret == 0 && v == 7, "load_cbne_store %s %s: equal -> commits", w, kn); \
	RETRY(ret, idx, rseqkit_load_cbne_store_##sfx(kind, idx, &v, 5, 9));	\
	tap_ok(ret == 1 && v == 7, "load_cbne_store %s %s: not equal -> 1, unchanged", w, kn); \
	idx = rseqkit_percpu_index(kind);					\
	bad = idx + 1;								\
	ret = rseqkit_load_cbne_store_##sfx(kind, bad, &v, 7, 8);		\
	expect_abort(ret, v == 7, v == 8, "stale index", "load_cbne_store", w);	\
	SIG_TRY(v = 7, \
		ret = rseqkit_load_cbne_store_##sfx(kind, rseqkit_percpu_index(kind), &v, 7, 8)); \
	expect_abort(ret, v == 7, v == 8, SIGNAL_CASE, "load_cbne_store", w); \
										\
	/* load_add_store */							\
	v = (T)-3;								\
	RETRY(ret, idx, rseqkit_load_add_store_##sfx(kind, idx, &v, 10));	\
	tap_ok(ret == 0 && v == 7, "load_add_store %s %s: -3 + 10 -> 7", w, kn); \
	ret = rseqkit_load_add_store_##sfx(kind, rseqkit_percpu_index(kind) + 1, &v, 1); \
	expect_abort(ret, v == 7, v == 8, "stale index", "load_add_store", w);	\
	SIG_TRY(v = 7, \
		ret = rseqkit_load_add_store_##sfx(kind, rseqkit_percpu_index(kind), &v, 1)); \
	expect_abort(ret, v == 7, v == 8, SIGNAL_CASE, "load_add_store", w); \
										\
	/* load_cbne_load_cbne_store */						\
	v = 1; v2 = 2;								\
	RETRY(ret, idx, rseqkit_load_cbne_load_cbne_store_##sfx(kind, idx, &v, 1, &v2, 2, 3)); \
	tap_ok(ret == 0 && v == 3 && v2 == 2,					\
	       "load_cbne_load_cbne_store %s %s: both equal -> commits", w, kn);	\
	RETRY(ret, idx, rseqkit_load_cbne_load_cbne_store_##sfx(kind, idx, &v, 1, &v2, 2, 4)); \
	tap_ok(ret == 1 && v == 3, "load_cbne_load_cbne_store %s %s: first differs -> 1", w, kn); \
	RETRY(ret, idx, rseqkit_load_cbne_load_cbne_store_##sfx(kind, idx, &v, 3, &v2, 9, 4)); \
	tap_ok(ret == 2 && v == 3, "load_cbne_load_cbne_store %s %s: second differs -> 2", w, kn); \
	ret = rseqkit_load_cbne_load_cbne_store_##sfx(kind, rseqkit_percpu_index(kind) + 1, \
						      &v, 3, &v2, 2, 4);	\
	expect_abort(ret, v == 3, v == 4, "stale index", "load_cbne_load_cbne_store", w); \
	SIG_TRY(v = 3, \
		ret = rseqkit_load_cbne_load_cbne_store_##sfx(kind, rseqkit_percpu_index(kind), &v, 3, &v2, 2, 4)); \
	expect_abort(ret, v == 3, v == 4, SIGNAL_CASE, "load_cbne_load_cbne_store", w); \
										\
	/* load_cbne_store_store (+ release) */					\
	v = 1; v2 = 0;								\
	RETRY(ret, idx, rseqkit_load_cbne_store_store_##sfx(kind, idx, &v, 1, &v2, 42, 2)); \
	tap_ok(ret == 0 && v == 2 && v2 == 42,					\
	       "load_cbne_store_store %s %s: equal -> both stores", w, kn);	\
	RETRY(ret, idx, rseqkit_load_cbne_store_store_release_##sfx(kind, idx, &v, 2, &v2, 43, 3)); \
	tap_ok(ret == 0 && v == 3 && v2 == 43,					\
	       "load_cbne_store_store_release %s %s: equal -> both stores", w, kn); \
	RETRY(ret, idx, rseqkit_load_cbne_store_store_##sfx(kind, idx, &v, 1, &v2, 44, 4)); \
	tap_ok(ret == 1 && v == 3 && v2 == 43,					\
	       "load_cbne_store_store %s %s: not equal -> 1, nothing stored", w, kn); \
	ret = rseqkit_load_cbne_store_store_##sfx(kind, rseqkit_percpu_index(kind) + 1, \
						  &v, 3, &v2, 45, 4);		\
	expect_abort(ret, v == 3 && v2 == 43, v == 4 && v2 == 45, "stale index",	\
		     "load_cbne_store_store", w);				\
	SIG_TRY(v = 3, \
		ret = rseqkit_load_cbne_store_store_##sfx(kind, rseqkit_percpu_index(kind), &v, 3, &v2, 46, 4)); \
	expect_abort(ret, v == 3, v == 4 && v2 == 46, SIGNAL_CASE,	\
		     "load_cbne_store_store", w);				\
										\
	/* load_cbne_memcpy_store (+ release), lengths 0..67 */			\
	for (size_t i = 0; i < sizeof(src); i++)				\
		src[i] = (unsigned char)(i * 7 + 1);				\
	{									\
		int okc = 1;							\
										\
		for (size_t len = 0; len <= sizeof(src); len++) {		\
			memset(dst, 0xee, sizeof(dst));				\
			memset(ref, 0xee, sizeof(ref));				\
			v = 10; v2 = 10;					\
			RETRY(ret, idx, (len & 1) ?				\
			      rseqkit_load_cbne_memcpy_store_release_##sfx(kind, idx, &v, 10, \
					dst, src, len, 11) :			\
			      rseqkit_load_cbne_memcpy_store_##sfx(kind, idx, &v, 10, \
					dst, src, len, 11));			\
			rseqkit_ref_load_cbne_memcpy_store_##sfx(&v2, 10, ref, src, len, 11); \
			okc &= ret == 0 && v == v2 && !memcmp(dst, ref, sizeof(dst)); \
		}								\
		tap_ok(okc, "load_cbne_memcpy_store(_release) %s %s: lengths 0..67 "	\
		       "copy exactly len bytes and commit", w, kn);		\
	}									\
	memset(dst, 0, sizeof(dst));						\
	RETRY(ret, idx, rseqkit_load_cbne_memcpy_store_##sfx(kind, idx, &v, 10, dst, src, 16, 12)); \
	tap_ok(ret == 1 && v == 11 && dst[0] == 0,				\
	       "load_cbne_memcpy_store %s %s: not equal -> 1, nothing copied", w, kn); \
	ret = rseqkit_load_cbne_memcpy_store_##sfx(kind, rseqkit_percpu_index(kind) + 1, \
						   &v, 11, dst, src, 16, 12);	\
	expect_abort(ret, v == 11 && dst[0] == 0, v == 12 && dst[0] == src[0],	\
		     "stale index", "load_cbne_memcpy_store", w);		\
	SIG_TRY(v = 11, \
		ret = rseqkit_load_cbne_memcpy_store_##sfx(kind, rseqkit_percpu_index(kind), &v, 11, dst, src, 16, 12)); \
	expect_abort(ret, v == 11, v == 12, SIGNAL_CASE,		\
		     "load_cbne_memcpy_store", w);				\
	(void)e; (void)e2;							\
}

TEST_WIDTH(u32, uint32_t)
TEST_WIDTH(u64, uint64_t)

struct node {
	long pad;
	struct node *next;
};

static void test_ptr(void)
{
	struct node c = { 0, NULL }, b = { 0, &c }, a = { 0, &b };
	intptr_t head = (intptr_t)&a, load = 0, ctr = 100, *pctr = &ctr;
	struct { long pad; intptr_t *p; } obj = { 0, pctr };
	intptr_t objp = (intptr_t)&obj;
	int ret, idx;

	RETRY(ret, idx, rseqkit_load_cbeq_store_add_load_store_ptr(kind, idx, &head, 0,
			offsetof(struct node, next), &load));
	tap_ok(ret == 0 && load == (intptr_t)&a && head == (intptr_t)&b,
	       "load_cbeq_store_add_load_store ptr %s: pops the head", kn);
	head = 0;
	load = 0;
	RETRY(ret, idx, rseqkit_load_cbeq_store_add_load_store_ptr(kind, idx, &head, 0,
			offsetof(struct node, next), &load));
	tap_ok(ret == 1 && head == 0 && load == 0,
	       "load_cbeq_store_add_load_store ptr %s: equal to expectnot -> 1", kn);
	head = (intptr_t)&b;
	ret = rseqkit_load_cbeq_store_add_load_store_ptr(kind, rseqkit_percpu_index(kind) + 1,
			&head, 0, offsetof(struct node, next), &load);
	expect_abort(ret, head == (intptr_t)&b, head == (intptr_t)&c, "stale index",
		     "load_cbeq_store_add_load_store", "ptr");
	SIG_TRY(head = (intptr_t)&b,
		ret = rseqkit_load_cbeq_store_add_load_store_ptr(kind, rseqkit_percpu_index(kind), &head, 0, offsetof(struct node, next), &load));
	expect_abort(ret, head == (intptr_t)&b, head == (intptr_t)&c, SIGNAL_CASE,
		     "load_cbeq_store_add_load_store", "ptr");

	RETRY(ret, idx, rseqkit_load_add_load_load_add_store_ptr(kind, idx, &objp,
			offsetof(__typeof__(obj), p), 5));
	tap_ok(ret == 0 && ctr == 105, "load_add_load_load_add_store ptr %s: **(obj + off) += 5", kn);
	ret = rseqkit_load_add_load_load_add_store_ptr(kind, rseqkit_percpu_index(kind) + 1,
			&objp, offsetof(__typeof__(obj), p), 5);
	expect_abort(ret, ctr == 105, ctr == 110, "stale index",
		     "load_add_load_load_add_store", "ptr");
	SIG_TRY(ctr = 105,
		ret = rseqkit_load_add_load_load_add_store_ptr(kind, rseqkit_percpu_index(kind), &objp, offsetof(__typeof__(obj), p), 5));
	expect_abort(ret, ctr == 105, ctr == 110, SIGNAL_CASE,
		     "load_add_load_load_add_store", "ptr");
}

struct lazy {
	int32_t cpu_before;
	int first_ret, final_ret, tries;
	uint64_t v, first_switches;
};

static void *lazy_thread(void *arg)
{
	struct lazy *l = arg;
	uint64_t sw0;
	int idx, ret;

	l->cpu_before = (int32_t)rseqkit_thread_area()->cpu_id;
	sw0 = tap_thread_switches();
	idx = rseqkit_percpu_index(RSEQKIT_INDEX_CPU_ID);
	l->first_ret = ret = rseqkit_load_add_store_u64(RSEQKIT_INDEX_CPU_ID, idx, &l->v, 1);
	l->first_switches = tap_thread_switches() - sw0;
	while (ret < 0 && l->tries++ < 1000) {
		idx = rseqkit_percpu_index(RSEQKIT_INDEX_CPU_ID);
		ret = rseqkit_load_add_store_u64(RSEQKIT_INDEX_CPU_ID, idx, &l->v, 1);
	}
	l->final_ret = ret;
	return NULL;
}

static void test_lazy(const char *env)
{
	struct lazy l = { 0 };
	pthread_t t;

	pthread_create(&t, NULL, lazy_thread, &l);
	pthread_join(t, NULL);
	if (!strcmp(env, "self"))
		tap_ok(l.cpu_before < 0 && l.first_ret < 0 && l.final_ret == 0 && l.v == 1,
		       "lazy registration: a new thread (cpu_id %d) aborts once (ret %d), "
		       "registers in the abort path, the retry commits", l.cpu_before,
		       l.first_ret);
	else if (!strcmp(env, "glibc"))
		/*
		 * The thread owes the library no registration, so its first
		 * operation commits unless the thread was switched out in
		 * the middle: a preemption aborts any section.
		 */
		tap_ok(l.cpu_before >= 0 && (l.first_ret == 0 || l.first_switches) &&
		       l.final_ret == 0 && l.v == 1,
		       "glibc registered the new thread (cpu_id %d): its first operation "
		       "commits (ret %d), or aborts only across a context switch (%llu)",
		       l.cpu_before, l.first_ret, (unsigned long long)l.first_switches);
	else
		tap_ok(l.first_ret == 0 && l.v == 1,
		       "no rseq: a new thread's first operation runs the fallback and commits");
}

/* mm_cid checks mm_cid, not cpu_id, when the field is usable. */
static void test_mm_cid_field(void)
{
	int cpu = rseqkit_percpu_index(RSEQKIT_INDEX_CPU_ID);
	int cid = rseqkit_percpu_index(RSEQKIT_INDEX_MM_CID);
	bool usable = rseqkit_rseq_fields & RSEQKIT_FIELD_MM_CID;
	uint64_t v = 0;
	int ret;

	tap_diag("cpu %d, mm_cid index %d, mm_cid field %s", cpu, cid,
		 usable ? "usable" : "not usable (indexes by cpu_id)");
	if (fallback) {
		tap_ok(cid >= 0 && cid < rseqkit_percpu_nr_slots(),
		       "no rseq: the mm_cid index is a slot index (%d)", cid);
		return;
	}
	if (!usable) {
		tap_ok(cid == cpu, "mm_cid not usable (spec R7): the mm_cid index is the CPU");
		return;
	}
	if (cid == cpu) {
		tap_skip("mm_cid %d equals the CPU: cannot tell the fields apart here", cid);
		return;
	}
	ret = rseqkit_load_add_store_u64(RSEQKIT_INDEX_MM_CID, cpu, &v, 1);
	tap_ok(ret < 0 && v == 0, "mm_cid usable: an mm_cid operation given the CPU number %d "
	       "(mm_cid %d) aborts", cpu, cid);
}

static void body(const char *env, int argc, char **argv)
{
	struct sigaction sa = { .sa_sigaction = on_alarm, .sa_flags = SA_SIGINFO };
	int ncpu = tap_ncpus(), pin = -1;
	cpu_set_t set;

	(void)argc;
	(void)argv;
	sigaction(SIGALRM, &sa, NULL);
	rseqkit_init();
	fallback = rseqkit_percpu_fallback();
	{
		struct rseqkit_mode m;

		rseqkit_get_mode(&m);
		tap_diag("environment %s: %s (owner %s, %s mode), nr_slots %d, %d allowed CPUs",
			 env, fallback ? "fallbacks" : "rseq", rseqkit_owner_name(m.owner),
			 rseqkit_abi_mode_name(m.abi), rseqkit_percpu_nr_slots(), ncpu);
	}
	tap_ok(fallback == !strcmp(env, "none"), "%s: fallbacks %s", env,
	       fallback ? "in use" : "not in use");
	/* Pin to the highest allowed CPU so cpu and mm_cid differ. */
	sched_getaffinity(0, sizeof(set), &set);
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &set))
			pin = c;
	tap_pin_cpu(pin);

	kind = RSEQKIT_INDEX_CPU_ID;
	kn = "cpu_id";
	test_u32();
	test_u64();
	test_ptr();
	kind = RSEQKIT_INDEX_MM_CID;
	kn = "mm_cid";
	test_u32();
	test_u64();
	test_ptr();
	test_mm_cid_field();
	tap_diag("timer signals delivered: %ld", sig_aborts);
	sched_setaffinity(0, sizeof(set), &set);
	test_lazy(env);
	tap_ok(rseqkit_prepare_unload() == (fallback ? -ENOENT : 0) &&
	       rseqkit_thread_area()->rseq_cs == 0,
	       "rseqkit_prepare_unload() clears rseq_cs -> %s", fallback ? "-ENOENT" : "0");
}

int main(int argc, char **argv)
{
	return envrun_main(argc, argv, body);
}
