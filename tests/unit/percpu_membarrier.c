// SPDX-License-Identifier: MIT
/*
 * rseqkit/membarrier.h: method selection, argument errors, and the fence's
 * effect: a thread alone on its CPU, spinning inside a critical section
 * (injection point 1), is aborted by rseqkit_membarrier_fence() on that CPU
 * (on an idle machine nothing else would abort it: it is neither preempted
 * nor signalled; on a loaded one preemption may abort it first).
 * Also rseqkit_prepare_unload(). In the three environments, plus
 * "affinity": glibc-owned with RSEQKIT_FENCE_AFFINITY, the method used on
 * kernels without the RSEQ membarrier (the fence visits the CPU).
 */
#define RSEQKIT_INJECT
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rseqkit/membarrier.h>
#include <rseqkit/percpu.h>
#include "envrun.h"
#include "tap.h"

struct spinner {
	int cpu;
	volatile int started;
	int ret;
	uint64_t v;
	uint64_t ns;
};

static void *spin_thread(void *arg)
{
	struct spinner *s = arg;
	uint64_t t0;
	int idx;

	tap_pin_cpu(s->cpu);
	rseqkit_percpu_index(RSEQKIT_INDEX_CPU_ID);
	/* Make sure the thread is registered and on its CPU before spinning. */
	do {
		idx = rseqkit_percpu_index(RSEQKIT_INDEX_CPU_ID);
	} while (rseqkit_load_add_store_u64(RSEQKIT_INDEX_CPU_ID, idx, &s->v, 0) < 0);
	/* Only now the section spins (the warm-up above must not). */
	rseqkit_inject_loops[1] = 1500 * 1000 * 1000;
	s->started = 1;
	t0 = tap_now_ns();
	s->ret = rseqkit_load_add_store_u64(RSEQKIT_INDEX_CPU_ID, idx, &s->v, 1);
	s->ns = tap_now_ns() - t0;
	return NULL;
}

static void test_fence_aborts(int method)
{
	struct spinner s = { 0 };
	cpu_set_t set;
	pthread_t t;
	int cpus[2], n = 0, fences = 0;

	sched_getaffinity(0, sizeof(set), &set);
	for (int c = 0; c < CPU_SETSIZE && n < 2; c++)
		if (CPU_ISSET(c, &set))
			cpus[n++] = c;
	if (n < 2) {
		tap_skip("fence aborts a section in flight: needs 2 CPUs");
		return;
	}
	if (method == RSEQKIT_FENCE_FALLBACK_LOCKS) {
		tap_skip("fence aborts a section in flight: no sections without rseq (fallbacks)");
		return;
	}
	s.cpu = cpus[1];
	tap_pin_cpu(cpus[0]);
	pthread_create(&t, NULL, spin_thread, &s);
	while (!s.started)
		usleep(100);
	usleep(20000);	/* it is spinning inside the section now */
	while (!s.ns && fences < 1000) {
		if (rseqkit_membarrier_fence(s.cpu))
			break;
		fences++;
		usleep(1000);
	}
	pthread_join(t, NULL);
	rseqkit_inject_loops[1] = 0;
	sched_setaffinity(0, sizeof(set), &set);
	tap_ok(s.ret < 0 && s.v == 0, "fence(%d) aborts the section spinning there "
	       "(ret %d after %llu ms, %d fence(s), method %d)", s.cpu, s.ret,
	       (unsigned long long)(s.ns / 1000000), fences, method);
}

static void body(const char *env, int argc, char **argv)
{
	int method, err, n;

	(void)argc;
	(void)argv;
	rseqkit_init();
	method = rseqkit_membarrier_register();
	err = rseqkit_membarrier_error();
	n = rseqkit_percpu_nr_slots();
	tap_diag("%s: fence method %d (%s), error %s", env, method,
		 method == RSEQKIT_FENCE_MEMBARRIER_RSEQ ? "membarrier RSEQ" :
		 method == RSEQKIT_FENCE_AFFINITY ? "affinity walk" : "fallback locks",
		 err ? strerror(err) : "none");
	if (!strcmp(env, "none"))
		tap_ok(method == RSEQKIT_FENCE_FALLBACK_LOCKS,
		       "no rseq: fences wait on the fallback locks");
	else if (!strcmp(env, "affinity"))
		tap_ok(method == RSEQKIT_FENCE_AFFINITY && err == EOPNOTSUPP,
		       "RSEQKIT_FENCE_AFFINITY: the affinity method, error EOPNOTSUPP");
	else
		tap_ok(method == RSEQKIT_FENCE_MEMBARRIER_RSEQ ||
		       (method == RSEQKIT_FENCE_AFFINITY && err),
		       "rseq: membarrier RSEQ registered, or the affinity method with a reason");
	tap_ok(rseqkit_membarrier_register() == method, "register is idempotent");
	tap_ok(rseqkit_membarrier_fence(-1) == 0, "fence(all CPUs) -> 0");
	tap_ok(rseqkit_membarrier_fence(0) == 0, "fence(CPU 0) -> 0");
	tap_ok(rseqkit_membarrier_fence(n) == -EINVAL, "fence(%d = nr_slots) -> -EINVAL", n);
	test_fence_aborts(method);
	tap_ok(rseqkit_prepare_unload() == (strcmp(env, "none") ? 0 : -ENOENT) &&
	       rseqkit_thread_area()->rseq_cs == 0,
	       "prepare_unload clears the thread's rseq_cs");
}

int main(int argc, char **argv)
{
	static const char *const extra[] = {
		"affinity:glibc:RSEQKIT_FENCE_AFFINITY=1", NULL
	};

	return envrun_main_extra(argc, argv, body, extra);
}
