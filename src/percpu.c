// SPDX-License-Identifier: MIT
/*
 * percpu.c - the out-of-line half of <rseqkit/percpu.h>: the abort path
 * (lazy registration), the fallbacks used when rseq is unavailable, the
 * slot count, rseqkit_prepare_unload() and the injection hooks.
 *
 * Fallback design. RSEQ critical sections on one index are mutually
 * exclusive; so are fallback operations, through fb_locks[idx % FB_LOCKS].
 * Under the lock, each operation is its pseudo-code (percpu-pseudocode.h).
 * load_add_store alone is a lock-free atomic add. Because the choice is made
 * once per process, fast paths and fallbacks never run on the same data.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include <rseqkit/percpu.h>
#include <rseqkit/percpu-pseudocode.h>
#include "internal.h"
#include <rseqkit/membarrier.h>
#include "percpu-internal.h"

int rseqkit_inject_loops[RSEQKIT_INJECT_POINTS];
void (*rseqkit_inject_hook)(int point);

/* 0 undecided, RSEQKIT__PERCPU_RSEQ, RSEQKIT__PERCPU_FALLBACK. */
int rseqkit__percpu_mode;

int rseqkit_percpu_fallback(void)
{
	int s = __atomic_load_n(&rseqkit__percpu_mode, __ATOMIC_ACQUIRE);

	if (__builtin_expect(s != 0, 1))
		return s == RSEQKIT__PERCPU_FALLBACK;
	s = (!RSEQKIT_ARCH_HAS_PERCPU || rseqkit__mode()->owner == RSEQKIT_OWNER_NONE) ?
	    RSEQKIT__PERCPU_FALLBACK : RSEQKIT__PERCPU_RSEQ;
	__atomic_store_n(&rseqkit__percpu_mode, s, __ATOMIC_RELEASE);
	return s == RSEQKIT__PERCPU_FALLBACK;
}

static void fork_prepare(void);
static void fork_parent(void);
static void fork_child(void);

/* Decide right after the registration constructor (101), before main(). */
__attribute__((constructor(102))) static void percpu_ctor(void)
{
	rseqkit_percpu_fallback();
	/* A dlclose()d copy of the library drops its handlers (glibc keys
	 * them by the object's __dso_handle). */
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}

static int nr_slots;

static int parse_possible(void)
{
	char buf[256], *p;
	FILE *f = fopen("/sys/devices/system/cpu/possible", "re");
	long max = -1;

	if (!f)
		return -1;
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		return -1;
	}
	fclose(f);
	/* "0-3,8-11": the largest number seen. */
	for (p = buf; *p; ) {
		char *end;
		long v = strtol(p, &end, 10);

		if (end == p) {
			p++;
			continue;
		}
		if (v > max)
			max = v;
		p = end;
	}
	return max >= 0 ? (int)max + 1 : -1;
}

int rseqkit_percpu_nr_slots(void)
{
	int n = __atomic_load_n(&nr_slots, __ATOMIC_RELAXED);

	if (n > 0)
		return n;
	n = parse_possible();
	if (n < get_nprocs_conf())
		n = get_nprocs_conf();
	if (n < 1)
		n = 1;
	__atomic_store_n(&nr_slots, n, __ATOMIC_RELAXED);
	return n;
}

void *rseqkit__slots_alloc(size_t n, size_t sz)
{
	void *p;

	if (!n || sz > ((size_t)-1) / n)
		return NULL;
	if (posix_memalign(&p, RSEQKIT_CACHELINE, n * sz))
		return NULL;
	memset(p, 0, n * sz);
	return p;
}

/* --- the fallbacks ------------------------------------------------------- */

#define FB_LOCKS 256

/* A lock word holds 0, or the token of the thread that holds it (the
 * address of a thread-local variable: unique among the live threads). */
static struct {
	uintptr_t v;
} __attribute__((aligned(RSEQKIT_CACHELINE))) fb_locks[FB_LOCKS];

static __thread unsigned int fb_ops __attribute__((tls_model("initial-exec")));

static __thread char fb_token __attribute__((tls_model("initial-exec")));

