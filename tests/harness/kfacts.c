// SPDX-License-Identifier: MIT
/* Kernel feature facts and scenario declarations: see kfacts.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "kfacts.h"

#include <ctype.h>
#include <signal.h>
#include <dirent.h>
#include <errno.h>
#include <gnu/libc-version.h>
#include <linux/membarrier.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rseqkit/abi.h>

#define DEBUGFS_RSEQ "/sys/kernel/debug/rseq"
#define TRACEFS_RSEQ "/sys/kernel/tracing/events/rseq"

static const struct {
	const char *name;
	const char *words;	/* accepted values, for messages */
} keys[KFACTS_NKEYS] = {
	[KFACTS_ABI]		 = { "ABI", "v2 | legacy | legacy-arch | none" },
	[KFACTS_SLICE]		 = { "SLICE", "on | off | out | none" },
	[KFACTS_STATS]		 = { "STATS", "yes | no" },
	[KFACTS_KNOB]		 = { "KNOB", "yes | no" },
	[KFACTS_TRACE]		 = { "TRACE", "none | event names (e.g. rseq_update rseq_ip_fixup)" },
	[KFACTS_MEMBARRIER_RSEQ] = { "MEMBARRIER_RSEQ", "yes | no" },
	[KFACTS_GLIBC]		 = { "GLIBC", "legacy | v2 | none" },
};

const char *kfacts_key_name(enum kfacts_key key)
{
	return key < KFACTS_NKEYS ? keys[key].name : "?";
}

const char *kfacts_key_words(enum kfacts_key key)
{
	return key < KFACTS_NKEYS ? keys[key].words : "?";
}

int kfacts_key_from_name(const char *name)
{
	int i;

	if (!strncmp(name, KFACTS_ENV_PREFIX, strlen(KFACTS_ENV_PREFIX)))
		name += strlen(KFACTS_ENV_PREFIX);
	else if (!strncmp(name, "EXPECT_", 7))
		name += 7;
	for (i = 0; i < KFACTS_NKEYS; i++)
		if (!strcmp(name, keys[i].name))
			return i;
	return -1;
}

static void set(struct kfacts *f, enum kfacts_key key, const char *value,
		const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void set(struct kfacts *f, enum kfacts_key key, const char *value,
		const char *fmt, ...)
{
	va_list ap;

	snprintf(f->value[key], sizeof(f->value[key]), "%s", value);
	if (*value)
		f->have |= 1U << key;
	va_start(ap, fmt);
	vsnprintf(f->detail[key], sizeof(f->detail[key]), fmt, ap);
	va_end(ap);
}

/* "0", "1", "EINVAL", ... for a syscall result r (-1 = failed with err). */
static const char *res(long r, int err, char *buf, size_t n)
{
	static const struct { int err; const char *name; } names[] = {
		{ EINVAL, "EINVAL" }, { ENOSYS, "ENOSYS" }, { ENXIO, "ENXIO" },
		{ EPERM, "EPERM" }, { EFAULT, "EFAULT" }, { EBUSY, "EBUSY" },
		{ RSEQKIT_ENOTSUPP, "ENOTSUPP" }, { EOPNOTSUPP, "EOPNOTSUPP" },
	};
	size_t i;

	if (r != -1) {
		snprintf(buf, n, "%ld", r);
		return buf;
	}
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].err == err)
			return names[i].name;
	snprintf(buf, n, "errno %d", err);
	return buf;
}

static bool is_err(long r, int err, int want)
{
	return r == -1 && err == want;
}

/* A seccomp filter changes what this process sees of the kernel. */
static bool sandboxed(void)
{
	char line[128];
	bool on = false;
	FILE *s = fopen("/proc/self/status", "r");

	if (!s)
		return false;
	while (fgets(line, sizeof(line), s))
		if (!strncmp(line, "Seccomp:", 8))
			on = atoi(line + 8) != 0;
	fclose(s);
	return on;
}

