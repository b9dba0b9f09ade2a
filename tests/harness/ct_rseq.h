/* SPDX-License-Identifier: MIT */
/*
 * ct_rseq.h - helpers of the conformance suite (tests/conformance/): raw
 * rseq(2) registrations on self-allocated areas, a real critical section
 * (x86_64, aarch64) with a busy loop inside, and thread/CPU plumbing.
 *
 * Conformance tests never use librseqkit's registration; they own their
 * areas and registrations (HACKING.md "Tests").
 */
#ifndef RSEQKIT_CT_RSEQ_H
#define RSEQKIT_CT_RSEQ_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <rseqkit/abi.h>

#include "kfeat.h"

/* A registration mode of spec R3.2 and the (len, align) it uses on the
 * running kernel: legacy = 32 bytes aligned to 32; V2 = AT_RSEQ_FEATURE_SIZE
 * bytes aligned to AT_RSEQ_ALIGN. */
enum ct_mode { CT_LEGACY, CT_V2 };

struct ct_area {
	struct rseqkit_abi_rseq *rs;
	uint32_t len;
	enum ct_mode mode;
};

/* The numbers the suite shares (names instead of repeated literals). */
/* An area of this size is a whole page of its own (registrations, scribbles). */
#define CT_PAGE 4096
/* The start of x86_64's direct map, in the kernel half on arm64 too: a
 * kernel address that every user access faults on (EFAULT for rseq(2),
 * SIGSEGV for a descriptor pointer). */
#define CT_KERNEL_ADDR 0xffff888000000000ULL
/* A valid signature other than the registered RSEQKIT_SIG (R3.3, R3.4). */
#define CT_OTHER_SIG (RSEQKIT_SIG ^ 0x1000)
/* How long a case may wait for an event it provokes before it is judged
 * (generous for QEMU TCG with a debug kernel). */
#define CT_EVENT_BUDGET_NS 10000000000ULL
/* The bound of a critical section that nothing aborts (ct_cs_run() iterations
 * = ct_cs_iters_per_ms() * CT_CS_BOUND_MS): a missing abort ends as a commit
 * after this long instead of hanging. */
#define CT_CS_BOUND_MS 3000
/* One nanosecond-clock millisecond / second. */
#define CT_NS_PER_MS 1000000ULL
#define CT_NS_PER_S 1000000000ULL

/*
 * The common start of a conformance program: re-exec without glibc's
 * registration, probe the kernel, note the CPUs (before anything is pinned),
 * print the probed facts, and skip the whole program (naming rule) when the
 * kernel has no rseq(2).
 */
void ct_start(char **argv, struct kfeat *k, const char *rule);

/* ct_start() for the programs that deliberately keep glibc's own
 * registration (no re-exec). */
void ct_start_keep_glibc(struct kfeat *k, const char *rule);

const char *ct_mode_name(enum ct_mode m);
/* Length and alignment of a registration in mode m on kernel k. */
uint32_t ct_mode_len(const struct kfeat *k, enum ct_mode m);
size_t ct_mode_align(const struct kfeat *k, enum ct_mode m);
/* A length valid on its own on k but other than mode m's (R3.3, R3.4). */
uint32_t ct_other_len(const struct kfeat *k, enum ct_mode m);
/* True if mode m can be tested on k; else *why says why not. */
bool ct_mode_usable(const struct kfeat *k, enum ct_mode m, const char **why);

/* Zeroed memory of size bytes aligned to align (a power of two); aborts on
 * failure. Free with free(). */
void *ct_alloc(size_t size, size_t align);
/* Zeroed anonymous memory shared with forked children (their results);
 * aborts on failure. Free with munmap(). */
void *ct_shared_alloc(size_t size);
/* Install fn as the SA_SIGINFO | SA_RESTART handler of sig (bails on error). */
void ct_on_signal(int sig, void (*fn)(int, siginfo_t *, void *));
/* Allocate (at least 4096 bytes, so a whole page is ours) and register the
 * calling thread in mode m; returns 0 or -errno (area freed on error). */
int ct_area_register(struct ct_area *a, const struct kfeat *k, enum ct_mode m);
/* Unregister and free; returns 0 or -errno (area kept on error). */
int ct_area_unregister(struct ct_area *a);

/* rseq(2) with RSEQKIT_SIG / unregistration, -1/errno. */
long ct_register(void *area, uint32_t len, int flags);
long ct_unregister(void *area, uint32_t len);

/* CPUs the process may run on, as seen at the first call (call it early,
 * before pinning anything), and the i-th of them (i modulo the count). */
int ct_ncpus(void);
int ct_cpu(int i);

