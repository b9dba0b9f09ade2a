// SPDX-License-Identifier: MIT
/*
 * Slice-aware spinlock and mutex (rseqkit/lock.h): exact counts under
 * oversubscription (more threads than CPUs), nesting of the two locks, and -
 * where the kernel offers extensions and debugfs rseq/stats - grants really
 * taken while a lock is held (R4.6 counters).
 */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include <rseqkit/rseqkit.h>
#include "kfeat.h"
#include "tap.h"

#define ITERS 20000

static struct rseqkit_spinlock spin = RSEQKIT_SPINLOCK_INIT;
static struct rseqkit_mutex mutex = RSEQKIT_MUTEX_INIT;
static unsigned long spin_count, mutex_count, nested_count;
static volatile bool stop;
static int bad_request;

static void work(void)
{
	for (volatile int i = 0; i < 50; i++)
		;
}

static void check_request_held(void)
{
	/* Inside a critical section with the process decision on, the
	 * request byte is up or the kernel turned it into a grant - unless
	 * the kernel preempted us anyway and cleared the word (R6.4: asked
	 * but not granted; R6.5: expiry, revocation), which is legitimate:
	 * counted and reported, not asserted. */
	union rseqkit_abi_slice_ctrl c;

	if (!rseqkit_slice_on)
		return;
	c.all = *(volatile uint32_t *)&rseqkit_thread_area()->slice_ctrl.all;
	if (!c.s.request && !c.s.granted)
		__atomic_fetch_add(&bad_request, 1, __ATOMIC_RELAXED);
}

static void *worker(void *arg)
{
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
			check_request_held();	/* outer (mutex) request still up */
		}
		rseqkit_mutex_unlock(&mutex);
	}
	return NULL;
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

	(void)argc;
	if (nthreads > 64)
		nthreads = 64;
	kfeat_probe(&k);
	/* On a V2 kernel let rseqkit own the registration (glibc 2.36 would
	 * register legacy), so the locks run with extensions on. */
	if (k.v2)
		tap_reexec_without_glibc_rseq(argv);
	rseqkit_slice_get_info(&info);
	tap_diag("slice decision: %s", info.reason);

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
	tap_diag("critical sections that found slice_ctrl cleared by the kernel: %d",
		 bad_request);

	if (!info.on || !k.stats) {
		tap_skip("R4.6: grants taken by lock holders: %s",
			 !info.on ? "extensions off in this process" : "no debugfs rseq/stats");
	} else {
		struct kfeat_stats a, b, d;
		unsigned long n[64] = { 0 };
		uint64_t t0 = tap_now_ns();

		kfeat_read_stats(&a);
		stop = false;
		for (int i = 0; i < nthreads; i++)
			pthread_create(&t[i], NULL, grant_worker, &n[i]);
		do {
			usleep(100000);
			kfeat_read_stats(&b);
		} while (b.granted == a.granted && tap_now_ns() - t0 < 5000000000ULL);
		stop = true;
		for (int i = 0; i < nthreads; i++)
			pthread_join(t[i], NULL);
		kfeat_read_stats(&b);
		d = kfeat_stats_delta(&a, &b);
		tap_diag("stats delta: granted %lu yielded %lu expired %lu revoked %lu aborted %lu",
			 (unsigned long)d.granted, (unsigned long)d.yielded,
			 (unsigned long)d.expired, (unsigned long)d.revoked,
			 (unsigned long)d.aborted);
		tap_ok(d.granted > 0, "R6.4: oversubscribed lock holders are granted extensions "
		       "(%lu grants)", (unsigned long)d.granted);
	}
	return tap_done();
}
