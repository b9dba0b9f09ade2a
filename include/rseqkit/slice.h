/* SPDX-License-Identifier: MIT */
/*
 * rseqkit/slice.h - scheduler time slice extensions behind one process-wide,
 * invariant policy (doc/abi.md R6).
 *
 * The kernel enables extensions per thread and lets anyone disable them. The
 * library instead decides once per process, at the first of
 * rseqkit_slice_init(), rseqkit_slice_get_info(), rseqkit_slice_thread_state()
 * or a thread's first section: extensions are used iff the kernel offers
 * them, the process's registrations are V2, and nobody opted out
 * (environment RSEQKIT_SLICE=off, or rseqkit_slice_opt_out() before the
 * decision - from main() is early enough, the library's constructor does not
 * decide). If the answer is yes, every thread is enabled - with
 * RSEQ_FLAG_SLICE_EXT_DEFAULT_ON when rseqkit registers it, with the prctl
 * when glibc registered a V2 area, at the latest on the thread's first
 * section - and the library never disables. A thread that a third party
 * disabled is detected and reported (rseqkit_slice_thread_state(), the
 * diagnostic hook), not hidden.
 *
 * Two ways to mark a section, which nest with each other:
 *
 *   long t = rseqkit_slice_enter();   ...   rseqkit_slice_leave(t);
 *       The fast one. Outermost iff neither the request nor the granted
 *       byte is set at entry: then enter raises the request and returns a
 *       non-zero token (where the area is); nested (or "off") it
 *       returns 0 and the matching leave does nothing. The token carries
 *       everything leave needs, so leave reads no global or thread-local
 *       variable: one store, one load, and the yield system call only when
 *       the kernel granted an extension.
 *   rseqkit_slice_begin(); ... rseqkit_slice_end();
 *       The same for callers that cannot carry a token. The outermost
 *       begin is told the same way, by the request and granted bytes, and
 *       leaves no trace but the request: only a begin that finds the
 *       request raised (nested, inside an enter/leave section, or over a
 *       grant) counts itself in a per-thread depth, which the matching end
 *       takes back instead of ending the request. So the outermost pair
 *       costs what enter/leave cost, plus one thread-local load in end
 *       and a second read of the area's offset there (compilers do not
 *       keep the first across the section: about 0.7 ns more on B3).
 *       The two ways nest inside each other in any order.
 *
 * Signals: both are async-signal-safe, also for a thread's first section
 * (its slow path is system calls and atomics), and sections in a handler
 * nest inside the interrupted one at any point: a handler that runs
 * between the outermost-section test and the request store finds the
 * request clear, raises and ends it itself, and the interrupted code then
 * stores its own request; a handler that runs anywhere else finds the
 * request raised (or the depth non-zero) and leaves it alone. A preemption
 * that clears the request (R6.5) inside an outer section makes an inner
 * begin outermost: the request then ends at the first end that finds the
 * depth at 0, never later than the outer end.
 * Never make a system call between begin and end on purpose: any syscall
 * but the yield ends a grant (R6.6, counted "aborted").
 */
#ifndef RSEQKIT_SLICE_H
#define RSEQKIT_SLICE_H

#include <stdbool.h>
#include <stdint.h>

#include <rseqkit/thread.h>

