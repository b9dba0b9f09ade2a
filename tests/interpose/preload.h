/* SPDX-License-Identifier: MIT */
/*
 * preload.h - common prologue of the interposer tests: run under
 * librseqkit-slicelocks.so and observe the calling thread's slice_ctrl.
 *
 * preload_start() re-executes the program with the interposer preloaded
 * (found at ../../lib next to the test, the build tree's layout, or in
 * $RSEQKIT_SLICELOCKS), glibc kept out of rseq when it is older than 2.41 (so
 * the registration is rseqkit's V2 area on a V2 kernel; glibc 2.41 and later
 * register V2 themselves and the interposer uses their area, as `rseqkit run
 * --slice-locks` arranges) and RSEQKIT_SLICE_LOCKS_FORCE=1. On a
 * kernel without extensions the forced mode runs the "on" paths on an area
 * the kernel never reads (R3.5), so every byte we see was written by the
 * interposer: the checks are exact. On a kernel that offers extensions the
 * decision is on by itself and the kernel may clear a request when it
 * schedules the thread out (R6.5): preload_exact() is false and tests check
 * only what the kernel cannot change.
 */
#ifndef RSEQKIT_TEST_PRELOAD_H
#define RSEQKIT_TEST_PRELOAD_H

#include <dlfcn.h>
#include <gnu/libc-version.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rseqkit/rseqkit.h>
#include "tap.h"
#include "../../src/interpose/locate.h"


static bool preload_forced;



/* Returns in the re-executed program only; extra_env: "NAME=VALUE" or NULL. */
static inline void preload_start(char **argv, const char *extra_env)
{
	struct rseqkit_slice_info info;
	const char *so;
	Dl_info dl;
	void *fn;

	if (!getenv("RSEQKIT_TEST_PRELOADED")) {
		so = slicelocks_locate(NULL, "../../lib");
		if (!so || access(so, R_OK))
			tap_bail("interposer %s not found (set RSEQKIT_SLICELOCKS)",
				 so ? so : SLICELOCKS_SO);
		setenv("LD_PRELOAD", so, 1);
		if (!slicelocks_glibc_registers_v2())
			setenv("GLIBC_TUNABLES", "glibc.pthread.rseq=0", 1);
		setenv("RSEQKIT_SLICE_LOCKS_FORCE", "1", 1);
		setenv("RSEQKIT_TEST_PRELOADED", "1", 1);
		if (extra_env)
			putenv((char *)extra_env);
		execv("/proc/self/exe", argv);
		tap_bail("re-exec under the interposer: %s", strerror(errno));
	}
	fn = dlsym(RTLD_DEFAULT, "pthread_mutex_lock");
	if (!fn || !dladdr(fn, &dl) || !dl.dli_fname || !strstr(dl.dli_fname, "slicelocks"))
		tap_bail("pthread_mutex_lock is not the interposer's (%s)",
			 fn && dl.dli_fname ? dl.dli_fname : "unresolved");
	rseqkit_slice_get_info(&info);
	if (!rseqkit_slice_on)
		tap_skip_all("the interposer is not on and could not be forced (%s)", info.reason);
	preload_forced = !info.on;
	tap_diag("interposer %s: %s", preload_forced ? "forced on" : "on", info.reason);
}

/* Exact observation: the kernel never touches slice_ctrl. */
static inline bool preload_exact(void)
{
	return preload_forced;
}

static inline uint8_t req(void)
{
	return rseqkit_arch_tp_load_u8((long)rseqkit_rseq_offset + RSEQKIT_OFF_SLICE_REQUEST);
}

static inline uint8_t granted(void)
{
	return rseqkit_arch_tp_load_u8((long)rseqkit_rseq_offset + RSEQKIT_OFF_SLICE_GRANTED);
}

/* Raised while holding: the interposer began one outermost section (it
 * begins once, however many locks: a second begin would find the request
 * raised and count itself in the library's nesting depth), and when forced
 * the request byte is 1; on a real V2 kernel a grant or a reschedule may
 * have consumed the byte. */
static inline bool raised(void)
{
	return rseqkit_slice_tls.nest == 0 && (!preload_exact() || req() == 1);
}

/* Nothing left behind after the last release, on any kernel: request 0 and
 * no nesting depth left open. */
static inline bool clear(void)
{
	return req() == 0 && rseqkit_slice_tls.nest == 0;
}

#endif /* RSEQKIT_TEST_PRELOAD_H */
