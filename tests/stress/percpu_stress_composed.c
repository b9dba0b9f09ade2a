// SPDX-License-Identifier: MIT
/*
 * percpu_stress on the composed self-indexed sections (rseqkit/percpu.h):
 * the structures' fast paths as aarch64 and compilers without asm goto
 * outputs build them, under the same injections, run here too.
 */
#define RSEQKIT_COMPOSED_SI 1
#include "percpu_stress.c"
