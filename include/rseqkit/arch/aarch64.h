/* SPDX-License-Identifier: MIT */
/*
 * rseqkit/arch/aarch64.h - aarch64 primitives. Never included directly: use
 * <rseqkit/arch.h>, which picks the file of the target architecture.
 */
#ifndef RSEQKIT_ARCH_AARCH64_H
#define RSEQKIT_ARCH_AARCH64_H

/* tpidr_el0 holds the thread pointer (TLS variant I: the TCB is at it). */
static inline void *rseqkit_arch_thread_pointer(void)
{
	void *tp;

	__asm__ ("mrs %0, tpidr_el0" : "=r" (tp));
	return tp;
}

/*
 * One byte or halfword of the thread's rseq area at byte offset off from
 * the thread pointer: one load or store with a register offset from
 * tpidr_el0 (the mrs is not volatile, so a loop reads it once). Each is a
 * compiler barrier ("memory"): the slice protocol needs its stores and
 * loads in program order as the thread itself sees them, which is all the
 * kernel needs (it reads the area of the thread it interrupted, on that
 * CPU). See arch/x86_64.h.
 */
static inline void rseqkit_arch_tp_store_u8(long off, unsigned char v)
{
	__asm__ __volatile__ ("strb %w1, [%0, %2]"
			      : : "r" (rseqkit_arch_thread_pointer()), "rZ" (v), "r" (off)
			      : "memory");
}

static inline unsigned char rseqkit_arch_tp_load_u8(long off)
{
	unsigned int v;

	__asm__ __volatile__ ("ldrb %w0, [%1, %2]"
			      : "=r" (v) : "r" (rseqkit_arch_thread_pointer()), "r" (off)
			      : "memory");
	return (unsigned char)v;
}

/* slice_ctrl of the area at rs from the thread pointer (rseqkit/slice.h);
 * see arch/x86_64.h. Byte loads only, as there (a halfword load right after
 * the request's byte store would not be forwarded from it). */
static inline void rseqkit_arch_slice_request(long rs, unsigned char v)
{
	rseqkit_arch_tp_store_u8(rs + RSEQKIT_OFF_SLICE_REQUEST, v);
}

static inline int rseqkit_arch_slice_granted(long rs)
{
	return rseqkit_arch_tp_load_u8(rs + RSEQKIT_OFF_SLICE_GRANTED) != 0;
}

static inline int rseqkit_arch_slice_idle(long rs)
{
	return !rseqkit_arch_tp_load_u8(rs + RSEQKIT_OFF_SLICE_REQUEST) &&
	       !rseqkit_arch_slice_granted(rs);
}

static inline void rseqkit_arch_cpu_relax(void)
{
	__asm__ __volatile__ ("yield" ::: "memory");
}

#endif /* RSEQKIT_ARCH_AARCH64_H */
