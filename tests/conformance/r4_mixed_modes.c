// SPDX-License-Identifier: MIT
/*
 * R3.2/R4: one process with legacy and V2 threads at the same time. The
 * modes are per thread: the legacy thread scribbles cpu_id_start and sees it
 * rewritten after each sleep (R4.1/R4.3 legacy) while the V2 thread migrates
 * back and forth with correct IDs (R4.1 V2); both get a critical section
 * aborted by a timer signal (R4.2); the process (a forked child) is not
 * killed.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ct_rseq.h"
#include "tap.h"

#define N 100

static struct kfeat k;
static struct rseqkit_abi_cs desc;
static uint64_t ipm;
static __thread volatile int tstop;

struct job {
	enum ct_mode m;
	int reg_err, good, n, cs_ret;
};

static void on_sig(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)si;
	/* outside the section (e.g. on a syscall return): try again */
	if (ct_cs_where(uc) == CT_CS_OUTSIDE)
		ct_thread_cputimer_rearm(5);
	else
		tstop = 1;
}

static void *legacy_fn(void *arg)
{
	struct job *j = arg;
	struct ct_area a;
	unsigned int cpu, node;

	tap_pin_cpu(ct_cpu(0));
	ct_getcpu(&cpu, &node);
	if (ct_area_register(&a, &k, CT_LEGACY)) {
		j->reg_err = errno;
		return NULL;
	}
	for (int i = 0; i < N; i++) {
		a.rs->cpu_id_start = 0xdead0000u + (uint32_t)i;
		ct_sleep_switch(200);
		j->good += a.rs->cpu_id_start == cpu && a.rs->cpu_id == cpu;
		j->n++;
	}
	tstop = 0;
	ct_thread_cputimer(SIGUSR2, 5);
	j->cs_ret = ct_cs_run(a.rs, &desc, ipm * CT_CS_BOUND_MS, &tstop);
	ct_thread_cputimer_del();
	ct_area_unregister(&a);
	return NULL;
}

static void *v2_fn(void *arg)
{
	struct job *j = arg;
	struct ct_area a;
	unsigned int cpu, node;

	tap_pin_cpu(ct_cpu(1));
	if (ct_area_register(&a, &k, CT_V2)) {
		j->reg_err = errno;
		return NULL;
	}
	for (int i = 0; i < N; i++) {
		int want = ct_cpu(i);

		tap_pin_cpu(want);
		usleep(100);
		ct_getcpu(&cpu, &node);
		j->good += a.rs->cpu_id == cpu && a.rs->cpu_id_start == cpu &&
			   cpu == (unsigned int)want;
		j->n++;
	}
	tstop = 0;
	ct_thread_cputimer(SIGUSR2, 5);
	j->cs_ret = ct_cs_run(a.rs, &desc, ipm * CT_CS_BOUND_MS, &tstop);
	ct_thread_cputimer_del();
	ct_area_unregister(&a);
	return NULL;
}

/* The mixed process: a forked child, so that a kill (a V2 read-only check
 * applied to the legacy thread's scribble) is a result, not the end of the
 * test. Its findings go to shared memory. */
static int mixed_process(void *arg)
{
	struct job *j = arg;
	pthread_t tl, tv;

	pthread_create(&tl, NULL, legacy_fn, &j[0]);
	pthread_create(&tv, NULL, v2_fn, &j[1]);
	pthread_join(tl, NULL);
	pthread_join(tv, NULL);
	return 0;
}

int main(int argc, char **argv)
{
	struct job *j, *l, *v;

	(void)argc;
	ct_start(argv, &k, "R4");
	if (!k.v2)
		tap_skip_all("R4: mixed legacy and V2 threads: kernel has no V2 (feature size %lu)",
			     k.feature_size);
	if (!CT_HAVE_CS)
		tap_skip_all("R4: no critical section asm for this architecture");
	ct_on_signal(SIGUSR2, on_sig);
	ct_cs_desc_init(&desc);
	ipm = ct_cs_iters_per_ms();
	j = ct_shared_alloc(2 * sizeof(*j));
	l = &j[0];
	v = &j[1];
	l->m = CT_LEGACY;
	v->m = CT_V2;
	tap_fork_expect_exit(mixed_process, j, 0,
			     "R4.3: a legacy thread's scribbles do not kill a process that also has a "
			     "V2 thread (the mode is per registration)");
	tap_ok(!l->reg_err && !v->reg_err, "R3.2: legacy and V2 registrations in one process (%s, %s)",
	       tap_errno_name(l->reg_err), tap_errno_name(v->reg_err));
	tap_ok(l->n == N && l->good == N,
	       "R4.1/R4.3 legacy thread: scribbled cpu_id_start rewritten after each sleep (%d/%d)",
	       l->good, N);
	tap_ok(v->n == N && v->good == N,
	       "R4.1 V2 thread: IDs correct after each of %d migrations%s (%d/%d)", N,
	       ct_ncpus() < 2 ? " (1 CPU: no real migration)" : "", v->good, N);
	tap_ok(l->cs_ret == 1, "R4.2 legacy thread: timer signal aborts its critical section (ret %d)",
	       l->cs_ret);
	tap_ok(v->cs_ret == 1, "R4.2 V2 thread: timer signal aborts its critical section (ret %d)",
	       v->cs_ret);
	munmap(j, 2 * sizeof(*j));
	return tap_done();
}
