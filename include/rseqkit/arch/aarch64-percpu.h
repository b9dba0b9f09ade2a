/* SPDX-License-Identifier: MIT */
/*
 * rseqkit/arch/aarch64-percpu.h - per-CPU operations on aarch64.
 *
 * STATUS: the next architecture. The critical sections are not written yet,
 * so every operation below runs its fallback (per-index lock, see
 * <rseqkit/percpu.h>): correct, slower, and the same API. Porting means
 * replacing each body with an asm goto critical section laid out exactly as
 * in arch/x86_64-percpu.h:
 *
 *   - descriptor in __rseq_cs (.balign 32, version 0, flags 0, start_ip,
 *     post_commit_offset, abort_ip), its address in __rseq_cs_ptr_array,
 *     one { start_ip, exit } pair per comparison failure in
 *     __rseq_exit_point_array;
 *   - store the descriptor address to rseq_cs (str to [tp + offset + 8],
 *     tp = mrs tpidr_el0), then ldr/cmp the index field (cpu_id, or mm_cid
 *     when rseqkit__percpu_field() says so), b.ne abort;
 *   - comparisons b.ne to the C labels, the final str is the commit
 *     (stlr for the _release variants);
 *   - abort handler in __rseq_failure preceded by .inst RSEQKIT_SIG
 *     (0xd428bc00, a brk #0x45e0), then b to the C abort label, which calls
 *     rseqkit__percpu_aborted() exactly like the x86 file;
 *   - the same injection points (RSEQKIT_INJECT) and static asserts.
 * Nothing in the generic headers or src/ depends on x86.
 */
#ifndef RSEQKIT_ARCH_AARCH64_PERCPU_H
#define RSEQKIT_ARCH_AARCH64_PERCPU_H

#ifndef RSEQKIT_PERCPU_H
# error "include <rseqkit/percpu.h>, not this file"
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define RSEQKIT_ARCH_HAS_PERCPU	0

/* A 32-bit field of the calling thread's area, off bytes from the thread
 * pointer (volatile: the kernel changes it). */
static inline uint32_t rseqkit__area_load_u32(ptrdiff_t off)
{
	return *(const volatile uint32_t *)((char *)rseqkit_arch_thread_pointer() + off);
}

/* The operations as the generic wrappers of <rseqkit/percpu.h> call them:
 * rs = rseqkit_rseq_offset, field = offset of the checked index field. */
#define RSEQKIT__A64_OPS(sfx, T)						\
static inline int rseqkit__load_cbne_store_##sfx##_at(ptrdiff_t rs,		\
		ptrdiff_t field, int idx, T *v, T expect, T newv)		\
{										\
	(void)rs;								\
	(void)field;								\
	RSEQKIT_INJECT_C(0);							\
	return rseqkit__fb_load_cbne_store_##sfx(idx, v, expect, newv);		\
}										\
static inline int rseqkit__load_add_store_##sfx##_at(ptrdiff_t rs,		\
		ptrdiff_t field, int idx, T *v, T count)			\
{										\
	(void)rs;								\
	(void)field;								\
	RSEQKIT_INJECT_C(0);							\
	return rseqkit__fb_load_add_store_##sfx(idx, v, count);			\
}										\
static inline int rseqkit__load_cbne_load_cbne_store_##sfx##_at(ptrdiff_t rs,	\
		ptrdiff_t field, int idx, T *v, T expect, T *v2, T expect2,	\
		T newv)								\
{										\
	(void)rs;								\
	(void)field;								\
	RSEQKIT_INJECT_C(0);							\
	return rseqkit__fb_load_cbne_load_cbne_store_##sfx(idx, v, expect, v2,	\
							   expect2, newv);	\
}										\
static inline int rseqkit__load_cbne_store_store_##sfx##_at(ptrdiff_t rs,	\
		ptrdiff_t field, int idx, T *v, T expect, T *v2, T newv2,	\
		T newv)								\
{										\
	(void)rs;								\
	(void)field;								\
	RSEQKIT_INJECT_C(0);							\
	return rseqkit__fb_load_cbne_store_store_##sfx(idx, v, expect, v2,	\
						       newv2, newv);		\
}										\
static inline int rseqkit__load_cbne_store_store_release_##sfx##_at(		\
		ptrdiff_t rs, ptrdiff_t field, int idx, T *v, T expect, T *v2,	\
		T newv2, T newv)						\
{										\
	return rseqkit__load_cbne_store_store_##sfx##_at(rs, field, idx, v,	\
						       expect, v2, newv2, newv); \
}										\
static inline int rseqkit__load_cbne_memcpy_store_##sfx##_at(ptrdiff_t rs,	\
		ptrdiff_t field, int idx, T *v, T expect, void *dst,		\
		const void *src, size_t len, T newv)				\
{										\
	(void)rs;								\
	(void)field;								\
	RSEQKIT_INJECT_C(0);							\
	return rseqkit__fb_load_cbne_memcpy_store_##sfx(idx, v, expect, dst,	\
							src, len, newv);	\
}										\
static inline int rseqkit__load_cbne_memcpy_store_release_##sfx##_at(		\
		ptrdiff_t rs, ptrdiff_t field, int idx, T *v, T expect,		\
		void *dst, const void *src, size_t len, T newv)			\
{										\
	return rseqkit__load_cbne_memcpy_store_##sfx##_at(rs, field, idx, v,	\
						expect, dst, src, len, newv);	\
}

RSEQKIT__A64_OPS(u32, uint32_t)
RSEQKIT__A64_OPS(u64, uint64_t)

static inline int rseqkit__load_cbeq_store_add_load_store_ptr_at(ptrdiff_t rs,
		ptrdiff_t field, int idx, intptr_t *v, intptr_t expectnot, long voffp,
		intptr_t *load)
{
	(void)rs;
	(void)field;
	RSEQKIT_INJECT_C(0);
	return rseqkit__fb_load_cbeq_store_add_load_store_ptr(idx, v, expectnot, voffp, load);
}

static inline int rseqkit__load_add_load_load_add_store_ptr_at(ptrdiff_t rs,
		ptrdiff_t field, int idx, intptr_t *ptr, long off, intptr_t inc)
{
	(void)rs;
	(void)field;
	RSEQKIT_INJECT_C(0);
	return rseqkit__fb_load_add_load_load_add_store_ptr(idx, ptr, off, inc);
}

#undef RSEQKIT__A64_OPS

#ifdef __cplusplus
}
#endif

#endif /* RSEQKIT_ARCH_AARCH64_PERCPU_H */