static uintptr_t *fb_lock(int idx)
{
	uintptr_t *l = &fb_locks[(unsigned int)idx % FB_LOCKS].v;
	uintptr_t me = (uintptr_t)&fb_token;
	unsigned int spins = 0;

	/*
	 * A signal handler that runs an operation on the index whose lock the
	 * interrupted code holds would wait forever: say so instead. (With
	 * rseq the handler's section simply aborts the interrupted one; the
	 * fallbacks are async-signal-safe only for load_add_store.)
	 */
	if (__builtin_expect(__atomic_load_n(l, __ATOMIC_RELAXED) == me, 0))
		RSEQKIT_FATAL("per-CPU operation in a signal handler on the index of the "
			      "fallback operation it interrupted (no rseq: only "
			      "load_add_store is async-signal-safe)");

	for (;;) {
		uintptr_t free_ = 0;

		if (__atomic_compare_exchange_n(l, &free_, me, false, __ATOMIC_ACQUIRE,
						__ATOMIC_RELAXED))
			break;
		/* Contended: another thread uses this index; move to the CPU we
		 * are on for the next operations. */
		fb_ops = 0;
		while (__atomic_load_n(l, __ATOMIC_RELAXED)) {
			if (++spins % 128 == 0)
				sched_yield();	/* the holder may be preempted */
			else
				rseqkit_arch_cpu_relax();
		}
	}
	return l;
}

static void fb_unlock(uintptr_t *l)
{
	__atomic_store_n(l, 0, __ATOMIC_RELEASE);
}

void rseqkit__fb_fence(int idx)
{
	if (idx >= 0) {
		fb_unlock(fb_lock(idx));
		return;
	}
	for (int i = 0; i < FB_LOCKS; i++)
		fb_unlock(fb_lock(i));
}

static void fb_refresh_index(void);

/*
 * Every rseqkit__fb_*() is the whole abort path of its inline operation:
 * unless the process uses the fallbacks, register the thread if needed
 * and have the caller retry. (Code compiled against older headers called
 * them only in the fallback mode, where this test passes through.)
 */
#define FB_ABORTED()							\
	do {								\
		if (!rseqkit__percpu_aborted())				\
			return -EAGAIN;					\
	} while (0)

#define FB_LOCKED(idx, call)						\
	do {								\
		uintptr_t *l_;						\
									\
		FB_ABORTED();						\
		fb_refresh_index();					\
		l_ = fb_lock(idx);					\
		int r_ = (call);					\
									\
		fb_unlock(l_);						\
		return r_;						\
	} while (0)

/*
 * The operations that have a _release variant (store_store, memcpy_store)
 * share these fallbacks with it, so they commit with a store-release: a
 * reader outside the lock that loads the committed word with acquire sees
 * the stores before it, also on weakly ordered CPUs (aarch64). Both are
 * "compare, then mid, then commit": FB_CBNE_RELEASE() is that shape.
 * Otherwise every fallback is its reference (rseqkit/percpu-pseudocode.h)
 * under the index's lock, except load_add_store: one atomic add, no lock.
 */
#define FB_CBNE_RELEASE(idx, v, expect, newv, mid)				\
	do {									\
		uintptr_t *l_;							\
		int r_ = 1;							\
										\
		FB_ABORTED();							\
		fb_refresh_index();						\
		l_ = fb_lock(idx);						\
		if (*(v) == (expect)) {						\
			mid;							\
			__atomic_store_n((v), (newv), __ATOMIC_RELEASE);	\
			r_ = 0;							\
		}								\
		fb_unlock(l_);							\
		return r_;							\
	} while (0)

#define FB_WIDTH_OPS(sfx, T)							\
int rseqkit__fb_load_cbne_store_##sfx(int idx, T *v, T expect, T newv)		\
{										\
	FB_LOCKED(idx, rseqkit_ref_load_cbne_store_##sfx(v, expect, newv));	\
}										\
										\
int rseqkit__fb_load_add_store_##sfx(int idx, T *v, T count)			\
{										\
	(void)idx;								\
	FB_ABORTED();								\
	fb_refresh_index();							\
	__atomic_fetch_add(v, count, __ATOMIC_RELAXED);				\
	return 0;								\
}										\
										\
int rseqkit__fb_load_cbne_load_cbne_store_##sfx(int idx, T *v, T expect,	\
		T *v2, T expect2, T newv)					\
{										\
	FB_LOCKED(idx, rseqkit_ref_load_cbne_load_cbne_store_##sfx(v, expect, v2,	\
								   expect2, newv)); \
}										\
										\
