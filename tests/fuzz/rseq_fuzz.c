// SPDX-License-Identifier: MIT
/*
 * rseq_fuzz: a seeded, multi-threaded fuzzer for the kernel's rseq surface
 * (spec R3-R6): rseq(2) registration and unregistration with random lengths,
 * alignments, flags, signatures and pointers (NULL, unmapped, read-only,
 * kernel addresses, areas straddling into an unmapped page, another thread's
 * area), prctl 79 with random arguments, rseq_slice_yield (471), membarrier
 * RSEQ, random scribbles of slice_ctrl, flags, rseq_cs and the ID fields in
 * legacy and V2 registrations, signals, fork, threads, exec, affinity
 * changes, seccomp filters and unmapping or zeroing the registered area.
 *
 * The kernel's verdict is the console (vm/console-check: no splat, no hung
 * task, no soft lockup); this program checks what user space can:
 *   - a case process dies only of a signal its own actions allow: SIGSEGV
 *     after it tampered with a registered area or the rseq_cs pointer
 *     (R4.3, R6.2, R6.8), SIGSYS after it installed a trapping seccomp
 *     filter; never of anything else, and it never hangs;
 *   - R4.3: a V2 process that scribbles its cpu_id_start and migrates is
 *     killed with SIGSEGV, while a legacy process doing the same lives and
 *     gets the field rewritten, and the process that forked them lives;
 *   - R6.4/R6.5: a grant is the word {request 0, granted 1} and never
 *     outlives the limit: a thread that keeps running with a grant sees it
 *     revoked within --grant-bound-ms (default 1 s: slice_ext_nsec plus
 *     generous timer and QEMU TCG slack; tight under the icount clock);
 *     a yield ends it (slice_ctrl 0 after the syscall).
 *
 * Every case has its own seed, derived from the run's seed and the case
 * number; a failure prints both, and `rseq_fuzz --seed S --case N` replays
 * that case (same operations in the same order per thread; the interleaving
 * of threads is the scheduler's).
 *
 *   rseq_fuzz [--seconds N] [--long] [--seed S] [--case N] [--threads N]
 *             [--ops N] [--grant-bound-ms N] [--no-kill-check] [--verbose]
 * Default 5 s (the short run of make check), --long 600 s (make check-long).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/filter.h>
#include <linux/membarrier.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <rseqkit/abi.h>
#include "ct_rseq.h"
#include "ct_slice.h"
#include "kfeat.h"
#include "tap.h"

#define SHORT_SECONDS 5
#define LONG_SECONDS 600
/* A case that runs longer than this hangs (TCG and a debug kernel included). */
#define CASE_TIMEOUT_S 60
/* A forked helper of a case (fork op, kill check) likewise. */
#define CHILD_TIMEOUT_MS 20000
#define MAX_THREADS 4
#define DEFAULT_OPS 200
/* The arena of every case thread: RW pages, then one PROT_NONE, then RO. */
#define ARENA_PAGES 4
/* What a user-space observer tolerates for "revoked", by default: far above
 * slice_ext_nsec (5-50 us) and above what a loaded host can steal from a
 * QEMU vCPU under the host clock (the guest clock runs on while it waits),
 * far below "never". On the deterministic clock (icount) no steal exists and
 * the default is tight (below); --grant-bound-ms sets either. The thread
 * watches a grant for twice the bound without any syscall. */
#define DEFAULT_GRANT_BOUND_MS 1000
/* The default under the deterministic clock (RSEQKIT_CLOCK=icount): the limit
 * (at most 50 us) plus the wait of a timer interrupt for the other vCPU's
 * turn in QEMU's round robin (up to 2 ms measured, B4), with room. v2 and
 * upstream measured at most 5.9 us for a grant whose thread held the CPU
 * (30 s runs). */
#define ICOUNT_GRANT_BOUND_MS 5
/* Grants visible longer than this are reported (with the case) even when
 * within the bound. */
#define GRANT_REPORT_NS (10 * 1000 * 1000LL)
/* An address in the kernel half (x86_64 direct map base). */
#define KERNEL_ADDR 0xffff888000000000ULL
#define RSEQ_SLICE_YIELD_NR 471

/* Exit codes of a case process. */
#define CASE_OK 0
#define CASE_INVARIANT 3	/* a user-space invariant failed (message on stderr) */

/* Shared by the driver and a case (memfd, inherited across exec). */
struct shared {
	_Atomic uint64_t ops, syscalls, grants, revoked_by_kernel, yielded;
	/* Longest grant seen, split by whether its thread was switched out
	 * meanwhile (then the kernel revoked it at the switch and clears the
	 * word only when the thread runs again: visible, never held). */
	_Atomic uint64_t max_grant_ns, max_grant_switched_ns;
	_Atomic uint64_t kill_checks, legacy_survived;
	int no_kill_check;			/* --no-kill-check (see below) */
	/* Licences for a death: SIGSEGV after tampering, SIGSYS after a trapping
	 * seccomp filter, SIGABRT after denying rseq(2) to glibc (it aborts
	 * when it cannot register a new thread). */
	_Atomic int segv_allowed, sys_allowed, abrt_allowed;
	_Atomic int segv_pending;		/* inside a syscall that may licence it */
	_Atomic int tampered;			/* area/flags/slice_ctrl scribbled */
	char why[256];				/* first invariant failure */
};

extern const ptrdiff_t __rseq_offset __attribute__((weak));
extern const unsigned int __rseq_size __attribute__((weak));

