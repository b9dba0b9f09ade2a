/* SPDX-License-Identifier: MIT */
/*
 * rseqkit/diag.h - the library's only voice. librseqkit never prints on its
 * own; it hands messages to one hook (default: none). It aborts only on ABI
 * incoherence (the kernel contradicting the spec), after reporting the file,
 * line and cause through the hook and on stderr.
 */
#ifndef RSEQKIT_DIAG_H
#define RSEQKIT_DIAG_H

#include <rseqkit/api.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*rseqkit_diag_fn)(const char *msg, void *arg);

/* Install the hook (NULL: silence). Returns the previous hook.
 * Not thread-safe against concurrent calls to itself. */
RSEQKIT_API rseqkit_diag_fn rseqkit_set_diag_hook(rseqkit_diag_fn fn, void *arg);

#ifdef __cplusplus
}
#endif

#endif /* RSEQKIT_DIAG_H */
