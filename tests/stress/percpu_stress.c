// SPDX-License-Identifier: MIT
/*
 * Stress of the per-CPU operations and structures with every injection
 * point (rseqkit/percpu.h): N threads x M iterations of a mixed workload
 * (counter add, cpulock-protected two-word update, freelist pop/push,
 * ptrbuf pop/push, membuf pop/push with integrity check, mm_cid/cpu pool
 * counter, indirect add through a pointer table) while a drainer steals
 * from other CPUs' freelist/ptrbuf/membuf and gives back. Injection:
 *   spin    busy loops inside every critical section (points 1-3)
 *   yield   sched_yield() between reading the index and the section (0)
 *   sleep   usleep(1) there
 *   signal  a thread sends SIGUSR1 to the workers; the handler itself runs
 *           counter adds (nested use while the interrupted section aborts)
 *   kill    processes adding to a shared per-CPU counter are SIGKILLed
 *           mid-run: the sum is between the adds completed and started
 * Every other check is exact. Both index kinds; all three environments.
 *
 *   percpu_stress          short tier (a few seconds on the host, < 60 s in
 *                          the VM under TCG)
 *   percpu_stress --long   the full matrix: more threads and iterations,
 *                          all injections combined too
 */
#define RSEQKIT_INJECT
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include <rseqkit/counter.h>
#include <rseqkit/cpulock.h>
#include <rseqkit/freelist.h>
#include <rseqkit/membuf.h>
#include <rseqkit/pool.h>
#include <rseqkit/ptrbuf.h>
#include "envrun.h"
#include "tap.h"

#define MAXT	16
#define NOBJ	128
#define NP	64
#define NI	48

enum inj { INJ_NONE, INJ_SPIN, INJ_YIELD, INJ_SLEEP, INJ_SIGNAL, INJ_ALL };
static const char *inj_name[] = { "none", "spin", "yield", "sleep", "signal", "all" };

static int nthreads;
static long iters;		/* at least this many per worker */
static long case_ms;		/* and at least this long */
static enum inj inj;
static enum rseqkit_index kind;
static const char *kn;
static volatile int stop_aux, stop_signals;

static __thread unsigned long tl_ops, tl_aborts, tl_handled;
static unsigned long total_aborts, total_handled;
/* Where the signal handler found the interrupted IP: inside one of the
 * program's critical sections (the kernel failed to abort it first), or at
 * an abort handler (the kernel aborted the section it interrupted). */
static __thread unsigned long tl_sig_inside, tl_sig_at_abort;
static unsigned long total_sig_inside, total_sig_at_abort;

/* Every critical section of the program (the library's asm lists its
 * descriptors in this section). */
extern const struct rseqkit_abi_cs *const __start___rseq_cs_ptr_array[] __attribute__((weak));
extern const struct rseqkit_abi_cs *const __stop___rseq_cs_ptr_array[] __attribute__((weak));

/* --- the structures ------------------------------------------------------- */

struct obj {
	struct rseqkit_freelist_node node;
	long owner;
};

struct item {
	uint64_t id, check;
	unsigned char pad[21];
} __attribute__((packed));

static struct rseqkit_counter ctr;
static struct rseqkit_cpulock lk;
static struct { long a, b; } __attribute__((aligned(64))) guarded[CPU_SETSIZE];
static struct rseqkit_freelist fl;
static struct obj objs[NOBJ];
static struct rseqkit_ptrbuf pb;
static long pitems[NP];
static struct rseqkit_membuf mb;
static struct rseqkit_pool pool;
static uint64_t *pool_ctr;
static struct { intptr_t v; } __attribute__((aligned(64))) targets[CPU_SETSIZE];
static intptr_t *ptr_table;		/* ptr_table[i] = &targets[i].v */
static long errors_double, errors_torn;

static void hook(int point)
{
	if (point == 4) {
		tl_aborts++;
		return;
	}
	if (point != 0)
		return;
	if (++tl_ops % 61)
		return;
	if (inj == INJ_YIELD || (inj == INJ_ALL && tl_ops % 3 == 0))
		sched_yield();
	else if (inj == INJ_SLEEP || (inj == INJ_ALL && tl_ops % 3 == 1))
		usleep(1);
}

