// SPDX-License-Identifier: MIT
/* rseqkit/membarrier.h: fences for cross-CPU work on per-CPU data. */
#include <errno.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <rseqkit/membarrier.h>
#include <rseqkit/percpu.h>
#include "internal.h"
#include "percpu-internal.h"

/* Older uAPI headers (< 5.10) lack the RSEQ commands. */
#ifndef MEMBARRIER_CMD_FLAG_CPU
# define MEMBARRIER_CMD_FLAG_CPU (1 << 0)
#endif
#define RK_MEMBARRIER_CMD_QUERY				0
#define RK_MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ	(1 << 7)
#define RK_MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ (1 << 8)

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int method;
static int mb_error;

static long sys_membarrier(int cmd, unsigned int flags, int cpu)
{
	return syscall(__NR_membarrier, cmd, flags, cpu);
}

static void decide(void)
{
	long mask;

	if (rseqkit_percpu_fallback()) {
		method = RSEQKIT_FENCE_FALLBACK_LOCKS;
		return;
	}
	method = RSEQKIT_FENCE_AFFINITY;
	/* Test knob: exercise the method used on kernels without the RSEQ
	 * membarrier (< 5.10). */
	if (secure_getenv("RSEQKIT_FENCE_AFFINITY")) {
		mb_error = EOPNOTSUPP;
		return;
	}
	mask = sys_membarrier(RK_MEMBARRIER_CMD_QUERY, 0, 0);
	if (mask < 0) {
		mb_error = errno;
		return;
	}
	if (!(mask & RK_MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ) ||
	    !(mask & RK_MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ)) {
		mb_error = EOPNOTSUPP;
		return;
	}
	if (sys_membarrier(RK_MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ, 0, 0)) {
		mb_error = errno;
		return;
	}
	method = RSEQKIT_FENCE_MEMBARRIER_RSEQ;
}

int rseqkit_membarrier_register(void)
{
	pthread_once(&once, decide);
	return method;
}

int rseqkit_membarrier_error(void)
{
	rseqkit_membarrier_register();
	return mb_error;
}

/* cpu is online: /sys/devices/system/cpu/online lists it ("0-3,6"). */
static bool cpu_online(int cpu)
{
	char buf[512], *p = buf;
	FILE *f = fopen("/sys/devices/system/cpu/online", "re");
	bool found = false;

	if (!f)
		return true;	/* unknown: assume online (the safe answer) */
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	while (*p && !found) {
		char *end;
		long lo = strtol(p, &end, 10), hi = lo;

		if (end == p)
			break;
		if (*end == '-')
			hi = strtol(end + 1, &end, 10);
		found = cpu >= lo && cpu <= hi;
		p = *end == ',' ? end + 1 : end;
	}
	return found;
}

/* Run on cpu for a moment: the task that ran there was switched out. */
static int visit(int cpu)
{
	cpu_set_t one;

	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	if (sched_setaffinity(0, sizeof(one), &one)) {
		/*
		 * EINVAL: no CPU of the mask is both online and in this thread's
		 * cpuset. An offline CPU runs nothing, so nothing is in flight
		 * there; an online CPU outside our cpuset may still run another
		 * thread of the process (another cpuset): it cannot be fenced
		 * from here, so say so instead of claiming success.
		 */
		if (errno == EINVAL)
			return cpu_online(cpu) ? -EPERM : 0;
		return -errno;
	}
	if (sched_getcpu() != cpu)
		sched_yield();
	return sched_getcpu() == cpu ? 0 : -EPERM;
}

static int fence_affinity(int cpu)
{
	cpu_set_t saved;
	int ret = 0, n = rseqkit_percpu_nr_slots();

	if (sched_getaffinity(0, sizeof(saved), &saved))
		return -errno;
	for (int c = cpu < 0 ? 0 : cpu; c < (cpu < 0 ? n : cpu + 1) && !ret; c++)
		ret = visit(c);
	if (sched_setaffinity(0, sizeof(saved), &saved) && !ret)
		ret = -errno;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return ret;
}

int rseqkit_membarrier_fence(int cpu)
{
	rseqkit_membarrier_register();
	if (cpu >= rseqkit_percpu_nr_slots())
		return -EINVAL;
	switch (method) {
	case RSEQKIT_FENCE_FALLBACK_LOCKS:
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		rseqkit__fb_fence(cpu);
		return 0;
	case RSEQKIT_FENCE_MEMBARRIER_RSEQ:
		if (sys_membarrier(RK_MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ,
				   cpu >= 0 ? MEMBARRIER_CMD_FLAG_CPU : 0, cpu >= 0 ? cpu : 0))
			return -errno;
		return 0;
	default:
		return fence_affinity(cpu);
	}
}
