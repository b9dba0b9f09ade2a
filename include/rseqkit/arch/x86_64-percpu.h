/* SPDX-License-Identifier: MIT */
/*
 * rseqkit/arch/x86_64-percpu.h - the per-CPU operations of <rseqkit/percpu.h>
 * as x86_64 RSEQ critical sections (asm goto). Include <rseqkit/percpu.h>.
 *
 * Layout of every operation (the labels are local to one asm statement):
 *
 *   __rseq_cs:                3: { version 0, flags 0, start_ip 1f,
 *                                  post_commit_offset 2f - 1f, abort_ip 4f }
 *   __rseq_cs_ptr_array:      &3b           (tools enumerate descriptors)
 *   __rseq_exit_point_array:  { 1f, exit }  per comparison-failure exit
 *   text:        leaq 3b(%rip), %rax; movq %rax, %fs:rseq_cs(area)
 *             1: cmpl idx, %fs:(cpu_id or mm_cid); jnz 4f
 *                ... comparisons (jumps to C labels), injection loops ...
 *                final store (commit)
 *             2:
 *   __rseq_failure:  ud1 prefix + .long RSEQKIT_SIG (the 4 bytes before
 *             4:   abort_ip are the signature), jmp to the C abort label
 *
 * The thread's area is addressed as %fs:(rseqkit_rseq_offset + field), the
 * same offset for every thread (glibc's __rseq_offset or rseqkit's TLS).
 * Release variants: x86 stores are already release-ordered (TSO), so they
 * are the same instructions; the "memory" clobber orders the compiler.
 *
 * Scratch registers: %rax (descriptor address, then data); %rcx for the
 * injection loops; %r11 for the memcpy index.
 */
#ifndef RSEQKIT_ARCH_X86_64_PERCPU_H
#define RSEQKIT_ARCH_X86_64_PERCPU_H

#ifndef RSEQKIT_PERCPU_H
# error "include <rseqkit/percpu.h>, not this file"
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define RSEQKIT_ARCH_HAS_PERCPU	1

/* The signature as the assembler spells it (no C suffix). */
#define RSEQKIT__X86_SIG	0x53053053

/* Every offset and constant the asm below hard-codes. */
RSEQKIT_STATIC_ASSERT(RSEQKIT__X86_SIG == RSEQKIT_SIG, "x86 signature");
RSEQKIT_STATIC_ASSERT(offsetof(struct rseqkit_abi_rseq, rseq_cs) == RSEQKIT_OFF_RSEQ_CS,
		      "asm stores the descriptor at RSEQKIT_OFF_RSEQ_CS");
RSEQKIT_STATIC_ASSERT(RSEQKIT_OFF_RSEQ_CS == 8, "asm literal 8 = rseq_cs");
RSEQKIT_STATIC_ASSERT(sizeof(((struct rseqkit_abi_rseq *)0)->rseq_cs) == 8, "rseq_cs is a quad");
RSEQKIT_STATIC_ASSERT(offsetof(struct rseqkit_abi_rseq, cpu_id) == RSEQKIT_OFF_CPU_ID,
		      "asm compares cpu_id at RSEQKIT_OFF_CPU_ID");
RSEQKIT_STATIC_ASSERT(offsetof(struct rseqkit_abi_rseq, mm_cid) == RSEQKIT_OFF_MM_CID,
		      "asm compares mm_cid at RSEQKIT_OFF_MM_CID");
RSEQKIT_STATIC_ASSERT(sizeof(((struct rseqkit_abi_rseq *)0)->cpu_id) == 4 &&
		      sizeof(((struct rseqkit_abi_rseq *)0)->mm_cid) == 4, "cmpl on 32-bit fields");
RSEQKIT_STATIC_ASSERT(offsetof(struct rseqkit_abi_cs, version) == RSEQKIT_CS_OFF_VERSION &&
		      RSEQKIT_CS_OFF_VERSION == 0, "descriptor: .long version at 0");
RSEQKIT_STATIC_ASSERT(offsetof(struct rseqkit_abi_cs, flags) == RSEQKIT_CS_OFF_FLAGS &&
		      RSEQKIT_CS_OFF_FLAGS == 4, "descriptor: .long flags at 4");
RSEQKIT_STATIC_ASSERT(offsetof(struct rseqkit_abi_cs, start_ip) == RSEQKIT_CS_OFF_START_IP &&
		      RSEQKIT_CS_OFF_START_IP == 8, "descriptor: .quad start_ip at 8");
