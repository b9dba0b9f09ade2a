/* SPDX-License-Identifier: MIT */
/*
 * rseqkit/slice.h - scheduler time slice extensions behind one process-wide,
 * invariant policy (doc/abi.md R6).
 *
 * The kernel enables extensions per thread and lets anyone disable them. The
 * library instead decides once per process, in rseqkit_slice_init() (run by
 * the library constructor): extensions are used iff the kernel offers them,
 * the process's registrations are V2, and nobody opted out (environment
 * RSEQKIT_SLICE=off, or rseqkit_slice_opt_out() before the decision). If the
 * answer is yes, every thread is enabled - with RSEQ_FLAG_SLICE_EXT_DEFAULT_ON
 * when rseqkit registers it, with the prctl when glibc registered a V2 area,
 * at the latest on the thread's first rseqkit_slice_begin() - and the library
 * never disables. A thread that a third party disabled is detected and
 * reported (rseqkit_slice_thread_state(), the diagnostic hook), not hidden.
 *
 * So the fast paths need no per-thread checks: begin is a global flag test,
 * a nesting counter and one byte store; end is the counter, one byte store,
 * one byte load, and the yield system call only when the kernel granted an
 * extension. When the decision was "off" both return after the flag test.
 *
 * Nesting: begin/end pairs nest (a counter per thread); the outermost pair
 * wins: only the outermost begin sets the request and only the outermost end
 * clears it and yields. Never make a system call between begin and end on
 * purpose: any syscall but the yield ends a grant (R6.6, counted "aborted").
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

/* Slow path of rseqkit_slice_begin(): the thread's first use. */
RSEQKIT_API void rseqkit_slice_first_use(void);

/* The process decision (read-mostly; written once by rseqkit_slice_init()). */
extern RSEQKIT_API uint8_t rseqkit_slice_on;
/* Per-thread nesting depth; starts at RSEQKIT_SLICE_NEST_NEW so the first
 * begin of a thread takes the slow path without a separate check. */
#define RSEQKIT_SLICE_NEST_NEW 0x40000000U
extern RSEQKIT_API __thread uint32_t rseqkit_slice_nest
	__attribute__((tls_model("initial-exec")));

#define RSEQKIT_SLICE_BARRIER() __asm__ __volatile__("" ::: "memory")

/* Ask the kernel not to preempt this thread until rseqkit_slice_end(). */
static inline void rseqkit_slice_begin(void)
{
	uint32_t n;

	if (!rseqkit_slice_on)
		return;
	n = rseqkit_slice_nest++;
	if (__builtin_expect(n == 0, 1)) {
		rseqkit_arch_tp_store_u8(rseqkit_rseq_offset + RSEQKIT_OFF_SLICE_REQUEST, 1);
	} else if (__builtin_expect(n >= RSEQKIT_SLICE_NEST_NEW, 0)) {
		rseqkit_slice_first_use();
	}
}

/* End the request; give the CPU back if the kernel extended the slice. */
static inline void rseqkit_slice_end(void)
{
	long off;

	if (!rseqkit_slice_on)
		return;
	if (--rseqkit_slice_nest != 0)
		return;
	off = rseqkit_rseq_offset;
	rseqkit_arch_tp_store_u8(off + RSEQKIT_OFF_SLICE_REQUEST, 0);
	if (__builtin_expect(rseqkit_arch_tp_load_u8(off + RSEQKIT_OFF_SLICE_GRANTED), 0))
		rseqkit_slice_yield();
}

#ifdef __cplusplus
}
#endif

#endif /* RSEQKIT_SLICE_H */