int rseqkit__fb_load_cbne_store_store_##sfx(int idx, T *v, T expect, T *v2,	\
		T newv2, T newv)						\
{										\
	FB_CBNE_RELEASE(idx, v, expect, newv, *v2 = newv2);			\
}										\
										\
int rseqkit__fb_load_cbne_memcpy_store_##sfx(int idx, T *v, T expect, void *dst, \
		const void *src, size_t len, T newv)				\
{										\
	FB_CBNE_RELEASE(idx, v, expect, newv, memcpy(dst, src, len));		\
}

FB_WIDTH_OPS(u32, uint32_t)
FB_WIDTH_OPS(u64, uint64_t)

int rseqkit__fb_load_cbeq_store_add_load_store_ptr(int idx, intptr_t *v,
		intptr_t expectnot, long voffp, intptr_t *load)
{
	FB_LOCKED(idx, rseqkit_ref_load_cbeq_store_add_load_store_ptr(v, expectnot, voffp, load));
}

int rseqkit__fb_load_add_load_load_add_store_ptr(int idx, intptr_t *ptr, long off,
		intptr_t inc)
{
	FB_LOCKED(idx, rseqkit_ref_load_add_load_load_add_store_ptr(ptr, off, inc));
}

/* --- abort path and lazy registration ------------------------------------ */

/* Fallback index: cpu_id_start of the (unregistered, library-owned) area
 * holds the CPU of the last sched_getcpu(), so the inline reader needs no
 * test; refreshed every 64 fallback operations and after contention. */
__thread unsigned long rseqkit__fb_thread_entries __attribute__((tls_model("initial-exec")));

static void fb_refresh_index(void)
{
	rseqkit__fb_thread_entries++;
	if (__builtin_expect(fb_ops++ % 64 == 0, 0))
		rseqkit__fb_refresh();
}

void rseqkit__fb_refresh(void)
{
	struct rseqkit_abi_rseq *rs;
	int cpu;

	rseqkit__fb_thread_entries++;

	if (rseqkit__mode()->owner != RSEQKIT_OWNER_NONE)
		return;		/* a kernel-maintained area: never write it */
	cpu = sched_getcpu();
	if (cpu < 0 || cpu >= rseqkit_percpu_nr_slots())
		cpu = 0;
	rs = rseqkit_thread_area();
	__atomic_store_n(&rs->cpu_id_start, (uint32_t)cpu, __ATOMIC_RELAXED);
}

static void must_register(void)
{
	int r = rseqkit_thread_register();

	if (r) {
		rseqkit__diag("rseqkit: per-CPU operation in a thread that cannot be registered "
			      "(%s) while the process uses rseq", strerrorname_np(-r) ?: "?");
		RSEQKIT_FATAL("per-CPU operation in a thread rseq cannot register "
			      "(not created by glibc, or registered by another library)");
	}
}

int rseqkit__percpu_aborted(void)
{
	if (rseqkit_percpu_fallback())
		return 1;	/* the fallback functions refresh the index */
	if ((int32_t)RSEQKIT_READ_ONCE_U32(rseqkit_thread_area()->cpu_id) < 0)
		must_register();
	return 0;
}

int rseqkit__percpu_index_slow(enum rseqkit_index kind)
{
	struct rseqkit_abi_rseq *rs = rseqkit_thread_area();

	if (rseqkit_percpu_fallback()) {
		fb_refresh_index();
		return (int)RSEQKIT_READ_ONCE_U32(rs->cpu_id_start);
	}
	must_register();
	if (kind == RSEQKIT_INDEX_MM_CID && (rseqkit_rseq_fields & RSEQKIT_FIELD_MM_CID))
		return (int)RSEQKIT_READ_ONCE_U32(rs->mm_cid);
	return (int)RSEQKIT_READ_ONCE_U32(rs->cpu_id_start);
}

