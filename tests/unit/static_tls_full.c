// SPDX-License-Identifier: MIT
/*
 * dlopen() of librseqkit.so into a nearly full static TLS. glibc places a
 * dlopen()ed library's initial-exec TLS in its small static TLS surplus and
 * refuses the dlopen() when the block does not fit. Expected (the library's
 * promise, rseqkit/thread.h and tests/unit/static_tls.c): with room for its
 * block (at most 128 bytes) the library loads, rseqkit_init() and a
 * thread's registration succeed; without it dlopen() fails with dlerror()
 * naming static TLS, and nothing of the library stays loaded - never a
 * crash.
 *
 * The surplus is filled with copies of a test-only object holding one
 * 16-byte initial-exec block (tests/lib/tls_filler.c), under the smallest
 * surplus glibc offers (glibc.rtld.optional_static_tls=0). Static TLS is
 * never given back, so each step runs in a child of its own: count how many
 * copies fit, then fill all but ROOM bytes and load the library, then fill
 * them all and load it. Host build only (a static program has no dlopen).
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"

#define TUNABLE		"glibc.rtld.optional_static_tls=0"
#define FILLER_BYTES	16	/* tests/lib/tls_filler.c */
/* Left free in the "room" step: the library's block (at most 128 bytes,
 * tests/unit/static_tls.c) at its 64-byte alignment, with a margin. */
#define ROOM		256
#define MAX_FILLERS	4096

/* Exit codes of a loading child. */
enum outcome {
	LOADED_OK = 0,		/* loaded; init and register -> 0 */
	REFUSED_TLS = 1,	/* dlopen failed naming static TLS, nothing left loaded */
	LOADED_BROKEN = 2,	/* loaded, but init or register failed */
	REFUSED_OTHER = 3,	/* failed for another reason, or half loaded */
	SETUP_FAILED = 4,	/* fewer fillers fit than the count said */
};

static tap_dlopen_fn open_fn;
static char lib[PATH_MAX], filler[PATH_MAX], tmpdir[] = "/tmp/rseqkit-tlsfull-XXXXXX";
static int nr_copies;

/* Copy n of the filler (a distinct file: the loader maps it anew). */
static int make_copy(int n, char *path, size_t len)
{
	char buf[8192];
	int in, out;
	ssize_t r;

	snprintf(path, len, "%s/fill-%d.so", tmpdir, n);
	if (n < nr_copies)
		return 0;
	in = open(filler, O_RDONLY);
	out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	if (in < 0 || out < 0)
		return -1;
	while ((r = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)r) != r)
			r = -1;
	close(in);
	close(out);
	nr_copies = n + 1;
	return r < 0 ? -1 : 0;
}

/* Load fillers 0..max-1; returns how many loaded, *err the first refusal. */
static int fill(int max, char *err, size_t len)
{
	char path[PATH_MAX];

	err[0] = 0;
	for (int i = 0; i < max; i++) {
		if (make_copy(i, path, sizeof(path)))
			return -1;
		if (!open_fn(path, RTLD_NOW | RTLD_LOCAL)) {
			const char *e = dlerror();

			snprintf(err, len, "%s", e ? e : "(no dlerror)");
			return i;
		}
	}
	return max;
}

/* Child: load exactly n fillers, then the library; exit with the outcome
 * and write dlerror()'s text to fd. */
static int load_child(void *arg, int fd)
{
	int n = *(int *)arg;
	int (*init)(void), (*reg)(void);
	char err[512];
	void *h;

	if (fill(n, err, sizeof(err)) != n) {
		dprintf(fd, "filler refused: %s", err);
		return SETUP_FAILED;
	}
	h = open_fn(lib, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		const char *e = dlerror();
		bool tls, half;

		/* The text lives until the next dl call: copy it first. */
		snprintf(err, sizeof(err), "%s", e ? e : "(no dlerror)");
		tls = strstr(err, "static TLS") != NULL;
		half = open_fn(lib, RTLD_NOW | RTLD_NOLOAD) != NULL;
		dprintf(fd, "%s%s", err, half ? " (and RTLD_NOLOAD finds it)" : "");
		return tls && !half ? REFUSED_TLS : REFUSED_OTHER;
	}
	init = (int (*)(void))dlsym(h, "rseqkit_init");
	reg = (int (*)(void))dlsym(h, "rseqkit_thread_register");
	return init && reg && init() == 0 && reg() == 0 ? LOADED_OK : LOADED_BROKEN;
}

