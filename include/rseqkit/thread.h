/* SPDX-License-Identifier: MIT */
/*
 * rseqkit/thread.h - who registered RSEQ for this process, in which mode,
 * and cheap reads of cpu_id, node_id and mm_cid.
 *
 * Ownership (doc/abi.md R7): when glibc registered the thread
 * (__rseq_size > 0) rseqkit uses glibc's area and never re-registers.
 * Otherwise rseqkit registers its own per-thread area, the same length for
 * every thread: max(AT_RSEQ_FEATURE_SIZE, 32) bytes aligned to
 * max(AT_RSEQ_ALIGN, 32), so V2 on a V2 kernel. Threads register lazily (the
 * first per-CPU operation or read that finds cpu_id < 0) and unregister when
 * they exit. The decision is taken once per process, so legacy and V2 are
 * never mixed.
 *
 * Every thread finds its area at the same offset from its thread pointer
 * (glibc's __rseq_offset, or the offset of rseqkit's initial-exec TLS area),
 * which is what makes the reads below a load or two.
 */
#ifndef RSEQKIT_THREAD_H
#define RSEQKIT_THREAD_H

#include <rseqkit/api.h>

#include <stddef.h>
#include <stdint.h>

#include <rseqkit/abi.h>
#include <rseqkit/arch.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Who registered the calling process's threads. */
enum rseqkit_owner {
	RSEQKIT_OWNER_NONE = 0,	/* nobody: rseq unavailable, fallbacks in use */
	RSEQKIT_OWNER_LIBC,	/* glibc >= 2.35 registered, rseqkit uses its area */
	RSEQKIT_OWNER_SELF,	/* rseqkit registered its own area */
};

/* Which kernel behaviour the registration selected (R3.2, R4). */
enum rseqkit_abi_mode {
	RSEQKIT_ABI_NONE = 0,
	RSEQKIT_ABI_LEGACY = 1,	/* 32-byte registration */
	RSEQKIT_ABI_V2 = 2,	/* feature-size registration (>= 33 bytes) */
};

/* Usable fields of struct rseqkit_abi_rseq (bit set iff usable_size covers it). */
#define RSEQKIT_FIELD_CPU_ID_START	(1U << 0)
#define RSEQKIT_FIELD_CPU_ID		(1U << 1)
#define RSEQKIT_FIELD_RSEQ_CS		(1U << 2)
#define RSEQKIT_FIELD_FLAGS		(1U << 3)
#define RSEQKIT_FIELD_NODE_ID		(1U << 4)
#define RSEQKIT_FIELD_MM_CID		(1U << 5)
#define RSEQKIT_FIELD_SLICE_CTRL	(1U << 6)

struct rseqkit_mode {
	enum rseqkit_owner owner;
	enum rseqkit_abi_mode abi;
	uint32_t registered_len;	/* len given to rseq(2); 0 if none */
	uint32_t usable_size;		/* bytes of the area the kernel maintains */
	uint32_t fields;		/* RSEQKIT_FIELD_* */
	uint32_t kernel_feature_size;	/* AT_RSEQ_FEATURE_SIZE, 20 if absent */
	uint32_t kernel_align;		/* AT_RSEQ_ALIGN, 32 if absent */
	uint32_t sig;			/* abort signature of the registration */
	int error;			/* errno that made rseq unavailable, else 0 */
	char libc_version[16];		/* "2.36" */
	char reason[400];		/* plain-words explanation of the above */
};

/*
 * rseqkit_init() - decide ownership and mode for the process (idempotent,
 * thread-safe; also run from a library constructor).
 * Returns 0 when RSEQ is usable, or a negative errno when it is not (the
 * library then works through its fallbacks):
 *   -ENOSYS  the kernel has no rseq(2), or a seccomp filter denies it
 *   -EPERM   a seccomp filter or LSM refused rseq(2)
 *   -EBUSY   the thread was registered by someone rseqkit cannot see
 *            (not glibc), so rseqkit cannot own registrations
 *   other    the errno rseq(2) returned for the first registration
 */
RSEQKIT_API int rseqkit_init(void);

/* rseqkit_get_mode() - copy the process-wide decision into *m.
 * Returns 0, or -EINVAL if m is NULL. Thread-safe. */
