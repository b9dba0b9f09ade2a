// SPDX-License-Identifier: MIT
/*
 * On a kernel that offers time slice extensions, the interposer's requests
 * are what earn the grants, and lock holders take them (R6.3-R6.5, counted
 * in rseq/stats, R4.6): an oversubscribed spin-lock workload run twice, once
 * with extensions on and once with RSEQKIT_SLICE=off (the interposer then
 * passes through: nobody requests). Expected from the scenario (slice on,
 * stats): grants only in the first run; every grant the holders saw is one
 * the kernel counted; and the holders gave the CPU back (syield > 0).
 * Elsewhere: skipped.
 */
#include <errno.h>
#include <pthread.h>
#include <sys/wait.h>

#include "kfeat.h"
#include "preload.h"

#define THREADS_PER_CPU 3
#define RUN_NS 1500000000ULL
#define CS_LOOPS 300

static pthread_spinlock_t lock;
static volatile int stop;
static long shared_counter;

struct result {
	long rounds, seen_granted;
};

static void *work(void *arg)
{
	struct result *r = arg;

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		pthread_spin_lock(&lock);
		for (int i = 0; i < CS_LOOPS; i++)
			__asm__ __volatile__("" ::: "memory");
		shared_counter++;
		if (granted())
			r->seen_granted++;	/* a grant reached a lock holder */
		pthread_spin_unlock(&lock);
		for (int i = 0; i < CS_LOOPS / 4; i++)
			__asm__ __volatile__("" ::: "memory");
		r->rounds++;
	}
	return NULL;
}

/* The child: run the workload, report rounds and grants seen on stdout. */
static int child(void)
{
	int n = tap_ncpus() * THREADS_PER_CPU;
	struct result r[64] = { { 0 } };
	pthread_t th[64];
	long rounds = 0, seen = 0;
	uint64_t t0 = tap_now_ns();

	if (n > 64)
		n = 64;
	pthread_spin_init(&lock, PTHREAD_PROCESS_PRIVATE);
	for (int i = 0; i < n; i++)
		pthread_create(&th[i], NULL, work, &r[i]);
	while (tap_now_ns() - t0 < RUN_NS)
		usleep(10000);
	stop = 1;
	for (int i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		rounds += r[i].rounds;
		seen += r[i].seen_granted;
	}
	printf("%d %ld %ld %d\n", n, rounds, seen, rseqkit_slice_on);
	return shared_counter == rounds ? 0 : 3;
}

struct run {
	int threads, on;
	long rounds, seen;
	struct kfeat_stats d;
};

static int run(char **argv, bool slice_off, struct run *out)
{
	struct kfeat_stats a, b;
	int fds[2], status;
	char buf[128] = "";
	ssize_t got;
	pid_t pid;

	if (pipe(fds))
		return -errno;
	kfeat_read_stats(&a);
	pid = fork();
	if (pid == 0) {
		char *args[] = { argv[0], "--child", NULL };

		dup2(fds[1], 1);
		if (slice_off) {
			setenv("RSEQKIT_SLICE", "off", 1);
			unsetenv("RSEQKIT_SLICE_LOCKS_FORCE");
		}
		execv("/proc/self/exe", args);
		_exit(127);
	}
	close(fds[1]);
	got = read(fds[0], buf, sizeof(buf) - 1);
	close(fds[0]);
	waitpid(pid, &status, 0);
	kfeat_read_stats(&b);
	out->d = kfeat_stats_delta(&a, &b);
	if (got <= 0 || sscanf(buf, "%d %ld %ld %d", &out->threads, &out->rounds, &out->seen,
			       &out->on) != 4)
		return -EPROTO;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

int main(int argc, char **argv)
{
	struct run on = { 0 }, off = { 0 };
	struct kfeat k;
	struct kfeat_stats probe;
	int err;

	if (argc > 1 && !strcmp(argv[1], "--child"))
		return child();
	preload_start(argv, NULL);
	kfeat_probe(&k);
	if (!kfeat_slice_on(&k))
		kfeat_missing_all(&k, kfeat_promises(&k, KFACTS_SLICE, "on"),
				  "grants need a kernel with time slice extensions on");
	if (preload_exact())
		tap_bail("the interposer was forced on although the kernel offers extensions");
	if (kfeat_read_stats(&probe))
		kfeat_missing_all(&k, kfeat_promises(&k, KFACTS_STATS, "yes"),
				  "needs debugfs rseq/stats (R4.6)");

	err = run(argv, false, &on);
	tap_ok(err == 0 && on.on, "on: %d threads, %ld rounds, the lock excluded (status %d)",
	       on.threads, on.rounds, err);
	err = run(argv, true, &off);
	tap_ok(err == 0 && !off.on, "RSEQKIT_SLICE=off: %d threads, %ld rounds (status %d)",
	       off.threads, off.rounds, err);
	tap_diag("on:  sgrant %llu sexpir %llu srevok %llu syield %llu sabort %llu; holders saw %ld",
		 (unsigned long long)on.d.granted, (unsigned long long)on.d.expired,
		 (unsigned long long)on.d.revoked, (unsigned long long)on.d.yielded,
		 (unsigned long long)on.d.aborted, on.seen);
	tap_diag("off: sgrant %llu sexpir %llu srevok %llu syield %llu sabort %llu",
		 (unsigned long long)off.d.granted, (unsigned long long)off.d.expired,
		 (unsigned long long)off.d.revoked, (unsigned long long)off.d.yielded,
		 (unsigned long long)off.d.aborted);
	tap_ok(on.d.granted > 0, "R6.4: lock holders asking earned grants (sgrant %llu)",
	       (unsigned long long)on.d.granted);
	tap_ok(off.d.granted == 0, "R6.4: without requests no grants (sgrant %llu)",
	       (unsigned long long)off.d.granted);
	tap_ok(on.seen > 0 && (unsigned long long)on.seen <= on.d.granted,
	       "grants reached lock holders: %ld seen inside critical sections, <= sgrant",
	       on.seen);
	tap_ok(on.d.yielded > 0, "R6.3: holders gave the CPU back at unlock (syield %llu)",
	       (unsigned long long)on.d.yielded);
	return tap_done();
}