int rseqkit__fb_index(enum rseqkit_index kind)
{
	int idx = rseqkit__percpu_index_slow(kind);	/* registers, or the fallbacks' */

	return rseqkit_percpu_fallback() ? idx : -EAGAIN;
}

int rseqkit_prepare_unload(void)
{
	struct rseqkit_abi_rseq *rs = rseqkit_thread_area();

	rseqkit_init();
	__atomic_store_n(&rs->rseq_cs, 0, __ATOMIC_RELAXED);
	return (int32_t)RSEQKIT_READ_ONCE_U32(rs->cpu_id) >= 0 ? 0 : -ENOENT;
}

/* --- drains: one lock, waited on by the callers that meet a stopped slot --- */

/*
 * Every drain (freelist, ptrbuf, membuf) holds drain_lock from the moment it
 * stops a slot until the slot is published again, so a caller that meets a
 * stopped slot waits for the drain by taking the lock once. It is a
 * priority-inheritance futex (the word holds the owner's thread id), which
 * makes that wait bounded under real-time scheduling: a SCHED_FIFO caller on
 * the CPU of a preempted SCHED_OTHER drainer lends it its priority instead
 * of spinning over it forever. Not a pthread mutex: the library's internal
 * lock must not be seen by lock interposers (rseqkit run --slice-locks), and
 * the fork child must be able to reset it.
 */
static uint32_t drain_lock;

static uint32_t my_tid(void)
{
	return (uint32_t)syscall(SYS_gettid);
}

/* 0, or -EDEADLK when the calling thread holds it (a signal handler that
 * interrupted its own thread's drain). */
static int pi_lock(uint32_t *w)
{
	uint32_t tid = my_tid(), free_ = 0;

	while (!__atomic_compare_exchange_n(w, &free_, tid, false, __ATOMIC_ACQUIRE,
					    __ATOMIC_RELAXED)) {
		if ((free_ & FUTEX_TID_MASK) == tid)
			return -EDEADLK;
		if (syscall(SYS_futex, w, FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0) == 0)
			return 0;
		if (errno == EDEADLK)
			return -EDEADLK;
		if (errno == ENOSYS)	/* no PI futexes: yield and retry */
			sched_yield();
		free_ = 0;
	}
	return 0;
}

static void pi_unlock(uint32_t *w)
{
	uint32_t tid = my_tid();

	if (!__atomic_compare_exchange_n(w, &tid, 0, false, __ATOMIC_RELEASE, __ATOMIC_RELAXED))
		syscall(SYS_futex, w, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0);
}

void rseqkit__drain_lock(void)
{
	if (pi_lock(&drain_lock))
		RSEQKIT_FATAL("drain started in a signal handler that interrupted a drain "
			      "(drains are not async-signal-safe)");
}

void rseqkit__drain_unlock(void)
{
	pi_unlock(&drain_lock);
}

void rseqkit__drain_stopped(void)
{
	void (*hook)(int) = __atomic_load_n(&rseqkit_inject_hook, __ATOMIC_RELAXED);

	if (hook)
		hook(RSEQKIT_INJECT_DRAIN);
}

void rseqkit__drain_wait(void)
{
	if (pi_lock(&drain_lock))
		RSEQKIT_FATAL("per-CPU structure used in a signal handler that interrupted a "
			      "drain of the same slot (the handler would wait for itself)");
	pi_unlock(&drain_lock);
}

/*
 * fork(): the child has one thread, so a fallback lock or the drain mutex
 * held by another thread of the parent would be held forever there, and a
 * slot stopped by a drain would stay stopped. The prepare handler waits for
 * every drain and every fallback operation in flight by taking their locks;
 * both sides release them after the fork (the child resets the drain lock,
 * whose owner was the parent's thread id).
 */
static bool fork_took_fb[FB_LOCKS];

