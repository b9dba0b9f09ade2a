// SPDX-License-Identifier: MIT
/*
 * rseqkit probe: what this kernel, libc and thread offer, in plain words or
 * as one JSON object whose keys are stable (documented in probe_help()).
 */
#include <errno.h>
#include <getopt.h>
#include <linux/membarrier.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <rseqkit/rseqkit.h>
#include "cmd.h"

extern const ptrdiff_t __rseq_offset __attribute__((weak));
extern const unsigned int __rseq_size __attribute__((weak));

#define SLICE_KNOB "/sys/kernel/debug/rseq/slice_ext_nsec"

struct probe {
	struct utsname uts;
	struct rseqkit_mode mode;
	bool rseq_syscall;
	int rseq_errno;
	bool membarrier_rseq;
	bool libc_rseq_symbols;
	long slice_get;		/* prctl GET result, or -1 */
	int slice_errno;
	uint32_t rseq_flags;
	bool rseq_flags_valid;
	long slice_nsec;	/* -1: not readable */
	int cpu, node, mm_cid;
	struct rseqkit_slice_info slice;
	int slice_thread;	/* rseqkit_slice_thread_state() */
};

static const char *errno_name(int err)
{
	if (err == RSEQKIT_ENOTSUPP)
		return "ENOTSUPP";
	return strerrorname_np(err) ?: "?";
}

static void probe_collect(struct probe *p)
{
	long cmds;
	FILE *f;

	memset(p, 0, sizeof(*p));
	uname(&p->uts);
	rseqkit_get_mode(&p->mode);
	/* NULL area, length 0: rejected without side effects, except ENOSYS. */
	errno = 0;
	if (syscall(RSEQKIT_NR_rseq, NULL, 0, 0, 0) == -1 && (errno == ENOSYS || errno == EPERM))
		p->rseq_errno = errno;
	p->rseq_syscall = !p->rseq_errno;
	cmds = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
	p->membarrier_rseq = cmds > 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ);
	p->libc_rseq_symbols = &__rseq_size != NULL;

	p->slice_get = prctl(RSEQKIT_PR_RSEQ_SLICE_EXTENSION,
			     RSEQKIT_PR_RSEQ_SLICE_EXTENSION_GET, 0, 0, 0);
	p->slice_errno = p->slice_get < 0 ? errno : 0;
	if (p->mode.owner != RSEQKIT_OWNER_NONE && (p->mode.fields & RSEQKIT_FIELD_FLAGS)) {
		p->rseq_flags = rseqkit_thread_area()->flags;
		p->rseq_flags_valid = true;
	}
	p->slice_nsec = -1;
	f = fopen(SLICE_KNOB, "r");
	if (f) {
		if (fscanf(f, "%ld", &p->slice_nsec) != 1)
			p->slice_nsec = -1;
		fclose(f);
	}
	rseqkit_slice_get_info(&p->slice);
	p->slice_thread = rseqkit_slice_thread_state();
	p->cpu = rseqkit_cpu();
	p->node = rseqkit_node();
	p->mm_cid = rseqkit_mm_cid();
}

static const char *const field_names[] = {
	"cpu_id_start", "cpu_id", "rseq_cs", "flags", "node_id", "mm_cid", "slice_ctrl",
};

static bool slice_available(const struct probe *p)
{
	return p->rseq_flags_valid && (p->rseq_flags & RSEQKIT_CS_FLAG_SLICE_EXT_AVAILABLE);
}

static const char *slice_why(const struct probe *p)
{
	if (p->slice_get >= 0)
		return p->slice_get ? "enabled for this thread" : "available, not enabled for this thread";
	switch (p->slice_errno) {
	case EINVAL: return "kernel without time slice extensions (prctl 79 unknown)";
	case RSEQKIT_ENOTSUPP: return p->mode.abi == RSEQKIT_ABI_LEGACY ?
		"needs a V2 registration (this thread is legacy)" :
		"compiled out or disabled at boot (rseq_slice_ext=off)";
	case ENXIO: return "this thread has no rseq registration";
	default: return "unexpected error";
	}
}

