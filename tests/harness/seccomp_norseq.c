// SPDX-License-Identifier: MIT
/* A raw seccomp filter that makes rseq(2) return ENOSYS (seccomp_norseq.h). */

#include "seccomp_norseq.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <rseqkit/abi.h>

#if defined(__x86_64__)
# define NORSEQ_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
# define NORSEQ_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

int seccomp_norseq_install(void)
{
	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NORSEQ_AUDIT_ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, RSEQKIT_NR_rseq, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {
		.len = sizeof(filter) / sizeof(filter[0]),
		.filter = filter,
	};

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -errno;
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
		return -errno;
	return 0;
}

bool seccomp_norseq_active(void)
{
	return getenv("RSEQKIT_NORSEQ") != NULL;
}

bool seccomp_norseq_reexec(char **argv)
{
	if (seccomp_norseq_active())
		return true;
	if (seccomp_norseq_install())
		return false;
	setenv("RSEQKIT_NORSEQ", "1", 1);
	execv("/proc/self/exe", argv);
	return false;
}
