// SPDX-License-Identifier: MIT
/*
 * R3.5: a legacy (len 32) registration never reads or writes a byte at
 * offset >= 28 (legacy users keep private data there). Checked two ways:
 *  - bytes 28..63 of the area are pattern-filled and must survive
 *    registration, sleeps, signal deliveries, migrations, membarrier RSEQ
 *    IPIs while spinning, and unregistration;
 *  - a 32-byte area ending exactly at a PROT_NONE page: any kernel access
 *    beyond 32 bytes would kill the child with SIGSEGV.
 * (Bytes 28..31 cannot be page-protected; the pattern covers them.)
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ct_rseq.h"
#include "tap.h"

#define TAIL 28
#define END 64

static struct kfeat k;
static volatile int handler_ok = 1;
static unsigned char *main_area;

static void fill(unsigned char *p)
{
	memset(p, 0, TAIL);
	for (int i = TAIL; i < END; i++)
		p[i] = (unsigned char)(0x80 | i);
}

static bool tail_ok(const unsigned char *p)
{
	for (int i = TAIL; i < END; i++)
		if (p[i] != (unsigned char)(0x80 | i))
			return false;
	return true;
}

static void on_usr1(int sig)
{
	(void)sig;
	if (!tail_ok(main_area))
		handler_ok = 0;
}

struct spinner {
	unsigned char *area;
	volatile int ready, stop, reg_err;
};

static void *spin_thread(void *arg)
{
	struct spinner *s = arg;

	tap_pin_cpu(ct_cpu(1));
	if (ct_register(s->area, RSEQKIT_ORIG_SIZE, 0)) {
		s->reg_err = errno;
		s->ready = 1;
		return NULL;
	}
	s->ready = 1;
	while (!s->stop)
		;
	ct_unregister(s->area, RSEQKIT_ORIG_SIZE);
	return NULL;
}

/* Sleeps, signals and migrations on a registered area p; returns the number
 * of steps at which the tail was found changed. */
static int workload(unsigned char *p)
{
	int bad = 0, ncpu = ct_ncpus();

	for (int i = 0; i < 100; i++) {
		usleep(100);
		bad += !tail_ok(p);
	}
	for (int i = 0; i < 20; i++) {
		raise(SIGUSR1);
		bad += !tail_ok(p);
	}
	for (int i = 0; ncpu > 1 && i < 40; i++) {
		tap_pin_cpu(ct_cpu(i));
		bad += !tail_ok(p);
	}
	return bad;
}

static int guard_child(void *arg)
{
	unsigned char *page;
	struct rseqkit_abi_rseq *a;
	unsigned int cpu, node;

	(void)arg;
	page = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED || mprotect(page + CT_PAGE, CT_PAGE, PROT_NONE))
		return 10;
	a = (struct rseqkit_abi_rseq *)(page + 4096 - RSEQKIT_ORIG_SIZE);
	if (ct_register(a, RSEQKIT_ORIG_SIZE, 0))
		return 11;
	main_area = (unsigned char *)a;	/* the handler's tail check is moot here */
	for (int i = 0; i < 100; i++)
		usleep(100);
	for (int i = 0; i < 20; i++)
		raise(SIGUSR1);
	for (int i = 0; ct_ncpus() > 1 && i < 40; i++)
		tap_pin_cpu(ct_cpu(i));
	if (ct_getcpu(&cpu, &node) || a->cpu_id != cpu)
		return 12;
	if (ct_unregister(a, RSEQKIT_ORIG_SIZE))
		return 13;
	return 0;
}

static void nop_handler(int sig)
{
	(void)sig;
}

int main(int argc, char **argv)
{
	struct spinner sp = { 0 };
	pthread_t th;
	unsigned int cpu, node;
	int bad, ncpu;

	(void)argc;
	ct_start(argv, &k, "R3.5");
	ncpu = ct_ncpus();

	main_area = ct_alloc(CT_PAGE, CT_PAGE);
	fill(main_area);
	signal(SIGUSR1, on_usr1);
	if (!tap_expect_errno(ct_register(main_area, RSEQKIT_ORIG_SIZE, 0), errno, 0,
			      "R3.5 legacy: register a pattern-filled area (len 32) -> 0"))
		return tap_done();
	tap_ok(tail_ok(main_area), "R3.5 legacy: bytes 28..63 intact after registration");
	bad = workload(main_area);
	tap_ok(bad == 0, "R3.5 legacy: bytes 28..63 intact across 100 sleeps, 20 signals, %s (%d bad)",
	       ncpu > 1 ? "40 migrations" : "no migrations (1 CPU)", bad);
	tap_ok(handler_ok, "R3.5 legacy: bytes 28..63 intact inside signal handlers");
	ct_getcpu(&cpu, &node);
	tap_ok(((struct rseqkit_abi_rseq *)main_area)->cpu_id == cpu,
	       "R3.5 legacy: the registration is live (cpu_id %d = getcpu %u)",
	       (int32_t)((struct rseqkit_abi_rseq *)main_area)->cpu_id, cpu);

	/* membarrier RSEQ IPIs to a registered thread spinning elsewhere. */
	if (!k.membarrier_rseq || ncpu < 2) {
		tap_skip("R3.5 legacy: tail under membarrier RSEQ: %s",
			 !k.membarrier_rseq ? "no MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ" : "1 CPU");
	} else {
		int fails = 0;

		sp.area = ct_alloc(CT_PAGE, CT_PAGE);
		fill(sp.area);
		tap_pin_cpu(ct_cpu(0));
		pthread_create(&th, NULL, spin_thread, &sp);
		ct_wait_flag(&sp.ready, 5000);
		for (int i = 0; i < 50 && !sp.reg_err; i++)
			fails += ct_membarrier_rseq() != 0;
		sp.stop = 1;
		pthread_join(th, NULL);
		tap_ok(!sp.reg_err && !fails && tail_ok(sp.area),
		       "R3.5 legacy: bytes 28..63 of a spinning thread intact after 50 membarrier RSEQ (reg %s, %d failed)",
		       tap_errno_name(sp.reg_err), fails);
		free(sp.area);
	}

	tap_expect_errno(ct_unregister(main_area, RSEQKIT_ORIG_SIZE), errno, 0,
			 "R3.4 legacy: unregistration -> 0");
	tap_ok(tail_ok(main_area), "R3.5 legacy: bytes 28..63 intact after unregistration");
	free(main_area);

	signal(SIGUSR1, nop_handler);
	tap_fork_expect_exit(guard_child, NULL, 0,
			     "R3.5 legacy: a 32-byte area right before a PROT_NONE page survives sleeps, signals, migrations (no access past 32)");
	return tap_done();
}
