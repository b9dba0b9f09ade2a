// SPDX-License-Identifier: MIT
/*
 * R6.2: prctl(PR_RSEQ_SLICE_EXTENSION) - the error matrix over every argument
 * position, in every registration state of the calling thread (none, legacy,
 * V2), enable/disable symmetry with the ENABLED bit of rseq->flags, and the
 * SIGSEGV + EFAULT of a SET that finds rseq->flags inconsistent or faults on
 * it.
 *
 * What the kernel must answer comes from the scenario (tests/harness/kfeat.h:
 * slice extensions on, off at boot, compiled out, or absent), never from the
 * kernel's own answers, so a kernel that lost the feature fails here instead
 * of passing as "switched off". Upstream 7.2's rules:
 *   arg4/arg5 != 0                             -> EINVAL (before anything)
 *   compiled out                               -> ENOTSUPP for everything else
 *   unknown arg2, GET arg3 != 0, SET arg3 bits -> EINVAL
 *   GET                                        -> 0 or 1 (the thread's state),
 *                                                 whatever the registration
 *   SET: disabled at boot -> ENOTSUPP; unregistered -> ENXIO; legacy ->
 *   ENOTSUPP; the current state -> 0; inconsistent or faulting flags ->
 *   SIGSEGV and EFAULT; else 0.
 * A kernel without slice extensions (pre-7.0, no prctl 79): EINVAL throughout.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ct_slice.h"
#include "tap.h"

#define GET RSEQKIT_PR_RSEQ_SLICE_EXTENSION_GET
#define SET RSEQKIT_PR_RSEQ_SLICE_EXTENSION_SET
#define EN RSEQKIT_PR_RSEQ_SLICE_EXT_ENABLE
#define ENOTSUPP RSEQKIT_ENOTSUPP
#define AVAIL RSEQKIT_CS_FLAG_SLICE_EXT_AVAILABLE
#define ENABLED RSEQKIT_CS_FLAG_SLICE_EXT_ENABLED

static struct kfeat k;

struct bad_call {
	unsigned long op, a3, a4, a5;
	const char *what;
	bool generic;		/* rejected by prctl(2) itself, before the option */
};

static const struct bad_call bad_calls[] = {
	{ GET, 0, 1, 0, "GET with arg4 != 0", true },
	{ GET, 0, 0, 1, "GET with arg5 != 0", true },
	{ SET, EN, 1, 0, "SET with arg4 != 0", true },
	{ SET, EN, 0, 1, "SET with arg5 != 0", true },
	{ 0, 0, 0, 0, "arg2 0 (unknown)", false },
	{ 3, 0, 0, 0, "arg2 3 (unknown)", false },
	{ GET, 1, 0, 0, "GET with arg3 != 0", false },
	{ SET, 2, 0, 0, "SET with arg3 0x2", false },
	{ SET, 3, 0, 0, "SET with arg3 0x3", false },
	{ SET, 0x80000000UL, 0, 0, "SET with arg3 0x80000000", false },
};

/* Compiled out, the option still exists but answers ENOTSUPP after the
 * generic arg4/arg5 check. */
static void check_bad_args(const char *state)
{
	for (size_t i = 0; i < sizeof(bad_calls) / sizeof(bad_calls[0]); i++) {
		const struct bad_call *c = &bad_calls[i];
		int want = k.slice == KFEAT_SLICE_OUT && !c->generic ? ENOTSUPP : EINVAL;
		long r = ct_slice_prctl(c->op, c->a3, c->a4, c->a5);

		tap_expect_errno(r, errno, want, "R6.2 %s: %s -> %s", state, c->what,
				 tap_errno_name(want));
	}
}

/* GET and both SETs on a thread that never enabled: GET answers 0 (or
 * get_err), both SETs set_err (0 = success). */
static void check_valid(const char *state, int get_err, int set_err)
{
	long r;

	r = ct_slice_prctl(GET, 0, 0, 0);
	if (get_err)
		tap_expect_errno(r, errno, get_err, "R6.2 %s: GET -> %s", state,
				 tap_errno_name(get_err));
	else
		tap_ok(r == 0, "R6.2 %s: GET -> 0 (not enabled) (got %ld, %s)", state, r,
		       r < 0 ? tap_errno_name(errno) : "-");
	r = ct_slice_prctl(SET, EN, 0, 0);
	tap_expect_errno(r, errno, set_err, "R6.2 %s: SET ENABLE -> %s", state,
			 set_err ? tap_errno_name(set_err) : "0");
	if (!r)
		ct_slice_prctl(SET, 0, 0, 0);
	r = ct_slice_prctl(SET, 0, 0, 0);
	tap_expect_errno(r, errno, set_err, "R6.2 %s: SET 0 -> %s", state,
			 set_err ? tap_errno_name(set_err) : "0");
}