static void print_human(const struct probe *p)
{
	const struct rseqkit_mode *m = &p->mode;
	bool v2k = m->kernel_feature_size >= RSEQKIT_FEATURE_SIZE_V2;

	printf("rseqkit probe\n");
	printf("  kernel       %s: rseq(2) %s, AT_RSEQ_FEATURE_SIZE %u, AT_RSEQ_ALIGN %u -> %s\n",
	       p->uts.release, p->rseq_syscall ? "yes" : errno_name(p->rseq_errno),
	       m->kernel_feature_size, m->kernel_align,
	       v2k ? "legacy and optimized V2 modes" : "legacy mode only (no V2)");
	printf("  libc         glibc %s: %s\n", m->libc_version,
	       !p->libc_rseq_symbols ? "too old to register rseq (< 2.35)" :
	       __rseq_size ? "registered rseq for its threads" : "did not register rseq");
	if (p->libc_rseq_symbols)
		printf("               __rseq_size %u, __rseq_offset %td\n", __rseq_size, __rseq_offset);
	printf("  this thread  owner %s, %s mode", rseqkit_owner_name(m->owner),
	       rseqkit_abi_mode_name(m->abi));
	if (m->owner != RSEQKIT_OWNER_NONE)
		printf(", registered %u bytes, %u usable, signature 0x%08x",
		       m->registered_len, m->usable_size, m->sig);
	printf("\n  fields      ");
	for (size_t i = 0; i < sizeof(field_names) / sizeof(field_names[0]); i++)
		if (m->fields & (1U << i))
			printf(" %s", field_names[i]);
	if (!m->fields)
		printf(" (none: reads use getcpu)");
	printf("\n  now on       cpu %d, node %d, mm_cid %d%s\n", p->cpu, p->node, p->mm_cid,
	       m->fields & RSEQKIT_FIELD_MM_CID ? "" : " (mm_cid not usable: cpu stands in)");
	printf("  membarrier   RSEQ fences %s\n", p->membarrier_rseq ? "available" : "not available");
	printf("  slice ext    %s", slice_why(p));
	if (p->slice_get < 0)
		printf(" [prctl GET -> %s]", errno_name(p->slice_errno));
	if (p->rseq_flags_valid)
		printf(", rseq->flags 0x%x", p->rseq_flags);
	printf("\n  slice policy %s\n", p->slice.reason);
	if (p->slice.on)
		printf("               this thread: %s\n", p->slice_thread == 1 ? "enabled" :
		       "NOT enabled (disabled by a third party)");
	if (p->slice_nsec >= 0)
		printf("  slice knob   debugfs rseq/slice_ext_nsec = %ld ns\n", p->slice_nsec);
	printf("\nIn plain words:\n  %s\n", m->reason);
	if (!slice_available(p) && p->slice_get < 0)
		printf("  Time slice extensions: %s.\n", slice_why(p));
}

static void json_str(const char *key, const char *v, bool comma)
{
	printf("\"%s\": \"", key);
	for (; *v; v++) {
		if (*v == '"' || *v == '\\')
			putchar('\\');
		putchar(*v);
	}
	printf("\"%s", comma ? ", " : "");
}

