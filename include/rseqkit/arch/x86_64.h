/* SPDX-License-Identifier: MIT */
/*
 * rseqkit/arch/x86_64.h - x86_64 primitives. Never included directly: use
 * <rseqkit/arch.h>, which picks the file of the target architecture.
 */
#ifndef RSEQKIT_ARCH_X86_64_H
#define RSEQKIT_ARCH_X86_64_H

/* The TCB starts with a pointer to itself (%fs:0), as on every x86_64 libc. */
static inline void *rseqkit_arch_thread_pointer(void)
{
	void *tp;

	__asm__ ("movq %%fs:0, %0" : "=r" (tp));
	return tp;
}

/*
 * One byte of the thread's rseq area at byte offset off from the thread
 * pointer, addressed %fs-relative: one instruction, no load of the TCB
 * self-pointer. Both are compiler barriers (the slice protocol needs its
 * stores and loads in program order; x86 interrupts are precise).
 */
static inline void rseqkit_arch_tp_store_u8(long off, unsigned char v)
{
	__asm__ __volatile__ ("movb %b1, %%fs:(%0)" : : "r" (off), "iq" (v) : "memory");
}

static inline unsigned char rseqkit_arch_tp_load_u8(long off)
{
	unsigned char v;

	__asm__ __volatile__ ("movb %%fs:(%1), %0" : "=q" (v) : "r" (off) : "memory");
	return v;
}

/* Two bytes (slice_ctrl's request and granted together), same rules. */
static inline unsigned short rseqkit_arch_tp_load_u16(long off)
{
	unsigned short v;

	__asm__ __volatile__ ("movw %%fs:(%1), %0" : "=r" (v) : "r" (off) : "memory");
	return v;
}

static inline void rseqkit_arch_cpu_relax(void)
{
	__asm__ __volatile__ ("pause" ::: "memory");
}

#endif /* RSEQKIT_ARCH_X86_64_H */
