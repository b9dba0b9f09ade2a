// SPDX-License-Identifier: MIT
/*
 * slice.c - the process-wide time slice extension policy (rseqkit/slice.h).
 *
 * One decision, taken once, lazily: by rseqkit_slice_init() (or get_info,
 * thread_state) or by a thread's first section, never by the library's
 * constructor, so a dynamically linked program can still opt out from
 * main(). The decision runs in whatever context the first section is in,
 * a signal handler included, so it is async-signal-safe: system calls,
 * atomics and loads only; the words of the reason are made later, by
 * rseqkit_slice_get_info(). One caller claims the decision and publishes
 * it (rseqkit_slice_on, release); a concurrent one computes the same answer
 * for itself instead of waiting (it may be a handler that interrupted the
 * claimer).
 *
 * registration.c asks rseqkit__slice_register_flags() which rseq(2) flags to
 * pass: DEFAULT_ON unless the environment opted out (harmless if the
 * decision turns out "off": the kernel only grants when the request byte is
 * raised, which the library then never does). Threads that glibc registered
 * are enabled with the prctl on their first section. The library never
 * disables; finding a thread disabled anyway means a third party did it,
 * and that is reported, not repaired silently.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <rseqkit/slice.h>
#include "internal.h"

uint8_t rseqkit_slice_on = RSEQKIT_SLICE_UNDECIDED;
__thread struct rseqkit_slice_thread rseqkit_slice_tls __attribute__((tls_model("initial-exec")));

static __thread bool reported_disabled;

/* Why the decision came out as it did (the words: describe()). */
enum why {
	WHY_ON,
	WHY_ENV,		/* RSEQKIT_SLICE=off */
	WHY_OPT_OUT,		/* rseqkit_slice_opt_out() */
	WHY_LEGACY_GLIBC,	/* glibc registered 32 bytes on a V2 kernel */
	WHY_NOT_V2,		/* legacy registration or none */
	WHY_PRCTL,		/* the prctl failed: prctl_errno */
};

static int claimed;		/* the decision is being taken or was taken */
static enum why why;
static int why_errno;

/* RSEQKIT_SLICE=off, read once by the constructor (getenv is not
 * async-signal-safe): 0 unknown, 1 opted out, 2 not. */
static int env_state;

static bool env_opt_out(void)
{
	if (!__atomic_load_n(&env_state, __ATOMIC_RELAXED)) {
		const char *v = getenv("RSEQKIT_SLICE");
		bool off = v && (!strcmp(v, "off") || !strcmp(v, "0") || !strcmp(v, "no"));

		__atomic_store_n(&env_state, off ? 1 : 2, __ATOMIC_RELAXED);
	}
	return __atomic_load_n(&env_state, __ATOMIC_RELAXED) == 1;
}

/* Before anything can decide: the environment is read here, not later in
 * a signal handler. */
__attribute__((constructor(101))) static void rseqkit_slice_ctor(void)
{
	env_opt_out();
}

