// SPDX-License-Identifier: MIT
/* Helpers of the conformance suite: see ct_rseq.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "ct_rseq.h"
#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/membarrier.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

void ct_start(char **argv, struct kfeat *k, const char *rule)
{
	tap_reexec_without_glibc_rseq(argv);
	ct_start_keep_glibc(k, rule);
}

void ct_start_keep_glibc(struct kfeat *k, const char *rule)
{
	kfeat_probe(k);
	ct_ncpus();
	kfeat_diag(k);
	if (!k->rseq)
		tap_skip_all("%s: kernel has no rseq(2)", rule);
}

const char *ct_mode_name(enum ct_mode m)
{
	return m == CT_V2 ? "V2" : "legacy";
}

uint32_t ct_mode_len(const struct kfeat *k, enum ct_mode m)
{
	if (m == CT_LEGACY)
		return RSEQKIT_ORIG_SIZE;
	return k->feature_size > RSEQKIT_ORIG_SIZE ? (uint32_t)k->feature_size
						   : RSEQKIT_FEATURE_SIZE_V2;
}

uint32_t ct_other_len(const struct kfeat *k, enum ct_mode m)
{
	if (m == CT_V2)
		return RSEQKIT_ORIG_SIZE;
	/* 64 is a valid V2 length once AT_RSEQ_ALIGN is 64 or less. */
	return k->v2 ? ct_mode_len(k, CT_V2) : 64;
}

size_t ct_mode_align(const struct kfeat *k, enum ct_mode m)
{
	if (m == CT_LEGACY || k->align < RSEQKIT_ORIG_SIZE)
		return RSEQKIT_ORIG_SIZE;
	return k->align;
}

bool ct_mode_usable(const struct kfeat *k, enum ct_mode m, const char **why)
{
	static __thread char buf[96];

	if (!k->rseq) {
		*why = "kernel has no rseq(2)";
		return false;
	}
	if (m == CT_V2 && !k->v2) {
		snprintf(buf, sizeof(buf), "kernel has no V2 (feature size %lu)",
			 k->feature_size);
		*why = buf;
		return false;
	}
	*why = "";
	return true;
}

void *ct_shared_alloc(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		tap_bail("mmap(%zu, MAP_SHARED) failed: %s", size, tap_errno_name(errno));
	return p;
}

void ct_on_signal(int sig, void (*fn)(int, siginfo_t *, void *))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = fn;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	if (sigaction(sig, &sa, NULL))
		tap_bail("sigaction(%d): %s", sig, tap_errno_name(errno));
}

void *ct_alloc(size_t size, size_t align)
{
	void *p;

	if (align < sizeof(void *))
		align = sizeof(void *);
	size = (size + align - 1) & ~(align - 1);
	p = aligned_alloc(align, size);
	if (!p)
		tap_bail("aligned_alloc(%zu, %zu) failed", align, size);
	memset(p, 0, size);
	return p;
}

long ct_register(void *area, uint32_t len, int flags)
{
	return tap_sys_rseq(area, len, flags, RSEQKIT_SIG);
}

long ct_unregister(void *area, uint32_t len)
{
	return tap_sys_rseq(area, len, RSEQKIT_FLAG_UNREGISTER, RSEQKIT_SIG);
}

int ct_area_register(struct ct_area *a, const struct kfeat *k, enum ct_mode m)
{
	a->mode = m;
	a->len = ct_mode_len(k, m);
	a->rs = ct_alloc(CT_PAGE, CT_PAGE);
	if (ct_register(a->rs, a->len, 0)) {
		int err = errno;

		free(a->rs);
		a->rs = NULL;
		return -err;
	}
	return 0;
}

int ct_area_unregister(struct ct_area *a)
{
	if (!a->rs)
		return 0;
	if (ct_unregister(a->rs, a->len))
		return -errno;
	free(a->rs);
	a->rs = NULL;
	return 0;
}

static int ct_cpu_list[CPU_SETSIZE];
static int ct_cpu_count;

