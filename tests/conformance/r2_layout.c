// SPDX-License-Identifier: MIT
/*
 * R2: the layout of struct rseq, observed at run time - the offsets are the
 * spec's table, written here as plain numbers and read as raw bytes, not
 * taken from the project's header (whose offsetof()s only static asserts
 * check). A pattern-filled area is registered; the kernel's writes must land
 * exactly at: cpu_id_start 0..3, cpu_id 4..7 (both the current CPU), rseq_cs
 * 8..15 (cleared), flags 16..19, node_id 20..23 (the current node), mm_cid
 * 24..27 (a small concurrency id), slice_ctrl 28..31 (V2 with slice
 * extensions compiled in: cleared), and nowhere else (byte 32, the reserved
 * byte that makes the feature size 33, and the rest of the area keep the
 * pattern). After a migration the two CPU fields at 0 and 4 follow.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ct_rseq.h"
#include "tap.h"

/* The spec's table (R2), deliberately not the header's offsetof(). */
#define OFF_CPU_ID_START 0
#define OFF_CPU_ID 4
#define OFF_RSEQ_CS 8
#define OFF_FLAGS 16
#define OFF_NODE_ID 20
#define OFF_MM_CID 24
#define OFF_SLICE_CTRL 28
#define OFF_RESERVED 32
#define SPAN 64
#define PATTERN 0x5a

static struct kfeat k;

static uint32_t u32_at(const unsigned char *p, int off)
{
	uint32_t v;

	memcpy(&v, p + off, sizeof(v));
	return v;
}

static uint64_t u64_at(const unsigned char *p, int off)
{
	uint64_t v;

	memcpy(&v, p + off, sizeof(v));
	return v;
}

static void run(enum ct_mode m)
{
	const char *mn = ct_mode_name(m), *why;
	uint32_t len = ct_mode_len(&k, m);
	unsigned char *p, snap[SPAN];
	unsigned int cpu, node, cpu2, node2;
	int kernel_end, untouched = 0;
	bool slice_word = m == CT_V2 && (k.slice == KFEAT_SLICE_ON || k.slice == KFEAT_SLICE_OFF);

	if (!ct_mode_usable(&k, m, &why)) {
		tap_skip("R2 %s: layout at run time: %s", mn, why);
		return;
	}
	p = ct_alloc(CT_PAGE, CT_PAGE);
	memset(p, PATTERN, CT_PAGE);
	if (!k.v2)
		memset(p + OFF_FLAGS, 0, 4);	/* a pre-V2 kernel never writes flags */
	if (ct_getcpu(&cpu, &node) || tap_pin_cpu((int)cpu))
		tap_bail("getcpu/pin: %s", tap_errno_name(errno));
	if (ct_register(p, len, 0)) {
		tap_ok(false, "R2 %s: registration (len %u): %s", mn, len, tap_errno_name(errno));
		free(p);
		return;
	}
	memcpy(snap, p, SPAN);
	tap_ok(u32_at(snap, OFF_CPU_ID_START) == cpu && u32_at(snap, OFF_CPU_ID) == cpu,
	       "R2 %s: cpu_id_start at byte 0 and cpu_id at byte 4 hold the current CPU %u (got %u, %u)",
	       mn, cpu, u32_at(snap, OFF_CPU_ID_START), u32_at(snap, OFF_CPU_ID));
	tap_ok(u64_at(snap, OFF_RSEQ_CS) == 0, "R2 %s: rseq_cs at bytes 8..15 cleared (got 0x%llx)",
	       mn, (unsigned long long)u64_at(snap, OFF_RSEQ_CS));
	tap_ok(u32_at(snap, OFF_NODE_ID) == node, "R2 %s: node_id at byte 20 = node %u (got %u)",
	       mn, node, u32_at(snap, OFF_NODE_ID));
	tap_ok(u32_at(snap, OFF_MM_CID) < (uint32_t)sysconf(_SC_NPROCESSORS_CONF),
	       "R2 %s: mm_cid at byte 24 is a concurrency id < %ld (got 0x%x)", mn,
	       sysconf(_SC_NPROCESSORS_CONF), u32_at(snap, OFF_MM_CID));
	tap_ok((u32_at(snap, OFF_FLAGS) & 0xffffffcfU) == 0,
	       "R2 %s: flags at byte 16 hold only the slice bits 4 and 5 (got 0x%x)", mn,
	       u32_at(snap, OFF_FLAGS));
	if (slice_word)
		tap_ok(u32_at(snap, OFF_SLICE_CTRL) == 0,
		       "R2 %s: slice_ctrl at bytes 28..31 cleared (got 0x%x)", mn,
		       u32_at(snap, OFF_SLICE_CTRL));
	/* Nothing written past the fields this mode has. */
	kernel_end = slice_word ? OFF_RESERVED : OFF_SLICE_CTRL;
	for (int i = kernel_end; i < SPAN; i++)
		untouched += snap[i] == PATTERN;
	tap_ok(untouched == SPAN - kernel_end,
	       "R2 %s: bytes %d..%d (the reserved byte 32 included) keep the pattern (%d of %d)",
	       mn, kernel_end, SPAN - 1, untouched, SPAN - kernel_end);

	if (ct_ncpus() < 2) {
		tap_skip("R2 %s: CPU fields follow a migration: needs 2 CPUs", mn);
	} else {
		int other = ct_cpu(0) == (int)cpu ? ct_cpu(1) : ct_cpu(0);

		tap_pin_cpu(other);
		ct_getcpu(&cpu2, &node2);
		tap_ok(u32_at(p, OFF_CPU_ID_START) == cpu2 && u32_at(p, OFF_CPU_ID) == cpu2,
		       "R2 %s: after a migration to CPU %u the kernel rewrote bytes 0 and 4 (got %u, %u)",
		       mn, cpu2, u32_at(p, OFF_CPU_ID_START), u32_at(p, OFF_CPU_ID));
	}
	ct_unregister(p, len);
	free(p);
}

int main(int argc, char **argv)
{
	(void)argc;
	ct_start(argv, &k, "R2");
	run(CT_LEGACY);
	run(CT_V2);
	return tap_done();
}
