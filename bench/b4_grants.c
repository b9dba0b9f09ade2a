// SPDX-License-Identifier: MIT
/*
 * B4: how time slice extension grants behave. Workers use the library's
 * rseqkit_slice_begin()/end() around short critical sections under
 * preemption pressure (two per CPU, a noise thread per CPU waking every
 * 50 us); one section in 64 makes a system call inside (ends its grant:
 * "syscall") and one in 512 outlives the limit (ends by "expiry"). The
 * kernel's tracepoints rseq:rseq_slice_grant and rseq:rseq_slice_end (ours)
 * give every grant's duration and how it ended; on a kernel without them
 * (upstream 7.2) the slice hrtimer's own events (armed at the grant,
 * cancelled or expired at its end) give the durations at us resolution,
 * with "early" for any end before expiry. The R4.6 counters are shown next
 * to it.
 *
 * Options: --quick (2 s; 0.2 s on icount), --seconds S (default 5; 0.5 on
 * icount), --csv FILE, --show-trace N (print the first N trace lines read).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <rseqkit/kstats.h>
#include <rseqkit/slice.h>
#include "tap.h"
#include "../bench/bench.h"

#define BENCH "b4_grants"
#define MAX_WORKERS 16
#define NBUCKETS 12		/* < 256 ns, then powers of two up to >= 256 us */
/*
 * A grant ends at the latest when its hrtimer fires slice_ext_nsec after the
 * grant; the interrupt, the exit to the scheduler and the tracepoint add a
 * little. Allowed on top of the limit: 5 us (the timer slack of the target
 * "no grant held longer than the limit plus timer slack").
 */
#define TIMER_SLACK_NS 5000ULL

/* R_EARLY: from the hrtimer events (kernels without our tracepoints): the
 * grant's timer was cancelled before it fired - a yield, a syscall or a
 * switch away, which the timer events cannot tell apart. */
enum reason { R_YIELD, R_SYSCALL, R_EXPIRY, R_REVOKE, R_EARLY, NR_REASONS };
static const char *const reason_names[] = { "yield", "syscall", "expiry", "revocation", "early" };

static const char *tracing;
/* No rseq slice tracepoints: grant durations from the hrtimer events of the
 * kernel's per-CPU slice timer (armed at the grant, cancelled when the grant
 * ends early, expiring otherwise; both upstream and our series). */
static bool timer_mode;
static volatile int stop;

static int write_file(const char *rel, const char *text)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", tracing, rel);
	return tap_write_file(path, text);
}

static const char *find_tracing(void)
{
	static const char *const dirs[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };
	char path[256];

	mount("nodev", dirs[0], "tracefs", 0, NULL);	/* harmless if mounted */
	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/events/rseq/rseq_slice_end", dirs[i]);
		if (access(path, F_OK) == 0)
			return dirs[i];
	}
	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/events/timer/hrtimer_start", dirs[i]);
		if (access(path, F_OK) == 0) {
			timer_mode = true;
			return dirs[i];
		}
	}
	return NULL;
}

static const char *const timer_events[] = {
	"events/timer/hrtimer_start/enable", "events/timer/hrtimer_cancel/enable",
	"events/timer/hrtimer_expire_entry/enable",
};

/* The trace line's timestamp ("...  1234.567890: event:"), in ns. */
static bool trace_ts(const char *line, const char *event, unsigned long long *ns)
{
	const char *p = strstr(line, event);
	unsigned long s, us;

	if (!p)
		return false;
	while (p > line && p[-1] == ' ')
		p--;
	if (p > line && p[-1] == ':')
		p--;
	while (p > line && (p[-1] == '.' || (p[-1] >= '0' && p[-1] <= '9')))
		p--;
	if (sscanf(p, "%lu.%lu:", &s, &us) != 2)
		return false;
	*ns = (unsigned long long)s * 1000000000ULL + (unsigned long long)us * 1000ULL;
	return true;
}

#define MAX_TIMERS 16

/*
 * One line of the hrtimer events: a slice timer armed (its function is
 * rseq_slice_*), then cancelled (grant ended early) or expired. Returns the
 * grant's duration in ns and its reason, or false if the line ends none.
 */
