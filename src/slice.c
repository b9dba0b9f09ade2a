// SPDX-License-Identifier: MIT
/*
 * slice.c - the process-wide time slice extension policy (rseqkit/slice.h).
 *
 * One decision, taken once, before or at the first registration rseqkit
 * makes: registration.c asks rseqkit__slice_register_flags() which rseq(2)
 * flags to pass, so that with the decision "on" every thread rseqkit
 * registers comes up enabled (DEFAULT_ON) at no extra cost. Threads that
 * glibc registered are enabled with the prctl on their first begin (the slow
 * path the nesting counter leads to), so begin/end never test per-thread
 * state. The library never disables; finding a thread disabled anyway means
 * a third party did it, and that is reported, not repaired silently.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <rseqkit/slice.h>
#include "internal.h"

uint8_t rseqkit_slice_on;
__thread uint32_t rseqkit_slice_nest __attribute__((tls_model("initial-exec"))) =
	RSEQKIT_SLICE_NEST_NEW;

static __thread bool reported_disabled;
static bool opted_out;
static struct rseqkit_slice_info info;
static pthread_once_t slice_once = PTHREAD_ONCE_INIT;

static bool env_opt_out(void)
{
	const char *v = getenv("RSEQKIT_SLICE");

	return v && (!strcmp(v, "off") || !strcmp(v, "0") || !strcmp(v, "no"));
}

uint32_t rseqkit__slice_register_flags(uint32_t kernel_feature_size)
{
	/* Pre-V2 kernels reject the flag as unknown (EINVAL); V2 kernels
	 * without extensions ignore it (R6.1). */
	if (env_opt_out() || __atomic_load_n(&opted_out, __ATOMIC_RELAXED))
		return 0;
	return kernel_feature_size >= RSEQKIT_FEATURE_SIZE_V2 ?
	       RSEQKIT_FLAG_SLICE_EXT_DEFAULT_ON : 0;
}

static long slice_prctl(unsigned long op, unsigned long arg)
{
	return prctl(RSEQKIT_PR_RSEQ_SLICE_EXTENSION, op, arg, 0, 0);
}

static const char *prctl_why(int err)
{
	switch (err) {
	case EINVAL: return "the kernel has no time slice extensions (prctl 79 unknown)";
	case RSEQKIT_ENOTSUPP: return "time slice extensions are compiled out or disabled at "
				      "boot (rseq_slice_ext=off)";
	case ENXIO: return "the thread has no rseq registration";
	default: return "unexpected prctl error";
	}
}

static void decide_slice(void)
{
	const struct rseqkit_mode *m = rseqkit__mode();
	long r;

	info.decided = true;
	if (env_opt_out() || opted_out) {
		snprintf(info.reason, sizeof(info.reason), "off: opted out (%s)",
			 env_opt_out() ? "RSEQKIT_SLICE=off" : "rseqkit_slice_opt_out()");
		return;
	}
	if (m->abi != RSEQKIT_ABI_V2) {
		if (m->owner == RSEQKIT_OWNER_LIBC && m->kernel_feature_size >= RSEQKIT_FEATURE_SIZE_V2)
			snprintf(info.reason, sizeof(info.reason), "off: glibc %s registered a "
				 "legacy (32-byte) area and extensions need V2; start the program "
				 "with `rseqkit run -- PROGRAM` to let rseqkit register V2",
				 m->libc_version);
		else
			snprintf(info.reason, sizeof(info.reason), "off: the registration is %s, "
				 "extensions need V2 (%s)", rseqkit_abi_mode_name(m->abi),
				 m->owner == RSEQKIT_OWNER_NONE ? "rseq unavailable" :
				 "kernel without V2: Linux 7.1+ or rseqkit's patched 6.12");
		return;
	}
	r = slice_prctl(RSEQKIT_PR_RSEQ_SLICE_EXTENSION_GET, 0);
	if (r == 0)
		r = slice_prctl(RSEQKIT_PR_RSEQ_SLICE_EXTENSION_SET,
				RSEQKIT_PR_RSEQ_SLICE_EXT_ENABLE);
	if (r < 0) {
		info.prctl_errno = errno;
		snprintf(info.reason, sizeof(info.reason), "off: %s", prctl_why(errno));
		return;
	}
	info.on = true;
	snprintf(info.reason, sizeof(info.reason), "on: %s V2 registration, kernel offers "
		 "extensions; every thread is enabled", rseqkit_owner_name(m->owner));
	__atomic_store_n(&rseqkit_slice_on, 1, __ATOMIC_RELEASE);
}

int rseqkit_slice_init(void)
{
	rseqkit_init();
	pthread_once(&slice_once, decide_slice);
	return info.on;
}

/* After registration.c's constructor (101): the main thread is registered. */
__attribute__((constructor(102))) static void rseqkit_slice_ctor(void)
{
	rseqkit_slice_init();
}

int rseqkit_slice_opt_out(void)
{
	if (info.decided)
		return -EALREADY;
	__atomic_store_n(&opted_out, true, __ATOMIC_RELAXED);
	return 0;
}

int rseqkit_slice_get_info(struct rseqkit_slice_info *out)
{
	if (!out)
		return -EINVAL;
	rseqkit_slice_init();
	*out = info;
	return 0;
}

int rseqkit_slice_yield(void)
{
	return (int)syscall(RSEQKIT_NR_rseq_slice_yield);
}

/* Register (DEFAULT_ON) and enable the calling thread; true if enabled. */
static bool thread_enable(void)
{
	struct rseqkit_abi_rseq *rs;

	if (rseqkit_thread_register())
		return false;
	rs = rseqkit_thread_area();
	if (rs->flags & RSEQKIT_CS_FLAG_SLICE_EXT_ENABLED)
		return true;
	return slice_prctl(RSEQKIT_PR_RSEQ_SLICE_EXTENSION_SET,
			   RSEQKIT_PR_RSEQ_SLICE_EXT_ENABLE) == 0;
}

void rseqkit_slice_first_use(void)
{
	/* Called from the outermost begin of a thread's first use. */
	rseqkit_slice_nest = 1;
	thread_enable();
	*(volatile uint8_t *)&rseqkit_thread_area()->slice_ctrl.s.request = 1;
	RSEQKIT_SLICE_BARRIER();
}

int rseqkit_slice_thread_state(void)
{
	if (!rseqkit_slice_init())
		return -ENOTSUP;
	if (rseqkit_slice_nest >= RSEQKIT_SLICE_NEST_NEW) {
		rseqkit_slice_nest -= RSEQKIT_SLICE_NEST_NEW;
		thread_enable();
	}
	if (rseqkit_thread_area()->flags & RSEQKIT_CS_FLAG_SLICE_EXT_ENABLED)
		return 1;
	if (!reported_disabled) {
		reported_disabled = true;
		rseqkit__diag("rseqkit: time slice extensions were disabled on thread %ld by "
			      "someone else (the process decided on); its critical sections are "
			      "not protected", (long)syscall(SYS_gettid));
	}
	return 0;
}