RSEQKIT_STATIC_ASSERT(offsetof(struct rseqkit_abi_cs, post_commit_offset) ==
		      RSEQKIT_CS_OFF_POST_COMMIT && RSEQKIT_CS_OFF_POST_COMMIT == 16,
		      "descriptor: .quad post_commit_offset at 16");
RSEQKIT_STATIC_ASSERT(offsetof(struct rseqkit_abi_cs, abort_ip) == RSEQKIT_CS_OFF_ABORT_IP &&
		      RSEQKIT_CS_OFF_ABORT_IP == 24, "descriptor: .quad abort_ip at 24");
RSEQKIT_STATIC_ASSERT(sizeof(struct rseqkit_abi_cs) == 32 &&
		      RSEQKIT_ALIGNOF(struct rseqkit_abi_cs) == 32, "descriptor: .balign 32, 32 bytes");
RSEQKIT_STATIC_ASSERT(sizeof(void *) == 8 && sizeof(intptr_t) == 8 && sizeof(long) == 8,
		      "LP64: quad pointers");
RSEQKIT_STATIC_ASSERT(sizeof(int) == 4 && sizeof(rseqkit_inject_loops[0]) == 4,
		      "injection loop counters are .long");

/* A 32-bit field of the calling thread's area, off bytes from the thread
 * pointer: one %fs-relative load. Volatile: the kernel changes it. */
static inline uint32_t rseqkit__area_load_u32(ptrdiff_t off)
{
	uint32_t v;

	__asm__ __volatile__ ("movl %%fs:(%1), %0" : "=r" (v) : "r" (off));
	return v;
}

/*
 * The same with a constant offset (off) from a base register: the index
 * loads of constant kinds address %fs:off(rs) directly. The value comes
 * back zero-extended to 64 bits (movl does it), so that indexing an array
 * with it costs no extension.
 */
#define RSEQKIT_ARCH_HAS_KAT	1
static inline __attribute__((always_inline)) unsigned long
rseqkit__area_load_idx(ptrdiff_t base, ptrdiff_t off)
{
	unsigned long v;

#ifdef __OPTIMIZE__
	__asm__ __volatile__ ("movl %%fs:%c2(%1), %k0" : "=r" (v) : "r" (base), "i" (off));
#else
	__asm__ __volatile__ ("movl %%fs:(%1), %k0" : "=r" (v) : "r" (base + off));
#endif
	return v;
}

/* 1 when the signed 32-bit field at off(base) is negative (an unregistered
 * thread's cpu_id): one compare with a jump, no register loaded. */
static inline __attribute__((always_inline)) int
rseqkit__area_negative(ptrdiff_t base, ptrdiff_t off)
{
#ifdef __OPTIMIZE__
	__asm__ __volatile__ goto ("cmpl $0, %%fs:%c1(%0)\n\t"
				   "js %l[neg]" : : "r" (base), "i" (off) : "cc" : neg);
#else
	__asm__ __volatile__ goto ("cmpl $0, %%fs:(%0)\n\t"
				   "js %l[neg]" : : "r" (base + off) : "cc" : neg);
#endif
	return 0;
neg:
	return 1;
}

#define RSEQKIT__STR_(x)	#x
#define RSEQKIT__STR(x)		RSEQKIT__STR_(x)

/* Descriptor 3, its pointer, and the section body from 1 to 2, abort at 4. */
#define RSEQKIT__CS_TABLE						\
	".pushsection __rseq_cs, \"aw\"\n\t"				\
	".balign 32\n\t"						\
	"3:\n\t"							\
	".long 0, 0\n\t"						\
	".quad 1f, (2f - 1f), 4f\n\t"					\
	".popsection\n\t"						\
	".pushsection __rseq_cs_ptr_array, \"aw\"\n\t"			\
	".quad 3b\n\t"							\
	".popsection\n\t"

#define RSEQKIT__CS_EXIT(label)						\
	".pushsection __rseq_exit_point_array, \"aw\"\n\t"		\
	".quad 1f, " label "\n\t"					\
	".popsection\n\t"

#define RSEQKIT__CS_START						\
	"leaq 3b(%%rip), %%rax\n\t"					\
	"movq %%rax, %%fs:8(%[rs])\n\t"					\
	"1:\n\t"							\
	"cmpl %k[idx], %%fs:%c[fo](%[fb])\n\t"				\
	"jnz 4f\n\t"

#define RSEQKIT__CS_END							\
	"2:\n\t"							\
	".pushsection __rseq_failure, \"ax\"\n\t"			\
	".byte 0x0f, 0xb9, 0x3d\n\t"					\
	".long " RSEQKIT__STR(RSEQKIT__X86_SIG) "\n\t"			\
	"4:\n\t"							\
	"jmp %l[aborted]\n\t"						\
	".popsection\n\t"

