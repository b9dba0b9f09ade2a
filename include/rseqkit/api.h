/* SPDX-License-Identifier: MIT */
/*
 * rseqkit/api.h - marks the library's exported symbols. librseqkit is built
 * with -fvisibility=hidden and a version script; RSEQKIT_API is what makes a
 * function or variable part of the ABI (recorded in abi/librseqkit.symbols).
 */
#ifndef RSEQKIT_API_H
#define RSEQKIT_API_H

#ifndef RSEQKIT_API
# define RSEQKIT_API __attribute__((visibility("default")))
#endif

#endif /* RSEQKIT_API_H */
