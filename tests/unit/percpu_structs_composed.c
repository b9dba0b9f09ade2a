// SPDX-License-Identifier: MIT
/*
 * percpu_structs on the composed self-indexed sections (rseqkit/percpu.h):
 * the structures' fast paths as aarch64 and compilers without asm goto
 * outputs build them, run here too. RSEQKIT_COMPOSED_SI keeps the x86_64
 * asm sections out.
 */
#define RSEQKIT_COMPOSED_SI 1
#include "percpu_structs.c"