static void fork_prepare(void)
{
	uintptr_t me = (uintptr_t)&fb_token;

	rseqkit__drain_lock();
	if (!rseqkit_percpu_fallback())
		return;
	for (int i = 0; i < FB_LOCKS; i++) {
		/* fork() from a signal handler that interrupted a fallback
		 * operation of this thread: that lock stays as it is. */
		fork_took_fb[i] = __atomic_load_n(&fb_locks[i].v, __ATOMIC_RELAXED) != me;
		if (fork_took_fb[i])
			fb_lock(i);
	}
}

static void fork_release_fb(void)
{
	for (int i = 0; i < FB_LOCKS; i++) {
		if (fork_took_fb[i])
			fb_unlock(&fb_locks[i].v);
		fork_took_fb[i] = false;
	}
}

static void fork_parent(void)
{
	fork_release_fb();
	rseqkit__drain_unlock();
}

static void fork_child(void)
{
	fork_release_fb();
	/* Held under the parent's thread id; this is a new thread. */
	__atomic_store_n(&drain_lock, 0, __ATOMIC_RELEASE);
}

/*
 * Stop the count word of a slot (percpu.h protocol steps 1-3). Returns 0
 * with *count the stable count, or the fence error (the word restored).
 * Called between rseqkit__drain_lock() and rseqkit__drain_unlock().
 */
int rseqkit__stop_count(uint64_t *word, int fence_cpu, uint64_t *count)
{
	for (;;) {
		uint64_t c = __atomic_load_n(word, __ATOMIC_RELAXED);
		int ret;

		if (!__atomic_compare_exchange_n(word, &c, c | (1ULL << 63), false,
						 __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
			continue;
		ret = rseqkit_membarrier_fence(fence_cpu);
		if (ret) {
			uint64_t s = c | (1ULL << 63);

			__atomic_compare_exchange_n(word, &s, c, false, __ATOMIC_SEQ_CST,
						    __ATOMIC_RELAXED);
			return ret;
		}
		if (__atomic_load_n(word, __ATOMIC_SEQ_CST) == (c | (1ULL << 63))) {
			rseqkit__drain_stopped();
			*count = c;
			return 0;
		}
	}
}

/* --- the bounded buffers' shared core (ptrbuf, membuf) --------------------- */

/*
 * Both keep, per slot, a count word and a block of capacity items; only what
 * an item is differs (a pointer, item_size bytes). The slot structures have
 * this layout (asserted in their files).
 */
struct buf_slot {
	uint64_t count;
	unsigned char *items;
} __attribute__((aligned(RSEQKIT_CACHELINE)));

void *rseqkit__buf_slots_alloc(int nr, size_t capacity, size_t item_size)
{
	struct buf_slot *slots = rseqkit__slots_alloc((size_t)nr, sizeof(*slots));

	if (!slots)
		return NULL;
	for (int i = 0; i < nr; i++) {
		slots[i].items = calloc(capacity, item_size);
		if (!slots[i].items) {
			rseqkit__buf_slots_free(slots, i);
			return NULL;
		}
	}
	return slots;
}

void rseqkit__buf_slots_free(void *p, int nr)
{
	struct buf_slot *slots = p;

	if (!slots)
		return;
	for (int i = 0; i < nr; i++)
		free(slots[i].items);
	free(slots);
}

long rseqkit__buf_drain(void *p, int idx, int fence_cpu, size_t item_size, void *out,
			size_t max)
{
	struct buf_slot *s = (struct buf_slot *)p + idx;
	uint64_t count;
	size_t n = 0;
	int ret;

	rseqkit__drain_lock();
	ret = rseqkit__stop_count(&s->count, fence_cpu, &count);
	if (!ret) {
		/* The most recent first. */
		while (n < max && n < count) {
			memcpy((unsigned char *)out + n * item_size,
			       s->items + (count - 1 - n) * item_size, item_size);
			n++;
		}
		/* (4) every caller expects a count without the stop bit: no
		 * section can commit over this store. */
		__atomic_store_n(&s->count, count - n, __ATOMIC_RELEASE);
	}
	rseqkit__drain_unlock();
	return ret ? ret : (long)n;
}
