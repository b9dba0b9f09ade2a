/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * rseqkit/abi.h - prefixed mirror of the Linux RSEQ uAPI (doc/abi.md R1, R2).
 *
 * The numbers are those of upstream Linux 7.1, so a binary built against this
 * header runs unchanged on 7.1+, on the patched 6.12 of this project, and
 * degrades on older kernels. Everything is prefixed so this header can be
 * included next to <linux/rseq.h> of any vintage.
 */
#ifndef RSEQKIT_ABI_H
#define RSEQKIT_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* R1: system call numbers. */
#if defined(__x86_64__)
# define RSEQKIT_NR_rseq		334
# define RSEQKIT_NR_rseq_slice_yield	471
#elif defined(__aarch64__) || defined(__riscv)
# define RSEQKIT_NR_rseq		293
# define RSEQKIT_NR_rseq_slice_yield	471
#elif defined(__alpha__)
# define RSEQKIT_NR_rseq_slice_yield	581
#else
# error "rseqkit: unsupported architecture"
#endif

/* R1: rseq(2) flags. */
#define RSEQKIT_FLAG_UNREGISTER			(1U << 0)
#define RSEQKIT_FLAG_SLICE_EXT_DEFAULT_ON	(1U << 1)

/* R1: rseq->flags bits, written by the kernel only. Bits 0-2 are the
 * historical NO_RESTART bits (must stay 0), bit 3 is a gap. */
#define RSEQKIT_CS_FLAG_SLICE_EXT_AVAILABLE	(1U << 4)
#define RSEQKIT_CS_FLAG_SLICE_EXT_ENABLED	(1U << 5)

/* R1: prctl interface of time slice extensions. */
#define RSEQKIT_PR_RSEQ_SLICE_EXTENSION		79
#define RSEQKIT_PR_RSEQ_SLICE_EXTENSION_GET	1
#define RSEQKIT_PR_RSEQ_SLICE_EXTENSION_SET	2
#define RSEQKIT_PR_RSEQ_SLICE_EXT_ENABLE	0x1

/* R1: auxiliary vector types. */
#define RSEQKIT_AT_RSEQ_FEATURE_SIZE	27
#define RSEQKIT_AT_RSEQ_ALIGN		28

/* R1: kernel-internal errno the slice prctl leaks to user space. */
#define RSEQKIT_ENOTSUPP	524

/* R1: the signature preceding every abort handler (kernel selftests' value). */
#if defined(__x86_64__)
# define RSEQKIT_SIG	0x53053053U
#elif defined(__aarch64__)
# define RSEQKIT_SIG	0xd428bc00U
#endif

/* Values of cpu_id outside a registration. */
#define RSEQKIT_CPU_ID_UNINITIALIZED		(-1)
#define RSEQKIT_CPU_ID_REGISTRATION_FAILED	(-2)

/* Sizes: the original 32-byte area, what 6.3..6.19 exposed, and ours (R2). */
#define RSEQKIT_ORIG_SIZE		32U
#define RSEQKIT_LEGACY_USABLE_SIZE	20U	/* __rseq_size == 32 means this */
#define RSEQKIT_FEATURE_SIZE_V2		33U
#define RSEQKIT_ALIGN_V2		64U

/* rseq_cs descriptor: aligned to 32 bytes, version 0. */
struct rseqkit_abi_cs {
	uint32_t version;
	uint32_t flags;
	uint64_t start_ip;
	uint64_t post_commit_offset;
	uint64_t abort_ip;
} __attribute__((aligned(32)));

/* slice_ctrl: one 32-bit word, or the request / granted bytes (R2, R6.3). */
union rseqkit_abi_slice_ctrl {
	uint32_t all;
	struct {
		uint8_t request;	/* user space sets; user or kernel clears */
		uint8_t granted;	/* kernel only */
		uint16_t reserved;
	} s;
};

struct rseqkit_abi_rseq {
	uint32_t cpu_id_start;	/* kernel only */
	uint32_t cpu_id;	/* kernel only */
	uint64_t rseq_cs;	/* user sets, kernel clears */
	uint32_t flags;		/* kernel only (R1 feature bits) */
	uint32_t node_id;	/* kernel only */
	uint32_t mm_cid;	/* kernel only */
	union rseqkit_abi_slice_ctrl slice_ctrl;
	uint8_t reserved;	/* makes the feature size 33 */
#ifndef __cplusplus
	char end[];		/* offsetof(end) == feature size (C only) */
#endif
} __attribute__((aligned(32)));

/* Every offset the asm and the kernel contract rely on (R2). */
#define RSEQKIT_OFF_CPU_ID_START	0
#define RSEQKIT_OFF_CPU_ID		4
#define RSEQKIT_OFF_RSEQ_CS		8
#define RSEQKIT_OFF_FLAGS		16
#define RSEQKIT_OFF_NODE_ID		20
#define RSEQKIT_OFF_MM_CID		24
#define RSEQKIT_OFF_SLICE_CTRL		28
#define RSEQKIT_OFF_SLICE_REQUEST	28
#define RSEQKIT_OFF_SLICE_GRANTED	29
#define RSEQKIT_OFF_RESERVED		32
#define RSEQKIT_OFF_END			33