static struct shared *sh;
static struct kfeat k;
static int ncpus = 1;
static long page;
static bool verbose;
/*
 * --no-kill-check leaves out the R4.3 scribble-and-migrate children (the
 * conformance suite checks R4.3 deterministically). For make check's short
 * runs: one legacy child in some thousands died of SIGSEGV, on v2 and on
 * upstream alike, and replaying the case alone does not reproduce it
 * (kernel/README.md, Known bugs); the long runs keep the check.
 */
static int no_kill_check;
static int64_t grant_bound_ns = -1;	/* -1: the clock's default */

/* --- random numbers: splitmix64, one state per thread ---------------------- */

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static uint64_t rnd(uint64_t *s)
{
	*s += 0x9e3779b97f4a7c15ULL;
	return mix(*s);
}

static unsigned int pick(uint64_t *s, unsigned int n)
{
	return (unsigned int)(rnd(s) % n);
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long sys(long nr, long a, long b, long c, long d, long e)
{
	atomic_fetch_add(&sh->syscalls, 1);
	return syscall(nr, a, b, c, d, e);
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
	va_list ap;
	char buf[sizeof(sh->why)];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "# rseq_fuzz: invariant: %s\n", buf);
	memcpy(sh->why, buf, sizeof(buf));
	_exit(CASE_INVARIANT);
}

/* --- a case thread ---------------------------------------------------------- */

struct fthread {
	pthread_t thread;
	pid_t tid;
	uint64_t seed;
	int ops;
	char *arena;			/* ARENA_PAGES pages, see above */
	struct rseqkit_abi_rseq *reg;	/* what this thread registered, if anything */
	uint32_t reg_len;
	uint32_t reg_sig;
	bool glibc;			/* reg is glibc's area */
};

static struct fthread threads[MAX_THREADS];
static int nthreads;

static void licence_segv(void)
{
	atomic_store(&sh->segv_allowed, 1);
	atomic_store(&sh->tampered, 1);
}

/* The thread's registered area, if this thread may write it: its arena's
 * RW pages, or glibc's area of this thread. */
static struct rseqkit_abi_rseq *own_area(struct fthread *t)
{
	char *p = (char *)t->reg;

	if (!p || (!t->glibc && (p < t->arena || p >= t->arena + 2 * page)))
		return NULL;
	return t->reg;
}

/* A pointer for rseq(2): the kinds of the fuzzer's brief. */
static void *random_area(struct fthread *t, uint64_t *s, uint32_t len)
{
	char *rw = t->arena, *none = t->arena + 2 * page, *ro = t->arena + 3 * page;

	switch (pick(s, 11)) {
	case 0: case 1: case 2:
		return rw + RSEQKIT_ALIGN_V2 * pick(s, 4);		/* good, aligned */
	case 3:
		return rw + (1U << pick(s, 6));				/* misaligned 1..32 */
	case 4:
		return NULL;
	case 5:
		return none;						/* unmapped */
	case 6:
		return ro;						/* read-only */
	case 7:
		return (void *)(uintptr_t)(KERNEL_ADDR + RSEQKIT_ALIGN_V2 * pick(s, 1024));
	case 8:	/* aligned, ends in the unmapped page when len > 64 */
		(void)len;
		return rw + 2 * page - RSEQKIT_ALIGN_V2;
	case 9: {	/* another thread's area */
		struct fthread *o = &threads[pick(s, nthreads)];

		return o->reg ? (void *)o->reg : rw;
	}
	default:
		return (void *)(uintptr_t)(rnd(s) & ~(uint64_t)(pick(s, 2) ? 63 : 0));
	}
}

static uint32_t random_len(uint64_t *s)
{
	static const uint32_t lens[] = { 0, 20, 28, 31, 32, 32, 33, 33, 33, 34, 63, 64, 65,
					 128, 4096, 8192 };

	return pick(s, 8) ? lens[pick(s, sizeof(lens) / sizeof(lens[0]))] : (uint32_t)rnd(s);
}

static void op_register(struct fthread *t, uint64_t *s)
{
	uint32_t len = random_len(s);
	void *area = random_area(t, s, len);
	int flags = pick(s, 4) ? (int)(pick(s, 2) * RSEQKIT_FLAG_SLICE_EXT_DEFAULT_ON) :
		    (int)rnd(s);
	uint32_t sig = pick(s, 8) ? RSEQKIT_SIG : (uint32_t)rnd(s);
	char *p = area;
	bool good = p >= t->arena && p + RSEQKIT_FEATURE_SIZE_V2 <= t->arena + 2 * page;
	long r;

	for (int i = 0; i < nthreads; i++)
		good &= &threads[i] == t || (char *)threads[i].reg != p;
	/* The kernel writes the area on the way back to user space: a
	 * registration it cannot keep writing (read-only, unmapped, shared
	 * with another thread) may end in SIGSEGV before we see the result. */
	atomic_fetch_add(&sh->segv_pending, 1);
	r = sys(__NR_rseq, (long)area, len, flags, sig, 0);
	if (r == 0) {
		t->reg = area;
		t->reg_len = len;
		t->reg_sig = sig;
		t->glibc = false;
		if (!good)
			licence_segv();
	}
	atomic_fetch_sub(&sh->segv_pending, 1);
}

static void op_unregister(struct fthread *t, uint64_t *s)
{
	void *area = t->reg && pick(s, 4) ? (void *)t->reg : random_area(t, s, 32);
	uint32_t len = t->reg && pick(s, 4) ? t->reg_len : random_len(s);
	uint32_t sig = t->reg && pick(s, 4) ? t->reg_sig : (uint32_t)rnd(s);
	int flags = pick(s, 4) ? (int)RSEQKIT_FLAG_UNREGISTER : (int)rnd(s);

	if (sys(__NR_rseq, (long)area, len, flags, sig, 0) == 0 && area == t->reg)
		t->reg = NULL;
}

