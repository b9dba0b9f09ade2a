// SPDX-License-Identifier: MIT
/* The hostile process of the R6.6/R6.9 tests and its RT victim (ct_hostile.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "ct_hostile.h"
#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#ifndef PR_SET_SYSCALL_USER_DISPATCH
# define PR_SET_SYSCALL_USER_DISPATCH 59
# define PR_SYS_DISPATCH_OFF 0
# define PR_SYS_DISPATCH_ON 1
# define SYSCALL_DISPATCH_FILTER_ALLOW 0
# define SYSCALL_DISPATCH_FILTER_BLOCK 1
#endif
#ifndef SYS_USER_DISPATCH
# define SYS_USER_DISPATCH 2
#endif

/* rseq_slice_yield() has the same number in the 64-bit and the 32-bit table. */
#define NR_YIELD RSEQKIT_NR_rseq_slice_yield
/* getpid in the 32-bit table, to probe int $0x80. */
#define NR32_GETPID 20

/* How long the hostile keeps its request up waiting for a grant. */
#define WINDOW_NS 2000000ULL
/* In body-runs modes, every n-th round starts with a yield made without a
 * grant: it must return 0. */
#define IDLE_EVERY 4
/* The forged word: request 1 while granted 1 (R6.8). */
#define FORGED_CTRL 0x0101U

struct ct_hostile_shm {
	volatile int stop;	/* runner -> hostile */
	volatile int armed;	/* hostile set up (all its own syscalls done) */
	volatile int traced;	/* runner -> hostile: tracer attached */
	volatile int ready;	/* hostile looping */
	volatile int done;	/* hostile finished its last round */
	volatile int failed;
	char why[160];
	struct ct_hostile_report rep;
};

static const char *const skip_names[CT_SKIP_COUNT] = {
	[CT_SKIP_NONE] = "normal",
	[CT_SKIP_SECCOMP_ERRNO] = "seccomp-errno",
	[CT_SKIP_SECCOMP_TRAP] = "seccomp-trap",
	[CT_SKIP_SECCOMP_KILL] = "seccomp-kill",
	[CT_SKIP_SECCOMP_NOTIF] = "seccomp-notif",
	[CT_SKIP_PTRACE_SYSEMU] = "ptrace-sysemu",
	[CT_SKIP_PTRACE_RENUMBER] = "ptrace-renumber",
	[CT_SKIP_USER_DISPATCH] = "user-dispatch",
	[CT_SKIP_INT80] = "int80",
	[CT_SKIP_FORGED] = "forged-ctrl",
};

static const char *const skip_whats[CT_SKIP_COUNT] = {
	[CT_SKIP_NONE] = "rseq_slice_yield() runs",
	[CT_SKIP_SECCOMP_ERRNO] = "seccomp filter returns EPERM for 471",
	[CT_SKIP_SECCOMP_TRAP] = "seccomp SECCOMP_RET_TRAP for 471, SIGSYS handled",
	[CT_SKIP_SECCOMP_KILL] = "seccomp SECCOMP_RET_KILL_THREAD for 471 (a new child each time)",
	[CT_SKIP_SECCOMP_NOTIF] = "seccomp SECCOMP_RET_USER_NOTIF for 471, supervisor answers EPERM",
	[CT_SKIP_PTRACE_SYSEMU] = "tracer with PTRACE_SYSEMU",
	[CT_SKIP_PTRACE_RENUMBER] = "tracer rewrites 471 to -1 at the entry stop",
	[CT_SKIP_USER_DISPATCH] = "syscall user dispatch, SIGSYS handled",
	[CT_SKIP_INT80] = "int $0x80 with eax = 471",
	[CT_SKIP_FORGED] = "slice_ctrl forged to {request 1, granted 1}, then getppid()",
};

const char *ct_skip_name(enum ct_skip m)
{
	return m < CT_SKIP_COUNT ? skip_names[m] : "?";
}

