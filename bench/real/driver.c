// SPDX-License-Identifier: MIT
/*
 * rseqkit-realbench: run unmodified programs with time slice extensions off
 * and on under `rseqkit run --slice-locks`, alternating, and print for each
 * run its wall time, its output and the kernel's slice counters (rseq/stats
 * deltas). Runs in the VM (static), where real programs come with their own
 * ld.so and libraries (see bench/real/README.md); bench/real/table turns the
 * console log into the off/on table.
 *
 *   rseqkit-realbench [--reps N] [--preload SO] [--ldso LDSO --libs DIR]
 *                     [--modes off,on,through,plain] [--pass-skip] [--slice-nsec N]
 *                     [--file LIST] [-- NAME PROG ARGS... [-- NAME PROG ARGS...]]
 *
 * Modes: off = `rseqkit run` without the interposer (no requests), on =
 * `rseqkit run --slice-locks` (requests while locks are held, the decision
 * as the kernel allows), through = the interposer preloaded with
 * RSEQKIT_SLICE=off (its wrappers pass through: what preloading alone costs).
 * Every mode has the same rseq owner (rseqkit's V2 registration), so only the
 * requests differ. Default: off,on. Mode plain runs PROG as it is (for test
 * programs that set up their own environment); --pass-skip counts exit
 * status 77 (a TAP skip) as success. A NAME starting with "plain:" runs its
 * command once in mode plain, whatever --modes says. --slice-nsec sets
 * LIST has one "NAME PROG ARGS..." per line (blank-separated, # comments):
 * the VM's init passes at most 64 words to a program. --slice-nsec sets
 * debugfs rseq/slice_ext_nsec for the whole run (restored at the end): the
 * 5 us default is meant for hardware that runs several instructions per ns,
 * the emulated guest runs about one.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The slice counters of debugfs rseq/stats, by upstream's names (R4.6). */
#define STATS_PATH "/sys/kernel/debug/rseq/stats"
static const char *const stat_names[] = { "sgrant", "sexpir", "srevok", "syield", "sabort" };
#define NSTATS (sizeof(stat_names) / sizeof(stat_names[0]))

struct stats {
	unsigned long long v[NSTATS];
};

/* 0, or -1 when the file cannot be read (no debugfs, kernel without stats). */
static int stats_read(struct stats *s)
{
	char name[64];
	unsigned long long v;
	FILE *f = fopen(STATS_PATH, "r");

	memset(s, 0, sizeof(*s));
	if (!f)
		return -1;
	while (fscanf(f, " %63[^:]: %llu", name, &v) == 2)
		for (size_t i = 0; i < NSTATS; i++)
			if (!strcmp(name, stat_names[i]))
				s->v[i] = v;
	fclose(f);
	return 0;
}

#define MAX_CMDS 16
#define MAX_ARGS 64

struct cmd {
	const char *name;
	char **argv;
	int argc;
};

static bool pass_skip;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int run_one(const struct cmd *c, const char *mode, int rep, const char *preload,
		   const char *ldso, const char *libs)
{
	char *argv[MAX_ARGS + 16];
	struct stats before, after;
	int n = 0, status, have_stats;
	double t0, t1;
	pid_t pid;

	if (!strcmp(mode, "plain")) {
		ldso = NULL;	/* a program of ours: its PT_INTERP is /extra/lib's ld.so */
		goto program;
	}
	argv[n++] = "rseqkit";
	argv[n++] = "run";
	if (strcmp(mode, "off")) {
		argv[n++] = "--slice-locks";
		argv[n++] = "--quiet";
		if (!strcmp(mode, "through"))
			argv[n++] = "--always-preload";
		if (preload) {
			argv[n++] = "--preload";
			argv[n++] = (char *)preload;
		}
	}
	argv[n++] = "--";
program:
	if (ldso) {
		argv[n++] = (char *)ldso;
		if (libs) {
			argv[n++] = "--library-path";
			argv[n++] = (char *)libs;
		}
	}
	for (int i = 0; i < c->argc && n < MAX_ARGS + 15; i++)
		argv[n++] = c->argv[i];
	argv[n] = NULL;

	printf("B5 begin name=%s mode=%s rep=%d\n", c->name, mode, rep);
	fflush(stdout);
	have_stats = stats_read(&before) == 0;
	t0 = now_s();
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		if (!strcmp(mode, "through"))
			setenv("RSEQKIT_SLICE", "off", 1);
		else
			unsetenv("RSEQKIT_SLICE");
		execvp(argv[0], argv);
		fprintf(stderr, "rseqkit-realbench: cannot start rseqkit: %s\n", strerror(errno));
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	t1 = now_s();
	if (have_stats)
		have_stats = stats_read(&after) == 0;
	printf("B5 end name=%s mode=%s rep=%d status=%d wall=%.4f", c->name, mode, rep,
	       WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), t1 - t0);
	for (size_t i = 0; have_stats && i < NSTATS; i++)
		printf(" %s=%llu", stat_names[i], after.v[i] - before.v[i]);
	printf("\n");
	fflush(stdout);
	return WIFEXITED(status) && (WEXITSTATUS(status) == 0 ||
				     (pass_skip && WEXITSTATUS(status) == 77)) ? 0 : 1;
}

#define KNOB "/sys/kernel/debug/rseq/slice_ext_nsec"