/* Injection: a plain countdown (no pause: under a hypervisor, pause loops
 * trigger pause-loop exits that stretch a spin to seconds). */
#ifdef RSEQKIT_INJECT
# define RSEQKIT__INJ(n)						\
	"movl " #n "*4(%[inj]), %%ecx\n\t"				\
	"testl %%ecx, %%ecx\n\t"					\
	"jz 333f\n\t"							\
	"222:\n\t"							\
	"decl %%ecx\n\t"						\
	"jnz 222b\n\t"							\
	"333:\n\t"
# define RSEQKIT__INJ_IN	, [inj] "r" (rseqkit_inject_loops)
# define RSEQKIT__INJ_CLOB	, "rcx"
#else
# define RSEQKIT__INJ(n)	""
# define RSEQKIT__INJ_IN
# define RSEQKIT__INJ_CLOB
#endif

/*
 * asm goto with output operands (gcc >= 11, clang >= 11) lets the list pop
 * hand the popped pointer back in a register instead of through memory,
 * which takes a store-to-load forwarding off the pop-then-use path.
 */
#if (defined(__clang__) && __clang_major__ >= 11) || \
    (!defined(__clang__) && defined(__GNUC__) && __GNUC__ >= 11)
# define RSEQKIT__ASM_GOTO_OUTPUT 1
#else
# define RSEQKIT__ASM_GOTO_OUTPUT 0
#endif

/*
 * load_add_store declares its word as an output ("+m") when the compiler
 * allows outputs, and then needs no "memory" clobber: the compiler keeps
 * unrelated values in registers across the section (a counter add orders
 * nothing else; relaxed). Without outputs, or with injection (the loops read
 * memory the asm does not declare), it is a full compiler barrier.
 */
#if RSEQKIT__ASM_GOTO_OUTPUT
# define RSEQKIT__ADD_OUT(v)	[v] "+m" (*(v))
# define RSEQKIT__ADD_IN(v)
# ifdef RSEQKIT_INJECT
#  define RSEQKIT__ADD_CLOB	"memory", "cc"
# else
#  define RSEQKIT__ADD_CLOB	"cc"
# endif
#else
# define RSEQKIT__ADD_OUT(v)
# define RSEQKIT__ADD_IN(v)	[v] "m" (*(v)),
# define RSEQKIT__ADD_CLOB	"memory", "cc"
#endif

/*
 * The checked field is %fs:fo(fb): fo a constant (the offset of cpu_id or
 * mm_cid when the kind is known at compile time, then fb is rs and costs
 * no register of its own), or 0 with fb the field's offset. Without
 * optimization "i" cannot see through the inlined arguments: fold fo in.
 */
#ifdef __OPTIMIZE__
# define RSEQKIT__CS_IN(idx)						\
	[rs] "r" (rs), [fb] "r" (fb), [fo] "i" (fo), [idx] "r" (idx)
#else
# define RSEQKIT__CS_IN(idx)						\
	[rs] "r" (rs), [fb] "r" (fb + fo), [fo] "i" (0), [idx] "r" (idx)
#endif

/*
 * The abort path: one call out of line, which registers the thread if
 * needed (then -EAGAIN: retry) or, with the fallbacks (decided once per
 * process), runs the operation under its fallback lock. Nothing of the fast
 * path stays alive across it, so the caller's loop keeps its registers.
 */
#define RSEQKIT__ABORTED(fallback)					\
aborted:								\
	RSEQKIT_INJECT_C(4);						\
	return fallback

/* One width: sfx (u32/u64), type T, instruction suffix W, constraint ADD of
 * an immediate-or-register operand (addends, expected and new values: a
 * constant costs no register and no instruction to load it). */
