/* SPDX-License-Identifier: MIT */
/*
 * envrun.h - run a test body in the three environments a process can be in:
 *   glibc  glibc registered rseq (the default),
 *   self   glibc told not to (GLIBC_TUNABLES=glibc.pthread.rseq=0): rseqkit
 *          registers its own area, lazily per thread,
 *   none   rseq(2) fails with ENOSYS (seccomp filter installed before the
 *          re-exec, so glibc's registration fails too): the fallbacks.
 * Each environment is a re-executed child that prints TAP with the normal
 * tap_*() calls; the parent relays every case prefixed with "[env] ".
 *
 *   prog                    all three environments
 *   prog --env NAME [ARGS]  one environment, in this process (debugging)
 *   prog --only NAME        the parent runs only that environment
 * Extra arguments after the program name (e.g. --long) are passed to the
 * children and to body() in argv.
 */
#ifndef RSEQKIT_ENVRUN_H
#define RSEQKIT_ENVRUN_H

#include <stdbool.h>

typedef void (*envrun_body)(const char *env, int argc, char **argv);

/* Returns the exit status for main(). */
int envrun_main(int argc, char **argv, envrun_body body);

/*
 * Same, plus extra environments, each "NAME:BASE:VAR=VALUE": a child set up
 * like BASE (glibc, self or none) with VAR=VALUE in its environment, whose
 * body sees env NAME. The list ends with NULL.
 */
int envrun_main_extra(int argc, char **argv, envrun_body body, const char *const *extra);

/* The environment of the calling (child) process: "glibc", "self", "none". */
const char *envrun_env(void);
/* True if argv has the argument arg. */
bool envrun_has_arg(int argc, char **argv, const char *arg);

#endif /* RSEQKIT_ENVRUN_H */
