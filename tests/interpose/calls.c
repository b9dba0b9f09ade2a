// SPDX-License-Identifier: MIT
/*
 * Every call librseqkit-slicelocks.so wraps (rseqkit-slicelocks(7)): a
 * successful acquisition raises the slice extension request, nested holds
 * keep it, the last release clears it; failed calls (EBUSY, ETIMEDOUT,
 * EDEADLK, EPERM, EINVAL) leave nothing behind; condition waits drop the
 * request while asleep and restore it with the mutex, cancellation included.
 */
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "preload.h"

static struct timespec in_ms(clockid_t clk, long ms)
{
	struct timespec t;

	clock_gettime(clk, &t);
	t.tv_nsec += ms * 1000000L;
	t.tv_sec += t.tv_nsec / 1000000000L;
	t.tv_nsec %= 1000000000L;
	return t;
}

static void mutexes(void)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER, n = PTHREAD_MUTEX_INITIALIZER;
	struct timespec t;
	int err;

	tap_ok(clear(), "before any lock: request 0");
	tap_ok(pthread_mutex_lock(&m) == 0 && raised(), "mutex_lock: request raised");
	tap_ok(pthread_mutex_lock(&n) == 0 && raised(), "second mutex: still one nesting level");
	tap_ok(pthread_mutex_unlock(&n) == 0 && raised(), "inner unlock: request kept");
	tap_ok(pthread_mutex_trylock(&m) == EBUSY && raised(), "trylock EBUSY on a held mutex: unchanged");
	tap_ok(pthread_mutex_unlock(&m) == 0 && clear(), "last unlock: request cleared");

	tap_ok(pthread_mutex_trylock(&m) == 0 && raised(), "mutex_trylock: request raised");
	tap_ok(pthread_mutex_unlock(&m) == 0 && clear(), "unlock after trylock: cleared");

	t = in_ms(CLOCK_REALTIME, 100);
	tap_ok(pthread_mutex_timedlock(&m, &t) == 0 && raised(), "mutex_timedlock: raised");
	t = in_ms(CLOCK_REALTIME, 1);
	err = pthread_mutex_timedlock(&n, &t);
	tap_ok(err == 0 && raised(), "nested timedlock: raised (%s)", tap_errno_name(err));
	pthread_mutex_unlock(&n);
	tap_ok(pthread_mutex_unlock(&m) == 0 && clear(), "unlock after timedlock: cleared");

	t = in_ms(CLOCK_MONOTONIC, 100);
	tap_ok(pthread_mutex_clocklock(&m, CLOCK_MONOTONIC, &t) == 0 && raised(),
	       "mutex_clocklock: raised");
	tap_ok(pthread_mutex_unlock(&m) == 0 && clear(), "unlock after clocklock: cleared");

	t.tv_sec = 0;
	t.tv_nsec = 2000000000L;	/* invalid */
	pthread_mutex_lock(&n);	/* make the lock contended so the timeout is looked at */
	pthread_mutex_unlock(&n);
	err = pthread_mutex_clocklock(&m, 12345, &t);
	tap_ok(err == EINVAL && clear(), "clocklock with a bad clock: EINVAL, nothing raised (%s)",
	       tap_errno_name(err));
}

struct holder {
	pthread_mutex_t *m;
	pthread_mutex_t go;
	pthread_cond_t cv;
	int state;	/* 1 holding, 2 told to release */
};

static void *hold_until_told(void *arg)
{
	struct holder *h = arg;

	pthread_mutex_lock(h->m);
	pthread_mutex_lock(&h->go);
	h->state = 1;
	pthread_cond_broadcast(&h->cv);
	while (h->state != 2)
		pthread_cond_wait(&h->cv, &h->go);
	pthread_mutex_unlock(&h->go);
	pthread_mutex_unlock(h->m);
	return NULL;
}