const char *ct_skip_what(enum ct_skip m)
{
	return m < CT_SKIP_COUNT ? skip_whats[m] : "?";
}

bool ct_skip_body_runs(enum ct_skip m)
{
	return m == CT_SKIP_NONE || m == CT_SKIP_INT80;
}

#if defined(__x86_64__)

static long raw_syscall0(long nr)
{
	long ret = nr;

	__asm__ __volatile__("syscall" : "+a"(ret) : : "rcx", "r11", "memory");
	return ret;
}

/* The 32-bit entry: only eax matters for these calls; the kernel may
 * clobber r8-r11 on this path. */
static long int80_call(long nr)
{
	long ret = nr;

	__asm__ __volatile__("int $0x80" : "+a"(ret) : : "r8", "r9", "r10", "r11", "memory");
	return (long)(int)ret;
}

static int probe_int80(void *arg)
{
	(void)arg;
	return int80_call(NR32_GETPID) == getpid() ? 0 : 1;
}

bool ct_skip_usable(enum ct_skip m, const char **why)
{
	static int int80 = -1;
	struct tap_child c;

	*why = "";
	if (m == CT_SKIP_INT80) {
		/* Without IA32 emulation int $0x80 is a #GP: SIGSEGV. */
		if (int80 < 0)
			int80 = tap_fork_run(probe_int80, NULL, 10000, &c) == 0 && c.exited &&
				c.code == 0;
		if (!int80) {
			*why = "int $0x80 does not reach the 32-bit table (no IA32 emulation)";
			return false;
		}
	}
	if (m == CT_SKIP_USER_DISPATCH &&
	    prctl(PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_OFF, 0, 0, 0)) {
		*why = "no syscall user dispatch";
		return false;
	}
	return m < CT_SKIP_COUNT;
}

#else /* !__x86_64__ */

bool ct_skip_usable(enum ct_skip m, const char **why)
{
	(void)m;
	*why = "the hostile modes are written for x86_64";
	return false;
}

#endif

bool ct_rseq_debug_on(void)
{
	int v = ct_rseq_debug_get();

	return v >= 0 ? v == 1 : ct_debug_kernel();
}

int ct_slice_counters_read(struct ct_slice_counters *c)
{
	static const struct {
		const char *name, *old;
		size_t off;
	} names[] = {
		{ "sgrant", "granted", offsetof(struct ct_slice_counters, sgrant) },
		{ "sexpir", "expired", offsetof(struct ct_slice_counters, sexpir) },
		{ "srevok", "revoked", offsetof(struct ct_slice_counters, srevok) },
		{ "syield", "yielded", offsetof(struct ct_slice_counters, syield) },
		{ "sabort", "aborted", offsetof(struct ct_slice_counters, sabort) },
	};
	unsigned long long v;
	char name[32];
	FILE *f;

	memset(c, 0, sizeof(*c));
	f = fopen(KFEAT_DEBUGFS "/stats", "r");
	if (!f)
		return -errno;
	while (fscanf(f, " %31[^:]: %llu", name, &v) == 2)
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (!strcmp(name, names[i].name) || !strcmp(name, names[i].old))
				*(uint64_t *)((char *)c + names[i].off) = v;
	fclose(f);
	return 0;
}

/* --- the hostile's clock: the TSC, scaled against CLOCK_MONOTONIC. Under
 * PTRACE_SYSEMU no system call runs, and any other would end a grant (R6.6),
 * while clock_gettime() may be one (no vDSO clock source under TCG). The
 * hostile is x86_64 only (below); elsewhere the sleeper's clock is the
 * monotonic one. */
#if defined(__x86_64__)

static double tsc_ns_per_tick;
static uint64_t tsc_base, tsc_base_ns;

static uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

