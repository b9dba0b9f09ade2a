/* SPDX-License-Identifier: MIT */
/*
 * rseqkit/rseqkit.h - the umbrella header of librseqkit.
 */
#ifndef RSEQKIT_RSEQKIT_H
#define RSEQKIT_RSEQKIT_H

#include <rseqkit/abi.h>
#include <rseqkit/diag.h>
#include <rseqkit/thread.h>
#include <rseqkit/slice.h>
#include <rseqkit/lock.h>

#endif /* RSEQKIT_RSEQKIT_H */
