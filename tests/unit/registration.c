// SPDX-License-Identifier: MIT
/*
 * Registration and ownership (spec R3, R5.2, R7; DESIGN "The library") in the
 * three environments a process can be in: glibc-owned (default), rseqkit-owned
 * (GLIBC_TUNABLES=glibc.pthread.rseq=0), and no rseq at all (seccomp makes
 * rseq(2) fail with ENOSYS before glibc starts), each a re-executed child
 * (tests/harness/subenv.h), so the library constructor runs as in a real program.
 *
 *   registration                  run all three environments (TAP, subenv.h)
 *   registration --norseq-exec P  run program P under the no-rseq filter
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rseqkit/rseqkit.h>
#include "seccomp_norseq.h"
#include "subenv.h"
#include "tap.h"

extern const ptrdiff_t __rseq_offset __attribute__((weak));
extern const unsigned int __rseq_size __attribute__((weak));

#define NTHREADS 16

#define R subenv_ok

static uint32_t expected_fields(uint32_t usable)
{
	uint32_t f = 0;

	if (usable >= 4)
		f |= RSEQKIT_FIELD_CPU_ID_START;
	if (usable >= 8)
		f |= RSEQKIT_FIELD_CPU_ID;
	if (usable >= 16)
		f |= RSEQKIT_FIELD_RSEQ_CS;
	if (usable >= 20)
		f |= RSEQKIT_FIELD_FLAGS;
	if (usable >= 24)
		f |= RSEQKIT_FIELD_NODE_ID;
	if (usable >= 28)
		f |= RSEQKIT_FIELD_MM_CID;
	if (usable >= 32)
		f |= RSEQKIT_FIELD_SLICE_CTRL;
	return f;
}

/* The reads agree with the kernel's idea of the CPU on every allowed CPU. */
static void check_cpu_reads(const char *env)
{
	int ncpu = tap_ncpus(), bad = 0;
	cpu_set_t saved;

	sched_getaffinity(0, sizeof(saved), &saved);
	for (int cpu = 0; cpu < CPU_SETSIZE && ncpu; cpu++) {
		if (!CPU_ISSET(cpu, &saved))
			continue;
		ncpu--;
		if (tap_pin_cpu(cpu))
			continue;
		if (rseqkit_cpu() != cpu || sched_getcpu() != cpu)
			bad++;
		if (rseqkit_mm_cid() < 0 || rseqkit_node() < 0)
			bad++;
	}
	sched_setaffinity(0, sizeof(saved), &saved);
	R(!bad, "%s: rseqkit_cpu() == sched_getcpu() on every allowed CPU, node/mm_cid >= 0", env);
}

struct thread_result {
	int cpu;
	long rereg_errno;	/* raw re-registration of the same area: EBUSY */
	long otherlen_errno;	/* raw registration with another length: EINVAL */
	void *area;
};

static void *thread_fn(void *arg)
{
	struct thread_result *r = arg;
	const struct rseqkit_mode *m;
	struct rseqkit_mode mode;

	r->cpu = rseqkit_cpu();		/* registers lazily when rseqkit owns */
	rseqkit_get_mode(&mode);
	m = &mode;
	r->area = rseqkit_thread_area();
	r->rereg_errno = tap_sys_rseq(r->area, m->registered_len, 0, m->sig) ? errno : 0;
	r->otherlen_errno = tap_sys_rseq(r->area, m->registered_len == 32 ? 64 : 32, 0,
					 m->sig) ? errno : 0;
	return NULL;
}

