// SPDX-License-Identifier: MIT
/*
 * R3.6: ptrace(PTRACE_GET_RSEQ_CONFIGURATION, 0x420f) on a stopped tracee
 * reports the registered pointer, length and signature, and flags = 0
 * always (the mode follows from the length; checkpoint/restore tools reject
 * other flags). Cases: unregistered, legacy (32), V2 (feature size), V2 with
 * a longer length (64), V2 registered with RSEQ_FLAG_SLICE_EXT_DEFAULT_ON.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ct_rseq.h"
#include "tap.h"

#define PTRACE_GET_RSEQ_CONFIGURATION_ 0x420f

struct rseq_conf {
	uint64_t rseq_abi_pointer;
	uint32_t rseq_abi_size;
	uint32_t signature;
	uint32_t flags;
	uint32_t pad;
};

static struct kfeat k;
static void *area;	/* allocated before fork: same address in the child */

static void run(const char *name, uint32_t len, int flags)
{
	struct rseq_conf c;
	int status;
	long r;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		tap_bail("fork: %s", tap_errno_name(errno));
	if (pid == 0) {
		if (ptrace(PTRACE_TRACEME, 0, NULL, NULL))
			_exit(2);
		if (len && ct_register(area, len, flags))
			_exit(3);
		raise(SIGSTOP);
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFSTOPPED(status)) {
		tap_ok(false, "R3.6 %s: tracee did not stop (status 0x%x)", name, status);
		return;
	}
	memset(&c, 0xff, sizeof(c));
	r = ptrace((enum __ptrace_request)PTRACE_GET_RSEQ_CONFIGURATION_, pid,
		   (void *)sizeof(c), &c);
	if (r == -1 && (errno == EIO || errno == EINVAL)) {
		tap_skip("R3.6 %s: kernel has no PTRACE_GET_RSEQ_CONFIGURATION (%s)", name,
			 tap_errno_name(errno));
	} else {
		uint64_t want_ptr = len ? (uint64_t)(uintptr_t)area : 0;
		uint32_t want_sig = len ? RSEQKIT_SIG : 0;

		tap_ok(r == (long)sizeof(c), "R3.6 %s: PTRACE_GET_RSEQ_CONFIGURATION returns %zu (got %ld)",
		       name, sizeof(c), r);
		tap_ok(c.rseq_abi_pointer == want_ptr && c.rseq_abi_size == len &&
		       c.signature == want_sig,
		       "R3.6 %s: reports pointer, length %u and signature 0x%x (got %#llx, %u, 0x%x)",
		       name, len, want_sig, (unsigned long long)c.rseq_abi_pointer,
		       c.rseq_abi_size, c.signature);
		tap_ok(c.flags == 0, "R3.6 %s: reports flags 0 (got 0x%x)", name, c.flags);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
}

int main(int argc, char **argv)
{
	const char *why;

	(void)argc;
	ct_start(argv, &k, "R3.6");
	area = ct_alloc(CT_PAGE, CT_PAGE);
	run("unregistered", 0, 0);
	run("legacy", RSEQKIT_ORIG_SIZE, 0);
	if (!ct_mode_usable(&k, CT_V2, &why)) {
		tap_skip("R3.6 V2: %s", why);
	} else {
		run("V2", ct_mode_len(&k, CT_V2), 0);
		run("V2 len 64", 64, 0);
		run("V2 +DEFAULT_ON", ct_mode_len(&k, CT_V2), RSEQKIT_FLAG_SLICE_EXT_DEFAULT_ON);
	}
	free(area);
	return tap_done();
}
