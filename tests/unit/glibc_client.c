// SPDX-License-Identifier: MIT
/*
 * librseqkit as a real glibc client (spec R7, R3.2, R3.3, R6.1-R6.4): what
 * the running glibc registered, judged from glibc's version and what the
 * kernel offers (the scenario's declaration in the VM, tests/harness/kfeat.h;
 * the auxiliary vector on the host), never from the library under test:
 *   glibc < 2.35        registers nothing
 *   glibc 2.35 .. 2.40  32 bytes, __rseq_size 32, or 20 from 2.40 and the
 *                       point releases that took its fix (bug 31965; Debian's
 *                       2.36 has it)                      (legacy)
 *   glibc >= 2.41       max(AT_RSEQ_FEATURE_SIZE, 32) bytes aligned to
 *                       AT_RSEQ_ALIGN, __rseq_size = the feature size
 *                       (V2 on a kernel with feature size 33)
 *   GLIBC_TUNABLES=glibc.pthread.rseq=0 (`rseqkit run`): nothing; rseqkit
 *                       registers the feature size itself (V2 on such kernels)
 * The registered length is read back from the kernel: re-registering the same
 * area with the same length and signature gives EBUSY, any other length
 * EINVAL (R3.3). Then the library must report that owner and mode, and on a
 * V2 registration with extensions available its slice path must enable the
 * thread by prctl on first use (glibc registers without DEFAULT_ON), get
 * grants from the kernel and give them back with rseq_slice_yield().
 *
 * Built per glibc by mk/glibc.mk (glibc 2.41, 2.43) and run in the VM; the
 * host and static builds check glibc 2.36 the same way.
 */
#include <errno.h>
#include <gnu/libc-version.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <rseqkit/rseqkit.h>
#include "ct_rseq.h"
#include "ct_slice.h"
#include "kfeat.h"
#include "tap.h"

extern const ptrdiff_t __rseq_offset __attribute__((weak));
extern const unsigned int __rseq_size __attribute__((weak));

/* Grants to collect, and how long to try; QEMU TCG needs the long limit. */
#define WANT_GRANTS 10
#define GRANT_TRY_MS 4000
/* The noise thread's sleep: each wake-up preempts the worker on its CPU. */
#define NOISE_PERIOD_US 200
/* The largest slice_ext_nsec (R6.7): TCG runs ~10x slower than hardware. */
#define SLOW_SLICE_NSEC "50000"
/* Spins waiting for a grant inside one critical section. */
#define SPINS_PER_SECTION 200000

struct expect {
	unsigned int glibc_major, glibc_minor;
	bool glibc_registers;		/* glibc owns the threads' registration */
	unsigned int rseq_size;		/* __rseq_size */
	unsigned int rseq_size_alt;	/* __rseq_size may also be this (glibc < 2.41) */
	uint32_t len;			/* length registered (glibc's or rseqkit's) */
	bool v2;			/* R3.2: len > 32 */
};

static bool glibc_at_least(const struct expect *e, unsigned int major, unsigned int minor)
{
	return e->glibc_major > major || (e->glibc_major == major && e->glibc_minor >= minor);
}

static void expect_from_versions(struct expect *e, const struct kfeat *k)
{
	/* A V2 kernel's feature size is 33 (R1, R3.7), whatever it shows. */
	unsigned int fs = k->v2 ? RSEQKIT_FEATURE_SIZE_V2 :
			  k->feature_size > RSEQKIT_ORIG_SIZE ? RSEQKIT_ORIG_SIZE :
			  (unsigned int)k->feature_size;

	if (sscanf(gnu_get_libc_version(), "%u.%u", &e->glibc_major, &e->glibc_minor) != 2)
		tap_bail("cannot parse the glibc version '%s'", gnu_get_libc_version());
	e->glibc_registers = k->rseq && glibc_at_least(e, 2, 35) && !tap_glibc_rseq_disabled();
	if (!e->glibc_registers)
		e->rseq_size = 0;
	else if (glibc_at_least(e, 2, 41))
		e->rseq_size = fs;
	else {
		e->rseq_size = RSEQKIT_ORIG_SIZE;
		e->rseq_size_alt = RSEQKIT_LEGACY_USABLE_SIZE;
	}
	/* glibc >= 2.41 and rseqkit both register the feature size, at least 32. */
	if (e->glibc_registers && !glibc_at_least(e, 2, 41))
		e->len = RSEQKIT_ORIG_SIZE;
	else
		e->len = fs > RSEQKIT_ORIG_SIZE ? fs : RSEQKIT_ORIG_SIZE;
	e->v2 = k->rseq && e->len > RSEQKIT_ORIG_SIZE;
}

