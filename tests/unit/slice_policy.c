// SPDX-License-Identifier: MIT
/*
 * The time slice extension policy of librseqkit (rseqkit/slice.h; spec R6.1,
 * R6.2, R6.3, R6.6) in every environment: glibc-owned, rseqkit-owned,
 * opted out (RSEQKIT_SLICE=off) and no rseq. The expected decision comes from
 * the kernel's own answer (the AVAILABLE bit it sets at a V2 registration),
 * not from knowing which kernel this is.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <rseqkit/rseqkit.h>
#include "ct_slice.h"
#include "subenv.h"
#include "tap.h"

#define R subenv_ok

static int diag_calls;

static void count_diag(const char *msg, void *arg)
{
	(void)arg;
	__atomic_fetch_add(&diag_calls, 1, __ATOMIC_RELAXED);
	subenv_diag("diag hook: %s", msg);
}

static long slice_get(void)
{
	return prctl(RSEQKIT_PR_RSEQ_SLICE_EXTENSION, RSEQKIT_PR_RSEQ_SLICE_EXTENSION_GET, 0, 0, 0);
}

struct tres {
	bool register_first;
	uint32_t flags_after_register;
	int state, state_after_disable;
	long get;
	uint8_t req_in, req_out;
};

static void *thread_fn(void *arg)
{
	struct tres *r = arg;

	if (r->register_first) {
		rseqkit_thread_register();
		r->flags_after_register = rseqkit_thread_area()->flags;
	}
	/* Retried when the kernel interfered (see check_on()). */
	for (int tries = 0; tries < 20; tries++) {
		rseqkit_slice_begin();
		r->req_in = ct_request(rseqkit_thread_area());
		rseqkit_slice_end();
		r->req_out = ct_request(rseqkit_thread_area());
		if (r->req_in == 1 && r->req_out == 0)
			break;
	}
	r->state = rseqkit_slice_thread_state();
	r->get = slice_get();
	/* A third party disables extensions on this thread. */
	prctl(RSEQKIT_PR_RSEQ_SLICE_EXTENSION, RSEQKIT_PR_RSEQ_SLICE_EXTENSION_SET, 0, 0, 0);
	r->state_after_disable = rseqkit_slice_thread_state();
	rseqkit_slice_thread_state();	/* reported once, not twice */
	return NULL;
}

static void check_on(const struct rseqkit_mode *m)
{
	struct tres res[4] = { { .register_first = false }, { .register_first = true },
			       { .register_first = false }, { .register_first = true } };
	pthread_t t[4];
	int ok_state = 0, ok_req = 0, ok_disable = 0, ok_default_on = 0, nself = 0;
	bool begin_ok = false, inner_ok = false, outer_ok = false;

	R(slice_get() == 1, "R6.2: the deciding thread is enabled (prctl GET -> 1)");
	R(rseqkit_slice_thread_state() == 1, "R6.1: rseqkit_slice_thread_state() -> 1");
	/* The kernel may legitimately turn the request into a grant or clear
	 * it (preempted anyway: R6.4, R6.5) between our store and our load;
	 * such a round proves nothing about the library, so retry it. */
	for (int tries = 0; tries < 20; tries++) {
		rseqkit_slice_begin();
		begin_ok = ct_request(rseqkit_thread_area()) == 1;
		rseqkit_slice_begin();
		rseqkit_slice_end();
		inner_ok = ct_request(rseqkit_thread_area()) == 1;
		rseqkit_slice_end();
		outer_ok = ct_request(rseqkit_thread_area()) == 0;
		if (begin_ok && inner_ok && outer_ok)
			break;
	}
	R(begin_ok, "R6.3: begin stores request = 1");
	R(inner_ok, "nesting: an inner end keeps the outer request");
	R(outer_ok, "R6.3: the outermost end stores request = 0");
	R(rseqkit_slice_yield() == 0, "R6.6: rseq_slice_yield() without a grant -> 0");

	rseqkit_set_diag_hook(count_diag, NULL);
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, thread_fn, &res[i]);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	rseqkit_set_diag_hook(NULL, NULL);
	for (int i = 0; i < 4; i++) {
		ok_state += res[i].state == 1 && res[i].get == 1;
		ok_req += res[i].req_in == 1 && res[i].req_out == 0;
		ok_disable += res[i].state_after_disable == 0;
		if (res[i].register_first && m->owner == RSEQKIT_OWNER_SELF) {
			nself++;
			ok_default_on += !!(res[i].flags_after_register &
					    RSEQKIT_CS_FLAG_SLICE_EXT_ENABLED);
		}
	}
	R(ok_state == 4, "threads created after the decision are enabled at first use (%d/4)",
	  ok_state);
	R(ok_req == 4, "R6.3: begin/end set and clear request in new threads (%d/4)", ok_req);
	if (nself)
		R(ok_default_on == nself, "R6.1: rseqkit registers threads with DEFAULT_ON: "
		  "ENABLED set by registration alone (%d/%d)", ok_default_on, nself);
	R(ok_disable == 4 && diag_calls == 4, "a third party disabling a thread is detected "
	  "(state 0 in %d/4) and reported once per thread (%d reports)", ok_disable, diag_calls);
}

