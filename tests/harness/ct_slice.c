// SPDX-License-Identifier: MIT
/* Helpers of the time slice extension conformance tests (ct_slice.h). */
#include "ct_slice.h"
#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

long ct_slice_prctl(unsigned long op, unsigned long a3, unsigned long a4, unsigned long a5)
{
	return prctl(RSEQKIT_PR_RSEQ_SLICE_EXTENSION, op, a3, a4, a5);
}

long ct_slice_yield(void)
{
	return syscall(RSEQKIT_NR_rseq_slice_yield);
}

int ct_knob_read(long *nsec)
{
	FILE *f = fopen(CT_SLICE_KNOB, "r");
	int ok;

	if (!f)
		return -errno;
	ok = fscanf(f, "%ld", nsec) == 1;
	fclose(f);
	return ok ? 0 : -EIO;
}

int ct_knob_write(const char *text)
{
	return tap_write_file(CT_SLICE_KNOB, text);
}

void ct_slice_start(char **argv, struct kfeat *k, const char *rule, struct ct_area *a, int flags)
{
	const char *why;

	ct_start(argv, k, rule);
	if (!kfeat_slice_on(k))
		kfeat_missing_all(k, kfeat_promises(k, KFACTS_SLICE, "on"),
				  "%s: time slice extensions are not on here (kernel without V2, "
				  "compiled out or disabled at boot)", rule);
	if (!a)
		return;
	why = ct_slice_setup(a, k, flags);
	if (why)
		tap_bail("%s: slice extensions are on here, but: %s", rule, why);
}

static long knob_saved = -1;

void ct_knob_set(long nsec)
{
	char text[32];

	if (knob_saved < 0 && ct_knob_read(&knob_saved))
		return;
	snprintf(text, sizeof(text), "%ld", nsec);
	ct_knob_write(text);
}

void ct_knob_restore(void)
{
	char text[32];

	if (knob_saved < 0)
		return;
	snprintf(text, sizeof(text), "%ld", knob_saved);
	ct_knob_write(text);
	knob_saved = -1;
}

const char *ct_slice_setup(struct ct_area *a, const struct kfeat *k, int flags)
{
	uint32_t len = ct_mode_len(k, CT_V2);
	long r;

	if (!k->v2)
		return "kernel without V2 (feature size < 33): no slice extensions";
	a->rs = ct_alloc(CT_PAGE, CT_PAGE);
	a->len = len;
	a->mode = CT_V2;
	r = ct_register(a->rs, len, flags);
	if (r)
		return "V2 registration failed";
	if (!(a->rs->flags & RSEQKIT_CS_FLAG_SLICE_EXT_AVAILABLE))
		return "slice extensions not available (compiled out or rseq_slice_ext=off)";
	return NULL;
}

struct ct_noise {
	pthread_t thread;
	int cpu;
	unsigned int period_us;
	volatile int stop;
};

static void *noise_fn(void *arg)
{
	struct ct_noise *n = arg;
	struct timespec ts = { 0, (long)n->period_us * 1000 };

	tap_pin_cpu(n->cpu);
	/* Wake up on time: the default 50 us of timer slack would stretch
	 * short periods past slice_ext_nsec. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
	while (!n->stop)
		clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
	return NULL;
}

struct ct_noise *ct_noise_start(int cpu, unsigned int period_us)
{
	struct ct_noise *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->cpu = cpu;
	n->period_us = period_us;
	if (pthread_create(&n->thread, NULL, noise_fn, n)) {
		free(n);
		return NULL;
	}
	return n;
}

void ct_noise_stop(struct ct_noise *n)
{
	if (!n)
		return;
	n->stop = 1;
	pthread_join(n->thread, NULL);
	free(n);
}

/* slice_ctrl's offset in the spec's table (R2). */
#define CT_R2_OFF_SLICE_CTRL 28

uint32_t ct_slice_wait_change(const struct rseqkit_abi_rseq *rs, uint32_t from,
			      uint64_t window_ns)
{
	uint64_t end = tap_now_ns() + window_ns;
	bool extended = false;
	uint32_t w;

	for (;;) {
		w = *(const volatile uint32_t *)((const char *)rs + CT_R2_OFF_SLICE_CTRL);
		if (w != from)
			return w;
		if (tap_now_ns() < end)
			continue;
		if (extended)
			return from;
		extended = true;
		end = tap_now_ns() + CT_NS_PER_MS;
	}
}
