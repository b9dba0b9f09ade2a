// SPDX-License-Identifier: MIT
/*
 * A test-only shared object whose whole job is to take static TLS: one
 * initial-exec block of TLS_FILLER_BYTES. tests/unit/static_tls_full
 * dlopen()s copies of it to fill glibc's static TLS surplus before it
 * loads librseqkit.so there.
 */
#define TLS_FILLER_BYTES 16

__thread char tls_filler[TLS_FILLER_BYTES] __attribute__((tls_model("initial-exec"), aligned(16)));

int tls_filler_size(void);

/* Touches the block, so that it is this object's TLS the loader places. */
int tls_filler_size(void)
{
	tls_filler[0] = 1;
	return (int)sizeof(tls_filler);
}
