// SPDX-License-Identifier: MIT
/*
 * R5 for time slice extensions: a fork child keeps the registration, its
 * mode and the enable state (enabled and disabled alike) and holds no grant
 * (R5.2); a clone(CLONE_VM) thread starts unregistered with extensions off
 * (R5.1: GET -> 0, SET -> ENXIO); execve resets everything (R5.3). Runs where
 * the scenario says slice extensions are on.
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

/* GET and SET ENABLE on a new thread: out = { GET, its errno, SET, errno }. */
static void *thread_fn(void *arg)
{
	long *out = arg;

	out[0] = ct_slice_prctl(GET, 0, 0, 0);
	out[1] = errno;
	out[2] = ct_slice_prctl(SET, RSEQKIT_PR_RSEQ_SLICE_EXT_ENABLE, 0, 0);
	out[3] = errno;
	return NULL;
}

int main(int argc, char **argv)
{
	struct ct_area area;
	struct kfeat k;
	pthread_t t;
	long res[4];
	int status;
	pid_t pid;

	if (argc > 1 && !strcmp(argv[1], "--after-exec")) {
		/* R5.3: the exec'd image starts unregistered (glibc is told not
		 * to register): extensions off, and SET finds no registration. */
		long get = ct_slice_prctl(GET, 0, 0, 0);
		long set = ct_slice_prctl(SET, RSEQKIT_PR_RSEQ_SLICE_EXT_ENABLE, 0, 0);

		return get == 0 && set == -1 && errno == ENXIO ? 0 : 10;
	}
	ct_slice_start(argv, &k, "R5", &area, RSEQKIT_FLAG_SLICE_EXT_DEFAULT_ON);
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
	tap_ok(res[0] == 0 && res[2] == -1 && res[3] == ENXIO,
	       "R5.1: a clone(CLONE_VM) thread starts unregistered, extensions off (GET -> 0, "
	       "SET ENABLE -> ENXIO; got %ld/%s, %ld/%s)", res[0],
	       res[0] < 0 ? tap_errno_name((int)res[1]) : "-", res[2],
	       res[2] < 0 ? tap_errno_name((int)res[3]) : "-");

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
