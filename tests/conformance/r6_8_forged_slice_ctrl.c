// SPDX-License-Identifier: MIT
/*
 * R6.8: with rseq debugging (CONFIG_DEBUG_RSEQ), a system call entered while
 * the kernel holds a grant for the thread must find slice_ctrl exactly
 * {request 0, granted 1}; user space that forges the word (sets the request
 * again, or writes the reserved bytes) is killed with SIGSEGV. Without rseq
 * debugging the kernel does not look, and the syscall just ends the grant.
 *
 * Which kernel is which is not hard-coded: the debug scenario's fragment
 * (kernel/configs/debug.config) turns on DEBUG_RSEQ together with lockdep,
 * and lockdep is visible as /proc/lockdep. A kernel with /proc/lockdep must
 * kill; one without may (DEBUG_RSEQ alone) and otherwise the case is a skip.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ct_slice.h"
#include "tap.h"

#define BUDGET_NS 8000000000ULL

struct forge {
	const struct kfeat *k;
	uint32_t word;		/* what user space writes while granted */
};

/* Child: get a grant, forge the word, make a syscall. Exit 0 if the syscall
 * returned (not killed), 3 if no grant came within the budget. */
static int forge_child(void *arg)
{
	struct forge *f = arg;
	struct ct_noise *noise;
	struct ct_area a;
	uint64_t t0 = tap_now_ns();
	int cpu = ct_cpu(0);

	if (ct_slice_setup(&a, f->k, RSEQKIT_FLAG_SLICE_EXT_DEFAULT_ON) || tap_pin_cpu(cpu))
		return 4;
	noise = ct_noise_start(cpu, 50);
	while (tap_now_ns() - t0 < BUDGET_NS) {
		uint64_t end;

		ct_set_request(a.rs, 1);
		end = tap_now_ns() + 30000;
		while (tap_now_ns() < end && !ct_granted(a.rs))
			;
		if (ct_granted(a.rs)) {
			*(volatile uint32_t *)&a.rs->slice_ctrl.all = f->word;
			syscall(SYS_getppid);
			return 0;
		}
		ct_set_request(a.rs, 0);
	}
	ct_noise_stop(noise);
	return 3;
}

static void one(const struct kfeat *k, bool debug, uint32_t word, const char *what)
{
	struct forge f = { k, word };
	struct tap_child c;

	/* A grant can end (expiry, revocation) before the forged word is
	 * seen; then the child survives without proving anything: retry. */
	for (int tries = 0; tries < 10; tries++) {
		if (tap_fork_run(forge_child, &f, 30000, &c))
			tap_bail("fork");
		if (c.signaled && c.code == SIGSEGV)
			break;
		if (c.exited && c.code == 3)
			break;
	}
	if (c.exited && c.code == 3) {
		tap_skip("R6.8: %s: no grant within the budget", what);
	} else if (c.signaled && c.code == SIGSEGV) {
		tap_ok(true, "R6.8: %s, then a syscall -> SIGSEGV (rseq debugging)", what);
	} else if (debug) {
		tap_ok(false, "R6.8: %s, then a syscall -> SIGSEGV on a debug kernel (got %s)",
		       what, tap_child_str(&c));
	} else {
		tap_ok(c.exited && c.code == 0, "R6.8: %s, then a syscall: no check without "
		       "rseq debugging, the syscall runs (%s)", what, tap_child_str(&c));
	}
}

int main(int argc, char **argv)
{
	struct ct_area probe;
	struct kfeat k;
	const char *why;
	bool debug = access("/proc/lockdep", F_OK) == 0;

	(void)argc;
	tap_reexec_without_glibc_rseq(argv);
	kfeat_probe(&k);
	why = ct_slice_setup(&probe, &k, 0);
	if (why)
		tap_skip_all("R6.8: %s", why);
	ct_area_unregister(&probe);
	tap_diag("debug kernel (lockdep, DEBUG_RSEQ): %s", debug ? "yes" : "no");
	one(&k, debug, 0x0101, "forged {request 1, granted 1} while granted");
	one(&k, debug, 0x01000100, "reserved bytes written while granted");
	return tap_done();
}
