// SPDX-License-Identifier: MIT
/*
 * R4.5: time slice extensions per mode. Legacy: not available - the prctl
 * answers ENOTSUPP and rseq->flags carries no slice bits, also when
 * registered with RSEQ_FLAG_SLICE_EXT_DEFAULT_ON. V2: available (when the
 * kernel has them enabled, R6.1): GET/SET work and the ENABLED bit follows.
 * The detailed prctl matrix is R6.2's test; this only pins the column
 * difference. Skipped on kernels without the prctl (EINVAL) and, for V2,
 * when slice extensions are compiled out or disabled at boot (ENOTSUPP).
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "ct_rseq.h"
#include "tap.h"

#define PR RSEQKIT_PR_RSEQ_SLICE_EXTENSION
#define GET RSEQKIT_PR_RSEQ_SLICE_EXTENSION_GET
#define SET RSEQKIT_PR_RSEQ_SLICE_EXTENSION_SET
#define ENA RSEQKIT_PR_RSEQ_SLICE_EXT_ENABLE
#define BITS (RSEQKIT_CS_FLAG_SLICE_EXT_AVAILABLE | RSEQKIT_CS_FLAG_SLICE_EXT_ENABLED)

static struct kfeat k;

static long pr(unsigned long op, unsigned long arg3)
{
	return prctl(PR, op, arg3, 0UL, 0UL);
}

static void legacy(int flags)
{
	const char *fl = flags ? " +DEFAULT_ON" : "";
	struct rseqkit_abi_rseq *a = ct_alloc(CT_PAGE, CT_PAGE);
	long r;

	if (!tap_expect_errno(ct_register(a, RSEQKIT_ORIG_SIZE, flags), errno, 0,
			      "R4.5 legacy%s: registration -> 0", fl)) {
		free(a);
		return;
	}
	r = pr(GET, 0);
	tap_expect_errno(r, errno, RSEQKIT_ENOTSUPP, "R4.5 legacy%s: prctl GET -> ENOTSUPP", fl);
	r = pr(SET, ENA);
	tap_expect_errno(r, errno, RSEQKIT_ENOTSUPP, "R4.5 legacy%s: prctl SET ENABLE -> ENOTSUPP", fl);
	tap_ok((a->flags & BITS) == 0, "R4.5 legacy%s: no slice bits in rseq->flags (0x%x)", fl, a->flags);
	ct_unregister(a, RSEQKIT_ORIG_SIZE);
	free(a);
}

static void v2(void)
{
	struct ct_area a;
	long r;

	if (ct_area_register(&a, &k, CT_V2)) {
		tap_ok(false, "R4.5 V2: registration: %s", tap_errno_name(errno));
		return;
	}
	r = pr(GET, 0);
	if (r == -1 && errno == RSEQKIT_ENOTSUPP) {
		tap_skip("R4.5 V2: slice extensions compiled out or disabled at boot (GET -> ENOTSUPP)");
		tap_ok((a.rs->flags & BITS) == 0,
		       "R6.1 V2: slice extensions off -> no slice bits in rseq->flags (0x%x)", a.rs->flags);
	} else {
		tap_expect_errno(r, errno, 0, "R4.5 V2: prctl GET -> 0 (available, not enabled)");
		tap_ok(a.rs->flags == RSEQKIT_CS_FLAG_SLICE_EXT_AVAILABLE,
		       "R4.5/R6.1 V2: rseq->flags = AVAILABLE (0x%x)", a.rs->flags);
		r = pr(SET, ENA);
		tap_expect_errno(r, errno, 0, "R4.5 V2: prctl SET ENABLE -> 0");
		tap_ok(pr(GET, 0) == 1 && (a.rs->flags & RSEQKIT_CS_FLAG_SLICE_EXT_ENABLED),
		       "R4.5/R6.2 V2: enabled: GET -> 1, ENABLED bit set (0x%x)", a.rs->flags);
		r = pr(SET, 0);
		tap_expect_errno(r, errno, 0, "R4.5 V2: prctl SET 0 -> 0");
		tap_ok(pr(GET, 0) == 0 && !(a.rs->flags & RSEQKIT_CS_FLAG_SLICE_EXT_ENABLED),
		       "R4.5/R6.2 V2: disabled: GET -> 0, ENABLED bit clear (0x%x)", a.rs->flags);
	}
	ct_area_unregister(&a);
}

int main(int argc, char **argv)
{
	long r;

	(void)argc;
	ct_start(argv, &k, "R4.5");
	r = pr(GET, 0);
	if (r == -1 && errno == EINVAL)
		tap_skip_all("R4.5: kernel has no PR_RSEQ_SLICE_EXTENSION (prctl 79 -> EINVAL)");
	tap_ok(r == -1 && (errno == ENXIO || errno == RSEQKIT_ENOTSUPP),
	       "R6.2: prctl GET without a registration -> ENXIO (or ENOTSUPP if off) (got %ld, %s)",
	       r, r == -1 ? tap_errno_name(errno) : "-");
	legacy(0);
	if (k.v2)
		legacy(RSEQKIT_FLAG_SLICE_EXT_DEFAULT_ON);
	if (!k.v2)
		tap_skip("R4.5 V2: kernel has no V2 (feature size %lu)", k.feature_size);
	else
		v2();
	return tap_done();
}
