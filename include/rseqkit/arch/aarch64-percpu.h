/* SPDX-License-Identifier: MIT */
/*
 * rseqkit/arch/aarch64-percpu.h - the per-CPU operations of <rseqkit/percpu.h>
 * as aarch64 RSEQ critical sections (asm goto). Include <rseqkit/percpu.h>.
 *
 * Layout of every operation (the labels are local to one asm statement), the
 * same as arch/x86_64-percpu.h:
 *
 *   __rseq_cs:                3: { version 0, flags 0, start_ip 1f,
 *                                  post_commit_offset 2f - 1f, abort_ip 4f }
 *   __rseq_cs_ptr_array:      &3b           (tools enumerate descriptors)
 *   __rseq_exit_point_array:  { 1f, exit }  per comparison-failure exit
 *   text:        adrp x17, 3b; add x17, x17, :lo12:3b
 *                str x17, [tp, rseq_cs(area)]
 *             1: ldr w17, [tp, cpu_id or mm_cid]; cmp w17, idx; b.ne 4f
 *                ... comparisons (branches to C labels), injection loops ...
 *                final store (commit): str, or stlr for the _release variants
 *             2:
 *   subsection 1 of the text: .inst RSEQKIT_SIG (brk #0x45e0: the 4 bytes
 *             4:   before abort_ip are the signature), b to the C abort label
 *
 * The thread's area is addressed from the thread pointer (tp = tpidr_el0,
 * passed in a register the compiler keeps across a loop) plus the offsets
 * rseqkit_rseq_offset + field, the same for every thread.
 * Release variants: the commit is a store-release (stlr), so every load and
 * store of the section before it (the memcpy, the second store) is visible
 * to a thread that reads the committed word with a load-acquire.
 *
 * Scratch registers: x17 (descriptor address, then the index check), x16
 * (data), x15 (injection loop counters), x14 (memcpy index).
 */
#ifndef RSEQKIT_ARCH_AARCH64_PERCPU_H
#define RSEQKIT_ARCH_AARCH64_PERCPU_H

#ifndef RSEQKIT_PERCPU_H
# error "include <rseqkit/percpu.h>, not this file"
#endif

#ifdef __AARCH64EB__
# error "rseqkit: big-endian aarch64 is not supported (the signature's code and data bytes differ)"
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define RSEQKIT_ARCH_HAS_PERCPU	1

/* The signature as the assembler spells it: the instruction brk #0x45e0,
 * which traps if anything ever jumps to it. */
#define RSEQKIT__A64_SIG	0xd428bc00

/* Every offset and constant the asm below hard-codes. */
RSEQKIT_STATIC_ASSERT(RSEQKIT__A64_SIG == RSEQKIT_SIG, "aarch64 signature (brk #0x45e0)");
RSEQKIT_STATIC_ASSERT(offsetof(struct rseqkit_abi_rseq, rseq_cs) == RSEQKIT_OFF_RSEQ_CS,
		      "asm stores the descriptor at RSEQKIT_OFF_RSEQ_CS");
RSEQKIT_STATIC_ASSERT(sizeof(((struct rseqkit_abi_rseq *)0)->rseq_cs) == 8,
		      "rseq_cs is stored with a 64-bit str");
RSEQKIT_STATIC_ASSERT(offsetof(struct rseqkit_abi_rseq, cpu_id) == RSEQKIT_OFF_CPU_ID,
		      "asm compares cpu_id at RSEQKIT_OFF_CPU_ID");
RSEQKIT_STATIC_ASSERT(offsetof(struct rseqkit_abi_rseq, mm_cid) == RSEQKIT_OFF_MM_CID,
		      "asm compares mm_cid at RSEQKIT_OFF_MM_CID");
RSEQKIT_STATIC_ASSERT(sizeof(((struct rseqkit_abi_rseq *)0)->cpu_id) == 4 &&
		      sizeof(((struct rseqkit_abi_rseq *)0)->mm_cid) == 4,
		      "ldr w17 of 32-bit index fields");
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
		      "LP64: quad pointers, x registers");
RSEQKIT_STATIC_ASSERT(sizeof(int) == 4 && sizeof(rseqkit_inject_loops[0]) == 4,
		      "injection loop counters: ldr w15, [inj, #4n]");

