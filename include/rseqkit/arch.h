/* SPDX-License-Identifier: MIT */
/*
 * rseqkit/arch.h - selects the architecture layer. Each architecture is one
 * file set under arch/ (primitives here; critical sections in arch/<arch>-*.h).
 * Generic code uses only the rseqkit_arch_* names.
 */
#ifndef RSEQKIT_ARCH_H
#define RSEQKIT_ARCH_H

#include <rseqkit/abi.h>	/* field offsets the primitives hard-code */

#if defined(__x86_64__)
# include <rseqkit/arch/x86_64.h>
#elif defined(__aarch64__)
# include <rseqkit/arch/aarch64.h>
#else
# error "rseqkit: unsupported architecture (x86_64 and aarch64 are)"
#endif

#endif /* RSEQKIT_ARCH_H */