#ifdef __cplusplus
extern "C" {
#endif

struct rseqkit_slice_info {
	bool on;		/* the process decision */
	bool decided;		/* rseqkit_slice_init() has run */
	int prctl_errno;	/* what PR_RSEQ_SLICE_EXTENSION GET said, or 0 */
	char reason[320];	/* plain words: why on or off */
};

/*
 * rseqkit_slice_init() - take the process decision (idempotent, thread-safe;
 * the library constructor calls it). Returns 1 when extensions are on, 0 when
 * off. Never fails: an unsupported kernel is a decision, explained in
 * rseqkit_slice_get_info().
 */
RSEQKIT_API int rseqkit_slice_init(void);

/*
 * rseqkit_slice_opt_out() - decide "off" for this process. Returns 0, or
 * -EALREADY if the decision was already taken (call it from a constructor of
 * priority <= 100, or set RSEQKIT_SLICE=off in the environment instead).
 */
RSEQKIT_API int rseqkit_slice_opt_out(void);

/* rseqkit_slice_get_info() - the decision and its reason. Returns 0, or
 * -EINVAL if info is NULL. Thread-safe. */
RSEQKIT_API int rseqkit_slice_get_info(struct rseqkit_slice_info *info);

/*
 * rseqkit_slice_thread_state() - the calling thread's kernel state:
 * 1 enabled, 0 not enabled although the process decided "on" (a third party
 * disabled it: reported through the diagnostic hook once per thread), or a
 * negative errno: -ENOTSUP the process decided "off".
 */
RSEQKIT_API int rseqkit_slice_thread_state(void);

/* rseq_slice_yield(2): 1 if the thread still held a grant, 0 otherwise. */
RSEQKIT_API int rseqkit_slice_yield(void);

/* Slow path of a thread's first section, begin or enter (decides,
 * registers, enables): sets rseqkit_slice_tls.ready to 1 or 2. */
RSEQKIT_API void rseqkit_slice_enter_slow(void);

/*
 * The process decision: 0 off, 1 on, RSEQKIT_SLICE_UNDECIDED before it is
 * taken (read it after rseqkit_slice_init()). Written by the decision only
 * (tests and benchmarks may force 1 in a process whose area is rseqkit's).
 */
#define RSEQKIT_SLICE_UNDECIDED 2
extern RSEQKIT_API uint8_t rseqkit_slice_on;
/* Per-thread state of the sections, one thread-local object so that the
 * inline code needs one thread-pointer offset for both fields (a register
 * less in a caller's loop). Exported for the inline code; do not write it.
 *   ready: both kinds of section: 0 not seen yet, 1 on (thread enabled),
 *          2 off.
 *   nest:  the open begin/end sections that did not raise the request
 *          themselves (they found it raised, or the thread is "off"): 0
 *          outside any section and inside an outermost one. */
struct rseqkit_slice_thread {
	uint32_t nest;
	uint8_t ready;
};
extern RSEQKIT_API __thread struct rseqkit_slice_thread rseqkit_slice_tls
	__attribute__((tls_model("initial-exec")));

#define RSEQKIT_SLICE_BARRIER() __asm__ __volatile__("" ::: "memory")

/* The outermost-section test and request store of enter, for the area at
 * rs from the thread pointer: the token (rs itself), or 0 when nested. */
static inline __attribute__((always_inline)) long rseqkit__slice_raise(long rs)
{
	/* request and granted are adjacent: both 0 <=> outermost. */
	if (__builtin_expect(!rseqkit_arch_slice_idle(rs), 0))
		return 0;
	rseqkit_arch_slice_request(rs, 1);
	/* The thread pointer points at the thread's control block, never at
	 * the area, so rs is never 0 (the "nothing to leave" token): leave's
	 * test folds away after enter. */
	if (rs == 0)
		__builtin_unreachable();
	return rs;
}

/*
 * rseqkit_slice_enter() - ask the kernel not to preempt this thread until
 * the matching rseqkit_slice_leave(). Returns the token to pass to it:
 * non-zero for the outermost section, 0 when nested or "off".
 */
static inline __attribute__((always_inline)) long rseqkit_slice_enter(void)
{
	/* One compare with memory on the fast path; "off" (2) reads the byte
	 * again, off it (an atomic load is never merged with the first). The
	 * slow path only sets the state, so the token always comes from the
	 * raise below: nothing to merge with a call's result. */
	while (__builtin_expect(rseqkit_slice_tls.ready != 1, 0)) {
		if (__atomic_load_n(&rseqkit_slice_tls.ready, __ATOMIC_RELAXED) == 2)
			return 0;
		rseqkit_slice_enter_slow();
	}
	return rseqkit__slice_raise((long)rseqkit__rs());
}

/* The outermost section's end, for the area at rs: clear the request and
 * give the CPU back if the kernel extended the slice. */
static inline __attribute__((always_inline)) void rseqkit__slice_lower(long rs)
{
	rseqkit_arch_slice_request(rs, 0);
	if (__builtin_expect(rseqkit_arch_slice_granted(rs), 0))
		rseqkit_slice_yield();
}

/* End the section of token t; give the CPU back if the kernel extended the
 * slice. */
static inline __attribute__((always_inline)) void rseqkit_slice_leave(long t)
{
	if (t)
		rseqkit__slice_lower(t);
}

/*
 * Ask the kernel not to preempt this thread until rseqkit_slice_end(). Only
 * the outermost section (request and granted both 0 at its begin) raises
 * the request; a nested one is counted in rseqkit_slice_tls.nest.
 */
static inline __attribute__((always_inline)) void rseqkit_slice_begin(void)
{
	/* enter's token is 0 exactly when this section does not own the
	 * request: nested, or the thread is "off" (end then only takes the
	 * count back). */
	if (!rseqkit_slice_enter())
		rseqkit_slice_tls.nest++;
}

/* End the section: a nested one only takes its count back; the outermost
 * ends the request and gives the CPU back if the kernel extended the slice. */
static inline __attribute__((always_inline)) void rseqkit_slice_end(void)
{
	if (__builtin_expect(rseqkit_slice_tls.nest != 0, 0))
		rseqkit_slice_tls.nest--;
	else
		rseqkit__slice_lower((long)rseqkit__rs());
}

#ifdef __cplusplus
}
#endif

#endif /* RSEQKIT_SLICE_H */
