/* SPDX-License-Identifier: MIT */
/*
 * seccomp_norseq.h - simulate a kernel without rseq: a raw seccomp BPF filter
 * (no libseccomp) makes rseq(2) fail with ENOSYS for this process and every
 * program it execs. Install, then re-exec so glibc's own registration at
 * start-up fails too.
 */
#ifndef RSEQKIT_SECCOMP_NORSEQ_H
#define RSEQKIT_SECCOMP_NORSEQ_H

#include <stdbool.h>

/* 0, or -errno (the filter could not be installed). */
int seccomp_norseq_install(void);
/* Install the filter and re-exec argv with RSEQKIT_NORSEQ=1 unless that is
 * already set; returns true in the re-executed program, false on failure. */
bool seccomp_norseq_reexec(char **argv);
/* This program runs under the filter (RSEQKIT_NORSEQ=1 in the env). */
bool seccomp_norseq_active(void);

#endif /* RSEQKIT_SECCOMP_NORSEQ_H */
