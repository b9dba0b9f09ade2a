// SPDX-License-Identifier: MIT
/*
 * TAP output and forked-case helpers for the rseqkit tests. Output is
 * flushed line by line so a crash or a harness timeout never loses lines.
 */

#include "tap.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <rseqkit/abi.h>

static int tap_count;
static int tap_failed;
static int tap_planned = -1;

static void tap_vline(const char *prefix, const char *fmt, va_list ap)
{
	char buf[1024];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	printf("%s%s\n", prefix, buf);
	fflush(stdout);
}

void tap_plan(int n)
{
	static bool printed;

	if (printed)
		return;
	printed = true;
	tap_planned = n;
	printf("TAP version 13\n1..%d\n", n);
	fflush(stdout);
}

static bool tap_vok(bool cond, const char *fmt, va_list ap)
{
	char prefix[32];

	tap_count++;
	if (!cond)
		tap_failed++;
	snprintf(prefix, sizeof(prefix), "%sok %d - ", cond ? "" : "not ", tap_count);
	tap_vline(prefix, fmt, ap);
	return cond;
}

bool tap_ok(bool cond, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cond = tap_vok(cond, fmt, ap);
	va_end(ap);
	return cond;
}

void tap_skip(const char *fmt, ...)
{
	char prefix[48];
	va_list ap;

	tap_count++;
	snprintf(prefix, sizeof(prefix), "ok %d # SKIP ", tap_count);
	va_start(ap, fmt);
	tap_vline(prefix, fmt, ap);
	va_end(ap);
}

void tap_diag(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tap_vline("# ", fmt, ap);
	va_end(ap);
}

void tap_skip_all(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tap_vline("1..0 # SKIP ", fmt, ap);
	va_end(ap);
	exit(TAP_EXIT_SKIP);
}

void tap_bail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tap_vline("Bail out! ", fmt, ap);
	va_end(ap);
	exit(1);
}

int tap_done(void)
{
	if (tap_planned < 0) {
		printf("1..%d\n", tap_count);
	} else if (tap_planned != tap_count) {
		printf("# planned %d cases, ran %d\n", tap_planned, tap_count);
		tap_failed++;
	}
	fflush(stdout);
	return tap_failed ? 1 : 0;
}

const char *tap_errno_name(int err)
{
	static const struct { int err; const char *name; } names[] = {
		{ 0, "0" }, { EPERM, "EPERM" }, { ENOENT, "ENOENT" },
		{ ESRCH, "ESRCH" }, { EINTR, "EINTR" }, { ENXIO, "ENXIO" },
		{ EBADF, "EBADF" }, { EAGAIN, "EAGAIN" }, { ENOMEM, "ENOMEM" },
		{ EACCES, "EACCES" }, { EFAULT, "EFAULT" }, { EBUSY, "EBUSY" },
		{ EEXIST, "EEXIST" }, { EINVAL, "EINVAL" }, { ENOSPC, "ENOSPC" },
		{ ERANGE, "ERANGE" }, { ENOSYS, "ENOSYS" }, { EOPNOTSUPP, "EOPNOTSUPP" },
		{ RSEQKIT_ENOTSUPP, "ENOTSUPP" },
	};
	static __thread char other[24];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].err == err)
			return names[i].name;
	snprintf(other, sizeof(other), "errno %d", err);
	return other;
}

bool tap_expect_errno(long ret, int err, int expected, const char *fmt, ...)
{
	bool cond = expected ? (ret == -1 && err == expected) : ret == 0;
	va_list ap;

	va_start(ap, fmt);
	tap_vok(cond, fmt, ap);
	va_end(ap);
	if (!cond)
		tap_diag("  got ret %ld, errno %s; expected %s", ret,
			 ret == -1 ? tap_errno_name(err) : "-",
			 tap_errno_name(expected));
	return cond;
}

const char *tap_child_str(const struct tap_child *c)
{
	static __thread char buf[48];

	if (c->timed_out)
		return "timeout";
	if (c->signaled)
		snprintf(buf, sizeof(buf), "signal %s", sigabbrev_np(c->code) ?: "?");
	else
		snprintf(buf, sizeof(buf), "exit %d", c->code);
	return buf;
}

int tap_fork_run(int (*fn)(void *), void *arg, unsigned int timeout_ms,
		 struct tap_child *out)
{
	uint64_t deadline = tap_now_ns() + (uint64_t)timeout_ms * 1000000ULL;
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0)
		_exit(fn(arg));

	memset(out, 0, sizeof(*out));
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			break;
		if (r < 0 && errno != EINTR)
			return -errno;
		if (tap_now_ns() > deadline && !out->timed_out) {
			out->timed_out = true;
			kill(pid, SIGKILL);
		}
		usleep(1000);
	}
	if (out->timed_out)
		return 0;
	if (WIFEXITED(status)) {
		out->exited = true;
		out->code = WEXITSTATUS(status);
	} else if (WIFSIGNALED(status)) {
		out->signaled = true;
		out->code = WTERMSIG(status);
	}
	return 0;
}