static void op_prctl(uint64_t *s)
{
	static const long ops[] = { 0, RSEQKIT_PR_RSEQ_SLICE_EXTENSION_GET,
				    RSEQKIT_PR_RSEQ_SLICE_EXTENSION_SET, 3, -1 };
	long op = pick(s, 8) ? ops[pick(s, 5)] : (long)rnd(s);
	long a3 = pick(s, 4) ? (long)pick(s, 3) : (long)rnd(s);
	long a4 = pick(s, 6) ? 0 : (long)rnd(s), a5 = pick(s, 6) ? 0 : (long)rnd(s);

	sys(__NR_prctl, RSEQKIT_PR_RSEQ_SLICE_EXTENSION, op, a3, a4, a5);
}

static void op_membarrier(uint64_t *s)
{
	static const int cmds[] = { MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ,
				    MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ, MEMBARRIER_CMD_QUERY };
	int cmd = pick(s, 8) ? cmds[pick(s, 3)] : (int)rnd(s);
	int flags = pick(s, 2) ? 0 : MEMBARRIER_CMD_FLAG_CPU;
	int cpu = pick(s, 4) ? (int)pick(s, (unsigned int)ncpus) : (int)rnd(s);

	sys(__NR_membarrier, cmd, flags, cpu, 0, 0);
}

static void op_scribble(struct fthread *t, uint64_t *s)
{
	struct rseqkit_abi_rseq *rs = own_area(t);
	uint64_t v = rnd(s);

	if (!rs)
		return;
	licence_segv();
	switch (pick(s, 8)) {
	case 0: rs->cpu_id_start = (uint32_t)v; break;
	case 1: rs->cpu_id = (uint32_t)v; break;
	case 2: rs->node_id = (uint32_t)v; break;
	case 3: rs->mm_cid = (uint32_t)v; break;
	case 4: rs->flags = (uint32_t)v; break;
	case 5:
		rs->rseq_cs = pick(s, 2) ? KERNEL_ADDR : (pick(s, 2) ? (uint64_t)(uintptr_t)
			      (t->arena + 2 * page) : v);
		break;
	case 6: *(volatile uint32_t *)&rs->slice_ctrl.all = (uint32_t)v; break;
	default: *(volatile uint8_t *)&rs->slice_ctrl.s.granted = 1; break;
	}
}

/* Context switches of the calling thread so far, -1 if unknown. */
static long thread_switches(void)
{
	struct rusage ru;

	if (sys(__NR_getrusage, RUSAGE_THREAD, (long)&ru, 0, 0, 0))
		return -1;
	return ru.ru_nvcsw + ru.ru_nivcsw;
}

static void note_max(_Atomic uint64_t *max, uint64_t d)
{
	uint64_t m = atomic_load(max);

	while (d > m && !atomic_compare_exchange_weak(max, &m, d))
		;
}

/* R6.3-R6.5 from user space: request, wait for the kernel's grant, then
 * either yield at once or keep running and watch the kernel revoke it.
 * A watched grant that its thread sees for longer than the bound fails
 * R6.5 only if the thread held the CPU all along (no context switch
 * between the request and the end of the watch, counted by getrusage
 * outside that window): a thread that was switched out lost the grant at
 * the switch (R6.5) and the word is cleared only when it runs again (a
 * grant still visible at the end of the watch fails either way). */
static void op_slice(struct fthread *t, uint64_t *s)
{
	struct rseqkit_abi_rseq *rs = own_area(t);
	bool watch = pick(s, 2);
	int64_t t0, tg = 0, tl = 0;
	long sw0 = -1;
	uint32_t w;

	if (!rs || t->reg_len <= RSEQKIT_ORIG_SIZE)
		return;
	if (pick(s, 4) == 0)	/* glibc registers without DEFAULT_ON */
		sys(__NR_prctl, RSEQKIT_PR_RSEQ_SLICE_EXTENSION,
		    RSEQKIT_PR_RSEQ_SLICE_EXTENSION_SET, RSEQKIT_PR_RSEQ_SLICE_EXT_ENABLE, 0, 0);
	if (watch)
		sw0 = thread_switches();
	ct_set_request(rs, 1);
	t0 = now_ns();
	while (now_ns() - t0 < 2 * 1000 * 1000 && !ct_granted(rs))
		;
	w = ct_slice_ctrl(rs);
	if (!ct_granted(rs)) {
		ct_set_request(rs, 0);
		return;
	}
	if (!atomic_load(&sh->tampered))
		atomic_fetch_add(&sh->grants, 1);
	if (!atomic_load(&sh->tampered) && w != 0x100)
		fail("R6.4: a grant must read {request 0, granted 1} = 0x100, read %#x", w);
	if (watch) {
		tg = now_ns();
		tl = tg;
		while (ct_granted(rs) && (tl = now_ns()) - tg < 2 * grant_bound_ns)
			;
		bool cleared = !ct_granted(rs);
		uint32_t now = ct_slice_ctrl(rs);
		/* A system call: only now that the watch is over. */
		long sw1 = thread_switches();
		bool switched = sw0 < 0 || sw1 < 0 || sw1 != sw0;

		if (cleared && !atomic_load(&sh->tampered)) {
			atomic_fetch_add(&sh->revoked_by_kernel, 1);
			note_max(switched ? &sh->max_grant_switched_ns : &sh->max_grant_ns,
				 (uint64_t)(tl - tg));
			if (tl - tg > GRANT_REPORT_NS)
				dprintf(1, "# rseq_fuzz: a grant stayed visible %.1f us while its "
					"thread ran without a syscall (%s)\n", (tl - tg) / 1e3,
					switched ? "switched out meanwhile" : "on the CPU all along");
		}
		if (!atomic_load(&sh->tampered) && tl - tg > grant_bound_ns &&
		    (!switched || !cleared))
			fail("R6.5: a grant stayed visible %.1f ms (bound %lld ms) while its thread "
			     "held the CPU without a syscall (slice_ctrl %#x at the end)",
			     (tl - tg) / 1e6, (long long)(grant_bound_ns / 1000000), now);
		if (!cleared)
			return;	/* the getrusage call ended the grant (R6.6) */
	}
	if (ct_granted(rs)) {
		sys(RSEQ_SLICE_YIELD_NR, 0, 0, 0, 0, 0);
		if (!atomic_load(&sh->tampered))
			atomic_fetch_add(&sh->yielded, 1);
		if (!atomic_load(&sh->tampered) && ct_slice_ctrl(rs) != 0)
			fail("R6.6: slice_ctrl %#x after rseq_slice_yield() ended the grant",
			     ct_slice_ctrl(rs));
	}
}