static void probe_abi(struct kfacts *f, unsigned long *fsize, unsigned long *align)
{
	bool has_rseq = !(syscall(RSEQKIT_NR_rseq, NULL, 0, 0, 0) == -1 && errno == ENOSYS);
	unsigned long fs = getauxval(RSEQKIT_AT_RSEQ_FEATURE_SIZE);
	unsigned long al = getauxval(RSEQKIT_AT_RSEQ_ALIGN);
	unsigned long pow2 = 1;

	while (pow2 < fs)
		pow2 <<= 1;
	*fsize = fs;
	*align = al;
	if (!has_rseq)
		set(f, KFACTS_ABI, "none", "rseq(2) -> ENOSYS");
	else if (fs >= RSEQKIT_FEATURE_SIZE_V2 && al == pow2)
		set(f, KFACTS_ABI, "v2", "AT_RSEQ_FEATURE_SIZE %lu, AT_RSEQ_ALIGN %lu", fs, al);
	else if (fs < RSEQKIT_FEATURE_SIZE_V2 && (al == 0 || al == RSEQKIT_ORIG_SIZE))
		set(f, KFACTS_ABI, "legacy", "AT_RSEQ_FEATURE_SIZE %lu, AT_RSEQ_ALIGN %lu", fs, al);
	else
		set(f, KFACTS_ABI, "inconsistent",
		    "AT_RSEQ_FEATURE_SIZE %lu with AT_RSEQ_ALIGN %lu", fs, al);
}

#define PTRACE_GET_RSEQ_CONFIGURATION_REQ 0x420f

/* struct ptrace_rseq_configuration of <linux/ptrace.h> (R3.6). */
struct rseq_config {
	uint64_t ptr;
	uint32_t size, sig, flags, pad;
};

/*
 * What a context switch does to a user-modified cpu_id_start of a V2-sized
 * registration, pinned to one CPU: V2 mode writes the IDs only when they
 * change, legacy mode rewrites them after every switch. That tells an
 * architecture without the generic entry code, where every registration runs
 * legacy whatever its length (R3.2), from a V2 kernel: both advertise the
 * 33-byte area in the auxiliary vector. A debug kernel may kill the thread
 * for the user write instead (V2's read-back check, or legacy's under
 * rseq debugging).
 */
enum ids_seen { IDS_UNTRIED, IDS_KEPT, IDS_REWRITTEN, IDS_KILLED, IDS_FAILED };

/* No CPU number, and neither RSEQ_CPU_ID_UNINITIALIZED nor
 * RSEQ_CPU_ID_REGISTRATION_FAILED. */
#define IDS_FOREIGN_CPU 0x7eadbeefU

/* What the slice probe child saw; lives in a shared page. */
struct slice_obs {
	enum ids_seen ids;		/* the V2 registration's ID updates */
	struct rseq_config inherited;	/* the caller's registration, read by ptrace */
	bool have_inherited;
	long yield, get_unreg, reg, get, set, get_after;
	int yield_err, get_unreg_err, reg_err, get_err, set_err, get_after_err;
	unsigned int flags, flags_after;
	bool tried_v2;
};

static long prctl79(unsigned long op, unsigned long arg)
{
	return prctl(RSEQKIT_PR_RSEQ_SLICE_EXTENSION, op, arg, 0UL, 0UL);
}

/* In a grandchild (it inherits the registration; a kill stays there): pin,
 * let the IDs settle, overwrite cpu_id_start, sleep (context switches), look. */
static enum ids_seen ids_probe(volatile uint32_t *cpu_id_start)
{
	cpu_set_t set;
	int status, cpu, i;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		cpu = sched_getcpu();
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (cpu < 0 || sched_setaffinity(0, sizeof(set), &set))
			_exit(IDS_FAILED);
		usleep(1000);
		*cpu_id_start = IDS_FOREIGN_CPU;
		for (i = 0; i < 3; i++)
			usleep(1000);
		if (*cpu_id_start == IDS_FOREIGN_CPU)
			_exit(IDS_KEPT);
		_exit(*cpu_id_start == (uint32_t)cpu ? IDS_REWRITTEN : IDS_FAILED);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return IDS_FAILED;
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV)
		return IDS_KILLED;
	return WIFEXITED(status) ? (enum ids_seen)WEXITSTATUS(status) : IDS_FAILED;
}