static bool tap_fork_expect(int (*fn)(void *), void *arg, bool sig, int code,
			    const char *fmt, va_list ap)
{
	struct tap_child c;
	bool cond;
	int ret = tap_fork_run(fn, arg, 30000, &c);

	cond = ret == 0 && (sig ? c.signaled : c.exited) && c.code == code;
	tap_vok(cond, fmt, ap);
	if (!cond)
		tap_diag("  child ended with %s", ret ? "fork failure" : tap_child_str(&c));
	return cond;
}

bool tap_fork_expect_signal(int (*fn)(void *), void *arg, int sig,
			    const char *fmt, ...)
{
	va_list ap;
	bool cond;

	va_start(ap, fmt);
	cond = tap_fork_expect(fn, arg, true, sig, fmt, ap);
	va_end(ap);
	return cond;
}

bool tap_fork_expect_exit(int (*fn)(void *), void *arg, int code,
			  const char *fmt, ...)
{
	va_list ap;
	bool cond;

	va_start(ap, fmt);
	cond = tap_fork_expect(fn, arg, false, code, fmt, ap);
	va_end(ap);
	return cond;
}

#define GLIBC_NO_RSEQ "glibc.pthread.rseq=0"

bool tap_glibc_rseq_disabled(void)
{
	const char *t = getenv("GLIBC_TUNABLES");

	return t && strstr(t, GLIBC_NO_RSEQ);
}

void tap_reexec_without_glibc_rseq(char **argv)
{
	if (tap_glibc_rseq_disabled())
		return;
	setenv("GLIBC_TUNABLES", GLIBC_NO_RSEQ, 1);
	execv("/proc/self/exe", argv);
	tap_bail("re-exec with GLIBC_TUNABLES=%s: %s", GLIBC_NO_RSEQ, strerror(errno));
}

void tap_reexec_with_tunables(char **argv, const char *tunables)
{
	const char *t = getenv("GLIBC_TUNABLES");

	if (t && strstr(t, tunables))
		return;
	setenv("GLIBC_TUNABLES", tunables, 1);
	execv("/proc/self/exe", argv);
	tap_bail("re-exec with GLIBC_TUNABLES=%s: %s", tunables, strerror(errno));
}

struct fork_text {
	int (*fn)(void *, int);
	void *arg;
	int fd[2];
};

static int fork_text_child(void *arg)
{
	struct fork_text *ft = arg;

	close(ft->fd[0]);
	return ft->fn(ft->arg, ft->fd[1]);
}

int tap_fork_text(int (*fn)(void *, int), void *arg, unsigned int timeout_ms,
		  struct tap_child *out, char *msg, size_t len)
{
	struct fork_text ft = { .fn = fn, .arg = arg };
	ssize_t r;
	int ret;

	if (pipe(ft.fd))
		return -errno;
	ret = tap_fork_run(fork_text_child, &ft, timeout_ms, out);
	/* The child has ended: its text waits in the pipe. */
	close(ft.fd[1]);
	r = ret ? 0 : read(ft.fd[0], msg, len - 1);
	msg[r > 0 ? r : 0] = 0;
	close(ft.fd[0]);
	return ret;
}

tap_dlopen_fn tap_build_lib(const char *name, char *buf, size_t len)
{
	char self[PATH_MAX];
	tap_dlopen_fn open_fn;
	ssize_t n;

	*(void **)&open_fn = dlsym(RTLD_DEFAULT, "dlopen");
	if (!open_fn)
		tap_skip_all("static build: no dlopen()");
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		tap_skip_all("cannot read /proc/self/exe");
	self[n] = 0;
	for (int up = 0; up < 3; up++) {	/* <O>/tests/DIR/PROG -> <O> */
		char *slash = strrchr(self, '/');

		if (!slash)
			tap_skip_all("%s: not in a build folder", self);
		*slash = 0;
	}
	if ((size_t)snprintf(buf, len, "%s/lib/%s", self, name) >= len)
		tap_skip_all("path of %s too long", name);
	if (access(buf, R_OK))
		tap_skip_all("no %s (host build)", buf);
	return open_fn;
}

long tap_sys_rseq(void *area, uint32_t len, int flags, uint32_t sig)
{
	return syscall(RSEQKIT_NR_rseq, area, len, flags, sig);
}

int tap_pin_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

int tap_ncpus(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set))
		return 1;
	return CPU_COUNT(&set);
}

uint64_t tap_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

uint64_t tap_thread_switches(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_THREAD, &ru))
		return 0;
	return (uint64_t)ru.ru_nvcsw + (uint64_t)ru.ru_nivcsw;
}

int tap_write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_TRUNC), err = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, text, strlen(text)) < 0)
		err = -errno;
	close(fd);
	return err;
}

bool tap_in_vm(void)
{
	return getenv("RSEQKIT_IN_VM") != NULL;
}