/* Read the knob into old, then write new (if not NULL); 0 or -1. */
static int knob(char *old, size_t len, const char *new)
{
	FILE *f = fopen(KNOB, "r");

	if (!f)
		return -1;
	if (!fgets(old, (int)len, f))
		old[0] = '\0';
	fclose(f);
	old[strcspn(old, "\n")] = '\0';
	if (!new)
		return 0;
	f = fopen(KNOB, "w");
	if (!f)
		return -1;
	fputs(new, f);
	return fclose(f) ? -1 : 0;
}

/* Append the commands of LIST to cmds; returns the new count or -1. */
static int read_list(const char *list, struct cmd *cmds, int ncmd)
{
	char line[4096];
	FILE *f = fopen(list, "r");

	if (!f) {
		fprintf(stderr, "rseqkit-realbench: %s: %s\n", list, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) && ncmd < MAX_CMDS) {
		char **words = calloc(MAX_ARGS + 1, sizeof(*words));
		char *save = NULL, *w;
		int n = 0;

		if (!words)
			break;
		for (w = strtok_r(line, " \t\n", &save); w && n < MAX_ARGS;
		     w = strtok_r(NULL, " \t\n", &save)) {
			if (w[0] == '#')
				break;
			words[n++] = strdup(w);
		}
		if (n == 0) {
			free(words);
			continue;
		}
		if (n < 2) {
			fprintf(stderr, "rseqkit-realbench: %s: '%s' needs NAME PROG\n", list, words[0]);
			fclose(f);
			return -1;
		}
		cmds[ncmd].name = words[0];
		cmds[ncmd].argv = words + 1;
		cmds[ncmd].argc = n - 1;
		ncmd++;
	}
	fclose(f);
	return ncmd;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: rseqkit-realbench [--reps N] [--preload SO] [--ldso LDSO --libs DIR]\n"
		   "         [--modes off,on,through,plain] [--pass-skip] [--slice-nsec N] [--file LIST]\n"
		   "         [-- NAME PROG ARGS... [-- NAME PROG ARGS...]]\n");
}

int main(int argc, char **argv)
{
	struct cmd cmds[MAX_CMDS];
	const char *preload = NULL, *ldso = NULL, *libs = NULL, *slice_nsec = NULL, *list = NULL;
	char old_nsec[32] = "", now_nsec[32] = "";
	char modes_buf[64] = "off,on", *modes[3];
	int reps = 3, ncmd = 0, nmodes = 0, fails = 0, i;

	for (i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
			reps = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--preload") && i + 1 < argc) {
			preload = argv[++i];
		} else if (!strcmp(argv[i], "--ldso") && i + 1 < argc) {
			ldso = argv[++i];
		} else if (!strcmp(argv[i], "--libs") && i + 1 < argc) {
			libs = argv[++i];
		} else if (!strcmp(argv[i], "--file") && i + 1 < argc) {
			list = argv[++i];
		} else if (!strcmp(argv[i], "--slice-nsec") && i + 1 < argc) {
			slice_nsec = argv[++i];
		} else if (!strcmp(argv[i], "--pass-skip")) {
			pass_skip = true;
		} else if (!strcmp(argv[i], "--modes") && i + 1 < argc) {
			snprintf(modes_buf, sizeof(modes_buf), "%s", argv[++i]);
		} else {
			fprintf(stderr, "rseqkit-realbench: unknown option '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	while (i < argc && !strcmp(argv[i], "--") && ncmd < MAX_CMDS) {
		int start = ++i;

		while (i < argc && strcmp(argv[i], "--"))
			i++;
		if (i - start < 2) {
			fprintf(stderr, "rseqkit-realbench: each command needs NAME PROG\n");
			return 2;
		}
		cmds[ncmd].name = argv[start];
		cmds[ncmd].argv = argv + start + 1;
		cmds[ncmd].argc = i - start - 1;
		ncmd++;
	}
	if (list && (ncmd = read_list(list, cmds, ncmd)) < 0)
		return 2;
	if (!ncmd || reps < 1 || i < argc) {
		usage(stderr);
		return 2;
	}
	for (char *tok = strtok(modes_buf, ","); tok && nmodes < 3; tok = strtok(NULL, ","))
		modes[nmodes++] = tok;
	if (slice_nsec && knob(old_nsec, sizeof(old_nsec), slice_nsec))
		fprintf(stderr, "rseqkit-realbench: cannot set %s to %s (no extensions?)\n", KNOB,
			slice_nsec);
	if (knob(now_nsec, sizeof(now_nsec), NULL) == 0)
		printf("B5 slice_ext_nsec=%s\n", now_nsec);
	/* Alternate modes within each repetition, so drift hits all alike. */
	for (int c = 0; c < ncmd; c++) {
		if (!strncmp(cmds[c].name, "plain:", 6)) {
			fails += run_one(&cmds[c], "plain", 1, preload, ldso, libs) != 0;
			continue;
		}
		for (int r = 1; r <= reps; r++)
			for (int m = 0; m < nmodes; m++)
				fails += run_one(&cmds[c], modes[m], r, preload, ldso, libs) != 0;
	}
	if (*old_nsec)
		knob(now_nsec, sizeof(now_nsec), old_nsec);
	printf("B5 done failures=%d\n", fails);
	return fails ? 1 : 0;
}
