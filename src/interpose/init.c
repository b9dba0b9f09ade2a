// SPDX-License-Identifier: MIT
/*
 * init.c - load-time setup of the interposer: find the real functions, read
 * the options, take (or read) the library's process decision and, when
 * `rseqkit run` asks for it, say once what was decided and why.
 *
 * Environment (set by `rseqkit run --slice-locks`, see rseqkit-slicelocks(7)):
 *   RSEQKIT_SLICE_LOCKS_READ=1    the read side of rwlocks counts as a hold
 *   RSEQKIT_SLICE_LOCKS_REPORT=1  print the decision to stderr (then cleared,
 *                                 so programs this one executes stay quiet)
 *   RSEQKIT_SLICE_LOCKS_FORCE=1   tests only: run the "on" paths although the
 *                                 kernel offers no extensions, provided rseqkit
 *                                 owns the registration (the request byte is
 *                                 then ours; a legacy kernel never reads it)
 *   RSEQKIT_SLICE=off             the library's opt-out: wrappers pass through
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rseqkit/rseqkit.h>
#include "slicelocks.h"

bool slicelocks_read_side;
__thread struct slicelocks_thread slicelocks_self __attribute__((tls_model("initial-exec")));

void slicelocks_forget(const volatile void *lock)
{
	struct slicelocks_thread *t = &slicelocks_self;

	if (!rseqkit_slice_on)
		return;
	for (unsigned int i = t->n; i-- > 0;)
		if (t->lock[i] == lock)
			slicelocks_drop(i);
}

static bool env_true(const char *name)
{
	const char *v = getenv(name);

	return v && (!strcmp(v, "1") || !strcmp(v, "yes") || !strcmp(v, "on"));
}

/* Forcing writes the request byte without a kernel that reads it: only safe
 * in an area rseqkit registered (never glibc's, whose layout we do not own
 * past __rseq_size). Returns NULL when forced, else why not. */
static const char *force_on(void)
{
	struct rseqkit_mode m;

	if (rseqkit_get_mode(&m))
		return "no registration mode";
	if (m.owner != RSEQKIT_OWNER_SELF)
		return "the registration is not rseqkit's (start with rseqkit run)";
	__atomic_store_n(&rseqkit_slice_on, 1, __ATOMIC_RELEASE);
	return NULL;
}

__attribute__((constructor)) static void slicelocks_init(void)
{
	struct rseqkit_slice_info info;
	const char *why_not = "";
	bool forced = false;

	slicelocks_resolve();
	slicelocks_read_side = env_true("RSEQKIT_SLICE_LOCKS_READ");
	rseqkit_slice_init();
	if (env_true("RSEQKIT_SLICE_LOCKS_FORCE") && !rseqkit_slice_on) {
		why_not = force_on();
		forced = !why_not;
	}
	if (!env_true("RSEQKIT_SLICE_LOCKS_REPORT"))
		return;
	unsetenv("RSEQKIT_SLICE_LOCKS_REPORT");
	rseqkit_slice_get_info(&info);
	fprintf(stderr, "rseqkit-slicelocks: %s%s%s%s (locks: mutex, spin, rwlock %s)\n",
		forced ? "forced on for tests; the kernel said: " : "", info.reason,
		why_not && *why_not ? "; not forced: " : "", why_not ? why_not : "",
		slicelocks_read_side ? "read+write" : "write");
}
