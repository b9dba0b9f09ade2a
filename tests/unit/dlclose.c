// SPDX-License-Identifier: MIT
/*
 * dlopen()/dlclose() of librseqkit.so with threads it registered still
 * alive, which exit after the close. Expected (rseqkit/thread.h, issue 13):
 *   - no crash when those threads exit (no thread-exit destructor may point
 *     into the unloaded library);
 *   - their areas never end up in static TLS handed to another module: the
 *     library stays loaded once it registered threads (dlopen RTLD_NOLOAD
 *     still finds it after the close), and they are still registered;
 *   - when glibc owns the registrations (nothing of the library is in use
 *     by the kernel), dlclose() unloads it.
 * This program does not link the library's code: it reaches
 * build/lib/librseqkit.so through dlopen/dlsym only (the shared build, next
 * to this program's build folder). Fully static builds skip (no dlopen).
 * Each case runs in a forked child, so a crash is a verdict.
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rseqkit/arch.h>

#include "envrun.h"
#include "tap.h"

/* Looked up at run time: linking dlopen into the static build of this
 * program would warn; there it is not found and the program skips. */
static tap_dlopen_fn open_fn;

#define NTHREADS 3

static char lib[PATH_MAX];
static sem_t registered, release;
static int (*reg)(void);
static volatile int reg_ret[NTHREADS];
static const ptrdiff_t *offset_sym;
static ptrdiff_t offset;
static volatile int32_t cpu_after[NTHREADS];

static int32_t area_cpu_id(void)
{
	char *tp = rseqkit_arch_thread_pointer();

	return *(volatile int32_t *)(tp + offset + 4);	/* cpu_id */
}

static void *thread(void *arg)
{
	int i = (int)(intptr_t)arg;

	reg_ret[i] = reg();
	sem_post(&registered);
	while (sem_wait(&release))
		;
	/* After dlclose(): is this thread's area still registered? */
	cpu_after[i] = area_cpu_id();
	return NULL;
}

/* 0 ok, 2 register failed, 3 unloaded although registered, 4 area dead. */
static int threads_outlive_close(void *arg)
{
	pthread_t t[NTHREADS];
	void *h = open_fn(lib, RTLD_NOW | RTLD_LOCAL), *still;

	(void)arg;
	if (!h)
		return 10;
	reg = (int (*)(void))dlsym(h, "rseqkit_thread_register");
	offset_sym = dlsym(h, "rseqkit_rseq_offset");
	if (!reg || !offset_sym)
		return 11;
	offset = *offset_sym;
	for (int i = 0; i < NTHREADS; i++)
		pthread_create(&t[i], NULL, thread, (void *)(intptr_t)i);
	for (int i = 0; i < NTHREADS; i++)
		while (sem_wait(&registered))
			;
	dlclose(h);
	still = open_fn(lib, RTLD_NOW | RTLD_NOLOAD);
	for (int i = 0; i < NTHREADS; i++)
		sem_post(&release);
	for (int i = 0; i < NTHREADS; i++)	/* the threads exit here */
		pthread_join(t[i], NULL);
	for (int i = 0; i < NTHREADS; i++)
		if (reg_ret[i])
			return 2;
	if (!still)
		return 3;
	for (int i = 0; i < NTHREADS; i++)
		if (cpu_after[i] < 0)
			return 4;
	return 0;
}

/* 0: unloaded by dlclose(), 3: still loaded. */
static int unloads(void *arg)
{
	void *h = open_fn(lib, RTLD_NOW | RTLD_LOCAL);
	int (*init)(void);

	(void)arg;
	if (!h)
		return 10;
	init = (int (*)(void))dlsym(h, "rseqkit_init");
	if (!init)
		return 11;
	init();
	dlclose(h);
	return open_fn(lib, RTLD_NOW | RTLD_NOLOAD) ? 3 : 0;
}

static void body(const char *env, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	if (!strcmp(env, "self")) {
		tap_fork_expect_exit(threads_outlive_close, NULL, 0,
				     "self-owned: %d threads registered by the library exit after "
				     "dlclose() -> no crash, the library stays loaded, the areas "
				     "stay registered", NTHREADS);
	} else if (!strcmp(env, "glibc")) {
		struct tap_child c;
		int r = tap_fork_run(unloads, NULL, 20000, &c);

		if (!r && c.exited && c.code == 10)
			tap_skip("glibc did not register rseq here: nothing to compare");
		else
			tap_ok(!r && c.exited && c.code == 0, "glibc-owned: dlopen, rseqkit_init, "
			       "dlclose -> the library is unloaded (%s)", tap_child_str(&c));
	} else {
		tap_fork_expect_exit(unloads, NULL, 0, "no rseq: dlopen, rseqkit_init, dlclose "
				     "-> the library is unloaded");
	}
}

int main(int argc, char **argv)
{
	open_fn = tap_build_lib("librseqkit.so", lib, sizeof(lib));
	sem_init(&registered, 0, 0);
	sem_init(&release, 0, 0);
	return envrun_main(argc, argv, body);
}
