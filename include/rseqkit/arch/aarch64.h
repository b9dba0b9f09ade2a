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

static inline void rseqkit_arch_cpu_relax(void)
{
	__asm__ __volatile__ ("yield" ::: "memory");
}

#endif /* RSEQKIT_ARCH_AARCH64_H */