#if defined(__x86_64__)
# define HAVE_IP 1
# define UC_IP(uc) ((uintptr_t)(uc)->uc_mcontext.gregs[REG_RIP])
#elif defined(__aarch64__)
# define HAVE_IP 1
# define UC_IP(uc) ((uintptr_t)(uc)->uc_mcontext.pc)
#else
# define HAVE_IP 0
#endif

static void classify_ip(const void *ucontext)
{
#if HAVE_IP
	uintptr_t ip = UC_IP((const ucontext_t *)ucontext);
	const struct rseqkit_abi_cs *const *d;

	if (!__start___rseq_cs_ptr_array)
		return;
	for (d = __start___rseq_cs_ptr_array; d < __stop___rseq_cs_ptr_array; d++) {
		if (ip == (*d)->abort_ip) {
			tl_sig_at_abort++;
			return;
		}
		if (ip >= (*d)->start_ip && ip < (*d)->start_ip + (*d)->post_commit_offset) {
			tl_sig_inside++;
			return;
		}
	}
#else
	(void)ucontext;
#endif
}

static void on_usr1(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)si;
	classify_ip(uc);
	rseqkit_counter_add(&ctr, 1);
	tl_handled++;
}

static void one_iteration(long me)
{
	struct rseqkit_freelist_node *n[2];
	struct item it;
	int idx, k = 0;
	void *p;

	rseqkit_counter_add(&ctr, 1);

	idx = rseqkit_cpulock_lock(&lk);
	guarded[idx].a++;
	guarded[idx].b = guarded[idx].a;
	rseqkit_cpulock_unlock(&lk, idx);

	while (k < 2 && (n[k] = rseqkit_freelist_pop(&fl))) {
		if (__atomic_exchange_n(&((struct obj *)n[k])->owner, me, __ATOMIC_RELAXED))
			__atomic_fetch_add(&errors_double, 1, __ATOMIC_RELAXED);
		k++;
	}
	while (k > 0) {
		k--;
		__atomic_store_n(&((struct obj *)n[k])->owner, 0, __ATOMIC_RELAXED);
		rseqkit_freelist_push(&fl, n[k]);
	}

	p = rseqkit_ptrbuf_pop(&pb);
	if (p)
		while (rseqkit_ptrbuf_push(&pb, p))
			sched_yield();

	if (!rseqkit_membuf_pop(&mb, &it)) {
		if (it.check != ~it.id * 13 || it.pad[20] != (unsigned char)it.id)
			__atomic_fetch_add(&errors_torn, 1, __ATOMIC_RELAXED);
		while (rseqkit_membuf_push(&mb, &it))
			sched_yield();
	}

	do {
		idx = rseqkit_percpu_index(kind);
	} while (rseqkit_load_add_store_u64(kind, idx, rseqkit_pool_ptr(&pool, pool_ctr, idx),
					    1) < 0);

	do {
		idx = rseqkit_percpu_index(kind);
	} while (rseqkit_load_add_load_load_add_store_ptr(kind, idx, (intptr_t *)&ptr_table,
			(long)idx * (long)sizeof(intptr_t), 1) < 0);
}

static long done_iters[MAXT];
static volatile int stop_workers;

static void *worker(void *arg)
{
	long me = (long)(intptr_t)arg, i;
	sigset_t usr1;

	for (i = 0; i < iters || !stop_workers; i++)
		one_iteration(me);
	/* A SIGUSR1 still pending would add to the counter after tl_handled
	 * is read: blocked, it never runs. */
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &usr1, NULL);
	done_iters[me - 1] = i;
	__atomic_fetch_add(&total_sig_inside, tl_sig_inside, __ATOMIC_RELAXED);
	__atomic_fetch_add(&total_sig_at_abort, tl_sig_at_abort, __ATOMIC_RELAXED);
	__atomic_fetch_add(&total_aborts, tl_aborts, __ATOMIC_RELAXED);
	__atomic_fetch_add(&total_handled, tl_handled, __ATOMIC_RELAXED);
	return NULL;
}

static void give_back_nodes(struct rseqkit_freelist_node *chain)
{
	while (chain) {
		struct rseqkit_freelist_node *n = chain;

		chain = chain->next;
		rseqkit_freelist_push(&fl, n);
	}
}

