// SPDX-License-Identifier: MIT
/* Tests in several process environments (subenv.h). Child-to-parent lines:
 * "R <0|1> <description>" for a case, "D <text>" for a comment. */
#include "subenv.h"
#include "seccomp_norseq.h"
#include "tap.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int child_failed;

static void emit(const char *tag, const char *fmt, va_list ap)
{
	printf("%s", tag);
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
}

void subenv_ok(bool cond, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(cond ? "R 1 " : "R 0 ", fmt, ap);
	va_end(ap);
	if (!cond)
		child_failed = 1;
}

void subenv_diag(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit("D ", fmt, ap);
	va_end(ap);
}

int subenv_setup_glibc(void)
{
	return unsetenv("GLIBC_TUNABLES") ? -errno : 0;
}

int subenv_setup_self(void)
{
	return setenv("GLIBC_TUNABLES", "glibc.pthread.rseq=0", 1) ? -errno : 0;
}

int subenv_setup_none(void)
{
	unsetenv("GLIBC_TUNABLES");
	return seccomp_norseq_install();
}

static void run_parent(char *self, const struct subenv *e)
{
	char *args[] = { self, "--subenv", (char *)e->name, NULL };
	char line[1024];
	int fds[2], status, n = 0, err;
	FILE *f;
	pid_t pid;

	if (pipe(fds))
		tap_bail("pipe: %s", strerror(errno));
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		tap_bail("fork: %s", strerror(errno));
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		err = e->setup ? e->setup() : 0;
		if (err) {
			printf("R 0 %s: environment setup failed: %s\n", e->name, strerror(-err));
			_exit(1);
		}
		execv("/proc/self/exe", args);
		printf("R 0 %s: re-exec failed: %s\n", e->name, strerror(errno));
		_exit(127);
	}
	close(fds[1]);
	f = fdopen(fds[0], "r");
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		if (!strncmp(line, "R ", 2) && line[3] == ' ') {
			tap_ok(line[2] == '1', "%s", line + 4);
			n++;
		} else {
			tap_diag("%s", line + (!strncmp(line, "D ", 2) ? 2 : 0));
		}
	}
	fclose(f);
	waitpid(pid, &status, 0);
	tap_ok(n > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	       "%s: environment child completed (%d checks, status 0x%x)", e->name, n, status);
}

int subenv_main(int argc, char **argv, const struct subenv *envs, int n)
{
	if (argc >= 3 && !strcmp(argv[1], "--subenv")) {
		for (int i = 0; i < n; i++) {
			if (strcmp(argv[2], envs[i].name))
				continue;
			envs[i].run();
			exit(child_failed);
		}
		printf("R 0 unknown environment '%s'\n", argv[2]);
		exit(1);
	}
	for (int i = 0; i < n; i++)
		run_parent(argv[0], &envs[i]);
	return tap_done();
}
