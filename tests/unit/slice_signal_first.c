// SPDX-License-Identifier: MIT
/*
 * A thread's first time slice section inside a signal handler
 * (rseqkit/slice.h: async-signal-safe from the first call). The first
 * section of a thread takes a slow path (decision, registration, enabling);
 * it may only make system calls and use atomics: no pthread_once(),
 * pthread_setspecific(), pthread_key_create(), pthread_mutex_lock(), which
 * are not async-signal-safe. Expected: none of them is called while the
 * handler runs its first begin/end and enter/leave; inside the handler the
 * request is raised and then cleared; after it, the thread's own sections
 * work (raised inside, cleared after).
 *
 * The functions are interposed by this program (definitions that forward to
 * the next object's) and counted while the handler runs; where that does
 * not work, the program skips. The fast path is forced on
 * (rseqkit_slice_on = 1) in a process whose area is rseqkit's own, as the
 * benchmarks do, so the first-use path runs on kernels without extensions
 * too (a legacy kernel never reads the request byte, R3.5).
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <string.h>

#include <rseqkit/slice.h>
#include "ct_slice.h"
#include "tap.h"

static __thread int in_handler;
static int unsafe_calls;
static const char *unsafe_name;

/* The next definition: libc.so's (dynamic), or glibc's internal name in a
 * static program (where dlsym finds nothing). */
#define FORWARD(ret, name, params, args)					\
extern ret __##name params __attribute__((weak));				\
ret name params									\
{										\
	static ret (*real) params;						\
										\
	if (in_handler) {							\
		__atomic_fetch_add(&unsafe_calls, 1, __ATOMIC_RELAXED);		\
		unsafe_name = #name;						\
	}									\
	if (!real)								\
		*(void **)&real = dlsym(RTLD_NEXT, #name);			\
	if (!real)								\
		real = __##name;						\
	return real args;							\
}

FORWARD(int, pthread_once, (pthread_once_t *o, void (*f)(void)), (o, f))
FORWARD(int, pthread_setspecific, (pthread_key_t k, const void *v), (k, v))
FORWARD(int, pthread_key_create, (pthread_key_t *k, void (*d)(void *)), (k, d))
FORWARD(int, pthread_mutex_lock, (pthread_mutex_t *m), (m))

static sem_t ready, done;
static volatile int in_begin, after_end, in_enter, after_leave, own_in, own_after;
static volatile int handled;

/* Inside a section: the request is up, or a kernel with extensions on
 * already turned it into a grant (R6.4: an interrupt may come at any
 * instruction). */
static int raised(void)
{
	return ct_slice_ctrl(rseqkit_thread_area()) != 0;
}

static void handler(int sig)
{
	long t;

	(void)sig;
	in_handler = 1;
	rseqkit_slice_begin();
	in_begin = raised();
	rseqkit_slice_end();
	after_end = ct_request(rseqkit_thread_area());
	t = rseqkit_slice_enter();
	in_enter = raised();
	rseqkit_slice_leave(t);
	after_leave = ct_request(rseqkit_thread_area());
	in_handler = 0;
	handled = 1;
}

static void *thread(void *arg)
{
	long t;

	(void)arg;
	sem_post(&ready);
	while (sem_wait(&done))		/* the handler runs during this wait */
		;
	rseqkit_slice_begin();
	t = rseqkit_slice_enter();	/* nested: 0 */
	own_in = raised() && t == 0;
	rseqkit_slice_leave(t);
	own_in = own_in && raised();
	rseqkit_slice_end();
	own_after = ct_request(rseqkit_thread_area()) == 0;
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_once_t once = PTHREAD_ONCE_INIT;
	struct rseqkit_mode m;
	struct sigaction sa;
	pthread_t th;

	(void)argc;
	tap_reexec_without_glibc_rseq(argv);
	in_handler = 1;
	pthread_once(&once, (void (*)(void))sched_yield);
	in_handler = 0;
	if (unsafe_calls != 1)
		tap_skip_all("cannot interpose pthread_once here (static build?)");
	unsafe_calls = 0;
	unsafe_name = NULL;
	rseqkit_get_mode(&m);
	if (m.owner != RSEQKIT_OWNER_SELF)
		tap_skip_all("needs rseqkit's own registration (got %s)",
			     rseqkit_owner_name(m.owner));
	rseqkit_slice_init();
	rseqkit_slice_on = 1;	/* forced: the first-use path runs on any kernel */

	tap_plan(5);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sigaction(SIGUSR1, &sa, NULL);
	sem_init(&ready, 0, 0);
	sem_init(&done, 0, 0);
	pthread_create(&th, NULL, thread, NULL);
	while (sem_wait(&ready))
		;
	pthread_kill(th, SIGUSR1);
	while (!handled)
		sched_yield();
	sem_post(&done);
	pthread_join(th, NULL);
	tap_ok(unsafe_calls == 0, "a thread's first begin/end and enter/leave in a signal handler "
	       "call no pthread_once/setspecific/key_create/mutex_lock (%d calls, last %s)",
	       unsafe_calls, unsafe_name ? unsafe_name : "-");
	tap_ok(in_begin == 1 && after_end == 0, "in the handler: begin raises the request (or "
	       "it is granted), end clears it (%d, %d)", in_begin, after_end);
	tap_ok(in_enter == 1 && after_leave == 0, "in the handler: enter raises the request (or "
	       "it is granted), leave clears it (%d, %d)", in_enter, after_leave);
	tap_ok(own_in, "after the handler, the thread's begin raises, a nested enter returns 0 "
	       "and its leave keeps the request");
	tap_ok(own_after, "the thread's end clears the request");
	return tap_done();
}
