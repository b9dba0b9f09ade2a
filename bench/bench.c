// SPDX-License-Identifier: MIT
/* Shared benchmark harness (bench.h). Not a program: mk/percpu.mk archives
 * it into libtap.a, which every bench program links. */
#include "bench.h"

#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#ifndef RSEQKIT_GIT_DESCRIBE
# define RSEQKIT_GIT_DESCRIBE "unknown"
#endif

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int bench_parse(struct bench_opts *o, int argc, char **argv, const char *usage_extra)
{
	int i;

	memset(o, 0, sizeof(*o));
	o->threads[0] = 1;
	o->threads[1] = 2;
	o->nthreads = 2;
	o->reps = 21;
	o->ops = 1000000;
	o->pin = true;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--threads") && v) {
			char *s = strdup(v), *tok, *save = NULL;

			o->nthreads = 0;
			for (tok = strtok_r(s, ",", &save); tok && o->nthreads < 8;
			     tok = strtok_r(NULL, ",", &save))
				o->threads[o->nthreads++] = atoi(tok) > 0 ? atoi(tok) : 1;
			free(s);
			i++;
		} else if (!strcmp(a, "--reps") && v) {
			o->reps = atoi(v) > 0 ? atoi(v) : 1;
			i++;
		} else if (!strcmp(a, "--ops") && v) {
			o->ops = atol(v) > 0 ? atol(v) : 1;
			i++;
		} else if (!strcmp(a, "--csv") && v) {
			o->csv = v;
			i++;
		} else if (!strcmp(a, "--filter") && v) {
			o->filter = v;
			i++;
		} else if (!strcmp(a, "--no-pin")) {
			o->pin = false;
		} else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			printf("usage: %s [--threads 1,2] [--reps N] [--ops N] [--csv FILE] "
			       "[--filter STR] [--no-pin]%s\n", argv[0], usage_extra ? usage_extra : "");
			exit(0);
		}
		/* anything else belongs to the program */
	}
	return i;
}

static void cpu_model(char *buf, size_t n)
{
	FILE *f = fopen("/proc/cpuinfo", "re");
	char line[256];

	snprintf(buf, n, "unknown");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *c = strchr(line, ':');

		if (!strncmp(line, "model name", 10) && c) {
			c += 2;
			c[strcspn(c, "\n")] = 0;
			snprintf(buf, n, "%s", c);
			break;
		}
	}
	fclose(f);
}

static const char *compiler(void)
{
#if defined(__clang__)
	return "clang " __clang_version__;
#elif defined(__GNUC__)
	return "gcc " __VERSION__;
#else
	return "cc";
#endif
}

static const char *scenario(void)
{
	const char *s = getenv("RSEQKIT_SCENARIO");

	return s && *s ? s : "host";
}

const char *bench_clock(void)
{
	static char buf[32];
	const char *c = getenv("RSEQKIT_CLOCK"), *sh = getenv("RSEQKIT_ICOUNT_SHIFT");

	if (!c || !*c)
		return "native";
	if (!strcmp(c, "icount")) {
		snprintf(buf, sizeof(buf), "icount-shift%s", sh && *sh ? sh : "0");
		return buf;
	}
	if (!strcmp(c, "host"))
		return "tcg-host";
	return "unknown";
}

bool bench_clock_deterministic(void)
{
	return !strncmp(bench_clock(), "icount", 6);
}

bool bench_clock_emulated(void)
{
	return strcmp(bench_clock(), "native") != 0;
}

void bench_banner(const char *bench)
{
	struct utsname u;
	char cpu[128];

	uname(&u);
	cpu_model(cpu, sizeof(cpu));
	printf("# %s: kernel %s, scenario %s, clock %s, cpu %s, %ld online, compiler %s, git %s\n",
	       bench, u.release, scenario(), bench_clock(), cpu, sysconf(_SC_NPROCESSORS_ONLN),
	       compiler(), RSEQKIT_GIT_DESCRIBE);
	if (bench_clock_deterministic())
		printf("# clock %s: ns are guest ns = instructions executed by all vCPUs "
		       "(x 2^shift), independent of host load\n", bench_clock());
	printf("%-34s %3s %10s %10s %10s\n", "case", "thr", "ns/op med", "ns/op p99", "Mops/s");
	fflush(stdout);
}

struct run {
	bench_fn fn;
	void *ctx;
	long n;
	int nthreads;
	bool pin;
	volatile int go;
	volatile int ready;
	uint64_t ns[64];
};

struct targ {
	struct run *r;
	int tid;
};

