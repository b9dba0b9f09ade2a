// SPDX-License-Identifier: MIT
/*
 * The interposer gives the CPU back only when the kernel granted an
 * extension (R6.3: store request = 0; if granted reads 1, call
 * rseq_slice_yield()), only at the last release, and re-raises a request the
 * kernel dropped without disturbing a live grant (R6.5, R6.8).
 *
 * The grant is played by the test: with the interposer forced on a kernel
 * without extensions, nobody but us writes slice_ctrl, so the test stores
 * what the kernel stores at a grant (request 0, granted 1). rseq_slice_yield
 * (471) is trapped with seccomp (SIGSYS), counted and answered like the
 * kernel: return 1 and clear the grant. On a kernel that grants for real the
 * grant cannot be faked safely and the program skips.
 */
#include <errno.h>
#include <linux/filter.h>
#include <pthread.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>

#include "preload.h"

static volatile int yields;

static void on_sigsys(int sig, siginfo_t *si, void *uc_)
{
	ucontext_t *uc = uc_;

	(void)sig;
	if (si->si_syscall != RSEQKIT_NR_rseq_slice_yield)
		return;
	yields++;
	rseqkit_arch_tp_store_u8((long)rseqkit_rseq_offset + RSEQKIT_OFF_SLICE_GRANTED, 0);
#if defined(__x86_64__)
	uc->uc_mcontext.gregs[REG_RAX] = 1;
#elif defined(__aarch64__)
	uc->uc_mcontext.regs[0] = 1;
#endif
}

static int trap_yield(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, RSEQKIT_NR_rseq_slice_yield, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };
	struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };

	if (sigaction(SIGSYS, &sa, NULL))
		return -errno;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0))
		return -errno;
	return 0;
}

/* What the kernel does at a grant (R6.4) and at a reschedule (R6.5). */
static void fake_grant(void)
{
	rseqkit_arch_tp_store_u8((long)rseqkit_rseq_offset + RSEQKIT_OFF_SLICE_REQUEST, 0);
	rseqkit_arch_tp_store_u8((long)rseqkit_rseq_offset + RSEQKIT_OFF_SLICE_GRANTED, 1);
}

static void fake_reschedule(void)
{
	rseqkit_arch_tp_store_u8((long)rseqkit_rseq_offset + RSEQKIT_OFF_SLICE_REQUEST, 0);
	rseqkit_arch_tp_store_u8((long)rseqkit_rseq_offset + RSEQKIT_OFF_SLICE_GRANTED, 0);
}

int main(int argc, char **argv)
{
	pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER, b = PTHREAD_MUTEX_INITIALIZER;
	pthread_mutex_t c = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
	pthread_spinlock_t s;
	struct timespec t;
	int err, y;

	(void)argc;
	preload_start(argv, NULL);
	if (!preload_exact())
		tap_skip_all("the kernel grants for real here; a faked grant could collide with it");
	err = trap_yield();
	if (err)
		tap_skip_all("cannot trap rseq_slice_yield with seccomp: %s", tap_errno_name(-err));
	pthread_spin_init(&s, PTHREAD_PROCESS_PRIVATE);

	for (int i = 0; i < 1000; i++) {
		pthread_mutex_lock(&a);
		pthread_mutex_unlock(&a);
		pthread_spin_lock(&s);
		pthread_spin_unlock(&s);
	}
	tap_ok(yields == 0 && clear(), "2000 lock/unlock pairs without a grant: no yield (%d)", yields);

	pthread_mutex_lock(&a);
	fake_grant();
	pthread_mutex_unlock(&a);
	tap_ok(yields == 1 && clear() && granted() == 0,
	       "granted at the last unlock: exactly one yield (%d)", yields);

	y = yields;
	pthread_mutex_lock(&a);
	pthread_mutex_lock(&b);
	fake_grant();
	pthread_mutex_unlock(&b);
	tap_ok(yields == y && req() == 0 && granted() == 1,
	       "granted, inner unlock: no yield yet, the grant untouched");
	pthread_mutex_lock(&c);
	tap_ok(req() == 0 && granted() == 1,
	       "nested lock while granted: the request is not raised over a live grant (R6.8)");
	pthread_mutex_unlock(&c);
	pthread_mutex_unlock(&a);
	tap_ok(yields == y + 1 && clear(), "last unlock: the one yield (%d)", yields - y);

	y = yields;
	pthread_mutex_lock(&a);
	fake_reschedule();
	pthread_spin_lock(&s);
	tap_ok(req() == 1, "kernel dropped the request while a lock is held: the next lock re-raises it");
	pthread_spin_unlock(&s);
	tap_ok(req() == 1, "inner unlock: still raised");
	pthread_mutex_unlock(&a);
	tap_ok(yields == y && clear(), "no grant: no yield, cleared");

	y = yields;
	pthread_mutex_lock(&a);
	fake_grant();
	t.tv_sec = 0;
	t.tv_nsec = 0;	/* already expired: returns ETIMEDOUT at once, mutex held */
	err = pthread_cond_timedwait(&cv, &a, &t);
	tap_ok(err == ETIMEDOUT && yields == y + 1 && raised(),
	       "cond_timedwait while granted: yields before waiting, raised again after (%s, %d)",
	       tap_errno_name(err), yields - y);
	pthread_mutex_unlock(&a);
	tap_ok(yields == y + 1 && clear(), "unlock: cleared, no second yield");

	y = yields;
	err = pthread_mutex_trylock(&a);
	pthread_mutex_lock(&b);
	fake_grant();
	tap_ok(pthread_mutex_trylock(&b) == EBUSY && yields == y, "failed trylock while granted: no yield");
	pthread_mutex_unlock(&b);
	pthread_mutex_unlock(&a);
	tap_ok(err == 0 && yields == y + 1 && clear(), "then the last unlock yields once");
	pthread_spin_destroy(&s);
	return tap_done();
}
