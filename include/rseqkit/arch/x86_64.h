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

static inline void rseqkit_arch_cpu_relax(void)
{
	__asm__ __volatile__ ("pause" ::: "memory");
}

#endif /* RSEQKIT_ARCH_X86_64_H */