/* In the child: drop the registration inherited from the caller (glibc's,
 * the library's or the test's own: the parent read it with ptrace while we
 * stopped; without that, glibc's, whose length depends on the glibc version,
 * a wrong length being a harmless EINVAL), then observe. */
static void slice_child(struct slice_obs *o, unsigned long fsize, unsigned long align)
{
	volatile uint32_t *flags;
	char *area;

	if (!ptrace(PTRACE_TRACEME, 0, NULL, NULL))
		raise(SIGSTOP);	/* the parent reads our registration, then detaches */
	if (o->have_inherited) {
		if (o->inherited.size)
			syscall(RSEQKIT_NR_rseq, (void *)(uintptr_t)o->inherited.ptr,
				o->inherited.size, RSEQKIT_FLAG_UNREGISTER, o->inherited.sig);
	} else if (__rseq_size > 0) {
		uint32_t lens[] = { __rseq_size, RSEQKIT_ORIG_SIZE, (uint32_t)fsize };
		char *own = (char *)__builtin_thread_pointer() + __rseq_offset;
		size_t i;

		for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
			if (!syscall(RSEQKIT_NR_rseq, own, lens[i], RSEQKIT_FLAG_UNREGISTER, RSEQKIT_SIG))
				break;
	}
	o->yield = syscall(RSEQKIT_NR_rseq_slice_yield);
	o->yield_err = errno;
	o->get_unreg = prctl79(RSEQKIT_PR_RSEQ_SLICE_EXTENSION_GET, 0);
	o->get_unreg_err = errno;
	if (fsize < RSEQKIT_FEATURE_SIZE_V2)
		return;
	if (align < RSEQKIT_ALIGN_V2)
		align = RSEQKIT_ALIGN_V2;
	area = aligned_alloc(align, 4096 > align ? 4096 : align);
	if (!area)
		return;
	memset(area, 0, 4096 > align ? 4096 : align);
	flags = (volatile uint32_t *)(area + RSEQKIT_OFF_FLAGS);
	o->tried_v2 = true;
	o->reg = syscall(RSEQKIT_NR_rseq, area, (uint32_t)fsize, 0, RSEQKIT_SIG);
	o->reg_err = errno;
	if (o->reg)
		return;
	o->flags = *flags;
	o->get = prctl79(RSEQKIT_PR_RSEQ_SLICE_EXTENSION_GET, 0);
	o->get_err = errno;
	o->set = prctl79(RSEQKIT_PR_RSEQ_SLICE_EXTENSION_SET, RSEQKIT_PR_RSEQ_SLICE_EXT_ENABLE);
	o->set_err = errno;
	o->get_after = prctl79(RSEQKIT_PR_RSEQ_SLICE_EXTENSION_GET, 0);
	o->get_after_err = errno;
	o->flags_after = *flags;
	o->ids = ids_probe((volatile uint32_t *)(area + RSEQKIT_OFF_CPU_ID_START));
}

static void probe_slice(struct kfacts *f, unsigned long fsize, unsigned long align,
			enum ids_seen *ids)
{
	char b[6][24];
	struct slice_obs *o;
	const char *word;
	bool yield_exists, prctl_known, avail;
	int status;
	pid_t pid;

	o = mmap(NULL, sizeof(*o), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (o == MAP_FAILED) {
		set(f, KFACTS_SLICE, "", "mmap: %s", strerror(errno));
		return;
	}
	memset(o, 0, sizeof(*o));
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		slice_child(o, fsize, align);
		_exit(0);
	}
	if (pid > 0 && waitpid(pid, &status, WUNTRACED) == pid && WIFSTOPPED(status)) {
		o->have_inherited = ptrace(PTRACE_GET_RSEQ_CONFIGURATION_REQ, pid,
					   (void *)sizeof(o->inherited), &o->inherited) ==
				    (long)sizeof(o->inherited);
		ptrace(PTRACE_DETACH, pid, NULL, NULL);
		if (waitpid(pid, &status, 0) != pid)
			pid = -1;
	} else if (pid > 0 && !WIFEXITED(status) && !WIFSIGNALED(status)) {
		pid = -1;
	}
	if (pid < 0) {
		set(f, KFACTS_SLICE, "", "fork/wait: %s", strerror(errno));
		goto out;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		set(f, KFACTS_SLICE, "inconsistent", "the probe child died (status 0x%x)", status);
		goto out;
	}

