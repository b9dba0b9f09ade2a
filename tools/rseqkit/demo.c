// SPDX-License-Identifier: MIT
/*
 * rseqkit demo: the system working, in four steps a newcomer can follow.
 * Runs anywhere; on the patched kernel (`make demo` boots it under QEMU) every
 * step has something to show. Steps run as child processes of this one so
 * each can start with its own registration owner.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <rseqkit/rseqkit.h>
#include "cmd.h"

static void banner(const char *title)
{
	printf("\n==== %s ====\n", title);
	fflush(stdout);
}

/* Run argv as a child; returns its exit status (or 128+signal). */
static int run(char *const argv[], const char *tunables)
{
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return 127;
	if (pid == 0) {
		if (tunables)
			setenv("GLIBC_TUNABLES", tunables, 1);
		else
			unsetenv("GLIBC_TUNABLES");
		execv(argv[0], argv);
		fprintf(stderr, "rseqkit demo: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static volatile int noise_stop;

static void *noise(void *arg)
{
	struct timespec ts = { 0, 50000 };
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(*(int *)arg, &set);
	sched_setaffinity(0, sizeof(set), &set);
	while (!noise_stop)
		clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
	return NULL;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* The guest clock the VM harness chose (vm/qemu-run): "icount", "host", or
 * NULL outside the VM. */
static const char *vm_clock(void)
{
	const char *c = getenv("RSEQKIT_CLOCK");

	return c && *c ? c : NULL;
}

/* Time can be trusted to mean CPU work: real hardware or QEMU icount. */
static bool clock_trusted(void)
{
	return !vm_clock() || !strcmp(vm_clock(), "icount");
}

struct cycle {
	int requests;		/* begin/end rounds until the kernel granted */
	uint32_t word;		/* slice_ctrl as read when granted */
	long yield;		/* rseq_slice_yield(): 1 = the grant was still live */
};

/*
 * One attempt: raise the request, spin (up to 30 us per round, 2 s in all)
 * while the noise thread on the same CPU makes the scheduler want to preempt
 * us, and when the kernel grants instead, end the section as
 * rseqkit_slice_end() does and yield. Returns false if no grant came.
 */
static bool one_cycle(struct rseqkit_abi_rseq *rs, struct cycle *c)
{
	uint64_t t0 = now_ns(), end;

	c->requests = 0;
	c->yield = -1;
	while (now_ns() - t0 < 2000000000ULL) {
		c->requests++;
		rseqkit_slice_begin();		/* request = 1 */
		end = now_ns() + 30000;
		while (now_ns() < end && !rs->slice_ctrl.s.granted)
			;
		c->word = *(volatile uint32_t *)&rs->slice_ctrl.all;
		if (rs->slice_ctrl.s.granted) {
			/* The protocol of rseqkit_slice_end() for the outermost
			 * section (its begin raised the request and counted
			 * nothing in rseqkit_slice_tls.nest), spelled out. */
			*(volatile uint8_t *)&rs->slice_ctrl.s.request = 0;
			c->yield = rseqkit_slice_yield();
			return true;
		}
		rseqkit_slice_end();
	}
	return false;
}

/*
 * One grant/yield cycle, shown step by step. A demonstration may retry: a
 * grant that expired before we could yield (the vCPU lost its host CPU for
 * longer than the limit, under the host clock) is tried again, up to 20
 * attempts. Fails only where the outcome says the kernel is wrong: on a
 * trusted clock, no grant at all or never a live grant at the yield.
 */
static int slice_cycle(void)
{
	struct rseqkit_kstats before, after, d;
	struct rseqkit_slice_info info;
	struct rseqkit_abi_rseq *rs;
	struct cycle c = { 0 };
	int cpu = rseqkit_cpu(), attempt, expired = 0, nogrant = 0, have_stats;
	pthread_t t;
	cpu_set_t set;

	rseqkit_slice_get_info(&info);
	printf("slice policy: %s\n", info.reason);
	if (!info.on) {
		printf("nothing to show: this kernel offers no time slice extensions to this "
		       "process (see the policy above)\n");
		return 0;
	}
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
	pthread_create(&t, NULL, noise, &cpu);
	have_stats = rseqkit_kstats_read(&before) == 0;
	rs = rseqkit_thread_area();
	printf("pinned to CPU %d; a noise thread on the same CPU wakes every 50 us; guest clock: "
	       "%s\n", cpu, vm_clock() ? vm_clock() : "real hardware");
	for (attempt = 1; attempt <= 20; attempt++) {
		if (!one_cycle(rs, &c)) {
			nogrant++;
			continue;
		}
		if (c.yield == 1)
			break;
		expired++;
	}
	noise_stop = 1;
	pthread_join(t, NULL);
	if (c.yield == 1) {
		if (attempt > 1)
			printf("attempt %d (before it: %d grant(s) ended before the yield, %d attempt(s) "
			       "without a grant):\n", attempt, expired, nogrant);
		printf("request #%d: the scheduler wanted to preempt us; the kernel granted an "
		       "extension instead:\n  slice_ctrl = 0x%04x (request %u, granted %u)\n",
		       c.requests, c.word, c.word & 0xff, (c.word >> 8) & 0xff);
		printf("critical section done: request = 0, granted read 1 -> rseq_slice_yield() "
		       "returned 1 (the grant was live; the CPU goes to the waiting thread now)\n");
		if (have_stats && rseqkit_kstats_read(&after) == 0) {
			rseqkit_kstats_delta(&d, &before, &after);
			printf("kernel counters during the demo: granted %lu, yielded %lu, expired %lu, "
			       "aborted %lu, revoked %lu\n", (unsigned long)d.sgrant,
			       (unsigned long)d.syield, (unsigned long)d.sexpir,
			       (unsigned long)d.sabort, (unsigned long)d.srevok);
		}
		return 0;
	}
	if (expired && !clock_trusted()) {
		printf("NOT SHOWN: in %d attempts every grant ended before the yield could reach "
		       "the kernel. Under QEMU with the host clock a busy host stops the vCPU for "
		       "longer than the limit, so the grant expires; this is the host, not rseqkit "
		       "(make demo uses VM_CLOCK=icount, which is immune to it)\n", expired);
		return 0;
	}
	if (!expired)
		printf("BROKEN: no grant in %d attempts of 2 s with a noise thread asking for the "
		       "CPU: the kernel never granted an extension\n", nogrant);
	else
		printf("BROKEN: %d grant(s) all ended before an immediate yield, on a clock where "
		       "the limit cannot pass that quickly\n", expired);
	return 1;
}

static void demo_help(FILE *f)
{
	fprintf(f,
		"usage: rseqkit demo [--bench-dir DIR]\n\n"
		"Shows RSEQ working on this machine: 1. probe of a glibc-owned thread,\n"
		"2. probe of an rseqkit-owned thread (V2 on a V2 kernel), 3. one time slice\n"
		"extension grant/yield cycle, 4. with --bench-dir, short runs of the\n"
		"benchmarks B2-B4 found in DIR, their CSV dumped on stdout (rseqkit bench).\n");
}

int cmd_demo(int argc, char **argv)
{
	const char *bench_dir = NULL;
	char self[4096];
	ssize_t n;
	int failed = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--slice-cycle"))
			return slice_cycle();
		if (!strcmp(argv[i], "--bench-dir") && i + 1 < argc) {
			bench_dir = argv[++i];
		} else if (!strcmp(argv[i], "--help")) {
			demo_help(stdout);
			return 0;
		} else {
			fprintf(stderr, "rseqkit demo: unknown option '%s'\n", argv[i]);
			demo_help(stderr);
			return CMD_EXIT_USAGE;
		}
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		return 1;
	self[n] = 0;

	banner("1. A thread registered by glibc (the default)");
	failed |= run((char *[]){ self, "probe", NULL }, NULL);
	banner("2. A thread registered by rseqkit (`rseqkit run --`: glibc told to stay out)");
	failed |= run((char *[]){ self, "probe", NULL }, "glibc.pthread.rseq=0");
	banner("3. One time slice extension: request, grant, yield");
	failed |= run((char *[]){ self, "demo", "--slice-cycle", NULL }, "glibc.pthread.rseq=0");
	if (bench_dir) {
		/* Under the host clock a busy host stretches every guest section: the
		 * 5 us limit is then scaled to 50 us; icount and hardware keep it. */
		char *args[16] = { self, "bench", "--quick", "--dump", "--bench-dir",
				   (char *)bench_dir, "--out", "/tmp/rseqkit-demo" };
		int na = 8;

		banner("4. Headline benchmarks (short runs; `make bench` runs the full ones)");
		if (!clock_trusted()) {
			args[na++] = "--extra";
			args[na++] = "b3_slice_locks:--slice-nsec=50000";
		}
		args[na++] = "b2_mode_overhead";
		args[na++] = "b3_slice_locks";
		args[na++] = "b4_grants";
		args[na] = NULL;
		failed |= run(args, NULL);
	}
	printf("\nrseqkit demo: %s\n", failed ? "some steps failed (see above)" : "done");
	return failed ? 1 : 0;
}
