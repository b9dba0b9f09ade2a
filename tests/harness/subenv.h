/* SPDX-License-Identifier: MIT */
/*
 * subenv.h - run a test in several process environments (glibc-owned rseq,
 * rseqkit-owned, no rseq, ...). Each environment is this program re-executed
 * after a setup step (environment variables, a seccomp filter), so library
 * constructors run exactly as in a real program. The child reports cases with
 * subenv_ok(); the parent turns them into TAP cases, plus one case per
 * environment for the child's exit status.
 */
#ifndef RSEQKIT_SUBENV_H
#define RSEQKIT_SUBENV_H

#include <stdbool.h>

struct subenv {
	const char *name;
	/* In the forked child before exec; returns 0 or -errno. */
	int (*setup)(void);
	/* In the re-executed child. */
	void (*run)(void);
};

/* Ready-made setups. */
int subenv_setup_glibc(void);	/* default: glibc registers */
int subenv_setup_self(void);	/* GLIBC_TUNABLES=glibc.pthread.rseq=0 */
int subenv_setup_none(void);	/* seccomp: rseq(2) -> ENOSYS */

/* Call first in main(): in a child runs its environment and exits;
 * in the parent runs every environment and returns tap_done(). */
int subenv_main(int argc, char **argv, const struct subenv *envs, int n);

/* Child side: one case, one comment. */
void subenv_ok(bool cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void subenv_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* RSEQKIT_SUBENV_H */