/*
 * Once per test process, before the sleeper starts and the hostile is
 * forked, which both then use: the sleeper publishes its due times on this
 * clock. Compared with CLOCK_MONOTONIC instead, a 20 ms calibration that is
 * off by 0.1% drifts 1.5 ms over a 1.5 s run, several sleeper periods: the
 * hostile then never (or always) saw the RT thread due.
 */
static void tsc_calibrate(void)
{
	uint64_t t0, c0, t1, c1;

	if (tsc_ns_per_tick)
		return;
	t0 = tap_now_ns();
	c0 = rdtsc();
	do
		t1 = tap_now_ns();
	while (t1 - t0 < 20000000ULL);
	c1 = rdtsc();
	tsc_ns_per_tick = (double)(t1 - t0) / (double)(c1 - c0 ? c1 - c0 : 1);
	tsc_base = c1;
	tsc_base_ns = t1;
}

static uint64_t hnow(void)
{
	return tsc_base_ns + (uint64_t)((double)(rdtsc() - tsc_base) * tsc_ns_per_tick);
}
#else /* !__x86_64__ */
static void tsc_calibrate(void)
{
}

static uint64_t hnow(void)
{
	return tap_now_ns();
}
#endif

/* --- the RT sleeper ------------------------------------------------------ */

static void *rt_sleeper_fn(void *arg)
{
	struct ct_rt_sleeper *s = arg;
	struct sched_param sp = { .sched_priority = 50 };
	uint64_t next, now, lat;
	struct timespec ts;
	int err, counted;

	err = tap_pin_cpu(s->cpu);
	if (!err)
		err = -pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
	s->started = err ? err : 1;
	if (err)
		return NULL;
	next = tap_now_ns() + s->period_us * 1000ULL;
	while (!s->stop) {
		/* A wake-up counts if its deadline fell into the measurement,
		 * however late it comes: the latest ones matter most. */
		counted = s->measuring;
		/* On the hostile's clock (hnow()): it compares its own times. */
		now = tap_now_ns();
		s->due->due_ns = hnow() + (next > now ? next - now : 0);
		ts.tv_sec = (time_t)(next / 1000000000ULL);
		ts.tv_nsec = (long)(next % 1000000000ULL);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
		now = tap_now_ns();
		s->due->seq++;
		lat = now > next ? now - next : 0;
		if (counted) {
			s->wakes++;
			s->sum_lat_ns += lat;
			if (lat > s->max_lat_ns)
				s->max_lat_ns = lat;
		}
		next = now + s->period_us * 1000ULL;
	}
	return NULL;
}

int ct_rt_sleeper_start(struct ct_rt_sleeper *s, int cpu, unsigned int period_us)
{
	memset(s, 0, sizeof(*s));
	s->cpu = cpu;
	s->period_us = period_us;
	s->due = mmap(NULL, sizeof(*s->due), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		      -1, 0);
	if (s->due == MAP_FAILED)
		return -errno;
	s->due->due_ns = UINT64_MAX;
	tsc_calibrate();
	if (pthread_create(&s->thread, NULL, rt_sleeper_fn, s)) {
		munmap(s->due, sizeof(*s->due));
		return -EAGAIN;
	}
	while (!s->started)
		ct_msleep(1);
	if (s->started < 0) {
		pthread_join(s->thread, NULL);
		munmap(s->due, sizeof(*s->due));
		return s->started;
	}
	return 0;
}

void ct_rt_sleeper_stop(struct ct_rt_sleeper *s)
{
	s->stop = 1;
	pthread_join(s->thread, NULL);
	munmap(s->due, sizeof(*s->due));
	s->due = NULL;
}

/* --- the hostile process ------------------------------------------------- */

#if defined(__x86_64__)

static struct ct_hostile_shm *hs;	/* in the hostile process */
static volatile char sud_selector = SYSCALL_DISPATCH_FILTER_ALLOW;
static volatile int notif_fd = -1;
static int notif_cpu;