static void contended_failures(void)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	struct holder h = { &m, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 };
	struct timespec t;
	pthread_t th;
	int e1, e2, e3;

	pthread_create(&th, NULL, hold_until_told, &h);
	pthread_mutex_lock(&h.go);
	while (h.state != 1)
		pthread_cond_wait(&h.cv, &h.go);
	pthread_mutex_unlock(&h.go);
	tap_ok(clear(), "cond_wait returned and mutex released: cleared");
	e1 = pthread_mutex_trylock(&m);
	t = in_ms(CLOCK_REALTIME, 20);
	e2 = pthread_mutex_timedlock(&m, &t);
	t = in_ms(CLOCK_MONOTONIC, 20);
	e3 = pthread_mutex_clocklock(&m, CLOCK_MONOTONIC, &t);
	tap_ok(e1 == EBUSY && e2 == ETIMEDOUT && e3 == ETIMEDOUT && clear(),
	       "held elsewhere: trylock EBUSY, timedlock/clocklock ETIMEDOUT, nothing raised "
	       "(%s %s %s)", tap_errno_name(e1), tap_errno_name(e2), tap_errno_name(e3));
	/* A mutex another thread locked: our unlock must not unbalance us. */
	pthread_mutex_lock(&h.go);
	h.state = 2;
	pthread_cond_broadcast(&h.cv);
	pthread_mutex_unlock(&h.go);
	pthread_join(th, NULL);
	tap_ok(clear(), "after the handshake: cleared");
}

static void kinds(void)
{
	pthread_mutexattr_t a;
	pthread_mutex_t r, e;
	int err;

	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&r, &a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
	pthread_mutex_init(&e, &a);

	pthread_mutex_lock(&r);
	pthread_mutex_lock(&r);
	tap_ok(pthread_mutex_trylock(&r) == 0 && raised(), "recursive x3: raised");
	pthread_mutex_unlock(&r);
	pthread_mutex_unlock(&r);
	tap_ok(raised(), "recursive: 2 of 3 unlocks: still raised");
	tap_ok(pthread_mutex_unlock(&r) == 0 && clear(), "recursive: third unlock clears");

	tap_ok(pthread_mutex_lock(&e) == 0 && raised(), "errorcheck lock: raised");
	err = pthread_mutex_lock(&e);
	tap_ok(err == EDEADLK && raised(), "errorcheck relock: EDEADLK, one hold (%s)",
	       tap_errno_name(err));
	tap_ok(pthread_mutex_unlock(&e) == 0 && clear(), "errorcheck unlock: cleared");
	err = pthread_mutex_unlock(&e);
	tap_ok(err == EPERM && clear(), "errorcheck unlock when not owner: EPERM, no underflow (%s)",
	       tap_errno_name(err));
	tap_ok(pthread_mutex_lock(&e) == 0 && raised() && pthread_mutex_unlock(&e) == 0 && clear(),
	       "errorcheck: balanced afterwards");
	pthread_mutex_destroy(&r);
	pthread_mutex_destroy(&e);
	pthread_mutexattr_destroy(&a);
}

/* A held lock re-initialized or destroyed (an atfork child handler that
 * resets its mutex) no longer counts; deep nesting past the per-thread table
 * stays balanced. */
static void reinit_and_depth(void)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER, many[40];
	pthread_spinlock_t s;
	pthread_rwlock_t l = PTHREAD_RWLOCK_INITIALIZER;

	pthread_mutex_lock(&m);
	tap_ok(pthread_mutex_init(&m, NULL) == 0 && clear(),
	       "mutex_init on a held mutex: its hold is forgotten, cleared");
	pthread_spin_init(&s, PTHREAD_PROCESS_PRIVATE);
	pthread_spin_lock(&s);
	tap_ok(pthread_spin_init(&s, PTHREAD_PROCESS_PRIVATE) == 0 && clear(),
	       "spin_init on a held spin lock: cleared");
	pthread_rwlock_wrlock(&l);
	tap_ok(pthread_rwlock_init(&l, NULL) == 0 && clear(), "rwlock_init on a held rwlock: cleared");
	pthread_mutex_lock(&m);
	pthread_spin_lock(&s);
	pthread_spin_unlock(&s);
	tap_ok(pthread_spin_destroy(&s) == 0 && raised(), "destroying an unheld lock: other holds kept");
	pthread_mutex_unlock(&m);
	tap_ok(clear(), "then the unlock clears");

	for (int i = 0; i < 40; i++) {
		pthread_mutex_init(&many[i], NULL);
		pthread_mutex_lock(&many[i]);
	}
	tap_ok(raised(), "40 mutexes held (past the 32-entry table): raised");
	for (int i = 0; i < 39; i++)
		pthread_mutex_unlock(&many[i]);
	tap_ok(raised(), "39 released in taking order: still raised");
	pthread_mutex_unlock(&many[39]);
	tap_ok(clear(), "the 40th: cleared");
	for (int i = 0; i < 40; i++)
		pthread_mutex_destroy(&many[i]);
	pthread_rwlock_destroy(&l);
}

