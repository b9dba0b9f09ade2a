/* SPDX-License-Identifier: MIT */
/*
 * bench.h - the shared benchmark harness: run a case on T threads at once
 * (each pinned to its own CPU unless --no-pin), repeat it, report ns/op and
 * Mops/s as median and p99 over the repetitions, print a table and append
 * CSV rows.
 *
 * Options every benchmark takes (bench_parse()):
 *   --threads LIST   thread counts, e.g. 1,2 (default 1,2)
 *   --reps N         repetitions per case (default 21)
 *   --ops N          operations per thread per repetition (default 1000000)
 *   --csv FILE       append CSV rows to FILE (header written if FILE is new)
 *   --filter STR     only cases whose name contains STR
 *   --no-pin         do not pin threads
 * CSV columns: bench,case,threads,reps,ops,ns_op_median,ns_op_p99,
 *   mops_median,kernel,scenario,cpu,compiler,git,clock  (scenario: env
 *   RSEQKIT_SCENARIO, else "host"; clock: bench_clock()).
 */
#ifndef RSEQKIT_BENCH_H
#define RSEQKIT_BENCH_H

#include <stdbool.h>
#include <stdio.h>

/* One case: run n operations on the calling thread. tid is 0..T-1. */
typedef void (*bench_fn)(void *ctx, int tid, long n);

struct bench_opts {
	int threads[8];
	int nthreads;
	int reps;
	long ops;
	const char *csv;
	const char *filter;
	bool pin;
};

/* Parse the common options; other arguments are ignored (the program scans
 * argv for its own). Returns argc. Exits on --help. */
int bench_parse(struct bench_opts *o, int argc, char **argv, const char *usage_extra);

struct bench_result {
	double ns_op_median, ns_op_p99, mops_median;
};

/* Run fn on every thread count of o (or only on threads if > 0); prints a
 * row per count and appends CSV. setup(ctx, T) runs before each thread
 * count if not NULL. Returns false if the case was filtered out. */
bool bench_case(const struct bench_opts *o, const char *bench, const char *name,
		bench_fn fn, void *ctx, void (*setup)(void *ctx, int nthreads), int threads,
		struct bench_result *last);

/* Print the header of the table (metadata on one comment line). */
void bench_banner(const char *bench);

/* The companion table of CSV: "b2.csv" -> "b2-stats.csv", opened for
 * writing. NULL (nothing written) when CSV is NULL or it cannot be created. */
FILE *bench_open_stats_csv(const char *csv);

/*
 * The clock the numbers are in, from the VM harness (vm/qemu-run exports
 * RSEQKIT_CLOCK and RSEQKIT_ICOUNT_SHIFT to the guest):
 *   "icount-shift<N>"  QEMU instruction counting: guest ns = instructions x 2^N,
 *                      deterministic, independent of host load;
 *   "tcg-host"         QEMU TCG following the host clock (host load shows);
 *   "native"           no VM: real hardware time.
 */
const char *bench_clock(void);
/* The numbers repeat run to run (icount). */
bool bench_clock_deterministic(void);
/* Under emulation: nanosecond-scale hardware targets cannot be judged. */
bool bench_clock_emulated(void);

#endif /* RSEQKIT_BENCH_H */
