// SPDX-License-Identifier: MIT
/*
 * registration.c - who owns RSEQ in this process, and per-thread registration.
 *
 * Design. The kernel allows one rseq area per thread. glibc >= 2.35
 * registers one for every thread it creates and publishes where it is
 * (__rseq_offset from the thread pointer) and how much of it the kernel
 * maintains (__rseq_size). Registering a second area would fail, and
 * unregistering glibc's would break glibc, so ownership is decided once per
 * process, in a constructor:
 *
 *   __rseq_size > 0   glibc owns: use its area; mode from its size (R7).
 *   otherwise         rseqkit owns: every thread registers an initial-exec
 *                     TLS area of one length, max(AT_RSEQ_FEATURE_SIZE, 32),
 *                     so a V2 kernel gives V2 everywhere and a legacy one
 *                     legacy everywhere (never mixed), lazily, on first use.
 *   rseq(2) fails     nobody owns: the reads and per-CPU operations take
 *                     their fallbacks; cpu_id of the area we point at stays
 *                     negative, which is how the fast paths notice.
 *
 * In every case all threads find their area at the same offset from the
 * thread pointer, published in rseqkit_rseq_offset, so the fast paths are a
 * thread-pointer read and one load.
 *
 * Thread exit and dlclose. A registration ends with its thread (the kernel
 * drops it in exit), and the area, in the thread's static TLS, stays valid
 * until then, so there is no thread-exit destructor: one registered with
 * pthread_key_create() would point into unmapped code after a dlclose().
 * The areas themselves live in the static TLS block of the object that
 * contains this file; glibc hands a freed block to the next module loaded,
 * while the kernel would keep writing into it for every thread still
 * registered. So once rseqkit owns registrations, that object is made
 * resident (RTLD_NODELETE): dlclose() leaves it mapped. When glibc owns
 * them, nothing is pinned. Everything the lazy registration path runs
 * after the constructor is system calls and loads, so a first per-CPU
 * operation or slice begin inside a signal handler is async-signal-safe.
 */
#include <dlfcn.h>
#include <errno.h>
#include <gnu/libc-version.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <rseqkit/thread.h>
#include "internal.h"

/* glibc's description of its registration; absent before glibc 2.35. */
extern const ptrdiff_t __rseq_offset __attribute__((weak));
extern const unsigned int __rseq_size __attribute__((weak));
extern const unsigned int __rseq_flags __attribute__((weak));

/*
 * rseqkit's own area. 64 bytes aligned to 64 cover AT_RSEQ_FEATURE_SIZE 33 /
 * AT_RSEQ_ALIGN 64 (spec R3.7) with 31 bytes for growth, and keep the
 * static TLS this library takes small (it is reserved even when glibc owns
 * the registration, and a dlopen()ed library takes it from glibc's small
 * surplus); a kernel asking for more gets a 32-byte (legacy) registration
 * from every thread instead, and says why.
 */
#define AREA_SIZE	64U
#define AREA_ALIGN	64U

static __thread union {
	struct rseqkit_abi_rseq abi;
	char bytes[AREA_SIZE];
} area __attribute__((tls_model("initial-exec"), aligned(AREA_ALIGN))) = {
	.abi = { .cpu_id = (uint32_t)RSEQKIT_CPU_ID_UNINITIALIZED },
};

/* This thread holds a registration made by rseqkit (inherited over fork). */
static __thread bool self_registered __attribute__((tls_model("initial-exec")));

ptrdiff_t rseqkit_rseq_offset;
uint32_t rseqkit_rseq_fields;

static struct rseqkit_mode mode;
static int init_result;
static bool init_done;		/* release-stored after the decision */
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static uint32_t self_flags;	/* rseq(2) flags for rseqkit's registrations */

static long sys_rseq(void *p, uint32_t len, int flags, uint32_t sig)
{
	return syscall(RSEQKIT_NR_rseq, p, len, flags, sig);
}

