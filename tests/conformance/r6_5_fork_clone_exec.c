// SPDX-License-Identifier: MIT
/*
 * R5 for time slice extensions: a fork child keeps the registration, its
 * mode and the enable state (enabled and disabled alike) and holds no grant
 * (R5.2); a clone(CLONE_VM) thread starts unregistered with extensions off
 * (R5.1); execve resets everything (R5.3).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ct_slice.h"
#include "tap.h"

#define GET RSEQKIT_PR_RSEQ_SLICE_EXTENSION_GET
#define SET RSEQKIT_PR_RSEQ_SLICE_EXTENSION_SET

static struct rseqkit_abi_rseq *rs;
static uint32_t len;

/* Exit code: 0 ok, else which check failed. */
static int fork_child(void *arg)
{
	long want = (long)(intptr_t)arg;
	long r = ct_register(rs, len, 0);

	if (!(r == -1 && errno == EBUSY))
		return 1;	/* registration (same area, len) not inherited */
	if (ct_slice_prctl(GET, 0, 0, 0) != want)
		return 2;
	if (!!(rs->flags & RSEQKIT_CS_FLAG_SLICE_EXT_ENABLED) != want)
		return 3;
	if (ct_granted(rs))
		return 4;
	return 0;
}

static void *thread_fn(void *arg)
{
	long *out = arg;

	out[0] = ct_slice_prctl(GET, 0, 0, 0);
	out[1] = errno;
	return NULL;
}

int main(int argc, char **argv)
{
	struct ct_area area;
	struct kfeat k;
	const char *why;
	pthread_t t;
	long res[2];
	int status;
	pid_t pid;

	if (argc > 1 && !strcmp(argv[1], "--after-exec")) {
		/* R5.3: the exec'd image starts unregistered (glibc is told not
		 * to register), so the prctl finds no registration. */
		long r = ct_slice_prctl(GET, 0, 0, 0);

		return r == -1 && errno == ENXIO ? 0 : 10;
	}
	tap_reexec_without_glibc_rseq(argv);
	kfeat_probe(&k);
	why = ct_slice_setup(&area, &k, RSEQKIT_FLAG_SLICE_EXT_DEFAULT_ON);
	if (why)
		tap_skip_all("R5 with slice extensions: %s", why);
	rs = area.rs;
	len = area.len;

	tap_fork_expect_exit(fork_child, (void *)1, 0,
			     "R5.2: fork child keeps the V2 registration, enabled, no grant");
	ct_slice_prctl(SET, 0, 0, 0);
	tap_fork_expect_exit(fork_child, (void *)0, 0,
			     "R5.2: fork child keeps the disabled state too");
	ct_slice_prctl(SET, RSEQKIT_PR_RSEQ_SLICE_EXT_ENABLE, 0, 0);

	pthread_create(&t, NULL, thread_fn, res);
	pthread_join(t, NULL);
	tap_ok(res[0] == -1 && res[1] == ENXIO, "R5.1: a clone(CLONE_VM) thread starts "
	       "unregistered, extensions off (GET -> ENXIO, got %ld/%s)", res[0],
	       tap_errno_name((int)res[1]));

	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		char *args[] = { argv[0], "--after-exec", NULL };

		execv("/proc/self/exe", args);
		_exit(127);
	}
	waitpid(pid, &status, 0);
	tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	       "R5.3: after execve all rseq and slice state is reset (status 0x%x)", status);
	return tap_done();
}
