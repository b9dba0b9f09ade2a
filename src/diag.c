// SPDX-License-Identifier: MIT
/* The library's single diagnostic hook (rseqkit/diag.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <rseqkit/diag.h>
#include "internal.h"

static rseqkit_diag_fn diag_fn;
static void *diag_arg;

rseqkit_diag_fn rseqkit_set_diag_hook(rseqkit_diag_fn fn, void *arg)
{
	rseqkit_diag_fn old = diag_fn;

	diag_arg = arg;
	diag_fn = fn;
	return old;
}

void rseqkit__diag(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!diag_fn)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	diag_fn(msg, diag_arg);
}

void rseqkit__fatal(const char *file, int line, const char *cause)
{
	rseqkit__diag("rseqkit: fatal ABI incoherence at %s:%d: %s", file, line, cause);
	fprintf(stderr, "rseqkit: fatal ABI incoherence at %s:%d: %s\n", file, line, cause);
	abort();
}
