// SPDX-License-Identifier: MIT
/*
 * Stress of the interposer with random lock graphs: threads take random
 * subsets of a mixed set of locks (normal, recursive and error-checking
 * mutexes, spin locks, rwlocks on both sides) in a global order, by random
 * methods (lock, trylock, timedlock, clocklock; recursion; condition waits
 * that time out at once), release them in random order, with signals whose
 * handlers lock arriving meanwhile. After every acquisition the request must
 * be raised, after every release of the last lock cleared; each lock guards
 * a counter whose final value proves the locks still exclude.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <time.h>

#include "preload.h"

#define NLOCKS 12
#define NTHREADS 6
#define RUN_NS 1500000000ULL

enum kind { K_MUTEX, K_RECURSIVE, K_ERRORCHECK, K_SPIN, K_RW_WRITE, K_RW_READ, K_KINDS };

struct lock {
	enum kind kind;
	pthread_mutex_t m;
	pthread_spinlock_t s;
	pthread_rwlock_t rw;
	pthread_cond_t cv;
	long counter;		/* written under the lock (not by readers) */
};

static struct lock locks[NLOCKS];
static long expected[NLOCKS];
static pthread_spinlock_t handler_lock;
static volatile int stop, handler_bad, relock_bad;
static bool read_side;

static unsigned int rnd(unsigned int *s)
{
	*s = *s * 1103515245U + 12345U;
	return *s >> 8;
}

static struct timespec soon(clockid_t c)
{
	struct timespec t;

	clock_gettime(c, &t);
	t.tv_nsec += 200000;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}

/* Returns how many times the lock was taken (0 if a try failed). */
static int take(struct lock *l, unsigned int *seed)
{
	unsigned int how = rnd(seed) % 4;
	struct timespec t;
	int err, n = 1;

	switch (l->kind) {
	case K_SPIN:
		err = how == 1 ? pthread_spin_trylock(&l->s) : pthread_spin_lock(&l->s);
		return err == 0;
	case K_RW_WRITE:
	case K_RW_READ: {
		bool w = l->kind == K_RW_WRITE;

		if (how == 1)
			err = w ? pthread_rwlock_trywrlock(&l->rw) : pthread_rwlock_tryrdlock(&l->rw);
		else if (how == 2)
			err = (t = soon(CLOCK_REALTIME), w ? pthread_rwlock_timedwrlock(&l->rw, &t) :
			       pthread_rwlock_timedrdlock(&l->rw, &t));
		else if (how == 3)
			err = (t = soon(CLOCK_MONOTONIC),
			       w ? pthread_rwlock_clockwrlock(&l->rw, CLOCK_MONOTONIC, &t) :
			       pthread_rwlock_clockrdlock(&l->rw, CLOCK_MONOTONIC, &t));
		else
			err = w ? pthread_rwlock_wrlock(&l->rw) : pthread_rwlock_rdlock(&l->rw);
		return err == 0;
	}
	default:
		break;
	}
	if (how == 1)
		err = pthread_mutex_trylock(&l->m);
	else if (how == 2)
		err = (t = soon(CLOCK_REALTIME), pthread_mutex_timedlock(&l->m, &t));
	else if (how == 3)
		err = (t = soon(CLOCK_MONOTONIC), pthread_mutex_clocklock(&l->m, CLOCK_MONOTONIC, &t));
	else
		err = pthread_mutex_lock(&l->m);
	if (err)
		return 0;
	if (l->kind == K_RECURSIVE && rnd(seed) % 2 && pthread_mutex_lock(&l->m) == 0)
		n++;
	if (l->kind == K_ERRORCHECK && pthread_mutex_lock(&l->m) != EDEADLK)
		relock_bad++;	/* an errorcheck relock must fail */
	if (rnd(seed) % 8 == 0) {
		/* A wait that times out at once: returns with the mutex held. */
		t.tv_sec = 0;
		t.tv_nsec = 0;
		pthread_cond_timedwait(&l->cv, &l->m, &t);
	}
	return n;
}

static void give(struct lock *l)
{
	if (l->kind == K_SPIN)
		pthread_spin_unlock(&l->s);
	else if (l->kind == K_RW_WRITE || l->kind == K_RW_READ)
		pthread_rwlock_unlock(&l->rw);
	else
		pthread_mutex_unlock(&l->m);
}

struct worker {
	unsigned int seed;
	long rounds, bad;
	long done[NLOCKS];
};