static bool timer_line(const char *line, unsigned long long *ns, int *reason)
{
	static struct { void *timer; unsigned long long start; } armed[MAX_TIMERS];
	unsigned long long ts;
	const char *p;
	void *t;
	int r = -1;

	if (trace_ts(line, "hrtimer_start:", &ts)) {
		p = strstr(line, "hrtimer=");
		if (!p || !strstr(line, "function=rseq_slice") || sscanf(p, "hrtimer=%p", &t) != 1)
			return false;
		for (int i = 0; i < MAX_TIMERS; i++)
			if (armed[i].timer == t || !armed[i].timer) {
				armed[i].timer = t;
				armed[i].start = ts;
				break;
			}
		return false;
	}
	if (trace_ts(line, "hrtimer_cancel:", &ts))
		r = R_EARLY;
	else if (trace_ts(line, "hrtimer_expire_entry:", &ts))
		r = R_EXPIRY;
	if (r < 0 || !(p = strstr(line, "hrtimer=")) || sscanf(p, "hrtimer=%p", &t) != 1)
		return false;
	for (int i = 0; i < MAX_TIMERS; i++) {
		if (armed[i].timer != t || !armed[i].start)
			continue;
		*ns = ts - armed[i].start;
		*reason = r;
		armed[i].start = 0;
		return true;
	}
	return false;
}

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static void *noise_fn(void *p)
{
	struct timespec ts = { 0, 50000 };

	pin((int)(intptr_t)p);
	while (!stop)
		clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
	return NULL;
}

static void *worker_fn(void *p)
{
	unsigned long n = 0;

	pin((int)(intptr_t)p);
	while (!stop) {
		rseqkit_slice_begin();
		if ((n & 511) == 511) {
			uint64_t end = tap_now_ns() + 200000;

			while (tap_now_ns() < end)	/* outlive slice_ext_nsec */
				;
		} else {
			for (volatile int i = 0; i < 200; i++)
				;
		}
		if ((n & 63) == 63)
			syscall(SYS_getppid);		/* ends a grant: "syscall" */
		rseqkit_slice_end();
		n++;
	}
	return NULL;
}

