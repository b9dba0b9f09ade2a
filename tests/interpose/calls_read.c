// SPDX-License-Identifier: MIT
/* calls.c with RSEQKIT_SLICE_LOCKS_READ=1: the read side of rwlocks holds too. */
#define CALLS_EXTRA_ENV "RSEQKIT_SLICE_LOCKS_READ=1"
#include "calls.c"