/*
 * due_run_max_ns (ct_hostile.h): the sleeper and the hostile share a CPU,
 * so the hostile never sees the sleeper half way through an update.
 */
static const struct ct_rt_due *due;
static struct {
	uint64_t last;		/* previous timestamp of the hostile */
	uint64_t seq;		/* sleeper wake-ups seen */
	uint64_t run;		/* running time of the current episode */
	bool on;		/* an episode is being measured */
} tk;

static void track(uint64_t t)
{
	uint64_t seq, d, from;

	if (!due)
		return;
	seq = due->seq;
	d = due->due_ns;
	if (seq != tk.seq) {
		/* The RT thread ran: whatever delayed it is over. */
		tk.seq = seq;
		tk.on = false;
		tk.run = 0;
	} else if (tk.on && t > d && t - tk.last < CT_STALL_NS) {
		from = tk.last > d ? tk.last : d;
		tk.run += t - from;
		if (tk.run > hs->rep.due_run_max_ns)
			hs->rep.due_run_max_ns = tk.run;
	}
	tk.last = t;
}

/* The hostile was switched out since the grant: the deferred reschedule
 * was honoured, whether or not the RT thread's own timer had fired yet (a
 * host that is slow to deliver it must not count against the kernel). */
static void track_gave_up(void)
{
	tk.on = false;
	tk.run = 0;
}

/* A grant seen at t: measure from here if the RT thread is due (its
 * wake-up is what the grant defers), else it came from something else. */
static void track_grant(uint64_t t)
{
	track(t);
	if (due && !tk.on && t > due->due_ns) {
		tk.on = true;
		hs->rep.due_episodes++;
	}
}

static _Noreturn TAP_PRINTF(1, 2) void hostile_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(hs->why, sizeof(hs->why), fmt, ap);
	va_end(ap);
	hs->failed = 1;
	_exit(2);
}

/* The system call that ends the grant, as mode m makes it. */
static long ending_call(enum ct_skip m, struct rseqkit_abi_rseq *rs)
{
	switch (m) {
	case CT_SKIP_INT80:
		return int80_call(NR_YIELD);
	case CT_SKIP_USER_DISPATCH:
		sud_selector = SYSCALL_DISPATCH_FILTER_BLOCK;
		return raw_syscall0(NR_YIELD);
	case CT_SKIP_FORGED:
		*(volatile uint32_t *)&rs->slice_ctrl.all = FORGED_CTRL;
		return raw_syscall0(SYS_getppid);
	default:
		return raw_syscall0(NR_YIELD);
	}
}

static void on_sigsys(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;

	(void)sig;
	sud_selector = SYSCALL_DISPATCH_FILTER_ALLOW;
	if (si->si_syscall == NR_YIELD)
		hs->rep.sigsys++;
	/* What the skipped call returns to the program. */
	uc->uc_mcontext.gregs[REG_RAX] = -ENOSYS;
}

static void on_sigsegv(int sig, siginfo_t *si, void *ucv)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };

	(void)sig;
	(void)ucv;
	/* rseq's SIGSEGV is sent by the kernel (SI_KERNEL); a real fault
	 * would fault again: let it kill the process. */
	if (si->si_code != SI_KERNEL) {
		sigaction(SIGSEGV, &dfl, NULL);
		return;
	}
	hs->rep.sigsegv++;
}

static void set_handler(int sig, void (*fn)(int, siginfo_t *, void *))
{
	struct sigaction sa = { .sa_sigaction = fn, .sa_flags = SA_SIGINFO | SA_NODEFER };

	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, NULL))
		hostile_fail("sigaction(%d): %s", sig, strerror(errno));
}

/* A filter for the 64-bit 471 only; returns what seccomp(2) returns. */
static int install_filter(uint32_t action, unsigned int flags)
{
	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NR_YIELD, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, action),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {
		.len = sizeof(filter) / sizeof(filter[0]),
		.filter = filter,
	};
	long r;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		hostile_fail("PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
	if (r < 0)
		hostile_fail("seccomp filter 0x%x: %s", action, strerror(errno));
	return (int)r;
}