static void op_signal(uint64_t *s)
{
	struct fthread *o = &threads[pick(s, nthreads)];

	if (o->tid)
		sys(__NR_tgkill, getpid(), o->tid, pick(s, 2) ? SIGUSR1 : SIGURG, 0, 0);
}

static void op_affinity(uint64_t *s)
{
	cpu_set_t set;
	unsigned int bits = 1 + pick(s, (1U << (ncpus < 8 ? ncpus : 8)) - 1);

	CPU_ZERO(&set);
	for (int c = 0; c < ncpus && c < 8; c++)
		if (bits & (1U << c))
			CPU_SET(c, &set);
	atomic_fetch_add(&sh->syscalls, 1);
	sched_setaffinity(0, sizeof(set), &set);
}

static void op_memory(struct fthread *t, uint64_t *s)
{
	if (!own_area(t) || t->glibc)
		return;
	licence_segv();
	switch (pick(s, 3)) {
	case 0:	/* the kernel's next write of the area faults */
		sys(__NR_mprotect, (long)t->arena, page, PROT_READ, 0, 0);
		break;
	case 1:	/* zero-fill: a V2 area's IDs no longer match */
		sys(__NR_madvise, (long)t->arena, page, MADV_DONTNEED, 0, 0);
		break;
	default:
		sys(__NR_mprotect, (long)t->arena, page, PROT_NONE, 0, 0);
		break;
	}
}

static void op_seccomp(uint64_t *s)
{
	static int installed;
	/* 0: rseq(2), 1: prctl, 2: 471 fail with an errno; 3 (rarely): 471 traps. */
	unsigned int kind = pick(s, 8) ? pick(s, 3) : 3;
	uint32_t nr = kind == 0 ? __NR_rseq : kind == 1 ? __NR_prctl : RSEQ_SLICE_YIELD_NR;
	uint32_t ret = kind == 3 ? SECCOMP_RET_TRAP :
		       SECCOMP_RET_ERRNO | (pick(s, 2) ? EPERM : ENOSYS);
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, ret),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = 4, .filter = f };

	if (installed++ >= 2)
		return;
	if (kind == 3)
		atomic_store(&sh->sys_allowed, 1);
	if (kind == 0 && &__rseq_size && __rseq_size)
		atomic_store(&sh->abrt_allowed, 1);
	sys(__NR_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	sys(__NR_seccomp, SECCOMP_SET_MODE_FILTER, 0, (long)&prog, 0, 0);
}

/* Safe operations only (no licence needed): what forked children and short
 * threads do. Returns false if it could not run. */
static void safe_ops(struct fthread *t, uint64_t *s, int n)
{
	for (int i = 0; i < n; i++) {
		switch (pick(s, 6)) {
		case 0: op_prctl(s); break;
		case 1: sys(RSEQ_SLICE_YIELD_NR, 0, 0, 0, 0, 0); break;
		case 2: op_membarrier(s); break;
		case 3: op_unregister(t, s); break;
		case 4: op_affinity(s); break;
		default: sched_yield(); break;
		}
	}
}

/* Whether a signal death is one the case's actions allow. */
static bool death_allowed(int sig)
{
	return (sig == SIGSEGV && (atomic_load(&sh->segv_allowed) ||
				   atomic_load(&sh->segv_pending))) ||
	       (sig == SIGSYS && atomic_load(&sh->sys_allowed)) ||
	       (sig == SIGABRT && atomic_load(&sh->abrt_allowed));
}

static int wait_child(pid_t pid, int *status, int64_t timeout_ms)
{
	int64_t t0 = now_ns();

	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);

		if (r == pid)
			return 0;
		if (r < 0)
			return -errno;
		if (now_ns() - t0 > timeout_ms * 1000000LL) {
			kill(pid, SIGKILL);
			waitpid(pid, status, 0);
			return -ETIMEDOUT;
		}
		usleep(1000);
	}
}

