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

/*
 * slice_ctrl of the area at rs from the thread pointer (rseqkit/slice.h):
 * its request byte at rs + 28 and the kernel's granted byte at rs + 29, as
 * displacements of one instruction each, so a loop keeps only rs.
 */
RSEQKIT_STATIC_ASSERT(RSEQKIT_OFF_SLICE_REQUEST == 28 && RSEQKIT_OFF_SLICE_GRANTED == 29,
		      "asm literals 28 and 29 = slice_ctrl's request and granted");

static inline void rseqkit_arch_slice_request(long rs, unsigned char v)
{
	__asm__ __volatile__ ("movb %b1, %%fs:28(%0)" : : "r" (rs), "iq" (v) : "memory");
}

/* 1 when the kernel granted an extension. */
static inline int rseqkit_arch_slice_granted(long rs)
{
	__asm__ __volatile__ goto ("cmpb $0, %%fs:29(%0)\n\t"
				   "jne %l[set]"
				   : : "r" (rs) : "cc", "memory" : set);
	return 0;
set:
	return 1;
}

/*
 * 1 when request and granted are both 0. Two byte compares, not one 16-bit
 * load: the last section's request store is usually still in the store
 * buffer, and a load wider than that store cannot be forwarded from it (it
 * would wait until the store has left the buffer).
 */
static inline int rseqkit_arch_slice_idle(long rs)
{
	__asm__ __volatile__ goto ("cmpb $0, %%fs:28(%0)\n\t"
				   "jne %l[set]\n\t"
				   "cmpb $0, %%fs:29(%0)\n\t"
				   "jne %l[set]"
				   : : "r" (rs) : "cc", "memory" : set);
	return 1;
set:
	return 0;
}

static inline void rseqkit_arch_cpu_relax(void)
{
	__asm__ __volatile__ ("pause" ::: "memory");
}

#endif /* RSEQKIT_ARCH_X86_64_H */
