/* SPDX-License-Identifier: MIT */
/*
 * rseqkit/arch/aarch64.h - aarch64 primitives (the next architecture; only
 * the pieces generic code needs exist so far). Include <rseqkit/arch.h>.
 */
#ifndef RSEQKIT_ARCH_AARCH64_H
#define RSEQKIT_ARCH_AARCH64_H

static inline void *rseqkit_arch_thread_pointer(void)
{
	void *tp;

	__asm__ ("mrs %0, tpidr_el0" : "=r" (tp));
	return tp;
}

/* A byte at off from the thread pointer (see arch/x86_64.h). */
static inline void rseqkit_arch_tp_store_u8(long off, unsigned char v)
{
	__asm__ __volatile__ ("" : : : "memory");
	*(volatile unsigned char *)((char *)rseqkit_arch_thread_pointer() + off) = v;
	__asm__ __volatile__ ("" : : : "memory");
}

static inline unsigned char rseqkit_arch_tp_load_u8(long off)
{
	unsigned char v;

	__asm__ __volatile__ ("" : : : "memory");
	v = *(volatile unsigned char *)((char *)rseqkit_arch_thread_pointer() + off);
	__asm__ __volatile__ ("" : : : "memory");
	return v;
}

static inline unsigned short rseqkit_arch_tp_load_u16(long off)
{
	unsigned short v;

	__asm__ __volatile__ ("" : : : "memory");
	v = *(volatile unsigned short *)((char *)rseqkit_arch_thread_pointer() + off);
	__asm__ __volatile__ ("" : : : "memory");
	return v;
}

static inline void rseqkit_arch_cpu_relax(void)
{
	__asm__ __volatile__ ("yield" ::: "memory");
}

#endif /* RSEQKIT_ARCH_AARCH64_H */
