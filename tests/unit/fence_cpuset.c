// SPDX-License-Identifier: MIT
/*
 * The affinity-walk fence (rseqkit/membarrier.h, RSEQKIT_FENCE_AFFINITY)
 * under a restricted cpuset. sched_setaffinity(2) answers EINVAL both for
 * an offline CPU and for an online CPU outside the caller's cpuset; only the
 * first means "nothing runs there". Expected (rseqkit/membarrier.h): a fence
 * of an online CPU the thread cannot visit -> -EPERM (never 0 without
 * fencing), a CPU of the cpuset -> 0, every CPU -> -EPERM.
 *
 * Needs root and a cgroup v1 cpuset hierarchy at /sys/fs/cgroup/cpuset
 * (the test makes a child cpuset with one CPU, moves itself in and back out,
 * and removes it) and two online CPUs; skips otherwise.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rseqkit/membarrier.h>
#include <rseqkit/percpu.h>
#include "tap.h"

#define CPUSET_ROOT "/sys/fs/cgroup/cpuset"

static char parent[512], child[600];

static int write_file(const char *dir, const char *name, const char *val)
{
	char path[700];
	FILE *f;
	int ret;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "we");
	if (!f)
		return -errno;
	ret = fputs(val, f) < 0 ? -EIO : 0;
	if (fclose(f) && !ret)
		ret = -errno;
	return ret;
}

static int read_file(const char *dir, const char *name, char *buf, size_t n)
{
	char path[700];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	if (!fgets(buf, (int)n, f))
		buf[0] = 0;
	fclose(f);
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

static void leave_cpuset(void)
{
	char pid[32];

	snprintf(pid, sizeof(pid), "%d", getpid());
	write_file(parent, "tasks", pid);
	rmdir(child);
}

int main(void)
{
	char mine[256] = "", mems[64], pid[32], cpu[16];
	int in_cpu = -1, out_cpu = -1, r;
	cpu_set_t set;

	if (geteuid() != 0)
		tap_skip_all("needs root to make a cpuset");
	if (access(CPUSET_ROOT "/cpuset.cpus", W_OK))
		tap_skip_all("no writable cgroup v1 cpuset hierarchy at " CPUSET_ROOT);
	if (sched_getaffinity(0, sizeof(set), &set) || CPU_COUNT(&set) < 2)
		tap_skip_all("needs two CPUs");
	for (int c = 0; c < CPU_SETSIZE; c++) {
		if (!CPU_ISSET(c, &set))
			continue;
		if (in_cpu < 0)
			in_cpu = c;
		else if (out_cpu < 0)
			out_cpu = c;
	}
	read_file("/proc/self", "cpuset", mine, sizeof(mine));
	snprintf(parent, sizeof(parent), CPUSET_ROOT "%s", strcmp(mine, "/") ? mine : "");
	snprintf(child, sizeof(child), "%s/rseqkit-fence-%d", parent, getpid());
	if (read_file(parent, "cpuset.mems", mems, sizeof(mems)) || mkdir(child, 0755))
		tap_skip_all("cannot make a cpuset under %s: %s", parent, strerror(errno));
	snprintf(cpu, sizeof(cpu), "%d", in_cpu);
	snprintf(pid, sizeof(pid), "%d", getpid());
	if (write_file(child, "cpuset.cpus", cpu) || write_file(child, "cpuset.mems", mems) ||
	    write_file(child, "tasks", pid)) {
		leave_cpuset();
		tap_skip_all("cannot move into a one-CPU cpuset");
	}
	atexit(leave_cpuset);

	setenv("RSEQKIT_FENCE_AFFINITY", "1", 1);	/* read at the first fence */
	tap_plan(4);
	r = rseqkit_membarrier_register();
	tap_ok(r == RSEQKIT_FENCE_AFFINITY || r == RSEQKIT_FENCE_FALLBACK_LOCKS,
	       "RSEQKIT_FENCE_AFFINITY set: fence method %d", r);
	if (r != RSEQKIT_FENCE_AFFINITY) {
		tap_skip("no rseq here: the affinity walk is not used");
		tap_skip("no rseq here: the affinity walk is not used");
		tap_skip("no rseq here: the affinity walk is not used");
		return tap_done();
	}
	r = rseqkit_membarrier_fence(out_cpu);
	tap_ok(r == -EPERM, "fence of online CPU %d outside the cpuset {%d} -> -EPERM, not 0 "
	       "(got %d %s)", out_cpu, in_cpu, r, tap_errno_name(-r));
	r = rseqkit_membarrier_fence(in_cpu);
	tap_ok(r == 0, "fence of CPU %d of the cpuset -> 0 (got %d %s)", in_cpu, r,
	       tap_errno_name(-r));
	r = rseqkit_membarrier_fence(-1);
	tap_ok(r == -EPERM, "fence of every CPU with one outside the cpuset -> -EPERM (got %d %s)",
	       r, tap_errno_name(-r));
	return tap_done();
}
