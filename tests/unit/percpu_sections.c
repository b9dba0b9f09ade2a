// SPDX-License-Identifier: MIT
/*
 * The sections the per-CPU operations emit (rseqkit/arch/<arch>-percpu.h),
 * as debuggers and tools read them: every pointer of __rseq_cs_ptr_array
 * designates a descriptor in __rseq_cs (version 0, flags 0, 32-byte
 * aligned), whose abort handler lies outside the section and is preceded by
 * RSEQKIT_SIG (a descriptor without it would kill the thread, spec R4); each
 * __rseq_exit_point_array pair starts at a descriptor's start_ip. Checked
 * on this program's own instances of every operation.
 */
#include <stdio.h>
#include <string.h>

#include <rseqkit/counter.h>
#include <rseqkit/cpulock.h>
#include <rseqkit/freelist.h>
#include <rseqkit/membuf.h>
#include <rseqkit/percpu.h>
#include <rseqkit/ptrbuf.h>
#include "tap.h"

/* Section bounds, provided by the linker for C-identifier section names. */
extern const struct rseqkit_abi_cs __start___rseq_cs[] __attribute__((weak));
extern const struct rseqkit_abi_cs __stop___rseq_cs[] __attribute__((weak));
extern const uint64_t __start___rseq_cs_ptr_array[] __attribute__((weak));
extern const uint64_t __stop___rseq_cs_ptr_array[] __attribute__((weak));
extern const uint64_t __start___rseq_exit_point_array[] __attribute__((weak));
extern const uint64_t __stop___rseq_exit_point_array[] __attribute__((weak));

/* Instantiate every operation (never run: only their sections matter). */
static volatile int never;

static void instances(void)
{
	uint32_t a32 = 0, b32 = 0;
	uint64_t a64 = 0, b64 = 0;
	intptr_t p = 0, l = 0;
	char buf[8];

	if (!never)
		return;
	rseqkit_load_cbne_store_u32(RSEQKIT_INDEX_CPU_ID, 0, &a32, 0, 1);
	rseqkit_load_cbne_store_u64(RSEQKIT_INDEX_CPU_ID, 0, &a64, 0, 1);
	rseqkit_load_add_store_u32(RSEQKIT_INDEX_CPU_ID, 0, &a32, 1);
	rseqkit_load_add_store_u64(RSEQKIT_INDEX_CPU_ID, 0, &a64, 1);
	rseqkit_load_cbne_load_cbne_store_u32(RSEQKIT_INDEX_CPU_ID, 0, &a32, 0, &b32, 0, 1);
	rseqkit_load_cbne_load_cbne_store_u64(RSEQKIT_INDEX_CPU_ID, 0, &a64, 0, &b64, 0, 1);
	rseqkit_load_cbne_store_store_u32(RSEQKIT_INDEX_CPU_ID, 0, &a32, 0, &b32, 1, 1);
	rseqkit_load_cbne_store_store_u64(RSEQKIT_INDEX_CPU_ID, 0, &a64, 0, &b64, 1, 1);
	rseqkit_load_cbne_memcpy_store_u32(RSEQKIT_INDEX_CPU_ID, 0, &a32, 0, buf, buf, 8, 1);
	rseqkit_load_cbne_memcpy_store_u64(RSEQKIT_INDEX_CPU_ID, 0, &a64, 0, buf, buf, 8, 1);
	rseqkit_load_cbeq_store_add_load_store_ptr(RSEQKIT_INDEX_CPU_ID, 0, &p, 0, 0, &l);
	rseqkit_load_add_load_load_add_store_ptr(RSEQKIT_INDEX_CPU_ID, 0, &p, 0, 1);
}

int main(void)
{
	const uint64_t *pp;
	long ndesc, nptr, nexit, bad_ptr = 0, bad_desc = 0, bad_sig = 0, bad_exit = 0;

	instances();
	if (!__start___rseq_cs || !__start___rseq_cs_ptr_array) {
		tap_ok(false, "__rseq_cs and __rseq_cs_ptr_array exist in this program");
		return tap_done();
	}
	ndesc = __stop___rseq_cs - __start___rseq_cs;
	nptr = __stop___rseq_cs_ptr_array - __start___rseq_cs_ptr_array;
	nexit = __start___rseq_exit_point_array ?
		(__stop___rseq_exit_point_array - __start___rseq_exit_point_array) / 2 : 0;
	tap_diag("%ld descriptors, %ld pointers, %ld exit points", ndesc, nptr, nexit);
	tap_ok(ndesc >= 12 && nptr == ndesc, "one pointer per descriptor (%ld, %ld; >= 12 "
	       "operations instantiated)", nptr, ndesc);
	for (pp = __start___rseq_cs_ptr_array; pp < __stop___rseq_cs_ptr_array; pp++) {
		const struct rseqkit_abi_cs *cs = (const struct rseqkit_abi_cs *)(uintptr_t)*pp;
		uint32_t sig;

		if (cs < __start___rseq_cs || cs >= __stop___rseq_cs || ((uintptr_t)cs & 31)) {
			bad_ptr++;
			continue;
		}
		if (cs->version || cs->flags || !cs->post_commit_offset ||
		    (cs->abort_ip >= cs->start_ip &&
		     cs->abort_ip < cs->start_ip + cs->post_commit_offset))
			bad_desc++;
		memcpy(&sig, (const void *)(uintptr_t)(cs->abort_ip - 4), 4);
		if (sig != RSEQKIT_SIG)
			bad_sig++;
	}
	tap_ok(!bad_ptr, "every pointer designates a 32-byte aligned descriptor in __rseq_cs "
	       "(%ld bad)", bad_ptr);
	tap_ok(!bad_desc, "descriptors: version 0, flags 0, abort_ip outside "
	       "[start_ip, start_ip + post_commit_offset) (%ld bad)", bad_desc);
	tap_ok(!bad_sig, "R1: every abort handler is preceded by RSEQKIT_SIG 0x%x (%ld bad)",
	       RSEQKIT_SIG, bad_sig);
	for (long i = 0; i < nexit; i++) {
		uint64_t start = __start___rseq_exit_point_array[2 * i];
		bool found = false;

		for (const struct rseqkit_abi_cs *cs = __start___rseq_cs; cs < __stop___rseq_cs; cs++)
			found |= cs->start_ip == start;
		bad_exit += !found;
	}
	tap_ok(nexit >= 10 && !bad_exit, "%ld exit points, each at a descriptor's start_ip "
	       "(%ld bad)", nexit, bad_exit);
	return tap_done();
}
