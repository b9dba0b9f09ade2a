/* SPDX-License-Identifier: MIT */
/* Internals shared by percpu.c, membarrier.c and the data structures. */
#ifndef RSEQKIT_PERCPU_INTERNAL_H
#define RSEQKIT_PERCPU_INTERNAL_H

#include <rseqkit/percpu.h>

/* Wait until no fallback operation on idx (every index if idx < 0) is in
 * flight: the fallback mode's equivalent of an RSEQ fence. */
void rseqkit__fb_fence(int idx);

/*
 * Entries of the calling thread into the fallback code: every locked
 * operation, the atomic-add fallbacks, and the index refresh (an
 * operation's abort path in rseq mode returns before counting). Only
 * counted, never read by the library: tests that link the static library
 * read it to prove a thread ran its operations as critical sections
 * (tests/unit/percpu_rseq_path.c).
 */
extern __thread unsigned long rseqkit__fb_thread_entries
	__attribute__((tls_model("initial-exec")));

/* The first step of the data structures' slow paths (their fast path found
 * no registered area): -EAGAIN once the calling thread is registered (the
 * fast path works now), else the fallbacks' index for kind. */
int rseqkit__fb_index(enum rseqkit_index kind);

/* Aligned, zeroed allocation of n slots of size sz (a multiple of the
 * cache line); NULL on failure. Free with free(). */
void *rseqkit__slots_alloc(size_t n, size_t sz);

/* Drain protocol on a count word whose bit 63 means "stopped" (ptrbuf,
 * membuf): steps 1-3 of rseqkit/percpu.h. Returns 0 with *count the stable
 * count (the word left stopped), or the fence error (word restored). */
int rseqkit__stop_count(uint64_t *word, int fence_cpu, uint64_t *count);
/* Serializes drains (every structure): held from stopping a slot until it
 * is published again (rseqkit__drain_wait() in rseqkit/percpu.h). */
void rseqkit__drain_lock(void);
void rseqkit__drain_unlock(void);
/* A drain holds a stopped slot: injection point RSEQKIT_INJECT_DRAIN. */
void rseqkit__drain_stopped(void);

/*
 * The bounded buffers' shared core (ptrbuf, membuf): slots of { count word,
 * block of capacity items of item_size bytes }, cache-line aligned.
 * rseqkit__buf_drain() moves up to max items (the most recent first) of
 * slot idx into out with the drain protocol; returns the number moved or
 * the fence error.
 */
void *rseqkit__buf_slots_alloc(int nr, size_t capacity, size_t item_size);
void rseqkit__buf_slots_free(void *slots, int nr);
long rseqkit__buf_drain(void *slots, int idx, int fence_cpu, size_t item_size, void *out,
			size_t max);

#endif /* RSEQKIT_PERCPU_INTERNAL_H */
