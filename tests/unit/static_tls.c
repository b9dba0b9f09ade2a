// SPDX-License-Identifier: MIT
/*
 * librseqkit.so's static TLS (rseqkit/thread.h): a dlopen()ed library takes
 * its initial-exec TLS from glibc's small surplus, and it is reserved even
 * when glibc owns the registration. Expected: the library's TLS block is at
 * most 128 bytes (its 64-byte area and a few per-thread words; 142 bytes at
 * 64-byte alignment before), and dlopen() with the smallest surplus glibc
 * offers (GLIBC_TUNABLES=glibc.rtld.optional_static_tls=0) either works -
 * rseqkit_init() then succeeds and a thread registers - or fails with
 * dlerror() naming static TLS: never a crash, never a half-loaded library.
 * Reaches build/lib/librseqkit.so through dlopen only; static builds skip.
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"

#define TLS_MAX 128
#define TUNABLE "glibc.rtld.optional_static_tls=0"

static void *(*open_fn)(const char *, int);
static long tls_memsz = -1;

static int find_tls(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	if (!strstr(info->dlpi_name, (const char *)arg))
		return 0;
	for (int i = 0; i < info->dlpi_phnum; i++)
		if (info->dlpi_phdr[i].p_type == PT_TLS)
			tls_memsz = (long)info->dlpi_phdr[i].p_memsz;
	return 1;
}

int main(int argc, char **argv)
{
	char self[PATH_MAX - 32], lib[PATH_MAX];
	const char *t = getenv("GLIBC_TUNABLES");
	int (*init)(void), (*reg)(void);
	ssize_t n;
	void *h;

	(void)argc;
	*(void **)&open_fn = dlsym(RTLD_DEFAULT, "dlopen");
	if (!open_fn)
		tap_skip_all("static build: no dlopen()");
	if (!t || !strstr(t, TUNABLE)) {
		/* Smallest surplus, and rseqkit's own registration (its area in
		 * use). */
		setenv("GLIBC_TUNABLES", "glibc.pthread.rseq=0:" TUNABLE, 1);
		execv("/proc/self/exe", argv);
		tap_bail("re-exec: %s", strerror(errno));
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		tap_skip_all("cannot read /proc/self/exe");
	self[n] = 0;
	for (int up = 0; up < 3; up++)	/* <O>/tests/unit/x -> <O> */
		*strrchr(self, '/') = 0;
	snprintf(lib, sizeof(lib), "%s/lib/librseqkit.so", self);
	if (access(lib, R_OK))
		tap_skip_all("no shared library at %s", lib);

	tap_plan(3);
	h = open_fn(lib, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		const char *e = dlerror();

		tap_ok(e && strstr(e, "static TLS"), "dlopen with " TUNABLE " fails with an error "
		       "naming static TLS (\"%s\")", e ? e : "");
		tap_skip("not loaded: no TLS block to measure");
		tap_skip("not loaded: nothing to register");
		return tap_done();
	}
	tap_ok(true, "dlopen with " TUNABLE " works");
	dl_iterate_phdr(find_tls, "librseqkit.so");
	tap_ok(tls_memsz > 0 && tls_memsz <= TLS_MAX, "the library's static TLS block is %ld "
	       "bytes (at most %d)", tls_memsz, TLS_MAX);
	init = (int (*)(void))dlsym(h, "rseqkit_init");
	reg = (int (*)(void))dlsym(h, "rseqkit_thread_register");
	tap_ok(init && reg && init() == 0 && reg() == 0, "rseqkit_init() and "
	       "rseqkit_thread_register() -> 0 in the library loaded there");
	return tap_done();
}