static struct rseqkit_abi_rseq *glibc_area(void)
{
	return (struct rseqkit_abi_rseq *)((char *)__builtin_thread_pointer() + __rseq_offset);
}

/* R3.3, read back: which length is registered for this thread's area. */
static void check_registered_len(const char *who, struct rseqkit_abi_rseq *area, uint32_t len)
{
	uint32_t other = len == RSEQKIT_ORIG_SIZE ? RSEQKIT_FEATURE_SIZE_V2 : RSEQKIT_ORIG_SIZE;
	long r;

	r = ct_register(area, len, 0);
	tap_expect_errno(r, errno, EBUSY, "R3.3: %s: re-registering its area with len %u and "
			 "RSEQ_SIG -> EBUSY (so %u bytes are registered)", who, len, len);
	r = ct_register(area, other, 0);
	tap_expect_errno(r, errno, EINVAL, "R3.3: %s: the same area with len %u -> EINVAL",
			 who, other);
}

static void *thread_len(void *arg)
{
	const struct expect *e = arg;

	check_registered_len("a new thread (glibc registered it)", glibc_area(), e->len);
	return NULL;
}

static void check_glibc_registration(const struct expect *e, const struct kfeat *k)
{
	struct rseqkit_abi_rseq *area;
	cpu_set_t all;
	pthread_t t;
	int cpu;

	tap_ok(&__rseq_size && (__rseq_size == e->rseq_size ||
				(e->rseq_size_alt && __rseq_size == e->rseq_size_alt)),
	       "R7: glibc %u.%u: __rseq_size %u (expected %u%s)", e->glibc_major, e->glibc_minor,
	       &__rseq_size ? __rseq_size : 0, e->rseq_size, e->rseq_size_alt ? " or 20" : "");
	area = glibc_area();
	check_registered_len("main thread (glibc)", area, e->len);
	if (e->v2)
		tap_ok((uintptr_t)area % k->align == 0, "R3.1: glibc's V2 area %p is aligned to "
		       "AT_RSEQ_ALIGN %lu", (void *)area, k->align);
	/* Pinned for the comparison: sched_getcpu() reads this very field in
	 * glibc >= 2.35, so a migration between two loads would be all it
	 * could catch. */
	sched_getaffinity(0, sizeof(all), &all);
	cpu = sched_getcpu();
	tap_pin_cpu(cpu);
	tap_ok(area->cpu_id == (uint32_t)cpu, "R2: glibc's area holds the current cpu_id (%d, "
	       "pinned to %d)", (int)area->cpu_id, cpu);
	sched_setaffinity(0, sizeof(all), &all);
	if (pthread_create(&t, NULL, thread_len, (void *)e) == 0)
		pthread_join(t, NULL);
	else
		tap_ok(false, "pthread_create");
}

