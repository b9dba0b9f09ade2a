// SPDX-License-Identifier: MIT
/*
 * rseqkit demo: the system working, in four steps a newcomer can follow.
 * Runs anywhere; on the patched kernel (`make demo` boots it under QEMU) every
 * step has something to show. Steps run as child processes of this one so
 * each can start with its own registration owner.
 */
#include <errno.h>
#include <pthread.h>
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

/*
 * One grant/yield cycle, shown step by step: raise the request, spin while
 * a noise thread on the same CPU keeps asking the scheduler to preempt us,
 * watch the kernel turn the request into a grant, give the CPU back.
 */
static int slice_cycle(void)
{
	struct rseqkit_kstats before, after, d;
	struct rseqkit_slice_info info;
	struct rseqkit_abi_rseq *rs;
	uint64_t t0 = now_ns(), end;
	int cpu = rseqkit_cpu(), tries = 0, have_stats;
	pthread_t t;
	long yield = -1;
	uint32_t word = 0;
	cpu_set_t set;

	rseqkit_slice_get_info(&info);
	printf("slice policy: %s\n", info.reason);
	if (!info.on)
		return 0;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
	pthread_create(&t, NULL, noise, &cpu);
	have_stats = rseqkit_kstats_read(&before) == 0;
	rs = rseqkit_thread_area();
	printf("pinned to CPU %d; a noise thread on the same CPU wakes every 50 us\n", cpu);
	while (now_ns() - t0 < 10000000000ULL) {
		tries++;
		rseqkit_slice_begin();		/* request = 1 */
		end = now_ns() + 30000;
		while (now_ns() < end && !rs->slice_ctrl.s.granted)
			;
		word = *(volatile uint32_t *)&rs->slice_ctrl.all;
		if (rs->slice_ctrl.s.granted) {
			/* The protocol of rseqkit_slice_end(), spelled out. */
			rseqkit_slice_nest--;
			*(volatile uint8_t *)&rs->slice_ctrl.s.request = 0;
			yield = rseqkit_slice_yield();
			break;
		}
		rseqkit_slice_end();
	}
	noise_stop = 1;
	pthread_join(t, NULL);
	if (yield < 0) {
		printf("no grant within 10 s (%d requests)\n", tries);
		return 1;
	}
	printf("request #%d: the timer interrupt wanted to preempt us; the kernel granted an "
	       "extension instead:\n  slice_ctrl = 0x%04x (request %u, granted %u)\n", tries,
	       word, word & 0xff, (word >> 8) & 0xff);
	printf("critical section done: request = 0, granted read 1 -> rseq_slice_yield() "
	       "returned %ld (the CPU goes to the waiting thread now)\n", yield);
	if (have_stats && rseqkit_kstats_read(&after) == 0) {
		rseqkit_kstats_delta(&d, &before, &after);
		printf("kernel counters during the cycle: granted %lu, yielded %lu, expired %lu, "
		       "aborted %lu, revoked %lu\n", (unsigned long)d.granted,
		       (unsigned long)d.yielded, (unsigned long)d.expired,
		       (unsigned long)d.aborted, (unsigned long)d.revoked);
	}
	return yield == 1 ? 0 : 1;
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
		banner("4. Headline benchmarks (short runs; `make bench` runs the full ones)");
		failed |= run((char *[]){ self, "bench", "--quick", "--dump", "--bench-dir",
					  (char *)bench_dir, "--out", "/tmp/rseqkit-demo",
					  "--extra", "b3_slice_locks:--slice-nsec=50000",
					  "b2_mode_overhead", "b3_slice_locks", "b4_grants", NULL },
			      NULL);
	}
	printf("\nrseqkit demo: %s\n", failed ? "some steps failed (see above)" : "done");
	return failed ? 1 : 0;
}
