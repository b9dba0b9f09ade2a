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

static tap_dlopen_fn open_fn;
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
	char lib[PATH_MAX];
	int (*init)(void), (*reg)(void);
	void *h;

	(void)argc;
	open_fn = tap_build_lib("librseqkit.so", lib, sizeof(lib));
	/* Smallest surplus, and rseqkit's own registration (its area in use). */
	tap_reexec_with_tunables(argv, "glibc.pthread.rseq=0:" TUNABLE);

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
