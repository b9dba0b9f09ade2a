// SPDX-License-Identifier: MIT
/*
 * Slice-aware spinlock and mutex (rseqkit/lock.h): exact counts under
 * oversubscription (more threads than CPUs), nesting of the two locks, and -
 * where slice extensions are on (scenario, or probed on the host) - the
 * request really raised inside every critical section (R6.3; the kernel may
 * clear it only when it schedules the thread, R6.4/R6.5) and grants taken
 * and handed back while a lock is held (R4.6 counters).
 */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <unistd.h>

#include <rseqkit/rseqkit.h>
#include "ct_slice.h"
#include "kfeat.h"
#include "tap.h"

#define ITERS 20000
/* begin/end rounds of the single-thread request check. */
#define BEGIN_ROUNDS 10000
/* How long the grant phase runs (a fixed time, not "until the first grant"). */
#define GRANT_PHASE_US 2000000

static struct rseqkit_spinlock spin = RSEQKIT_SPINLOCK_INIT;
static struct rseqkit_mutex mutex = RSEQKIT_MUTEX_INIT;
static unsigned long spin_count, mutex_count, nested_count;
static volatile bool stop;
static int bad_request, checks;
static unsigned long worker_switches;

/* Neither request nor granted set in slice_ctrl. */
static bool word_clear(void)
{
	return !ct_slice_ctrl(rseqkit_thread_area());
}

static void work(void)
{
	for (volatile int i = 0; i < 50; i++)
		;
}

static void check_request_held(void)
{
	/* Inside a critical section with the process decision on, the
	 * request byte is up or the kernel turned it into a grant - unless
	 * the kernel scheduled the thread out meanwhile and cleared the word
	 * (R6.4: asked but not granted; R6.5: expiry, revocation, any exit
	 * after a reschedule), which takes a context switch: so at most one
	 * cleared word per switch of the thread. */
	if (!rseqkit_slice_on)
		return;
	__atomic_fetch_add(&checks, 1, __ATOMIC_RELAXED);
	if (word_clear())
		__atomic_fetch_add(&bad_request, 1, __ATOMIC_RELAXED);
}

static void *worker(void *arg)
{
	unsigned long sw0 = (unsigned long)tap_thread_switches();

	(void)arg;
	for (int i = 0; i < ITERS; i++) {
		rseqkit_spin_lock(&spin);
		spin_count++;
		check_request_held();
		work();
		rseqkit_spin_unlock(&spin);

		rseqkit_mutex_lock(&mutex);
		mutex_count++;
		work();
		if (i % 8 == 0) {
			rseqkit_spin_lock(&spin);
			nested_count++;
			rseqkit_spin_unlock(&spin);
			/* The mutex raises the request only while contended
			 * (lock.h); when it did, the inner lock's release must
			 * have left it up. */
			if (mutex.slice)
				check_request_held();
		}
		rseqkit_mutex_unlock(&mutex);
	}
	__atomic_fetch_add(&worker_switches, (unsigned long)tap_thread_switches() - sw0,
			   __ATOMIC_RELAXED);
	return NULL;
}

static struct rseqkit_mutex hint_mutex = RSEQKIT_MUTEX_INIT;

/* Holds hint_mutex until the main thread has marked it contended (state 2,
 * its slow path), so the main thread's acquisition is the one that waited
 * however late it comes; a waiter that never marks it gets the lock after
 * HINT_HOLD_MAX_NS and fails the check. */
#define HINT_HOLD_MAX_NS (10 * 1000000000ULL)

static void *hint_holder(void *arg)
{
	uint64_t t0;

	rseqkit_mutex_lock(&hint_mutex);
	__atomic_store_n((int *)arg, 1, __ATOMIC_RELEASE);
	t0 = tap_now_ns();
	while (__atomic_load_n(&hint_mutex.state, __ATOMIC_RELAXED) != 2 &&
	       tap_now_ns() - t0 < HINT_HOLD_MAX_NS)
		usleep(1000);
	rseqkit_mutex_unlock(&hint_mutex);
	return NULL;
}

