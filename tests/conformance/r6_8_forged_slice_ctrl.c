// SPDX-License-Identifier: MIT
/*
 * R6.8: the SIGSEGVs of time slice extensions.
 *
 * (1) With rseq debugging, a system call entered while the kernel holds a
 * grant for the thread must find slice_ctrl exactly {request 0, granted 1};
 * user space that forges the word (raises the request again, or writes the
 * reserved bytes) is killed with SIGSEGV. Without rseq debugging the kernel
 * does not look: the syscall just ends the grant, and a kill is wrong.
 *
 * Which answer is right depends on the kernel type, never on the outcome:
 * where debugfs rseq/debug exists (upstream 7.2) the test sets it to 1 and
 * to 0 itself and expects each answer in turn; otherwise a debug kernel is
 * one built with the *-debug scenarios' fragment (kernel/configs/debug.config:
 * DEBUG_RSEQ together with lockdep, visible as /proc/lockdep).
 *
 * One try is judged only if it is conclusive: the forged word is in place
 * and the grant is still live when the syscall enters. A survivor tells: if
 * the forged word is still there, the grant had already ended (expired or
 * revoked in the few instructions before the syscall) and the try proves
 * nothing, so it is repeated. A cleared word is conclusive only if the
 * syscall ended the grant: a revocation between the forge and the syscall
 * clears the word too (seen on a loaded host), so where the kernel counts
 * (rseq/stats) the try must have added one "sabort" (a grant ended by a
 * system call), the counters being read before the request and after the
 * syscall. A kill is always conclusive.
 *
 * (2) A fault on the user slice_ctrl while the kernel grants or clears it
 * (the area made read-only while the request is up) -> SIGSEGV.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ct_slice.h"
#include "tap.h"

/* Tries of one child before it gives up finding a conclusive one. */
#define MAX_TRIES 200
/* Exit codes of a forging child. */
#define FORGE_SURVIVED 0	/* conclusive: the syscall ran with the grant live */
#define FORGE_NO_GRANT 3	/* no conclusive try within the budget */
#define FORGE_SETUP 4
#define FORGE_ODD_WORD 5	/* the kernel left neither 0 nor the forged word */

static struct kfeat k;

struct forge {
	uint32_t word;		/* what user space writes while granted */
};

/* Child: get a grant, forge the word, make a syscall (see the top). */
static int forge_child(void *arg)
{
	struct forge *f = arg;
	struct ct_noise *noise;
	struct ct_area a;
	uint64_t t0 = tap_now_ns();
	int cpu = ct_cpu(0);

	if (ct_slice_setup(&a, &k, RSEQKIT_FLAG_SLICE_EXT_DEFAULT_ON) || tap_pin_cpu(cpu))
		return FORGE_SETUP;
	noise = ct_noise_start(cpu, CT_NOISE_PERIOD_US);
	for (int tries = 0; tries < MAX_TRIES && tap_now_ns() - t0 < CT_GRANT_BUDGET_NS;) {
		struct kfeat_stats s0, s1;
		uint32_t w;

		/* System calls: before the request, never inside the try. */
		if (k.stats && kfeat_read_stats(&s0))
			return FORGE_SETUP;
		ct_set_request(a.rs, 1);
		if (ct_slice_wait_change(a.rs, CT_WORD_REQUEST, 100 * CT_NS_PER_MS) != CT_WORD_GRANTED) {
			ct_set_request(a.rs, 0);
			if (ct_granted(a.rs))
				ct_slice_yield();
			continue;
		}
		tries++;
		*(volatile uint32_t *)&a.rs->slice_ctrl.all = f->word;
		syscall(SYS_getppid);
		w = ct_slice_ctrl(a.rs);
		if (w == 0) {
			if (!k.stats)
				return FORGE_SURVIVED;
			if (kfeat_read_stats(&s1))
				return FORGE_SETUP;
			if (s1.sabort > s0.sabort)
				return FORGE_SURVIVED;
			continue;	/* revoked before the syscall: start again */
		}
		if (w == CT_WORD_GRANTED && (f->word & CT_WORD_REQUEST)) {
			/* The grant had ended before the forge, and the forged
			 * request was granted afresh after the syscall: no
			 * proof either way. */
			ct_slice_yield();
			continue;
		}
		if (w != f->word)
			return FORGE_ODD_WORD;
		/* The grant had ended before the syscall: start clean. */
		*(volatile uint32_t *)&a.rs->slice_ctrl.all = 0;
	}
	ct_noise_stop(noise);
	return FORGE_NO_GRANT;
}