static void *drainer(void *arg)
{
	struct rseqkit_freelist_node *chain;
	void *out[NP];
	struct item items[NI];
	long *drains = arg;

	while (!stop_aux) {
		for (int i = 0; i < fl.nr_slots && !stop_aux; i++) {
			long n;

			if (!rseqkit_freelist_drain(&fl, i, &chain)) {
				give_back_nodes(chain);
				(*drains)++;
			}
			n = rseqkit_ptrbuf_drain(&pb, i, out, NP);
			for (long j = 0; j < n; j++)
				while (rseqkit_ptrbuf_push(&pb, out[j]))
					sched_yield();
			n = rseqkit_membuf_drain(&mb, i, items, NI);
			for (long j = 0; j < n; j++)
				while (rseqkit_membuf_push(&mb, &items[j]))
					sched_yield();
		}
		usleep(500);
	}
	return NULL;
}

static pthread_t workers[MAXT];

static void *signaller(void *arg)
{
	long *sent = arg;

	while (!stop_signals) {
		for (int i = 0; i < nthreads; i++)
			if (!pthread_kill(workers[i], SIGUSR1))
				(*sent)++;
		usleep(20);
	}
	return NULL;
}

static int setup(void)
{
	int r = 0;

	memset(guarded, 0, sizeof(guarded));
	memset(objs, 0, sizeof(objs));
	memset(targets, 0, sizeof(targets));
	r |= rseqkit_counter_init(&ctr, kind);
	r |= rseqkit_cpulock_init(&lk, kind);
	r |= rseqkit_freelist_init(&fl, kind);
	r |= rseqkit_ptrbuf_init(&pb, kind, NP);
	r |= rseqkit_membuf_init(&mb, kind, NI, sizeof(struct item));
	r |= rseqkit_pool_init(&pool, 4096, kind);
	if (r)
		return r;
	pool_ctr = rseqkit_pool_alloc(&pool, sizeof(uint64_t));
	ptr_table = calloc((size_t)ctr.nr_slots, sizeof(*ptr_table));
	if (!pool_ctr || !ptr_table)
		return -ENOMEM;
	for (int i = 0; i < ctr.nr_slots; i++)
		ptr_table[i] = (intptr_t)&targets[i].v;
	for (int i = 0; i < NOBJ; i++)
		rseqkit_freelist_push(&fl, &objs[i].node);
	for (int i = 0; i < NP; i++)
		rseqkit_ptrbuf_push(&pb, &pitems[i]);
	for (int i = 0; i < NI; i++) {
		struct item it;

		memset(&it, 0, sizeof(it));
		it.id = (uint64_t)i;
		it.check = ~it.id * 13;
		it.pad[20] = (unsigned char)i;
		while (rseqkit_membuf_push(&mb, &it))
			sched_yield();	/* only if this CPU's buffer is full */
	}
	errors_double = errors_torn = 0;
	total_aborts = total_handled = total_sig_inside = total_sig_at_abort = 0;
	return 0;
}

static void teardown(void)
{
	rseqkit_counter_destroy(&ctr);
	rseqkit_cpulock_destroy(&lk);
	rseqkit_freelist_destroy(&fl);
	rseqkit_ptrbuf_destroy(&pb);
	rseqkit_membuf_destroy(&mb);
	rseqkit_pool_destroy(&pool);
	free(ptr_table);
}