/* Whether holding this lock raises the request. */
static bool holds(const struct lock *l)
{
	return l->kind != K_RW_READ || read_side;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	int taken[NLOCKS], order[NLOCKS];

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		int n = 0, holding = 0;

		for (int i = 0; i < NLOCKS; i++) {
			taken[i] = 0;
			if (rnd(&w->seed) % 3)
				continue;
			taken[i] = take(&locks[i], &w->seed);
			if (!taken[i])
				continue;
			order[n++] = i;
			if (holds(&locks[i]))
				holding = 1;
			if (locks[i].kind != K_RW_READ) {
				locks[i].counter++;
				w->done[i]++;
			}
			if (holding ? !raised() : !clear())
				w->bad++;
		}
		for (int i = n - 1; i > 0; i--) {
			int j = (int)(rnd(&w->seed) % (unsigned int)(i + 1)), x = order[i];

			order[i] = order[j];
			order[j] = x;
		}
		for (int k = 0; k < n; k++) {
			struct lock *l = &locks[order[k]];

			for (int r = 0; r < taken[order[k]]; r++)
				give(l);
		}
		if (!clear())
			w->bad++;
		w->rounds++;
	}
	return NULL;
}

static void on_signal(int sig)
{
	uint32_t nest = rseqkit_slice_tls.nest;

	(void)sig;
	if (pthread_spin_trylock(&handler_lock) == 0) {
		if (preload_exact() && req() != 1)
			handler_bad++;
		pthread_spin_unlock(&handler_lock);
	}
	if (rseqkit_slice_tls.nest != nest)
		handler_bad++;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct worker w[NTHREADS] = { { 0 } };
	pthread_t th[NTHREADS];
	pthread_mutexattr_t a;
	long rounds = 0, bad = 0, wrong = 0;
	uint64_t t0;
	unsigned int seed = (unsigned int)time(NULL);

	(void)argc;
	preload_start(argv, seed & 1 ? "RSEQKIT_SLICE_LOCKS_READ=1" : NULL);
	read_side = getenv("RSEQKIT_SLICE_LOCKS_READ") != NULL;
	tap_diag("seed %u, read side %s", seed, read_side ? "on" : "off");
	pthread_mutexattr_init(&a);
	for (int i = 0; i < NLOCKS; i++) {
		struct lock *l = &locks[i];

		l->kind = (enum kind)(i % K_KINDS);
		pthread_mutexattr_settype(&a, l->kind == K_RECURSIVE ? PTHREAD_MUTEX_RECURSIVE :
					  l->kind == K_ERRORCHECK ? PTHREAD_MUTEX_ERRORCHECK :
					  PTHREAD_MUTEX_NORMAL);
		pthread_mutex_init(&l->m, &a);
		pthread_spin_init(&l->s, PTHREAD_PROCESS_PRIVATE);
		pthread_rwlock_init(&l->rw, NULL);
		pthread_cond_init(&l->cv, NULL);
	}
	pthread_spin_init(&handler_lock, PTHREAD_PROCESS_PRIVATE);
	sigaction(SIGUSR1, &sa, NULL);
	for (int i = 0; i < NTHREADS; i++) {
		w[i].seed = seed + (unsigned int)i * 7919U;
		pthread_create(&th[i], NULL, work, &w[i]);
	}
	t0 = tap_now_ns();
	while (tap_now_ns() - t0 < RUN_NS) {
		pthread_kill(th[rnd(&seed) % NTHREADS], SIGUSR1);
		sched_yield();
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < NTHREADS; i++) {
		pthread_join(th[i], NULL);
		rounds += w[i].rounds;
		bad += w[i].bad;
		for (int k = 0; k < NLOCKS; k++)
			expected[k] += w[i].done[k];
	}
	for (int k = 0; k < NLOCKS; k++)
		wrong += locks[k].counter != expected[k];
	tap_ok(rounds > 0 && bad == 0, "%ld rounds of random lock sets over %d threads: %ld wrong "
	       "request states", rounds, NTHREADS, bad);
	tap_ok(handler_bad == 0, "signal handlers locking meanwhile: %d faults", handler_bad);
	tap_ok(wrong == 0 && relock_bad == 0, "every lock still excludes: %ld counters off, %d "
	       "error-checking relocks not EDEADLK", wrong, relock_bad);
	tap_ok(clear(), "main thread cleared at the end");
	return tap_done();
}