static void print_json(const struct probe *p)
{
	const struct rseqkit_mode *m = &p->mode;
	bool first = true;

	printf("{");
	json_str("rseqkit_version", RSEQKIT_VERSION, true);
	printf("\"kernel\": {");
	json_str("release", p->uts.release, true);
	printf("\"rseq_syscall\": %s, \"rseq_errno\": ", p->rseq_syscall ? "true" : "false");
	if (p->rseq_errno)
		printf("\"%s\"", errno_name(p->rseq_errno));
	else
		printf("null");
	printf(", \"feature_size\": %u, \"align\": %u, \"v2\": %s, \"membarrier_rseq\": %s, "
	       "\"slice_ext_nsec\": ", m->kernel_feature_size, m->kernel_align,
	       m->kernel_feature_size >= RSEQKIT_FEATURE_SIZE_V2 ? "true" : "false",
	       p->membarrier_rseq ? "true" : "false");
	if (p->slice_nsec >= 0)
		printf("%ld}, ", p->slice_nsec);
	else
		printf("null}, ");
	printf("\"libc\": {");
	json_str("name", "glibc", true);
	json_str("version", m->libc_version, true);
	printf("\"rseq_symbols\": %s, \"rseq_size\": %u, \"rseq_offset\": %td}, ",
	       p->libc_rseq_symbols ? "true" : "false",
	       p->libc_rseq_symbols ? __rseq_size : 0,
	       p->libc_rseq_symbols ? __rseq_offset : 0);
	printf("\"thread\": {");
	json_str("owner", rseqkit_owner_name(m->owner), true);
	json_str("mode", rseqkit_abi_mode_name(m->abi), true);
	printf("\"registered_len\": %u, \"usable_size\": %u, \"signature\": %u, \"fields\": [",
	       m->registered_len, m->usable_size, m->sig);
	for (size_t i = 0; i < sizeof(field_names) / sizeof(field_names[0]); i++) {
		if (!(m->fields & (1U << i)))
			continue;
		printf("%s\"%s\"", first ? "" : ", ", field_names[i]);
		first = false;
	}
	printf("], \"cpu\": %d, \"node\": %d, \"mm_cid\": %d, \"rseq_flags\": ", p->cpu, p->node,
	       p->mm_cid);
	if (p->rseq_flags_valid)
		printf("%u}, ", p->rseq_flags);
	else
		printf("null}, ");
	printf("\"slice_ext\": {\"prctl_get\": ");
	if (p->slice_get >= 0)
		printf("%ld, \"prctl_errno\": null", p->slice_get);
	else
		printf("null, \"prctl_errno\": \"%s\"", errno_name(p->slice_errno));
	printf(", \"available\": %s, \"enabled\": %s, ", slice_available(p) ? "true" : "false",
	       p->rseq_flags_valid && (p->rseq_flags & RSEQKIT_CS_FLAG_SLICE_EXT_ENABLED) ?
	       "true" : "false");
	json_str("why", slice_why(p), true);
	printf("\"decision\": \"%s\", ", p->slice.on ? "on" : "off");
	json_str("decision_reason", p->slice.reason, true);
	printf("\"thread_enabled\": %s", p->slice_thread == 1 ? "true" : "false");
	printf("}, ");
	json_str("reason", m->reason, false);
	printf("}\n");
}

static void probe_help(FILE *f)
{
	fprintf(f,
		"usage: rseqkit probe [--json]\n\n"
		"Shows what the running kernel, the C library and the calling thread offer:\n"
		"rseq(2) and its mode (legacy or optimized V2), who registered it, the usable\n"
		"fields, the current cpu/node/mm_cid, membarrier RSEQ fences and scheduler\n"
		"time slice extensions.\n\n"
		"  --json   one JSON object with stable keys:\n"
		"           rseqkit_version; kernel{release, rseq_syscall, rseq_errno, feature_size,\n"
		"           align, v2, membarrier_rseq, slice_ext_nsec}; libc{name, version,\n"
		"           rseq_symbols, rseq_size, rseq_offset}; thread{owner (none|glibc|rseqkit),\n"
		"           mode (unavailable|legacy|V2), registered_len, usable_size, signature,\n"
		"           fields[], cpu, node, mm_cid, rseq_flags}; slice_ext{prctl_get,\n"
		"           prctl_errno, available, enabled, why, decision (on|off),\n"
		"           decision_reason, thread_enabled}; reason\n"
		"  --help   this text\n");
}

int cmd_probe(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool json = false;
	struct probe p;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			probe_help(stdout);
			return 0;
		default:
			fprintf(stderr, "rseqkit probe: unknown option '%s'\n", argv[optind - 1]);
			probe_help(stderr);
			return CMD_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "rseqkit probe: unexpected argument '%s'\n", argv[optind]);
		return CMD_EXIT_USAGE;
	}
	probe_collect(&p);
	if (json)
		print_json(&p);
	else
		print_human(&p);
	return 0;
}