int ct_ncpus(void)
{
	cpu_set_t set;

	if (ct_cpu_count)
		return ct_cpu_count;
	if (sched_getaffinity(0, sizeof(set), &set)) {
		ct_cpu_list[0] = 0;
		return ct_cpu_count = 1;
	}
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &set))
			ct_cpu_list[ct_cpu_count++] = c;
	if (!ct_cpu_count)
		ct_cpu_list[ct_cpu_count++] = 0;
	return ct_cpu_count;
}

int ct_cpu(int i)
{
	int n = ct_ncpus();

	return ct_cpu_list[((i % n) + n) % n];
}

pid_t ct_gettid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

int ct_pin_tid(pid_t tid, int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(tid, sizeof(set), &set) ? -errno : 0;
}

int ct_getcpu(unsigned int *cpu, unsigned int *node)
{
	return (int)syscall(SYS_getcpu, cpu, node, NULL);
}

int ct_cpu_node(void)
{
	unsigned int cpu, node;

	return ct_getcpu(&cpu, &node) ? -1 : (int)node;
}

void ct_msleep(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

int ct_rseq_debug_get(void)
{
	char c = 0;
	int fd = open(CT_RSEQ_DEBUG, O_RDONLY);

	if (fd < 0)
		return -1;
	if (read(fd, &c, 1) != 1)
		c = 0;
	close(fd);
	return c == '1' ? 1 : c == '0' ? 0 : -1;
}

int ct_rseq_debug_set(int on)
{
	int err = tap_write_file(CT_RSEQ_DEBUG, on ? "1" : "0");

	if (err)
		return err;
	return ct_rseq_debug_get() == !!on ? 0 : -EIO;
}

bool ct_debug_kernel(void)
{
	return access("/proc/lockdep", F_OK) == 0;
}

bool ct_wait_flag(const volatile int *flag, unsigned int timeout_ms)
{
	uint64_t end = tap_now_ns() + (uint64_t)timeout_ms * 1000000ULL;

	while (!*flag) {
		if (tap_now_ns() > end)
			return false;
		usleep(100);
	}
	return true;
}

int ct_sleep_switch(unsigned int us)
{
	struct timespec ts = { us / 1000000, (long)(us % 1000000) * 1000L };
	uint64_t v0, v1, i0, i1;

	for (int n = 1; n <= 20; n++) {
		ct_thread_switches(&v0, &i0);
		nanosleep(&ts, NULL);
		ct_thread_switches(&v1, &i1);
		if (v1 != v0 || i1 != i0)
			return n;
	}
	return 0;
}

int ct_membarrier_rseq(void)
{
	static int registered;

	if (!registered) {
		if (syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ, 0, 0))
			return -errno;
		registered = 1;
	}
	return syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ, 0, 0) ? -errno : 0;
}

#ifndef sigev_notify_thread_id
# define sigev_notify_thread_id _sigev_un._tid
#endif

static __thread timer_t ct_timer;
static __thread bool ct_timer_armed;

int ct_thread_cputimer(int sig, unsigned int ms)
{
	struct sigevent sev;
	struct itimerspec its;

	ct_thread_cputimer_del();
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = sig;
	sev.sigev_notify_thread_id = ct_gettid();
	if (timer_create(CLOCK_THREAD_CPUTIME_ID, &sev, &ct_timer))
		return -errno;
	ct_timer_armed = true;
	memset(&its, 0, sizeof(its));
	its.it_value.tv_sec = ms / 1000;
	its.it_value.tv_nsec = (long)(ms % 1000) * 1000000L;
	if (timer_settime(ct_timer, 0, &its, NULL))
		return -errno;
	return 0;
}

int ct_thread_cputimer_rearm(unsigned int ms)
{
	struct itimerspec its;

	if (!ct_timer_armed)
		return -EINVAL;
	memset(&its, 0, sizeof(its));
	its.it_value.tv_sec = ms / 1000;
	its.it_value.tv_nsec = (long)(ms % 1000) * 1000000L;
	return timer_settime(ct_timer, 0, &its, NULL) ? -errno : 0;
}

