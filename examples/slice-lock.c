// SPDX-License-Identifier: MIT
/*
 * slice-lock.c - slice-aware locks: a spinlock and a mutex whose holder asks
 * the scheduler for a time slice extension, so it is rarely preempted while
 * the others wait for it.
 *
 *   cc slice-lock.c $(pkg-config --cflags --libs librseqkit) -o slice-lock
 *   ./slice-lock                   # extensions need a V2 registration:
 *   rseqkit run -- ./slice-lock    # on Linux 7.1+ or rseqkit's patched 6.12
 *
 * Nothing to set up: the library decides once per process whether to use
 * extensions (kernel support, V2 registration, no RSEQKIT_SLICE=off) and
 * enables every thread itself. Without extensions the locks are plain
 * spinlock and futex mutex, so the program is correct everywhere.
 */
#include <pthread.h>
#include <stdio.h>

#include <rseqkit/lock.h>
#include <rseqkit/slice.h>

#define THREADS	4
#define ROUNDS	100000

static struct rseqkit_spinlock spin = RSEQKIT_SPINLOCK_INIT;
static struct rseqkit_mutex mutex = RSEQKIT_MUTEX_INIT;
static unsigned long spin_total, mutex_total;

static void *worker(void *arg)
{
	for (int i = 0; i < ROUNDS; i++) {
		/* Keep critical sections short (the extension is a few
		 * microseconds) and free of system calls (one ends a grant). */
		rseqkit_spin_lock(&spin);
		spin_total++;
		rseqkit_spin_unlock(&spin);

		rseqkit_mutex_lock(&mutex);
		mutex_total += 2;
		rseqkit_mutex_unlock(&mutex);
	}
	return arg;
}

int main(void)
{
	struct rseqkit_slice_info info;
	pthread_t t[THREADS];

	/* The decision was taken before main(); this only reports it. */
	rseqkit_slice_get_info(&info);
	printf("time slice extensions %s\n", info.reason);

	for (int i = 0; i < THREADS; i++)
		if (pthread_create(&t[i], NULL, worker, NULL)) {
			fprintf(stderr, "slice-lock: pthread_create failed\n");
			return 1;
		}
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);

	printf("spinlock total %lu, mutex total %lu (expected %lu and %lu)\n",
	       spin_total, mutex_total, (unsigned long)THREADS * ROUNDS,
	       2UL * THREADS * ROUNDS);
	if (spin_total != (unsigned long)THREADS * ROUNDS ||
	    mutex_total != 2UL * THREADS * ROUNDS)
		return 1;
	/* With extensions on, every thread the library saw is enabled; 0 here
	 * would mean a third party disabled this thread. */
	if (info.on && rseqkit_slice_thread_state() != 1) {
		fprintf(stderr, "slice-lock: extensions disabled behind our back\n");
		return 1;
	}
	return 0;
}
