// SPDX-License-Identifier: MIT
/*
 * rseqkit bench: run the benchmark programs (bench/b<N>_*), each writing its
 * CSV into an output folder; with --dump, print every CSV on stdout between
 * markers, which is how results leave the VM (its console is the only way
 * out): "# rseqkit-csv: BEGIN <file>" ... "# rseqkit-csv: END".
 */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd.h"

static void bench_help(FILE *f)
{
	fprintf(f,
		"usage: rseqkit bench [--bench-dir DIR] [--out DIR] [--quick] [--dump]\n"
		"                     [--extra NAME:ARG]... [NAME...]\n\n"
		"Runs benchmark programs b<N>_<name> found in DIR (default: beside this\n"
		"command, ../bench) - all of them, or the NAMEs given - each with\n"
		"--csv OUT/NAME.csv (default OUT: ./rseqkit-bench). --quick passes --quick\n"
		"(short runs, for demos); --extra NAME:ARG gives benchmark NAME one more\n"
		"argument (repeatable). --dump prints each CSV file of OUT on stdout\n"
		"between '# rseqkit-csv: BEGIN <file>' and '# rseqkit-csv: END' lines.\n"
		"Exit status: 0 if every benchmark exited 0, 1 otherwise, 2 on bad usage.\n");
}

/* --extra NAME:ARG, repeatable: one more argument for benchmark NAME. */
struct extra_arg {
	const char *name;
	size_t len;
	const char *arg;
};

static struct extra_arg extras[16];
static int nextras;

static int run_one(const char *dir, const char *name, const char *out, bool quick)
{
	char prog[4096], csv[4096];
	int status;
	pid_t pid;

	snprintf(prog, sizeof(prog), "%s/%s", dir, name);
	snprintf(csv, sizeof(csv), "%s/%s.csv", out, name);
	if (access(prog, X_OK)) {
		fprintf(stderr, "rseqkit bench: %s: %s\n", prog, strerror(errno));
		return 1;
	}
	/* Benchmarks append to their CSV: start each run from an empty one. */
	unlink(csv);
	{
		char stats[4200];

		snprintf(stats, sizeof(stats), "%s/%s-stats.csv", out, name);
		unlink(stats);
	}
	printf("\n== %s\n", name);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		char *args[24] = { prog, "--csv", csv };
		int n = 3;

		if (quick)
			args[n++] = "--quick";
		for (int i = 0; i < nextras; i++)
			if (strlen(name) == extras[i].len && !strncmp(name, extras[i].name, extras[i].len))
				args[n++] = (char *)extras[i].arg;
		args[n] = NULL;
		execv(prog, args);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return 1;
	return !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void dump(const char *out)
{
	struct dirent *e;
	DIR *d = opendir(out);

	while (d && (e = readdir(d))) {
		char path[4096], line[1024];
		size_t len = strlen(e->d_name);
		FILE *f;

		if (len < 5 || strcmp(e->d_name + len - 4, ".csv"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", out, e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		printf("# rseqkit-csv: BEGIN %s\n", e->d_name);
		while (fgets(line, sizeof(line), f))
			fputs(line, stdout);
		printf("# rseqkit-csv: END\n");
		fclose(f);
	}
	if (d)
		closedir(d);
	fflush(stdout);
}

/* mkdir -p */
static int make_dirs(const char *path)
{
	char buf[4096];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0755) && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(buf, 0755) && errno != EEXIST ? -1 : 0;
}

static bool is_bench(const char *n)
{
	return n[0] == 'b' && n[1] >= '0' && n[1] <= '9' && strchr(n, '_') && !strchr(n, '.');
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int cmd_bench(int argc, char **argv)
{
	const char *dir = NULL, *out = "rseqkit-bench";
	char self_dir[4096], *names[64];
	bool quick = false, do_dump = false;
	int n = 0, failed = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--bench-dir") && i + 1 < argc)
			dir = argv[++i];
		else if (!strcmp(argv[i], "--out") && i + 1 < argc)
			out = argv[++i];
		else if (!strcmp(argv[i], "--quick"))
			quick = true;
		else if (!strcmp(argv[i], "--dump"))
			do_dump = true;
		else if (!strcmp(argv[i], "--extra") && i + 1 < argc && strchr(argv[i + 1], ':') &&
			 nextras < 16) {
			const char *e = argv[++i];

			extras[nextras].name = e;
			extras[nextras].len = (size_t)(strchr(e, ':') - e);
			extras[nextras++].arg = strchr(e, ':') + 1;
		}
		else if (!strcmp(argv[i], "--help")) {
			bench_help(stdout);
			return 0;
		} else if (argv[i][0] == '-') {
			fprintf(stderr, "rseqkit bench: unknown option '%s'\n", argv[i]);
			bench_help(stderr);
			return CMD_EXIT_USAGE;
		} else if (n < 64) {
			names[n++] = argv[i];
		}
	}
	if (!dir) {
		ssize_t len = readlink("/proc/self/exe", self_dir, sizeof(self_dir) - 16);

		if (len < 0)
			return 1;
		self_dir[len] = 0;
		*strrchr(self_dir, '/') = 0;
		strcat(self_dir, "/../bench");
		dir = self_dir;
	}
	if (make_dirs(out)) {
		fprintf(stderr, "rseqkit bench: cannot create %s: %s\n", out, strerror(errno));
		return 1;
	}
	if (!n) {
		DIR *d = opendir(dir);
		struct dirent *e;

		if (!d) {
			fprintf(stderr, "rseqkit bench: no benchmark folder %s: %s\n", dir,
				strerror(errno));
			return 1;
		}
		while ((e = readdir(d)) && n < 64)
			if (is_bench(e->d_name))
				names[n++] = strdup(e->d_name);
		closedir(d);
		qsort(names, n, sizeof(names[0]), cmp_str);
	}
	for (int i = 0; i < n; i++)
		failed |= run_one(dir, names[i], out, quick);
	if (do_dump)
		dump(out);
	return failed;
}
