// SPDX-License-Identifier: MIT
/*
 * Per-CPU data structures (counter, cpulock, freelist, ptrbuf, membuf,
 * pool): single-thread semantics, then threads hammering them with exact
 * conservation checks, drains from another thread while they run, both
 * index kinds, in the three environments (glibc-owned, rseqkit-owned, no
 * rseq).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rseqkit/counter.h>
#include <rseqkit/cpulock.h>
#include <rseqkit/freelist.h>
#include <rseqkit/membuf.h>
#include <rseqkit/pool.h>
#include <rseqkit/ptrbuf.h>
#include "envrun.h"
#include "tap.h"

#define NTHREADS 4

static long iters;
static enum rseqkit_index kind;
static const char *kn;

static cpu_set_t fullset;

/* Threads run on every allowed CPU even when the caller is pinned. */
static void start_thread(pthread_t *t, void *(*fn)(void *), void *arg)
{
	pthread_attr_t a;

	pthread_attr_init(&a);
	pthread_attr_setaffinity_np(&a, sizeof(fullset), &fullset);
	pthread_create(t, &a, fn, arg);
	pthread_attr_destroy(&a);
}

static void run_threads(void *(*fn)(void *), void *arg)
{
	pthread_t t[NTHREADS];

	for (int i = 0; i < NTHREADS; i++)
		start_thread(&t[i], fn, arg);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
}

/*
 * Every other thread uses the _k forms (the kind as a compile-time
 * constant), the others the plain ones, on the same structure: both must
 * pick the same index for a thread, or the exact counts below break (with
 * glibc's legacy registration mm_cid is not usable: the plain forms index
 * by cpu_id_start, the _k forms of RSEQKIT_INDEX_MM_CID by cpu_id).
 */
static bool thread_uses_k(void)
{
	static int n;

	return __atomic_fetch_add(&n, 1, __ATOMIC_RELAXED) & 1;
}

