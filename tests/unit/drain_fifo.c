// SPDX-License-Identifier: MIT
/*
 * A SCHED_FIFO caller against a drainer preempted while it holds a slot
 * "stopped" (rseqkit/percpu.h drain protocol), both on one CPU. A caller
 * that spins until the slot is published again never lets the
 * lower-priority drainer run: a livelock. Expected (issue 13,
 * rseqkit/percpu.h): the caller's operation completes (it waits for the
 * drain, lending the drainer its priority), for freelist push, ptrbuf
 * push/pop and membuf push/pop.
 *
 * The drainer (SCHED_FIFO 1) and the caller (SCHED_FIFO 2) share CPU c0.
 * The library calls the injection hook RSEQKIT_INJECT_DRAIN while a slot is
 * stopped; there the drainer wakes the caller, which preempts it at once
 * and runs its operation on the stopped slot. The main thread watches from
 * another CPU: an operation not done after 20 s is a livelock (the test
 * then exits failing; the spinning thread cannot be stopped otherwise).
 * Needs root (SCHED_FIFO) and two CPUs; skips otherwise.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rseqkit/freelist.h>
#include <rseqkit/membuf.h>
#include <rseqkit/ptrbuf.h>
#include "tap.h"

#define WATCH_S 20

enum op { FL_PUSH, PB_PUSH, PB_POP, MB_PUSH, MB_POP, NR_OPS };
static const char *const op_name[NR_OPS] = {
	"freelist push", "ptrbuf push", "ptrbuf pop", "membuf push", "membuf pop",
};

static struct rseqkit_freelist fl;
static struct rseqkit_ptrbuf pb;
static struct rseqkit_membuf mb;
static struct rseqkit_freelist_node nodes[4];
static long items[4];

static int c0, c1;
static sem_t go, start_caller, done;
static volatile enum op cur;
static pthread_t drainer_thread;
static volatile int caller_ret;

static void hook(int point)
{
	if (point == RSEQKIT_INJECT_DRAIN && pthread_equal(pthread_self(), drainer_thread))
		sem_post(&start_caller);	/* the caller preempts us here */
}

static void set_fifo(int prio)
{
	struct sched_param sp = { .sched_priority = prio };

	if (pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp))
		tap_bail("SCHED_FIFO %d refused", prio);
	tap_pin_cpu(c0);
}

static void *caller(void *arg)
{
	unsigned char item[16] = { 1 };

	(void)arg;
	set_fifo(2);
	for (;;) {
		while (sem_wait(&start_caller))
			;
		switch (cur) {
		case FL_PUSH: caller_ret = rseqkit_freelist_push(&fl, &nodes[1]) >= 0 ? 0 : -1; break;
		case PB_PUSH: caller_ret = rseqkit_ptrbuf_push(&pb, &items[1]); break;
		case PB_POP: caller_ret = rseqkit_ptrbuf_pop(&pb) ? 0 : -ENOENT; break;
		case MB_PUSH: caller_ret = rseqkit_membuf_push(&mb, item); break;
		case MB_POP: caller_ret = rseqkit_membuf_pop(&mb, item); break;
		default: return NULL;
		}
		sem_post(&done);
	}
}

static void *drainer(void *arg)
{
	struct rseqkit_freelist_node *chain;
	void *out[4];
	unsigned char buf[4 * 16];

	(void)arg;
	set_fifo(1);
	for (;;) {
		while (sem_wait(&go))
			;
		switch (cur) {
		case FL_PUSH: rseqkit_freelist_drain(&fl, c0, &chain); break;
		case PB_PUSH: case PB_POP: rseqkit_ptrbuf_drain(&pb, c0, out, 1); break;
		case MB_PUSH: case MB_POP: rseqkit_membuf_drain(&mb, c0, buf, 1); break;
		default: return NULL;
		}
	}
}

/* Two items on c0's slots, so the drain of one leaves one for a pop. */
static void fill(void)
{
	unsigned char item[16] = { 2 };

	tap_pin_cpu(c0);
	for (int i = 0; i < 2; i++) {
		rseqkit_freelist_push(&fl, &nodes[2 + i]);
		rseqkit_ptrbuf_push(&pb, &items[2 + i]);
		rseqkit_membuf_push(&mb, item);
	}
	tap_pin_cpu(c1);
}

int main(void)
{
	struct sched_param sp = { .sched_priority = 1 };
	pthread_t t;
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set) || CPU_COUNT(&set) < 2)
		tap_skip_all("needs two CPUs (the watcher runs beside the livelock)");
	c0 = -1;
	for (int c = 0; c < CPU_SETSIZE; c++) {
		if (CPU_ISSET(c, &set)) {
			if (c0 < 0)
				c0 = c;
			else {
				c1 = c;
				break;
			}
		}
	}
	if (sched_setscheduler(0, SCHED_FIFO, &sp))
		tap_skip_all("SCHED_FIFO refused (%s): run as root", strerror(errno));
	sp.sched_priority = 0;
	sched_setscheduler(0, SCHED_OTHER, &sp);

	if (rseqkit_freelist_init(&fl, RSEQKIT_INDEX_CPU_ID) ||
	    rseqkit_ptrbuf_init(&pb, RSEQKIT_INDEX_CPU_ID, 8) ||
	    rseqkit_membuf_init(&mb, RSEQKIT_INDEX_CPU_ID, 8, 16))
		tap_bail("init failed");
	sem_init(&go, 0, 0);
	sem_init(&start_caller, 0, 0);
	sem_init(&done, 0, 0);
	tap_plan(NR_OPS);
	tap_diag("drainer SCHED_FIFO 1 and caller SCHED_FIFO 2 on CPU %d, watcher on CPU %d",
		 c0, c1);
	rseqkit_inject_hook = hook;
	pthread_create(&drainer_thread, NULL, drainer, NULL);
	pthread_create(&t, NULL, caller, NULL);
	for (int op = 0; op < NR_OPS; op++) {
		struct timespec ts;

		fill();
		cur = (enum op)op;
		sem_post(&go);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += WATCH_S;
		while (sem_timedwait(&done, &ts)) {
			if (errno == ETIMEDOUT) {
				tap_ok(false, "%s on a slot stopped by a preempted lower-priority "
				       "drainer completes (still spinning after %d s: livelock)",
				       op_name[op], WATCH_S);
				fflush(stdout);
				_exit(1);
			}
		}
		tap_ok(caller_ret == 0, "%s on a slot stopped by a preempted lower-priority "
		       "drainer completes (ret %d)", op_name[op], caller_ret);
	}
	rseqkit_inject_hook = NULL;
	return tap_done();
}