/* Symmetry on a V2 registration with extensions available. */
static void check_symmetry(struct rseqkit_abi_rseq *rs)
{
	tap_ok(ct_slice_prctl(GET, 0, 0, 0) == 0 && !(rs->flags & ENABLED),
	       "R6.2 V2: GET -> 0 and ENABLED clear after a registration without DEFAULT_ON");
	tap_ok(ct_slice_prctl(SET, EN, 0, 0) == 0 && (rs->flags & ENABLED) &&
	       ct_slice_prctl(GET, 0, 0, 0) == 1, "R6.2 V2: SET ENABLE -> 0, ENABLED set, GET -> 1");
	tap_ok(ct_slice_prctl(SET, EN, 0, 0) == 0 && (rs->flags & ENABLED),
	       "R6.2 V2: SET to the current state (enabled) -> 0");
	tap_ok(ct_slice_prctl(SET, 0, 0, 0) == 0 && !(rs->flags & ENABLED) &&
	       ct_slice_prctl(GET, 0, 0, 0) == 0, "R6.2 V2: SET 0 -> 0, ENABLED clear, GET -> 0");
	tap_ok(ct_slice_prctl(SET, 0, 0, 0) == 0 && !(rs->flags & ENABLED),
	       "R6.2 V2: SET to the current state (disabled) -> 0");
	tap_ok((rs->flags & AVAIL) != 0, "R6.2 V2: AVAILABLE stays set through enable/disable");
}

/* --- SIGSEGV + EFAULT ------------------------------------------------------ */

enum bad_flags { BF_NO_AVAIL, BF_NO_ENABLED, BF_NO_AVAIL_SAME, BF_READONLY };

static const char *const bad_flags_name[] = {
	"flags without AVAILABLE, then SET ENABLE",
	"enabled, flags without ENABLED, then SET 0",
	"flags without AVAILABLE, then SET to the current state (disabled)",
	"the area read-only (a fault writing rseq->flags), then SET ENABLE",
};

struct segv_result {
	volatile int segv, si_code;
	long r;
	int err;
	uint32_t flags_after;
};

static struct segv_result *res;
static struct rseqkit_abi_rseq *child_rs;

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	res->segv++;
	res->si_code = si->si_code;
	/* Let the process go on (and the kernel write the area again). */
	mprotect(child_rs, CT_PAGE, PROT_READ | PROT_WRITE);
}

/* A child with its own V2 registration; 0 when set up (the findings are in
 * res), 3 when the setup failed. */
static int bad_flags_child(void *arg)
{
	enum bad_flags b = (enum bad_flags)(intptr_t)arg;
	struct ct_area a;

	if (ct_slice_setup(&a, &k, b == BF_NO_ENABLED ? RSEQKIT_FLAG_SLICE_EXT_DEFAULT_ON : 0))
		return 3;
	child_rs = a.rs;
	/* Pinned: the kernel has no ID to rewrite while the area is read-only. */
	if (tap_pin_cpu(ct_cpu(0)))
		return 3;
	ct_on_signal(SIGSEGV, on_segv);
	switch (b) {
	case BF_NO_AVAIL:
	case BF_NO_AVAIL_SAME:
		a.rs->flags &= ~AVAIL;
		res->r = ct_slice_prctl(SET, b == BF_NO_AVAIL ? EN : 0, 0, 0);
		break;
	case BF_NO_ENABLED:
		a.rs->flags &= ~ENABLED;
		res->r = ct_slice_prctl(SET, 0, 0, 0);
		break;
	case BF_READONLY:
		if (mprotect(a.rs, CT_PAGE, PROT_READ))
			return 3;
		res->r = ct_slice_prctl(SET, EN, 0, 0);
		break;
	}
	res->err = errno;
	res->flags_after = a.rs->flags;
	return 0;
}