#define RSEQKIT__X86_OPS(sfx, T, W, ADD)					\
static inline __attribute__((always_inline)) int				\
rseqkit__load_cbne_store_##sfx##_kat(ptrdiff_t rs, ptrdiff_t fb, ptrdiff_t fo, int idx, T *v, T expect,	\
			      T newv)						\
{										\
	RSEQKIT_INJECT_C(0);							\
	__asm__ __volatile__ goto (						\
		RSEQKIT__CS_TABLE						\
		RSEQKIT__CS_EXIT("%l[ne]")					\
		RSEQKIT__CS_START						\
		RSEQKIT__INJ(1)							\
		"cmp" W " %[expect], %[v]\n\t"					\
		"jnz %l[ne]\n\t"						\
		RSEQKIT__INJ(2)							\
		RSEQKIT__INJ(3)							\
		"mov" W " %[newv], %[v]\n\t"					\
		RSEQKIT__CS_END							\
		: /* no outputs */						\
		: RSEQKIT__CS_IN(idx), [v] "m" (*v),			\
		  [expect] ADD (expect), [newv] ADD (newv) RSEQKIT__INJ_IN	\
		: "memory", "cc", "rax" RSEQKIT__INJ_CLOB			\
		: aborted, ne);							\
	return 0;								\
ne:										\
	return 1;								\
	RSEQKIT__ABORTED(rseqkit__fb_load_cbne_store_##sfx(idx, v, expect, newv)); \
}										\
										\
static inline __attribute__((always_inline)) int				\
rseqkit__load_add_store_##sfx##_kat(ptrdiff_t rs, ptrdiff_t fb, ptrdiff_t fo, int idx, T *v, T count)	\
{										\
	RSEQKIT_INJECT_C(0);							\
	__asm__ __volatile__ goto (						\
		RSEQKIT__CS_TABLE						\
		RSEQKIT__CS_START						\
		RSEQKIT__INJ(1)							\
		RSEQKIT__INJ(3)							\
		"add" W " %[count], %[v]\n\t"					\
		RSEQKIT__CS_END							\
		: RSEQKIT__ADD_OUT(v)						\
		: RSEQKIT__ADD_IN(v) RSEQKIT__CS_IN(idx),			\
		  [count] ADD (count) RSEQKIT__INJ_IN				\
		: RSEQKIT__ADD_CLOB, "rax" RSEQKIT__INJ_CLOB			\
		: aborted);							\
	return 0;								\
	RSEQKIT__ABORTED(rseqkit__fb_load_add_store_##sfx(0, v, count)); /* idx unused */	\
}										\
										\
static inline __attribute__((always_inline)) int				\
rseqkit__load_cbne_load_cbne_store_##sfx##_kat(ptrdiff_t rs, ptrdiff_t fb, ptrdiff_t fo, int idx, T *v,	\
					T expect, T *v2, T expect2, T newv)	\
{										\
	RSEQKIT_INJECT_C(0);							\
	__asm__ __volatile__ goto (						\
		RSEQKIT__CS_TABLE						\
		RSEQKIT__CS_EXIT("%l[ne]")					\
		RSEQKIT__CS_EXIT("%l[ne2]")					\
		RSEQKIT__CS_START						\
		RSEQKIT__INJ(1)							\
		"cmp" W " %[expect], %[v]\n\t"					\
		"jnz %l[ne]\n\t"						\
		RSEQKIT__INJ(2)							\
		"cmp" W " %[expect2], %[v2]\n\t"				\
		"jnz %l[ne2]\n\t"						\
		RSEQKIT__INJ(3)							\
		"mov" W " %[newv], %[v]\n\t"					\
		RSEQKIT__CS_END							\
		: /* no outputs */						\
		: RSEQKIT__CS_IN(idx), [v] "m" (*v),			\
		  [expect] ADD (expect), [v2] "m" (*v2),			\
		  [expect2] ADD (expect2), [newv] ADD (newv) RSEQKIT__INJ_IN	\
		: "memory", "cc", "rax" RSEQKIT__INJ_CLOB			\
		: aborted, ne, ne2);						\
	return 0;								\
ne:										\
	return 1;								\
ne2:										\
	return 2;								\
	RSEQKIT__ABORTED(rseqkit__fb_load_cbne_load_cbne_store_##sfx(idx, v,	\
			 expect, v2, expect2, newv));				\
}										\
										\
static inline __attribute__((always_inline)) int				\
rseqkit__load_cbne_store_store_##sfx##_kat(ptrdiff_t rs, ptrdiff_t fb, ptrdiff_t fo, int idx, T *v,	\
				    T expect, T *v2, T newv2, T newv)		\
{										\
	RSEQKIT_INJECT_C(0);							\
	__asm__ __volatile__ goto (						\
		RSEQKIT__CS_TABLE						\
		RSEQKIT__CS_EXIT("%l[ne]")					\
		RSEQKIT__CS_START						\
		RSEQKIT__INJ(1)							\
		"cmp" W " %[expect], %[v]\n\t"					\
		"jnz %l[ne]\n\t"						\
		RSEQKIT__INJ(2)							\
		"mov" W " %[newv2], %[v2]\n\t"					\
		RSEQKIT__INJ(3)							\
		"mov" W " %[newv], %[v]\n\t"					\
		RSEQKIT__CS_END							\
		: /* no outputs */						\
		: RSEQKIT__CS_IN(idx), [v] "m" (*v),			\
		  [expect] ADD (expect), [v2] "m" (*v2),			\
		  [newv2] ADD (newv2), [newv] ADD (newv) RSEQKIT__INJ_IN	\
		: "memory", "cc", "rax" RSEQKIT__INJ_CLOB			\
		: aborted, ne);							\
	return 0;								\
ne:										\
	return 1;								\
	RSEQKIT__ABORTED(rseqkit__fb_load_cbne_store_store_##sfx(idx, v,	\
			 expect, v2, newv2, newv));				\
}										\
										\