RSEQKIT_API int rseqkit_get_mode(struct rseqkit_mode *m);

/*
 * rseqkit_thread_register() - make sure the calling thread is registered.
 * Returns 0 when it is (by glibc or by rseqkit), or a negative errno:
 *   -ENOSYS/-EPERM  rseq unavailable for the process (see rseqkit_init)
 *   -EBUSY   another library registered this thread with another area
 *   -EINVAL/-EFAULT  the kernel refused the registration (ABI incoherence)
 */
RSEQKIT_API int rseqkit_thread_register(void);

/*
 * rseqkit_thread_unregister() - drop rseqkit's registration of the calling
 * thread (not needed at thread exit: the kernel drops it then, and the area
 * stays valid until then). Once rseqkit registered a thread, the library
 * stays loaded (RTLD_NODELETE): dlclose() cannot unmap the static TLS the
 * kernel writes to. Returns 0, or:
 *   -EPERM   glibc owns the registration (rseqkit never unregisters it)
 *   -ENOENT  the thread is not registered by rseqkit
 *   other    the errno of rseq(2)
 */
RSEQKIT_API int rseqkit_thread_unregister(void);

/* Name of an owner / mode for messages: "none", "glibc", "rseqkit";
 * "unavailable", "legacy", "V2". */
RSEQKIT_API const char *rseqkit_owner_name(enum rseqkit_owner o);
RSEQKIT_API const char *rseqkit_abi_mode_name(enum rseqkit_abi_mode m);

/* Slow paths of the reads below (registration, getcpu fallback). */
RSEQKIT_API int rseqkit_cpu_slow(void);
RSEQKIT_API int rseqkit_node_slow(void);
RSEQKIT_API int rseqkit_mm_cid_slow(void);

/* Offset of the area from the thread pointer and the usable-field mask;
 * written once by rseqkit_init(), read-only afterwards. */
extern RSEQKIT_API ptrdiff_t rseqkit_rseq_offset;
extern RSEQKIT_API uint32_t rseqkit_rseq_fields;

/*
 * rseqkit_rseq_offset for the inline fast paths. It is written once, by the
 * library's constructor, before anything can use it; on x86_64 and aarch64
 * it is read by an asm statement without memory inputs, which tells the
 * compiler it is a constant: kept in a register and hoisted out of loops, where a plain
 * load would be redone after every critical section ("memory" clobbers, and
 * its type aliases the uint64_t words the sections update) and after every
 * abort-path call.
 */
static inline __attribute__((always_inline)) ptrdiff_t rseqkit__rs(void)
{
#if defined(__x86_64__)
	ptrdiff_t v;

# if defined(__PIC__)
	__asm__ ("movq rseqkit_rseq_offset@GOTPCREL(%%rip), %0\n\t"
		 "movq (%0), %0" : "=r" (v));
# else
	__asm__ ("movq rseqkit_rseq_offset(%%rip), %0" : "=r" (v));
# endif
	return v;
#elif defined(__aarch64__)
	ptrdiff_t v;

# if defined(__PIC__)
	__asm__ ("adrp %0, :got:rseqkit_rseq_offset\n\t"
		 "ldr %0, [%0, :got_lo12:rseqkit_rseq_offset]\n\t"
		 "ldr %0, [%0]" : "=r" (v));
# else
	__asm__ ("adrp %0, rseqkit_rseq_offset\n\t"
		 "ldr %0, [%0, :lo12:rseqkit_rseq_offset]" : "=r" (v));
# endif
	return v;
#else
	return rseqkit_rseq_offset;
#endif
}

/*
 * rseqkit_rseq_fields for the inline fast paths, read like rseqkit__rs()
 * (an asm without memory inputs: a constant to the compiler, so a test of
 * it is hoisted out of loops). Only after rseqkit_init(): the compiler may
 * move it before calls.
 */