#define RSEQKIT_CS_OFF_VERSION		0
#define RSEQKIT_CS_OFF_FLAGS		4
#define RSEQKIT_CS_OFF_START_IP		8
#define RSEQKIT_CS_OFF_POST_COMMIT	16
#define RSEQKIT_CS_OFF_ABORT_IP		24

/* offsetofend(): a field is usable iff the registered feature size covers it. */
#define RSEQKIT_OFFSETOFEND(type, member) \
	(offsetof(type, member) + sizeof(((type *)0)->member))

#ifdef __cplusplus
# define RSEQKIT_STATIC_ASSERT(c, m) static_assert(c, m)
# define RSEQKIT_ALIGNOF(t) alignof(t)
#else
# define RSEQKIT_STATIC_ASSERT(c, m) _Static_assert(c, m)
# define RSEQKIT_ALIGNOF(t) _Alignof(t)
#endif

RSEQKIT_STATIC_ASSERT(offsetof(struct rseqkit_abi_rseq, cpu_id_start) == RSEQKIT_OFF_CPU_ID_START, "R2 cpu_id_start");
RSEQKIT_STATIC_ASSERT(offsetof(struct rseqkit_abi_rseq, cpu_id) == RSEQKIT_OFF_CPU_ID, "R2 cpu_id");
RSEQKIT_STATIC_ASSERT(offsetof(struct rseqkit_abi_rseq, rseq_cs) == RSEQKIT_OFF_RSEQ_CS, "R2 rseq_cs");
RSEQKIT_STATIC_ASSERT(offsetof(struct rseqkit_abi_rseq, flags) == RSEQKIT_OFF_FLAGS, "R2 flags");
RSEQKIT_STATIC_ASSERT(offsetof(struct rseqkit_abi_rseq, node_id) == RSEQKIT_OFF_NODE_ID, "R2 node_id");
RSEQKIT_STATIC_ASSERT(offsetof(struct rseqkit_abi_rseq, mm_cid) == RSEQKIT_OFF_MM_CID, "R2 mm_cid");
RSEQKIT_STATIC_ASSERT(offsetof(struct rseqkit_abi_rseq, slice_ctrl) == RSEQKIT_OFF_SLICE_CTRL, "R2 slice_ctrl");
RSEQKIT_STATIC_ASSERT(offsetof(struct rseqkit_abi_rseq, slice_ctrl.s.request) == RSEQKIT_OFF_SLICE_REQUEST, "R2 request");
RSEQKIT_STATIC_ASSERT(offsetof(struct rseqkit_abi_rseq, slice_ctrl.s.granted) == RSEQKIT_OFF_SLICE_GRANTED, "R2 granted");
RSEQKIT_STATIC_ASSERT(sizeof(union rseqkit_abi_slice_ctrl) == 4, "R2 slice_ctrl is one 32-bit word");
RSEQKIT_STATIC_ASSERT(offsetof(struct rseqkit_abi_rseq, reserved) == RSEQKIT_OFF_RESERVED, "R2 reserved byte");
#ifndef __cplusplus
RSEQKIT_STATIC_ASSERT(offsetof(struct rseqkit_abi_rseq, end) == RSEQKIT_OFF_END, "R2 end");
#endif
RSEQKIT_STATIC_ASSERT(RSEQKIT_OFFSETOFEND(struct rseqkit_abi_rseq, reserved) == RSEQKIT_OFF_END, "R2 end");
RSEQKIT_STATIC_ASSERT(RSEQKIT_OFF_END == RSEQKIT_FEATURE_SIZE_V2, "R1 feature size 33");
RSEQKIT_STATIC_ASSERT(RSEQKIT_ALIGNOF(struct rseqkit_abi_rseq) == 32, "R2 uAPI alignment 32");
RSEQKIT_STATIC_ASSERT(offsetof(struct rseqkit_abi_cs, start_ip) == RSEQKIT_CS_OFF_START_IP, "rseq_cs start_ip");
RSEQKIT_STATIC_ASSERT(offsetof(struct rseqkit_abi_cs, post_commit_offset) == RSEQKIT_CS_OFF_POST_COMMIT, "rseq_cs post_commit_offset");
RSEQKIT_STATIC_ASSERT(offsetof(struct rseqkit_abi_cs, abort_ip) == RSEQKIT_CS_OFF_ABORT_IP, "rseq_cs abort_ip");
RSEQKIT_STATIC_ASSERT(sizeof(struct rseqkit_abi_cs) == 32, "rseq_cs is 32 bytes");

#ifdef __cplusplus
}
#endif

#endif /* RSEQKIT_ABI_H */
