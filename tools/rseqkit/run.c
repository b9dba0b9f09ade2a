// SPDX-License-Identifier: MIT
/*
 * rseqkit run [--slice-locks ...] -- PROGRAM [ARGS]: start PROGRAM so that
 * it can use V2 and time slice extensions.
 *
 * glibc <= 2.40 registers a 32-byte (legacy) area, which rules out V2 and
 * time slice extensions; with glibc.pthread.rseq=0 added to GLIBC_TUNABLES
 * glibc stays out and librseqkit registers V2 on a V2 kernel. glibc >= 2.41
 * registers a V2 area itself, which librseqkit then uses.
 *
 * --slice-locks preloads librseqkit-slicelocks.so (rseqkit-slicelocks(7)):
 * unmodified programs get an extension request raised while they hold
 * pthread locks. First the decision is taken the way the program will take
 * it (a child of ours, glibc kept out of rseq, same environment); when it is
 * "off" the program runs without the interposer, so it pays nothing, and we
 * say why. The interposer prints the program's own decision once (--quiet:
 * neither line).
 */
#include <errno.h>
#include <gnu/libc-version.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rseqkit/rseqkit.h>
#include "cmd.h"
#include "../../src/interpose/locate.h"

#define NO_GLIBC_RSEQ "glibc.pthread.rseq=0"

static void run_help(FILE *f)
{
	fprintf(f,
		"usage: rseqkit run [--slice-locks [--read-locks] [--preload PATH] [--quiet]]\n"
		"                   [--glibc-rseq=auto|off|keep] [--] PROGRAM [ARGS...]\n\n"
		"Runs PROGRAM so that its threads can use rseq V2 and time slice extensions:\n"
		"with " NO_GLIBC_RSEQ " added to GLIBC_TUNABLES, glibc does not register\n"
		"rseq and librseqkit registers an optimized V2 area on a V2 kernel (Linux 7.1+\n"
		"or rseqkit's patched 6.12).\n\n"
		"  --slice-locks    preload " SLICELOCKS_SO ": while a thread holds a\n"
		"                   pthread mutex, spin lock or rwlock (write side) it asks the\n"
		"                   kernel not to be preempted (rseqkit-slicelocks(7)); the\n"
		"                   decision (on, or off and why) is printed once on stderr\n"
		"  --read-locks     count the read side of rwlocks too\n"
		"  --preload PATH   the interposer (default: ../lib/" SLICELOCKS_SO "\n"
		"                   next to this program, or $RSEQKIT_SLICELOCKS)\n"
		"  --quiet          do not print the decision\n"
		"  --always-preload preload even when extensions are off (the wrappers then\n"
		"                   pass through; to measure what that costs)\n"
		"  --glibc-rseq=    off: add the tunable (the default without --slice-locks);\n"
		"                   keep: let glibc register (glibc >= 2.41 registers V2);\n"
		"                   auto: off for glibc <= 2.40, keep for newer (the default\n"
		"                   with --slice-locks; judged by the C library rseqkit runs on)\n\n"
		"Exit status: PROGRAM's, or 127 if it cannot be started, 2 on bad usage.\n");
}

/* Append ITEM to the SEP-separated list in variable NAME. */
static int env_append(const char *name, const char *item, char sep)
{
	const char *old = getenv(name);
	char *v;
	int r;

	if (old && strstr(old, item))
		return 0;
	if (old && *old) {
		if (asprintf(&v, "%s%c%s", old, sep, item) < 0)
			return -1;
	} else {
		v = strdup(item);
		if (!v)
			return -1;
	}
	r = setenv(name, v, 1);
	free(v);
	return r;
}

/*
 * The process decision a program started by us gets: taken in a child of
 * ours re-executed with glibc kept out of rseq (so librseqkit registers V2
 * where the kernel has it) and the caller's RSEQKIT_SLICE. Returns 1 on,
 * 0 off, -1 unknown (then the interposer decides alone); reason filled.
 */
static int decide(char *reason, size_t len)
{
	char *args[] = { "rseqkit", "run", "--decide", NULL };
	int fds[2], status;
	ssize_t n = 0, r;
	pid_t pid;

	reason[0] = '\0';
	if (pipe(fds))
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		if (!env_append("GLIBC_TUNABLES", NO_GLIBC_RSEQ, ':'))
			execv("/proc/self/exe", args);
		_exit(127);
	}
	close(fds[1]);
	while (n < (ssize_t)len - 1 && (r = read(fds[0], reason + n, len - 1 - (size_t)n)) > 0)
		n += r;
	reason[n] = '\0';
	if (n > 0 && reason[n - 1] == '\n')
		reason[n - 1] = '\0';
	close(fds[0]);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) > 1)
		return -1;
	return WEXITSTATUS(status) == 0;
}


