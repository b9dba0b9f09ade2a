/* SPDX-License-Identifier: MIT */
/* Library-internal declarations (never installed). */
#ifndef RSEQKIT_INTERNAL_H
#define RSEQKIT_INTERNAL_H

#define RSEQKIT_API __attribute__((visibility("default")))

#include <stdbool.h>
#include <stdint.h>

__attribute__((format(printf, 1, 2)))
void rseqkit__diag(const char *fmt, ...);
_Noreturn void rseqkit__fatal(const char *file, int line, const char *cause);
#define RSEQKIT_FATAL(cause) rseqkit__fatal(__FILE__, __LINE__, cause)

/* The process-wide decision of registration.c, valid after rseqkit_init(). */
struct rseqkit_mode;
const struct rseqkit_mode *rseqkit__mode(void);

/* slice.c: rseq(2) flags for rseqkit's registrations (DEFAULT_ON or 0). */
uint32_t rseqkit__slice_register_flags(uint32_t kernel_feature_size);

#endif /* RSEQKIT_INTERNAL_H */