static void check_library_mode(const struct expect *e, const struct kfeat *k)
{
	struct rseqkit_mode m;
	enum rseqkit_owner owner = e->glibc_registers ? RSEQKIT_OWNER_LIBC : RSEQKIT_OWNER_SELF;
	enum rseqkit_abi_mode abi = e->v2 ? RSEQKIT_ABI_V2 : RSEQKIT_ABI_LEGACY;

	tap_ok(rseqkit_init() == 0, "rseqkit_init() -> 0");
	rseqkit_thread_register();
	rseqkit_get_mode(&m);
	tap_diag("library: %s", m.reason);
	tap_ok(m.owner == owner && m.abi == abi, "R7: the library reports owner %s, %s mode "
	       "(got %s, %s)", rseqkit_owner_name(owner), rseqkit_abi_mode_name(abi),
	       rseqkit_owner_name(m.owner), rseqkit_abi_mode_name(m.abi));
	tap_ok(m.registered_len == e->len, "R7: the library reports %u registered bytes (got %u)",
	       e->len, m.registered_len);
	if (!e->glibc_registers) {
		check_registered_len("main thread (rseqkit)", rseqkit_thread_area(), e->len);
		tap_ok(strstr(m.reason, "glibc.pthread.rseq=0") != NULL, "the reason names the "
		       "tunable that kept glibc out");
	} else if (!e->v2 && k->v2) {
		tap_ok(strstr(m.reason, "rseqkit run") != NULL, "R7: glibc legacy on a V2 kernel: "
		       "the reason offers `rseqkit run`");
	} else if (e->v2) {
		tap_ok(strstr(m.reason, "V2") != NULL && strstr(m.reason, "rseqkit run") == NULL,
		       "R7: glibc V2: the reason says V2 and offers no work-around");
	}
}

static long slice_get(void)
{
	return prctl(RSEQKIT_PR_RSEQ_SLICE_EXTENSION, RSEQKIT_PR_RSEQ_SLICE_EXTENSION_GET, 0, 0, 0);
}

struct first_use {
	long get_before, get_after;
	uint32_t flags_before, flags_after;
};

static void *thread_first_use(void *arg)
{
	struct first_use *f = arg;

	f->get_before = slice_get();
	f->flags_before = rseqkit_thread_area()->flags;
	rseqkit_slice_begin();
	rseqkit_slice_end();
	f->get_after = slice_get();
	f->flags_after = rseqkit_thread_area()->flags;
	return NULL;
}

struct grants {
	int cpu;
	unsigned int sections, grants, not_cleared;
	int err;
};

/* Critical sections pinned next to a noise thread that keeps preempting:
 * wait inside each section for the kernel's grant (R6.4), then end it the
 * library's way, which must yield (R6.3) so the kernel ends the grant and
 * clears slice_ctrl (R6.6). */
