// SPDX-License-Identifier: MIT
/*
 * rseqkit VM init: the static PID 1 of the test initramfs.
 *
 * Mounts proc, sysfs, debugfs, tracefs (when configured), devtmpfs and a tmpfs
 * on /tmp, then runs every line of /rseqkit/tests.list ("<path relative to
 * /rseqkit> [args...]") with stdout/stderr on the console, cwd /tmp, in its
 * own process group and under a per-test timeout (after each program every
 * process but init is killed),
 * framing each run with markers the host parses:
 *
 *   # rseqkit-run: BEGIN <path> <args>
 *   <the program's output, raw>
 *   # rseqkit-run: END <path> exit=<N> | signal=<N> | timeout=<seconds>
 *   ...
 *   # rseqkit-run: DONE
 *
 * then syncs and powers the machine off. Before each program a progress line
 *
 *   # rseqkit-progress: [3/57] <path> (54 left, 312 s)
 *
 * says where the run stands (CI logs show one line per program).
 *
 * /rseqkit/config holds KEY=VALUE lines: SCENARIO (exported as
 * RSEQKIT_SCENARIO), TIMEOUT (seconds per program), EXPECT_<KEY> (what the
 * scenario declares the kernel shows, tests/harness/kfacts.h) and
 * EXPECT_MISMATCH (stop | continue). Before any program runs, init probes
 * the kernel and prints one line per feature:
 *
 *   # rseqkit-expect: ok ABI=v2 (AT_RSEQ_FEATURE_SIZE 33, AT_RSEQ_ALIGN 64)
 *   # rseqkit-expect: MISMATCH SLICE: scenario v2 declares on, the kernel shows none (...)
 *   # rseqkit-expect: undeclared KNOB=no (...)
 *
 * A mismatch fails the run (vm/console-check); with EXPECT_MISMATCH=stop (the
 * default) no program runs. The declaration goes to every program as
 * RSEQKIT_EXPECT_<KEY> variables and the file /rseqkit/expect (kfeat.h).
 * RSEQKIT_CLOCK (host|icount) and RSEQKIT_ICOUNT_SHIFT come from the kernel
 * command line (vm/qemu-run) and are passed on to every program.
 * Arguments are split on blanks; single or double quotes group words (no
 * escapes). Whatever happens, init ends with a power-off, never a panic.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/klog.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kfacts.h"

#define ROOT "/rseqkit"
#define MAX_ARGS 64
#define MAX_PROGS 1024

static char scenario[256] = "unknown";
static char clock_mode[16], icount_shift[8];
static int timeout_s = 120;
static struct kfacts declared;
static char config_error[512];
static bool stop_on_mismatch = true;

static void msg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vdprintf(1, fmt, ap);
	va_end(ap);
}

static double uptime(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void do_mount(const char *src, const char *dst, const char *type,
		     const char *opts)
{
	mkdir(dst, 0755);
	if (mount(src, dst, type, 0, opts) && errno != EBUSY &&
	    !((errno == ENODEV || errno == ENOENT) && !strcmp(type, "tracefs")))
		msg("# rseqkit-init: mount %s on %s: %s\n", type, dst, strerror(errno));
}

/*
 * From here on the console shows only kernel messages of level warning and
 * above: every splat the console check looks for (vm/console-check), but not
 * the informational lines (e.g. "random: crng init done") that the serial
 * console would otherwise splice into a program's output line, where they
 * corrupted a marker line once. The boot messages before init keep the
 * command line's loglevel=7; the rest stay in the kernel's log buffer.
 */
#define CONSOLE_LEVEL_WARNINGS 5	/* prints levels 0 (emerg) .. 4 (warning) */

static void console_warnings_only(void)
{
	klogctl(8 /* SYSLOG_ACTION_CONSOLE_LEVEL */, NULL, CONSOLE_LEVEL_WARNINGS);
}

/* The kernel opens /dev/console for us when the initramfs has the node; if it
 * did not, fds 0-2 are closed: take the console from devtmpfs. */
static void setup_console(void)
{
	int fd;

	if (fcntl(1, F_GETFD) != -1)
		return;
	fd = open("/dev/console", O_RDWR | O_NOCTTY);
	if (fd < 0)
		return;
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	if (fd > 2)
		close(fd);
}

/* "EXPECT_SLICE=on": one declared feature. */
static void declare(char *line)
{
	char *eq = strchr(line, '=');
	int key;

	*eq = 0;
	key = kfacts_key_from_name(line);
	if (key < 0)
		snprintf(config_error, sizeof(config_error), "unknown key %s", line);
	else
		kfacts_declare(&declared, key, eq + 1, config_error, sizeof(config_error));
}