/* x86 (TSO): a store is a release store; same code, documented variant. */	\
static inline __attribute__((always_inline)) int				\
rseqkit__load_cbne_store_store_release_##sfx##_kat(ptrdiff_t rs,		\
		ptrdiff_t fb, ptrdiff_t fo, int idx, T *v, T expect, T *v2, T newv2,	\
		T newv)								\
{										\
	return rseqkit__load_cbne_store_store_##sfx##_kat(rs, fb, fo, idx, v,	\
						       expect, v2, newv2, newv); \
}										\
										\
static inline __attribute__((always_inline)) int				\
rseqkit__load_cbne_memcpy_store_##sfx##_kat(ptrdiff_t rs, ptrdiff_t fb, ptrdiff_t fo, int idx, T *v,	\
				     T expect, void *dst, const void *src,	\
				     size_t len, T newv)			\
{										\
	RSEQKIT_INJECT_C(0);							\
	__asm__ __volatile__ goto (						\
		RSEQKIT__CS_TABLE						\
		RSEQKIT__CS_EXIT("%l[ne]")					\
		RSEQKIT__CS_START						\
		RSEQKIT__INJ(1)							\
		"cmp" W " %[expect], %[v]\n\t"					\
		"jnz %l[ne]\n\t"						\
		RSEQKIT__INJ(2)							\
		"xorl %%r11d, %%r11d\n\t"					\
		"5:\n\t"							\
		"cmpq %[len8], %%r11\n\t"					\
		"jae 6f\n\t"							\
		"movq (%[src],%%r11), %%rax\n\t"				\
		"movq %%rax, (%[dst],%%r11)\n\t"				\
		"addq $8, %%r11\n\t"						\
		"jmp 5b\n\t"							\
		"6:\n\t"							\
		"cmpq %[len], %%r11\n\t"					\
		"jae 7f\n\t"							\
		"movb (%[src],%%r11), %%al\n\t"					\
		"movb %%al, (%[dst],%%r11)\n\t"					\
		"incq %%r11\n\t"						\
		"jmp 6b\n\t"							\
		"7:\n\t"							\
		RSEQKIT__INJ(3)							\
		"mov" W " %[newv], %[v]\n\t"					\
		RSEQKIT__CS_END							\
		: /* no outputs */						\
		: RSEQKIT__CS_IN(idx), [v] "m" (*v),			\
		  [expect] ADD (expect), [dst] "r" (dst), [src] "r" (src),	\
		  [len] "r" (len), [len8] "r" (len & ~(size_t)7),		\
		  [newv] ADD (newv) RSEQKIT__INJ_IN				\
		: "memory", "cc", "rax", "r11" RSEQKIT__INJ_CLOB		\
		: aborted, ne);							\
	return 0;								\
ne:										\
	return 1;								\
	RSEQKIT__ABORTED(rseqkit__fb_load_cbne_memcpy_store_##sfx(idx, v,	\
			 expect, dst, src, len, newv));				\
}										\
										\
static inline __attribute__((always_inline)) int				\
rseqkit__load_cbne_memcpy_store_release_##sfx##_kat(ptrdiff_t rs,		\
		ptrdiff_t fb, ptrdiff_t fo, int idx, T *v, T expect, void *dst,		\
		const void *src, size_t len, T newv)				\
{										\
	return rseqkit__load_cbne_memcpy_store_##sfx##_kat(rs, fb, fo, idx, v,	\
						expect, dst, src, len, newv);	\
}

RSEQKIT__X86_OPS(u32, uint32_t, "l", "ir")
RSEQKIT__X86_OPS(u64, uint64_t, "q", "er")


