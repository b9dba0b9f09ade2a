/* SPDX-License-Identifier: MIT */
/*
 * ct_hostile.h - the adversarial side of spec R6.6/R6.9: a process that
 * requests time slice extensions in a loop and ends each grant with a
 * system call whose body never runs, next to a SCHED_FIFO thread that
 * sleeps on the same CPU and measures how late it wakes.
 *
 * Each way of skipping the body is a mode (enum ct_skip). The hostile is a
 * forked process, so that seccomp filters, syscall user dispatch, signal
 * handlers and ptrace stay confined to it; its tracer (ptrace modes) is the
 * calling thread. Results come back through shared memory, counted by the
 * hostile itself, so they survive it being killed.
 *
 * What a correct kernel (R6.6) does with every mode: the grant ends at
 * syscall entry, before seccomp, ptrace, syscall user dispatch or audit
 * act, the reschedule it deferred is raised again and the CPU is given up
 * right there. A kernel that ends the grant but leaves the reschedule to
 * the syscall body loses it whenever the body is skipped, and the RT thread
 * waits until something else asks to reschedule.
 */
#ifndef RSEQKIT_CT_HOSTILE_H
#define RSEQKIT_CT_HOSTILE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ct_slice.h"

enum ct_skip {
	CT_SKIP_NONE,		/* control: rseq_slice_yield() runs */
	CT_SKIP_SECCOMP_ERRNO,	/* seccomp filter: 471 -> EPERM */
	CT_SKIP_SECCOMP_TRAP,	/* seccomp filter: 471 -> SIGSYS, handler returns */
	CT_SKIP_SECCOMP_KILL,	/* seccomp filter: 471 kills the thread */
	CT_SKIP_SECCOMP_NOTIF,	/* seccomp user notification, supervisor denies */
	CT_SKIP_PTRACE_SYSEMU,	/* tracer with PTRACE_SYSEMU: no syscall runs */
	CT_SKIP_PTRACE_RENUMBER,/* tracer rewrites 471 to -1 at the entry stop */
	CT_SKIP_USER_DISPATCH,	/* prctl(PR_SET_SYSCALL_USER_DISPATCH): SIGSYS */
	CT_SKIP_INT80,		/* int $0x80, eax = 471 (32-bit table) */
	CT_SKIP_FORGED,		/* slice_ctrl forged, then a syscall; SIGSEGV caught */
	CT_SKIP_COUNT
};

/* Short name ("seccomp-errno") and a description of the mode. */
const char *ct_skip_name(enum ct_skip m);
const char *ct_skip_what(enum ct_skip m);
/* True if the kernel itself runs rseq_slice_yield()'s body in mode m, so its
 * return value can be judged (R6.6: 1 with a live grant, 0 otherwise). */
bool ct_skip_body_runs(enum ct_skip m);
/* True if mode m can run here; else *why says why not. */
bool ct_skip_usable(enum ct_skip m, const char **why);

/*
 * Does a syscall entered with a forged slice_ctrl raise SIGSEGV here (R6.8:
 * rseq debugging)? Upstream has a runtime switch, debugfs rseq/debug
 * (ct_rseq_debug_get/set() of ct_rseq.h); without it, this project's debug
 * scenarios build with CONFIG_DEBUG_RSEQ (ct_debug_kernel()).
 */
bool ct_rseq_debug_on(void);

/*
 * The slice counters of debugfs rseq/stats (R4.6) under upstream's names;
 * the series as it was before issue 11 printed granted/expired/revoked/
 * yielded/aborted, read as the same counters so that before/after tables
 * line up. Returns 0 or -errno (missing names read as 0).
 */
struct ct_slice_counters {
	uint64_t sgrant, sexpir, srevok, syield, sabort;
};
int ct_slice_counters_read(struct ct_slice_counters *c);