/* A 32-bit field of the calling thread's area, off bytes from the thread
 * pointer: one load. Volatile: the kernel changes it. */
static inline uint32_t rseqkit__area_load_u32(ptrdiff_t off)
{
	uint32_t v;

	__asm__ __volatile__ ("ldr %w0, [%1, %2]"
			      : "=r" (v) : "r" (rseqkit_arch_thread_pointer()), "r" (off));
	return v;
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

/* rscs: rseqkit_rseq_offset + RSEQKIT_OFF_RSEQ_CS; field: offset of the
 * index field. Both from the thread pointer tp. */
#define RSEQKIT__CS_START						\
	"adrp x17, 3b\n\t"						\
	"add x17, x17, :lo12:3b\n\t"					\
	"str x17, [%[tp], %[rscs]]\n\t"					\
	"1:\n\t"							\
	"ldr w17, [%[tp], %[field]]\n\t"				\
	"cmp w17, %w[idx]\n\t"						\
	"b.ne 4f\n\t"

/*
 * The abort handler goes to subsection 1 of the section the compiler emits
 * the function into (the end of that function's or object's text), not to
 * a section of its own as on x86_64: the index check's b.ne reaches only
 * +-1 MiB, and a separate section is placed after all of a program's text.
 */
#define RSEQKIT__CS_END							\
	"2:\n\t"							\
	".subsection 1\n\t"						\
	".balign 4\n\t"						\
	".inst " RSEQKIT__STR(RSEQKIT__A64_SIG) "\n\t"			\
	"4:\n\t"							\
	"b %l[aborted]\n\t"						\
	".subsection 0\n\t"

/* Injection: a countdown of rseqkit_inject_loops[n] iterations. */
#ifdef RSEQKIT_INJECT
# define RSEQKIT__INJ(n)						\
	"ldr w15, [%[inj], #" #n " * 4]\n\t"				\
	"cbz w15, 333f\n\t"						\
	"222:\n\t"							\
	"subs w15, w15, #1\n\t"						\
	"b.ne 222b\n\t"							\
	"333:\n\t"
# define RSEQKIT__INJ_IN	, [inj] "r" (rseqkit_inject_loops)
# define RSEQKIT__INJ_CLOB	, "x15"
#else
# define RSEQKIT__INJ(n)	""
# define RSEQKIT__INJ_IN
# define RSEQKIT__INJ_CLOB
#endif

/* asm goto with output operands: gcc >= 11, clang >= 11 (see x86_64). */
#if (defined(__clang__) && __clang_major__ >= 11) || \
    (!defined(__clang__) && defined(__GNUC__) && __GNUC__ >= 11)
# define RSEQKIT__ASM_GOTO_OUTPUT 1
#else
# define RSEQKIT__ASM_GOTO_OUTPUT 0
#endif

/* load_add_store: the word as an output, no "memory" clobber when allowed
 * (relaxed, see arch/x86_64-percpu.h). */
#if RSEQKIT__ASM_GOTO_OUTPUT
# define RSEQKIT__ADD_OUT(v)	[v] "+Qo" (*(v))
# define RSEQKIT__ADD_IN(v)
# ifdef RSEQKIT_INJECT
#  define RSEQKIT__ADD_CLOB	"memory", "cc"
# else
#  define RSEQKIT__ADD_CLOB	"cc"
# endif
#else
# define RSEQKIT__ADD_OUT(v)
# define RSEQKIT__ADD_IN(v)	[v] "Qo" (*(v)),
# define RSEQKIT__ADD_CLOB	"memory", "cc"
#endif

#define RSEQKIT__CS_IN(rs, field, idx)					\
	[tp] "r" (rseqkit_arch_thread_pointer()),			\
	[rscs] "r" ((rs) + RSEQKIT_OFF_RSEQ_CS), [field] "r" (field),	\
	[idx] "r" (idx)

#define RSEQKIT__CS_CLOB	"memory", "cc", "x16", "x17" RSEQKIT__INJ_CLOB

/*
 * The abort path: one out-of-line call, rseqkit__fb_<op>() registers the
 * thread and returns -EAGAIN, or runs the fallback (see <rseqkit/percpu.h>).
 */
#define RSEQKIT__ABORTED(fallback)					\
aborted:								\
	RSEQKIT_INJECT_C(4);						\
	return fallback

/*
 * One width: sfx (u32/u64), type T, register prefix R ("w" or "x": the
 * operand modifier and the scratch register names). Values the section
 * stores may be the constant 0 ("rZ": wzr/xzr, no register loaded).
 */
#define RSEQKIT__A64_CBNE_STORE(sfx, T, R, name, ST, VC)			\
static inline __attribute__((always_inline)) int				\
rseqkit__##name##_##sfx##_at(ptrdiff_t rs, ptrdiff_t field, int idx, T *v,	\
			     T expect, T newv)					\
{										\
	RSEQKIT_INJECT_C(0);							\
	__asm__ __volatile__ goto (						\
		RSEQKIT__CS_TABLE						\
		RSEQKIT__CS_EXIT("%l[ne]")					\
		RSEQKIT__CS_START						\
		RSEQKIT__INJ(1)							\
		"ldr " R "16, %[v]\n\t"						\
		"cmp " R "16, %" R "[expect]\n\t"				\
		"b.ne %l[ne]\n\t"						\
		RSEQKIT__INJ(2)							\
		RSEQKIT__INJ(3)							\
		ST " %" R "[newv], %[v]\n\t"					\
		RSEQKIT__CS_END							\
		: /* no outputs */						\
		: RSEQKIT__CS_IN(rs, field, idx), [v] VC (*v),			\
		  [expect] "r" (expect), [newv] "rZ" (newv) RSEQKIT__INJ_IN	\
		: RSEQKIT__CS_CLOB						\
		: aborted, ne);							\
	return 0;								\
ne:										\
	return 1;								\
	RSEQKIT__ABORTED(rseqkit__fb_load_cbne_store_##sfx(idx, v, expect, newv)); \
}

#define RSEQKIT__A64_CBNE_STORE_STORE(sfx, T, R, name, ST, VC)			\
static inline __attribute__((always_inline)) int				\
rseqkit__##name##_##sfx##_at(ptrdiff_t rs, ptrdiff_t field, int idx, T *v,	\
			     T expect, T *v2, T newv2, T newv)			\
{										\
	RSEQKIT_INJECT_C(0);							\
	__asm__ __volatile__ goto (						\
		RSEQKIT__CS_TABLE						\
		RSEQKIT__CS_EXIT("%l[ne]")					\
		RSEQKIT__CS_START						\
		RSEQKIT__INJ(1)							\
		"ldr " R "16, %[v]\n\t"						\
		"cmp " R "16, %" R "[expect]\n\t"				\
		"b.ne %l[ne]\n\t"						\
		RSEQKIT__INJ(2)							\
		"str %" R "[newv2], %[v2]\n\t"					\
		RSEQKIT__INJ(3)							\
		ST " %" R "[newv], %[v]\n\t"					\
		RSEQKIT__CS_END							\
		: /* no outputs */						\
		: RSEQKIT__CS_IN(rs, field, idx), [v] VC (*v),			\
		  [expect] "r" (expect), [v2] "Qo" (*v2),			\
		  [newv2] "rZ" (newv2), [newv] "rZ" (newv) RSEQKIT__INJ_IN	\
		: RSEQKIT__CS_CLOB						\
		: aborted, ne);							\
	return 0;								\
ne:										\
	return 1;								\
	RSEQKIT__ABORTED(rseqkit__fb_load_cbne_store_store_##sfx(idx, v,	\
			 expect, v2, newv2, newv));				\
}