static void *thread_grants(void *arg)
{
	struct grants *g = arg;
	struct rseqkit_abi_rseq *rs;
	struct timespec t0, now;

	if (tap_pin_cpu(g->cpu)) {
		g->err = errno;
		return NULL;
	}
	rs = rseqkit_thread_area();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		bool seen = false;

		rseqkit_slice_begin();
		for (int i = 0; i < SPINS_PER_SECTION && !seen; i++)
			seen = ct_granted(rs);
		rseqkit_slice_end();
		g->sections++;
		if (seen) {
			g->grants++;
			g->not_cleared += ct_slice_ctrl(rs) != 0;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (g->grants < WANT_GRANTS &&
		 (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000 <
		 GRANT_TRY_MS);
	return NULL;
}

static void check_slice_path(const struct expect *e, const struct kfeat *k)
{
	struct rseqkit_slice_info info;
	struct first_use f = { 0 };
	struct grants g = { .cpu = ct_cpu(0) };
	struct kfeat_stats before, after, d;
	struct ct_noise *noise;
	bool available, stats;
	long old_knob = 0;
	pthread_t t;

	rseqkit_slice_get_info(&info);
	available = e->v2 && kfeat_slice_on(k);
	tap_diag("slice decision: %s", info.reason);
	tap_ok(!!(rseqkit_thread_area()->flags & RSEQKIT_CS_FLAG_SLICE_EXT_AVAILABLE) == available,
	       "R6.1: the AVAILABLE bit is %s in the %s registration's flags (%#x)",
	       available ? "set" : "clear", e->v2 ? "V2" : "legacy", rseqkit_thread_area()->flags);
	tap_ok(info.on == available, "R6.1: the slice decision is %s (V2 %d, extensions %s)",
	       available ? "on" : "off", e->v2, kfeat_slice_on(k) ? "on" : "not on");
	if (!available) {
		tap_ok(strstr(info.reason, "off") != NULL, "the reason says off: %s", info.reason);
		return;
	}

	pthread_create(&t, NULL, thread_first_use, &f);
	pthread_join(t, NULL);
	if (e->glibc_registers)
		tap_ok(f.get_before == 0 && !(f.flags_before & RSEQKIT_CS_FLAG_SLICE_EXT_ENABLED),
		       "R6.2: a new glibc-registered thread starts disabled (GET %ld, flags %#x)",
		       f.get_before, f.flags_before);
	tap_ok(f.get_after == 1 && (f.flags_after & RSEQKIT_CS_FLAG_SLICE_EXT_ENABLED),
	       "R6.2: after its first begin/end the thread is enabled (GET %ld, flags %#x)",
	       f.get_after, f.flags_after);

	/* R6.7: the knob is root's; the VM runs as root. Restored below. */
	if (k->slice_knob && ct_knob_read(&old_knob) == 0 && ct_knob_write(SLOW_SLICE_NSEC))
		old_knob = 0;
	stats = kfeat_read_stats(&before) == 0;
	noise = ct_noise_start(g.cpu, NOISE_PERIOD_US);
	pthread_create(&t, NULL, thread_grants, &g);
	pthread_join(t, NULL);
	ct_noise_stop(noise);
	if (old_knob) {
		char buf[32];

		snprintf(buf, sizeof(buf), "%ld", old_knob);
		ct_knob_write(buf);
	}
	tap_ok(g.err == 0, "pinned to cpu %d (%s)", g.cpu, strerror(g.err));
	tap_ok(g.grants > 0, "R6.4: the kernel granted extensions to a %s V2 thread (%u grants "
	       "in %u sections)", e->glibc_registers ? "glibc-registered" : "rseqkit-registered",
	       g.grants, g.sections);
	tap_ok(g.not_cleared == 0, "R6.3/R6.6: rseqkit_slice_end() yielded every grant: "
	       "slice_ctrl reads 0 after it (%u of %u grants left it set)", g.not_cleared,
	       g.grants);
	if (stats && kfeat_read_stats(&after) == 0) {
		d = kfeat_stats_delta(&before, &after);
		/* Not syield: a grant seen here may expire before the yield. */
		tap_ok(d.sgrant >= g.grants, "R4.6: rseq/stats counted every grant seen here "
		       "(sgrant +%llu, %u grants seen)", (unsigned long long)d.sgrant, g.grants);
	}
}

int main(int argc, char **argv)
{
	struct expect e = { 0 };
	struct kfeat k;

	(void)argc;
	(void)argv;
	kfeat_probe(&k);
	kfeat_diag(&k);
	if (!k.rseq)
		tap_skip_all("rseq(2) is not available here");
	expect_from_versions(&e, &k);
	tap_diag("glibc %s, %s; expected: %s registers %u bytes (%s), __rseq_size %u",
		 gnu_get_libc_version(), tap_glibc_rseq_disabled() ? "tunable rseq=0" :
		 "glibc may register", e.glibc_registers ? "glibc" : "rseqkit", e.len,
		 e.v2 ? "V2" : "legacy", e.rseq_size);
	if (e.glibc_registers)
		check_glibc_registration(&e, &k);
	else
		tap_ok(!&__rseq_size || __rseq_size == 0, "R7: glibc did not register "
		       "(__rseq_size %u)", &__rseq_size ? __rseq_size : 0);
	check_library_mode(&e, &k);
	check_slice_path(&e, &k);
	return tap_done();
}
