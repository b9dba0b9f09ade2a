// SPDX-License-Identifier: MIT
/*
 * R4.4: membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ) interrupts running
 * threads and aborts their critical sections, in both modes. Legacy also
 * rewrites their ID fields (scribble check in r4_1_ids_rewritten); V2 writes
 * them only if they changed, which is observable through rseq/stats (R4.6)
 * when the kernel has it: 50 membarriers against a pinned, spinning V2 thread
 * cause almost no `ids` work, against a legacy one about one each.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ct_rseq.h"
#include "tap.h"

#define CS_MS 3000

static struct kfeat k;
static struct rseqkit_abi_cs desc;
static uint64_t ipm;

struct worker {
	enum ct_mode m;
	int cpu;
	bool cs;		/* spin inside the section (else plain spin) */
	volatile int ready, done, stop, mb_gen;
	int reg_err, ret, retries;
	struct ct_area area;
};

static void *worker_fn(void *arg)
{
	struct worker *w = arg;
	int r;

	tap_pin_cpu(w->cpu);
	r = ct_area_register(&w->area, &k, w->m);
	if (r) {
		w->reg_err = -r;
		w->ready = w->done = 1;
		return NULL;
	}
	w->ready = 1;
	if (!w->cs) {
		while (!w->stop)
			;
	} else {
		/* Done once an abort happens after a membarrier completed;
		 * aborts before it (unrelated preemption) re-enter. */
		for (uint64_t t0 = tap_now_ns(); tap_now_ns() - t0 < CT_EVENT_BUDGET_NS;) {
			int gen = w->mb_gen;

			w->ret = ct_cs_run(w->area.rs, &desc, ipm * CS_MS, &w->stop);
			if (w->ret != 1 || w->stop || w->mb_gen != gen)
				break;
			w->retries++;
		}
	}
	ct_area_unregister(&w->area);
	w->done = 1;
	return NULL;
}

static bool start(struct worker *w, pthread_t *th, enum ct_mode m, bool cs)
{
	memset(w, 0, sizeof(*w));
	w->m = m;
	w->cs = cs;
	w->cpu = ct_cpu(1);
	tap_pin_cpu(ct_cpu(0));
	pthread_create(th, NULL, worker_fn, w);
	ct_wait_flag(&w->ready, 10000);
	return !w->reg_err;
}

static void cs_case(enum ct_mode m)
{
	const char *mn = ct_mode_name(m);
	struct worker w;
	pthread_t th;
	int mb_err = 0, rounds = 0;

	if (!start(&w, &th, m, true)) {
		tap_ok(false, "R4.4 %s: registration: %s", mn, tap_errno_name(w.reg_err));
		pthread_join(th, NULL);
		return;
	}
	ct_msleep(5);
	for (; rounds < 20 && !w.done; rounds++) {
		if (ct_membarrier_rseq()) {
			mb_err = errno;
			break;
		}
		w.mb_gen++;
		ct_wait_flag(&w.done, 20);
	}
	w.stop = 1;
	pthread_join(th, NULL);
	tap_ok(!mb_err && w.ret == 1,
	       "R4.4 %s: membarrier RSEQ aborts the critical section of a thread spinning on CPU %d (%s after %d membarriers; membarrier %s)",
	       mn, w.cpu, w.ret == 1 ? "aborted" : "committed", rounds, tap_errno_name(mb_err));
	if (w.retries)
		tap_diag("  %d earlier aborts by something else", w.retries);
}

/* Per membarrier, and per return-to-user rseq run (`exits`): under TCG
 * an IPI can find the spinner off its CPU or two IPIs can fold into one
 * return to user, so `ids` per exit is the robust measure. */
static void stats_case(enum ct_mode m, double *per_mb, double *per_exit)
{
	const char *mn = ct_mode_name(m);
	struct kfeat_stats s0, s1, d;
	struct worker w;
	pthread_t th;
	int n = 50, err = 0;

	*per_mb = *per_exit = -1;
	if (!start(&w, &th, m, false)) {
		pthread_join(th, NULL);
		return;
	}
	ct_msleep(5);
	kfeat_read_stats(&s0);
	for (int i = 0; i < n; i++) {
		if (ct_membarrier_rseq())
			err = errno;
		usleep(1000);	/* let the spinner return to user mode */
	}
	ct_msleep(5);
	kfeat_read_stats(&s1);
	w.stop = 1;
	pthread_join(th, NULL);
	if (err)
		return;
	d = kfeat_stats_delta(&s0, &s1);
	*per_mb = (double)d.ids / n;
	*per_exit = d.exits >= 10 ? (double)d.ids / d.exits : -1;
	tap_diag("%s: %d membarriers: ids %llu, cs %llu, exits %llu", mn, n,
		 (unsigned long long)d.ids, (unsigned long long)d.cs,
		 (unsigned long long)d.exits);
}

int main(int argc, char **argv)
{
	const char *why;
	double legacy_ids, v2_ids, legacy_pe, v2_pe;

	(void)argc;
	ct_start(argv, &k, "R4.4");
	if (!k.membarrier_rseq)
		tap_skip_all("R4.4: kernel has no MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ");
	if (ct_ncpus() < 2)
		tap_skip_all("R4.4: needs 2 CPUs (a thread running elsewhere)");
	if (!CT_HAVE_CS)
		tap_skip_all("R4.4: no critical section asm for this architecture");
	ct_cs_desc_init(&desc);
	ipm = ct_cs_iters_per_ms();
	for (int m = CT_LEGACY; m <= CT_V2; m++) {
		if (!ct_mode_usable(&k, (enum ct_mode)m, &why))
			tap_skip("R4.4 %s: membarrier RSEQ aborts a running critical section: %s",
				 ct_mode_name((enum ct_mode)m), why);
		else
			cs_case((enum ct_mode)m);
	}
	if (!k.v2 || !k.stats) {
		tap_skip("R4.4/R4.6: ID writes per membarrier, legacy vs V2: %s",
			 !k.v2 ? "kernel has no V2" : "no debugfs rseq/stats");
	} else {
		stats_case(CT_LEGACY, &legacy_ids, &legacy_pe);
		stats_case(CT_V2, &v2_ids, &v2_pe);
		tap_ok(legacy_pe >= 0.8 && v2_ids >= 0 && v2_ids <= 0.2,
		       "R4.4/R4.6: ID writes of a pinned spinning thread hit by membarrier RSEQ: legacy %.2f per rseq exit (~1), V2 %.2f per membarrier (~0)",
		       legacy_pe, v2_ids);
		tap_diag("  per membarrier: legacy %.2f, V2 %.2f; per rseq exit: legacy %.2f, V2 %.2f",
			 legacy_ids, v2_ids, legacy_pe, v2_pe);
	}
	return tap_done();
}