/* The copy: 8 bytes at a time while 8 remain, then bytes (x14 = offset;
 * unaligned accesses are fine on normal memory). */
#define RSEQKIT__A64_CBNE_MEMCPY_STORE(sfx, T, R, name, ST, VC)		\
static inline __attribute__((always_inline)) int				\
rseqkit__##name##_##sfx##_at(ptrdiff_t rs, ptrdiff_t field, int idx, T *v,	\
			     T expect, void *dst, const void *src, size_t len,	\
			     T newv)						\
{										\
	RSEQKIT_INJECT_C(0);							\
	__asm__ __volatile__ goto (						\
		RSEQKIT__CS_TABLE						\
		RSEQKIT__CS_EXIT("%l[ne]")					\
		RSEQKIT__CS_START						\
		RSEQKIT__INJ(1)							\
		"ldr " R "16, %[v]\n\t"						\
		"cmp " R "16, %" R "[expect]\n\t"				\
		"b.ne %l[ne]\n\t"						\
		RSEQKIT__INJ(2)							\
		"mov x14, xzr\n\t"						\
		"5:\n\t"							\
		"add x16, x14, #8\n\t"						\
		"cmp x16, %[len]\n\t"						\
		"b.hi 6f\n\t"							\
		"ldr x16, [%[src], x14]\n\t"					\
		"str x16, [%[dst], x14]\n\t"					\
		"add x14, x14, #8\n\t"						\
		"b 5b\n\t"							\
		"6:\n\t"							\
		"cmp x14, %[len]\n\t"						\
		"b.hs 7f\n\t"							\
		"ldrb w16, [%[src], x14]\n\t"					\
		"strb w16, [%[dst], x14]\n\t"					\
		"add x14, x14, #1\n\t"						\
		"b 6b\n\t"							\
		"7:\n\t"							\
		RSEQKIT__INJ(3)							\
		ST " %" R "[newv], %[v]\n\t"					\
		RSEQKIT__CS_END							\
		: /* no outputs */						\
		: RSEQKIT__CS_IN(rs, field, idx), [v] VC (*v),			\
		  [expect] "r" (expect), [dst] "r" (dst), [src] "r" (src),	\
		  [len] "r" (len), [newv] "rZ" (newv) RSEQKIT__INJ_IN		\
		: RSEQKIT__CS_CLOB, "x14"					\
		: aborted, ne);							\
	return 0;								\
ne:										\
	return 1;								\
	RSEQKIT__ABORTED(rseqkit__fb_load_cbne_memcpy_store_##sfx(idx, v,	\
			 expect, dst, src, len, newv));				\
}

