// SPDX-License-Identifier: MIT
/*
 * R6.2: prctl(PR_RSEQ_SLICE_EXTENSION) - the error matrix over every argument
 * position, in every registration state of the calling thread (none, legacy,
 * V2), and enable/disable symmetry with the ENABLED bit of rseq->flags.
 * Order: bad arg4/arg5, unknown arg2, GET with arg3, SET with unknown arg3
 * bits -> EINVAL; feature compiled out or disabled at boot -> ENOTSUPP; no
 * registration -> ENXIO; legacy registration -> ENOTSUPP; else 0.
 * A kernel without slice extensions (pre-V2) does not know option 79: EINVAL.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ct_slice.h"
#include "tap.h"

#define GET RSEQKIT_PR_RSEQ_SLICE_EXTENSION_GET
#define SET RSEQKIT_PR_RSEQ_SLICE_EXTENSION_SET
#define EN RSEQKIT_PR_RSEQ_SLICE_EXT_ENABLE
#define ENOTSUPP RSEQKIT_ENOTSUPP

struct bad_call {
	unsigned long op, a3, a4, a5;
	const char *what;
};

static const struct bad_call bad_calls[] = {
	{ GET, 0, 1, 0, "GET with arg4 != 0" },
	{ GET, 0, 0, 1, "GET with arg5 != 0" },
	{ SET, EN, 1, 0, "SET with arg4 != 0" },
	{ SET, EN, 0, 1, "SET with arg5 != 0" },
	{ 0, 0, 0, 0, "arg2 0 (unknown)" },
	{ 3, 0, 0, 0, "arg2 3 (unknown)" },
	{ GET, 1, 0, 0, "GET with arg3 != 0" },
	{ SET, 2, 0, 0, "SET with arg3 0x2" },
	{ SET, 3, 0, 0, "SET with arg3 0x3" },
	{ SET, 0x80000000UL, 0, 0, "SET with arg3 0x80000000" },
};

static void check_bad_args(const char *state)
{
	for (size_t i = 0; i < sizeof(bad_calls) / sizeof(bad_calls[0]); i++) {
		const struct bad_call *c = &bad_calls[i];
		long r = ct_slice_prctl(c->op, c->a3, c->a4, c->a5);

		tap_expect_errno(r, errno, EINVAL, "R6.2 %s: %s -> EINVAL", state, c->what);
	}
}

static void check_valid(const char *state, int expected)
{
	long r;

	r = ct_slice_prctl(GET, 0, 0, 0);
	tap_expect_errno(r < 0 ? -1 : 0, errno, expected, "R6.2 %s: GET -> %s", state,
			 expected ? tap_errno_name(expected) : "0 or 1");
	r = ct_slice_prctl(SET, EN, 0, 0);
	tap_expect_errno(r, errno, expected, "R6.2 %s: SET ENABLE -> %s", state,
			 tap_errno_name(expected));
	r = ct_slice_prctl(SET, 0, 0, 0);
	tap_expect_errno(r, errno, expected, "R6.2 %s: SET 0 -> %s", state,
			 tap_errno_name(expected));
}

/* Symmetry on a V2 registration with extensions available. */
static void check_symmetry(struct rseqkit_abi_rseq *rs)
{
	uint32_t en = RSEQKIT_CS_FLAG_SLICE_EXT_ENABLED;

	tap_ok(ct_slice_prctl(GET, 0, 0, 0) == 0 && !(rs->flags & en),
	       "R6.2 V2: GET -> 0 and ENABLED clear after a registration without DEFAULT_ON");
	tap_ok(ct_slice_prctl(SET, EN, 0, 0) == 0 && (rs->flags & en) &&
	       ct_slice_prctl(GET, 0, 0, 0) == 1, "R6.2 V2: SET ENABLE -> 0, ENABLED set, GET -> 1");
	tap_ok(ct_slice_prctl(SET, EN, 0, 0) == 0 && (rs->flags & en),
	       "R6.2 V2: SET to the current state (enabled) -> 0");
	tap_ok(ct_slice_prctl(SET, 0, 0, 0) == 0 && !(rs->flags & en) &&
	       ct_slice_prctl(GET, 0, 0, 0) == 0, "R6.2 V2: SET 0 -> 0, ENABLED clear, GET -> 0");
	tap_ok(ct_slice_prctl(SET, 0, 0, 0) == 0 && !(rs->flags & en),
	       "R6.2 V2: SET to the current state (disabled) -> 0");
	tap_ok((rs->flags & RSEQKIT_CS_FLAG_SLICE_EXT_AVAILABLE) != 0,
	       "R6.2 V2: AVAILABLE stays set through enable/disable");
}

/* Does a V2 registration get AVAILABLE? Asked in a child, so this thread
 * stays unregistered for the first part of the matrix. */
static int probe_active(const struct kfeat *k)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		struct ct_area a;

		_exit(ct_slice_setup(&a, k, 0) == NULL);
	}
	waitpid(pid, &status, 0);
	return WIFEXITED(status) && WEXITSTATUS(status) == 1;
}

int main(int argc, char **argv)
{
	struct kfeat k;
	struct ct_area a;
	int active, off;

	tap_reexec_without_glibc_rseq(argv);
	(void)argc;
	kfeat_probe(&k);
	kfeat_diag(&k);
	if (!k.rseq)
		tap_skip_all("R6.2: no rseq(2) on this kernel");

	if (!k.v2) {
		/* Option 79 does not exist before V2 kernels. */
		check_bad_args("pre-V2 kernel");
		check_valid("pre-V2 kernel (option 79 unknown)", EINVAL);
		return tap_done();
	}
	active = probe_active(&k);
	off = active ? 0 : ENOTSUPP;
	tap_diag("slice extensions %s", active ? "available" : "compiled out or disabled at boot");

	check_bad_args("unregistered");
	check_valid("unregistered", active ? ENXIO : ENOTSUPP);

	if (ct_area_register(&a, &k, CT_LEGACY))
		tap_bail("legacy registration failed");
	check_bad_args("legacy");
	check_valid("legacy", ENOTSUPP);
	tap_ok(!(a.rs->flags & (RSEQKIT_CS_FLAG_SLICE_EXT_AVAILABLE |
				RSEQKIT_CS_FLAG_SLICE_EXT_ENABLED)),
	       "R6.1 legacy: no slice bits in rseq->flags");
	if (ct_area_unregister(&a))
		tap_bail("unregistration failed");

	if (ct_area_register(&a, &k, CT_V2))
		tap_bail("V2 registration failed");
	check_bad_args("V2");
	if (active)
		check_symmetry(a.rs);
	else
		check_valid("V2 with extensions off", off);
	return tap_done();
}