static uint32_t fields_of(uint32_t usable)
{
	static const struct { uint32_t end, bit; } f[] = {
		{ RSEQKIT_OFFSETOFEND(struct rseqkit_abi_rseq, cpu_id_start), RSEQKIT_FIELD_CPU_ID_START },
		{ RSEQKIT_OFFSETOFEND(struct rseqkit_abi_rseq, cpu_id), RSEQKIT_FIELD_CPU_ID },
		{ RSEQKIT_OFFSETOFEND(struct rseqkit_abi_rseq, rseq_cs), RSEQKIT_FIELD_RSEQ_CS },
		{ RSEQKIT_OFFSETOFEND(struct rseqkit_abi_rseq, flags), RSEQKIT_FIELD_FLAGS },
		{ RSEQKIT_OFFSETOFEND(struct rseqkit_abi_rseq, node_id), RSEQKIT_FIELD_NODE_ID },
		{ RSEQKIT_OFFSETOFEND(struct rseqkit_abi_rseq, mm_cid), RSEQKIT_FIELD_MM_CID },
		{ RSEQKIT_OFFSETOFEND(struct rseqkit_abi_rseq, slice_ctrl), RSEQKIT_FIELD_SLICE_CTRL },
	};
	uint32_t mask = 0;

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (usable >= f[i].end)
			mask |= f[i].bit;
	return mask;
}

/* Keep the object containing this code mapped for good (see the top). */
static void pin_self(void)
{
	static const char self;
	void *(*open_fn)(const char *, int);
	Dl_info di;

	/* Looked up, not linked: a static program would otherwise pull in the
	 * static dlopen (and its link-time warning) for nothing; there,
	 * nothing ever unloads and the lookup finds nothing. */
	*(void **)&open_fn = dlsym(RTLD_DEFAULT, "dlopen");
	if (!open_fn || !dladdr(&self, &di) || !di.dli_fname)
		return;
	if (!open_fn(di.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE))
		rseqkit__diag("rseqkit: cannot keep %s resident (%s): do not dlclose() it "
			      "while threads it registered are alive", di.dli_fname,
			      dlerror() ?: "?");
}

/* The hint shown when the kernel could do V2 but the owner chose legacy. */
static const char *v2_hint(void)
{
	if (mode.kernel_feature_size >= RSEQKIT_FEATURE_SIZE_V2)
		return "";
	return " This kernel has no V2 mode (AT_RSEQ_FEATURE_SIZE < 33): V2 needs "
	       "Linux 7.1+ or rseqkit's patched 6.12.";
}

static void decide_libc(void)
{
	unsigned int size = __rseq_size;

	mode.owner = RSEQKIT_OWNER_LIBC;
	mode.sig = RSEQKIT_SIG;
	rseqkit_rseq_offset = __rseq_offset;
	/* R7: 32 is what glibc 2.35 published for "the original 20 bytes". */
	mode.usable_size = size == RSEQKIT_ORIG_SIZE ? RSEQKIT_LEGACY_USABLE_SIZE : size;
	mode.registered_len = size > RSEQKIT_ORIG_SIZE ? size : RSEQKIT_ORIG_SIZE;
	mode.abi = size > RSEQKIT_ORIG_SIZE ? RSEQKIT_ABI_V2 : RSEQKIT_ABI_LEGACY;
	if (mode.abi == RSEQKIT_ABI_LEGACY)
		snprintf(mode.reason, sizeof(mode.reason),
			 "glibc %s registered rseq with 32 bytes (__rseq_size=%u): legacy mode, "
			 "%u usable bytes.%s%s", mode.libc_version, size, mode.usable_size,
			 mode.kernel_feature_size >= RSEQKIT_FEATURE_SIZE_V2 ?
			 " Run with GLIBC_TUNABLES=glibc.pthread.rseq=0 (or `rseqkit run --`) "
			 "to let rseqkit register V2." : "", v2_hint());
	else
		snprintf(mode.reason, sizeof(mode.reason),
			 "glibc %s registered rseq with feature size %u: optimized V2 mode.",
			 mode.libc_version, size);
}

