// SPDX-License-Identifier: MIT
/*
 * fork() while another thread holds a fallback lock (no rseq: per-CPU
 * operations run under a lock per index, rseqkit/percpu.h "Fallback").
 * The child has only the forking thread; a lock held by any other thread
 * of the parent at the moment of the fork would stay held there forever.
 * Expected (issue 13): every child completes an operation on that index.
 *
 * A worker thread runs operations on index 0 back to back, each holding
 * the lock while it copies 1 MiB, so the lock is held nearly all the time;
 * the main thread forks repeatedly and each child runs one locked operation
 * on index 0 and exits 0. A child still running after 20 s is stuck
 * (generous: loaded machines, QEMU).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <rseqkit/percpu.h>
#include "seccomp_norseq.h"
#include "tap.h"

#define COPY_BYTES	(1U << 20)
#define FORKS		20
#define CHILD_MS	20000

static uint64_t word;		/* only the worker changes it in the parent */
static char *src, *dst;
static volatile int stop, ops;

static void *worker(void *arg)
{
	uint64_t w = 0;

	(void)arg;
	while (!stop) {
		/* Fallback: the whole copy runs under index 0's lock. */
		if (rseqkit_load_cbne_memcpy_store_u64(RSEQKIT_INDEX_CPU_ID, 0, &word, w, dst,
						       src, COPY_BYTES, w + 1) == 0)
			w++;
		__atomic_store_n(&ops, ops + 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static int child(void *arg)
{
	uint64_t w = __atomic_load_n(&word, __ATOMIC_RELAXED);

	(void)arg;
	/* Takes index 0's lock (a comparison that succeeds commits w + 1). */
	return rseqkit_load_cbne_store_u64(RSEQKIT_INDEX_CPU_ID, 0, &word, w, w + 1) == 0 ? 0 : 2;
}

int main(int argc, char **argv)
{
	struct tap_child c = { 0 };
	pthread_t t;
	int done = 0;

	(void)argc;
	if (!seccomp_norseq_active() && !seccomp_norseq_reexec(argv))
		tap_skip_all("cannot install the seccomp filter that hides rseq");
	tap_plan(2);
	rseqkit_init();
	tap_ok(rseqkit_percpu_fallback() == 1, "rseq(2) -> ENOSYS: the fallbacks are in use");
	src = calloc(1, COPY_BYTES);
	dst = calloc(1, COPY_BYTES);
	if (!src || !dst)
		tap_bail("out of memory");
	pthread_create(&t, NULL, worker, NULL);
	while (__atomic_load_n(&ops, __ATOMIC_RELAXED) < 3)
		sched_yield();
	for (done = 0; done < FORKS; done++) {
		if (tap_fork_run(child, NULL, CHILD_MS, &c) || !c.exited || c.code)
			break;
	}
	stop = 1;
	pthread_join(t, NULL);
	tap_ok(done == FORKS, "fork while a worker thread holds index 0's fallback lock: %d/%d "
	       "children complete an operation on index 0 (first failure: %s)", done, FORKS,
	       done == FORKS ? "none" : tap_child_str(&c));
	return tap_done();
}