/*
 * Probe the kernel, compare with the declaration, print one line per key;
 * returns the number of mismatches. Also hands the declaration to the
 * programs (environment and KFACTS_FILE).
 */
static int check_expectations(void)
{
	struct kfacts probed;
	char name[64];
	FILE *out;
	int key, bad = 0;

	if (*config_error) {
		msg("# rseqkit-expect: MISMATCH declaration: %s\n", config_error);
		return 1;
	}
	kfacts_probe(&probed);
	out = fopen(KFACTS_FILE, "w");
	for (key = 0; key < KFACTS_NKEYS; key++) {
		const char *k = kfacts_key_name(key);

		if (!(declared.have & (1U << key))) {
			msg("# rseqkit-expect: undeclared %s=%s (%s)\n", k,
			    probed.value[key], probed.detail[key]);
			continue;
		}
		snprintf(name, sizeof(name), KFACTS_ENV_PREFIX "%s", k);
		setenv(name, declared.value[key], 1);
		if (out)
			fprintf(out, "%s=%s\n", k, declared.value[key]);
		if (kfacts_mismatch(&declared, &probed, key) || !(probed.have & (1U << key))) {
			msg("# rseqkit-expect: MISMATCH %s: scenario %s declares %s, the kernel shows %s (%s)\n",
			    k, scenario, declared.value[key],
			    *probed.value[key] ? probed.value[key] : "nothing", probed.detail[key]);
			bad++;
		} else {
			msg("# rseqkit-expect: ok %s=%s (%s)\n", k, probed.value[key],
			    probed.detail[key]);
		}
	}
	if (out)
		fclose(out);
	return bad;
}

static void read_config(void)
{
	char line[256];
	FILE *f = fopen(ROOT "/config", "r");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		if (!strncmp(line, "SCENARIO=", 9))
			snprintf(scenario, sizeof(scenario), "%s", line + 9);
		else if (!strncmp(line, "TIMEOUT=", 8) && atoi(line + 8) > 0)
			timeout_s = atoi(line + 8);
		else if (!strncmp(line, "EXPECT_MISMATCH=", 16))
			stop_on_mismatch = strcmp(line + 16, "continue") != 0;
		else if (!strncmp(line, "EXPECT_", 7) && strchr(line, '=') && !*config_error)
			declare(line);
	}
	fclose(f);
}

/* Split @s in place into @argv (blanks separate, quotes group). */
static int split(char *s, char **argv)
{
	int argc = 0;

	while (*s && argc < MAX_ARGS) {
		char *w, quote = 0;

		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s)
			break;
		w = s;
		argv[argc++] = w;
		for (; *s; s++) {
			if (quote) {
				if (*s == quote)
					quote = 0;
				else
					*w++ = *s;
			} else if (*s == '\'' || *s == '"') {
				quote = *s;
			} else if (*s == ' ' || *s == '\t') {
				s++;
				break;
			} else {
				*w++ = *s;
			}
		}
		*w = 0;
	}
	argv[argc] = NULL;
	return argc;
}

static void run_one(char *line, int index, int total, double t0)
{
	char *argv[MAX_ARGS + 1], shown[1024], path[512];
	int argc, status = 0, timed_out = 0;
	sigset_t chld;
	struct timespec deadline, now;
	pid_t pid;

	/* Markers show the line as written (before quote removal). */
	snprintf(shown, sizeof(shown), "%s", line);
	argc = split(line, argv);
	if (!argc)
		return;
	snprintf(path, sizeof(path), ROOT "/%s", argv[0]);

	msg("# rseqkit-progress: [%d/%d] %s (%d left, %.0f s)\n", index, total, argv[0],
	    total - index, uptime() - t0);
	msg("# rseqkit-run: BEGIN %s\n", shown);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);

	pid = fork();
	if (pid < 0) {
		msg("# rseqkit-init: fork: %s\n", strerror(errno));
		msg("# rseqkit-run: END %s exit=127\n", argv[0]);
		return;
	}
	if (pid == 0) {
		setpgid(0, 0);
		sigprocmask(SIG_UNBLOCK, &chld, NULL);
		if (chdir("/tmp"))
			_exit(127);
		argv[0] = path;
		execv(path, argv);
		dprintf(2, "rseqkit-init: exec %s: %s\n", path, strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid);	/* also in the parent: no race with the kill below */

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_s;
	for (;;) {
		struct timespec left;
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			break;
		if (r < 0 && errno != EINTR) {
			status = 127 << 8;
			break;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > deadline.tv_sec ||
		    (now.tv_sec == deadline.tv_sec && now.tv_nsec >= deadline.tv_nsec)) {
			timed_out = 1;
			kill(-pid, SIGKILL);
			waitpid(pid, &status, 0);
			break;
		}
		/* Sleep until a child changes state or 100 ms pass (re-check). */
		left.tv_sec = 0;
		left.tv_nsec = 100 * 1000 * 1000;
		sigtimedwait(&chld, NULL, &left);
	}
	/* Whatever the program left behind goes too, even outside its process
	 * group (setsid, daemons): from PID 1, kill(-1) reaches every process
	 * but init itself, so each program starts on an empty machine. */
	kill(-1, SIGKILL);
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;

	/* A program's output may end without a newline: keep END on its own line. */
	msg("\n");
	if (timed_out)
		msg("# rseqkit-run: END %s timeout=%d\n", argv[0], timeout_s);
	else if (WIFSIGNALED(status))
		msg("# rseqkit-run: END %s signal=%d\n", argv[0], WTERMSIG(status));
	else
		msg("# rseqkit-run: END %s exit=%d\n", argv[0], WEXITSTATUS(status));
}