static void *thread_main(void *p)
{
	struct targ *a = p;
	struct run *r = a->r;
	uint64_t t0;

	if (r->pin) {
		cpu_set_t all, one;
		int k = -1;

		sched_getaffinity(0, sizeof(all), &all);
		CPU_ZERO(&one);
		for (int c = 0, seen = 0; c < CPU_SETSIZE; c++)
			if (CPU_ISSET(c, &all) && seen++ == a->tid % CPU_COUNT(&all))
				k = c;
		if (k >= 0) {
			CPU_SET(k, &one);
			sched_setaffinity(0, sizeof(one), &one);
		}
	}
	/* Warm up (registration, page faults, caches), then wait together. */
	r->fn(r->ctx, a->tid, r->n / 100 + 1);
	__atomic_fetch_add(&r->ready, 1, __ATOMIC_SEQ_CST);
	while (!r->go)
		;
	t0 = now_ns();
	r->fn(r->ctx, a->tid, r->n);
	r->ns[a->tid] = now_ns() - t0;
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void csv_row(const struct bench_opts *o, const char *bench, const char *name, int t,
		    const struct bench_result *res)
{
	struct utsname u;
	char cpu[128];
	FILE *f;
	bool fresh;

	if (!o->csv)
		return;
	fresh = access(o->csv, F_OK) != 0;
	f = fopen(o->csv, "a");
	if (!f)
		return;
	uname(&u);
	cpu_model(cpu, sizeof(cpu));
	if (fresh)
		fprintf(f, "bench,case,threads,reps,ops,ns_op_median,ns_op_p99,mops_median,"
			"kernel,scenario,cpu,compiler,git,clock\n");
	fprintf(f, "%s,%s,%d,%d,%ld,%.3f,%.3f,%.2f,%s,%s,\"%s\",\"%s\",%s,%s\n", bench, name, t,
		o->reps, o->ops, res->ns_op_median, res->ns_op_p99, res->mops_median, u.release,
		scenario(), cpu, compiler(), RSEQKIT_GIT_DESCRIBE, bench_clock());
	fclose(f);
}

bool bench_case(const struct bench_opts *o, const char *bench, const char *name,
		bench_fn fn, void *ctx, void (*setup)(void *ctx, int nthreads), int threads,
		struct bench_result *last)
{
	if (o->filter && !strstr(name, o->filter))
		return false;
	for (int ti = 0; ti < o->nthreads; ti++) {
		int t = threads > 0 ? threads : o->threads[ti];
		double *ns = calloc((size_t)o->reps, sizeof(double));
		double *mops = calloc((size_t)o->reps, sizeof(double));
		struct bench_result res;

		if (t > 64)
			t = 64;
		if (setup)
			setup(ctx, t);
		for (int rep = 0; rep < o->reps; rep++) {
			struct run r = { .fn = fn, .ctx = ctx, .n = o->ops, .nthreads = t,
					 .pin = o->pin };
			struct targ a[64];
			pthread_t th[64];
			uint64_t sum = 0, max = 0;

			for (int i = 0; i < t; i++) {
				a[i].r = &r;
				a[i].tid = i;
				pthread_create(&th[i], NULL, thread_main, &a[i]);
			}
			while (__atomic_load_n(&r.ready, __ATOMIC_SEQ_CST) < t)
				sched_yield();
			r.go = 1;
			for (int i = 0; i < t; i++) {
				pthread_join(th[i], NULL);
				sum += r.ns[i];
				if (r.ns[i] > max)
					max = r.ns[i];
			}
			ns[rep] = (double)sum / t / (double)o->ops;
			mops[rep] = (double)o->ops * t / ((double)max / 1e3);
		}
		qsort(ns, (size_t)o->reps, sizeof(double), cmp_double);
		qsort(mops, (size_t)o->reps, sizeof(double), cmp_double);
		res.ns_op_median = ns[o->reps / 2];
		res.ns_op_p99 = ns[(o->reps * 99 + 99) / 100 - 1];
		res.mops_median = mops[o->reps / 2];
		printf("%-34s %3d %10.3f %10.3f %10.1f\n", name, t, res.ns_op_median,
		       res.ns_op_p99, res.mops_median);
		fflush(stdout);
		csv_row(o, bench, name, t, &res);
		if (last)
			*last = res;
		free(ns);
		free(mops);
		if (threads > 0)
			break;
	}
	return true;
}

FILE *bench_open_stats_csv(const char *csv)
{
	char path[4096];
	size_t len;

	if (!csv)
		return NULL;
	len = strlen(csv);
	if (len > 4 && !strcmp(csv + len - 4, ".csv"))
		len -= 4;
	snprintf(path, sizeof(path), "%.*s-stats.csv", (int)len, csv);
	return fopen(path, "w");
}
