// SPDX-License-Identifier: MIT
/*
 * real.c - find the definitions the wrappers forward to.
 *
 * dlsym(RTLD_NEXT) gives the next definition in the lookup order (glibc's,
 * or another interposer's that comes after us), so interposers stack. Two
 * traps:
 *  - Versioned symbols. glibc keeps the pre-2.3.2 condition variables as
 *    pthread_cond_*@GLIBC_2.2.5 on x86_64; the current ones are
 *    @@GLIBC_2.3.2. The program references the current version, and our
 *    unversioned definitions satisfy it, so we must forward to the same
 *    version: dlvsym with the version name, dlsym only where the
 *    architecture has a single version.
 *  - Recursion. dlsym may allocate (dlerror state), and an allocator that
 *    locks with pthread_mutex_lock (tcmalloc, jemalloc) calls back into our
 *    wrappers before they know where to go. While this thread resolves,
 *    mutex and rwlock wrappers fall back to glibc's internal aliases
 *    (__pthread_mutex_lock, __pthread_mutex_init, ...), which need no
 *    lookup; the other wrapped functions are not called by dlsym or
 *    allocators.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "slicelocks.h"

struct slicelocks_real slicelocks_real;

/* glibc exports these aliases since 2.2.5 (libpthread, libc since 2.34). */
extern int __pthread_mutex_lock(pthread_mutex_t *);
extern int __pthread_mutex_trylock(pthread_mutex_t *);
extern int __pthread_mutex_unlock(pthread_mutex_t *);
extern int __pthread_rwlock_rdlock(pthread_rwlock_t *);
extern int __pthread_rwlock_tryrdlock(pthread_rwlock_t *);
extern int __pthread_rwlock_wrlock(pthread_rwlock_t *);
extern int __pthread_rwlock_trywrlock(pthread_rwlock_t *);
extern int __pthread_rwlock_unlock(pthread_rwlock_t *);
extern int __pthread_mutex_init(pthread_mutex_t *, const pthread_mutexattr_t *);
extern int __pthread_mutex_destroy(pthread_mutex_t *);
extern int __pthread_rwlock_init(pthread_rwlock_t *, const pthread_rwlockattr_t *);
extern int __pthread_rwlock_destroy(pthread_rwlock_t *);

#if defined(__x86_64__)
# define COND_VERSION "GLIBC_2.3.2"
#else
# define COND_VERSION NULL	/* one version only (aarch64: GLIBC_2.17) */
#endif

static __thread bool resolving __attribute__((tls_model("initial-exec")));

static void *next(const char *name, const char *version)
{
	void *p = NULL;

	if (version)
		p = dlvsym(RTLD_NEXT, name, version);
	if (!p)
		p = dlsym(RTLD_NEXT, name);
	return p;
}

static void *must(const char *name, const char *version)
{
	void *p = next(name, version);
	static const char msg[] = "rseqkit-slicelocks: cannot resolve a pthread function, "
				  "aborting: ";

	if (!p) {
		/* No stdio: we may be inside a lock stdio holds. */
		(void)!write(2, msg, sizeof(msg) - 1);
		(void)!write(2, name, __builtin_strlen(name));
		(void)!write(2, "\n", 1);
		abort();
	}
	return p;
}

#define SET(slot, name, version) \
	__atomic_store_n(&slicelocks_real.slot, \
			 (__typeof__(slicelocks_real.slot))must(name, version), __ATOMIC_RELAXED)
/* Functions glibc added later (clock*: 2.30); NULL when absent. */
#define SET_OPT(slot, name) \
	__atomic_store_n(&slicelocks_real.slot, \
			 (__typeof__(slicelocks_real.slot))next(name, NULL), __ATOMIC_RELAXED)

/*
 * Fill the table. Idempotent and thread-safe (each thread stores the same
 * values); a recursive call from inside dlsym on the same thread returns at
 * once, and the wrapper that triggered it uses the fallbacks below.
 */
