// SPDX-License-Identifier: MIT
/*
 * R7: a libc that publishes __rseq_size == 32 means "the original 20 usable
 * bytes" (glibc 2.35 .. 2.39 did so for its 32-byte registration), not 32
 * usable bytes: the library must report legacy mode, 20 usable bytes and
 * only the fields that end by byte 20 (cpu_id_start, cpu_id, rseq_cs, flags),
 * so node_id, mm_cid and slice_ctrl are never read from such an area.
 *
 * The value is faked by this program's own definition of __rseq_size, which
 * the library's (weak) reference resolves to in the dynamically linked host
 * build; glibc itself still registers its area and keeps __rseq_offset. In
 * the fully static build libc.a's definition wins (ours is weak), so that
 * build can only say the fake is not in effect and skips.
 */
#include <stddef.h>
#include <stdint.h>

#include <rseqkit/rseqkit.h>
#include "tap.h"

/* The interposed value under test: glibc 2.35's "32 means 20". */
__attribute__((weak)) const unsigned int __rseq_size = RSEQKIT_ORIG_SIZE;

#define FIELDS_OF_20 (RSEQKIT_FIELD_CPU_ID_START | RSEQKIT_FIELD_CPU_ID | \
		      RSEQKIT_FIELD_RSEQ_CS | RSEQKIT_FIELD_FLAGS)

int main(void)
{
	/* Read through memory: the compiler would fold our own initializer. */
	unsigned int seen = *(const volatile unsigned int *)&__rseq_size;
	struct rseqkit_mode m;
	int r;

	if (seen != RSEQKIT_ORIG_SIZE)
		tap_skip_all("R7: __rseq_size == 32 cannot be faked in this build (libc's own "
			     "definition, %u, wins in a static link)", seen);
	r = rseqkit_get_mode(&m);
	if (m.owner != RSEQKIT_OWNER_LIBC)
		tap_skip_all("R7: libc did not register rseq here (owner %s: %s)",
			     rseqkit_owner_name(m.owner), m.reason);
	tap_ok(r == 0, "R7: __rseq_size 32: rseqkit_get_mode() -> 0 (got %d)", r);
	tap_ok(m.usable_size == RSEQKIT_LEGACY_USABLE_SIZE,
	       "R7: __rseq_size 32 means 20 usable bytes (got %u)", m.usable_size);
	tap_ok(m.fields == FIELDS_OF_20,
	       "R7: __rseq_size 32: usable fields are cpu_id_start, cpu_id, rseq_cs, flags "
	       "(0x%x; got 0x%x)", FIELDS_OF_20, m.fields);
	tap_ok(m.abi == RSEQKIT_ABI_LEGACY,
	       "R7: __rseq_size 32 is glibc's 32-byte legacy registration (got %s)",
	       rseqkit_abi_mode_name(m.abi));
	tap_ok(m.registered_len == RSEQKIT_ORIG_SIZE,
	       "R7: __rseq_size 32: registered length 32 (got %u)", m.registered_len);
	return tap_done();
}
