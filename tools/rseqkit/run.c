// SPDX-License-Identifier: MIT
/*
 * rseqkit run -- PROGRAM [ARGS]: start PROGRAM so that rseqkit, not glibc,
 * registers rseq. glibc <= 2.40 registers a 32-byte (legacy) area, which rules
 * out V2 and time slice extensions; with glibc.pthread.rseq=0 added to
 * GLIBC_TUNABLES glibc stays out and librseqkit registers V2 on a V2 kernel.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"

#define NO_GLIBC_RSEQ "glibc.pthread.rseq=0"

static void run_help(FILE *f)
{
	fprintf(f,
		"usage: rseqkit run [--] PROGRAM [ARGS...]\n\n"
		"Runs PROGRAM with " NO_GLIBC_RSEQ " added to GLIBC_TUNABLES, so glibc does\n"
		"not register rseq and librseqkit registers an optimized V2 area on a V2\n"
		"kernel (Linux 7.1+ or rseqkit's patched 6.12), which time slice extensions\n"
		"need. Exit status: PROGRAM's, or 127 if it cannot be started.\n");
}

int cmd_run(int argc, char **argv)
{
	const char *old = getenv("GLIBC_TUNABLES");
	char *tunables;
	int first = 1;

	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		run_help(stdout);
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "--"))
		first = 2;
	else if (argc > 1 && argv[1][0] == '-') {
		fprintf(stderr, "rseqkit run: unknown option '%s'\n", argv[1]);
		run_help(stderr);
		return CMD_EXIT_USAGE;
	}
	if (first >= argc) {
		fprintf(stderr, "rseqkit run: no program given\n");
		run_help(stderr);
		return CMD_EXIT_USAGE;
	}
	if (old && *old) {
		if (asprintf(&tunables, "%s:%s", old, NO_GLIBC_RSEQ) < 0)
			return 127;
	} else {
		tunables = strdup(NO_GLIBC_RSEQ);
	}
	if (!tunables || setenv("GLIBC_TUNABLES", tunables, 1)) {
		fprintf(stderr, "rseqkit run: cannot set GLIBC_TUNABLES: %s\n", strerror(errno));
		return 127;
	}
	execvp(argv[first], argv + first);
	fprintf(stderr, "rseqkit run: cannot start '%s': %s\n", argv[first], strerror(errno));
	return 127;
}