static inline __attribute__((always_inline)) uint32_t rseqkit__fields(void)
{
#if defined(__x86_64__)
	uint32_t v;

# if defined(__PIC__)
	__asm__ ("movq rseqkit_rseq_fields@GOTPCREL(%%rip), %q0\n\t"
		 "movl (%q0), %0" : "=r" (v));
# else
	__asm__ ("movl rseqkit_rseq_fields(%%rip), %0" : "=r" (v));
# endif
	return v;
#elif defined(__aarch64__)
	uint32_t v;
	uintptr_t p;

# if defined(__PIC__)
	__asm__ ("adrp %1, :got:rseqkit_rseq_fields\n\t"
		 "ldr %1, [%1, :got_lo12:rseqkit_rseq_fields]\n\t"
		 "ldr %w0, [%1]" : "=r" (v), "=&r" (p));
# else
	__asm__ ("adrp %1, rseqkit_rseq_fields\n\t"
		 "ldr %w0, [%1, :lo12:rseqkit_rseq_fields]" : "=r" (v), "=&r" (p));
# endif
	return v;
#else
	return rseqkit_rseq_fields;
#endif
}

/*
 * The base that makes RSEQKIT_OFF_MM_CID address the field an
 * RSEQKIT_INDEX_MM_CID operation really uses: rseqkit_rseq_offset when
 * mm_cid is usable, else 20 bytes lower, where the mm_cid offset lands on
 * cpu_id (such a process indexes mm_cid data by CPU, rseqkit/percpu.h).
 * A constant to the compiler like rseqkit__rs(), so the choice costs the
 * caller's loop nothing.
 */
#define RSEQKIT__MM_SHIFT	20	/* RSEQKIT_OFF_MM_CID - RSEQKIT_OFF_CPU_ID */
RSEQKIT_STATIC_ASSERT(RSEQKIT__MM_SHIFT == RSEQKIT_OFF_MM_CID - RSEQKIT_OFF_CPU_ID &&
		      RSEQKIT_FIELD_MM_CID == 1U << 5, "rseqkit__rs_mm() shifts by 5");
static inline __attribute__((always_inline)) ptrdiff_t rseqkit__rs_mm(void)
{
	/* Arithmetic on the two constants, without flags (a test and a
	 * conditional move stay in the loop): hoisted with them. */
	return rseqkit__rs() - RSEQKIT__MM_SHIFT +
	       (ptrdiff_t)(((rseqkit__fields() >> 5) & 1) * RSEQKIT__MM_SHIFT);
}

/* The calling thread's rseq area (glibc's or rseqkit's). The kernel-owned
 * fields are read-only: never store to them (R4.3 kills V2 writers). */
static inline struct rseqkit_abi_rseq *rseqkit_thread_area(void)
{
	return (struct rseqkit_abi_rseq *)((char *)rseqkit_arch_thread_pointer() +
					   rseqkit__rs());
}

#define RSEQKIT_READ_ONCE_U32(x) (*(const volatile uint32_t *)&(x))

/* Current CPU number: one load when registered. */
static inline int rseqkit_cpu(void)
{
	int32_t cpu = (int32_t)RSEQKIT_READ_ONCE_U32(rseqkit_thread_area()->cpu_id);

	if (__builtin_expect(cpu >= 0, 1))
		return cpu;
	return rseqkit_cpu_slow();
}

/* Current NUMA node (getcpu fallback when the field is not usable). */
static inline int rseqkit_node(void)
{
	struct rseqkit_abi_rseq *rs = rseqkit_thread_area();

	if (__builtin_expect((rseqkit_rseq_fields & RSEQKIT_FIELD_NODE_ID) &&
			     (int32_t)RSEQKIT_READ_ONCE_U32(rs->cpu_id) >= 0, 1))
		return (int)RSEQKIT_READ_ONCE_U32(rs->node_id);
	return rseqkit_node_slow();
}

/*
 * Current memory-map concurrency ID: a small index, unique among the
 * process's threads running at the same time, below min(threads, CPUs).
 * Without a usable mm_cid field the CPU number stands in (also unique among
 * running threads, but bounded by the CPU count instead).
 */
static inline int rseqkit_mm_cid(void)
{
	struct rseqkit_abi_rseq *rs = rseqkit_thread_area();

	if (__builtin_expect((rseqkit_rseq_fields & RSEQKIT_FIELD_MM_CID) &&
			     (int32_t)RSEQKIT_READ_ONCE_U32(rs->cpu_id) >= 0, 1))
		return (int)RSEQKIT_READ_ONCE_U32(rs->mm_cid);
	return rseqkit_mm_cid_slow();
}

#ifdef __cplusplus
}
#endif

#endif /* RSEQKIT_THREAD_H */
