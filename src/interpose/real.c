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

/* glibc exports the internal aliases since 2.2.5 (libpthread, libc since 2.34). */
#define ALIAS_ALIASED(slot, params) extern int __pthread_##slot params;
#define ALIAS_MUST(slot, params)
#define ALIAS_VERSIONED(slot, params)
#define ALIAS_OPTIONAL(slot, params)
#define DECLARE_ALIAS(slot, how, params, args) ALIAS_##how(slot, params)
SLICELOCKS_FUNCS(DECLARE_ALIAS)

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

#define STORE(slot, p) \
	__atomic_store_n(&slicelocks_real.slot, (__typeof__(slicelocks_real.slot))(p), \
			 __ATOMIC_RELAXED)
#define RESOLVE_ALIASED(slot)	STORE(slot, must("pthread_" #slot, NULL))
#define RESOLVE_MUST(slot)	STORE(slot, must("pthread_" #slot, NULL))
#define RESOLVE_VERSIONED(slot)	STORE(slot, must("pthread_" #slot, COND_VERSION))
#define RESOLVE_OPTIONAL(slot)	STORE(slot, next("pthread_" #slot, NULL))
#define RESOLVE(slot, how, params, args) RESOLVE_##how(slot);

/*
 * Fill the table. Idempotent and thread-safe (each thread stores the same
 * values); a recursive call from inside dlsym on the same thread returns at
 * once, and the wrapper that triggered it uses the aliases below.
 */
void slicelocks_resolve(void)
{
	if (resolving)
		return;
	resolving = true;
	SLICELOCKS_FUNCS(RESOLVE)
	resolving = false;
}

/* The slow way to the real lock: while this thread fills the table (a
 * callback from inside dlsym, or an allocator initializing its mutexes
 * there), glibc's internal alias. */
#define SLOW_ALIASED(slot, params, args) \
int slicelocks_slow_##slot params \
{ \
	slicelocks_resolve(); \
	return slicelocks_real.slot ? slicelocks_real.slot args : __pthread_##slot args; \
}
#define SLOW_MUST(slot, params, args)
#define SLOW_VERSIONED(slot, params, args)
#define SLOW_OPTIONAL(slot, params, args)
#define DEFINE_SLOW(slot, how, params, args) SLOW_##how(slot, params, args)
SLICELOCKS_FUNCS(DEFINE_SLOW)

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
