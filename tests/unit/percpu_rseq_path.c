// SPDX-License-Identifier: MIT
/*
 * The per-CPU operations run as RSEQ critical sections, not through their
 * fallbacks, whenever the kernel offers rseq (rseqkit/percpu.h: "Fallback
 * ... decided once per process"; the architecture's asm in
 * rseqkit/arch/<arch>-percpu.h). Every operation, both widths, plain and
 * _release, both index kinds, the kind-taking and the _ctx entry points, runs
 * for a while under injection (a spin at point 1 inside the section and a
 * 1 ms interval timer), so the kernel aborts sections. For each one:
 *   - the memory afterwards is what the pseudo-code gives for the commits
 *     counted (aborts commit nothing);
 *   - rseq expected: the thread never entered the fallback code
 *     (rseqkit__fb_thread_entries, counted by the library's fallback
 *     functions); no timer signal found the thread inside a section (the
 *     kernel moves it to the abort handler first, R4.2), and when one found
 *     it at an abort handler, the abort path ran (the hook of point 4).
 *     Where the signal lands is judged from the interrupted instruction
 *     pointer; a signal outside every section tells nothing (under a loaded
 *     host the guest's timer may fire rarely), but each environment must
 *     see at least one signal at an abort handler;
 *   - no rseq expected: the fallback code ran (the counter can tell).
 * Whether rseq is expected comes from the kernel (the VM scenario's
 * declaration, else a probe: tests/harness/kfeat.h) and the environment
 * (none = seccomp denies rseq), never from the library under test.
 */
#define RSEQKIT_INJECT
#include <signal.h>
#include <ucontext.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <rseqkit/percpu.h>
#include <rseqkit/thread.h>
#include "../../src/percpu-internal.h"
#include "envrun.h"
#include "kfeat.h"
#include "tap.h"

/* Each case runs at least this long and this many commits. */
#define CASE_NS		(20 * 1000 * 1000ULL)
#define CASE_MIN_OPS	200
/* Spin of injection point 1: most of an operation's time is inside the
 * section, so the timer signal lands there. */
#define SPIN		2000

static bool want_rseq;
static enum rseqkit_index kind;
static const char *kn;
static volatile long aborts, sig_at_abort, sig_inside;
static long total_aborts, total_at_abort;

static void on_hook(int point)
{
	if (point == 4)
		aborts++;
}

extern const struct rseqkit_abi_cs __start___rseq_cs[] __attribute__((weak));
extern const struct rseqkit_abi_cs __stop___rseq_cs[] __attribute__((weak));

/* A timer signal: where did it find the thread? The kernel's abort comes
 * before the signal frame, so an aborted section shows up as its abort
 * handler's address, one the kernel failed to abort as an address inside. */
