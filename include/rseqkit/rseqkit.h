/* SPDX-License-Identifier: MIT */
/*
 * rseqkit/rseqkit.h - the umbrella header of librseqkit: everything below.
 *
 *   abi.h         the RSEQ uAPI mirror (spec R1, R2)
 *   api.h         RSEQKIT_API, the mark of exported symbols
 *   diag.h        the diagnostic hook
 *   kstats.h      the kernel's RSEQ counters (debugfs rseq/stats)
 *   thread.h      ownership, mode, registration, cpu/node/mm_cid reads
 *   percpu.h      per-CPU operations (restartable sequences) + fallbacks
 *   membarrier.h  membarrier RSEQ fences for cross-CPU work
 *   counter.h, cpulock.h, freelist.h, ptrbuf.h, membuf.h, pool.h
 *                 per-CPU data structures
 *   slice.h       time slice extensions behind one process-wide policy
 *   lock.h        slice-aware spinlock and mutex
 */
#ifndef RSEQKIT_RSEQKIT_H
#define RSEQKIT_RSEQKIT_H

#include <rseqkit/abi.h>
#include <rseqkit/api.h>
#include <rseqkit/diag.h>
#include <rseqkit/kstats.h>
#include <rseqkit/thread.h>
#include <rseqkit/percpu.h>
#include <rseqkit/membarrier.h>
#include <rseqkit/counter.h>
#include <rseqkit/cpulock.h>
#include <rseqkit/freelist.h>
#include <rseqkit/ptrbuf.h>
#include <rseqkit/membuf.h>
#include <rseqkit/pool.h>
#include <rseqkit/slice.h>
#include <rseqkit/lock.h>

#endif /* RSEQKIT_RSEQKIT_H */
