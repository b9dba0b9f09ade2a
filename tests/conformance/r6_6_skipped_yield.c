// SPDX-License-Identifier: MIT
/*
 * R6.6: a grant ends at syscall entry, before seccomp, ptrace, syscall user
 * dispatch or audit act, and the thread gives up the CPU right there, so
 * whatever happens to the syscall body the deferred reschedule is not lost.
 *
 * A hostile process (tests/harness/ct_hostile.h) requests extensions in a
 * loop on the CPU of a SCHED_FIFO thread that sleeps PERIOD_US (each of its
 * wake-ups asks to preempt the hostile, so grants come), and ends each
 * grant with rseq_slice_yield() skipped in one of the ways below. Per mode:
 *   - slice_ctrl reads 0 when the call comes back (the kernel ended the
 *     grant and cleared the word; not judged for the forged word);
 *   - the thread was switched out between its request and the return of
 *     the call (getrusage, read before the request and after the call: a
 *     switch for another reason can only make this pass, never fail);
 *   - the skipping agent really acted (errno, SIGSYS, notification, tracer
 *     stop, kill), so the case proves what its name says;
 *   - where the kernel runs the body (the control mode, int $0x80 through
 *     the 32-bit table) the result is truthful: 1 with a live grant (some
 *     of them: a grant can be revoked just before the call, then 0), never
 *     anything else, and 0 when called without a grant;
 *   - forged slice_ctrl: SIGSEGV exactly when rseq debugging is on (R6.8).
 *
 * Needs root (SCHED_FIFO) and two CPUs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ct_hostile.h"
#include "tap.h"

#define PERIOD_US 200
#define MAX_GRANTS 40
#define BUDGET_NS 3000000000ULL
/* At the 5 us default most grants expire under QEMU TCG before the hostile
 * reaches its syscall (see r6_9_rt_latency.c). */
#define KNOB_NSEC 50000L

static void agent_case(enum ct_skip m, const struct ct_hostile_report *r, bool debug)
{
	const char *name = ct_skip_name(m);
	unsigned long calls = (unsigned long)r->calls;

	switch (m) {
	case CT_SKIP_NONE:
	case CT_SKIP_INT80:
		tap_ok(r->ret1 > 0 && r->ret_other == 0 && r->idle_ret1 == 0 && r->idle_calls > 0,
		       "R6.6: %s: rseq_slice_yield() is truthful: 1 after a live grant (%lu of "
		       "%lu, the rest 0: revoked first), never another value (%lu, last %ld), "
		       "0 without a grant (%lu of %lu returned 1)", name,
		       (unsigned long)r->ret1, calls, (unsigned long)r->ret_other, r->last_other,
		       (unsigned long)r->idle_ret1, (unsigned long)r->idle_calls);
		break;
	case CT_SKIP_SECCOMP_ERRNO:
		tap_ok(r->ret_other == r->calls && r->last_other == -EPERM,
		       "R6.6: %s: the filter answered every call with EPERM (%lu of %lu, last %ld)",
		       name, (unsigned long)r->ret_other, calls, r->last_other);
		break;
	case CT_SKIP_SECCOMP_TRAP:
	case CT_SKIP_USER_DISPATCH:
		tap_ok(r->sigsys >= r->calls && r->ret_other == r->calls,
		       "R6.6: %s: every call became a SIGSYS for 471 (%lu SIGSYS, %lu calls)",
		       name, (unsigned long)r->sigsys, calls);
		break;
	case CT_SKIP_SECCOMP_NOTIF:
		tap_ok(r->notified >= r->calls && r->ret_other == r->calls &&
		       r->last_other == -EPERM,
		       "R6.6: %s: the supervisor was notified of every call, and its EPERM came "
		       "back (%lu notifications, %lu calls, %lu errors, last %ld)", name,
		       (unsigned long)r->notified, calls, (unsigned long)r->ret_other,
		       r->last_other);
		break;
	case CT_SKIP_PTRACE_SYSEMU:
	case CT_SKIP_PTRACE_RENUMBER:
		tap_ok(r->stops >= r->calls && r->ret_other == r->calls && r->last_other == -ENOSYS,
		       "R6.6: %s: the tracer stopped every call (%lu stops, %lu calls) and its "
		       "body did not run (ENOSYS)", name, (unsigned long)r->stops, calls);
		break;
	case CT_SKIP_SECCOMP_KILL:
		break;
	case CT_SKIP_FORGED:
		if (debug)
			tap_ok(r->sigsegv > 0, "R6.8: %s: rseq debugging on: the syscall raised "
			       "SIGSEGV (%lu of %lu calls; a grant revoked before the call is not "
			       "checked)", name, (unsigned long)r->sigsegv, calls);
		else
			tap_ok(r->sigsegv == 0, "R6.8: %s: rseq debugging off: no SIGSEGV (%lu)",
			       name, (unsigned long)r->sigsegv);
		break;
	default:
		break;
	}
}