void slicelocks_resolve(void)
{
	if (resolving)
		return;
	resolving = true;
	SET(mutex_trylock, "pthread_mutex_trylock", NULL);
	SET(mutex_unlock, "pthread_mutex_unlock", NULL);
	SET(mutex_timedlock, "pthread_mutex_timedlock", NULL);
	SET_OPT(mutex_clocklock, "pthread_mutex_clocklock");
	SET(mutex_init, "pthread_mutex_init", NULL);
	SET(mutex_destroy, "pthread_mutex_destroy", NULL);
	SET(spin_init, "pthread_spin_init", NULL);
	SET(spin_destroy, "pthread_spin_destroy", NULL);
	SET(rwlock_init, "pthread_rwlock_init", NULL);
	SET(rwlock_destroy, "pthread_rwlock_destroy", NULL);
	SET(spin_lock, "pthread_spin_lock", NULL);
	SET(spin_trylock, "pthread_spin_trylock", NULL);
	SET(spin_unlock, "pthread_spin_unlock", NULL);
	SET(rwlock_rdlock, "pthread_rwlock_rdlock", NULL);
	SET(rwlock_tryrdlock, "pthread_rwlock_tryrdlock", NULL);
	SET(rwlock_timedrdlock, "pthread_rwlock_timedrdlock", NULL);
	SET_OPT(rwlock_clockrdlock, "pthread_rwlock_clockrdlock");
	SET(rwlock_wrlock, "pthread_rwlock_wrlock", NULL);
	SET(rwlock_trywrlock, "pthread_rwlock_trywrlock", NULL);
	SET(rwlock_timedwrlock, "pthread_rwlock_timedwrlock", NULL);
	SET_OPT(rwlock_clockwrlock, "pthread_rwlock_clockwrlock");
	SET(rwlock_unlock, "pthread_rwlock_unlock", NULL);
	SET(cond_wait, "pthread_cond_wait", COND_VERSION);
	SET(cond_timedwait, "pthread_cond_timedwait", COND_VERSION);
	SET_OPT(cond_clockwait, "pthread_cond_clockwait");
	SET(mutex_lock, "pthread_mutex_lock", NULL);
	resolving = false;
}

/* The slow way to the real lock: while this thread fills the table (a
 * callback from inside dlsym), glibc's internal alias. */
#define DEFINE_SLOW(fn, type, fallback) \
int slicelocks_slow_##fn(type *l) \
{ \
	slicelocks_resolve(); \
	return slicelocks_real.fn ? slicelocks_real.fn(l) : fallback(l); \
}

DEFINE_SLOW(mutex_lock, pthread_mutex_t, __pthread_mutex_lock)
DEFINE_SLOW(mutex_trylock, pthread_mutex_t, __pthread_mutex_trylock)
DEFINE_SLOW(mutex_unlock, pthread_mutex_t, __pthread_mutex_unlock)
DEFINE_SLOW(rwlock_rdlock, pthread_rwlock_t, __pthread_rwlock_rdlock)
DEFINE_SLOW(rwlock_tryrdlock, pthread_rwlock_t, __pthread_rwlock_tryrdlock)
DEFINE_SLOW(rwlock_wrlock, pthread_rwlock_t, __pthread_rwlock_wrlock)
DEFINE_SLOW(rwlock_trywrlock, pthread_rwlock_t, __pthread_rwlock_trywrlock)
DEFINE_SLOW(rwlock_unlock, pthread_rwlock_t, __pthread_rwlock_unlock)
DEFINE_SLOW(mutex_destroy, pthread_mutex_t, __pthread_mutex_destroy)
DEFINE_SLOW(rwlock_destroy, pthread_rwlock_t, __pthread_rwlock_destroy)

/* Allocators initialize their mutexes from inside dlsym too. */
int slicelocks_slow_mutex_init(pthread_mutex_t *m, const pthread_mutexattr_t *a)
{
	slicelocks_resolve();
	return slicelocks_real.mutex_init ? slicelocks_real.mutex_init(m, a) :
	       __pthread_mutex_init(m, a);
}

int slicelocks_slow_rwlock_init(pthread_rwlock_t *l, const pthread_rwlockattr_t *a)
{
	slicelocks_resolve();
	return slicelocks_real.rwlock_init ? slicelocks_real.rwlock_init(l, a) :
	       __pthread_rwlock_init(l, a);
}

/* Any other slot: resolve; NULL only inside a recursive lookup (never seen:
 * dlsym and allocators use no spin locks, condition variables or timed
 * locks) or for a function this glibc lacks. */
void *slicelocks_slow(void *const *slot, const char *name)
{
	static const char msg[] = "rseqkit-slicelocks: called during symbol lookup, aborting: ";
	void *p;

	slicelocks_resolve();
	p = __atomic_load_n(slot, __ATOMIC_RELAXED);
	if (!p) {
		(void)!write(2, msg, sizeof(msg) - 1);
		(void)!write(2, name, __builtin_strlen(name));
		(void)!write(2, "\n", 1);
		abort();
	}
	return p;
}
