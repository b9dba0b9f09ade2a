// SPDX-License-Identifier: MIT
/* Three-environment test runner (envrun.h). */
#ifndef _GNU_SOURCE
# define _GNU_SOURCE
#endif
#include "envrun.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "seccomp_norseq.h"
#include "tap.h"

static const char *cur_env = "glibc";

const char *envrun_env(void)
{
	return cur_env;
}

bool envrun_has_arg(int argc, char **argv, const char *arg)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], arg))
			return true;
	return false;
}

static void relay(const char *env, char *line)
{
	char *p;

	line[strcspn(line, "\n")] = 0;
	if (!strncmp(line, "ok ", 3) || !strncmp(line, "not ok ", 7)) {
		bool ok = line[0] == 'o';

		p = line + (ok ? 3 : 7);
		while (*p >= '0' && *p <= '9')
			p++;
		while (*p == ' ')
			p++;
		if (!strncmp(p, "# SKIP", 6)) {
			tap_skip("[%s] %s", env, p + 6 + (p[6] == ' '));
			return;
		}
		if (*p == '-')
			p++;
		while (*p == ' ')
			p++;
		tap_ok(ok, "[%s] %s", env, p);
	} else if (!strncmp(line, "1..", 3) || !strncmp(line, "TAP version", 11)) {
		if (strstr(line, "# SKIP"))
			tap_skip("[%s] whole environment: %s", env, strstr(line, "# SKIP") + 7);
	} else if (line[0] == '#') {
		tap_diag("[%s] %s", env, line + 1 + (line[1] == ' '));
	} else if (!strncmp(line, "Bail out!", 9)) {
		tap_ok(false, "[%s] %s", env, line);
	} else if (line[0]) {
		tap_diag("[%s] %s", env, line);
	}
}

static void run_child(const char *env, const char *base, const char *var, int argc,
		      char **argv)
{
	char **args = calloc((size_t)argc + 3, sizeof(*args));
	char line[2048];
	int fds[2], status, n = 0;
	FILE *f;
	pid_t pid;

	args[n++] = argv[0];
	args[n++] = "--env";
	args[n++] = (char *)env;
	for (int i = 1; i < argc; i++)
		args[n++] = argv[i];
	if (pipe(fds))
		tap_bail("pipe: %s", strerror(errno));
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		dup2(fds[1], 1);
		dup2(fds[1], 2);
		close(fds[0]);
		if (var)
			putenv((char *)var);
		if (!strcmp(base, "self"))
			setenv("GLIBC_TUNABLES", "glibc.pthread.rseq=0", 1);
		else
			unsetenv("GLIBC_TUNABLES");
		if (!strcmp(base, "none")) {
			if (seccomp_norseq_install()) {
				printf("1..0 # SKIP seccomp filter cannot be installed\n");
				_exit(TAP_EXIT_SKIP);
			}
			setenv("RSEQKIT_NORSEQ", "1", 1);
		}
		execv("/proc/self/exe", args);
		_exit(127);
	}
	close(fds[1]);
	f = fdopen(fds[0], "r");
	while (fgets(line, sizeof(line), f))
		relay(env, line);
	fclose(f);
	waitpid(pid, &status, 0);
	free(args);
	if (WIFEXITED(status) && WEXITSTATUS(status) == TAP_EXIT_SKIP)
		return;
	tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	       "[%s] environment child completed (%s %d)", env,
	       WIFEXITED(status) ? "exit" : "signal",
	       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
}

int envrun_main(int argc, char **argv, envrun_body body)
{
	return envrun_main_extra(argc, argv, body, NULL);
}

int envrun_main_extra(int argc, char **argv, envrun_body body, const char *const *extra)
{
	static const char *envs[] = { "glibc", "self", "none" };
	const char *only = NULL;

	if (argc >= 3 && !strcmp(argv[1], "--env")) {
		cur_env = argv[2];
		argv[2] = argv[0];
		body(cur_env, argc - 2, argv + 2);
		return tap_done();
	}
	if (argc >= 3 && !strcmp(argv[1], "--only")) {
		only = argv[2];
		argv[2] = argv[0];
		argc -= 2;
		argv += 2;
	}
	for (size_t i = 0; i < sizeof(envs) / sizeof(envs[0]); i++)
		if (!only || !strcmp(only, envs[i]))
			run_child(envs[i], envs[i], NULL, argc, argv);
	for (; extra && *extra; extra++) {
		char name[64], base[16];
		const char *var;

		if (sscanf(*extra, "%63[^:]:%15[^:]:", name, base) != 2 ||
		    !(var = strchr(strchr(*extra, ':') + 1, ':')))
			tap_bail("envrun: bad extra environment '%s'", *extra);
		if (!only || !strcmp(only, name))
			run_child(name, base, var + 1, argc, argv);
	}
	return tap_done();
}
