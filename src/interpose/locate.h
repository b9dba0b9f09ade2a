/* SPDX-License-Identifier: MIT */
/*
 * locate.h - where `rseqkit run --slice-locks` and the interposer tests find
 * librseqkit-slicelocks.so, and whether glibc registers a V2 area itself.
 * Header-only: both are programs of their own, not users of the interposer.
 */
#ifndef RSEQKIT_SLICELOCKS_LOCATE_H
#define RSEQKIT_SLICELOCKS_LOCATE_H

#include <gnu/libc-version.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SLICELOCKS_SO "librseqkit-slicelocks.so"

/*
 * The interposer's path: GIVEN if not NULL, else $RSEQKIT_SLICELOCKS, else
 * REL (a directory relative to the running program's, "../lib" for the
 * installed rseqkit, "../../lib" for a test in the build tree) and the file
 * name. NULL if the program's own path is unknown or the result too long;
 * whether the file exists is the caller's question.
 */
static inline const char *slicelocks_locate(const char *given, const char *rel)
{
	static char path[PATH_MAX];
	char self[PATH_MAX];
	ssize_t n;
	char *slash;

	if (!given)
		given = getenv("RSEQKIT_SLICELOCKS");
	if (given)
		return given;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return NULL;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (!slash)
		return NULL;
	*slash = '\0';
	if (snprintf(path, sizeof(path), "%s/%s/" SLICELOCKS_SO, self, rel) >= (int)sizeof(path))
		return NULL;
	return path;
}

/* glibc >= 2.41 registers a V2 area by itself (R7). */
static inline bool slicelocks_glibc_registers_v2(void)
{
	int major = 0, minor = 0;

	if (sscanf(gnu_get_libc_version(), "%d.%d", &major, &minor) != 2)
		return false;
	return major > 2 || (major == 2 && minor >= 41);
}

#endif /* RSEQKIT_SLICELOCKS_LOCATE_H */