static void decide_self(void)
{
	uint32_t len = mode.kernel_feature_size > RSEQKIT_ORIG_SIZE ?
		       mode.kernel_feature_size : RSEQKIT_ORIG_SIZE;
	uint32_t align = mode.kernel_align > RSEQKIT_ORIG_SIZE ?
			 mode.kernel_align : RSEQKIT_ORIG_SIZE;
	const char *tunables = getenv("GLIBC_TUNABLES");
	const char *why_glibc = !&__rseq_size ? "this libc does not register rseq" :
		tunables && strstr(tunables, "glibc.pthread.rseq=0") ?
		"glibc was told not to register rseq (GLIBC_TUNABLES=glibc.pthread.rseq=0)" :
		"glibc did not register rseq";
	char note[96] = "";

	if (len > AREA_SIZE || align > AREA_ALIGN) {
		snprintf(note, sizeof(note), " (the kernel asks for %u bytes aligned to %u, "
			 "more than rseqkit's %u/%u area)", len, align, AREA_SIZE, AREA_ALIGN);
		len = RSEQKIT_ORIG_SIZE;
	}
	rseqkit_rseq_offset = (char *)&area - (char *)rseqkit_arch_thread_pointer();
	mode.sig = RSEQKIT_SIG;
	if (len > RSEQKIT_ORIG_SIZE)
		self_flags = rseqkit__slice_register_flags(mode.kernel_feature_size);
	mode.registered_len = len;

	if (sys_rseq(&area, len, (int)self_flags, RSEQKIT_SIG) && errno != EBUSY) {
		int err = errno;

		mode.owner = RSEQKIT_OWNER_NONE;
		mode.abi = RSEQKIT_ABI_NONE;
		mode.registered_len = 0;
		mode.error = err == EINVAL ? EBUSY : err;
		snprintf(mode.reason, sizeof(mode.reason),
			 "%s, and rseq(2) failed with %s: %s. Per-CPU operations use "
			 "their getcpu fallbacks.", why_glibc, strerrorname_np(err) ?: "?",
			 err == ENOSYS ? "kernel without CONFIG_RSEQ, older than 4.18, "
			 "or a seccomp filter" : err == EPERM ? "refused by a seccomp "
			 "filter or LSM" : err == EINVAL ? "the thread is registered by "
			 "another library rseqkit cannot see" : "unexpected");
		return;
	}
	self_registered = true;
	pin_self();
	mode.owner = RSEQKIT_OWNER_SELF;
	mode.abi = len > RSEQKIT_ORIG_SIZE ? RSEQKIT_ABI_V2 : RSEQKIT_ABI_LEGACY;
	mode.usable_size = mode.kernel_feature_size < len ? mode.kernel_feature_size : len;
	snprintf(mode.reason, sizeof(mode.reason),
		 "%s; rseqkit registered %u bytes per thread%s: %s mode, %u usable bytes.%s",
		 why_glibc, len, note,
		 mode.abi == RSEQKIT_ABI_V2 ? "optimized V2" : "legacy",
		 mode.usable_size, mode.abi == RSEQKIT_ABI_V2 ? "" : v2_hint());
}

static void decide(void)
{
	mode.kernel_feature_size = (uint32_t)getauxval(RSEQKIT_AT_RSEQ_FEATURE_SIZE);
	if (!mode.kernel_feature_size)
		mode.kernel_feature_size = RSEQKIT_LEGACY_USABLE_SIZE;
	mode.kernel_align = (uint32_t)getauxval(RSEQKIT_AT_RSEQ_ALIGN);
	if (!mode.kernel_align)
		mode.kernel_align = RSEQKIT_ORIG_SIZE;
	snprintf(mode.libc_version, sizeof(mode.libc_version), "%s", gnu_get_libc_version());

	if (&__rseq_size && __rseq_size > 0)
		decide_libc();
	else
		decide_self();
	mode.fields = fields_of(mode.usable_size);
	rseqkit_rseq_fields = mode.fields;
	init_result = -mode.error;
	__atomic_store_n(&init_done, true, __ATOMIC_RELEASE);
}