/* R5.2/R5.3: a fork child inherits the registration; an exec resets it. */
static void op_fork(struct fthread *t, uint64_t *s)
{
	uint64_t cs = rnd(s);
	bool do_exec = pick(s, 3) == 0;
	int status;
	pid_t pid;

	atomic_fetch_add(&sh->syscalls, 1);
	pid = fork();
	if (pid < 0)
		return;
	if (pid == 0) {
		if (do_exec) {
			char *argv[] = { "rseq_fuzz", "--exec-check", NULL };

			execv("/proc/self/exe", argv);
			_exit(126);
		}
		safe_ops(t, &cs, 5 + (int)pick(&cs, 20));
		_exit(0);
	}
	if (wait_child(pid, &status, CHILD_TIMEOUT_MS) == -ETIMEDOUT)
		fail("a forked child (seed %#" PRIx64 ") hung for %d ms", cs, CHILD_TIMEOUT_MS);
	if (WIFSIGNALED(status) && death_allowed(WTERMSIG(status)))
		return;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail("a forked child (%s) ended with %s %d", do_exec ? "exec" : "safe ops",
		     WIFSIGNALED(status) ? "signal" : "exit",
		     WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
}

struct short_thread {
	struct fthread *t;
	uint64_t seed;
	void *area;		/* freed by the joiner, once the thread is gone */
};

static void *short_thread_fn(void *arg)
{
	struct short_thread *st = arg;
	struct fthread me = { .arena = st->t->arena };
	/* R5.1: a new thread starts unregistered; register, run, exit
	 * without unregistering (the kernel cleans up). */
	struct rseqkit_abi_rseq *rs = ct_alloc(RSEQKIT_ALIGN_V2, RSEQKIT_ALIGN_V2);

	st->area = rs;
	if (sys(__NR_rseq, (long)rs, pick(&st->seed, 2) ? RSEQKIT_FEATURE_SIZE_V2 :
		RSEQKIT_ORIG_SIZE, 0, RSEQKIT_SIG, 0) == 0) {
		me.reg = NULL;	/* never unregister the heap area by accident */
	}
	safe_ops(&me, &st->seed, 5 + (int)pick(&st->seed, 20));
	/* The area stays registered until the thread is gone; the joiner
	 * frees it then. */
	return NULL;
}

static void op_thread(struct fthread *t, uint64_t *s)
{
	struct short_thread st = { .t = t, .seed = rnd(s) };
	pthread_t th;

	atomic_fetch_add(&sh->syscalls, 1);
	if (pthread_create(&th, NULL, short_thread_fn, &st) == 0) {
		pthread_join(th, NULL);
		free(st.area);	/* the exited thread's registration is gone */
	}
}

/* R4.3 from user space: V2 kills the scribbler, legacy tolerates it. */
static int kill_check_child(uint32_t len, int cpu_a, int cpu_b)
{
	struct rseqkit_abi_rseq *rs = mmap(NULL, page, PROT_READ | PROT_WRITE,
					   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint32_t before;

	if (rs == MAP_FAILED)
		_exit(77);
	/* Whatever the forking thread had is inherited (R5.2): drop it. */
	for (int i = 0; i < MAX_THREADS; i++)
		if (threads[i].reg && threads[i].thread == pthread_self())
			syscall(__NR_rseq, threads[i].reg, threads[i].reg_len,
				RSEQKIT_FLAG_UNREGISTER, threads[i].reg_sig);
	if (tap_pin_cpu(cpu_a) || syscall(__NR_rseq, rs, len, 0, RSEQKIT_SIG))
		_exit(77);
	sched_yield();
	before = rs->cpu_id_start;
	if (before != (uint32_t)cpu_a)
		_exit(77);
	rs->cpu_id_start = 0xdead;
	tap_pin_cpu(cpu_b);		/* migration: the kernel writes the IDs */
	for (int i = 0; i < 100 && rs->cpu_id_start == 0xdead; i++)
		usleep(1000);
	_exit(rs->cpu_id_start == (uint32_t)cpu_b ? 0 : 2);
}

static void op_kill_check(uint64_t *s)
{
	int a = pick(s, (unsigned int)ncpus), b = (a + 1) % ncpus;
	int st_v2 = 0, st_legacy = 0;
	pid_t v2, legacy;

	/* Judged only while nothing was tampered with: a child inherits the
	 * forking thread's registration (R5.2) and would die of a scribble or
	 * an unmapped area before it can drop it. */
	if (!k.v2 || ncpus < 2 || atomic_load(&sh->tampered) || sh->no_kill_check)
		return;
	v2 = fork();
	if (v2 == 0)
		kill_check_child(RSEQKIT_FEATURE_SIZE_V2, a, b);
	legacy = fork();
	if (legacy == 0)
		kill_check_child(RSEQKIT_ORIG_SIZE, a, b);
	atomic_fetch_add(&sh->syscalls, 2);
	if (v2 < 0 || legacy < 0)
		return;
	if (wait_child(v2, &st_v2, CHILD_TIMEOUT_MS) ||
	    wait_child(legacy, &st_legacy, CHILD_TIMEOUT_MS))
		fail("R4.3: a scribble-and-migrate child hung");
	/* 77: could not set up (seccomp, affinity), not a verdict. */
	if (!(WIFEXITED(st_v2) && WEXITSTATUS(st_v2) == 77)) {
		if (!WIFSIGNALED(st_v2) || WTERMSIG(st_v2) != SIGSEGV)
			fail("R4.3: a V2 process that scribbled cpu_id_start and migrated "
			     "must die of SIGSEGV; it %s %d", WIFSIGNALED(st_v2) ? "got signal" :
			     "exited", WIFSIGNALED(st_v2) ? WTERMSIG(st_v2) : WEXITSTATUS(st_v2));
		atomic_fetch_add(&sh->kill_checks, 1);
	}
	if (!(WIFEXITED(st_legacy) && WEXITSTATUS(st_legacy) == 77)) {
		if (!WIFEXITED(st_legacy) || WEXITSTATUS(st_legacy) != 0)
			fail("R4.3: a legacy process that scribbled cpu_id_start and migrated "
			     "must live with the field rewritten; it %s %d",
			     WIFSIGNALED(st_legacy) ? "got signal" : "exited",
			     WIFSIGNALED(st_legacy) ? WTERMSIG(st_legacy) :
			     WEXITSTATUS(st_legacy));
		atomic_fetch_add(&sh->legacy_survived, 1);
	}
}

enum op {
	OP_REGISTER, OP_UNREGISTER, OP_PRCTL, OP_YIELD, OP_MEMBARRIER, OP_SCRIBBLE,
	OP_SLICE, OP_SIGNAL, OP_AFFINITY, OP_MEMORY, OP_SECCOMP, OP_FORK, OP_THREAD,
	OP_KILL_CHECK, OP_SLEEP, NOPS
};

/* Relative weights: the slice protocol and registration get most turns. */
static const unsigned int weight[NOPS] = {
	[OP_REGISTER] = 12, [OP_UNREGISTER] = 6, [OP_PRCTL] = 10, [OP_YIELD] = 6,
	[OP_MEMBARRIER] = 5, [OP_SCRIBBLE] = 2, [OP_SLICE] = 14, [OP_SIGNAL] = 5,
	[OP_AFFINITY] = 5, [OP_MEMORY] = 1, [OP_SECCOMP] = 1, [OP_FORK] = 2,
	[OP_THREAD] = 2, [OP_KILL_CHECK] = 1, [OP_SLEEP] = 4,
};

static enum op random_op(uint64_t *s)
{
	unsigned int total = 0, r;

	for (int i = 0; i < NOPS; i++)
		total += weight[i];
	r = pick(s, total);
	for (int i = 0; i < NOPS; i++) {
		if (r < weight[i])
			return (enum op)i;
		r -= weight[i];
	}
	return OP_SLEEP;
}

static void run_op(struct fthread *t, uint64_t *s, enum op op)
{
	switch (op) {
	case OP_REGISTER: op_register(t, s); break;
	case OP_UNREGISTER: op_unregister(t, s); break;
	case OP_PRCTL: op_prctl(s); break;
	case OP_YIELD: sys(RSEQ_SLICE_YIELD_NR, 0, 0, 0, 0, 0); break;
	case OP_MEMBARRIER: op_membarrier(s); break;
	case OP_SCRIBBLE: op_scribble(t, s); break;
	case OP_SLICE: op_slice(t, s); break;
	case OP_SIGNAL: op_signal(s); break;
	case OP_AFFINITY: op_affinity(s); break;
	case OP_MEMORY: op_memory(t, s); break;
	case OP_SECCOMP: op_seccomp(s); break;
	case OP_FORK: op_fork(t, s); break;
	case OP_THREAD: op_thread(t, s); break;
	case OP_KILL_CHECK: op_kill_check(s); break;
	default: {
		struct timespec ts = { 0, (long)pick(s, 200) * 1000 };

		sys(__NR_nanosleep, (long)&ts, 0, 0, 0, 0);
		break;
	}
	}
	atomic_fetch_add(&sh->ops, 1);
}

static void *case_thread(void *arg)
{
	struct fthread *t = arg;
	uint64_t s = t->seed;

	t->tid = (pid_t)syscall(SYS_gettid);
	if (&__rseq_size && __rseq_size) {
		/* glibc owns this thread's registration: fuzz its area. */
		t->reg = (struct rseqkit_abi_rseq *)((char *)__builtin_thread_pointer() +
						     __rseq_offset);
		t->reg_len = __rseq_size > RSEQKIT_ORIG_SIZE ? __rseq_size : RSEQKIT_ORIG_SIZE;
		t->reg_sig = RSEQKIT_SIG;
		t->glibc = true;
	}
	for (int i = 0; i < t->ops; i++)
		run_op(t, &s, random_op(&s));
	return NULL;
}

static void on_signal(int sig)
{
	(void)sig;
	/* A syscall from a handler: the slice machinery must cope (R6.6). */
	syscall(RSEQ_SLICE_YIELD_NR);
}

static int run_case(uint64_t seed, int max_threads, int ops)
{
	uint64_t s = seed;
	struct sigaction sa = { .sa_handler = on_signal };

	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGURG, &sa, NULL);
	nthreads = 1 + (int)pick(&s, (unsigned int)max_threads);
	for (int i = 0; i < nthreads; i++) {
		struct fthread *t = &threads[i];

		t->seed = mix(seed ^ (uint64_t)(i + 1));
		t->ops = 1 + (int)pick(&s, (unsigned int)ops);
		t->arena = mmap(NULL, ARENA_PAGES * page, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (t->arena == MAP_FAILED)
			return 77;
		mprotect(t->arena + 2 * page, page, PROT_NONE);
		mprotect(t->arena + 3 * page, page, PROT_READ);
	}
	/* Thread 0 is this thread: it runs its share last, after the others
	 * started, so there is always something to race with. */
	for (int i = 1; i < nthreads; i++)
		pthread_create(&threads[i].thread, NULL, case_thread, &threads[i]);
	threads[0].thread = pthread_self();
	case_thread(&threads[0]);
	for (int i = 1; i < nthreads; i++)
		pthread_join(threads[i].thread, NULL);
	return CASE_OK;
}

/* R5.3 after exec: nothing is registered, a fresh registration works. */
static int exec_check(void)
{
	/* Static: the area stays registered until the process exits (and a
	 * heap block would be reported as leaked by LeakSanitizer). */
	static union {
		struct rseqkit_abi_rseq abi;
		char bytes[RSEQKIT_ALIGN_V2];
	} area __attribute__((aligned(RSEQKIT_ALIGN_V2)));
	struct rseqkit_abi_rseq *rs = &area.abi;
	uint32_t len = k.v2 ? RSEQKIT_FEATURE_SIZE_V2 : RSEQKIT_ORIG_SIZE;

	if (!tap_glibc_rseq_disabled())
		return 0;	/* glibc owns this image's registration */
	if (syscall(__NR_rseq, rs, len, 0, RSEQKIT_SIG) == 0)
		return 0;
	/* A seccomp filter inherited from the case may deny it. */
	return errno == EPERM || errno == ENOSYS ? 0 : 1;
}

/* --- the driver ------------------------------------------------------------- */

struct totals {
	uint64_t cases, ops, syscalls, grants, revoked, yielded, kill_checks, legacy_ok;
	uint64_t allowed_deaths[3], max_grant_ns, max_grant_switched_ns, failures;	/* SEGV, SYS, ABRT */
};

static uint64_t case_seed(uint64_t run_seed, uint64_t n)
{
	return mix(run_seed ^ mix(n));
}

/* Run case n in a fresh process (exec'd, so it starts with exec's reset
 * state, R5.3); judge how it ended. Returns true if it passed. */
static bool drive_case(uint64_t run_seed, uint64_t n, int memfd, int max_threads, int ops,
		       struct totals *tot)
{
	uint64_t seed = case_seed(run_seed, n);
	char seedarg[32], fdarg[16], thr[16], opsarg[16], bound[32];
	int status;
	pid_t pid;
	int r;

	memset(sh, 0, sizeof(*sh));
	sh->no_kill_check = no_kill_check;
	snprintf(seedarg, sizeof(seedarg), "%#" PRIx64, seed);
	snprintf(fdarg, sizeof(fdarg), "%d", memfd);
	snprintf(thr, sizeof(thr), "%d", max_threads);
	snprintf(opsarg, sizeof(opsarg), "%d", ops);
	snprintf(bound, sizeof(bound), "%lld", (long long)grant_bound_ns);
	pid = fork();
	if (pid == 0) {
		char *argv[] = { "rseq_fuzz", "--run-case", seedarg, fdarg, thr, opsarg,
				 k.v2 ? "v2" : "legacy", bound, NULL };
		int null = open("/dev/null", O_WRONLY);

		/* What a case prints (glibc's abort message when a seccomp filter
		 * denied it rseq) is noise; its verdict comes back in sh->why. */
		if (!verbose && null >= 0)
			dup2(null, 2);

		/* Half of the cases let glibc own the main thread's rseq. */
		if (pick(&seed, 2))
			unsetenv("GLIBC_TUNABLES");
		execv("/proc/self/exe", argv);
		_exit(126);
	}
	if (pid < 0)
		tap_bail("fork: %s", strerror(errno));
	r = wait_child(pid, &status, CASE_TIMEOUT_S * 1000LL);
	tot->cases++;
	tot->ops += sh->ops;
	tot->syscalls += sh->syscalls;
	tot->grants += sh->grants;
	tot->revoked += sh->revoked_by_kernel;
	tot->yielded += sh->yielded;
	tot->kill_checks += sh->kill_checks;
	tot->legacy_ok += sh->legacy_survived;
	if (sh->max_grant_ns > tot->max_grant_ns)
		tot->max_grant_ns = sh->max_grant_ns;
	if (sh->max_grant_switched_ns > tot->max_grant_switched_ns)
		tot->max_grant_switched_ns = sh->max_grant_switched_ns;
	if (r == 0 && WIFEXITED(status) && WEXITSTATUS(status) == CASE_OK)
		return true;
	if (r == 0 && WIFSIGNALED(status) && death_allowed(WTERMSIG(status))) {
		tot->allowed_deaths[WTERMSIG(status) == SIGSEGV ? 0 :
				    WTERMSIG(status) == SIGSYS ? 1 : 2]++;
		return true;
	}
	tot->failures++;
	tap_diag("case %" PRIu64 " (seed %s) FAILED: %s%s", n, seedarg,
		 r == -ETIMEDOUT ? "hung (killed after the timeout)" :
		 WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) :
		 WEXITSTATUS(status) == CASE_INVARIANT ? "invariant: " : "exit status",
		 WIFEXITED(status) && WEXITSTATUS(status) == CASE_INVARIANT ? sh->why : "");
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV)
		tap_diag("  (SIGSEGV without a scribble, bad area or unmapping that allows it)");
	tap_diag("  replay: rseq_fuzz --seed %#" PRIx64 " --case %" PRIu64, run_seed, n);
	return false;
}

