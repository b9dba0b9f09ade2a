// SPDX-License-Identifier: MIT
/*
 * rseqkit_membuf_init() bounds the item size (RSEQKIT_MEMBUF_ITEM_MAX):
 * push and pop copy an item inside one critical section, so an unbounded
 * item is a section that the next interrupt always aborts. Expected
 * (rseqkit/membuf.h): item_size up to the limit works (round trip of a full
 * item), one byte more -> -EMSGSIZE, and the other argument errors keep
 * their -EINVAL.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rseqkit/membuf.h>
#include "tap.h"

int main(void)
{
	struct rseqkit_membuf b;
	unsigned char *in = malloc(RSEQKIT_MEMBUF_ITEM_MAX), *out = malloc(RSEQKIT_MEMBUF_ITEM_MAX);
	int r;

	if (!in || !out)
		tap_bail("out of memory");
	tap_plan(6);
	tap_ok(RSEQKIT_MEMBUF_ITEM_MAX >= 64 && RSEQKIT_MEMBUF_ITEM_MAX <= 65536,
	       "RSEQKIT_MEMBUF_ITEM_MAX is a bounded size (%d)", RSEQKIT_MEMBUF_ITEM_MAX);
	r = rseqkit_membuf_init(&b, RSEQKIT_INDEX_CPU_ID, 4, (size_t)RSEQKIT_MEMBUF_ITEM_MAX + 1);
	tap_ok(r == -EMSGSIZE, "item_size RSEQKIT_MEMBUF_ITEM_MAX + 1 -> -EMSGSIZE (got %d %s)", r,
	       tap_errno_name(-r));
	r = rseqkit_membuf_init(&b, RSEQKIT_INDEX_CPU_ID, 4, 1UL << 31);
	tap_ok(r == -EMSGSIZE, "item_size 2 GiB -> -EMSGSIZE (got %d %s)", r,
	       tap_errno_name(-r));
	r = rseqkit_membuf_init(&b, RSEQKIT_INDEX_CPU_ID, 4, 0);
	tap_ok(r == -EINVAL, "item_size 0 -> -EINVAL (got %d %s)", r,
	       tap_errno_name(-r));
	r = rseqkit_membuf_init(&b, RSEQKIT_INDEX_CPU_ID, 4, RSEQKIT_MEMBUF_ITEM_MAX);
	tap_ok(r == 0, "item_size RSEQKIT_MEMBUF_ITEM_MAX -> 0 (got %d)", r);
	if (r == 0) {
		for (int i = 0; i < RSEQKIT_MEMBUF_ITEM_MAX; i++)
			in[i] = (unsigned char)(i * 7 + 1);
		tap_pin_cpu(0);
		r = rseqkit_membuf_push(&b, in);
		if (!r)
			r = rseqkit_membuf_pop(&b, out);
		tap_ok(r == 0 && !memcmp(in, out, RSEQKIT_MEMBUF_ITEM_MAX),
		       "a largest item pushes and pops back intact (ret %d)", r);
		rseqkit_membuf_destroy(&b);
	} else {
		tap_skip("round trip: init failed");
	}
	free(in);
	free(out);
	return tap_done();
}