#define CALL(k_, fn, ...)							\
	(!(k_) ? fn(__VA_ARGS__) :						\
	 kind == RSEQKIT_INDEX_MM_CID ? fn##_k(__VA_ARGS__, RSEQKIT_INDEX_MM_CID) : \
	 fn##_k(__VA_ARGS__, RSEQKIT_INDEX_CPU_ID))

/* --- counter ------------------------------------------------------------- */

static struct rseqkit_counter ctr;

static void *counter_thread(void *arg)
{
	bool k = thread_uses_k();

	(void)arg;
	for (long i = 0; i < iters; i++)
		CALL(k, rseqkit_counter_add, &ctr, (i & 1) ? 3 : -1);
	return NULL;
}

static void test_counter(void)
{
	struct rseqkit_counter bad;

	tap_ok(rseqkit_counter_init(NULL, kind) == -EINVAL &&
	       rseqkit_counter_init(&bad, (enum rseqkit_index)7) == -EINVAL,
	       "counter %s: init(NULL) / unknown kind -> -EINVAL", kn);
	tap_ok(rseqkit_counter_init(&ctr, kind) == 0 && rseqkit_counter_read(&ctr) == 0,
	       "counter %s: init -> 0, reads 0", kn);
	for (int i = 1; i <= 100; i++)
		rseqkit_counter_add(&ctr, i);
	tap_ok(rseqkit_counter_read(&ctr) == 5050, "counter %s: adds 1..100 -> 5050", kn);
	rseqkit_counter_add(&ctr, -6000);
	tap_ok(rseqkit_counter_read(&ctr) == -950, "counter %s: negative adds -> -950", kn);
	rseqkit_counter_reset(&ctr);
	tap_ok(rseqkit_counter_read(&ctr) == 0, "counter %s: reset -> 0", kn);
	run_threads(counter_thread, NULL);
	tap_ok(rseqkit_counter_read(&ctr) == NTHREADS * iters,
	       "counter %s: %d threads x %ld adds of -1/+3 -> exactly %ld (got %lld)", kn,
	       NTHREADS, iters, NTHREADS * iters, (long long)rseqkit_counter_read(&ctr));
	rseqkit_counter_destroy(&ctr);
}

/* --- cpulock ------------------------------------------------------------- */

static struct rseqkit_cpulock lk;
static struct { long a, b; } __attribute__((aligned(64))) guarded[CPU_SETSIZE];

static void *cpulock_thread(void *arg)
{
	bool k = thread_uses_k();

	(void)arg;
	for (long i = 0; i < iters; i++) {
		int idx = CALL(k, rseqkit_cpulock_lock, &lk);

		/* Non-atomic read-modify-write of two words: only the lock
		 * keeps them equal and exact. */
		guarded[idx].a++;
		guarded[idx].b = guarded[idx].a;
		rseqkit_cpulock_unlock(&lk, idx);
	}
	return NULL;
}

static void test_cpulock(void)
{
	long sum = 0;
	int idx, ret, eq = 1;
	bool moved;

	/* Pinned by the caller: the index stays the held one (an mm_cid may
	 * still be reassigned). */
	memset(guarded, 0, sizeof(guarded));
	tap_ok(rseqkit_cpulock_init(&lk, kind) == 0, "cpulock %s: init -> 0", kn);
	idx = rseqkit_cpulock_lock(&lk);
	tap_ok(idx >= 0 && lk.slots[idx].locked == 1, "cpulock %s: lock -> index %d held", kn, idx);
	ret = rseqkit_cpulock_trylock(&lk);
	moved = rseqkit_percpu_index(kind) != idx;
	/* A lock taken on another index must not stay held: the threads
	 * below would spin on it forever. */
	if (ret >= 0 && ret != idx)
		rseqkit_cpulock_unlock(&lk, ret);
	tap_ok(ret == -EBUSY || (ret >= 0 && ret != idx && moved),
	       "cpulock %s: trylock on a held index -> -EBUSY (%d; index %s)", kn, ret,
	       moved ? "changed" : "unchanged");
	rseqkit_cpulock_unlock(&lk, idx);
	tap_ok(lk.slots[idx].locked == 0, "cpulock %s: unlock releases", kn);
	sched_setaffinity(0, sizeof(fullset), &fullset);
	run_threads(cpulock_thread, NULL);
	for (int i = 0; i < lk.nr_slots; i++) {
		sum += guarded[i].a;
		eq &= guarded[i].a == guarded[i].b;
	}
	tap_ok(sum == NTHREADS * iters && eq, "cpulock %s: %d threads x %ld locked increments "
	       "-> exactly %ld (got %ld)", kn, NTHREADS, iters, NTHREADS * iters, sum);
	rseqkit_cpulock_destroy(&lk);
}

/* --- freelist ------------------------------------------------------------ */

struct obj {
	struct rseqkit_freelist_node node;
	long id;
	long owner;	/* 0 in the list, else the thread holding it */
};

#define NOBJ 256
static struct obj objs[NOBJ];
static struct rseqkit_freelist fl;
static volatile int stop_drain;
static long fl_errors;

static void *freelist_thread(void *arg)
{
	long me = (long)(intptr_t)arg;
	struct obj *held[4];
	long err = 0;
	bool k = thread_uses_k();

	for (long i = 0; i < iters; i++) {
		int n = 0;

		while (n < 4) {
			struct obj *o = (struct obj *)CALL(k, rseqkit_freelist_pop, &fl);

			if (!o)
				break;
			if (__atomic_exchange_n(&o->owner, me, __ATOMIC_RELAXED) != 0)
				err++;	/* popped twice */
			held[n++] = o;
		}
		while (n > 0) {
			struct obj *o = held[--n];

			__atomic_store_n(&o->owner, 0, __ATOMIC_RELAXED);
			CALL(k, rseqkit_freelist_push, &fl, &o->node);
		}
	}
	__atomic_fetch_add(&fl_errors, err, __ATOMIC_RELAXED);
	return NULL;
}

static long count_chain(struct rseqkit_freelist_node *n, unsigned char *seen)
{
	long c = 0;

	for (; n; n = n->next, c++) {
		struct obj *o = (struct obj *)n;

		if (o < objs || o >= objs + NOBJ || seen[o - objs]++)
			return -1;
	}
	return c;
}

static void *drainer(void *arg)
{
	struct rseqkit_freelist_node *chain;
	long *drains = arg;

	while (!stop_drain) {
		for (int i = 0; i < fl.nr_slots; i++) {
			if (rseqkit_freelist_drain(&fl, i, &chain))
				continue;
			(*drains)++;
			/* Give the nodes back through the drainer's own CPU. */
			while (chain) {
				struct rseqkit_freelist_node *n = chain;

				chain = chain->next;
				rseqkit_freelist_push(&fl, n);
			}
		}
		usleep(200);
	}
	return NULL;
}

static void test_freelist(void)
{
	struct rseqkit_freelist_node *chain;
	unsigned char seen[NOBJ];
	pthread_t t[NTHREADS], d;
	long total = 0, drains = 0;
	int ok = 1, idx;

	memset(objs, 0, sizeof(objs));
	for (int i = 0; i < NOBJ; i++)
		objs[i].id = i;
	tap_ok(rseqkit_freelist_init(&fl, kind) == 0, "freelist %s: init -> 0", kn);
	tap_ok(rseqkit_freelist_pop(&fl) == NULL, "freelist %s: pop on empty -> NULL", kn);
	/* LIFO on one CPU (pinned by the caller). */
	for (int i = 0; i < 8; i++)
		rseqkit_freelist_push(&fl, &objs[i].node);
	for (int i = 7; i >= 0; i--)
		ok &= rseqkit_freelist_pop(&fl) == &objs[i].node;
	tap_ok(ok && rseqkit_freelist_pop(&fl) == NULL, "freelist %s: 8 pushes pop back LIFO", kn);
	/* batch */
	for (int i = 0; i < 7; i++)
		objs[i].node.next = &objs[i + 1].node;
	idx = rseqkit_freelist_push_batch(&fl, &objs[0].node, &objs[7].node);
	ok = rseqkit_freelist_pop(&fl) == &objs[0].node;
	chain = rseqkit_freelist_pop_all(&fl);
	memset(seen, 0, sizeof(seen));
	tap_ok(ok && count_chain(chain, seen) == 7 && rseqkit_freelist_pop(&fl) == NULL,
	       "freelist %s: push_batch of 8, pop 1, pop_all takes the other 7", kn);
	/* drain from "another CPU": the slot we pushed on. */
	rseqkit_freelist_push(&fl, &objs[0].node);
	rseqkit_freelist_push(&fl, &objs[1].node);
	tap_ok(rseqkit_freelist_drain(&fl, idx, &chain) == 0 && chain == &objs[1].node &&
	       chain->next == &objs[0].node && fl.slots[idx].head == 0,
	       "freelist %s: drain(%d) takes the slot's list and leaves it empty", kn, idx);
	tap_ok(rseqkit_freelist_drain(&fl, fl.nr_slots, &chain) == -EINVAL,
	       "freelist %s: drain(out of range) -> -EINVAL", kn);

	/* Threads pop up to 4, push them back; a drainer steals and returns. */
	for (int i = 0; i < NOBJ; i++)
		rseqkit_freelist_push(&fl, &objs[i].node);
	fl_errors = 0;
	stop_drain = 0;
	start_thread(&d, drainer, &drains);
	for (long i = 0; i < NTHREADS; i++)
		start_thread(&t[i], freelist_thread, (void *)(intptr_t)(i + 1));
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	stop_drain = 1;
	pthread_join(d, NULL);
	memset(seen, 0, sizeof(seen));
	for (int i = 0; i < fl.nr_slots && total >= 0; i++) {
		long c;

		if (rseqkit_freelist_drain(&fl, i, &chain))
			total = -1000000;
		c = count_chain(chain, seen);
		total = c < 0 ? -1 : total + c;
	}
	tap_ok(total == NOBJ && fl_errors == 0, "freelist %s: %d threads x %ld pop-4/push-4 rounds "
	       "with %ld concurrent drains: all %d nodes back exactly once (got %ld, %ld double pops)",
	       kn, NTHREADS, iters, drains, NOBJ, total, fl_errors);
	rseqkit_freelist_destroy(&fl);
}

/* --- ptrbuf -------------------------------------------------------------- */

static struct rseqkit_ptrbuf pb;

static void *ptrbuf_thread(void *arg)
{
	bool k = thread_uses_k();

	(void)arg;
	for (long i = 0; i < iters; i++) {
		void *p = CALL(k, rseqkit_ptrbuf_pop, &pb);

		if (p && CALL(k, rseqkit_ptrbuf_push, &pb, p)) {
			/* Full on this CPU (migrated): park it elsewhere. */
			while (CALL(k, rseqkit_ptrbuf_push, &pb, p))
				sched_yield();
		}
	}
	return NULL;
}

static void test_ptrbuf(void)
{
	enum { CAP = 64, NP = 48 };
	static long items[NP];
	unsigned char seen[NP];
	void *out[CAP * CPU_SETSIZE / 64 + CAP];
	long got = 0, n;
	int ok = 1, dup = 0;

	tap_ok(rseqkit_ptrbuf_init(&pb, kind, 0) == -EINVAL, "ptrbuf %s: capacity 0 -> -EINVAL", kn);
	tap_ok(rseqkit_ptrbuf_init(&pb, kind, CAP) == 0, "ptrbuf %s: init -> 0", kn);
	tap_ok(rseqkit_ptrbuf_pop(&pb) == NULL, "ptrbuf %s: pop on empty -> NULL", kn);
	for (int i = 0; i < CAP; i++)
		ok &= rseqkit_ptrbuf_push(&pb, &items[i % NP]) == 0;
	tap_ok(ok && rseqkit_ptrbuf_push(&pb, &items[0]) == -ENOSPC,
	       "ptrbuf %s: %d pushes fit, the next -> -ENOSPC", kn, CAP);
	for (int i = CAP - 1; i >= 0; i--)
		ok &= rseqkit_ptrbuf_pop(&pb) == &items[i % NP];
	tap_ok(ok && rseqkit_ptrbuf_pop(&pb) == NULL, "ptrbuf %s: pops come back LIFO", kn);
	for (int i = 0; i < NP; i++)
		rseqkit_ptrbuf_push(&pb, &items[i]);
	run_threads(ptrbuf_thread, NULL);
	memset(seen, 0, sizeof(seen));
	for (int i = 0; i < pb.nr_slots; i++) {
		n = rseqkit_ptrbuf_drain(&pb, i, out, sizeof(out) / sizeof(out[0]));
		for (long j = 0; j < n; j++) {
			long k = (long *)out[j] - items;

			if (k < 0 || k >= NP || seen[k]++)
				dup++;
		}
		got += n < 0 ? 0 : n;
	}
	tap_ok(got == NP && !dup, "ptrbuf %s: %d threads x %ld pop/push, then drain of every "
	       "slot: all %d pointers exactly once (got %ld)", kn, NTHREADS, iters, NP, got);
	rseqkit_ptrbuf_destroy(&pb);
}

/* --- membuf -------------------------------------------------------------- */

struct item {
	uint64_t id, check;
	char pad[13];
} __attribute__((packed));

static struct rseqkit_membuf mb;
static long mb_bad;

static void *membuf_thread(void *arg)
{
	long bad = 0;
	bool k = thread_uses_k();

	(void)arg;
	for (long i = 0; i < iters; i++) {
		struct item it;

		if (CALL(k, rseqkit_membuf_pop, &mb, &it))
			continue;
		if (it.check != ~it.id * 7 || it.pad[12] != (char)it.id)
			bad++;
		while (CALL(k, rseqkit_membuf_push, &mb, &it))
			sched_yield();
	}
	__atomic_fetch_add(&mb_bad, bad, __ATOMIC_RELAXED);
	return NULL;
}

static void test_membuf(void)
{
	enum { CAP = 32, NI = 24 };
	struct item it, out[CAP];
	unsigned char seen[NI];
	long got = 0, n;
	int ok = 1, dup = 0;

	tap_ok(rseqkit_membuf_init(&mb, kind, CAP, 0) == -EINVAL,
	       "membuf %s: item_size 0 -> -EINVAL", kn);
	tap_ok(rseqkit_membuf_init(&mb, kind, CAP, sizeof(struct item)) == 0,
	       "membuf %s: init (%zu-byte items) -> 0", kn, sizeof(struct item));
	tap_ok(rseqkit_membuf_pop(&mb, &it) == -ENOENT, "membuf %s: pop on empty -> -ENOENT", kn);
	for (int i = 0; i < NI; i++) {
		memset(&it, 0, sizeof(it));
		it.id = (uint64_t)i;
		it.check = ~it.id * 7;
		it.pad[12] = (char)i;
		ok &= rseqkit_membuf_push(&mb, &it) == 0;
	}
	ok &= rseqkit_membuf_pop(&mb, &it) == 0 && it.id == NI - 1 && it.check == ~it.id * 7;
	ok &= rseqkit_membuf_push(&mb, &it) == 0;
	tap_ok(ok, "membuf %s: items copy in and out intact, LIFO", kn);
	mb_bad = 0;
	run_threads(membuf_thread, NULL);
	memset(seen, 0, sizeof(seen));
	for (int i = 0; i < mb.nr_slots; i++) {
		n = rseqkit_membuf_drain(&mb, i, out, CAP);
		for (long j = 0; j < n; j++) {
			if (out[j].id >= NI || seen[out[j].id]++ || out[j].check != ~out[j].id * 7)
				dup++;
		}
		got += n < 0 ? 0 : n;
	}
	tap_ok(got == NI && !dup && !mb_bad, "membuf %s: %d threads x %ld pop/push, drain: all %d "
	       "items exactly once and intact (got %ld, %ld torn)", kn, NTHREADS, iters, NI, got,
	       mb_bad);
	rseqkit_membuf_destroy(&mb);
}

/* --- pool ---------------------------------------------------------------- */

static struct rseqkit_pool pool;
static uint64_t *pctr;

static void *pool_thread(void *arg)
{
	(void)arg;
	for (long i = 0; i < iters; i++) {
		int idx;

		do {
			idx = rseqkit_percpu_index(kind);
		} while (rseqkit_load_add_store_u64(kind, idx, rseqkit_pool_ptr(&pool, pctr, idx),
						    1) < 0);
	}
	return NULL;
}

static void test_pool(void)
{
	uint64_t *a, *b, sum = 0;
	int idx = rseqkit_percpu_index(kind), zero = 1;
	long res_other = 0, res_me;

	tap_ok(rseqkit_pool_init(&pool, 0, kind) == -EINVAL, "pool %s: range 0 -> -EINVAL", kn);
	tap_ok(rseqkit_pool_init(&pool, 64 * 1024, kind) == 0, "pool %s: init -> 0", kn);
	a = rseqkit_pool_alloc(&pool, 24);
	b = rseqkit_pool_alloc(&pool, 8);
	tap_ok(a && b && a != b && rseqkit_pool_alloc(&pool, 1 << 20) == NULL && errno == EINVAL,
	       "pool %s: alloc -> distinct handles, oversize -> NULL/EINVAL", kn);
	/* Touch only our own instance. */
	*(uint64_t *)rseqkit_pool_ptr(&pool, a, idx) = 42;
	res_me = rseqkit_pool_resident(&pool, idx);
	for (int i = 0; i < pool.nr_slots; i++)
		if (i != idx)
			res_other += rseqkit_pool_resident(&pool, i);
	tap_ok(res_me > 0 && res_other == 0, "pool %s: writing instance %d populates it (%ld "
	       "bytes), the other %d instances stay unpopulated (%ld bytes)", kn, idx, res_me,
	       pool.nr_slots - 1, res_other);
	tap_ok(rseqkit_pool_free(&pool, a, 24) == 0 && rseqkit_pool_free(&pool, &zero, 8) == -EINVAL,
	       "pool %s: free -> 0, foreign pointer -> -EINVAL", kn);
	a = rseqkit_pool_alloc(&pool, 24);
	for (int i = 0; i < pool.nr_slots; i++)
		zero &= *(uint64_t *)rseqkit_pool_ptr(&pool, a, i) == 0;
	tap_ok(a && zero, "pool %s: a reused object reads zero in every instance", kn);
	pctr = b;
	run_threads(pool_thread, NULL);
	for (int i = 0; i < pool.nr_slots; i++)
		sum += *(uint64_t *)rseqkit_pool_ptr(&pool, b, i);
	tap_ok(sum == (uint64_t)(NTHREADS * iters), "pool %s: per-index counter, %d threads x "
	       "%ld adds -> exactly %ld", kn, NTHREADS, iters, NTHREADS * iters);
	rseqkit_pool_destroy(&pool);
}

/* --- a thread's first operation ------------------------------------------ */

/*
 * The fast paths read the index inside the section and test registration
 * first (an unregistered area reads cpu_id -1 and mm_cid 0). A new thread
 * with rseqkit's own area starts unregistered: its first operation of each
 * structure, plain and _k, must do the work and leave the thread registered
 * (with the fallbacks: do the work; nothing registers). One thread per op.
 */
enum first_op { FIRST_ADD, FIRST_LOCK, FIRST_PUSHPOP, NR_FIRST_OPS };
static const char *const first_names[] = { "counter add", "cpulock lock+unlock", "freelist push+pop" };

struct first_run {
	enum first_op op;
	bool k;
	bool unregistered_before, registered_after, done, popped;
};

/* Drain every slot of fl: how many nodes it held (-1: one of them not objs[0]). */
static long freelist_take_first(void)
{
	struct rseqkit_freelist_node *chain;
	long n = 0;

	for (int i = 0; i < fl.nr_slots; i++) {
		if (rseqkit_freelist_drain(&fl, i, &chain))
			continue;
		for (; chain; chain = chain->next, n++)
			if (chain != &objs[0].node)
				return -1;
	}
	return n;
}

static void *first_thread(void *arg)
{
	struct first_run *r = arg;
	struct rseqkit_freelist_node *got = NULL;
	int idx;

	r->unregistered_before = (int32_t)rseqkit_thread_area()->cpu_id < 0;
	switch (r->op) {
	case FIRST_ADD:
		CALL(r->k, rseqkit_counter_add, &ctr, 1);
		r->done = true;
		break;
	case FIRST_LOCK:
		idx = CALL(r->k, rseqkit_cpulock_lock, &lk);
		r->done = idx >= 0 && idx < lk.nr_slots;
		rseqkit_cpulock_unlock(&lk, idx);
		break;
	case FIRST_PUSHPOP:
		CALL(r->k, rseqkit_freelist_push, &fl, &objs[0].node);
		got = CALL(r->k, rseqkit_freelist_pop, &fl);
		/* NULL: the pop ran on another index (a migration, or the
		 * fallbacks' first index); test_first_op() looks for the node. */
		r->popped = got == &objs[0].node;
		r->done = r->popped || !got;
		break;
	default:
		break;
	}
	r->registered_after = (int32_t)rseqkit_thread_area()->cpu_id >= 0;
	return NULL;
}

static void test_first_op(void)
{
	bool fallback = rseqkit_percpu_fallback();
	struct rseqkit_mode m;
	int64_t before;
	bool lazy;

	lazy = rseqkit_get_mode(&m) == 0 && m.owner == RSEQKIT_OWNER_SELF;

	if (rseqkit_counter_init(&ctr, kind) || rseqkit_cpulock_init(&lk, kind) ||
	    rseqkit_freelist_init(&fl, kind))
		tap_bail("init failed");
	for (int op = 0; op < NR_FIRST_OPS; op++) {
		for (int k = 0; k < 2; k++) {
			struct first_run r = { .op = (enum first_op)op, .k = k };
			pthread_t t;

			before = rseqkit_counter_read(&ctr);
			start_thread(&t, first_thread, &r);
			pthread_join(t, NULL);
			if (op == FIRST_ADD)
				r.done = rseqkit_counter_read(&ctr) == before + 1;
			if (op == FIRST_PUSHPOP && r.done)	/* popped, or still listed */
				r.done = freelist_take_first() == (r.popped ? 0 : 1);
			tap_ok(r.done && (fallback ? !r.registered_after :
					  r.registered_after && (!lazy || r.unregistered_before)),
			       "%s: a new thread's first %s (%s form) works and %s (registered "
			       "before %s, after %s)", kn, first_names[op], k ? "_k" : "plain",
			       fallback ? "registers nothing (fallbacks)" : "leaves it registered",
			       r.unregistered_before ? "no" : "yes",
			       r.registered_after ? "yes" : "no");
		}
	}
	rseqkit_freelist_destroy(&fl);
	rseqkit_cpulock_destroy(&lk);
	rseqkit_counter_destroy(&ctr);
}

static void body(const char *env, int argc, char **argv)
{
	cpu_set_t set;
	int pin = 0;

	(void)argc;
	(void)argv;
	iters = tap_in_vm() ? 5000 : 100000;
	rseqkit_init();
	tap_diag("environment %s: %s, %d slots", env,
		 rseqkit_percpu_fallback() ? "fallbacks" : "rseq", rseqkit_percpu_nr_slots());
	sched_getaffinity(0, sizeof(set), &set);
	fullset = set;
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &set))
			pin = c;
	for (int k = 0; k < 2; k++) {
		kind = k ? RSEQKIT_INDEX_MM_CID : RSEQKIT_INDEX_CPU_ID;
		kn = k ? "mm_cid" : "cpu_id";
		/* Single-thread parts pinned (LIFO order is per CPU); the
		 * threads inherit the full mask back. */
		tap_pin_cpu(pin);
		test_counter();
		test_cpulock();
		tap_pin_cpu(pin);
		test_freelist();
		tap_pin_cpu(pin);
		test_ptrbuf();
		tap_pin_cpu(pin);
		test_membuf();
		tap_pin_cpu(pin);
		test_pool();
		sched_setaffinity(0, sizeof(set), &set);
		test_first_op();
	}
}

int main(int argc, char **argv)
{
	return envrun_main(argc, argv, body);
}
