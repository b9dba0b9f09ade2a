// SPDX-License-Identifier: MIT
/*
 * Nesting of the two kinds of time slice section (rseqkit/slice.h): only
 * the outermost section raises and ends the request, in any order of
 * enter/leave and begin/end, and a signal handler's sections nest inside
 * the interrupted code at any point. Expected values come from the header's
 * contract: the request byte is 1 inside any section and 0 outside, and the
 * begin/end depth (rseqkit_slice_tls.nest) is 0 outside and inside an
 * outermost begin/end section.
 *
 * The fast path is forced on (rseqkit_slice_on = 1) in a process whose area
 * is rseqkit's own, as the benchmarks do, so this runs on kernels without
 * extensions (a legacy kernel never reads the request byte, R3.5). Where
 * the kernel has extensions on, the decision is "on" by itself; the kernel
 * may then clear the request of a thread it schedules out (R6.5) or grant,
 * so the checks of the request byte are made only where it is forced (the
 * depth checks everywhere).
 */
#include <pthread.h>
#include <signal.h>
#include <string.h>

#include <rseqkit/rseqkit.h>
#include <rseqkit/slice.h>
#include "tap.h"

static bool exact;		/* forced on: nobody else writes the request */
static volatile int bad_main, bad_handler, handler_runs, stop;

static int request(void)
{
	return rseqkit_arch_tp_load_u8((long)rseqkit_rseq_offset + RSEQKIT_OFF_SLICE_REQUEST);
}

/* The request byte is v (only checked when exact) and the depth is d. */
static bool state(int v, uint32_t d)
{
	return (!exact || request() == v) && rseqkit_slice_tls.nest == d;
}

static void handler(int sig)
{
	uint32_t nest = rseqkit_slice_tls.nest;
	int req = request();
	long t;

	(void)sig;
	handler_runs++;
	rseqkit_slice_begin();
	if (exact && request() != 1)
		bad_handler++;
	t = rseqkit_slice_enter();
	rseqkit_slice_leave(t);
	rseqkit_slice_end();
	t = rseqkit_slice_enter();
	rseqkit_slice_begin();
	if (exact && request() != 1)
		bad_handler++;
	rseqkit_slice_end();
	rseqkit_slice_leave(t);
	/* Whatever point it interrupted, the handler leaves the depth as it
	 * found it, and the request too (the interrupted code's next store,
	 * if any, is still to come). */
	if (rseqkit_slice_tls.nest != nest || (exact && request() != req))
		bad_handler++;
}

static void *pester(void *arg)
{
	pthread_t target = *(pthread_t *)arg;

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		pthread_kill(target, SIGUSR1);
		sched_yield();
	}
	return NULL;
}

static void orders(void)
{
	long t;
	bool ok;

	t = rseqkit_slice_enter();
	rseqkit_slice_begin();
	ok = state(1, 1);
	rseqkit_slice_end();
	ok = ok && state(1, 0);
	rseqkit_slice_leave(t);
	tap_ok(t != 0 && ok && state(0, 0), "begin/end inside enter/leave: counted as nested, "
	       "the inner end keeps the request, leave ends it");

	rseqkit_slice_begin();
	ok = state(1, 0);
	rseqkit_slice_begin();
	ok = ok && state(1, 1);
	rseqkit_slice_end();
	ok = ok && state(1, 0);
	rseqkit_slice_end();
	tap_ok(ok && state(0, 0), "begin/end inside begin/end: only the inner one counted, "
	       "the outer end ends the request");

	rseqkit_slice_begin();
	t = rseqkit_slice_enter();
	ok = t == 0 && state(1, 0);
	rseqkit_slice_leave(t);
	ok = ok && state(1, 0);
	rseqkit_slice_end();
	tap_ok(ok && state(0, 0), "enter/leave inside begin/end: token 0, leave keeps the request");
}

static void signals(void)
{
	struct sigaction sa;
	pthread_t self = pthread_self(), th;
	long rounds;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sigaction(SIGUSR1, &sa, NULL);
	pthread_create(&th, NULL, pester, &self);
	for (rounds = 0; rounds < 300000 || (handler_runs < 3000 && rounds < 30000000); rounds++) {
		long t;

		rseqkit_slice_begin();
		if (!state(1, 0))
			bad_main++;
		rseqkit_slice_end();
		if (!state(0, 0))
			bad_main++;
		t = rseqkit_slice_enter();
		if (!state(1, 0))
			bad_main++;
		rseqkit_slice_leave(t);
		if (!state(0, 0))
			bad_main++;
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	pthread_join(th, NULL);
	tap_ok(bad_main == 0 && bad_handler == 0 && handler_runs > 0,
	       "%ld rounds of begin/end and enter/leave with %d signals at random points, each "
	       "handler running both kinds: %d wrong states outside handlers, %d inside",
	       rounds, handler_runs, bad_main, bad_handler);
}

int main(int argc, char **argv)
{
	struct rseqkit_mode m;

	(void)argc;
	tap_reexec_without_glibc_rseq(argv);
	rseqkit_get_mode(&m);
	if (m.owner != RSEQKIT_OWNER_SELF)
		tap_skip_all("needs rseqkit's own registration (got %s)", rseqkit_owner_name(m.owner));
	if (rseqkit_slice_init() != 1) {
		exact = true;
		rseqkit_slice_on = 1;	/* forced before this thread's first section */
	}
	tap_diag("slice extensions %s", exact ? "forced on (request byte checked)" :
		 "on by the kernel (request byte not checked)");
	tap_plan(4);
	orders();
	signals();
	return tap_done();
}