/* Answers every user notification with EPERM; runs on the other CPU. */
static void *notif_supervisor(void *arg)
{
	struct seccomp_notif req;
	struct seccomp_notif_resp resp;

	(void)arg;
	tap_pin_cpu(notif_cpu);
	while (notif_fd < 0)
		usleep(100);
	for (;;) {
		memset(&req, 0, sizeof(req));
		if (ioctl(notif_fd, SECCOMP_IOCTL_NOTIF_RECV, &req)) {
			if (errno == EINTR || errno == ENOENT)
				continue;
			break;
		}
		/*
		 * Counted before the answer: the answer wakes the caller,
		 * which may see the end of the run and exit before this
		 * thread runs again. An unanswered call never returns.
		 */
		hs->rep.notified++;
		memset(&resp, 0, sizeof(resp));
		resp.id = req.id;
		resp.error = -EPERM;
		ioctl(notif_fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
	}
	return NULL;
}

/* Keep a grant without a syscall until the kernel ends it (R6.5), up to
 * the cap; the grant must not outlive slice_ext_nsec (R6.9). */
static void hold_grant(const struct ct_hostile *h, struct rseqkit_abi_rseq *rs, uint64_t tg)
{
	struct ct_hostile_report *r = &hs->rep;
	uint64_t now;

	do {
		now = hnow();
		track(now);
	} while (ct_slice_ctrl(rs) && now - tg < h->hold_cap_ns && !hs->stop);
	if (ct_slice_ctrl(rs) && hs->stop)
		return;
	r->holds++;
	if (now - tg > r->hold_max_ns)
		r->hold_max_ns = now - tg;
	if (ct_slice_ctrl(rs)) {
		r->hold_stuck++;
		ct_set_request(rs, 0);
		ending_call(h->mode, rs);
	}
}

static void count_return(struct ct_hostile_report *r, long ret)
{
	if (ret == 1) {
		r->ret1++;
	} else if (ret == 0) {
		r->ret0++;
	} else {
		r->ret_other++;
		r->last_other = ret;
	}
}

/* One request window (R6.3) and, if granted, its end by the mode's call. */
static void hostile_round(const struct ct_hostile *h, struct rseqkit_abi_rseq *rs)
{
	struct ct_hostile_report *r = &hs->rep;
	bool sw = h->mode != CT_SKIP_PTRACE_SYSEMU;
	uint64_t sw0 = 0, t0, tg;
	long ret;

	/* A forged word that no live grant made the kernel clear (the grant
	 * had ended just before the forgery) would read as granted: start
	 * each round clean. */
	if (h->mode == CT_SKIP_FORGED)
		*(volatile uint32_t *)&rs->slice_ctrl.all = 0;
	/* Between rounds no grant is live (the last one was ended by its
	 * call or held until the kernel ended it): the yield must say 0. */
	if (ct_skip_body_runs(h->mode) && r->rounds % IDLE_EVERY == 0) {
		r->idle_calls++;
		r->idle_ret1 += ending_call(h->mode, rs) == 1;
		track(hnow());
	}
	/* Read before the request: a switch between here and the grant
	 * makes the check below pass, never fail. */
	if (sw)
		sw0 = tap_thread_switches();
	r->rounds++;
	ct_set_request(rs, 1);
	t0 = hnow();
	track(t0);
	while (!ct_granted(rs) && !hs->stop) {
		tg = hnow();
		track(tg);
		if (tg - t0 >= WINDOW_NS)
			break;
	}
	if (!ct_granted(rs)) {
		ct_set_request(rs, 0);
		if (!ct_granted(rs))
			return;
	}
	tg = hnow();
	r->grants++;
	/* The first grant of every hold_every is held, so that a run with
	 * any grant at all has a hold. */
	if (h->hold_every && (r->grants - 1) % h->hold_every == 0) {
		/* Ended by the timer (host-clock dependent): measured apart. */
		track(tg);
		hold_grant(h, rs, tg);
		return;
	}
	track_grant(tg);
	ct_set_request(rs, 0);
	ret = ending_call(h->mode, rs);
	track(hnow());
	r->calls++;
	if (ct_slice_ctrl(rs))
		r->ctrl_left++;
	if (sw) {
		r->sw_checked++;
		if (tap_thread_switches() == sw0)
			r->no_switch++;
		else
			track_gave_up();
		track(hnow());
	} else {
		/* PTRACE_SYSEMU: the stop at the call gave up the CPU. */
		track_gave_up();
	}
	count_return(r, ret);
}

static void arm_mode(const struct ct_hostile *h)
{
	pthread_t t;

	switch (h->mode) {
	case CT_SKIP_SECCOMP_ERRNO:
		install_filter(SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA), 0);
		break;
	case CT_SKIP_SECCOMP_TRAP:
		set_handler(SIGSYS, on_sigsys);
		install_filter(SECCOMP_RET_TRAP, 0);
		break;
	case CT_SKIP_SECCOMP_NOTIF:
		/* Created before the filter, so it is not filtered itself. */
		notif_cpu = h->other_cpu;
		if (pthread_create(&t, NULL, notif_supervisor, NULL))
			hostile_fail("supervisor thread");
		notif_fd = install_filter(SECCOMP_RET_USER_NOTIF, SECCOMP_FILTER_FLAG_NEW_LISTENER);
		break;
	case CT_SKIP_USER_DISPATCH:
		set_handler(SIGSYS, on_sigsys);
		if (prctl(PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_ON, 0, 0, &sud_selector))
			hostile_fail("PR_SET_SYSCALL_USER_DISPATCH: %s", strerror(errno));
		break;
	case CT_SKIP_FORGED:
		set_handler(SIGSEGV, on_sigsegv);
		break;
	default:
		break;
	}
}