/* List pop (pointer width): see rseqkit_ref_load_cbeq_store_add_load_store_ptr. */
static inline __attribute__((always_inline)) int
rseqkit__load_cbeq_store_add_load_store_ptr_kat(ptrdiff_t rs, ptrdiff_t fb, ptrdiff_t fo, int idx,
		intptr_t *v, intptr_t expectnot, long voffp, intptr_t *load)
{
#if RSEQKIT__ASM_GOTO_OUTPUT
	intptr_t head;
#endif

	RSEQKIT_INJECT_C(0);
	__asm__ __volatile__ goto (
		RSEQKIT__CS_TABLE
		RSEQKIT__CS_EXIT("%l[eq]")
		RSEQKIT__CS_START
		RSEQKIT__INJ(1)
#if RSEQKIT__ASM_GOTO_OUTPUT
		"movq %[v], %[head]\n\t"
		"cmpq %[expectnot], %[head]\n\t"
		"je %l[eq]\n\t"
		RSEQKIT__INJ(2)
		"movq (%[head],%[voffp]), %%rax\n\t"
		RSEQKIT__INJ(3)
		"movq %%rax, %[v]\n\t"
		RSEQKIT__CS_END
		: [head] "=&r" (head)
		: RSEQKIT__CS_IN(idx), [v] "m" (*v), [expectnot] "er" (expectnot),
		  [voffp] "r" (voffp) RSEQKIT__INJ_IN
#else
		"movq %[v], %%rax\n\t"
		"cmpq %%rax, %[expectnot]\n\t"
		"je %l[eq]\n\t"
		RSEQKIT__INJ(2)
		"movq %%rax, %[load]\n\t"
		"addq %[voffp], %%rax\n\t"
		"movq (%%rax), %%rax\n\t"
		RSEQKIT__INJ(3)
		"movq %%rax, %[v]\n\t"
		RSEQKIT__CS_END
		: /* no outputs */
		: RSEQKIT__CS_IN(idx), [v] "m" (*v), [expectnot] "r" (expectnot),
		  [voffp] "er" (voffp), [load] "m" (*load) RSEQKIT__INJ_IN
#endif
		: "memory", "cc", "rax" RSEQKIT__INJ_CLOB
		: aborted, eq);
#if RSEQKIT__ASM_GOTO_OUTPUT
	*load = head;
#endif
	return 0;
eq:
	return 1;
	RSEQKIT__ABORTED(rseqkit__fb_load_cbeq_store_add_load_store_ptr(idx, v, expectnot,
									 voffp, load));
}

/* Indirect add: see rseqkit_ref_load_add_load_load_add_store_ptr. */
static inline __attribute__((always_inline)) int
rseqkit__load_add_load_load_add_store_ptr_kat(ptrdiff_t rs, ptrdiff_t fb, ptrdiff_t fo, int idx,
		intptr_t *ptr, long off, intptr_t inc)
{
	RSEQKIT_INJECT_C(0);
	__asm__ __volatile__ goto (
		RSEQKIT__CS_TABLE
		RSEQKIT__CS_START
		RSEQKIT__INJ(1)
		"movq %[ptr], %%rax\n\t"
		"addq %[off], %%rax\n\t"
		RSEQKIT__INJ(2)
		"movq (%%rax), %%rax\n\t"
		RSEQKIT__INJ(3)
		"addq %[inc], (%%rax)\n\t"
		RSEQKIT__CS_END
		: /* no outputs */
		: RSEQKIT__CS_IN(idx), [ptr] "m" (*ptr), [off] "er" (off),
		  [inc] "er" (inc) RSEQKIT__INJ_IN
		: "memory", "cc", "rax" RSEQKIT__INJ_CLOB
		: aborted);
	return 0;
	RSEQKIT__ABORTED(rseqkit__fb_load_add_load_load_add_store_ptr(idx, ptr, off, inc));
}

/*
 * Self-indexed sections (rseqkit/percpu.h): after start_ip, test cpu_id
 * (negative: no registered area, exit to unreg), read the index from
 * %fs:(rs + fo) and form the slot's address in p. Needs asm goto outputs
 * (the index comes back in a register); older compilers use the composed
 * forms of rseqkit/percpu.h, and so does a program built with
 * RSEQKIT_COMPOSED_SI defined (the tests of those forms on this host).
 */
#if RSEQKIT__ASM_GOTO_OUTPUT && !defined(RSEQKIT_COMPOSED_SI)
#define RSEQKIT_ARCH_HAS_SI	1

/* FIELD: the index field, "%c[fo](%[rs])" (fo a constant, FO "i") or
 * "(%[rs],%[fo])" (fo in a register, FO "r"); see RSEQKIT__SI(). The
 * descriptor's address passes through p before p gets the slot's, so the
 * sections need no fixed scratch register: the lock takes its index in
 * %eax, where the slow paths' int results arrive, and their merge costs no
 * register copy. The slot's offset is one three-operand multiply rather than
 * a copy and a shift: one instruction less, off the loop-carried chain of an
 * op (that goes through the slot's memory). */