/* Acquisitions of hint_mutex by this thread alone that find the request up
 * (or granted) while holding it. */
static int raised_in(int rounds)
{
	int raised = 0;

	for (int i = 0; i < rounds; i++) {
		rseqkit_mutex_lock(&hint_mutex);
		raised += !word_clear();
		rseqkit_mutex_unlock(&hint_mutex);
	}
	return raised;
}

/* The mutex's request policy (lock.h): none while uncontended, raised by
 * the acquisition that waited and the RSEQKIT_MUTEX_HINT after it, then none
 * again. A cleared word needs a context switch (R6.4/R6.5). */
static void check_mutex_hint(void)
{
	unsigned long sw0, sw;
	int held = 0, up, after, before, hint, raised;
	pthread_t t;

	before = raised_in(100);
	tap_ok(before == 0, "mutex: uncontended acquisitions raise no slice request (%d of 100 "
	       "found it up)", before);
	pthread_create(&t, NULL, hint_holder, &held);
	while (!__atomic_load_n(&held, __ATOMIC_ACQUIRE))
		sched_yield();
	rseqkit_mutex_lock(&hint_mutex);	/* waits for the holder */
	/* Read before any system call: one would end a grant (R6.6). The slow
	 * path left the hint full; the fast path would have counted it down. */
	up = !word_clear();
	raised = hint_mutex.slice;
	hint = hint_mutex.hint;
	rseqkit_mutex_unlock(&hint_mutex);
	pthread_join(t, NULL);
	tap_ok(hint == RSEQKIT_MUTEX_HINT && raised && up, "mutex: the acquisition that waited "
	       "(hint %d of %d) raised the request (%d) and holds it (%s)", hint,
	       RSEQKIT_MUTEX_HINT, raised, up ? "up" : "cleared");
	sw0 = (unsigned long)tap_thread_switches();
	up = raised_in(RSEQKIT_MUTEX_HINT);
	sw = (unsigned long)tap_thread_switches() - sw0;
	tap_ok((unsigned long)(RSEQKIT_MUTEX_HINT - up) <= sw,
	       "mutex: the %d acquisitions after a contention raise the request (%d did; cleared "
	       "at most once per context switch: %lu)", RSEQKIT_MUTEX_HINT, up, sw);
	after = raised_in(100);
	tap_ok(after == 0, "mutex: then the request stops (%d of the next 100 raised it)", after);
}

static void *probe_fn(void *arg)
{
	kfeat_probe(arg);
	return NULL;
}

/* R6.3 on one thread: right after rseqkit_slice_begin() the request byte is
 * 1 (or the kernel already granted); a cleared word needs a switch. */
static void check_begin(void)
{
	unsigned long sw0 = (unsigned long)tap_thread_switches(), sw;
	int bad = 0;

	for (int i = 0; i < BEGIN_ROUNDS; i++) {
		rseqkit_slice_begin();
		bad += word_clear();
		rseqkit_slice_end();
	}
	sw = (unsigned long)tap_thread_switches() - sw0;
	tap_ok((unsigned long)bad <= sw,
	       "R6.3: rseqkit_slice_begin() raises the request (request 1 or granted right after "
	       "it in %d of %d rounds; %d cleared, at most one per context switch: %lu)",
	       BEGIN_ROUNDS - bad, BEGIN_ROUNDS, bad, sw);
}

