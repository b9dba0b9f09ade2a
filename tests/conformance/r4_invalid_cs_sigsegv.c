// SPDX-License-Identifier: MIT
/*
 * R4 (paragraph below the table): an invalid rseq_cs descriptor and SIGSEGV.
 * Always fatal: abort_ip inside the section (no signature before it), a
 * wrong signature before abort_ip, a rseq_cs pointer outside user space.
 * A bad version and a range past TASK_SIZE are fatal on 6.12 and with rseq
 * debugging; upstream 7.2 without debugging does no such sanity checks ("if
 * user space screwed it up, it can keep the pieces"): the section is simply
 * aborted or left. Where debugfs rseq/debug exists the test runs those two
 * both ways (it sets the switch); otherwise a pre-V2 kernel or a debug kernel
 * must kill, and a V2-capable non-debug kernel behaves like upstream.
 * Both modes. Each case is a forked child that runs the busy loop of
 * ct_cs_run() with the bad descriptor and is interrupted there by a CPU-time
 * timer signal (the event on which both modes evaluate rseq_cs). A valid
 * descriptor in the same setup aborts and exits normally (the control case).
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ct_rseq.h"
#include "tap.h"

#define TASK_END (1ULL << 63)	/* above TASK_SIZE with 4- or 5-level paging */

static struct kfeat k;
static uint64_t ipm;
static volatile int stop;

enum bad { B_NONE, B_VERSION, B_ABORT_INSIDE, B_SIG, B_RANGE, B_PTR };
static const char *const bad_name[] = {
	"valid descriptor (control)",
	"version 1",
	"abort_ip inside the section",
	"wrong signature before abort_ip",
	"start_ip + post_commit_offset past TASK_SIZE",
	"rseq_cs pointer in kernel space",
};

struct cfg {
	enum ct_mode m;
	enum bad b;
};

static void on_sig(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)si;
	/* A signal that came before the section was entered (e.g. on the
	 * return from a slow syscall) proves nothing: try again. */
	if (ct_cs_where(uc) == CT_CS_OUTSIDE)
		ct_thread_cputimer_rearm(5);
	else
		stop = 1;
}

/* Exit 10 + ct_cs_run()'s return if the child survives; 2: setup failed. */
static int child(void *arg)
{
	struct cfg *c = arg;
	struct ct_area a;
	struct rseqkit_abi_cs *d = ct_alloc(sizeof(*d), 32);
	const struct rseqkit_abi_cs *dp = d;
	int r;

	ct_cs_desc_init(d);
	switch (c->b) {
	case B_NONE:
		break;
	case B_VERSION:
		d->version = 1;
		break;
	case B_ABORT_INSIDE:
		d->abort_ip = d->start_ip;
		break;
	case B_SIG:
		d->abort_ip = (uint64_t)(uintptr_t)ct_cs_abort_badsig;
		break;
	case B_RANGE:
		d->post_commit_offset = TASK_END - d->start_ip;
		d->abort_ip = (uint64_t)(uintptr_t)ct_cs_abort_pre;
		break;
	case B_PTR:
		dp = (const struct rseqkit_abi_cs *)(uintptr_t)CT_KERNEL_ADDR;
		break;
	}
	ct_on_signal(SIGUSR2, on_sig);
	if (ct_area_register(&a, &k, c->m))
		return 2;
	if (ct_thread_cputimer(SIGUSR2, 5))
		return 2;
	/* Bounded: the timer handler sets stop if nothing kills us. */
	r = ct_cs_run(a.rs, dp, ipm * CT_CS_BOUND_MS, &stop);
	return 10 + r;
}

/* Only rseq debugging (or 6.12) checks these. */
static bool debug_only(enum bad b)
{
	return b == B_VERSION || b == B_RANGE;
}

static void one(const struct cfg *c, bool checked, const char *how)
{
	const char *mn = ct_mode_name(c->m);

	if (c->b == B_NONE)
		tap_fork_expect_exit(child, (void *)c, 11,
				     "R4.2 %s: %s: the timer signal aborts the section, no kill",
				     mn, bad_name[c->b]);
	else if (checked)
		tap_fork_expect_signal(child, (void *)c, SIGSEGV,
				       "R4 %s: invalid rseq_cs, %s -> SIGSEGV%s", mn, bad_name[c->b],
				       how);
	else
		tap_fork_expect_exit(child, (void *)c, 11,
				     "R4 %s: invalid rseq_cs, %s: not checked%s, the section is "
				     "aborted, no kill", mn, bad_name[c->b], how);
}

int main(int argc, char **argv)
{
	const char *why;
	int saved;

	(void)argc;
	ct_start(argv, &k, "R4");
	if (!CT_HAVE_CS)
		tap_skip_all("R4: no critical section asm for this architecture");
	ipm = ct_cs_iters_per_ms();
	saved = ct_rseq_debug_get();
	if (saved >= 0)
		tap_diag("debugfs rseq/debug: %d (set by the test per case, restored after)", saved);
	for (int m = CT_LEGACY; m <= CT_V2; m++) {
		const char *mn = ct_mode_name((enum ct_mode)m);

		for (int b = B_NONE; b <= B_PTR; b++) {
			struct cfg c = { (enum ct_mode)m, (enum bad)b };

			if (!ct_mode_usable(&k, c.m, &why)) {
				tap_skip("R4 %s: %s: %s", mn, bad_name[b], why);
				continue;
			}
			if (!debug_only(c.b)) {
				one(&c, true, "");
			} else if (saved >= 0) {
				for (int on = 1; on >= 0; on--) {
					if (ct_rseq_debug_set(on)) {
						tap_ok(false, "R4: set debugfs rseq/debug to %d", on);
						continue;
					}
					one(&c, on, on ? " (rseq debugging on)" :
					    " (rseq debugging off)");
				}
				ct_rseq_debug_set(saved);
			} else {
				bool checked = !k.v2_kernel || ct_debug_kernel();

				one(&c, checked, !k.v2_kernel ? " (pre-V2 kernel)" : checked ?
				    " (debug kernel)" : " (V2 kernel without rseq debugging)");
			}
		}
	}
	return tap_done();
}
