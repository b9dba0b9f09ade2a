// SPDX-License-Identifier: MIT
/*
 * R5: rseq state across clone, fork and exec, for legacy and V2 parents.
 *   R5.1 clone(CLONE_VM) - a pthread and a raw clone(CLONE_VM) child - starts
 *        unregistered (unregistering the parent's area -> EINVAL, registering
 *        its own -> 0) with slice extensions off;
 *   R5.2 fork() keeps the registration (re-registering -> EBUSY), its mode
 *        (legacy tolerates a scribble, V2 kills on the next ID write), keeps
 *        the IDs of the child's copy current, keeps the slice enable state,
 *        and no grant survives;
 *   R5.3 execve() resets everything (the new image starts unregistered).
 * Children report through their exit status (codes in the comments).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ct_rseq.h"
#include "tap.h"

#define PR RSEQKIT_PR_RSEQ_SLICE_EXTENSION
#define PR_GET RSEQKIT_PR_RSEQ_SLICE_EXTENSION_GET
#define PR_SET RSEQKIT_PR_RSEQ_SLICE_EXTENSION_SET

static struct kfeat k;
static char **g_argv;
static struct ct_area parent;	/* the parent's registration */
static bool slice_on;		/* the parent (V2) has slice extensions enabled */

static long slice_get(void)
{
	return prctl(PR, PR_GET, 0UL, 0UL, 0UL);
}

/* --- R5.1 --------------------------------------------------------------- */

struct thr {
	int unreg_err, reg_ret, reg_err, get_before, get_before_err, set_before_err, get_after;
	int ids_ok;
};

static void *thread_fn(void *arg)
{
	struct thr *t = arg;
	struct ct_area b;
	unsigned int cpu, node;
	long r;

	r = ct_unregister(parent.rs, parent.len);
	t->unreg_err = r ? errno : 0;
	r = slice_get();
	t->get_before = (int)r;
	t->get_before_err = r == -1 ? errno : 0;
	/* SET answers ENXIO only to a thread without a registration. */
	r = prctl(PR, PR_SET, (unsigned long)RSEQKIT_PR_RSEQ_SLICE_EXT_ENABLE, 0UL, 0UL);
	t->set_before_err = r == -1 ? errno : 0;
	r = ct_area_register(&b, &k, parent.mode);
	t->reg_ret = (int)r;
	if (r)
		return NULL;
	t->get_after = (int)slice_get();
	ct_getcpu(&cpu, &node);
	t->ids_ok = b.rs->cpu_id == cpu && b.rs->cpu_id_start == cpu;
	ct_area_unregister(&b);
	return NULL;
}

/* Raw clone(CLONE_VM) child (not a thread). 0 ok; 1 parent's area still
 * registered (unregister did not fail with EINVAL); 2 own registration
 * failed. */
static int clone_fn(void *arg)
{
	struct rseqkit_abi_rseq *b = arg;

	if (tap_sys_rseq(parent.rs, parent.len, RSEQKIT_FLAG_UNREGISTER, RSEQKIT_SIG) != -1 ||
	    errno != EINVAL)
		return 1;
	if (ct_register(b, parent.len, 0))
		return 2;
	if (ct_unregister(b, parent.len))
		return 3;
	return 0;
}