#define RSEQKIT__A64_OPS(sfx, T, R)						\
static inline __attribute__((always_inline)) int				\
rseqkit__load_add_store_##sfx##_at(ptrdiff_t rs, ptrdiff_t field, int idx, T *v, T count)	\
{										\
	RSEQKIT_INJECT_C(0);							\
	__asm__ __volatile__ goto (						\
		RSEQKIT__CS_TABLE						\
		RSEQKIT__CS_START						\
		RSEQKIT__INJ(1)							\
		"ldr " R "16, %[v]\n\t"						\
		"add " R "16, " R "16, %" R "[count]\n\t"			\
		RSEQKIT__INJ(3)							\
		"str " R "16, %[v]\n\t"						\
		RSEQKIT__CS_END							\
		: RSEQKIT__ADD_OUT(v)						\
		: RSEQKIT__ADD_IN(v) RSEQKIT__CS_IN(rs, field, idx),		\
		  [count] "r" (count) RSEQKIT__INJ_IN				\
		: RSEQKIT__ADD_CLOB, "x16", "x17" RSEQKIT__INJ_CLOB		\
		: aborted);							\
	return 0;								\
	RSEQKIT__ABORTED(rseqkit__fb_load_add_store_##sfx(idx, v, count));	\
}										\
										\
static inline __attribute__((always_inline)) int				\
rseqkit__load_cbne_load_cbne_store_##sfx##_at(ptrdiff_t rs, ptrdiff_t field, int idx, T *v,	\
					T expect, T *v2, T expect2, T newv)	\
{										\
	RSEQKIT_INJECT_C(0);							\
	__asm__ __volatile__ goto (						\
		RSEQKIT__CS_TABLE						\
		RSEQKIT__CS_EXIT("%l[ne]")					\
		RSEQKIT__CS_EXIT("%l[ne2]")					\
		RSEQKIT__CS_START						\
		RSEQKIT__INJ(1)							\
		"ldr " R "16, %[v]\n\t"						\
		"cmp " R "16, %" R "[expect]\n\t"				\
		"b.ne %l[ne]\n\t"						\
		RSEQKIT__INJ(2)							\
		"ldr " R "16, %[v2]\n\t"					\
		"cmp " R "16, %" R "[expect2]\n\t"				\
		"b.ne %l[ne2]\n\t"						\
		RSEQKIT__INJ(3)							\
		"str %" R "[newv], %[v]\n\t"					\
		RSEQKIT__CS_END							\
		: /* no outputs */						\
		: RSEQKIT__CS_IN(rs, field, idx), [v] "Qo" (*v),		\
		  [expect] "r" (expect), [v2] "Qo" (*v2),			\
		  [expect2] "r" (expect2), [newv] "rZ" (newv) RSEQKIT__INJ_IN	\
		: RSEQKIT__CS_CLOB						\
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
RSEQKIT__A64_CBNE_STORE(sfx, T, R, load_cbne_store, "str", "Qo")		\
RSEQKIT__A64_CBNE_STORE_STORE(sfx, T, R, load_cbne_store_store, "str", "Qo")	\
RSEQKIT__A64_CBNE_STORE_STORE(sfx, T, R, load_cbne_store_store_release, "stlr", "Q") \
RSEQKIT__A64_CBNE_MEMCPY_STORE(sfx, T, R, load_cbne_memcpy_store, "str", "Qo")	\
RSEQKIT__A64_CBNE_MEMCPY_STORE(sfx, T, R, load_cbne_memcpy_store_release, "stlr", "Q")

RSEQKIT__A64_OPS(u32, uint32_t, "w")
RSEQKIT__A64_OPS(u64, uint64_t, "x")


/* List pop (pointer width): see rseqkit_ref_load_cbeq_store_add_load_store_ptr. */
static inline __attribute__((always_inline)) int
rseqkit__load_cbeq_store_add_load_store_ptr_at(ptrdiff_t rs, ptrdiff_t field, int idx,
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
		"ldr %[head], %[v]\n\t"
		"cmp %[head], %[expectnot]\n\t"
		"b.eq %l[eq]\n\t"
		RSEQKIT__INJ(2)
		"ldr x16, [%[head], %[voffp]]\n\t"
		RSEQKIT__INJ(3)
		"str x16, %[v]\n\t"
		RSEQKIT__CS_END
		: [head] "=&r" (head)
		: RSEQKIT__CS_IN(rs, field, idx), [v] "Qo" (*v), [expectnot] "r" (expectnot),
		  [voffp] "r" (voffp) RSEQKIT__INJ_IN
#else
		"ldr x16, %[v]\n\t"
		"cmp x16, %[expectnot]\n\t"
		"b.eq %l[eq]\n\t"
		RSEQKIT__INJ(2)
		"str x16, %[load]\n\t"
		"ldr x16, [x16, %[voffp]]\n\t"
		RSEQKIT__INJ(3)
		"str x16, %[v]\n\t"
		RSEQKIT__CS_END
		: /* no outputs */
		: RSEQKIT__CS_IN(rs, field, idx), [v] "Qo" (*v), [expectnot] "r" (expectnot),
		  [voffp] "r" (voffp), [load] "Qo" (*load) RSEQKIT__INJ_IN
#endif
		: RSEQKIT__CS_CLOB
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
rseqkit__load_add_load_load_add_store_ptr_at(ptrdiff_t rs, ptrdiff_t field, int idx,
		intptr_t *ptr, long off, intptr_t inc)
{
	RSEQKIT_INJECT_C(0);
	__asm__ __volatile__ goto (
		RSEQKIT__CS_TABLE
		RSEQKIT__CS_START
		RSEQKIT__INJ(1)
		"ldr x16, %[ptr]\n\t"
		"add x16, x16, %[off]\n\t"
		RSEQKIT__INJ(2)
		"ldr x16, [x16]\n\t"
		"ldr x17, [x16]\n\t"
		"add x17, x17, %[inc]\n\t"
		RSEQKIT__INJ(3)
		"str x17, [x16]\n\t"
		RSEQKIT__CS_END
		: /* no outputs */
		: RSEQKIT__CS_IN(rs, field, idx), [ptr] "Qo" (*ptr), [off] "r" (off),
		  [inc] "r" (inc) RSEQKIT__INJ_IN
		: RSEQKIT__CS_CLOB
		: aborted);
	return 0;
	RSEQKIT__ABORTED(rseqkit__fb_load_add_load_load_add_store_ptr(idx, ptr, off, inc));
}

#undef RSEQKIT__A64_OPS
#undef RSEQKIT__A64_CBNE_STORE
#undef RSEQKIT__A64_CBNE_STORE_STORE
#undef RSEQKIT__A64_CBNE_MEMCPY_STORE

#ifdef __cplusplus
}
#endif

#endif /* RSEQKIT_ARCH_AARCH64_PERCPU_H */
