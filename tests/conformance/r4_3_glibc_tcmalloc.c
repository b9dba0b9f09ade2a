// SPDX-License-Identifier: MIT
/*
 * R3.2 / R4.1 / R4.3 legacy, with the registration glibc made itself: glibc
 * <= 2.40 registers 32 bytes, so its threads are in legacy mode even on a V2
 * kernel, and the TCMalloc pattern - storing into cpu_id_start and relying
 * on the kernel to overwrite it after a context switch, migration or signal -
 * must keep working without a kill. Checked on the main thread and on new
 * threads (glibc registers each one). Skipped when glibc did not register
 * (tunable set, old kernel) or registered more than 32 bytes (glibc >= 2.41).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ct_rseq.h"
#include "tap.h"

extern const ptrdiff_t __rseq_offset __attribute__((weak));
extern const unsigned int __rseq_size __attribute__((weak));

static volatile uint32_t seen_in_handler;

static struct rseqkit_abi_rseq *glibc_area(void)
{
	return (struct rseqkit_abi_rseq *)((char *)__builtin_thread_pointer() + __rseq_offset);
}

static void on_sig(int sig)
{
	(void)sig;
	seen_in_handler = glibc_area()->cpu_id_start;
}

struct res {
	int busy_err, sleep_ok, sig_ok, mig_ok, n;
};

/* The TCMalloc pattern on the calling thread's glibc area. */
static void *pattern(void *arg)
{
	struct res *r = arg;
	struct rseqkit_abi_rseq *a = glibc_area();
	unsigned int cpu, node;

	r->busy_err = ct_register(a, RSEQKIT_ORIG_SIZE, 0) ? errno : 0;
	r->n = 20;
	/* Pinned from the start: a migration between the kernel's rewrite and
	 * the getcpu() below is no failure of the pattern. */
	tap_pin_cpu(ct_cpu(0));
	for (int i = 0; i < r->n; i++) {
		a->cpu_id_start = 0xdead0000u + (uint32_t)i;
		ct_sleep_switch(100);
		ct_getcpu(&cpu, &node);
		r->sleep_ok += a->cpu_id_start == cpu;

		a->cpu_id_start = 0xdead0000u + (uint32_t)i;
		raise(SIGUSR1);
		ct_getcpu(&cpu, &node);
		r->sig_ok += seen_in_handler == cpu;

		if (ct_ncpus() < 2)
			continue;
		/* to a CPU other than the current one: a real migration */
		tap_pin_cpu(ct_cpu(i));
		a->cpu_id_start = 0xdead0000u + (uint32_t)i;
		tap_pin_cpu(ct_cpu(i + 1));
		ct_getcpu(&cpu, &node);
		r->mig_ok += a->cpu_id_start == cpu && a->cpu_id == cpu;
	}
	return NULL;
}

static void report(const char *who, const struct res *r)
{
	tap_ok(r->busy_err == EBUSY,
	       "R3.3 %s: glibc's area is registered with len 32 and RSEQ_SIG (re-registering -> EBUSY, got %s)",
	       who, tap_errno_name(r->busy_err));
	tap_ok(r->sleep_ok == r->n,
	       "R4.1/R4.3 legacy %s: stored cpu_id_start overwritten after each sleep (%d/%d)", who,
	       r->sleep_ok, r->n);
	tap_ok(r->sig_ok == r->n,
	       "R4.1/R4.3 legacy %s: stored cpu_id_start overwritten before each signal handler (%d/%d)",
	       who, r->sig_ok, r->n);
	if (ct_ncpus() < 2)
		tap_skip("R4.1/R4.3 legacy %s: overwritten after migrations: needs 2 CPUs", who);
	else
		tap_ok(r->mig_ok == r->n,
	       "R4.1/R4.3 legacy %s: stored cpu_id_start overwritten after each migration (%d/%d)", who,
	       r->mig_ok, r->n);
}

/* The process under test: a forked child, so that a kill (a V2 read-only
 * check applied to glibc's 32-byte registration) is a result. */
static int tcmalloc_process(void *arg)
{
	struct res *r = arg;
	pthread_t th;

	signal(SIGUSR1, on_sig);
	pattern(&r[0]);
	pthread_create(&th, NULL, pattern, &r[1]);
	pthread_join(th, NULL);
	return 0;
}

int main(void)
{
	struct kfeat k;
	struct res *r;

	ct_start_keep_glibc(&k, "R4.3");
	if (!&__rseq_size || !&__rseq_offset)
		tap_skip_all("R4.3: this libc does not export __rseq_size/__rseq_offset");
	if (__rseq_size == 0)
		kfeat_missing_all(&k, kfeat_promises(&k, KFACTS_GLIBC, "legacy"),
				  "R4.3: glibc did not register rseq (tunable glibc.pthread.rseq=0 "
				  "or no kernel support)");
	if (__rseq_size > RSEQKIT_ORIG_SIZE)
		kfeat_missing_all(&k, kfeat_promises(&k, KFACTS_GLIBC, "legacy"),
				  "R4.3: glibc registered %u bytes (V2), not the legacy 32",
				  __rseq_size);
	tap_diag("glibc registration: __rseq_size %u, __rseq_offset %td", __rseq_size, __rseq_offset);
	r = ct_shared_alloc(2 * sizeof(*r));
	tap_fork_expect_exit(tcmalloc_process, r, 0,
			     "R4.3 legacy: the TCMalloc pattern on glibc's registration does not kill "
			     "the process");
	report("main thread", &r[0]);
	report("new thread", &r[1]);
	munmap(r, 2 * sizeof(*r));
	return tap_done();
}
