/* SPDX-License-Identifier: MIT */
/*
 * rseqkit/percpu-pseudocode.h - what each per-CPU operation of
 * <rseqkit/percpu.h> does, written as plain C.
 *
 * Each rseqkit_ref_*() function below is the exact meaning of the operation
 * of the same name, as if the whole body ran as one indivisible step on the
 * CPU (or concurrency ID) whose slot it touches. The real operations run the
 * body as an RSEQ critical section that the kernel aborts when the thread is
 * preempted, migrated or signalled before its final store (the "commit");
 * the fallbacks run it under a per-index lock. Stores before the commit
 * (store_store's first store, memcpy) may be visible after an abort, as in
 * any RSEQ critical section: structures put them where nothing reads them
 * until the commit publishes them.
 *
 * Return values: 0 committed, >0 a comparison failed (nothing stored),
 * and the real operations also return <0 when aborted (caller retries).
 * The unit tests use these functions as oracles.
 *
 * Names read left to right: load, cbne = "compare, branch (fail) if not
 * equal", cbeq = "compare, branch (fail) if equal", add, store, memcpy.
 */
#ifndef RSEQKIT_PERCPU_PSEUDOCODE_H
#define RSEQKIT_PERCPU_PSEUDOCODE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RSEQKIT__REF_WIDTH(sfx, T)						\
/* if (*v != expect) fail; *v = newv; */				\
static inline int rseqkit_ref_load_cbne_store_##sfx(T *v, T expect, T newv)	\
{									\
	if (*v != expect)						\
		return 1;						\
	*v = newv;							\
	return 0;							\
}									\
/* *v += count; */							\
static inline int rseqkit_ref_load_add_store_##sfx(T *v, T count)		\
{									\
	*v = (T)(*v + count);						\
	return 0;							\
}									\
/* if (*v != expect) fail 1; if (*v2 != expect2) fail 2; *v = newv; */	\
static inline int rseqkit_ref_load_cbne_load_cbne_store_##sfx(T *v, T expect,	\
		T *v2, T expect2, T newv)					\
{									\
	if (*v != expect)						\
		return 1;						\
	if (*v2 != expect2)						\
		return 2;						\
	*v = newv;							\
	return 0;							\
}									\
/* if (*v != expect) fail; *v2 = newv2; *v = newv; */			\
static inline int rseqkit_ref_load_cbne_store_store_##sfx(T *v, T expect,	\
		T *v2, T newv2, T newv)						\
{									\
	if (*v != expect)						\
		return 1;						\
	*v2 = newv2;							\
	*v = newv;							\
	return 0;							\
}									\
/* if (*v != expect) fail; memcpy(dst, src, len); *v = newv; */		\
static inline int rseqkit_ref_load_cbne_memcpy_store_##sfx(T *v, T expect,	\
		void *dst, const void *src, size_t len, T newv)			\
{									\
	if (*v != expect)						\
		return 1;						\
	memcpy(dst, src, len);						\
	*v = newv;							\
	return 0;							\
}

RSEQKIT__REF_WIDTH(u32, uint32_t)
RSEQKIT__REF_WIDTH(u64, uint64_t)

/*
 * List pop: if (*v == expectnot) fail; *load = *v; *v = *(*v + voffp);
 * i.e. head = *v; if (head == expectnot) fail; *load = head;
 *      *v = head->next (the word at byte offset voffp of the head).
 */
static inline int rseqkit_ref_load_cbeq_store_add_load_store_ptr(intptr_t *v,
		intptr_t expectnot, long voffp, intptr_t *load)
{
	intptr_t head = *v;

	if (head == expectnot)
		return 1;
	*load = head;
	*v = *(intptr_t *)(head + voffp);
	return 0;
}

/*
 * Indirect add: t = *ptr; t += off; p = *(intptr_t *)t; *p += inc;
 * i.e. add inc to the word that the pointer found at byte offset off of
 * the object *ptr points to designates.
 */
static inline int rseqkit_ref_load_add_load_load_add_store_ptr(intptr_t *ptr,
		long off, intptr_t inc)
{
	intptr_t t = *ptr + off;
	intptr_t *p = *(intptr_t **)t;

	*p += inc;
	return 0;
}

#undef RSEQKIT__REF_WIDTH

#ifdef __cplusplus
}
#endif

#endif /* RSEQKIT_PERCPU_PSEUDOCODE_H */
