// SPDX-License-Identifier: MIT
/*
 * The interposer across a process's life (rseqkit-slicelocks(7)): threads
 * started before main and after, fork with and without a lock held (R5.2:
 * the child keeps the registration and its holds), exec (the preload and its
 * decision carry over, R5.3 resets the kernel state), and signal handlers
 * that take locks, at chosen points and at random points of lock/unlock.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <sched.h>
#include <time.h>

#include "preload.h"

static pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static int gate_open;
static bool early_ok;
static pthread_t early;

/* Locks twice, checks, reports: the per-thread first use path. */
static bool lock_cycle(void)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	bool ok = true;

	for (int i = 0; i < 2; i++) {
		pthread_mutex_lock(&m);
		ok = ok && raised();
		pthread_mutex_unlock(&m);
		ok = ok && clear();
	}
	return ok;
}

static void *early_thread(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&gate);
	while (!gate_open)
		pthread_cond_wait(&gate_cv, &gate);
	pthread_mutex_unlock(&gate);
	early_ok = lock_cycle();
	return NULL;
}

/* Started by a constructor, before main and before the test knows whether
 * it runs under the interposer; it waits, then locks. */
__attribute__((constructor)) static void start_early(void)
{
	if (getenv("RSEQKIT_TEST_PRELOADED"))
		pthread_create(&early, NULL, early_thread, NULL);
}

static void *late_thread(void *arg)
{
	*(bool *)arg = lock_cycle();
	return NULL;
}

static void threads(void)
{
	bool late_ok = false;
	pthread_t th;

	pthread_mutex_lock(&gate);
	gate_open = 1;
	pthread_cond_broadcast(&gate_cv);
	pthread_mutex_unlock(&gate);
	pthread_join(early, NULL);
	tap_ok(early_ok, "thread started before main: raised while holding, cleared after");
	pthread_create(&th, NULL, late_thread, &late_ok);
	pthread_join(th, NULL);
	tap_ok(late_ok, "thread started in main: raised while holding, cleared after");
}

static void forks(void)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	int status;
	pid_t pid;

	pthread_mutex_lock(&m);
	pid = fork();
	if (pid == 0) {
		bool ok = raised();

		pthread_mutex_unlock(&m);
		ok = ok && clear() && lock_cycle();
		_exit(ok ? 0 : 1);
	}
	pthread_mutex_unlock(&m);
	waitpid(pid, &status, 0);
	tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	       "fork with a lock held: the child holds it raised, its unlock clears");
	pid = fork();
	if (pid == 0)
		_exit(clear() && lock_cycle() ? 0 : 1);
	waitpid(pid, &status, 0);
	tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	       "fork without a lock: the child starts cleared and locks normally");
	tap_ok(clear() && lock_cycle(), "the parent after the forks: balanced");
}

static void execs(char **argv)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		char *args[] = { argv[0], "--exec-child", NULL };

		execv("/proc/self/exe", args);
		_exit(127);
	}
	waitpid(pid, &status, 0);
	tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	       "exec: the new program runs under the interposer, on, and balanced (%d)",
	       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

/* At least this many rounds, then until this many signals were handled (or 3 s). */
#define SIGNAL_ROUNDS_MIN 100000
#define SIGNAL_HANDLED 5000

static pthread_spinlock_t handler_lock;
static volatile int handler_bad, handler_runs;

/* A handler that takes a lock of its own: raised inside, the library's
 * nesting restored after. (The request byte itself may legitimately differ
 * after the handler when it interrupted the interposer between its count and
 * the byte store: the handler then stores the value the interrupted code was
 * about to store; the checks after each lock/unlock outside catch any state
 * that stays wrong.) */
static void on_signal(int sig)
{
	uint32_t nest = rseqkit_slice_tls.nest;

	(void)sig;
	handler_runs++;
	if (pthread_spin_trylock(&handler_lock) != 0)
		return;
	if (preload_exact() && req() != 1)
		handler_bad++;
	pthread_spin_unlock(&handler_lock);
	if (rseqkit_slice_tls.nest != nest)
		handler_bad++;
}

static void *pester(void *arg)
{
	pthread_t target = *(pthread_t *)arg;
	while (__atomic_load_n(&gate_open, __ATOMIC_RELAXED) != 2) {
		pthread_kill(target, SIGUSR1);
		sched_yield();
	}
	return NULL;
}

static void signals(void)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	struct sigaction sa = { .sa_handler = on_signal };
	pthread_t self = pthread_self(), th;
	uint64_t t0;
	long rounds;
	int bad = 0;

	pthread_spin_init(&handler_lock, PTHREAD_PROCESS_PRIVATE);
	sigaction(SIGUSR1, &sa, NULL);
	raise(SIGUSR1);
	tap_ok(handler_runs == 1 && handler_bad == 0 && clear(),
	       "handler taking a lock while nothing is held: cleared after it");
	pthread_mutex_lock(&m);
	raise(SIGUSR1);
	tap_ok(handler_bad == 0 && raised(), "handler taking a lock while a mutex is held: still raised");
	pthread_mutex_unlock(&m);
	tap_ok(clear(), "then the unlock clears");

	pthread_create(&th, NULL, pester, &self);
	t0 = tap_now_ns();
	for (rounds = 0; rounds < SIGNAL_ROUNDS_MIN || (handler_runs < SIGNAL_HANDLED &&
						      tap_now_ns() - t0 < 3000000000ULL); rounds++) {
		pthread_mutex_lock(&m);
		if (!raised())
			bad++;
		pthread_mutex_unlock(&m);
		if (!clear())
			bad++;
	}
	__atomic_store_n(&gate_open, 2, __ATOMIC_RELAXED);
	pthread_join(th, NULL);
	tap_ok(bad == 0 && handler_bad == 0,
	       "%ld lock/unlock with %d signals at random points, handlers locking: "
	       "%d wrong states outside, %d inside", rounds, handler_runs, bad, handler_bad);
	if (handler_runs < SIGNAL_HANDLED)
		tap_diag("only %d signals arrived in 3 s", handler_runs);
}

int main(int argc, char **argv)
{
	preload_start(argv, NULL);
	if (argc > 1 && !strcmp(argv[1], "--exec-child"))
		return rseqkit_slice_on && clear() && lock_cycle() ? 0 : 1;
	threads();
	forks();
	execs(argv);
	signals();
	return tap_done();
}