static void check(long drains, long sent, uint64_t ms)
{
	long expect = 0, gsum = 0, tsum = 0, fln = 0, pbn = 0, mbn = 0;
	unsigned char seen_o[NOBJ] = { 0 }, seen_p[NP] = { 0 }, seen_i[NI] = { 0 };
	struct rseqkit_freelist_node *chain;
	void *out[NP];
	struct item items[NI];
	uint64_t psum = 0;
	int eq = 1, dup = 0;
	char what[96];

	for (int i = 0; i < nthreads; i++)
		expect += done_iters[i];
	snprintf(what, sizeof(what), "%s/%s: %d threads, %ld iterations", kn, inj_name[inj],
		 nthreads, expect);
	for (int i = 0; i < ctr.nr_slots; i++) {
		long n;

		gsum += guarded[i].a;
		eq &= guarded[i].a == guarded[i].b;
		tsum += targets[i].v;
		psum += *(uint64_t *)rseqkit_pool_ptr(&pool, pool_ctr, i);
		if (!rseqkit_freelist_drain(&fl, i, &chain))
			for (; chain; chain = chain->next, fln++)
				dup |= seen_o[(struct obj *)chain - objs]++;
		n = rseqkit_ptrbuf_drain(&pb, i, out, NP);
		for (long j = 0; j < n; j++, pbn++)
			dup |= seen_p[(long *)out[j] - pitems]++;
		n = rseqkit_membuf_drain(&mb, i, items, NI);
		for (long j = 0; j < n; j++, mbn++)
			dup |= items[j].id >= NI || seen_i[items[j].id]++ ||
			       items[j].check != ~items[j].id * 13;
	}
	tap_ok(rseqkit_counter_read(&ctr) == expect + (long)total_handled,
	       "%s: counter = iterations + signal-handler adds = %ld (got %lld)", what,
	       expect + (long)total_handled, (long long)rseqkit_counter_read(&ctr));
	tap_ok(gsum == expect && eq, "%s: cpulock-protected updates exact (%ld)", what, gsum);
	tap_ok(fln == NOBJ && !errors_double && !dup, "%s: freelist conserves %d nodes, no "
	       "double pop (%ld nodes, %ld double)", what, NOBJ, fln, errors_double);
	tap_ok(pbn == NP && mbn == NI && !errors_torn, "%s: ptrbuf/membuf conserve %d/%d items, "
	       "none torn (%ld/%ld, %ld torn)", what, NP, NI, pbn, mbn, errors_torn);
	tap_ok(psum == (uint64_t)expect && tsum == expect, "%s: pool counter and indirect add "
	       "exact (%llu, %ld)", what, (unsigned long long)psum, tsum);
	tap_diag("%s: %llu ms, %lu aborts/fallbacks seen, %ld drains, %ld signals sent, %lu "
		 "handled (%lu at an abort handler)", what, (unsigned long long)ms, total_aborts,
		 drains, sent, total_handled, total_sig_at_abort);
	if (inj != INJ_SIGNAL || rseqkit_percpu_fallback() || !HAVE_IP)
		return;
	tap_ok(total_sig_inside == 0, "R4.2 %s: no signal handler runs with its interrupted IP "
	       "inside a critical section (%lu did)", what, total_sig_inside);
	/* Several signals can land on one abort handler before it runs its
	 * first instruction, so the two counts are not compared. */
	tap_ok(total_sig_at_abort > 0 && total_aborts > 0,
	       "R4.2 %s: signals delivered into spinning critical sections abort them: %lu "
	       "handlers started at an abort handler, %lu aborts counted", what,
	       total_sig_at_abort, total_aborts);
}

static void run_case(enum rseqkit_index k, enum inj j)
{
	pthread_t d, s;
	long drains = 0, sent = 0;
	uint64_t t0;
	int r;

	kind = k;
	kn = k == RSEQKIT_INDEX_MM_CID ? "mm_cid" : "cpu_id";
	inj = j;
	r = setup();
	if (r) {
		tap_ok(false, "%s/%s: setup -> %d", kn, inj_name[j], r);
		return;
	}
	for (int i = 1; i <= 3; i++)
		rseqkit_inject_loops[i] = (j == INJ_SPIN || j == INJ_SIGNAL || j == INJ_ALL) ?
					  300 * i : 0;
	stop_aux = 0;
	stop_signals = 0;
	stop_workers = 0;
	t0 = tap_now_ns();
	for (long i = 0; i < nthreads; i++)
		pthread_create(&workers[i], NULL, worker, (void *)(intptr_t)(i + 1));
	pthread_create(&d, NULL, drainer, &drains);
	if (j == INJ_SIGNAL || j == INJ_ALL)
		pthread_create(&s, NULL, signaller, &sent);
	usleep((unsigned int)case_ms * 1000);
	/* The signaller stops first: pthread_kill() on a joined thread is
	 * undefined. */
	stop_signals = 1;
	if (j == INJ_SIGNAL || j == INJ_ALL)
		pthread_join(s, NULL);
	stop_workers = 1;
	for (int i = 0; i < nthreads; i++)
		pthread_join(workers[i], NULL);
	stop_aux = 1;
	pthread_join(d, NULL);
	for (int i = 1; i <= 3; i++)
		rseqkit_inject_loops[i] = 0;
	check(drains, sent, (tap_now_ns() - t0) / 1000000);
	teardown();
}