void ct_thread_cputimer_del(void)
{
	if (ct_timer_armed)
		timer_delete(ct_timer);
	ct_timer_armed = false;
}

void ct_thread_switches(uint64_t *vol, uint64_t *invol)
{
	struct rusage ru;

	memset(&ru, 0, sizeof(ru));
	getrusage(RUSAGE_THREAD, &ru);
	*vol = (uint64_t)ru.ru_nvcsw;
	*invol = (uint64_t)ru.ru_nivcsw;
}

#if defined(__x86_64__)
/*
 * rdi = rs, rsi = desc, rdx = iters, rcx = stop. The section is the loop;
 * leaving it (stop seen or count exhausted) is the "commit". Each abort
 * handler is preceded by a ud1 instruction whose last four bytes are the
 * signature the kernel checks (as in the kernel selftests).
 */
__asm__(
	"	.text\n"
	"	.p2align 4\n"
	"	.byte 0x0f, 0xb9, 0x3d\n"
	"	.long 0x53053053\n"
	"	.globl ct_cs_abort_pre\n"
	"	.hidden ct_cs_abort_pre\n"
	"ct_cs_abort_pre:\n"
	"	movq $0, 8(%rdi)\n"
	"	movl $1, %eax\n"
	"	ret\n"
	"	.globl ct_cs_run\n"
	"	.hidden ct_cs_run\n"
	"	.type ct_cs_run, @function\n"
	"	.p2align 4\n"
	"ct_cs_run:\n"
	"	movq %rsi, 8(%rdi)\n"
	"	.globl ct_cs_start\n"
	"	.hidden ct_cs_start\n"
	"ct_cs_start:\n"
	"1:	cmpl $0, (%rcx)\n"
	"	jne 2f\n"
	"	subq $1, %rdx\n"
	"	jnz 1b\n"
	"2:\n"
	"	.globl ct_cs_end\n"
	"	.hidden ct_cs_end\n"
	"ct_cs_end:\n"
	"	movq $0, 8(%rdi)\n"
	"	xorl %eax, %eax\n"
	"	ret\n"
	"	.byte 0x0f, 0xb9, 0x3d\n"
	"	.long 0x53053053\n"
	"	.globl ct_cs_abort\n"
	"	.hidden ct_cs_abort\n"
	"ct_cs_abort:\n"
	"	movq $0, 8(%rdi)\n"
	"	movl $1, %eax\n"
	"	ret\n"
	"	.byte 0x0f, 0xb9, 0x3d\n"
	"	.long 0x53053054\n"
	"	.globl ct_cs_abort_badsig\n"
	"	.hidden ct_cs_abort_badsig\n"
	"ct_cs_abort_badsig:\n"
	"	movq $0, 8(%rdi)\n"
	"	movl $2, %eax\n"
	"	ret\n"
	"	.size ct_cs_run, .-ct_cs_run\n");
_Static_assert(RSEQKIT_SIG == 0x53053053U, "signature in the asm above");
_Static_assert(CT_BAD_SIG == 0x53053054U, "bad signature in the asm above");
#elif defined(__aarch64__)
/*
 * x0 = rs, x1 = desc, x2 = iters, x3 = stop: the same section as on x86_64.
 * Each abort handler is preceded by its signature as an instruction word
 * (.inst: brk #0x45e0 for RSEQKIT_SIG). An abort only moves the PC, so x0
 * still holds rs there.
 */