static void check_off(const struct rseqkit_mode *m)
{
	uint8_t before = 0;
	bool can_look = m->fields & RSEQKIT_FIELD_SLICE_CTRL;

	if (can_look)
		before = ct_request(rseqkit_thread_area());
	rseqkit_slice_begin();
	rseqkit_slice_begin();
	if (can_look)
		R(ct_request(rseqkit_thread_area()) == before,
		  "off: begin does not touch slice_ctrl");
	rseqkit_slice_end();
	rseqkit_slice_end();
	R(rseqkit_slice_thread_state() == -ENOTSUP, "off: rseqkit_slice_thread_state() -> "
	  "-ENOTSUP");
}

static void run(const char *env)
{
	struct rseqkit_slice_info info;
	struct rseqkit_mode m;
	bool available, optout = getenv("RSEQKIT_SLICE") != NULL;

	rseqkit_get_mode(&m);
	R(rseqkit_slice_get_info(NULL) == -EINVAL, "%s: rseqkit_slice_get_info(NULL) -> -EINVAL",
	  env);
	R(rseqkit_slice_get_info(&info) == 0 && info.decided, "%s: decided by the constructor",
	  env);
	available = m.abi == RSEQKIT_ABI_V2 && (m.fields & RSEQKIT_FIELD_FLAGS) &&
		    (rseqkit_thread_area()->flags & RSEQKIT_CS_FLAG_SLICE_EXT_AVAILABLE);
	subenv_diag("%s: %s registration, kernel AVAILABLE bit %d: %s", env,
		    rseqkit_abi_mode_name(m.abi), available, info.reason);
	R(info.on == (available && !optout), "R6.1: %s: decision %s (V2 %d, AVAILABLE %d, "
	  "opt-out %d)", env, info.on ? "on" : "off", m.abi == RSEQKIT_ABI_V2, available, optout);
	R(rseqkit_slice_init() == info.on, "%s: rseqkit_slice_init() is idempotent", env);
	R(rseqkit_slice_opt_out() == -EALREADY, "%s: opting out after the decision -> -EALREADY",
	  env);
	R(strlen(info.reason) > 4, "%s: the decision has a reason", env);
	if (optout)
		R(strstr(info.reason, "opted out") != NULL, "%s: the reason says opted out", env);
	if (m.owner == RSEQKIT_OWNER_LIBC && m.abi == RSEQKIT_ABI_LEGACY &&
	    m.kernel_feature_size >= RSEQKIT_FEATURE_SIZE_V2)
		R(strstr(info.reason, "rseqkit run") != NULL, "%s: glibc legacy on a V2 kernel: "
		  "the reason offers `rseqkit run`", env);
	if (info.on)
		check_on(&m);
	else
		check_off(&m);
}

static void run_glibc(void) { run("glibc"); }
static void run_self(void) { run("self"); }
static void run_none(void) { run("none"); }
static void run_optout(void) { run("opt-out"); }

static int setup_optout(void)
{
	setenv("RSEQKIT_SLICE", "off", 1);
	return subenv_setup_self();
}

int main(int argc, char **argv)
{
	static const struct subenv envs[] = {
		{ "glibc", subenv_setup_glibc, run_glibc },
		{ "self", subenv_setup_self, run_self },
		{ "opt-out", setup_optout, run_optout },
		{ "none", subenv_setup_none, run_none },
	};

	return subenv_main(argc, argv, envs, 4);
}