static void check_threads(const struct rseqkit_mode *m)
{
	struct thread_result res[NTHREADS] = { 0 };
	pthread_t t[NTHREADS];
	int busy = 0, einval = 0, cpus = 0, distinct = 1;

	for (int i = 0; i < NTHREADS; i++)
		pthread_create(&t[i], NULL, thread_fn, &res[i]);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < NTHREADS; i++) {
		busy += res[i].rereg_errno == EBUSY;
		einval += res[i].otherlen_errno == EINVAL;
		cpus += res[i].cpu >= 0;
		distinct &= res[i].area != rseqkit_thread_area();
	}
	R(cpus == NTHREADS && distinct, "%d threads: each reads a CPU from its own area", NTHREADS);
	R(busy == NTHREADS, "R3.3: each of %d threads is registered with the same area, length %u "
	  "and signature (re-registration -> EBUSY in %d)", NTHREADS, m->registered_len, busy);
	R(einval == NTHREADS, "R3.3: one length for every thread: another length -> EINVAL in %d/%d",
	  einval, NTHREADS);
}

static void env_glibc(const struct rseqkit_mode *m)
{
	unsigned int size = &__rseq_size ? __rseq_size : 0;
	uint32_t usable = size == 32 ? 20 : size;

	if (!size) {
		R(0, "glibc: __rseq_size > 0 expected (glibc >= 2.35 registers rseq)");
		return;
	}
	R(rseqkit_init() == 0, "glibc: rseqkit_init() -> 0");
	R(m->owner == RSEQKIT_OWNER_LIBC, "R7: __rseq_size %u -> owner glibc (got %s)", size,
	  rseqkit_owner_name(m->owner));
	R(m->abi == (size > 32 ? RSEQKIT_ABI_V2 : RSEQKIT_ABI_LEGACY),
	  "R7: __rseq_size %u -> %s mode", size, size > 32 ? "V2" : "legacy");
	R(m->usable_size == usable, "R7: __rseq_size %u -> %u usable bytes (got %u)", size,
	  usable, m->usable_size);
	R(m->fields == expected_fields(usable), "R7: usable fields follow offsetofend (0x%x)",
	  m->fields);
	R((char *)rseqkit_thread_area() == (char *)rseqkit_arch_thread_pointer() + __rseq_offset,
	  "R7: the area is glibc's, at __rseq_offset from the thread pointer");
	R(rseqkit_thread_unregister() == -EPERM, "R7: glibc's registration is never unregistered "
	  "(-EPERM)");
	R(rseqkit_thread_register() == 0, "glibc: thread_register() -> 0 (already registered)");
	R(strstr(m->reason, "glibc") != NULL, "glibc: the reason names glibc: %s", m->reason);
	if (m->kernel_feature_size >= 33 && size <= 32)
		R(strstr(m->reason, "GLIBC_TUNABLES") != NULL,
		  "glibc legacy on a V2 kernel: the reason says how to get V2");
	check_cpu_reads("glibc");
	check_threads(m);
}

static int fork_child_check(const struct rseqkit_mode *m)
{
	long r = tap_sys_rseq(rseqkit_thread_area(), m->registered_len, 0, m->sig);

	/* R5.2: the registration survived fork: re-registering is EBUSY. */
	if (!(r == -1 && errno == EBUSY))
		return 1;
	return rseqkit_cpu() >= 0 ? 0 : 2;
}