int rseqkit_init(void)
{
	/* After the constructor: a load, async-signal-safe. */
	if (__builtin_expect(!__atomic_load_n(&init_done, __ATOMIC_ACQUIRE), 0))
		pthread_once(&init_once, decide);
	return init_result;
}

/* Before main(), and when loaded with dlopen(): the fast paths need the
 * offset before any thread runs them. */
__attribute__((constructor(101))) static void rseqkit_ctor(void)
{
	rseqkit_init();
}

int rseqkit_get_mode(struct rseqkit_mode *m)
{
	if (!m)
		return -EINVAL;
	rseqkit_init();
	*m = mode;
	return 0;
}

const struct rseqkit_mode *rseqkit__mode(void)
{
	rseqkit_init();
	return &mode;
}

int rseqkit_thread_register(void)
{
	rseqkit_init();
	switch (mode.owner) {
	case RSEQKIT_OWNER_NONE:
		return -mode.error;
	case RSEQKIT_OWNER_LIBC:
		/* A thread glibc did not create (raw clone) has no area. */
		return (int32_t)rseqkit_thread_area()->cpu_id >= 0 ? 0 : -EBUSY;
	case RSEQKIT_OWNER_SELF:
		break;
	}
	if (self_registered)
		return 0;
	if (sys_rseq(&area, mode.registered_len, (int)self_flags, mode.sig)) {
		if (errno != EBUSY)
			return errno == EINVAL ? -EBUSY : -errno;
	}
	self_registered = true;
	return 0;
}

int rseqkit_thread_unregister(void)
{
	rseqkit_init();
	if (mode.owner == RSEQKIT_OWNER_LIBC)
		return -EPERM;
	if (!self_registered)
		return -ENOENT;
	if (sys_rseq(&area, mode.registered_len, RSEQKIT_FLAG_UNREGISTER, mode.sig))
		return -errno;
	self_registered = false;
	/* The area is ours again; the fast paths test cpu_id < 0, so make that
	 * true without relying on what the kernel wrote. */
	__atomic_store_n(&area.abi.cpu_id, (uint32_t)RSEQKIT_CPU_ID_UNINITIALIZED,
			 __ATOMIC_RELAXED);
	return 0;
}

static bool thread_live(void)
{
	if ((int32_t)rseqkit_thread_area()->cpu_id >= 0)
		return true;
	return rseqkit_thread_register() == 0 &&
	       (int32_t)rseqkit_thread_area()->cpu_id >= 0;
}

int rseqkit_cpu_slow(void)
{
	int cpu;

	if (thread_live())
		return (int)rseqkit_thread_area()->cpu_id;
	cpu = sched_getcpu();
	return cpu < 0 ? 0 : cpu;
}

int rseqkit_node_slow(void)
{
	unsigned int cpu, node;

	if ((rseqkit_rseq_fields & RSEQKIT_FIELD_NODE_ID) && thread_live())
		return (int)rseqkit_thread_area()->node_id;
	if (getcpu(&cpu, &node))
		return 0;
	return (int)node;
}

int rseqkit_mm_cid_slow(void)
{
	if ((rseqkit_rseq_fields & RSEQKIT_FIELD_MM_CID) && thread_live())
		return (int)rseqkit_thread_area()->mm_cid;
	return rseqkit_cpu_slow();
}

const char *rseqkit_owner_name(enum rseqkit_owner o)
{
	switch (o) {
	case RSEQKIT_OWNER_LIBC: return "glibc";
	case RSEQKIT_OWNER_SELF: return "rseqkit";
	default: return "none";
	}
}

const char *rseqkit_abi_mode_name(enum rseqkit_abi_mode m)
{
	switch (m) {
	case RSEQKIT_ABI_LEGACY: return "legacy";
	case RSEQKIT_ABI_V2: return "V2";
	default: return "unavailable";
	}
}