	yield_exists = !is_err(o->yield, o->yield_err, ENOSYS);
	prctl_known = !is_err(o->get_unreg, o->get_unreg_err, EINVAL);
	avail = o->flags & RSEQKIT_CS_FLAG_SLICE_EXT_AVAILABLE;
	if (!yield_exists && !prctl_known) {
		set(f, KFACTS_SLICE, "none", "rseq_slice_yield -> ENOSYS, prctl(79, GET) -> EINVAL");
		goto out;
	}
	if (!o->tried_v2 || o->reg) {
		set(f, KFACTS_SLICE, "inconsistent",
		    "rseq_slice_yield -> %s, prctl(79, GET) -> %s, but %s",
		    res(o->yield, o->yield_err, b[0], 24),
		    res(o->get_unreg, o->get_unreg_err, b[1], 24),
		    o->tried_v2 ? res(o->reg, o->reg_err, b[2], 24) : "no V2 registration possible");
		goto out;
	}
	if (avail && yield_exists && o->get == 0 && o->set == 0 && o->get_after == 1 &&
	    (o->flags_after & RSEQKIT_CS_FLAG_SLICE_EXT_ENABLED))
		word = "on";
	else if (!avail && yield_exists && o->get == 0 &&
		 is_err(o->set, o->set_err, RSEQKIT_ENOTSUPP))
		word = "off";
	else if (!avail && !yield_exists && is_err(o->get, o->get_err, RSEQKIT_ENOTSUPP) &&
		 is_err(o->set, o->set_err, RSEQKIT_ENOTSUPP))
		word = "out";
	else
		word = "inconsistent";
	set(f, KFACTS_SLICE, word,
	    "rseq_slice_yield -> %s; V2 registration: flags 0x%x, prctl GET -> %s, SET ENABLE -> %s, GET -> %s, flags 0x%x",
	    res(o->yield, o->yield_err, b[0], 24), o->flags,
	    res(o->get, o->get_err, b[1], 24), res(o->set, o->set_err, b[2], 24),
	    res(o->get_after, o->get_after_err, b[3], 24), o->flags_after);
out:
	*ids = o->ids;
	munmap(o, sizeof(*o));
}

/* The auxiliary vector says V2; the slice probe's registration says which mode
 * a V2-sized registration really runs in (see enum ids_seen). */
static void probe_abi_mode(struct kfacts *f, enum ids_seen ids)
{
	static const char *const seen[] = {
		[IDS_UNTRIED] = "mode not probed (no V2-sized registration)",
		[IDS_KEPT] = "IDs written only on change (V2 mode)",
		[IDS_REWRITTEN] = "IDs rewritten after every context switch: legacy mode",
		[IDS_KILLED] = "a user write to cpu_id_start killed the thread (checked IDs: V2 mode or rseq debugging)",
		[IDS_FAILED] = "mode probe failed",
	};
	char aux[KFACTS_DETAIL_MAX];

	if (strcmp(f->value[KFACTS_ABI], "v2"))
		return;
	snprintf(aux, sizeof(aux), "%s", f->detail[KFACTS_ABI]);
	set(f, KFACTS_ABI, ids == IDS_REWRITTEN ? "legacy-arch" : "v2", "%s; %s", aux,
	    ids <= IDS_FAILED ? seen[ids] : "mode probe failed");
}