/* Kill mode: each victim is a new process that dies at its first call. */
static _Noreturn void kill_victim(const struct ct_hostile *h)
{
	struct ct_area a;
	const char *why;

	if (tap_pin_cpu(h->cpu))
		hostile_fail("pin to CPU %d", h->cpu);
	why = ct_slice_setup(&a, h->k, RSEQKIT_FLAG_SLICE_EXT_DEFAULT_ON);
	if (why)
		hostile_fail("%s", why);
	install_filter(SECCOMP_RET_KILL_THREAD, 0);
	tk.last = hnow();
	for (int i = 0; i < 1000 && !hs->stop; i++)
		hostile_round(h, a.rs);
	_exit(0);
}

static _Noreturn void kill_mode(const struct ct_hostile *h)
{
	int st;
	pid_t p;

	tap_pin_cpu(h->other_cpu);
	hs->armed = 1;
	hs->ready = 1;
	while (!hs->stop) {
		p = fork();
		if (p < 0)
			hostile_fail("fork: %s", strerror(errno));
		if (p == 0)
			kill_victim(h);
		if (waitpid(p, &st, 0) != p)
			hostile_fail("waitpid: %s", strerror(errno));
		if (WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS)
			hs->rep.killed++;
		else if (hs->failed)
			_exit(2);
	}
	hs->done = 1;
	_exit(0);
}