static void r5_1(const char *mn)
{
	struct thr t = { 0 };
	pthread_t th;
	size_t stsz = 256 * 1024;
	char *stack = ct_alloc(stsz, 64);
	struct rseqkit_abi_rseq *b = ct_alloc(CT_PAGE, CT_PAGE);
	int status = 0;
	pid_t pid;

	pthread_create(&th, NULL, thread_fn, &t);
	pthread_join(th, NULL);
	tap_ok(t.unreg_err == EINVAL,
	       "R5.1 %s: new thread starts unregistered (unregistering the parent's area -> EINVAL, got %s)",
	       mn, tap_errno_name(t.unreg_err));
	tap_ok(t.reg_ret == 0 && t.ids_ok, "R5.1 %s: new thread registers its own area -> 0 (got %d)",
	       mn, t.reg_ret);
	if (!slice_on)
		tap_skip("R5.1 %s: new thread has slice extensions off: %s", mn,
			 parent.mode == CT_LEGACY ? "legacy mode has none (R4.5)" :
			 "slice extensions unavailable on this kernel");
	else
		tap_ok(t.get_before == 0 && t.set_before_err == ENXIO && t.get_after == 0,
		       "R5.1 %s: new thread: extensions off (GET -> 0, SET ENABLE -> ENXIO before "
		       "registering; GET -> 0 after; got %d/%s, %s, %d)", mn, t.get_before,
		       tap_errno_name(t.get_before_err), tap_errno_name(t.set_before_err), t.get_after);

	fflush(NULL);
	pid = clone(clone_fn, stack + stsz, CLONE_VM | SIGCHLD, b);
	if (pid < 0) {
		tap_ok(false, "R5.1 %s: clone(CLONE_VM): %s", mn, tap_errno_name(errno));
	} else {
		waitpid(pid, &status, 0);
		tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		       "R5.1 %s: clone(CLONE_VM) child process starts unregistered and can register (status 0x%x)",
		       mn, status);
	}
	free(stack);
	free(b);
}

/* --- R5.2 --------------------------------------------------------------- */

/* 0 ok; 1 re-registration not EBUSY; 2 other length not EINVAL. */
static int fork_busy(void *arg)
{
	(void)arg;
	if (ct_register(parent.rs, parent.len, 0) != -1 || errno != EBUSY)
		return 1;
	if (ct_register(parent.rs, parent.len == 32 ? 64 : 32, 0) != -1 || errno != EINVAL)
		return 2;
	return 0;
}

/* 0 ok; 1 the child's copy of the area was not updated after a migration. */
static int fork_ids(void *arg)
{
	unsigned int cpu, node;

	(void)arg;
	for (int i = 1; i <= 20; i++) {
		tap_pin_cpu(ct_cpu(i));
		ct_getcpu(&cpu, &node);
		if (parent.rs->cpu_id != cpu || parent.rs->cpu_id_start != cpu)
			return 1;
	}
	return 0;
}

/* Scribble cpu_id_start, migrate: legacy exits 0 (3 if not rewritten); V2
 * must be killed. */
static int fork_scribble(void *arg)
{
	uint32_t bad = parent.rs->cpu_id_start ^ 0x40404040u;

	(void)arg;
	parent.rs->cpu_id_start = bad;
	tap_pin_cpu(ct_cpu(1));		/* the parent runs pinned to ct_cpu(0) */
	for (int i = 0; i < 50; i++)
		usleep(1000);
	return parent.rs->cpu_id_start == bad ? 3 : 0;
}

/* 0 ok; 1 GET != 1; 2 granted set. */
static int fork_slice(void *arg)
{
	(void)arg;
	if (slice_get() != 1)
		return 1;
	if (parent.rs->slice_ctrl.s.granted)
		return 2;
	return 0;
}

static void r5_2(const char *mn)
{
	tap_fork_expect_exit(fork_busy, NULL, 0,
			     "R5.2 %s: fork child keeps the registration (same area -> EBUSY, other len -> EINVAL)",
			     mn);
	if (ct_ncpus() < 2) {
		tap_skip("R5.2 %s: child's IDs after migrations / mode kept: needs 2 CPUs", mn);
	} else {
		tap_fork_expect_exit(fork_ids, NULL, 0,
				     "R5.2 %s: fork child's copy of the area follows its migrations", mn);
		if (parent.mode == CT_LEGACY)
			tap_fork_expect_exit(fork_scribble, NULL, 0,
					     "R5.2 legacy: fork child keeps legacy mode (scribble rewritten, no kill)");
		else
			tap_fork_expect_signal(fork_scribble, NULL, SIGSEGV,
					       "R5.2 V2: fork child keeps V2 mode (scribble + migration -> SIGSEGV)");
	}
	if (!slice_on)
		tap_skip("R5.2 %s: fork keeps the slice enable state: %s", mn,
			 parent.mode == CT_LEGACY ? "legacy mode has none (R4.5)" :
			 "slice extensions unavailable on this kernel");
	else
		tap_fork_expect_exit(fork_slice, NULL, 0,
				     "R5.2 %s: fork child keeps slice extensions enabled, no grant", mn);
}