static void probe_file(struct kfacts *f, enum kfacts_key key, const char *path)
{
	bool ok = access(path, R_OK) == 0;

	set(f, key, ok ? "yes" : "no", "%s %s", path, ok ? "readable" : strerror(errno));
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sort the blank-separated words of s in place ("b a" -> "a b"). */
static void sort_words(char *s, size_t size)
{
	char *words[64], *copy, *save = NULL, *w;
	size_t n = 0, i, len = 0;

	copy = strdup(s);
	if (!copy)
		return;
	for (w = strtok_r(copy, " \t\n", &save); w && n < 64; w = strtok_r(NULL, " \t\n", &save))
		words[n++] = w;
	qsort(words, n, sizeof(words[0]), cmp_str);
	s[0] = 0;
	for (i = 0; i < n; i++)
		len += snprintf(s + len, len < size ? size - len : 0, "%s%s", i ? " " : "", words[i]);
	free(copy);
}

static void probe_trace(struct kfacts *f)
{
	char list[KFACTS_VALUE_MAX] = "";
	size_t len = 0;
	struct dirent *d;
	DIR *dir = opendir(TRACEFS_RSEQ);

	if (!dir) {
		set(f, KFACTS_TRACE, "none", "%s: %s", TRACEFS_RSEQ, strerror(errno));
		return;
	}
	while ((d = readdir(dir)))
		if (d->d_type == DT_DIR && d->d_name[0] != '.' && len < sizeof(list))
			len += snprintf(list + len, sizeof(list) - len, "%s%s", len ? " " : "", d->d_name);
	closedir(dir);
	sort_words(list, sizeof(list));
	set(f, KFACTS_TRACE, *list ? list : "none", "%s", TRACEFS_RSEQ);
}

static void probe_membarrier(struct kfacts *f)
{
	long cmds = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
	bool ok = cmds > 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ);

	set(f, KFACTS_MEMBARRIER_RSEQ, ok ? "yes" : "no", "MEMBARRIER_CMD_QUERY -> %#lx", cmds);
}

static void probe_glibc(struct kfacts *f)
{
	const char *t = getenv("GLIBC_TUNABLES");

	f->glibc_tunable_off = t && strstr(t, "glibc.pthread.rseq=0");
	if (f->glibc_tunable_off)
		set(f, KFACTS_GLIBC, "", "glibc told not to register (GLIBC_TUNABLES=%s)", t);
	else if (__rseq_size == 0)
		set(f, KFACTS_GLIBC, "none", "__rseq_size 0");
	else
		set(f, KFACTS_GLIBC, __rseq_size >= RSEQKIT_FEATURE_SIZE_V2 ? "v2" : "legacy",
		    "__rseq_size %u", __rseq_size);
}

void kfacts_probe(struct kfacts *f)
{
	unsigned long fsize, align;
	enum ids_seen ids = IDS_UNTRIED;

	memset(f, 0, sizeof(*f));
	f->sandboxed = sandboxed();
	probe_abi(f, &fsize, &align);
	probe_slice(f, fsize, align, &ids);
	probe_abi_mode(f, ids);
	probe_file(f, KFACTS_STATS, DEBUGFS_RSEQ "/stats");
	probe_file(f, KFACTS_KNOB, DEBUGFS_RSEQ "/slice_ext_nsec");
	probe_trace(f);
	probe_membarrier(f);
	probe_glibc(f);
}

static bool one_of(const char *v, const char *const *words)
{
	for (; *words; words++)
		if (!strcmp(v, *words))
			return true;
	return false;
}

