/* SPDX-License-Identifier: MIT */
/*
 * tap.h - the rseqkit test harness: TAP output, skips, forked cases.
 *
 * A test program prints TAP version 13 to stdout and exits 0 (all ok),
 * 1 (something failed) or 77 (skipped as a whole). Descriptions state the
 * expected result and the rule of doc/abi.md they check, e.g.
 * "R3.1: len 31 -> EINVAL".
 */
#ifndef RSEQKIT_TAP_H
#define RSEQKIT_TAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TAP_EXIT_SKIP 77

#define TAP_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* Announce the number of cases; call once, before the first case, or never
 * (then tap_done() prints the plan at the end). */
void tap_plan(int n);
/* One case; returns cond so callers can chain diagnostics. */
bool tap_ok(bool cond, const char *fmt, ...) TAP_PRINTF(2, 3);
/* A case not run, with the reason. */
void tap_skip(const char *fmt, ...) TAP_PRINTF(1, 2);
/* A comment line ("# ..."), e.g. a measured value. */
void tap_diag(const char *fmt, ...) TAP_PRINTF(1, 2);
/* Skip the whole program: prints "1..0 # SKIP reason" and exits 77. */
_Noreturn void tap_skip_all(const char *fmt, ...) TAP_PRINTF(1, 2);
/* Give up: prints "Bail out! reason" and exits 1. */
_Noreturn void tap_bail(const char *fmt, ...) TAP_PRINTF(1, 2);
/* Print the plan if needed; returns the exit status (0 or 1). */
int tap_done(void);

/* Case helpers with errno names in the description of a failure. */
bool tap_expect_errno(long ret, int err, int expected, const char *fmt, ...)
	TAP_PRINTF(4, 5);
const char *tap_errno_name(int err);

/* How a forked case ended. */
struct tap_child {
	bool exited;		/* exit status in code */
	bool signaled;		/* signal number in code */
	bool timed_out;		/* killed by the harness */
	int code;
};

/* Run fn(arg) in a forked child; the child exits with fn's return value.
 * The child is killed after timeout_ms. Returns 0, or -errno if fork failed. */
int tap_fork_run(int (*fn)(void *), void *arg, unsigned int timeout_ms,
		 struct tap_child *out);
/* One case each: the child must die of sig / exit with code. */
bool tap_fork_expect_signal(int (*fn)(void *), void *arg, int sig,
			    const char *fmt, ...) TAP_PRINTF(4, 5);
bool tap_fork_expect_exit(int (*fn)(void *), void *arg, int code,
			  const char *fmt, ...) TAP_PRINTF(4, 5);
/* "exit 3", "signal SIGSEGV", "timeout" */
const char *tap_child_str(const struct tap_child *c);

/* Re-run this program with glibc's rseq registration disabled
 * (GLIBC_TUNABLES=glibc.pthread.rseq=0) unless it already is; returns only
 * in the re-executed program. */
void tap_reexec_without_glibc_rseq(char **argv);
/* True if glibc was told not to register (the tunable is in the env). */
bool tap_glibc_rseq_disabled(void);

/* Re-run this program with tunables (a "name=value:..." list) in
 * GLIBC_TUNABLES unless they already are there; returns only in the
 * re-executed program. */
void tap_reexec_with_tunables(char **argv, const char *tunables);

/* Run fn(arg, fd) in a forked child, which reports in text written to fd
 * (at most a pipe's buffer) and exits; *out says how it ended, msg gets the
 * text (NUL-terminated, cut at len - 1). Returns 0 or -errno. */
int tap_fork_text(int (*fn)(void *, int), void *arg, unsigned int timeout_ms,
		  struct tap_child *out, char *msg, size_t len);

/* dlopen(), looked up at run time so that a static build links without it. */
typedef void *(*tap_dlopen_fn)(const char *, int);
/* For the tests of the shared library: buf gets <O>/lib/name for this program
 * at <O>/tests/DIR/PROG; returns dlopen(). Skips the whole program when there
 * is no dlopen() (static build) or no such file. */
tap_dlopen_fn tap_build_lib(const char *name, char *buf, size_t len);

/* Raw rseq(2), returning -1/errno like syscall(2). */
long tap_sys_rseq(void *area, uint32_t len, int flags, uint32_t sig);

/* Pin the calling thread to cpu; returns 0 or -errno. */
int tap_pin_cpu(int cpu);
/* Number of CPUs the process may run on. */
int tap_ncpus(void);
/* Monotonic nanoseconds. */
uint64_t tap_now_ns(void);
/* Context switches of the calling thread so far, voluntary and not:
 * what explains an rseq abort nobody provoked. */
uint64_t tap_thread_switches(void);
/* Write text to the file at path, truncated first (a debugfs knob; an empty
 * text clears a tracefs buffer): 0 or -errno. */
int tap_write_file(const char *path, const char *text);
/* Running under the rseqkit VM init. */
bool tap_in_vm(void);

#endif /* RSEQKIT_TAP_H */