static void on_alarm(int sig, siginfo_t *si, void *uc_)
{
	ucontext_t *uc = uc_;
#if defined(__x86_64__)
	uint64_t ip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
	uint64_t ip = (uint64_t)uc->uc_mcontext.pc;
#else
# error "percpu_rseq_path: the interrupted instruction pointer of this architecture"
#endif

	(void)sig;
	(void)si;
	if (!__start___rseq_cs)
		return;
	for (const struct rseqkit_abi_cs *d = __start___rseq_cs; d < __stop___rseq_cs; d++) {
		if (ip == d->abort_ip)
			sig_at_abort++;
		else if (ip >= d->start_ip && ip - d->start_ip < d->post_commit_offset)
			sig_inside++;
	}
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* The verdict of one case: ab aborts, at/in signals at an abort handler /
 * inside a section, fb fallback entries. */
static void judge(const char *op, bool ctx, long n, long ab, long at, long in,
		  unsigned long fb, bool exact)
{
	const char *how = ctx ? "_ctx" : "";

	total_aborts += ab;
	total_at_abort += at;
	tap_ok(exact, "%s %s%s: %ld commits, memory as the pseudo-code gives", kn, op, how, n);
	if (want_rseq) {
		tap_ok(fb == 0, "%s %s%s: rseq registered -> no fallback entry (%lu)", kn, op,
		       how, fb);
		tap_ok(in == 0 && (at == 0 || ab > 0),
		       "%s %s%s: R4.2 timer signals abort the section (%ld at an abort handler, "
		       "%ld inside a section; %ld aborts)", kn, op, how, at, in, ab);
	} else {
		tap_ok(fb > 0, "%s %s%s: no rseq -> the fallback ran (%lu entries)", kn, op, how,
		       fb);
	}
}

/*
 * One case: call (an operation of this test's kind, in its kind-taking or
 * _ctx form) until CASE_NS and CASE_MIN_OPS are both reached; after each
 * commit, on_commit; a comparison failure (ret > 0) is a wrong result.
 */
#define CASE(name, op, sfx, setup, on_commit, check, ...)			\
static void name(bool use_ctx)							\
{										\
	struct rseqkit_percpu_ctx c_ = rseqkit_percpu_ctx(kind);		\
	long n = 0, ab0 = aborts, at0 = sig_at_abort, in0 = sig_inside;	\
	unsigned long fb0 = rseqkit__fb_thread_entries;				\
	uint64_t end_ = now_ns() + CASE_NS;					\
	bool exact = true;							\
										\
	setup;									\
	rseqkit_inject_loops[1] = SPIN;						\
	while (n < CASE_MIN_OPS || now_ns() < end_) {				\
		int idx_, ret_;							\
										\
		/* retry aborts: the case ends after a commit (an aborted	\
		 * memcpy may leave a partial copy behind) */			\
		do {								\
			if (use_ctx) {						\
				idx_ = rseqkit_percpu_index_ctx(&c_);		\
				ret_ = rseqkit_##op##_##sfx##_ctx(&c_, idx_,	\
								  __VA_ARGS__);	\
			} else {						\
				idx_ = rseqkit_percpu_index(kind);		\
				ret_ = rseqkit_##op##_##sfx(kind, idx_, __VA_ARGS__); \
			}							\
		} while (ret_ < 0);						\
		if (ret_ > 0) {							\
			exact = false;						\
			break;							\
		}								\
		n++;								\
		on_commit;							\
	}									\
	rseqkit_inject_loops[1] = 0;						\
	exact = exact && (check);						\
	judge(#op "_" #sfx, use_ctx, n, aborts - ab0, sig_at_abort - at0,	\
	      sig_inside - in0, rseqkit__fb_thread_entries - fb0, exact);	\
}

#define WIDTH_CASES(sfx, T)							\
CASE(cbne_store_##sfx, load_cbne_store, sfx, T v = 0, (void)0,		\
     v == (T)n, &v, (T)n, (T)(n + 1))						\
CASE(add_store_##sfx, load_add_store, sfx, T v = 0, (void)0,			\
     v == (T)(3 * n), &v, (T)3)						\
CASE(cbne_cbne_store_##sfx, load_cbne_load_cbne_store, sfx,			\
     T v = 0; T v2 = 77, (void)0, v == (T)n && v2 == 77,			\
     &v, (T)n, &v2, (T)77, (T)(n + 1))					\
CASE(cbne_store_store_##sfx, load_cbne_store_store, sfx,			\
     T v = 0; T v2 = 0, (void)0, v == (T)n && v2 == (T)(n + 99),		\
     &v, (T)n, &v2, (T)(n + 100), (T)(n + 1))				\
CASE(cbne_store_store_release_##sfx, load_cbne_store_store_release, sfx,	\
     T v = 0; T v2 = 0, (void)0, v == (T)n && v2 == (T)(n + 99),		\
     &v, (T)n, &v2, (T)(n + 100), (T)(n + 1))				\
CASE(cbne_memcpy_store_##sfx, load_cbne_memcpy_store, sfx,			\
     T v = 0; unsigned char src[37]; unsigned char dst[40] = { 0 };		\
     memset(src, 0x5a, sizeof(src)),						\
     src[0] = (unsigned char)n,						\
     v == (T)n && dst[0] == (unsigned char)(n - 1) &&				\
     !memcmp(dst + 1, src + 1, 36) && dst[37] == 0,				\
     &v, (T)n, dst, src, sizeof(src), (T)(n + 1))				\
