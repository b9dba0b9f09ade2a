// SPDX-License-Identifier: MIT
/*
 * R6.7: debugfs rseq/slice_ext_nsec - decimal nanoseconds, default 5000,
 * range 5000..50000; out of range -> ERANGE, unparsable -> EINVAL, and a
 * rejected write leaves the value unchanged.
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "ct_slice.h"
#include "tap.h"

static void write_expect(const char *text, int err, long expect_value)
{
	long v = -1;
	int r = ct_knob_write(text);

	tap_ok(r == -err, "R6.7: write \"%s\" -> %s (got %s)", text,
	       err ? tap_errno_name(err) : "ok", tap_errno_name(-r));
	ct_knob_read(&v);
	tap_ok(v == expect_value, "R6.7: ... value is then %ld (got %ld)", expect_value, v);
}

int main(int argc, char **argv)
{
	struct kfeat k;
	long v = -1;

	(void)argc;
	ct_start(argv, &k, "R6.7");
	if (!k.slice_knob)
		tap_skip_all("R6.7: no debugfs rseq/slice_ext_nsec (kernel without slice "
			     "extensions, or debugfs not mounted/readable)");
	if (access(CT_SLICE_KNOB, R_OK | W_OK))
		kfeat_missing_all(&k, kfeat_promises(&k, KFACTS_KNOB, "yes"),
				  "R6.7: %s not accessible: %s", CT_SLICE_KNOB,
				  tap_errno_name(errno));
	tap_ok(ct_knob_read(&v) == 0 && v == 5000, "R6.7: default 5000 ns (got %ld)", v);
	write_expect("4999", ERANGE, CT_KNOB_MIN_NS);
	write_expect("50001", ERANGE, 5000);
	write_expect("0", ERANGE, 5000);
	write_expect("abc", EINVAL, 5000);
	write_expect("12x", EINVAL, 5000);
	write_expect("50000", 0, CT_KNOB_MAX_NS);
	write_expect("5000", 0, 5000);
	write_expect("12345\n", 0, 12345);
	write_expect("5000", 0, 5000);
	return tap_done();
}