/* The interposer: --preload, $RSEQKIT_SLICELOCKS, or ../lib next to us. */
static const char *find_interposer(const char *given)
{
	const char *path = slicelocks_locate(given, "../lib");

	return path && !access(path, R_OK) ? path : NULL;
}

int cmd_run(int argc, char **argv)
{
	bool slice_locks = false, read_locks = false, quiet = false, always = false;
	char reason[400];
	const char *preload = NULL, *glibc_rseq = NULL, *so;
	int first = 1;

	for (; first < argc; first++) {
		const char *a = argv[first];

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			run_help(stdout);
			return 0;
		} else if (!strcmp(a, "--")) {
			first++;
			break;
		} else if (!strcmp(a, "--slice-locks")) {
			slice_locks = true;
		} else if (!strcmp(a, "--read-locks")) {
			read_locks = true;
		} else if (!strcmp(a, "--quiet")) {
			quiet = true;
		} else if (!strcmp(a, "--always-preload")) {
			always = true;
		} else if (!strcmp(a, "--decide") && first == 1 && argc == 2) {
			struct rseqkit_slice_info info;

			rseqkit_slice_get_info(&info);
			printf("%s\n", info.reason);
			return info.on ? 0 : 1;
		} else if (!strcmp(a, "--preload") && first + 1 < argc) {
			preload = argv[++first];
		} else if (!strncmp(a, "--glibc-rseq=", 13)) {
			glibc_rseq = a + 13;
			if (strcmp(glibc_rseq, "auto") && strcmp(glibc_rseq, "off") &&
			    strcmp(glibc_rseq, "keep")) {
				fprintf(stderr, "rseqkit run: --glibc-rseq takes auto, off or keep, "
					"not '%s'\n", glibc_rseq);
				return CMD_EXIT_USAGE;
			}
		} else if (a[0] == '-') {
			fprintf(stderr, "rseqkit run: unknown option '%s'%s\n", a,
				!strcmp(a, "--preload") ? " (needs a PATH)" : "");
			run_help(stderr);
			return CMD_EXIT_USAGE;
		} else {
			break;
		}
	}
	if (first >= argc) {
		fprintf(stderr, "rseqkit run: no program given\n");
		run_help(stderr);
		return CMD_EXIT_USAGE;
	}
	if ((read_locks || preload || always) && !slice_locks) {
		fprintf(stderr, "rseqkit run: --read-locks, --preload and --always-preload need "
			"--slice-locks\n");
		return CMD_EXIT_USAGE;
	}
	if (!glibc_rseq)
		glibc_rseq = slice_locks ? "auto" : "off";
	if (!strcmp(glibc_rseq, "auto"))
		glibc_rseq = slicelocks_glibc_registers_v2() ? "keep" : "off";
	if (!strcmp(glibc_rseq, "off") && env_append("GLIBC_TUNABLES", NO_GLIBC_RSEQ, ':')) {
		fprintf(stderr, "rseqkit run: cannot set GLIBC_TUNABLES: %s\n", strerror(errno));
		return 127;
	}
	if (slice_locks && !always && decide(reason, sizeof(reason)) == 0) {
		if (!quiet)
			fprintf(stderr, "rseqkit run: time slice extensions are %s; %s runs without "
				"the interposer\n", reason, argv[first]);
		slice_locks = false;
	}
	if (slice_locks) {
		const char *given = preload ? preload : getenv("RSEQKIT_SLICELOCKS");

		so = find_interposer(preload);
		if (!so) {
			fprintf(stderr, "rseqkit run: cannot find %s (%s); give it with --preload "
				"PATH\n", given ? given : SLICELOCKS_SO,
				given ? strerror(errno) : "not in ../lib next to rseqkit, "
				"RSEQKIT_SLICELOCKS unset");
			return 127;
		}
		if (env_append("LD_PRELOAD", so, ':') ||
		    (read_locks && setenv("RSEQKIT_SLICE_LOCKS_READ", "1", 1)) ||
		    (!quiet && setenv("RSEQKIT_SLICE_LOCKS_REPORT", "1", 1))) {
			fprintf(stderr, "rseqkit run: cannot set the environment: %s\n",
				strerror(errno));
			return 127;
		}
		if (!quiet)
			fprintf(stderr, "rseqkit run: preloading %s; glibc %s %s\n", so,
				gnu_get_libc_version(), !strcmp(glibc_rseq, "off") ?
				"kept out of rseq (" NO_GLIBC_RSEQ "), rseqkit registers V2" :
				"registers rseq (V2 from glibc 2.41 on a V2 kernel)");
	}
	execvp(argv[first], argv + first);
	fprintf(stderr, "rseqkit run: cannot start '%s': %s\n", argv[first], strerror(errno));
	return 127;
}
