// SPDX-License-Identifier: MIT
/*
 * slicelocks-overhead: the uncontended cost of the interposer per lock/unlock
 * pair (one thread, no contention, no grant): without the interposer, with it
 * and extensions off (RSEQKIT_SLICE=off: the wrappers pass through), and with
 * it on (forced on where the kernel has no extensions: the same user-space
 * path, two byte stores and a byte load per pair, no grant). Not linked with
 * librseqkit: the interposer brings it.
 *
 *   slicelocks-overhead [--preload SO] [--pairs N] [--reps N]
 *
 * Prints one line per lock kind and mode: ns per pair, median of the reps.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_REPS 31

static double now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp);
	return v[n / 2];
}

static void measure(const char *mode, long pairs, int reps)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
	pthread_spinlock_t s;
	double v[3][MAX_REPS], t0;
	static const char *names[3] = { "mutex", "spin", "rwlock-write" };

	pthread_spin_init(&s, PTHREAD_PROCESS_PRIVATE);
	for (int r = 0; r < reps; r++) {
		t0 = now_ns();
		for (long i = 0; i < pairs; i++) {
			pthread_mutex_lock(&m);
			__asm__ __volatile__("" ::: "memory");
			pthread_mutex_unlock(&m);
		}
		v[0][r] = (now_ns() - t0) / (double)pairs;
		t0 = now_ns();
		for (long i = 0; i < pairs; i++) {
			pthread_spin_lock(&s);
			__asm__ __volatile__("" ::: "memory");
			pthread_spin_unlock(&s);
		}
		v[1][r] = (now_ns() - t0) / (double)pairs;
		t0 = now_ns();
		for (long i = 0; i < pairs; i++) {
			pthread_rwlock_wrlock(&rw);
			__asm__ __volatile__("" ::: "memory");
			pthread_rwlock_unlock(&rw);
		}
		v[2][r] = (now_ns() - t0) / (double)pairs;
	}
	for (int k = 0; k < 3; k++)
		printf("OVERHEAD %s %s %.2f\n", names[k], mode, median(v[k], reps));
	fflush(stdout);
}

int main(int argc, char **argv)
{
	const char *so = NULL, *mode = getenv("SLICELOCKS_OVERHEAD_MODE");
	long pairs = 5000000;
	int reps = 7;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--preload") && i + 1 < argc) {
			so = argv[++i];
		} else if (!strcmp(argv[i], "--pairs") && i + 1 < argc) {
			pairs = atol(argv[++i]);
		} else if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
			reps = atoi(argv[++i]);
		} else {
			fprintf(stderr, "usage: slicelocks-overhead [--preload SO] [--pairs N] "
				"[--reps N (<= %d)]\n", MAX_REPS);
			return 2;
		}
	}
	if (reps < 1 || reps > MAX_REPS || pairs < 1) {
		fprintf(stderr, "slicelocks-overhead: --reps 1..%d, --pairs >= 1\n", MAX_REPS);
		return 2;
	}
	if (mode) {
		measure(mode, pairs, reps);
		return 0;
	}
	if (!so) {
		fprintf(stderr, "slicelocks-overhead: --preload SO is required\n");
		return 2;
	}
	/* Same environment for all three but the preload and the decision. */
	static const char *modes[3] = { "none", "off", "on" };
	for (int k = 0; k < 3; k++) {
		int status;
		pid_t pid = fork();

		if (pid == 0) {
			setenv("SLICELOCKS_OVERHEAD_MODE", modes[k], 1);
			setenv("GLIBC_TUNABLES", "glibc.pthread.rseq=0", 1);
			if (k > 0)
				setenv("LD_PRELOAD", so, 1);
			if (k == 1)
				setenv("RSEQKIT_SLICE", "off", 1);
			if (k == 2)
				setenv("RSEQKIT_SLICE_LOCKS_FORCE", "1", 1);
			setenv("RSEQKIT_SLICE_LOCKS_REPORT", "1", 1);
			execv("/proc/self/exe", argv);
			_exit(127);
		}
		if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
		    WEXITSTATUS(status)) {
			fprintf(stderr, "slicelocks-overhead: mode %s failed\n", modes[k]);
			return 1;
		}
	}
	return 0;
}
