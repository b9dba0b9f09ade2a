/*
 * R4.5: time slice extensions per mode. Legacy: not available - SET answers
 * ENOTSUPP, GET 0 (upstream: the thread's state, never enabled) and
 * rseq->flags carries no slice bits, also when registered with
 * RSEQ_FLAG_SLICE_EXT_DEFAULT_ON. V2: available - GET/SET work and the
 * ENABLED bit follows. The detailed prctl matrix is R6.2's test; this only
 * pins the column difference. Runs where the scenario says slice extensions
 * are on (a failure, not a skip, where it promises them and they are not).
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "ct_slice.h"
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
	tap_ok(r == 0, "R4.5 legacy%s: prctl GET -> 0 (never enabled; got %ld, %s)", fl, r,
	       r < 0 ? tap_errno_name(errno) : "-");
	r = pr(SET, ENA);
	tap_expect_errno(r, errno, RSEQKIT_ENOTSUPP, "R4.5 legacy%s: prctl SET ENABLE -> ENOTSUPP", fl);
	tap_ok((a->flags & BITS) == 0, "R4.5 legacy%s: no slice bits in rseq->flags (0x%x)", fl, a->flags);
	ct_unregister(a, RSEQKIT_ORIG_SIZE);
	free(a);
}

static void v2(int flags)
{
	const char *fl = flags ? " +DEFAULT_ON" : "";
	uint32_t want = RSEQKIT_CS_FLAG_SLICE_EXT_AVAILABLE |
			(flags ? RSEQKIT_CS_FLAG_SLICE_EXT_ENABLED : 0);
	struct ct_area a;
	long r;

	if (ct_slice_setup(&a, &k, flags)) {
		tap_ok(false, "R4.5 V2%s: registration with slice extensions available (flags 0x%x)",
		       fl, a.rs ? a.rs->flags : 0);
		return;
	}
	tap_ok(a.rs->flags == want, "R4.5/R6.1 V2%s: rseq->flags = 0x%x (got 0x%x)", fl, want,
	       a.rs->flags);
	r = pr(GET, 0);
	tap_ok(r == (flags ? 1 : 0), "R4.5 V2%s: prctl GET -> %d (got %ld, %s)", fl, flags ? 1 : 0,
	       r, r < 0 ? tap_errno_name(errno) : "-");
	r = pr(SET, ENA);
	tap_expect_errno(r, errno, 0, "R4.5 V2%s: prctl SET ENABLE -> 0", fl);
	tap_ok(pr(GET, 0) == 1 && (a.rs->flags & RSEQKIT_CS_FLAG_SLICE_EXT_ENABLED),
	       "R4.5/R6.2 V2%s: enabled: GET -> 1, ENABLED bit set (0x%x)", fl, a.rs->flags);
	r = pr(SET, 0);
	tap_expect_errno(r, errno, 0, "R4.5 V2%s: prctl SET 0 -> 0", fl);
	tap_ok(pr(GET, 0) == 0 && !(a.rs->flags & RSEQKIT_CS_FLAG_SLICE_EXT_ENABLED),
	       "R4.5/R6.2 V2%s: disabled: GET -> 0, ENABLED bit clear (0x%x)", fl, a.rs->flags);
	ct_area_unregister(&a);
}

int main(int argc, char **argv)
{
	(void)argc;
	ct_slice_start(argv, &k, "R4.5", NULL, 0);
	legacy(0);
	legacy(RSEQKIT_FLAG_SLICE_EXT_DEFAULT_ON);
	v2(0);
	v2(RSEQKIT_FLAG_SLICE_EXT_DEFAULT_ON);
	return tap_done();
}