/* --- R5.3 --------------------------------------------------------------- */

static int fork_exec(void *arg)
{
	char ptrbuf[32], lenbuf[16];
	char *args[] = { g_argv[0], "--r5-exec-child", ptrbuf, lenbuf, slice_on ? "1" : "0", NULL };

	(void)arg;
	snprintf(ptrbuf, sizeof(ptrbuf), "%p", (void *)parent.rs);
	snprintf(lenbuf, sizeof(lenbuf), "%u", parent.len);
	execv("/proc/self/exe", args);
	return 99;
}

/*
 * In the new image, told the parent's (pointer, length) and whether the
 * parent had slice extensions enabled: 0 ok; 1 the parent's registration
 * survived (unregistering it did not fail with EINVAL); 2 registering a
 * fresh area failed; 3 slice extensions still enabled (GET != 0); 4 SET did
 * not find the thread unregistered (not ENXIO); 5 the fresh registration is
 * not live (cpu_id not written).
 */
static int exec_child(void *old, uint32_t len, bool had_slice)
{
	struct rseqkit_abi_rseq *a = ct_alloc(CT_PAGE, CT_PAGE);
	int ret = 0;

	if (tap_sys_rseq(old, len, RSEQKIT_FLAG_UNREGISTER, RSEQKIT_SIG) != -1 || errno != EINVAL)
		ret = 1;
	else if (had_slice && slice_get() != 0)
		ret = 3;
	else if (had_slice && (prctl(PR, PR_SET, (unsigned long)RSEQKIT_PR_RSEQ_SLICE_EXT_ENABLE,
				     0UL, 0UL) != -1 || errno != ENXIO))
		ret = 4;
	else if (ct_register(a, len, 0))
		ret = 2;
	else if ((int32_t)a->cpu_id < 0)
		ret = 5;
	if (ret != 1 && ret != 2)
		ct_unregister(a, len);
	free(a);
	return ret;
}

static void run(enum ct_mode m)
{
	const char *mn = ct_mode_name(m), *why;

	if (!ct_mode_usable(&k, m, &why)) {
		tap_skip("R5 %s: fork/clone/exec: %s", mn, why);
		return;
	}
	tap_pin_cpu(ct_cpu(0));
	if (ct_area_register(&parent, &k, m)) {
		tap_ok(false, "R5 %s: parent registration: %s", mn, tap_errno_name(errno));
		return;
	}
	/* The scenario says whether V2 threads have slice extensions. */
	slice_on = m == CT_V2 && kfeat_slice_on(&k);
	if (slice_on)
		tap_ok(prctl(PR, PR_SET, (unsigned long)RSEQKIT_PR_RSEQ_SLICE_EXT_ENABLE, 0UL, 0UL) == 0 &&
		       slice_get() == 1, "R6.2 %s: the parent enables slice extensions (SET -> 0, GET -> 1)",
		       mn);
	r5_1(mn);
	r5_2(mn);
	tap_fork_expect_exit(fork_exec, NULL, 0,
			     "R5.3 %s: after execve the new image starts unregistered (the parent's "
			     "area -> EINVAL), slice extensions off, a fresh area registers live", mn);
	ct_area_unregister(&parent);
	tap_pin_cpu(ct_cpu(0));
}

int main(int argc, char **argv)
{
	g_argv = argv;
	if (argc == 5 && !strcmp(argv[1], "--r5-exec-child"))
		return exec_child((void *)(uintptr_t)strtoull(argv[2], NULL, 16),
				  (uint32_t)strtoul(argv[3], NULL, 0), argv[4][0] == '1');
	ct_start(argv, &k, "R5");
	run(CT_LEGACY);
	run(CT_V2);
	return tap_done();
}