/* Run load_child(n) in a child; returns its exit code (-1: it crashed),
 * *msg its text. */
static int run_load(int n, char *msg, size_t len)
{
	struct tap_child c;

	if (tap_fork_text(load_child, &n, 60000, &c, msg, len))
		tap_bail("fork: %s", strerror(errno));
	return c.exited ? c.code : -1;
}

/* Child: how many fillers fit; writes "N error" to fd. */
static int count_child(void *arg, int fd)
{
	char err[512];
	int n = fill(MAX_FILLERS, err, sizeof(err));

	(void)arg;
	dprintf(fd, "%d %s", n, err);
	return 0;
}

static const char *outcome_name(int o)
{
	switch (o) {
	case LOADED_OK: return "loaded, init and register -> 0";
	case REFUSED_TLS: return "refused naming static TLS, nothing loaded";
	case LOADED_BROKEN: return "loaded, but init or register failed";
	case REFUSED_OTHER: return "refused otherwise, or half loaded";
	case SETUP_FAILED: return "the fillers did not load again";
	default: return "crashed";
	}
}

int main(int argc, char **argv)
{
	char msg[600], err[512];
	struct tap_child c;
	int n = -1, o;

	(void)argc;
	open_fn = tap_build_lib("librseqkit.so", lib, sizeof(lib));
	/* <O>/lib/librseqkit.so -> <O>/tests/lib/libtlsfill.so */
	snprintf(filler, sizeof(filler), "%.*s/tests/lib/libtlsfill.so",
		 (int)(strlen(lib) - strlen("/lib/librseqkit.so")), lib);
	if (access(filler, R_OK))
		tap_skip_all("no %s (host build)", filler);
	/* Smallest surplus; rseqkit's own registration (its area used). */
	tap_reexec_with_tunables(argv, "glibc.pthread.rseq=0:" TUNABLE);
	if (!mkdtemp(tmpdir))
		tap_bail("mkdtemp: %s", strerror(errno));

	tap_plan(3);
	if (tap_fork_text(count_child, NULL, 60000, &c, msg, sizeof(msg)))
		tap_bail("fork: %s", strerror(errno));
	err[0] = 0;
	if (sscanf(msg, "%d %511[^\n]", &n, err) < 1)
		n = -1;
	tap_ok(n > ROOM / FILLER_BYTES && n < MAX_FILLERS && strstr(err, "static TLS"),
	       "static TLS fills up: %d blocks of %d bytes fit, the next is refused (\"%s\")",
	       n, FILLER_BYTES, err);
	if (n <= ROOM / FILLER_BYTES || n >= MAX_FILLERS) {
		tap_skip("cannot fill static TLS here: no nearly-full case");
		tap_skip("cannot fill static TLS here: no full case");
	} else {
		/* Make every copy once, here, so the children only load. */
		nr_copies = 0;
		for (int i = 0; i < n; i++)
			if (make_copy(i, msg, sizeof(msg)))
				tap_bail("copy of the filler: %s", strerror(errno));
		o = run_load(n - ROOM / FILLER_BYTES, msg, sizeof(msg));
		tap_ok(o == LOADED_OK, "nearly full (%d bytes left): librseqkit.so loads and "
		       "registers a thread: %s %s", ROOM, outcome_name(o), msg);
		o = run_load(n, msg, sizeof(msg));
		tap_ok(o == REFUSED_TLS, "full (under %d bytes left): dlopen(librseqkit.so) "
		       "fails naming static TLS, nothing half loaded: %s (\"%s\")",
		       FILLER_BYTES, outcome_name(o), msg);
	}
	for (int i = 0; i < nr_copies; i++) {
		snprintf(msg, sizeof(msg), "%s/fill-%d.so", tmpdir, i);
		unlink(msg);
	}
	rmdir(tmpdir);
	return tap_done();
}