/* Thread id, and pinning of another thread of the process. */
pid_t ct_gettid(void);
int ct_pin_tid(pid_t tid, int cpu);
/* NUMA node of a CPU, from getcpu(2) run on it; -1 if unknown. */
int ct_cpu_node(void);
/* Current CPU and node via getcpu(2) (a syscall, not the rseq area). */
int ct_getcpu(unsigned int *cpu, unsigned int *node);

/*
 * rseq debugging (upstream's debugfs rseq/debug, a runtime switch; also set
 * by CONFIG_RSEQ_DEBUG_DEFAULT_ENABLE / DEBUG_RSEQ): the kernel then checks
 * what it otherwise leaves to user space (descriptor sanity, slice_ctrl at
 * syscall entry) and kills. ct_rseq_debug_get(): 0 or 1, -1 without the file;
 * ct_rseq_debug_set(): 0 or -errno (the value read back must match).
 * ct_debug_kernel(): built from the *-debug scenarios' fragment (DEBUG_RSEQ
 * with lockdep, seen as /proc/lockdep), for kernels without the file.
 */
#define CT_RSEQ_DEBUG KFEAT_DEBUGFS "/debug"
int ct_rseq_debug_get(void);
int ct_rseq_debug_set(int on);
bool ct_debug_kernel(void);

/* Wait until *flag != 0 or timeout_ms passed; returns true if set. */
bool ct_wait_flag(const volatile int *flag, unsigned int timeout_ms);
/* Sleep ms milliseconds. */
void ct_msleep(unsigned int ms);

/* membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ) once per
 * process, then MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ; 0 or -errno. */
int ct_membarrier_rseq(void);

/* Arm a one-shot timer that sends sig to the calling thread after ms of
 * its own CPU time (so it fires from an interrupt while the thread runs in
 * user mode). Returns 0 or -errno; the timer is deleted by
 * ct_thread_cputimer_del(). */
int ct_thread_cputimer(int sig, unsigned int ms);
void ct_thread_cputimer_del(void);
/* Re-arm the calling thread's timer (async-signal-safe). */
int ct_thread_cputimer_rearm(unsigned int ms);

/* Sleep us microseconds, again until the thread really was switched out
 * (on a slow kernel the timer can expire before schedule() and nanosleep
 * returns without a context switch). Returns the number of sleeps, 0 if no
 * switch happened in 20 tries. */
int ct_sleep_switch(unsigned int us);

/* Voluntary and involuntary context switches of the calling thread. */
void ct_thread_switches(uint64_t *vol, uint64_t *invol);

/*
 * The critical section (x86_64, aarch64).
 *
 * ct_cs_run() stores desc into rs->rseq_cs, then spins inside
 * [ct_cs_start, ct_cs_end) until *stop != 0 or iters iterations have run,
 * clears rs->rseq_cs and returns 0 ("committed"). If the kernel aborts the
 * section it resumes at ct_cs_abort (preceded by RSEQKIT_SIG), which clears
 * rs->rseq_cs and returns 1. ct_cs_abort_badsig is preceded by another
 * signature (for invalid-descriptor tests) and returns 2.
 */
#if defined(__x86_64__) || defined(__aarch64__)
# define CT_HAVE_CS 1
#else
# define CT_HAVE_CS 0
#endif

int ct_cs_run(struct rseqkit_abi_rseq *rs, const struct rseqkit_abi_cs *desc,
	      uint64_t iters, const volatile int *stop);
extern const char ct_cs_start[], ct_cs_end[], ct_cs_abort[], ct_cs_abort_badsig[];
/* Another valid abort handler (returns 1), placed before the section, for a
 * descriptor whose range extends past TASK_SIZE without covering abort_ip. */
extern const char ct_cs_abort_pre[];
#define CT_BAD_SIG (RSEQKIT_SIG + 1)

/* Where a signal handler's interrupted context (its ucontext argument) was
 * relative to ct_cs_run(): at one of the abort handlers (the kernel
 * aborted), inside [ct_cs_start, ct_cs_end) (no abort), or elsewhere (the
 * signal came before the section was entered or after it was left, e.g. on
 * a syscall return: inconclusive). */
enum ct_cs_where { CT_CS_OUTSIDE, CT_CS_INSIDE, CT_CS_AT_ABORT };
enum ct_cs_where ct_cs_where(const void *ucontext);
const char *ct_cs_where_str(enum ct_cs_where w);

/* A valid descriptor for ct_cs_run(). */
void ct_cs_desc_init(struct rseqkit_abi_cs *d);
/* Loop iterations of ct_cs_run() per millisecond on this CPU (measured
 * once, outside any registration). */
uint64_t ct_cs_iters_per_ms(void);

#endif /* RSEQKIT_CT_RSEQ_H */