/* debugfs rseq/slice_ext_nsec: the grant limit now in force (0: unknown). */
static unsigned long long slice_limit_ns(void)
{
	FILE *f = fopen("/sys/kernel/debug/rseq/slice_ext_nsec", "r");
	unsigned long long v = 0;

	if (f) {
		if (fscanf(f, "%llu", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v;
}

/*
 * Whether "no grant longer than the limit plus slack" can be judged here.
 * Host-clock QEMU: no (a descheduled vCPU thread stretches any grant).
 * icount with more than one vCPU: no either - the vCPUs take turns on one
 * host thread and the expiry interrupt for one waits until the other's turn
 * ends (up to half the time to the next timer), which shows as a tail of
 * long grants on every kernel alike (upstream 7.2 too).
 */
static const char *bound_verdict(unsigned long over)
{
	if (bench_clock_emulated() && !bench_clock_deterministic())
		return "not judged: guest time follows host load (VM_CLOCK=icount)";
	if (bench_clock_deterministic() && sysconf(_SC_NPROCESSORS_ONLN) > 1)
		return "not judged: under icount an interrupt for one vCPU waits for the "
		       "other vCPU's turn, so expiry is late on any kernel";
	return over ? "MISSED" : "met";
}

/* b4.csv -> b4-stats.csv: the counters and the longest traced grant, for
 * the cross-kernel comparison (bench/scripts/compare). */
static void write_stats(const char *csv, const struct rseqkit_kstats *d, unsigned long traced,
			unsigned long long max_ns, unsigned long long limit_ns, unsigned long over)
{
	FILE *f;

	f = bench_open_stats_csv(csv);
	if (!f)
		return;
	fprintf(f, "stats,granted,yielded,expired,aborted,revoked,traced,max_ns,limit_ns,over_limit,"
		"slack_ns,scenario,clock,judgeable\n");
	fprintf(f, "%s,%lu,%lu,%lu,%lu,%lu,%lu,%llu,%llu,%lu,%llu,%s,%s,%s\n", d ? "yes" : "no",
		d ? (unsigned long)d->sgrant : 0, d ? (unsigned long)d->syield : 0,
		d ? (unsigned long)d->sexpir : 0, d ? (unsigned long)d->sabort : 0,
		d ? (unsigned long)d->srevok : 0, traced, max_ns,
		limit_ns ? limit_ns : slice_limit_ns(), over, TIMER_SLACK_NS,
		getenv("RSEQKIT_SCENARIO") ?: "host", bench_clock(),
		strncmp(bound_verdict(0), "not judged", 10) ? "yes" : "no");
	fclose(f);
}

static int bucket_of(unsigned long long ns)
{
	int b = 0;

	for (unsigned long long lim = 256; b < NBUCKETS - 1 && ns >= lim; lim <<= 1)
		b++;
	return b;
}

int main(int argc, char **argv)
{
	unsigned long hist[NBUCKETS][NR_REASONS] = { { 0 } }, total[NR_REASONS] = { 0 };
	unsigned long grants = 0, ends = 0, over = 0;
	unsigned long long max_ns = 0, limit_ns = 0;
	pthread_t w[MAX_WORKERS], nz[MAX_WORKERS];
	struct rseqkit_slice_info info;
	struct rseqkit_kstats a, b, d;
	const char *csv = NULL;
	/* icount repeats itself: a shorter run shows the same histogram. */
	double seconds = bench_clock_deterministic() ? 0.5 : 5;
	int ncpu, nw, have_stats, show_trace = 0;
	char path[256], line[512];
	FILE *f;

	tap_reexec_without_glibc_rseq(argv);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick"))
			seconds = bench_clock_deterministic() ? 0.2 : 2;
		else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			seconds = atof(argv[++i]);
		else if (!strcmp(argv[i], "--csv") && i + 1 < argc)
			csv = argv[++i];
		else if (!strcmp(argv[i], "--show-trace") && i + 1 < argc)
			show_trace = atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: %s [--quick] [--seconds S] [--csv FILE] "
				"[--show-trace N]\n", argv[0]);
			return strcmp(argv[i], "--help") ? 2 : 0;
		}
	}
	if (seconds <= 0 || seconds > 600) {
		fprintf(stderr, "%s: --seconds must be in (0, 600]\n", BENCH);
		return 2;
	}
	rseqkit_slice_get_info(&info);
	printf("# %s: clock %s, scenario %s, slice policy: %s\n", BENCH, bench_clock(),
	       getenv("RSEQKIT_SCENARIO") ?: "host", info.reason);
	if (!info.on) {
		printf("%s: extensions are off in this process: nothing to measure\n", BENCH);
		return 0;
	}
	tracing = find_tracing();
	if (!tracing) {
		printf("# no rseq or timer tracepoints (tracefs not mounted, or a kernel without "
		       "CONFIG_FTRACE): counters only\n");
	} else {
		write_file("tracing_on", "0");
		write_file("trace", "");
		write_file("buffer_size_kb", "16384");
		if (timer_mode) {
			printf("# no rseq slice tracepoints: grant durations from the slice hrtimer's "
			       "events (us resolution; 'early' = yield, syscall or switch)\n");
			/* Timers are told apart by address: raw pointers, not hashed
			 * ones (hashing prints "(____ptrval____)" early after boot). */
			write_file("options/hash-ptr", "0");
			for (size_t i = 0; i < 3; i++)
				write_file(timer_events[i], "1");
		} else {
			write_file("events/rseq/rseq_slice_grant/enable", "1");
			write_file("events/rseq/rseq_slice_end/enable", "1");
		}
		write_file("tracing_on", "1");
	}

	ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
	nw = 2 * ncpu > MAX_WORKERS ? MAX_WORKERS : 2 * ncpu;
	have_stats = rseqkit_kstats_read(&a) == 0;
	for (int i = 0; i < ncpu && i < MAX_WORKERS; i++)
		pthread_create(&nz[i], NULL, noise_fn, (void *)(intptr_t)i);
	for (int i = 0; i < nw; i++)
		pthread_create(&w[i], NULL, worker_fn, (void *)(intptr_t)(i % ncpu));
	usleep((useconds_t)(seconds * 1e6));
	stop = 1;
	for (int i = 0; i < nw; i++)
		pthread_join(w[i], NULL);
	for (int i = 0; i < ncpu && i < MAX_WORKERS; i++)
		pthread_join(nz[i], NULL);
	if (have_stats) {
		rseqkit_kstats_read(&b);
		rseqkit_kstats_delta(&d, &a, &b);
		printf("counters (R4.6): granted %lu, yielded %lu, aborted %lu, expired %lu, "
		       "revoked %lu\n", (unsigned long)d.sgrant, (unsigned long)d.syield,
		       (unsigned long)d.sabort, (unsigned long)d.sexpir,
		       (unsigned long)d.srevok);
	}
	if (!tracing) {
		write_stats(csv, have_stats ? &d : NULL, 0, 0, 0, 0);
		return 0;
	}

	write_file("tracing_on", "0");
	limit_ns = slice_limit_ns();
	snprintf(path, sizeof(path), "%s/trace", tracing);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f)) {
		unsigned long long ns;
		char why[32];
		const char *p;

		if (show_trace > 0 && line[0] != '#' && show_trace--)
			printf("trace: %s", line);

		if (timer_mode) {
			int r;

			if (!timer_line(line, &ns, &r))
				continue;
			grants++;
			snprintf(why, sizeof(why), "%s", reason_names[r]);
		} else {
			if (strstr(line, "rseq_slice_grant:"))
				grants++;
			p = strstr(line, "rseq_slice_end:");
			if (!p || sscanf(p, "rseq_slice_end: duration_nsec=%llu reason=%31s", &ns,
					  why) != 2)
				continue;
		}
		for (int r = 0; r < NR_REASONS; r++) {
			if (strcmp(why, reason_names[r]))
				continue;
			hist[bucket_of(ns)][r]++;
			total[r]++;
			ends++;
			if (ns > max_ns)
				max_ns = ns;
			if (limit_ns && ns > limit_ns + TIMER_SLACK_NS)
				over++;
		}
	}
	if (f)
		fclose(f);
	if (timer_mode) {
		for (size_t i = 0; i < 3; i++)
			write_file(timer_events[i], "0");
	} else {
		write_file("events/rseq/rseq_slice_grant/enable", "0");
		write_file("events/rseq/rseq_slice_end/enable", "0");
	}

	printf("%s: %lu grants, %lu ends (yield %lu, syscall %lu, expiry %lu, revocation %lu, "
	       "early %lu)\n", timer_mode ? "slice hrtimer events" : "rseq tracepoints", grants,
	       ends, total[R_YIELD], total[R_SYSCALL], total[R_EXPIRY], total[R_REVOKE],
	       total[R_EARLY]);
	printf("\ngrant held for      %10s %10s %10s %10s %10s\n", "yield", "syscall", "expiry",
	       "revocation", "early");
	for (int i = 0; i < NBUCKETS; i++) {
		unsigned long long lo = i ? 128ULL << i : 0, hi = 256ULL << i;
		char label[40];

		if (i == NBUCKETS - 1)
			snprintf(label, sizeof(label), ">= %llu us", lo / 1000);
		else
			snprintf(label, sizeof(label), "%6llu..%-6llu ns", lo, hi);
		printf("%-19s %10lu %10lu %10lu %10lu %10lu\n", label, hist[i][R_YIELD],
		       hist[i][R_SYSCALL], hist[i][R_EXPIRY], hist[i][R_REVOKE], hist[i][R_EARLY]);
	}
	write_stats(csv, have_stats ? &d : NULL, ends, max_ns, limit_ns, over);
	if (limit_ns && !ends)
		printf("\nno grant traced: grant durations not measurable in this run\n");
	else if (limit_ns)
		printf("\nlongest grant %.1f us; limit %.1f us + %.1f us timer slack: %lu grant(s) "
		       "longer (target 0: %s)\n", (double)max_ns / 1e3, (double)limit_ns / 1e3,
		       (double)TIMER_SLACK_NS / 1e3, over, bound_verdict(over));
	if (csv) {
		FILE *o = fopen(csv, "w");

		if (o) {
			fprintf(o, "bench,bucket_lo_ns,bucket_hi_ns,yield,syscall,expiry,revocation,"
				"clock,scenario,limit_ns,max_ns,early,source\n");
			for (int i = 0; i < NBUCKETS; i++)
				fprintf(o, "%s,%llu,%llu,%lu,%lu,%lu,%lu,%s,%s,%llu,%llu,%lu,%s\n", BENCH,
					i ? 128ULL << i : 0ULL,
					i == NBUCKETS - 1 ? 0ULL : 256ULL << i, hist[i][R_YIELD],
					hist[i][R_SYSCALL], hist[i][R_EXPIRY], hist[i][R_REVOKE],
					bench_clock(), getenv("RSEQKIT_SCENARIO") ?: "host", limit_ns,
					max_ns, hist[i][R_EARLY],
					timer_mode ? "hrtimer-events" : "rseq-tracepoints");
			fclose(o);
		}
	}
	return 0;
}