#define RSEQKIT__SI_START(FIELD)					\
	"leaq 3b(%%rip), %[p]\n\t"					\
	"movq %[p], %%fs:8(%[rs])\n\t"					\
	"1:\n\t"							\
	"cmpl $0, %%fs:4(%[rs])\n\t"					\
	"js %l[unreg]\n\t"						\
	"movl %%fs:" FIELD ", %k[idx]\n\t"				\
	"imulq $" RSEQKIT__STR(RSEQKIT__SLOT_SIZE) ", %[idx], %[p]\n\t"	\
	"addq %[base], %[p]\n\t"

/* Descriptor, exit points (unreg and a comparison's label, if any), the
 * start: every self-indexed section begins with it. */
#define RSEQKIT__SI_HEAD(FIELD, EXIT)					\
	RSEQKIT__CS_TABLE						\
	RSEQKIT__CS_EXIT("%l[unreg]")					\
	EXIT								\
	RSEQKIT__SI_START(FIELD)					\
	RSEQKIT__INJ(1)

#define RSEQKIT__SI_OUT		[idx] "=&r" (idx), [p] "=&r" (p)
#define RSEQKIT__SI_IN(FO)	[rs] "r" (rs), [fo] FO (fo), [base] "rm" (base)

/*
 * Each section is written once as a macro of (FIELD, FO) and expanded by
 * RSEQKIT__SI(): with fo as an immediate where the compiler sees a
 * constant (a _k form of cpu_id or of a usable mm_cid: no register, nothing
 * to reload), else in a register (a structure's stored field). Without
 * optimization nothing is constant: the register form only.
 */
#ifdef __OPTIMIZE__
# define RSEQKIT__SI(SECTION)						\
	do {								\
		if (__builtin_constant_p(fo))				\
			SECTION("%c[fo](%[rs])", "i");			\
		else							\
			SECTION("(%[rs],%[fo])", "r");			\
	} while (0)
#else
# define RSEQKIT__SI(SECTION)	SECTION("(%[rs],%[fo])", "r")
#endif

/* The tail every self-indexed section shares: the index (known to be an
 * int, so that using it costs no sign extension), then the exits. */
#define RSEQKIT__SI_TAIL						\
	if (idx > INT32_MAX)						\
		__builtin_unreachable();				\
	*idxp = idx

#define RSEQKIT__SI_EXITS						\
unreg:									\
	return -ENOENT;							\
aborted:								\
	RSEQKIT_INJECT_C(4);						\
	return -EAGAIN

RSEQKIT_STATIC_ASSERT(RSEQKIT_OFF_CPU_ID == 4, "asm literal 4 = cpu_id");

#define RSEQKIT__SI_ADD(FIELD, FO)					\
	__asm__ __volatile__ goto (					\
		RSEQKIT__SI_HEAD(FIELD, "")				\
		RSEQKIT__INJ(3)						\
		"addq %[count], (%[p])\n\t"				\
		RSEQKIT__CS_END						\
		: RSEQKIT__SI_OUT					\
		: RSEQKIT__SI_IN(FO), [count] "er" (count) RSEQKIT__INJ_IN \
		: "memory", "cc" RSEQKIT__INJ_CLOB			\
		: aborted, unreg)

static inline __attribute__((always_inline)) int
rseqkit__si_load_add_store_u64(ptrdiff_t rs, ptrdiff_t fo, void *base, uint64_t count,
			       unsigned long *idxp)
{
	unsigned long idx;
	uintptr_t p;

	RSEQKIT_INJECT_C(0);
	RSEQKIT__SI(RSEQKIT__SI_ADD);
	RSEQKIT__SI_TAIL;
	return 0;
	RSEQKIT__SI_EXITS;
}

#define RSEQKIT__SI_CBNE_STORE(FIELD, FO)				\
	__asm__ __volatile__ goto (					\
		RSEQKIT__SI_HEAD(FIELD, RSEQKIT__CS_EXIT("%l[ne]"))	\
		"cmpl %[expect], (%[p])\n\t"				\
		"jnz %l[ne]\n\t"					\
		RSEQKIT__INJ(2)						\
		RSEQKIT__INJ(3)						\
		"movl %[newv], (%[p])\n\t"				\
		RSEQKIT__CS_END						\
		: [idx] "=&a" (idx), [p] "=&r" (p)			\
		: RSEQKIT__SI_IN(FO), [expect] "ir" (expect),		\
		  [newv] "ir" (newv) RSEQKIT__INJ_IN			\
		: "memory", "cc" RSEQKIT__INJ_CLOB			\
		: aborted, unreg, ne)

