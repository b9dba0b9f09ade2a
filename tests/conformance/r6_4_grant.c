// SPDX-License-Identifier: MIT
/*
 * R6.4-R6.6 under real preemption: a V2 thread pinned to a CPU with a
 * request set, while a noise thread on the same CPU wakes every 50 us (each
 * wake-up an interrupt asking to preempt it).
 *   R6.4 a grant happens, written as one word {request 0, granted 1};
 *   R6.6 rseq_slice_yield() returns 1 with a live grant, 0 without;
 *   R6.6 any other syscall (getpid) ends a grant (stats: aborted);
 *   R6.5 a critical section that outlives slice_ext_nsec loses the grant and
 *        is scheduled out (stats: expired, an involuntary switch).
 * Under QEMU TCG everything is ~10-50x slower, so the grant/yield part runs
 * with the knob at its maximum (50 us) and the expiry part at its minimum.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "ct_slice.h"
#include "tap.h"

#define BUDGET_NS 8000000000ULL	/* per phase */

static struct rseqkit_abi_rseq *rs;

/* Spin with the request up until granted or about window_us passed.
 * Returns true with the grant live (request left as the kernel set it). */
static bool wait_grant(unsigned int window_us)
{
	uint64_t end;

	ct_set_request(rs, 1);
	end = tap_now_ns() + window_us * 1000ULL;
	while (tap_now_ns() < end)
		if (ct_granted(rs))
			return true;
	ct_set_request(rs, 0);
	if (ct_granted(rs))
		return true;
	return false;
}

static void phase_grant_yield(void)
{
	uint64_t t0 = tap_now_ns();
	unsigned int grants = 0, yield1 = 0, word_ok = 0, tries = 0;
	long r;

	while (tap_now_ns() - t0 < BUDGET_NS && yield1 < 3) {
		tries++;
		if (!wait_grant(30))
			continue;
		grants++;
		word_ok += ct_slice_ctrl(rs) == 0x100 || ct_slice_ctrl(rs) == 0;
		ct_set_request(rs, 0);
		if (ct_granted(rs)) {
			r = ct_slice_yield();
			yield1 += r == 1;
		}
	}
	tap_diag("grant/yield: %u windows, %u grants, %u yields returned 1", tries, grants, yield1);
	tap_ok(grants > 0, "R6.4: a requesting thread interrupted with a reschedule pending is "
	       "granted (%u grants in %u windows)", grants, tries);
	tap_ok(grants && word_ok == grants, "R6.4: the grant is one word: request 0, granted 1 "
	       "(%u/%u)", word_ok, grants);
	tap_ok(yield1 > 0, "R6.6: rseq_slice_yield() with a live grant -> 1 (%u times)", yield1);
	tap_ok(ct_slice_yield() == 0, "R6.6: rseq_slice_yield() after the grant ended -> 0");
}

/*
 * A syscall while granted ends the grant (R6.6). The noise thread keeps
 * asking to preempt, so a grant can also be revoked between the moment we
 * see it and the syscall (R6.5, "revoked"); try several grants and require
 * that the syscall ended at least one of them as "aborted", and that no
 * grant outlived the syscall.
 */
static void phase_abort(const struct kfeat *k)
{
	struct kfeat_stats a, b;
	uint64_t t0 = tap_now_ns();
	unsigned int got = 0, live_after = 0, counted = 0;

	while (got < 20 && counted == 0 && tap_now_ns() - t0 < BUDGET_NS) {
		if (k->stats)
			kfeat_read_stats(&a);
		if (!wait_grant(30))
			continue;
		got++;
		getpid();		/* a syscall while granted */
		live_after += ct_slice_ctrl(rs) != 0;
		if (k->stats) {
			kfeat_read_stats(&b);
			counted += b.aborted > a.aborted;
		}
	}
	if (!got) {
		tap_skip("R6.6: abort by getpid: no grant within the budget");
		return;
	}
	tap_ok(live_after == 0, "R6.6: getpid() while granted ends the grant (%u of %u grants "
	       "still live after it)", live_after, got);
	if (k->stats)
		tap_ok(counted > 0, "R6.6: ... counted as aborted (in %u of %u tries; the others "
		       "were revoked by the noise first)", counted, got);
	else
		tap_skip("R6.6: aborted counter: no debugfs rseq/stats");
}

static void phase_expiry(const struct kfeat *k)
{
	struct kfeat_stats a, b;
	uint64_t t0 = tap_now_ns(), v0, i0, v1, i1, end;
	bool got = false;
	uint32_t after = 1;

	kfeat_read_stats(&a);
	ct_thread_switches(&v0, &i0);
	while (!got && tap_now_ns() - t0 < BUDGET_NS) {
		if (!wait_grant(30))
			continue;
		got = true;
		/* Outlive slice_ext_nsec by far, without a syscall. */
		end = tap_now_ns() + 50000000ULL;
		while (tap_now_ns() < end)
			;
		after = ct_slice_ctrl(rs);
	}
	ct_thread_switches(&v1, &i1);
	kfeat_read_stats(&b);
	if (!got) {
		tap_skip("R6.5: expiry: no grant within the budget");
		return;
	}
	tap_ok(after == 0, "R6.5: a grant held past slice_ext_nsec is revoked (slice_ctrl 0x%x)",
	       after);
	tap_ok(i1 > i0, "R6.5: ... and the thread was scheduled out (%lu involuntary switches)",
	       (unsigned long)(i1 - i0));
	if (k->stats)
		tap_ok(b.expired > a.expired, "R6.5: ... counted as expired (+%lu)",
		       (unsigned long)(b.expired - a.expired));
	else
		tap_skip("R6.5: expired counter: no debugfs rseq/stats");
}

int main(int argc, char **argv)
{
	struct ct_noise *noise;
	struct ct_area area;
	struct kfeat k;
	const char *why;
	long knob = -1;
	int cpu;

	(void)argc;
	tap_reexec_without_glibc_rseq(argv);
	kfeat_probe(&k);
	kfeat_diag(&k);
	why = ct_slice_setup(&area, &k, RSEQKIT_FLAG_SLICE_EXT_DEFAULT_ON);
	if (why)
		tap_skip_all("R6.4-R6.6: %s", why);
	rs = area.rs;
	tap_ok(rs->flags & RSEQKIT_CS_FLAG_SLICE_EXT_ENABLED,
	       "R6.1: DEFAULT_ON at registration sets ENABLED");
	tap_ok(ct_slice_ctrl(rs) == 0, "R3.5: V2 registration leaves slice_ctrl clear");
	tap_ok(ct_slice_yield() == 0, "R6.6: rseq_slice_yield() with no grant -> 0");

	cpu = ct_cpu(0);
	if (tap_pin_cpu(cpu))
		tap_bail("pin to CPU %d failed", cpu);
	if (ct_knob_read(&knob) == 0)
		ct_knob_write("50000");
	noise = ct_noise_start(cpu, 50);
	if (!noise)
		tap_bail("noise thread");

	phase_grant_yield();
	phase_abort(&k);
	if (knob >= 0)
		ct_knob_write("5000");
	phase_expiry(&k);

	ct_noise_stop(noise);
	if (knob >= 0) {
		char text[32];

		snprintf(text, sizeof(text), "%ld", knob);
		ct_knob_write(text);
	}
	return tap_done();
}
