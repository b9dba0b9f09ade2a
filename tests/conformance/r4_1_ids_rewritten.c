// SPDX-License-Identifier: MIT
/*
 * R4.1 legacy column (and R4.3 legacy: writes to the read-only fields are
 * tolerated): in legacy mode the kernel rewrites cpu_id_start, cpu_id,
 * node_id and mm_cid after every context switch and before every signal
 * delivery, so scribbled values (what TCMalloc does with cpu_id_start) are
 * overwritten
 *   - after a sleep,
 *   - before a signal handler runs (signal from raise(), and from a CPU-time
 *     timer interrupting a busy loop),
 *   - by membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ) for a thread
 *     spinning on another CPU (R4.4 legacy).
 * The V2 column of R4.1 is in r4_1_migrations and r4_6_stats_deltas
 * (scribbling is fatal in V2, R4.3).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ct_rseq.h"
#include "tap.h"

static struct kfeat k;
static struct rseqkit_abi_rseq *volatile area;
static volatile int hcalls;
static volatile struct rseqkit_abi_rseq seen;	/* copy taken by the handler */
static uint32_t ncpu_conf;

static void scribble(volatile struct rseqkit_abi_rseq *a, uint32_t salt)
{
	a->cpu_id_start = 0xdead0000u + salt;
	a->cpu_id = 0xbeef0000u + salt;
	a->node_id = 0x12340000u + salt;
	a->mm_cid = 0x56780000u + salt;
}

static bool ids_ok(const volatile struct rseqkit_abi_rseq *a, unsigned int cpu, unsigned int node)
{
	return a->cpu_id_start == cpu && a->cpu_id == cpu && a->node_id == node &&
	       a->mm_cid < ncpu_conf;
}

static void on_sig(int sig)
{
	(void)sig;
	seen.cpu_id_start = area->cpu_id_start;
	seen.cpu_id = area->cpu_id;
	seen.node_id = area->node_id;
	seen.mm_cid = area->mm_cid;
	hcalls++;
}

struct spinner {
	struct rseqkit_abi_rseq *a;
	int cpu;
	volatile int ready, stop, reg_err;
};

static void *spin_fn(void *arg)
{
	struct spinner *s = arg;

	tap_pin_cpu(s->cpu);
	if (ct_register(s->a, RSEQKIT_ORIG_SIZE, 0))
		s->reg_err = errno;
	s->ready = 1;
	while (!s->stop)
		;
	if (!s->reg_err)
		ct_unregister(s->a, RSEQKIT_ORIG_SIZE);
	return NULL;
}

static void membarrier_case(void)
{
	struct spinner s = { 0 };
	pthread_t th;
	unsigned int node = 0;
	int n = 20, good = 0, err = 0;

	if (!k.membarrier_rseq || ct_ncpus() < 2) {
		tap_skip("R4.1/R4.4 legacy: membarrier RSEQ rewrites the IDs of a spinning thread: %s",
			 !k.membarrier_rseq ? "no MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ" : "needs 2 CPUs");
		return;
	}
	s.a = ct_alloc(CT_PAGE, CT_PAGE);
	s.cpu = ct_cpu(1);
	tap_pin_cpu(ct_cpu(0));
	pthread_create(&th, NULL, spin_fn, &s);
	ct_wait_flag(&s.ready, 10000);
	/* the spinner's node: it is pinned, its registration wrote it */
	usleep(1000);
	node = s.a->node_id;
	for (int i = 0; i < n && !s.reg_err; i++) {
		uint64_t end;

		s.a->cpu_id_start = 0xdead0000u + (uint32_t)i;
		if (ct_membarrier_rseq()) {
			err = errno;
			break;
		}
		/* The IPI has run when membarrier returns; the rewrite happens on
		 * the spinner's return to user mode right after it. */
		end = tap_now_ns() + 1000000000ULL;
		while (s.a->cpu_id_start != (uint32_t)s.cpu && tap_now_ns() < end)
			;
		good += s.a->cpu_id_start == (uint32_t)s.cpu && s.a->cpu_id == (uint32_t)s.cpu &&
			s.a->node_id == node;
	}
	s.stop = 1;
	pthread_join(th, NULL);
	tap_ok(!s.reg_err && !err && good == n,
	       "R4.1/R4.4 legacy: membarrier RSEQ rewrites a scribbled cpu_id_start of a thread spinning on CPU %d (%d/%d; reg %s, membarrier %s)",
	       s.cpu, good, n, tap_errno_name(s.reg_err), tap_errno_name(err));
	free(s.a);
}

int main(int argc, char **argv)
{
	struct ct_area a;
	unsigned int cpu, node;
	int n, good;
	uint64_t t0;

	(void)argc;
	ct_start(argv, &k, "R4.1");
	ncpu_conf = (uint32_t)sysconf(_SC_NPROCESSORS_CONF);
	signal(SIGUSR1, on_sig);
	tap_pin_cpu(ct_cpu(0));
	if (ct_getcpu(&cpu, &node))
		tap_bail("getcpu: %s", tap_errno_name(errno));
	if (ct_area_register(&a, &k, CT_LEGACY))
		tap_bail("legacy registration: %s", tap_errno_name(errno));
	area = a.rs;

	n = 100, good = 0;
	for (int i = 0; i < n; i++) {
		scribble(a.rs, (uint32_t)i);
		ct_sleep_switch(100);
		good += ids_ok(a.rs, cpu, node);
	}
	tap_ok(good == n,
	       "R4.1/R4.3 legacy: scribbled cpu_id_start, cpu_id, node_id, mm_cid rewritten after each sleep (%d/%d)",
	       good, n);

	n = 50, good = 0;
	for (int i = 0; i < n; i++) {
		scribble(a.rs, (uint32_t)i);
		hcalls = 0;
		raise(SIGUSR1);
		good += hcalls == 1 && ids_ok(&seen, cpu, node);
	}
	tap_ok(good == n, "R4.1 legacy: IDs rewritten before the handler of raise(SIGUSR1) runs (%d/%d)",
	       good, n);

	n = 10, good = 0;
	for (int i = 0; i < n; i++) {
		scribble(a.rs, (uint32_t)i);
		hcalls = 0;
		if (ct_thread_cputimer(SIGUSR1, 2))
			break;
		t0 = tap_now_ns();
		while (!hcalls && tap_now_ns() - t0 < CT_EVENT_BUDGET_NS)
			;
		good += hcalls == 1 && ids_ok(&seen, cpu, node);
	}
	ct_thread_cputimer_del();
	tap_ok(good == n,
	       "R4.1 legacy: IDs rewritten before the handler of a timer signal interrupting a busy loop (%d/%d)",
	       good, n);
	ct_area_unregister(&a);
	area = NULL;

	membarrier_case();
	return tap_done();
}