static inline __attribute__((always_inline)) int
rseqkit__si_load_cbne_store_u32(ptrdiff_t rs, ptrdiff_t fo, void *base, uint32_t expect,
				uint32_t newv, unsigned long *idxp)
{
	unsigned long idx;
	uintptr_t p;

	RSEQKIT_INJECT_C(0);
	RSEQKIT__SI(RSEQKIT__SI_CBNE_STORE);
	RSEQKIT__SI_TAIL;
	return 0;
ne:
	return 1;
	RSEQKIT__SI_EXITS;
}

#define RSEQKIT__SI_POP(FIELD, FO)					\
	__asm__ __volatile__ goto (					\
		RSEQKIT__SI_HEAD(FIELD, RSEQKIT__CS_EXIT("%l[eq]"))	\
		"movq (%[p]), %[head]\n\t"				\
		"cmpq %[expectnot], %[head]\n\t"			\
		"je %l[eq]\n\t"						\
		RSEQKIT__INJ(2)						\
		"movq (%[head],%[voffp]), %%rax\n\t"			\
		RSEQKIT__INJ(3)						\
		"movq %%rax, (%[p])\n\t"				\
		RSEQKIT__CS_END						\
		: RSEQKIT__SI_OUT, [head] "=&r" (head)			\
		: RSEQKIT__SI_IN(FO), [expectnot] "er" (expectnot),	\
		  [voffp] "r" (voffp) RSEQKIT__INJ_IN			\
		: "memory", "cc", "rax" RSEQKIT__INJ_CLOB		\
		: aborted, unreg, eq)

static inline __attribute__((always_inline)) int
rseqkit__si_load_cbeq_store_add_load_store_ptr(ptrdiff_t rs, ptrdiff_t fo, void *base,
		intptr_t expectnot, long voffp, intptr_t *load, unsigned long *idxp)
{
	unsigned long idx;
	intptr_t head;
	uintptr_t p;

	RSEQKIT_INJECT_C(0);
	RSEQKIT__SI(RSEQKIT__SI_POP);
	*load = head;
	RSEQKIT__SI_TAIL;
	return 0;
eq:
	return 1;
	RSEQKIT__SI_EXITS;
}

#define RSEQKIT__SI_PUSH(FIELD, FO)					\
	__asm__ __volatile__ goto (					\
		RSEQKIT__SI_HEAD(FIELD, RSEQKIT__CS_EXIT("%l[eq]"))	\
		"movq (%[p]), %%rax\n\t"				\
		"cmpq %[expectnot], %%rax\n\t"				\
		"je %l[eq]\n\t"						\
		RSEQKIT__INJ(2)						\
		"movq %%rax, %[v2]\n\t"					\
		RSEQKIT__INJ(3)						\
		"movq %[newv], (%[p])\n\t"				\
		RSEQKIT__CS_END						\
		: RSEQKIT__SI_OUT, [v2] "=m" (*v2)			\
		: RSEQKIT__SI_IN(FO), [expectnot] "r" (expectnot),	\
		  [newv] "r" (newv) RSEQKIT__INJ_IN			\
		: "memory", "cc", "rax" RSEQKIT__INJ_CLOB		\
		: aborted, unreg, eq)

static inline __attribute__((always_inline)) int
rseqkit__si_load_cbeq_store_store_ptr(ptrdiff_t rs, ptrdiff_t fo, void *base,
		intptr_t expectnot, intptr_t *v2, intptr_t newv, unsigned long *idxp)
{
	unsigned long idx;
	uintptr_t p;

	RSEQKIT_INJECT_C(0);
	RSEQKIT__SI(RSEQKIT__SI_PUSH);
	RSEQKIT__SI_TAIL;
	return 0;
eq:
	return 1;
	RSEQKIT__SI_EXITS;
}

#undef RSEQKIT__SI_PUSH
#undef RSEQKIT__SI_POP
#undef RSEQKIT__SI_CBNE_STORE
#undef RSEQKIT__SI_ADD
#undef RSEQKIT__SI_EXITS
#undef RSEQKIT__SI_TAIL
#undef RSEQKIT__SI
#undef RSEQKIT__SI_IN
#undef RSEQKIT__SI_OUT
#undef RSEQKIT__SI_START
#undef RSEQKIT__SI_HEAD
#endif /* RSEQKIT__ASM_GOTO_OUTPUT */

#undef RSEQKIT__X86_OPS

#ifdef __cplusplus
}
#endif

#endif /* RSEQKIT_ARCH_X86_64_PERCPU_H */
