// SPDX-License-Identifier: MIT
/*
 * mm-cid-pool.c - per-thread-ish statistics without atomics, in memory that
 * grows with the process's concurrency, not with the machine's CPU count.
 *
 *   cc mm-cid-pool.c $(pkg-config --cflags --libs librseqkit) -o mm-cid-pool
 *
 * An object allocated from an rseqkit pool has one instance per index. With
 * RSEQKIT_INDEX_MM_CID the index is the memory-map concurrency ID: unique
 * among the threads running at the same time and below min(threads, CPUs),
 * so a 4-thread process on a 256-CPU machine writes (and pays for) at most
 * 4 instances; the others stay unpopulated. Where mm_cid is not usable
 * (legacy glibc registration, kernel < 6.3) the CPU number stands in.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <rseqkit/pool.h>

#define THREADS	4
#define EVENTS	100000

struct stats {
	uint64_t events;
	uint64_t bytes;
};

static struct rseqkit_pool pool;
static struct stats *stats;	/* a handle: instance 0 of the object */

/* Add to this concurrency ID's instance: each field is one restartable
 * sequence, retried when the thread was preempted or migrated. */
static void count(uint64_t bytes)
{
	const enum rseqkit_index k = RSEQKIT_INDEX_MM_CID;
	struct stats *s;
	int idx;

	do {
		idx = rseqkit_percpu_index(k);
		s = rseqkit_pool_ptr(&pool, stats, idx);
	} while (rseqkit_load_add_store_u64(k, idx, &s->events, 1) < 0);
	do {
		idx = rseqkit_percpu_index(k);
		s = rseqkit_pool_ptr(&pool, stats, idx);
	} while (rseqkit_load_add_store_u64(k, idx, &s->bytes, bytes) < 0);
}

static void *worker(void *arg)
{
	for (int i = 0; i < EVENTS; i++)
		count(64);
	return arg;
}

int main(void)
{
	uint64_t events = 0, bytes = 0;
	pthread_t t[THREADS];
	int ret, used = 0;

	ret = rseqkit_pool_init(&pool, 4096, RSEQKIT_INDEX_MM_CID);
	if (ret) {
		fprintf(stderr, "mm-cid-pool: init: %s\n", strerror(-ret));
		return 1;
	}
	stats = rseqkit_pool_alloc(&pool, sizeof(*stats));	/* all instances zero */
	if (!stats) {
		perror("mm-cid-pool: alloc");
		return 1;
	}
	for (int i = 0; i < THREADS; i++)
		if (pthread_create(&t[i], NULL, worker, NULL)) {
			fprintf(stderr, "mm-cid-pool: pthread_create failed\n");
			return 1;
		}
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);

	/* Reading other indexes' instances needs nothing special. */
	for (int idx = 0; idx < pool.nr_slots; idx++) {
		struct stats *s = rseqkit_pool_ptr(&pool, stats, idx);

		events += s->events;
		bytes += s->bytes;
		used += rseqkit_pool_resident(&pool, idx) > 0;
	}
	printf("%llu events, %llu bytes; %d of %d instances resident\n",
	       (unsigned long long)events, (unsigned long long)bytes, used, pool.nr_slots);

	rseqkit_pool_free(&pool, stats, sizeof(*stats));
	rseqkit_pool_destroy(&pool);
	return events != (uint64_t)THREADS * EVENTS || bytes != 64 * events;
}
