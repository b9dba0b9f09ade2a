// SPDX-License-Identifier: MIT
/*
 * rseqkit_pool_free(): a double free is detected (rseqkit/pool.h: -EALREADY,
 * nothing changed, a message through the diagnostic hook), and freed
 * neighbours merge so their space serves a larger object. Expectations from
 * rseqkit/pool.h; the pool hands out objects in address order from a fresh
 * range (bump allocation), which the test uses to make neighbours.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <rseqkit/diag.h>
#include <rseqkit/pool.h>
#include "tap.h"

static int diags;
static char last[256];

static void on_diag(const char *msg, void *arg)
{
	(void)arg;
	diags++;
	snprintf(last, sizeof(last), "%s", msg);
}

int main(void)
{
	struct rseqkit_pool pool;
	char *a, *b, *c, *d, *e, *big;
	bool zero;
	int r;

	tap_plan(8);
	if (rseqkit_pool_init(&pool, 4096, RSEQKIT_INDEX_CPU_ID))
		tap_bail("rseqkit_pool_init failed");
	rseqkit_set_diag_hook(on_diag, NULL);
	a = rseqkit_pool_alloc(&pool, 64);
	b = rseqkit_pool_alloc(&pool, 64);
	c = rseqkit_pool_alloc(&pool, 64);
	d = rseqkit_pool_alloc(&pool, 64);
	if (!a || b != a + 64 || c != b + 64 || d != c + 64)
		tap_bail("objects of a fresh range are not adjacent");
	memset(rseqkit_pool_ptr(&pool, a, 0), 0x5a, 64);
	memset(rseqkit_pool_ptr(&pool, b, 0), 0x5a, 64);

	tap_ok(rseqkit_pool_free(&pool, a, 64) == 0, "free of a live object -> 0");
	r = rseqkit_pool_free(&pool, a, 64);
	tap_ok(r == -EALREADY, "second free of the same object -> -EALREADY (got %d %s)", r,
	       tap_errno_name(-r));
	tap_ok(diags == 1 && strstr(last, "double free"),
	       "the double free is reported through the diagnostic hook (\"%s\")", last);
	r = rseqkit_pool_free(&pool, a + 8, 8);
	tap_ok(r == -EALREADY, "free of a part of a freed object -> -EALREADY (got %d %s)", r,
	       tap_errno_name(-r));

	/* a and b free and adjacent: one 128-byte chunk. */
	tap_ok(rseqkit_pool_free(&pool, b, 64) == 0, "free of the neighbour -> 0");
	big = rseqkit_pool_alloc(&pool, 128);
	tap_ok(big == a, "a 128-byte object reuses the two merged 64-byte neighbours (%p, "
	       "expected %p)", (void *)big, (void *)a);
	zero = big != NULL;
	for (int i = 0; big && i < 128; i++)
		zero &= ((unsigned char *)rseqkit_pool_ptr(&pool, big, 0))[i] == 0;
	tap_ok(zero, "the reused object reads zero (its parts held 0x5a)");

	/* Freeing the last objects gives the space back to the end of the range. */
	rseqkit_pool_free(&pool, d, 64);
	rseqkit_pool_free(&pool, c, 64);
	e = rseqkit_pool_alloc(&pool, 256);
	tap_ok(e == c, "two freed objects at the end serve a 256-byte object from there "
	       "(%p, expected %p)", (void *)e, (void *)c);
	rseqkit_set_diag_hook(NULL, NULL);
	rseqkit_pool_destroy(&pool);
	return tap_done();
}
