// SPDX-License-Identifier: MIT
/*
 * rseqkit_slice_opt_out() from main() (rseqkit/slice.h): the library's
 * constructor does not take the time slice decision, so a program - also
 * one linked against librseqkit.so, whose constructors run before the
 * program's - can still opt out before its first section. Expected: the
 * first opt-out -> 0, the decision is then "off" with the opt-out as its
 * reason, begin/end and enter/leave leave slice_ctrl alone, a second
 * opt-out -> -EALREADY. (On main the constructor decided first: -EALREADY.)
 */
#include <errno.h>
#include <string.h>

#include <rseqkit/slice.h>
#include "ct_slice.h"
#include "tap.h"

int main(void)
{
	struct rseqkit_slice_info info;
	uint8_t before;
	long t;
	int r;

	tap_plan(6);
	r = rseqkit_slice_opt_out();
	tap_ok(r == 0, "rseqkit_slice_opt_out() first thing in main() -> 0 (got %d %s)", r,
	       tap_errno_name(-r));
	tap_ok(rseqkit_slice_init() == 0, "the decision is then off");
	rseqkit_slice_get_info(&info);
	tap_ok(!info.on && info.decided && strstr(info.reason, "rseqkit_slice_opt_out()"),
	       "its reason names the opt-out (\"%s\")", info.reason);
	before = ct_request(rseqkit_thread_area());
	rseqkit_slice_begin();
	t = rseqkit_slice_enter();
	tap_ok(ct_request(rseqkit_thread_area()) == before && t == 0,
	       "off: begin and enter leave slice_ctrl alone, enter returns 0");
	rseqkit_slice_leave(t);
	rseqkit_slice_end();
	tap_ok(ct_request(rseqkit_thread_area()) == before,
	       "off: leave and end leave slice_ctrl alone");
	r = rseqkit_slice_opt_out();
	tap_ok(r == -EALREADY, "a second opt-out -> -EALREADY (got %d %s)", r,
	       tap_errno_name(-r));
	return tap_done();
}