static _Noreturn void hostile_main(const struct ct_hostile *h)
{
	bool traced = h->mode == CT_SKIP_PTRACE_SYSEMU || h->mode == CT_SKIP_PTRACE_RENUMBER;
	struct ct_area a;
	const char *why;

	tsc_calibrate();
	if (h->mode == CT_SKIP_SECCOMP_KILL)
		kill_mode(h);
	if (tap_pin_cpu(h->cpu))
		hostile_fail("pin to CPU %d", h->cpu);
	why = ct_slice_setup(&a, h->k, RSEQKIT_FLAG_SLICE_EXT_DEFAULT_ON);
	if (why)
		hostile_fail("%s", why);
	arm_mode(h);
	hs->armed = 1;
	/* No system call from here until the tracer is attached. */
	while (traced && !hs->traced)
		;
	hs->ready = 1;
	tk.last = hnow();
	while (!hs->stop)
		hostile_round(h, a.rs);
	hs->done = 1;
	if (h->mode != CT_SKIP_PTRACE_SYSEMU)
		_exit(0);
	/* Under PTRACE_SYSEMU even exit_group() is skipped: the runner
	 * kills us. */
	for (;;)
		;
}

/* --- the runner (tracer) ------------------------------------------------- */

static bool is_traced(enum ct_skip m)
{
	return m == CT_SKIP_PTRACE_SYSEMU || m == CT_SKIP_PTRACE_RENUMBER;
}

static int tracer_attach(struct ct_hostile *h, pid_t pid, int *req)
{
	int st;

	*req = h->mode == CT_SKIP_PTRACE_SYSEMU ? PTRACE_SYSEMU : PTRACE_SYSCALL;
	if (ptrace(PTRACE_SEIZE, pid, 0, PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL))
		return -errno;
	if (ptrace(PTRACE_INTERRUPT, pid, 0, 0))
		return -errno;
	if (waitpid(pid, &st, __WALL) != pid || !WIFSTOPPED(st))
		return -ECHILD;
	if (ptrace(*req, pid, 0, 0))
		return -errno;
	h->shm->traced = 1;
	return 0;
}

/* Handle every pending stop of the tracee; false once it is gone. */
static bool tracer_poll(struct ct_hostile *h, pid_t pid, int req, bool *entry)
{
	struct user_regs_struct regs;
	int st, sig, inject;
	pid_t w;

	while ((w = waitpid(pid, &st, __WALL | WNOHANG)) == pid) {
		if (WIFEXITED(st) || WIFSIGNALED(st))
			return false;
		sig = WSTOPSIG(st);
		inject = 0;
		if (sig == (SIGTRAP | 0x80)) {
			/* PTRACE_SYSEMU stops at entries only; PTRACE_SYSCALL
			 * alternates entry and exit. */
			if (req == PTRACE_SYSEMU || *entry) {
				if (!ptrace(PTRACE_GETREGS, pid, 0, &regs) &&
				    regs.orig_rax == NR_YIELD) {
					h->shm->rep.stops++;
					if (req == PTRACE_SYSCALL) {
						regs.orig_rax = (unsigned long long)-1;
						ptrace(PTRACE_SETREGS, pid, 0, &regs);
					}
				}
			}
			if (req == PTRACE_SYSCALL)
				*entry = !*entry;
		} else if ((st >> 16) != PTRACE_EVENT_STOP) {
			inject = sig;
		}
		ptrace(req, pid, 0, inject);
	}
	return w == 0;
}

static bool wait_flag2(volatile int *flag, volatile int *failed, uint64_t timeout_ns)
{
	uint64_t t0 = tap_now_ns();

	while (!*flag && !*failed && tap_now_ns() - t0 < timeout_ns)
		usleep(200);
	return *flag && !*failed;
}