static void *grant_worker(void *arg)
{
	unsigned long *n = arg;

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		rseqkit_spin_lock(&spin);
		for (volatile int i = 0; i < 300; i++)
			;
		(*n)++;
		rseqkit_spin_unlock(&spin);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int nthreads = 2 * tap_ncpus() + 2;
	pthread_t t[64];
	struct rseqkit_slice_info info;
	struct kfeat k;
	bool want_on;

	(void)argc;
	if (nthreads > 64)
		nthreads = 64;
	/* On a V2 kernel let rseqkit own the registration (glibc 2.36 would
	 * register legacy), so the locks run with extensions on. */
	if (getauxval(RSEQKIT_AT_RSEQ_FEATURE_SIZE) >= RSEQKIT_FEATURE_SIZE_V2)
		tap_reexec_without_glibc_rseq(argv);
	/* From a thread the library has not registered: the probe's forked
	 * child must start without a registration of its own. */
	pthread_create(&t[0], NULL, probe_fn, &k);
	pthread_join(t[0], NULL);
	kfeat_diag(&k);
	rseqkit_slice_get_info(&info);
	tap_diag("slice decision: %s", info.reason);
	/* What the process decision must be: on where slice extensions are on
	 * and rseqkit registers V2 itself (the scenario says, not the library). */
	want_on = kfeat_slice_on(&k) && k.v2;
	if (want_on)
		tap_ok(info.on, "R6.1: slice extensions on here, so the library's decision is on "
		       "(%s)", info.reason);

	for (int i = 0; i < nthreads; i++)
		pthread_create(&t[i], NULL, worker, NULL);
	for (int i = 0; i < nthreads; i++)
		pthread_join(t[i], NULL);
	tap_ok(spin_count == (unsigned long)nthreads * ITERS &&
	       nested_count == (unsigned long)nthreads * (ITERS / 8),
	       "spinlock: exact count with %d threads on %d CPUs (%lu)", nthreads, tap_ncpus(),
	       spin_count);
	tap_ok(mutex_count == (unsigned long)nthreads * ITERS,
	       "mutex: exact count with %d threads on %d CPUs (%lu)", nthreads, tap_ncpus(),
	       mutex_count);
	if (!info.on) {
		kfeat_missing(&k, want_on, "R6.3: request held inside lock sections: extensions "
			      "off in this process");
	} else {
		tap_ok((unsigned long)bad_request <= worker_switches,
		       "R6.3: the request is up (or granted) inside the lock sections (%d of %d "
		       "checks found the word cleared, at most one per context switch: %lu)",
		       bad_request, checks, worker_switches);
		check_begin();
		check_mutex_hint();
	}

	if (!info.on || !k.stats) {
		kfeat_missing(&k, want_on, "R4.6: grants taken by lock holders: %s",
			      !info.on ? "extensions off in this process" : "no debugfs rseq/stats");
	} else {
		struct kfeat_stats a, b, d;
		unsigned long n[64] = { 0 };

		kfeat_read_stats(&a);
		stop = false;
		for (int i = 0; i < nthreads; i++)
			pthread_create(&t[i], NULL, grant_worker, &n[i]);
		usleep(GRANT_PHASE_US);
		stop = true;
		for (int i = 0; i < nthreads; i++)
			pthread_join(t[i], NULL);
		kfeat_read_stats(&b);
		d = kfeat_stats_delta(&a, &b);
		tap_diag("stats delta: granted %lu yielded %lu expired %lu revoked %lu aborted %lu",
			 (unsigned long)d.sgrant, (unsigned long)d.syield,
			 (unsigned long)d.sexpir, (unsigned long)d.srevok,
			 (unsigned long)d.sabort);
		tap_ok(d.sgrant >= (unsigned long)nthreads,
		       "R6.4: oversubscribed lock holders are granted extensions (%lu grants in %d "
		       "ms, >= one per thread: %d)", (unsigned long)d.sgrant,
		       GRANT_PHASE_US / 1000, nthreads);
		tap_ok(d.syield > 0, "R6.3/R6.6: granted lock holders give the CPU back with "
		       "rseq_slice_yield() at unlock (%lu yielded)", (unsigned long)d.syield);
	}
	return tap_done();
}