static void spins(void)
{
	pthread_spinlock_t s;

	pthread_spin_init(&s, PTHREAD_PROCESS_PRIVATE);
	tap_ok(pthread_spin_lock(&s) == 0 && raised(), "spin_lock: raised");
	tap_ok(pthread_spin_trylock(&s) == EBUSY && raised(), "spin_trylock EBUSY: unchanged");
	tap_ok(pthread_spin_unlock(&s) == 0 && clear(), "spin_unlock: cleared");
	tap_ok(pthread_spin_trylock(&s) == 0 && raised(), "spin_trylock: raised");
	tap_ok(pthread_spin_unlock(&s) == 0 && clear(), "spin_unlock after trylock: cleared");
	pthread_spin_destroy(&s);
}

static void rwlocks(bool read_side)
{
	pthread_rwlock_t l = PTHREAD_RWLOCK_INITIALIZER, l2 = PTHREAD_RWLOCK_INITIALIZER;
	struct timespec t;
	int err;

	tap_ok(pthread_rwlock_wrlock(&l) == 0 && raised(), "rwlock_wrlock: raised");
	err = pthread_rwlock_wrlock(&l);
	tap_ok(err == EDEADLK && raised(), "rwlock_wrlock again: EDEADLK, one hold (%s)",
	       tap_errno_name(err));
	tap_ok(pthread_rwlock_tryrdlock(&l) == EBUSY && raised(), "tryrdlock while writing: EBUSY");
	tap_ok(pthread_rwlock_unlock(&l) == 0 && clear(), "rwlock_unlock (write): cleared");
	tap_ok(pthread_rwlock_trywrlock(&l) == 0 && raised(), "rwlock_trywrlock: raised");
	tap_ok(pthread_rwlock_unlock(&l) == 0 && clear(), "unlock: cleared");
	t = in_ms(CLOCK_REALTIME, 100);
	tap_ok(pthread_rwlock_timedwrlock(&l, &t) == 0 && raised(), "rwlock_timedwrlock: raised");
	tap_ok(pthread_rwlock_unlock(&l) == 0 && clear(), "unlock: cleared");
	t = in_ms(CLOCK_MONOTONIC, 100);
	tap_ok(pthread_rwlock_clockwrlock(&l, CLOCK_MONOTONIC, &t) == 0 && raised(),
	       "rwlock_clockwrlock: raised");
	tap_ok(pthread_rwlock_unlock(&l) == 0 && clear(), "unlock: cleared");

	/* Read side: a hold only with RSEQKIT_SLICE_LOCKS_READ=1. */
	tap_ok(pthread_rwlock_rdlock(&l) == 0 && (read_side ? raised() : clear()),
	       "rwlock_rdlock: %s", read_side ? "raised (read side on)" : "not raised (read side off)");
	tap_ok(pthread_rwlock_tryrdlock(&l) == 0 && (read_side ? raised() : clear()),
	       "rwlock_tryrdlock (second reader): same");
	t = in_ms(CLOCK_REALTIME, 100);
	tap_ok(pthread_rwlock_timedrdlock(&l, &t) == 0, "rwlock_timedrdlock");
	t = in_ms(CLOCK_MONOTONIC, 100);
	tap_ok(pthread_rwlock_clockrdlock(&l, CLOCK_MONOTONIC, &t) == 0, "rwlock_clockrdlock");
	tap_ok(pthread_rwlock_wrlock(&l2) == 0 && raised(), "a writer inside readers: raised");
	for (int i = 0; i < 4; i++)
		pthread_rwlock_unlock(&l);
	tap_ok(raised(), "4 read unlocks while writing l2: still raised");
	tap_ok(pthread_rwlock_unlock(&l2) == 0 && clear(), "write unlock of l2: cleared");
	pthread_rwlock_destroy(&l);
	pthread_rwlock_destroy(&l2);
}

struct waiter {
	pthread_mutex_t m;
	pthread_cond_t cv;
	int phase;
	struct rseqkit_abi_rseq *area;	/* the waiter's, read by the main thread */
	bool ok_before, ok_after, ok_cleanup;
	int kind;	/* 0 wait, 1 timedwait, 2 clockwait */
};