__asm__(
	"	.text\n"
	"	.p2align 4\n"
	"	.inst 0xd428bc00\n"
	"	.globl ct_cs_abort_pre\n"
	"	.hidden ct_cs_abort_pre\n"
	"ct_cs_abort_pre:\n"
	"	str xzr, [x0, #8]\n"
	"	mov w0, #1\n"
	"	ret\n"
	"	.globl ct_cs_run\n"
	"	.hidden ct_cs_run\n"
	"	.type ct_cs_run, %function\n"
	"	.p2align 4\n"
	"ct_cs_run:\n"
	"	str x1, [x0, #8]\n"
	"	.globl ct_cs_start\n"
	"	.hidden ct_cs_start\n"
	"ct_cs_start:\n"
	"1:	ldr w4, [x3]\n"
	"	cbnz w4, 2f\n"
	"	subs x2, x2, #1\n"
	"	b.ne 1b\n"
	"2:\n"
	"	.globl ct_cs_end\n"
	"	.hidden ct_cs_end\n"
	"ct_cs_end:\n"
	"	str xzr, [x0, #8]\n"
	"	mov w0, #0\n"
	"	ret\n"
	"	.inst 0xd428bc00\n"
	"	.globl ct_cs_abort\n"
	"	.hidden ct_cs_abort\n"
	"ct_cs_abort:\n"
	"	str xzr, [x0, #8]\n"
	"	mov w0, #1\n"
	"	ret\n"
	"	.inst 0xd428bc01\n"
	"	.globl ct_cs_abort_badsig\n"
	"	.hidden ct_cs_abort_badsig\n"
	"ct_cs_abort_badsig:\n"
	"	str xzr, [x0, #8]\n"
	"	mov w0, #2\n"
	"	ret\n"
	"	.size ct_cs_run, .-ct_cs_run\n");
_Static_assert(RSEQKIT_SIG == 0xd428bc00U, "signature in the asm above");
_Static_assert(CT_BAD_SIG == 0xd428bc01U, "bad signature in the asm above");
#else
int ct_cs_run(struct rseqkit_abi_rseq *rs, const struct rseqkit_abi_cs *desc,
	      uint64_t iters, const volatile int *stop)
{
	(void)rs; (void)desc; (void)iters; (void)stop;
	return -1;
}
const char ct_cs_start[1], ct_cs_end[1], ct_cs_abort[1], ct_cs_abort_badsig[1],
	ct_cs_abort_pre[1];
#endif

enum ct_cs_where ct_cs_where(const void *ucontext)
{
#if defined(__x86_64__)
	const ucontext_t *uc = ucontext;
	uintptr_t ip = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
	const ucontext_t *uc = ucontext;
	uintptr_t ip = (uintptr_t)uc->uc_mcontext.pc;
#endif
#if defined(__x86_64__) || defined(__aarch64__)
	if (ip == (uintptr_t)ct_cs_abort || ip == (uintptr_t)ct_cs_abort_pre ||
	    ip == (uintptr_t)ct_cs_abort_badsig)
		return CT_CS_AT_ABORT;
	if (ip - (uintptr_t)ct_cs_start < (uintptr_t)(ct_cs_end - ct_cs_start))
		return CT_CS_INSIDE;
#else
	(void)ucontext;
#endif
	return CT_CS_OUTSIDE;
}

const char *ct_cs_where_str(enum ct_cs_where w)
{
	return w == CT_CS_AT_ABORT ? "abort_ip" : w == CT_CS_INSIDE ? "inside the section" : "outside";
}

void ct_cs_desc_init(struct rseqkit_abi_cs *d)
{
	memset(d, 0, sizeof(*d));
	d->version = 0;
	d->flags = 0;
	d->start_ip = (uint64_t)(uintptr_t)ct_cs_start;
	d->post_commit_offset = (uint64_t)(ct_cs_end - ct_cs_start);
	d->abort_ip = (uint64_t)(uintptr_t)ct_cs_abort;
}

uint64_t ct_cs_iters_per_ms(void)
{
	static uint64_t cached;
	static struct rseqkit_abi_rseq dummy;	/* never registered */
	struct rseqkit_abi_cs d;
	static const int zero;
	uint64_t n = 1000000, t0, dt;

	if (cached || !CT_HAVE_CS)
		return cached ? cached : 1;
	ct_cs_desc_init(&d);
	for (;;) {
		t0 = tap_now_ns();
		ct_cs_run(&dummy, &d, n, &zero);
		dt = tap_now_ns() - t0;
		if (dt >= 20000000ULL || n >= (1ULL << 40))
			break;
		n *= 4;
	}
	cached = n * 1000000ULL / (dt ? dt : 1);
	return cached ? cached : 1;
}