static void check_bad_flags(enum bad_flags b)
{
	const char *what = bad_flags_name[b];

	memset(res, 0, sizeof(*res));
	if (!tap_fork_expect_exit(bad_flags_child, (void *)(intptr_t)b, 0,
				  "R6.2 V2: %s: the child survives to report", what))
		return;
	if (b == BF_NO_AVAIL_SAME) {
		tap_ok(res->r == 0 && !res->segv,
		       "R6.2 V2: %s -> 0, no signal (flags are only checked on a change; got %ld, %s, "
		       "%d SIGSEGV)", what, res->r, res->r ? tap_errno_name(res->err) : "-", res->segv);
		return;
	}
	tap_ok(res->segv == 1 && res->si_code == SI_KERNEL,
	       "R6.2/R6.8 V2: %s -> SIGSEGV from the kernel (%d signals, si_code %d)", what,
	       res->segv, res->si_code);
	tap_ok(res->r == -1 && res->err == EFAULT, "R6.2 V2: %s -> EFAULT (got %ld, %s)", what,
	       res->r, res->r == -1 ? tap_errno_name(res->err) : "-");
}

int main(int argc, char **argv)
{
	struct ct_area a;

	(void)argc;
	ct_start(argv, &k, "R6.2");
	tap_diag("slice extensions (scenario or probe): %s",
		 k.slice == KFEAT_SLICE_ON ? "on" : k.slice == KFEAT_SLICE_OFF ? "off at boot" :
		 k.slice == KFEAT_SLICE_OUT ? "compiled out" : k.slice == KFEAT_SLICE_NONE ?
		 "absent (no prctl 79)" : "unknown");

	switch (k.slice) {
	case KFEAT_SLICE_NONE:
		/* Option 79 does not exist before 7.0 kernels. */
		check_bad_args("pre-7.0 kernel (option 79 unknown)");
		check_valid("pre-7.0 kernel (option 79 unknown)", EINVAL, EINVAL);
		return tap_done();
	case KFEAT_SLICE_UNKNOWN:
		tap_bail("R6.2: the kernel's slice answers fit no known state");
	default:
		break;
	}

	check_bad_args("unregistered");
	if (k.slice == KFEAT_SLICE_OUT)
		check_valid("unregistered, compiled out", ENOTSUPP, ENOTSUPP);
	else
		check_valid("unregistered", 0, k.slice == KFEAT_SLICE_OFF ? ENOTSUPP : ENXIO);

	if (ct_area_register(&a, &k, CT_LEGACY))
		tap_bail("legacy registration failed");
	check_bad_args("legacy");
	check_valid("legacy", k.slice == KFEAT_SLICE_OUT ? ENOTSUPP : 0, ENOTSUPP);
	tap_ok(!(a.rs->flags & (AVAIL | ENABLED)), "R6.1 legacy: no slice bits in rseq->flags (0x%x)",
	       a.rs->flags);
	if (ct_area_unregister(&a))
		tap_bail("unregistration failed");

	if (!k.v2) {
		/* ABI legacy-arch: every registration is legacy, so there are
		 * no slice extensions either (upstream: RSEQ_SLICE_EXTENSION
		 * needs GENERIC_ENTRY); the cases above covered prctl 79. */
		if (k.slice == KFEAT_SLICE_ON || k.slice == KFEAT_SLICE_OFF)
			tap_bail("R6.2: slice extensions without V2 registrations");
		return tap_done();
	}
	if (ct_area_register(&a, &k, CT_V2))
		tap_bail("V2 registration failed");
	check_bad_args("V2");
	if (k.slice != KFEAT_SLICE_ON) {
		check_valid(k.slice == KFEAT_SLICE_OFF ? "V2, disabled at boot" : "V2, compiled out",
			    k.slice == KFEAT_SLICE_OUT ? ENOTSUPP : 0, ENOTSUPP);
		tap_ok(!(a.rs->flags & (AVAIL | ENABLED)),
		       "R6.1 V2 with extensions off: no slice bits in rseq->flags (0x%x)", a.rs->flags);
		return tap_done();
	}
	check_symmetry(a.rs);
	ct_area_unregister(&a);

	res = ct_shared_alloc(sizeof(*res));
	for (int b = BF_NO_AVAIL; b <= BF_READONLY; b++)
		check_bad_flags((enum bad_flags)b);
	munmap(res, sizeof(*res));
	return tap_done();
}