static void env_self(const struct rseqkit_mode *m)
{
	uint32_t fs = (uint32_t)getauxval(RSEQKIT_AT_RSEQ_FEATURE_SIZE) ?: 20;
	uint32_t len = fs > 32 ? fs : 32;
	uint32_t usable = fs < len ? fs : len;
	struct rseqkit_abi_rseq *rs = rseqkit_thread_area();
	int status;
	pid_t pid;
	long r;

	R(rseqkit_init() == 0, "self: rseqkit_init() -> 0");
	R(m->owner == RSEQKIT_OWNER_SELF, "R7: glibc did not register -> owner rseqkit (got %s)",
	  rseqkit_owner_name(m->owner));
	R(m->registered_len == len, "R7: registered length max(AT_RSEQ_FEATURE_SIZE %u, 32) = %u "
	  "(got %u)", fs, len, m->registered_len);
	R(m->abi == (len > 32 ? RSEQKIT_ABI_V2 : RSEQKIT_ABI_LEGACY), "R3.2: length %u -> %s mode",
	  len, len > 32 ? "V2" : "legacy");
	R(m->usable_size == usable && m->fields == expected_fields(usable),
	  "R7: %u usable bytes, fields 0x%x", usable, m->fields);
	R(((uintptr_t)rs % (len > 32 ? 64 : 32)) == 0, "R3.1: area aligned to max(AT_RSEQ_ALIGN, 32)");
	r = tap_sys_rseq(rs, len, 0, RSEQKIT_SIG);
	R(r == -1 && errno == EBUSY, "R3.3: the main thread is registered by rseqkit "
	  "(same area again -> EBUSY)");
	R(rseqkit_thread_unregister() == 0, "self: rseqkit_thread_unregister() -> 0");
	r = tap_sys_rseq(rs, len, RSEQKIT_FLAG_UNREGISTER, RSEQKIT_SIG);
	R(r == -1 && errno == EINVAL, "R3.4: after it, nothing is registered (unregister -> EINVAL)");
	R((int32_t)rs->cpu_id < 0, "self: an unregistered area reads cpu_id < 0");
	R(rseqkit_thread_unregister() == -ENOENT, "self: unregistering twice -> -ENOENT");
	R(rseqkit_cpu() >= 0 && (int32_t)rs->cpu_id >= 0, "self: the next read registers again "
	  "(lazy registration)");
	check_cpu_reads("self");
	check_threads(m);
	fflush(stdout);
	pid = fork();
	if (pid == 0)
		_exit(fork_child_check(m));
	waitpid(pid, &status, 0);
	R(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	  "R5.2: a fork child keeps rseqkit's registration and reads its CPU (status %d)", status);
}

static void env_none(const struct rseqkit_mode *m)
{
	R(rseqkit_init() == -ENOSYS, "none: rseqkit_init() -> -ENOSYS under a seccomp filter");
	R(m->owner == RSEQKIT_OWNER_NONE && m->abi == RSEQKIT_ABI_NONE,
	  "none: owner none, mode unavailable (got %s/%s)", rseqkit_owner_name(m->owner),
	  rseqkit_abi_mode_name(m->abi));
	R(m->error == ENOSYS && strstr(m->reason, "ENOSYS"), "none: the reason names ENOSYS: %s",
	  m->reason);
	R(!&__rseq_size || __rseq_size == 0, "none: glibc's registration failed too "
	  "(__rseq_size 0)");
	R(rseqkit_thread_register() == -ENOSYS, "none: thread_register() -> -ENOSYS");
	R((int32_t)rseqkit_thread_area()->cpu_id < 0, "none: the area the fast path reads "
	  "has cpu_id < 0, so reads take the fallback");
	check_cpu_reads("none");
}

static void run_common(const char *env, struct rseqkit_mode *m)
{
	R(rseqkit_get_mode(NULL) == -EINVAL, "%s: rseqkit_get_mode(NULL) -> -EINVAL", env);
	R(rseqkit_get_mode(m) == 0, "%s: rseqkit_get_mode() -> 0", env);
	subenv_diag("%s: owner %s, mode %s, len %u, usable %u: %s", env,
		    rseqkit_owner_name(m->owner), rseqkit_abi_mode_name(m->abi),
		    m->registered_len, m->usable_size, m->reason);
}

static void run_glibc(void)
{
	struct rseqkit_mode m;

	run_common("glibc", &m);
	env_glibc(&m);
}

static void run_self(void)
{
	struct rseqkit_mode m;

	run_common("self", &m);
	env_self(&m);
}

static void run_none(void)
{
	struct rseqkit_mode m;

	run_common("none", &m);
	env_none(&m);
}

int main(int argc, char **argv)
{
	static const struct subenv envs[] = {
		{ "glibc", subenv_setup_glibc, run_glibc },
		{ "self", subenv_setup_self, run_self },
		{ "none", subenv_setup_none, run_none },
	};

	if (argc >= 3 && !strcmp(argv[1], "--norseq-exec")) {
		if (seccomp_norseq_install())
			return 126;
		execvp(argv[2], argv + 2);
		return 127;
	}
	return subenv_main(argc, argv, envs, 3);
}