int ct_hostile_run(struct ct_hostile *h, struct ct_rt_sleeper *sleeper, uint64_t run_ns,
		   uint64_t max_grants)
{
	bool traced = is_traced(h->mode), alive = true, entry = true;
	struct ct_hostile_shm *m;
	int req = 0, err = 0, st;
	uint64_t t0;
	pid_t pid, w;

	h->why[0] = 0;
	memset(&h->rep, 0, sizeof(h->rep));
	m = mmap(NULL, sizeof(*m), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return -errno;
	memset(m, 0, sizeof(*m));
	h->shm = m;
	hs = m;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		err = -errno;
		goto unmap;
	}
	if (pid == 0) {
		due = sleeper ? sleeper->due : NULL;
		hostile_main(h);
	}
	if (!wait_flag2(&m->armed, &m->failed, 20000000000ULL)) {
		err = -ECHILD;
		goto reap;
	}
	if (traced) {
		err = tracer_attach(h, pid, &req);
		if (err) {
			snprintf(h->why, sizeof(h->why), "ptrace attach: %s", strerror(-err));
			goto reap;
		}
	}
	if (!wait_flag2(&m->ready, &m->failed, 20000000000ULL)) {
		err = -ECHILD;
		goto reap;
	}
	if (sleeper)
		sleeper->measuring = 1;
	t0 = tap_now_ns();
	while (alive && !m->failed && tap_now_ns() - t0 < run_ns &&
	       !(max_grants && m->rep.grants >= max_grants)) {
		/* A tracer that sleeps between stops would slow the
		 * hostile down to a few grants a second under TCG: it
		 * polls on its own CPU. */
		if (traced) {
			alive = tracer_poll(h, pid, req, &entry);
		} else {
			alive = waitpid(pid, &st, WNOHANG) == 0;
			usleep(1000);
		}
	}
	if (sleeper)
		sleeper->measuring = 0;
	m->stop = 1;
	t0 = tap_now_ns();
	while (alive && !m->done && !m->failed && tap_now_ns() - t0 < 10000000000ULL) {
		if (traced)
			alive = tracer_poll(h, pid, req, &entry);
		usleep(200);
	}
	if (!alive && !m->done && !m->failed) {
		snprintf(h->why, sizeof(h->why), "the hostile process died before its end");
		err = -ECHILD;
	}
reap:
	kill(pid, SIGKILL);
	do
		w = waitpid(pid, &st, __WALL);
	while (w == pid && !WIFEXITED(st) && !WIFSIGNALED(st));
	if (m->failed) {
		snprintf(h->why, sizeof(h->why), "%s", m->why);
		err = -ECHILD;
	} else if (err && !h->why[0]) {
		snprintf(h->why, sizeof(h->why), "the hostile process did not start (%s)",
			 strerror(-err));
	}
	h->rep = m->rep;
unmap:
	munmap(m, sizeof(*m));
	h->shm = NULL;
	return err;
}

#else /* !__x86_64__ */

int ct_hostile_run(struct ct_hostile *h, struct ct_rt_sleeper *sleeper, uint64_t run_ns,
		   uint64_t max_grants)
{
	(void)sleeper;
	(void)run_ns;
	(void)max_grants;
	snprintf(h->why, sizeof(h->why), "the hostile modes are written for x86_64");
	return -ENOSYS;
}

#endif

long ct_hostile_start(char **argv, struct kfeat *k, const char *rule, const char *two_cpus,
		      long nsec)
{
	struct ct_area probe;
	const char *why;
	long now;

	ct_start(argv, k, rule);
	why = ct_slice_setup(&probe, k, 0);
	if (why)
		kfeat_missing_all(k, kfeat_promises(k, KFACTS_SLICE, "on"), "%s: %s", rule, why);
	ct_area_unregister(&probe);
	if (ct_ncpus() < 2)
		tap_skip_all("%s: needs two CPUs (%s)", rule, two_cpus);
	if (geteuid() != 0)
		tap_skip_all("%s: needs root (SCHED_FIFO, debugfs rseq/slice_ext_nsec)", rule);
	if (ct_knob_read(&now))
		kfeat_missing_all(k, kfeat_promises(k, KFACTS_KNOB, "yes"),
				  "R6.7: no debugfs %s to set for the run", CT_SLICE_KNOB);
	ct_knob_set(nsec);
	if (ct_knob_read(&now) || now != nsec)
		tap_bail("R6.7: cannot set %s to %ld", CT_SLICE_KNOB, nsec);
	return now;
}