/* --- kill: processes SIGKILLed while adding to a shared per-CPU counter ---- */

struct shared {
	struct rseqkit_counter_slot slots[CPU_SETSIZE];
	struct {
		volatile long started, done;
	} __attribute__((aligned(64))) child[8];
};

static void kill_case(int nchild, int rounds)
{
	struct shared *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	long started = 0, done = 0, sum = 0, kills = 0;
	pid_t pid[8];

	if (sh == MAP_FAILED) {
		tap_ok(false, "kill: mmap: %s", strerror(errno));
		return;
	}
	memset(sh, 0, sizeof(*sh));
	for (int r = 0; r < rounds; r++) {
		fflush(NULL);
		for (int c = 0; c < nchild; c++) {
			pid[c] = fork();
			if (pid[c] == 0) {
				for (;;) {
					int idx;

					sh->child[c].started++;
					do {
						idx = rseqkit_percpu_index(RSEQKIT_INDEX_CPU_ID);
					} while (rseqkit_load_add_store_u64(RSEQKIT_INDEX_CPU_ID, idx,
							&sh->slots[idx].v, 1) < 0);
					sh->child[c].done++;
				}
			}
		}
		usleep(2000 + (unsigned int)(rand() % 3000));
		for (int c = 0; c < nchild; c++) {
			if (pid[c] > 0 && !kill(pid[c], SIGKILL))
				kills++;
			waitpid(pid[c], NULL, 0);
		}
	}
	for (int c = 0; c < nchild; c++) {
		started += sh->child[c].started;
		done += sh->child[c].done;
	}
	for (int i = 0; i < CPU_SETSIZE; i++)
		sum += (long)sh->slots[i].v;
	tap_ok(done <= sum && sum <= started && started - done <= kills,
	       "kill: %d processes x %d rounds SIGKILLed mid-run: shared per-CPU sum %ld within "
	       "[completed %ld, started %ld] (cpu_id index; fallback: atomic add)", nchild, rounds,
	       sum, done, started);
	munmap(sh, sizeof(*sh));
}

static void body(const char *env, int argc, char **argv)
{
	bool lng = envrun_has_arg(argc, argv, "--long");
	struct sigaction sa = { .sa_sigaction = on_usr1, .sa_flags = SA_RESTART | SA_SIGINFO };
	enum inj last = lng ? INJ_ALL : INJ_SIGNAL;

	sigaction(SIGUSR1, &sa, NULL);
	rseqkit_inject_hook = hook;
	rseqkit_init();
	nthreads = lng ? 8 : 4;
	iters = lng ? 20000 : 200;
	case_ms = lng ? 3000 : (tap_in_vm() ? 400 : 150);
	if (getenv("RSEQKIT_STRESS_MS"))
		case_ms = atol(getenv("RSEQKIT_STRESS_MS"));
	struct rseqkit_mode m;

	rseqkit_get_mode(&m);
	tap_diag("%s: %s (owner %s, %s mode, mm_cid %s), %d slots, %s tier: %d threads, >= %ld "
		 "iterations and >= %ld ms per case", env,
		 rseqkit_percpu_fallback() ? "fallbacks" : "rseq", rseqkit_owner_name(m.owner),
		 rseqkit_abi_mode_name(m.abi),
		 (m.fields & RSEQKIT_FIELD_MM_CID) ? "usable" : "not usable",
		 rseqkit_percpu_nr_slots(), lng ? "long" : "short", nthreads, iters, case_ms);
	srand((unsigned int)time(NULL));
	for (int k = 0; k < 2; k++)
		for (enum inj j = lng ? INJ_NONE : INJ_SPIN; j <= last; j++)
			run_case(k ? RSEQKIT_INDEX_MM_CID : RSEQKIT_INDEX_CPU_ID, j);
	kill_case(lng ? 4 : 2, lng ? 20 : (tap_in_vm() ? 2 : 4));
}

int main(int argc, char **argv)
{
	return envrun_main(argc, argv, body);
}
