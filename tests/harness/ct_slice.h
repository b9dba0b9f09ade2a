/* SPDX-License-Identifier: MIT */
/*
 * ct_slice.h - helpers of the time slice extension conformance tests
 * (tests/conformance/r6_*): the prctl, the yield syscall, the debugfs knob,
 * and a V2 registration with slice extensions available.
 */
#ifndef RSEQKIT_CT_SLICE_H
#define RSEQKIT_CT_SLICE_H

#include <stdbool.h>
#include <stdint.h>

#include "ct_rseq.h"

#define CT_SLICE_KNOB KFEAT_DEBUGFS "/slice_ext_nsec"
/* R6.7: the knob's range; tests under QEMU TCG run grants at the maximum. */
#define CT_KNOB_MIN_NS 5000
#define CT_KNOB_MAX_NS 50000
/* A noise thread's period: each wake-up asks to preempt whoever runs. */
#define CT_NOISE_PERIOD_US 50
/* How long a slice case may wait for grants before it is judged. */
#define CT_GRANT_BUDGET_NS 8000000000ULL
/* slice_ctrl as one word (little endian): {request 0, granted 1}. */
#define CT_WORD_GRANTED 0x00000100u
#define CT_WORD_REQUEST 0x00000001u

/* prctl(PR_RSEQ_SLICE_EXTENSION, op, a3, a4, a5): result or -1/errno. */
long ct_slice_prctl(unsigned long op, unsigned long a3, unsigned long a4, unsigned long a5);
/* rseq_slice_yield(2): 1, 0, or -1/errno (ENOSYS on kernels without it). */
long ct_slice_yield(void);

/* The knob: 0 or -errno. */
int ct_knob_read(long *nsec);
int ct_knob_write(const char *text);

/*
 * The start of a slice program: ct_start(), then what the kernel must offer.
 * Unless slice extensions are on (declared by the scenario, or probed on the
 * host) the whole program is skipped - a failure where the scenario promises
 * them. With a: the calling thread registers V2 with flags and must see
 * extensions available (R6.1), else the program bails.
 */
void ct_slice_start(char **argv, struct kfeat *k, const char *rule, struct ct_area *a, int flags);

/* Set the knob to nsec, remembering the old value for ct_knob_restore(). */
void ct_knob_set(long nsec);
void ct_knob_restore(void);

/*
 * Register the calling thread in V2 mode (flags: 0 or DEFAULT_ON) and check
 * that the kernel made slice extensions available (R6.1). Returns 0, or a
 * static reason why slice tests cannot run here (kernel without V2, feature
 * compiled out or disabled at boot, ...). The area stays registered.
 */
const char *ct_slice_setup(struct ct_area *a, const struct kfeat *k, int flags);

static inline uint8_t ct_granted(const struct rseqkit_abi_rseq *rs)
{
	return *(const volatile uint8_t *)&rs->slice_ctrl.s.granted;
}

static inline uint8_t ct_request(const struct rseqkit_abi_rseq *rs)
{
	return *(const volatile uint8_t *)&rs->slice_ctrl.s.request;
}

static inline void ct_set_request(struct rseqkit_abi_rseq *rs, uint8_t v)
{
	__asm__ __volatile__("" ::: "memory");
	*(volatile uint8_t *)&rs->slice_ctrl.s.request = v;
	__asm__ __volatile__("" ::: "memory");
}

static inline uint32_t ct_slice_ctrl(const struct rseqkit_abi_rseq *rs)
{
	return *(const volatile uint32_t *)&rs->slice_ctrl.all;
}

/*
 * Spin (no syscall) until slice_ctrl differs from @from or @window_ns passed;
 * returns the first different word (or @from). One 32-bit load at the spec's
 * raw offset 28 (R2, not the header's field) per look, so the word seen is
 * one the kernel wrote whole, at the place R2 says. A loaded host can stop
 * the virtual CPU long enough for the guest clock to jump past the window in
 * one step: the window is extended once by 1 ms for interrupts that were due.
 */
uint32_t ct_slice_wait_change(const struct rseqkit_abi_rseq *rs, uint32_t from,
			      uint64_t window_ns);

/* A thread pinned to cpu that sleeps period_us in a loop until stopped:
 * each wake-up is a timer interrupt that asks to preempt whoever runs on
 * that CPU. */
struct ct_noise;
struct ct_noise *ct_noise_start(int cpu, unsigned int period_us);
void ct_noise_stop(struct ct_noise *n);

#endif /* RSEQKIT_CT_SLICE_H */