static void *wait_once(void *arg)
{
	struct waiter *w = arg;
	struct timespec t;
	int err = 0;

	pthread_mutex_lock(&w->m);
	w->area = rseqkit_thread_area();
	w->ok_before = raised();
	w->phase = 1;
	pthread_cond_broadcast(&w->cv);
	while (w->phase != 2 && !err) {
		if (w->kind == 0) {
			err = pthread_cond_wait(&w->cv, &w->m);
		} else if (w->kind == 1) {
			t = in_ms(CLOCK_REALTIME, 5000);
			err = pthread_cond_timedwait(&w->cv, &w->m, &t);
		} else {
			t = in_ms(CLOCK_MONOTONIC, 5000);
			err = pthread_cond_clockwait(&w->cv, &w->m, CLOCK_MONOTONIC, &t);
		}
	}
	w->ok_after = raised() && err == 0;
	pthread_mutex_unlock(&w->m);
	w->ok_after = w->ok_after && clear();
	return NULL;
}

static void conds(void)
{
	static const char *names[] = { "cond_wait", "cond_timedwait", "cond_clockwait" };
	struct timespec t;

	for (int kind = 0; kind < 3; kind++) {
		struct waiter w = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, NULL,
				    false, false, false, kind };
		uint8_t asleep;
		pthread_t th;

		pthread_create(&th, NULL, wait_once, &w);
		pthread_mutex_lock(&w.m);
		while (w.phase != 1)
			pthread_cond_wait(&w.cv, &w.m);
		/* We hold the mutex, so the waiter is inside the wait. */
		asleep = *(volatile uint8_t *)&w.area->slice_ctrl.s.request;
		w.phase = 2;
		pthread_cond_broadcast(&w.cv);
		pthread_mutex_unlock(&w.m);
		pthread_join(th, NULL);
		tap_ok(w.ok_before && asleep == 0 && w.ok_after,
		       "%s: raised with the mutex, 0 while asleep, raised after, cleared by the "
		       "unlock (before %d asleep %u after %d)", names[kind], w.ok_before,
		       asleep, w.ok_after);
	}

	/* A timeout returns with the mutex held: the hold is back. */
	{
		pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
		pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
		int err;

		pthread_mutex_lock(&m);
		t = in_ms(CLOCK_REALTIME, 5);
		err = pthread_cond_timedwait(&cv, &m, &t);
		tap_ok(err == ETIMEDOUT && raised(), "cond_timedwait ETIMEDOUT: raised again (%s)",
		       tap_errno_name(err));
		t = in_ms(CLOCK_MONOTONIC, 5);
		err = pthread_cond_clockwait(&cv, &m, CLOCK_MONOTONIC, &t);
		tap_ok(err == ETIMEDOUT && raised(), "cond_clockwait ETIMEDOUT: raised again (%s)",
		       tap_errno_name(err));
		tap_ok(pthread_mutex_unlock(&m) == 0 && clear(), "unlock: cleared");
	}
}

/* Cancellation inside a wait: glibc re-acquires the mutex before the cleanup
 * handlers run; the one that unlocks must see the hold restored. */
static struct waiter cw = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, NULL,
			    false, false, false, 0 };

static void unlock_cleanup(void *arg)
{
	(void)arg;
	cw.ok_cleanup = raised();
	pthread_mutex_unlock(&cw.m);
	cw.ok_after = clear();
}

static void *wait_cancelled(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&cw.m);
	cw.phase = 1;
	pthread_cleanup_push(unlock_cleanup, NULL);
	for (;;)
		pthread_cond_wait(&cw.cv, &cw.m);
	pthread_cleanup_pop(1);
	return NULL;
}

static void cancel(void)
{
	pthread_t th;

	pthread_create(&th, NULL, wait_cancelled, NULL);
	for (;;) {
		pthread_mutex_lock(&cw.m);
		if (cw.phase == 1)
			break;
		pthread_mutex_unlock(&cw.m);
		usleep(1000);
	}
	pthread_mutex_unlock(&cw.m);
	pthread_cancel(th);
	pthread_join(th, NULL);
	tap_ok(cw.ok_cleanup && cw.ok_after,
	       "cancelled cond_wait: raised in the cleanup handler (%d), cleared by its unlock (%d)",
	       cw.ok_cleanup, cw.ok_after);
}

int main(int argc, char **argv)
{
	bool read_side;

	(void)argc;
#ifdef CALLS_EXTRA_ENV
	preload_start(argv, CALLS_EXTRA_ENV);
#else
	preload_start(argv, NULL);
#endif
	read_side = getenv("RSEQKIT_SLICE_LOCKS_READ") &&
		    !strcmp(getenv("RSEQKIT_SLICE_LOCKS_READ"), "1");
	tap_diag("read side %s", read_side ? "on" : "off");
	mutexes();
	contended_failures();
	kinds();
	reinit_and_depth();
	spins();
	rwlocks(read_side);
	conds();
	cancel();
	return tap_done();
}