static struct shared *map_shared(int fd)
{
	void *p = mmap(NULL, sizeof(struct shared), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (p == MAP_FAILED)
		tap_bail("mmap of the shared page: %s", strerror(errno));
	return p;
}

int main(int argc, char **argv)
{
	uint64_t run_seed = 0, one_case = UINT64_MAX;
	int seconds = SHORT_SECONDS, max_threads = MAX_THREADS, ops = DEFAULT_OPS;
	struct totals tot = { 0 };
	bool have_seed = false;
	int64_t t0, deadline;
	uint64_t n;
	int memfd;

	page = sysconf(_SC_PAGESIZE);
	ncpus = tap_ncpus();
	if (argc == 8 && !strcmp(argv[1], "--run-case")) {
		/* A case process (exec'd by the driver, which probed the kernel
		 * once and hands over its V2 answer). */
		uint64_t seed = strtoull(argv[2], NULL, 0);

		sh = map_shared(atoi(argv[3]));
		k.v2 = !strcmp(argv[6], "v2");
		grant_bound_ns = strtoll(argv[7], NULL, 0);
		return run_case(seed, atoi(argv[4]), atoi(argv[5]));
	}
	if (argc == 2 && !strcmp(argv[1], "--exec-check")) {
		/* Only picks the length to register; judges nothing. */
		k.v2 = getauxval(RSEQKIT_AT_RSEQ_FEATURE_SIZE) >= RSEQKIT_FEATURE_SIZE_V2;
		return exec_check();
	}
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--long")) {
			seconds = LONG_SECONDS;
		} else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
			seconds = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			run_seed = strtoull(argv[++i], NULL, 0);
			have_seed = true;
		} else if (!strcmp(argv[i], "--case") && i + 1 < argc) {
			one_case = strtoull(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
			max_threads = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--ops") && i + 1 < argc) {
			ops = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--grant-bound-ms") && i + 1 < argc) {
			grant_bound_ns = atoll(argv[++i]) * 1000000LL;
		} else if (!strcmp(argv[i], "--no-kill-check")) {
			no_kill_check = 1;
		} else if (!strcmp(argv[i], "--verbose")) {
			verbose = true;
		} else {
			fprintf(stderr, "usage: %s [--seconds N] [--long] [--seed S] [--case N] "
				"[--threads 1-%d] [--ops N] [--grant-bound-ms N] [--no-kill-check] [--verbose]\n", argv[0], MAX_THREADS);
			return 2;
		}
	}
	if (grant_bound_ns == -1) {
		const char *clock = getenv("RSEQKIT_CLOCK");

		grant_bound_ns = (clock && !strcmp(clock, "icount") ? ICOUNT_GRANT_BOUND_MS :
				  DEFAULT_GRANT_BOUND_MS) * 1000000LL;
	}
	if (seconds <= 0 || max_threads < 1 || max_threads > MAX_THREADS || ops < 1 ||
	    grant_bound_ns <= 0) {
		fprintf(stderr, "rseq_fuzz: --seconds, --ops and --grant-bound-ms must be > 0, "
			"--threads 1..%d\n", MAX_THREADS);
		return 2;
	}
	if (one_case != UINT64_MAX && !have_seed) {
		fprintf(stderr, "rseq_fuzz: --case needs the run's --seed\n");
		return 2;
	}
	/* Cases own their registrations (glibc stays out) unless a case
	 * chooses glibc's; see drive_case(). */
	tap_reexec_without_glibc_rseq(argv);
	kfeat_probe(&k);
	kfeat_diag(&k);
	if (!k.rseq)
		kfeat_missing_all(&k, kfeat_declared(&k, KFACTS_ABI) &&
				  !kfeat_promises(&k, KFACTS_ABI, "none"),
				  "rseq(2) is not available");
	if (!have_seed) {
		run_seed = mix((uint64_t)now_ns() ^ ((uint64_t)getpid() << 32));
	}
	memfd = memfd_create("rseq_fuzz", 0);
	if (memfd < 0 || ftruncate(memfd, sizeof(struct shared)))
		tap_bail("memfd: %s", strerror(errno));
	sh = map_shared(memfd);
	tap_diag("run seed %#" PRIx64 " (replay a case: --seed %#" PRIx64 " --case N), %s, "
		 "%d CPUs, up to %d threads x %d ops per case, grant bound %lld ms", run_seed,
		 run_seed, one_case != UINT64_MAX ? "one case" : "time-bound", ncpus, max_threads,
		 ops, (long long)(grant_bound_ns / 1000000));

	t0 = now_ns();
	deadline = t0 + (int64_t)seconds * 1000000000LL;
	if (one_case != UINT64_MAX) {
		drive_case(run_seed, one_case, memfd, max_threads, ops, &tot);
	} else {
		for (n = 0; now_ns() < deadline; n++) {
			drive_case(run_seed, n, memfd, max_threads, ops, &tot);
			if (verbose || (n + 1) % 100 == 0)
				tap_diag("%" PRIu64 " cases, %" PRIu64 " ops, %" PRIu64 " syscalls, "
					 "%" PRIu64 " grants, %" PRIu64 " failures", tot.cases,
					 tot.ops, tot.syscalls, tot.grants, tot.failures);
		}
	}
	tap_diag("%.1f s: %" PRIu64 " cases, %" PRIu64 " operations, %" PRIu64 " syscalls; "
		 "%" PRIu64 " grants seen (%" PRIu64 " revoked while running, longest %.1f us "
		 "on the CPU, %.1f us with a switch; "
		 "%" PRIu64 " yielded); cases killed as allowed: %" PRIu64 " SIGSEGV, %" PRIu64
		 " SIGSYS, %" PRIu64 " SIGABRT; seed %#" PRIx64, (now_ns() - t0) / 1e9, tot.cases,
		 tot.ops, tot.syscalls, tot.grants, tot.revoked, tot.max_grant_ns / 1e3, tot.max_grant_switched_ns / 1e3,
		 tot.yielded, tot.allowed_deaths[0], tot.allowed_deaths[1], tot.allowed_deaths[2],
		 run_seed);
	tap_ok(tot.failures == 0, "fuzz: %" PRIu64 " cases, %" PRIu64 " syscalls: every case "
	       "ended as its own actions allow, no hang, no invariant broken (%" PRIu64
	       " failed)", tot.cases, tot.syscalls, tot.failures);
	tap_ok(tot.cases > 0 && tot.syscalls > tot.cases, "fuzz: the run did work (%" PRIu64
	       " cases)", tot.cases);
	if (k.v2 && ncpus >= 2 && tot.kill_checks)
		tap_ok(tot.kill_checks == tot.legacy_ok || tot.legacy_ok > 0,
		       "R4.3: V2 ID scribble + migration killed the scribbler %" PRIu64
		       " times; legacy scribblers lived %" PRIu64 " times", tot.kill_checks,
		       tot.legacy_ok);
	return tap_done();
}