/* What the hostile process saw, counted by itself (shared memory). */
struct ct_hostile_report {
	uint64_t rounds;	/* request windows opened */
	uint64_t grants;	/* grants seen (granted == 1) */
	uint64_t calls;		/* ending calls made right after seeing the grant */
	uint64_t ctrl_left;	/* slice_ctrl not 0 when such a call came back */
	uint64_t sw_checked;	/* calls whose context switches could be read */
	uint64_t no_switch;	/* ... and that came back without a switch */
	uint64_t ret1;		/* rseq_slice_yield() returned 1 / 0 / else */
	uint64_t ret0;
	uint64_t ret_other;
	long last_other;	/* the last "else" (-errno) */
	uint64_t idle_calls;	/* rseq_slice_yield() made with no grant ... */
	uint64_t idle_ret1;	/* ... that still returned 1 */
	uint64_t holds;		/* grants held without a syscall until cleared */
	uint64_t hold_max_ns;	/* longest of them, from first seeing the grant */
	uint64_t hold_stuck;	/* holds still granted after the cap */
	uint64_t sigsys;	/* SIGSYS handled (seccomp trap, user dispatch) */
	uint64_t sigsegv;	/* rseq SIGSEGV handled (forged mode) */
	uint64_t notified;	/* user notifications answered by the supervisor */
	uint64_t stops;		/* 471 entry stops seen by the tracer */
	uint64_t killed;	/* hostile threads killed by SIGSYS (kill mode) */
	/*
	 * The longest the hostile kept running, after a grant it got while
	 * the RT thread was due, without having been switched out since and
	 * before the RT thread ran (ns of its own timeline; a gap of
	 * CT_STALL_NS or more is not running: the vCPU was stopped by the
	 * host or another task ran). A busy host cannot make this grow, a
	 * lost reschedule makes it last until something else reschedules.
	 * 0 without a sleeper.
	 */
	uint64_t due_run_max_ns;
	uint64_t due_episodes;	/* grants that started such a measurement */
};

/* See due_run_max_ns: a gap this long in the hostile's timeline means it
 * did not run. Longer than one round of its loop with a system call under
 * TCG (tens of us), far shorter than a lost reschedule (hundreds of ms). */
#define CT_STALL_NS 500000ULL

/* What the RT sleeper publishes to the hostile (shared memory). */
struct ct_rt_due {
	volatile uint64_t due_ns;	/* deadline of the current sleep, on the
					 * hostile's clock (ct_hostile.c hnow()) */
	volatile uint64_t seq;		/* wake-ups so far */
};

/* The SCHED_FIFO thread: sleeps period_us (absolute deadlines) on cpu and
 * records how late each wake-up is, while measuring is set. */
struct ct_rt_sleeper {
	pthread_t thread;
	int cpu;
	unsigned int period_us;
	volatile int stop;
	volatile int started;	/* 1 running as SCHED_FIFO, <0 -errno */
	volatile int measuring;
	volatile uint64_t wakes;
	uint64_t max_lat_ns;
	uint64_t sum_lat_ns;
	struct ct_rt_due *due;	/* shared with forked processes */
};

/* Start on cpu at SCHED_FIFO priority 50; returns 0 or -errno (-EPERM
 * without root). */
/*
 * The common start of the R6.6 and R6.9 programs: ct_start(), a V2 area that
 * offers slice extensions (missing where the scenario promises them fails),
 * two CPUs (@two_cpus says what for), root, and debugfs slice_ext_nsec set to
 * @nsec for the run (ct_knob_restore() puts the old value back). Skips or
 * bails with @rule in the reason; returns the knob as read back (== @nsec).
 */
long ct_hostile_start(char **argv, struct kfeat *k, const char *rule, const char *two_cpus,
		      long nsec);

int ct_rt_sleeper_start(struct ct_rt_sleeper *s, int cpu, unsigned int period_us);
void ct_rt_sleeper_stop(struct ct_rt_sleeper *s);

struct ct_hostile_shm;

struct ct_hostile {
	enum ct_skip mode;
	int cpu;		/* the hostile and the RT sleeper */
	int other_cpu;		/* tracer, supervisor, the forker of kill mode */
	const struct kfeat *k;
	unsigned int hold_every;/* one grant in n is held, not ended (0: never) */
	uint64_t hold_cap_ns;	/* how long a hold waits for the kernel at most */
	struct ct_hostile_report rep;	/* filled by ct_hostile_run() */
	char why[160];		/* setup failure of the hostile */
	struct ct_hostile_shm *shm;
};

/*
 * Fork the hostile in h->mode, attach its tracer (ptrace modes), let it run
 * until run_ns passed or it saw max_grants grants (0: no limit), with the
 * sleeper's measuring switched on meanwhile (sleeper may be NULL), then
 * stop it and copy its report to h->rep. Returns 0, or -errno / -ECHILD
 * with h->why set when the hostile could not be set up.
 */
int ct_hostile_run(struct ct_hostile *h, struct ct_rt_sleeper *sleeper, uint64_t run_ns,
		   uint64_t max_grants);

#endif /* RSEQKIT_CT_HOSTILE_H */