static void one(bool debug, uint32_t word, const char *what)
{
	struct forge f = { word };
	const char *kind = debug ? "with rseq debugging" : "without rseq debugging";
	struct tap_child c;

	if (tap_fork_run(forge_child, &f, 60000, &c))
		tap_bail("fork");
	if (c.exited && c.code == FORGE_NO_GRANT) {
		tap_ok(false, "R6.8 %s: %s: no conclusive try (grant live at the syscall) within "
		       "the budget", kind, what);
	} else if (debug) {
		tap_ok(c.signaled && c.code == SIGSEGV,
		       "R6.8 %s: %s, then a syscall -> SIGSEGV (got %s)", kind, what,
		       tap_child_str(&c));
	} else {
		tap_ok(c.exited && c.code == FORGE_SURVIVED,
		       "R6.8 %s: %s, then a syscall: not checked, the syscall ends the grant and "
		       "nobody is killed (got %s)", kind, what, tap_child_str(&c));
	}
}

static void forged_words(bool debug)
{
	one(debug, 0x0101, "forged {request 1, granted 1} while granted");
	one(debug, 0x01000100, "reserved bytes written while granted");
}

/* (2): request up, area read-only, preemption pressure: the kernel must
 * fault granting or clearing the word and kill. Exit 0 = never killed. */
static int readonly_child(void *arg)
{
	struct ct_noise *noise;
	struct ct_area a;
	uint64_t t0 = tap_now_ns();
	int cpu = ct_cpu(0);

	(void)arg;
	if (ct_slice_setup(&a, &k, RSEQKIT_FLAG_SLICE_EXT_DEFAULT_ON) || tap_pin_cpu(cpu))
		return FORGE_SETUP;
	noise = ct_noise_start(cpu, CT_NOISE_PERIOD_US);
	ct_set_request(a.rs, 1);
	if (mprotect(a.rs, CT_PAGE, PROT_READ))
		return FORGE_SETUP;
	while (tap_now_ns() - t0 < CT_GRANT_BUDGET_NS)
		;
	mprotect(a.rs, CT_PAGE, PROT_READ | PROT_WRITE);
	ct_noise_stop(noise);
	return 0;
}

int main(int argc, char **argv)
{
	int saved;

	(void)argc;
	ct_slice_start(argv, &k, "R6.8", NULL, 0);
	ct_knob_set(CT_KNOB_MAX_NS);
	saved = ct_rseq_debug_get();
	if (saved >= 0) {
		tap_diag("debugfs rseq/debug: %d (toggled by the test, restored after)", saved);
		for (int on = 1; on >= 0; on--) {
			if (ct_rseq_debug_set(on)) {
				tap_ok(false, "R6.8: set debugfs rseq/debug to %d", on);
				continue;
			}
			forged_words(on);
		}
		ct_rseq_debug_set(saved);
	} else {
		bool debug = ct_debug_kernel();

		tap_diag("debug kernel (DEBUG_RSEQ with lockdep, the debug fragment): %s",
			 debug ? "yes" : "no");
		forged_words(debug);
	}
	tap_fork_expect_signal(readonly_child, NULL, SIGSEGV,
			       "R6.8: a fault on slice_ctrl (area read-only, request up, preempted) "
			       "while the kernel grants or clears it -> SIGSEGV");
	ct_knob_restore();
	return tap_done();
}