int kfacts_declare(struct kfacts *f, enum kfacts_key key, const char *value,
		   char *err, size_t errlen)
{
	static const char *const abi[] = { "v2", "legacy", "legacy-arch", "none", NULL };
	static const char *const slice[] = { "on", "off", "out", "none", NULL };
	static const char *const yesno[] = { "yes", "no", NULL };
	static const char *const glibc[] = { "legacy", "v2", "none", NULL };
	static const char *const *const words[KFACTS_NKEYS] = {
		[KFACTS_ABI] = abi, [KFACTS_SLICE] = slice, [KFACTS_STATS] = yesno,
		[KFACTS_KNOB] = yesno, [KFACTS_MEMBARRIER_RSEQ] = yesno,
		[KFACTS_GLIBC] = glibc,
	};
	char v[KFACTS_VALUE_MAX];
	const char *p;
	bool ok;

	if (key >= KFACTS_NKEYS) {
		snprintf(err, errlen, "unknown expectation key %d", key);
		return -EINVAL;
	}
	snprintf(v, sizeof(v), "%s", value);
	if (key == KFACTS_TRACE) {
		sort_words(v, sizeof(v));
		ok = *v != 0;
		for (p = v; *p && ok; p++)
			ok = islower((unsigned char)*p) || isdigit((unsigned char)*p) ||
			     *p == '_' || *p == ' ';
		if (ok && strstr(v, "none") && strcmp(v, "none"))
			ok = false;
	} else {
		ok = one_of(v, words[key]);
	}
	if (!ok) {
		snprintf(err, errlen, "EXPECT_%s='%s': expected %s", keys[key].name, value,
			 keys[key].words);
		return -EINVAL;
	}
	snprintf(f->value[key], sizeof(f->value[key]), "%s", v);
	f->have |= 1U << key;
	return 0;
}

/*
 * A scenario's GLIBC word is about its static programs (built with the host's
 * glibc). A program running on another glibc (the glibc root filesystems of
 * the VM) follows R7 instead: glibc >= 2.41 registers the feature size, so
 * V2 where the auxiliary vector says V2 (also legacy-arch: the word is about
 * the length glibc registers); older ones register 32 bytes (legacy).
 */
static void glibc_for_this_program(struct kfacts *f)
{
	const char *abi = f->value[KFACTS_ABI];
	int major = 0, minor = 0;

	if (!(f->have & (1U << KFACTS_GLIBC)) || !(f->have & (1U << KFACTS_ABI)) ||
	    sscanf(gnu_get_libc_version(), "%d.%d", &major, &minor) != 2)
		return;
	if (major > 2 || (major == 2 && minor >= 41))
		snprintf(f->value[KFACTS_GLIBC], sizeof(f->value[KFACTS_GLIBC]), "%s",
			 !strcmp(abi, "v2") || !strcmp(abi, "legacy-arch") ? "v2" :
			 !strcmp(abi, "none") ? "none" : "legacy");
}

static int declared_from(struct kfacts *f, char *err, size_t errlen);

int kfacts_declared(struct kfacts *f, char *err, size_t errlen)
{
	int n = declared_from(f, err, errlen);

	if (n > 0)
		glibc_for_this_program(f);
	return n;
}

/* The environment first, then the file for the keys it left out. */
static int declared_from(struct kfacts *f, char *err, size_t errlen)
{
	char line[512], name[64];
	int key, n = 0;
	FILE *file;

	memset(f, 0, sizeof(*f));
	for (key = 0; key < KFACTS_NKEYS; key++) {
		const char *v;

		snprintf(name, sizeof(name), KFACTS_ENV_PREFIX "%s", keys[key].name);
		v = getenv(name);
		if (!v)
			continue;
		if (kfacts_declare(f, key, v, err, errlen))
			return -EINVAL;
		n++;
	}
	file = fopen(KFACTS_FILE, "r");
	if (!file)
		return n;
	while (fgets(line, sizeof(line), file)) {
		char *eq = strchr(line, '=');

		line[strcspn(line, "\n")] = 0;
		if (!eq || line[0] == '#')
			continue;
		*eq = 0;
		key = kfacts_key_from_name(line);
		if (key < 0) {
			snprintf(err, errlen, "%s: unknown key '%s'", KFACTS_FILE, line);
			fclose(file);
			return -EINVAL;
		}
		if (f->have & (1U << key))	/* the environment wins */
			continue;
		if (kfacts_declare(f, key, eq + 1, err, errlen)) {
			fclose(file);
			return -EINVAL;
		}
		n++;
	}
	fclose(file);
	return n;
}

bool kfacts_mismatch(const struct kfacts *declared, const struct kfacts *probed,
		     enum kfacts_key key)
{
	unsigned int bit = 1U << key;

	return (declared->have & bit) && (probed->have & bit) &&
	       strcmp(declared->value[key], probed->value[key]);
}