/* The programs of /rseqkit/tests.list (comments and blank lines dropped). */
static int read_list(char **progs)
{
	char line[1024];
	int n = 0;
	FILE *list = fopen(ROOT "/tests.list", "r");

	if (!list) {
		msg("# rseqkit-init: cannot open " ROOT "/tests.list: %s\n", strerror(errno));
		return 0;
	}
	while (n < MAX_PROGS && fgets(line, sizeof(line), list)) {
		line[strcspn(line, "\n")] = 0;
		if (line[0] == '#' || !line[strspn(line, " \t")])
			continue;
		progs[n] = strdup(line);
		if (progs[n])
			n++;
	}
	if (n == MAX_PROGS)
		msg("# rseqkit-init: more than %d programs listed; running the first %d\n",
		    MAX_PROGS, MAX_PROGS);
	fclose(list);
	return n;
}

int main(void)
{
	static char *progs[MAX_PROGS];
	sigset_t chld;
	int i, n, mismatches;
	double t0;

	do_mount("devtmpfs", "/dev", "devtmpfs", NULL);
	setup_console();
	console_warnings_only();
	do_mount("proc", "/proc", "proc", NULL);
	do_mount("sysfs", "/sys", "sysfs", NULL);
	do_mount("debugfs", "/sys/kernel/debug", "debugfs", NULL);
	do_mount("tracefs", "/sys/kernel/tracing", "tracefs", NULL);
	do_mount("tmpfs", "/tmp", "tmpfs", "mode=1777");
	read_config();

	msg("# rseqkit-init: start scenario=%s uptime=%.2f nproc=%ld timeout=%d\n",
	    scenario, uptime(), sysconf(_SC_NPROCESSORS_ONLN), timeout_s);

	/* The guest clock (vm/qemu-run puts it on the kernel command line, the
	 * kernel hands it to us): programs judge timing by it. */
	{
		const char *c = getenv("RSEQKIT_CLOCK"), *sh = getenv("RSEQKIT_ICOUNT_SHIFT");

		snprintf(clock_mode, sizeof(clock_mode), "%s", c && *c ? c : "host");
		snprintf(icount_shift, sizeof(icount_shift), "%s", sh && *sh ? sh : "");
	}
	clearenv();
	mismatches = check_expectations();
	setenv("PATH", ROOT "/bin:" ROOT "/run:/extra:/bin", 1);
	setenv("HOME", "/tmp", 1);
	setenv("RSEQKIT_SCENARIO", scenario, 1);
	setenv("RSEQKIT_IN_VM", "1", 1);
	setenv("RSEQKIT_CLOCK", clock_mode, 1);
	if (icount_shift[0])
		setenv("RSEQKIT_ICOUNT_SHIFT", icount_shift, 1);

	/* SIGCHLD stays blocked in PID 1 so sigtimedwait() can wait for it. */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);

	n = read_list(progs);
	if (mismatches && stop_on_mismatch) {
		msg("# rseqkit-init: the kernel does not show what scenario %s declares (%d mismatch(es) above): none of the %d programs run\n",
		    scenario, mismatches, n);
		n = 0;
	} else if (mismatches) {
		msg("# rseqkit-init: %d expectation mismatch(es) above; running the programs anyway (EXPECT_MISMATCH=continue)\n",
		    mismatches);
	}
	t0 = uptime();
	for (i = 0; i < n; i++)
		run_one(progs[i], i + 1, n, t0);

	msg("# rseqkit-init: end uptime=%.2f\n", uptime());
	msg("# rseqkit-run: DONE\n");
	sync();
	reboot(RB_POWER_OFF);
	/* Should not return; if it does, do not let PID 1 exit (that panics). */
	for (;;)
		pause();
}