CASE(cbne_memcpy_store_release_##sfx, load_cbne_memcpy_store_release, sfx,	\
     T v = 0; unsigned char src[37]; unsigned char dst[40] = { 0 };		\
     memset(src, 0x5a, sizeof(src)),						\
     src[0] = (unsigned char)n,						\
     v == (T)n && dst[0] == (unsigned char)(n - 1) &&				\
     !memcmp(dst + 1, src + 1, 36) && dst[37] == 0,				\
     &v, (T)n, dst, src, sizeof(src), (T)(n + 1))

WIDTH_CASES(u32, uint32_t)
WIDTH_CASES(u64, uint64_t)

/* List pop: head -> a -> b; every commit pops a, then the head is reset. */
struct node {
	long pad;
	intptr_t next;
};

CASE(pop_ptr, load_cbeq_store_add_load_store, ptr,
     struct node a = { 0 }; struct node b = { 0 }; intptr_t head;
     intptr_t got = 0; bool pops_ok = true;
     a.next = (intptr_t)&b; head = (intptr_t)&a,
     pops_ok = pops_ok && got == (intptr_t)&a && head == (intptr_t)&b;
     head = (intptr_t)&a,
     pops_ok, &head, (intptr_t)0, (long)offsetof(struct node, next), &got)

/* Indirect add: ptr -> obj, obj.ctr -> counter. */
struct obj {
	long pad;
	intptr_t *ctr;
};

CASE(indirect_add_ptr, load_add_load_load_add_store, ptr,
     intptr_t counter = 0; struct obj o = { .ctr = &counter };
     intptr_t ptr = (intptr_t)&o,
     (void)0, counter == 2 * n, &ptr, (long)offsetof(struct obj, ctr), (intptr_t)2)

static void (*const cases[])(bool) = {
	cbne_store_u32, add_store_u32, cbne_cbne_store_u32, cbne_store_store_u32,
	cbne_store_store_release_u32, cbne_memcpy_store_u32, cbne_memcpy_store_release_u32,
	cbne_store_u64, add_store_u64, cbne_cbne_store_u64, cbne_store_store_u64,
	cbne_store_store_release_u64, cbne_memcpy_store_u64, cbne_memcpy_store_release_u64,
	pop_ptr, indirect_add_ptr,
};

static void body(const char *env, int argc, char **argv)
{
	struct sigaction sa = { .sa_sigaction = on_alarm, .sa_flags = SA_RESTART | SA_SIGINFO };
	struct itimerval it = { .it_interval = { .tv_usec = 1000 }, .it_value = { .tv_usec = 1000 } };
	struct kfeat k;

	(void)argc;
	(void)argv;
	/* none: the seccomp filter denies rseq(2) whatever the kernel has. */
	if (strcmp(env, "none") != 0) {
		kfeat_probe(&k);
		kfeat_diag(&k);
		want_rseq = k.rseq;
	}
	tap_diag("%s: rseq %s", env, want_rseq ? "expected (the kernel has rseq(2))" :
		 "not expected");
	rseqkit_inject_hook = on_hook;
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
	for (int kk = 0; kk < 2; kk++) {
		kind = kk ? RSEQKIT_INDEX_MM_CID : RSEQKIT_INDEX_CPU_ID;
		kn = kk ? "mm_cid" : "cpu_id";
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			cases[i](false);
			cases[i](true);
		}
	}
	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	rseqkit_inject_hook = NULL;
	tap_diag("%s: %ld aborts in all", env, total_aborts);
	if (want_rseq)
		tap_ok(total_at_abort > 0 && total_aborts > 0,
		       "%s: R4.2 timer signals found spinning sections at their abort handler "
		       "(%ld times; %ld aborts)", env, total_at_abort, total_aborts);
}

int main(int argc, char **argv)
{
	return envrun_main(argc, argv, body);
}