uint32_t rseqkit__slice_register_flags(uint32_t kernel_feature_size)
{
	/* Pre-V2 kernels reject the flag as unknown (EINVAL); V2 kernels
	 * without extensions ignore it (R6.1). */
	if (env_opt_out() || rseqkit_slice_on == 0)
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

/* The answer, with its reason in *w / *err. Async-signal-safe. */
static bool compute(enum why *w, int *err)
{
	const struct rseqkit_mode *m = rseqkit__mode();

	*err = 0;
	if (env_opt_out()) {
		*w = WHY_ENV;
		return false;
	}
	if (m->abi != RSEQKIT_ABI_V2) {
		*w = m->owner == RSEQKIT_OWNER_LIBC &&
		     m->kernel_feature_size >= RSEQKIT_FEATURE_SIZE_V2 ?
		     WHY_LEGACY_GLIBC : WHY_NOT_V2;
		return false;
	}
	/* The prctl needs a registered thread (ENXIO otherwise), and the
	 * decision may be taken in a thread's first section, before anything
	 * registered it; it also enables the deciding thread. */
	rseqkit_thread_register();
	if (slice_prctl(RSEQKIT_PR_RSEQ_SLICE_EXTENSION_GET, 0) < 0 ||
	    slice_prctl(RSEQKIT_PR_RSEQ_SLICE_EXTENSION_SET,
			RSEQKIT_PR_RSEQ_SLICE_EXT_ENABLE) < 0) {
		*err = errno;
		*w = WHY_PRCTL;
		return false;
	}
	*w = WHY_ON;
	return true;
}

/* Take the decision if nobody did; returns it (0/1). */
static int decide(void)
{
	int on = __atomic_load_n(&rseqkit_slice_on, __ATOMIC_ACQUIRE);
	enum why w;
	int err;

	if (__builtin_expect(on != RSEQKIT_SLICE_UNDECIDED, 1))
		return on;
	rseqkit_init();		/* a load after the registration constructor */
	if (__atomic_exchange_n(&claimed, 1, __ATOMIC_ACQ_REL))
		return compute(&w, &err);	/* being published by another */
	on = compute(&w, &err);
	why = w;
	why_errno = err;
	__atomic_store_n(&rseqkit_slice_on, (uint8_t)on, __ATOMIC_RELEASE);
	return on;
}

int rseqkit_slice_init(void)
{
	return decide();
}

int rseqkit_slice_opt_out(void)
{
	if (__atomic_exchange_n(&claimed, 1, __ATOMIC_ACQ_REL))
		return -EALREADY;
	why = WHY_OPT_OUT;
	__atomic_store_n(&rseqkit_slice_on, 0, __ATOMIC_RELEASE);
	return 0;
}

static void describe(struct rseqkit_slice_info *out)
{
	const struct rseqkit_mode *m = rseqkit__mode();

	switch (why) {
	case WHY_ON:
		snprintf(out->reason, sizeof(out->reason), "on: %s V2 registration, kernel "
			 "offers extensions; every thread is enabled",
			 rseqkit_owner_name(m->owner));
		break;
	case WHY_ENV:
	case WHY_OPT_OUT:
		snprintf(out->reason, sizeof(out->reason), "off: opted out (%s)",
			 why == WHY_ENV ? "RSEQKIT_SLICE=off" : "rseqkit_slice_opt_out()");
		break;
	case WHY_LEGACY_GLIBC:
		snprintf(out->reason, sizeof(out->reason), "off: glibc %s registered a "
			 "legacy (32-byte) area and extensions need V2; start the program "
			 "with `rseqkit run -- PROGRAM` to let rseqkit register V2",
			 m->libc_version);
		break;
	case WHY_NOT_V2:
		snprintf(out->reason, sizeof(out->reason), "off: the registration is %s, "
			 "extensions need V2 (%s)", rseqkit_abi_mode_name(m->abi),
			 m->owner == RSEQKIT_OWNER_NONE ? "rseq unavailable" :
			 "kernel without V2: Linux 7.1+ or rseqkit's patched 6.12");
		break;
	case WHY_PRCTL:
		snprintf(out->reason, sizeof(out->reason), "off: %s", prctl_why(why_errno));
		break;
	}
}

int rseqkit_slice_get_info(struct rseqkit_slice_info *out)
{
	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	decide();
	/* Not a signal handler: wait for a decision another thread publishes. */
	while (__atomic_load_n(&rseqkit_slice_on, __ATOMIC_ACQUIRE) == RSEQKIT_SLICE_UNDECIDED)
		sched_yield();
	out->on = why == WHY_ON;	/* the decision, not a value forced for tests */
	out->decided = true;
	out->prctl_errno = why == WHY_PRCTL ? why_errno : 0;
	describe(out);
	return 0;
}

int rseqkit_slice_yield(void)
{
	return (int)syscall(RSEQKIT_NR_rseq_slice_yield);
}

/* Register (DEFAULT_ON) and enable the calling thread; true if enabled.
 * System calls only: async-signal-safe. */
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

void rseqkit_slice_enter_slow(void)
{
	decide();
	if (__atomic_load_n(&rseqkit_slice_on, __ATOMIC_ACQUIRE) != 1) {
		rseqkit_slice_tls.ready = 2;
		return;
	}
	thread_enable();
	rseqkit_slice_tls.ready = 1;
}

int rseqkit_slice_thread_state(void)
{
	if (rseqkit_slice_init() != 1)
		return -ENOTSUP;
	if (!rseqkit_slice_tls.ready)
		rseqkit_slice_enter_slow();	/* no section yet: enable now */
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