static void mode_cases(enum ct_skip m, const struct kfeat *k, int cpu, int other)
{
	struct ct_hostile h = { .mode = m, .cpu = cpu, .other_cpu = other, .k = k };
	const struct ct_hostile_report *r = &h.rep;
	const char *name = ct_skip_name(m), *why;
	struct ct_rt_sleeper s;
	int err, dbg = -1;
	bool debug;

	if (!ct_skip_usable(m, &why)) {
		if (tap_in_vm())
			tap_ok(false, "R6.6: %s: mode usable in the VM (%s)", name, why);
		else
			tap_skip("R6.6: %s: %s", name, why);
		return;
	}
	if (m == CT_SKIP_FORGED) {
		dbg = ct_rseq_debug_get();
		if (dbg >= 0 && ct_rseq_debug_set(1))
			tap_bail("R6.8: cannot switch rseq debugging on");
	}
	debug = ct_rseq_debug_on();
	err = ct_rt_sleeper_start(&s, cpu, PERIOD_US);
	if (err)
		tap_bail("SCHED_FIFO sleeper on CPU %d: %s", cpu, strerror(-err));
	err = ct_hostile_run(&h, &s, BUDGET_NS, MAX_GRANTS);
	ct_rt_sleeper_stop(&s);
	if (dbg >= 0)
		ct_rseq_debug_set(dbg);
	tap_diag("%s: %lu rounds, %lu grants, %lu calls, slice_ctrl left %lu, no switch %lu/%lu, "
		 "yield 1/0/else %lu/%lu/%lu (last %ld), idle %lu (1: %lu), SIGSYS %lu, SIGSEGV %lu, "
		 "notified %lu, stops %lu, killed %lu", name, (unsigned long)r->rounds,
		 (unsigned long)r->grants, (unsigned long)r->calls, (unsigned long)r->ctrl_left,
		 (unsigned long)r->no_switch, (unsigned long)r->sw_checked, (unsigned long)r->ret1,
		 (unsigned long)r->ret0, (unsigned long)r->ret_other, r->last_other,
		 (unsigned long)r->idle_calls, (unsigned long)r->idle_ret1, (unsigned long)r->sigsys,
		 (unsigned long)r->sigsegv, (unsigned long)r->notified, (unsigned long)r->stops,
		 (unsigned long)r->killed);
	if (err) {
		tap_ok(false, "R6.6: %s: the hostile process runs (%s)", name, h.why);
		return;
	}
	if (m == CT_SKIP_SECCOMP_KILL) {
		/* The call never returns: the thread dies in the filter. */
		tap_ok(r->killed > 0, "R6.6: %s: %s: killed by SIGSYS with the grant live "
		       "(%lu of %lu grants)", name, ct_skip_what(m), (unsigned long)r->killed,
		       (unsigned long)r->grants);
		return;
	}
	/* A forged word written just after an unseen revocation stays (no
	 * grant, nothing to clear): only the other modes can be judged. */
	if (m == CT_SKIP_FORGED)
		tap_ok(r->calls > 0, "R6.6: %s: %s (%lu calls)", name, ct_skip_what(m),
		       (unsigned long)r->calls);
	else
		tap_ok(r->calls > 0 && r->ctrl_left == 0,
		       "R6.6: %s: %s: slice_ctrl is 0 when the call returns (%lu of %lu calls "
		       "left it set)", name, ct_skip_what(m), (unsigned long)r->ctrl_left,
		       (unsigned long)r->calls);
	if (m == CT_SKIP_PTRACE_SYSEMU)
		/* No getrusage() under SYSEMU; the stop itself gives up the CPU
		 * (agent case below). */
		tap_ok(r->stops > 0, "R6.6: %s: the tracer stop gives up the CPU (%lu stops)",
		       name, (unsigned long)r->stops);
	else
		tap_ok(r->sw_checked > 0 && r->no_switch == 0,
		       "R6.6: %s: the CPU was given up before the call returned (%lu of %lu "
		       "calls came back without a context switch)", name,
		       (unsigned long)r->no_switch, (unsigned long)r->sw_checked);
	agent_case(m, r, debug);
}

int main(int argc, char **argv)
{
	struct kfeat k;
	int cpu, other;

	(void)argc;
	ct_hostile_start(argv, &k, "R6.6",
			 "the hostile and its RT waker on one, the tracer on the other", KNOB_NSEC);
	cpu = ct_cpu(1);
	other = ct_cpu(0);
	if (tap_pin_cpu(other))
		tap_bail("pin to CPU %d", other);
	for (int m = 0; m < CT_SKIP_COUNT; m++)
		mode_cases((enum ct_skip)m, &k, cpu, other);
	ct_knob_restore();
	return tap_done();
}
