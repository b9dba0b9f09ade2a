// SPDX-License-Identifier: MIT
/* What the kernel offers the tests, declared or probed: see kfeat.h. */

#include "kfeat.h"
#include "tap.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

#include <rseqkit/abi.h>

static const char *word(const struct kfacts *decl, const struct kfacts *probed,
			enum kfacts_key key)
{
	return (decl->have & (1U << key)) ? decl->value[key] : probed->value[key];
}

static enum kfeat_slice slice_of(const char *w)
{
	static const char *const names[] = {
		[KFEAT_SLICE_NONE] = "none", [KFEAT_SLICE_OUT] = "out",
		[KFEAT_SLICE_OFF] = "off", [KFEAT_SLICE_ON] = "on",
	};
	unsigned int i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(w, names[i]))
			return i;
	return KFEAT_SLICE_UNKNOWN;
}

void kfeat_probe(struct kfeat *k)
{
	struct kfacts probed, decl;
	char err[300];
	const char *scen;
	int n, key;

	memset(k, 0, sizeof(*k));
	kfacts_probe(&probed);
	n = kfacts_declared(&decl, err, sizeof(err));
	if (n < 0)
		tap_bail("malformed scenario declaration: %s", err);
	k->scenario = getenv("RSEQKIT_SCENARIO");
	scen = k->scenario ? k->scenario : "(environment)";
	if (n > 0 && probed.sandboxed) {
		/* A seccomp filter (e.g. "rseq -> ENOSYS") is this process's
		 * view, not the kernel's: the declaration does not apply. */
		tap_diag("seccomp filter installed: scenario %s expectations not applied", scen);
		memset(&decl, 0, sizeof(decl));
	}
	k->declared = decl.have;
	memcpy(k->expect, decl.value, sizeof(k->expect));
	for (key = 0; key < KFACTS_NKEYS; key++) {
		if (!kfacts_mismatch(&decl, &probed, key))
			continue;
		k->mismatches |= 1U << key;
		tap_ok(false, "scenario %s declares %s=%s; the kernel shows %s (%s)", scen,
		       kfacts_key_name(key), decl.value[key], probed.value[key],
		       probed.detail[key]);
	}

	k->rseq = strcmp(word(&decl, &probed, KFACTS_ABI), "none") != 0;
	k->v2 = !strcmp(word(&decl, &probed, KFACTS_ABI), "v2");
	k->v2_kernel = k->v2 || !strcmp(word(&decl, &probed, KFACTS_ABI), "legacy-arch");
	k->feature_size = getauxval(RSEQKIT_AT_RSEQ_FEATURE_SIZE);
	if (!k->feature_size)
		k->feature_size = RSEQKIT_LEGACY_USABLE_SIZE;
	k->align = getauxval(RSEQKIT_AT_RSEQ_ALIGN);
	if (!k->align)
		k->align = RSEQKIT_ORIG_SIZE;
	k->slice = slice_of(word(&decl, &probed, KFACTS_SLICE));
	k->stats = !strcmp(word(&decl, &probed, KFACTS_STATS), "yes");
	k->slice_knob = !strcmp(word(&decl, &probed, KFACTS_KNOB), "yes");
	k->membarrier_rseq = !strcmp(word(&decl, &probed, KFACTS_MEMBARRIER_RSEQ), "yes");
	snprintf(k->trace, sizeof(k->trace), "%s", word(&decl, &probed, KFACTS_TRACE));
	/* The declaration is about glibc left alone; told not to, it does not. */
	if (probed.glibc_tunable_off)
		k->glibc = KFEAT_GLIBC_NONE;
	else if (!strcmp(word(&decl, &probed, KFACTS_GLIBC), "v2"))
		k->glibc = KFEAT_GLIBC_V2;
	else if (!strcmp(word(&decl, &probed, KFACTS_GLIBC), "legacy"))
		k->glibc = KFEAT_GLIBC_LEGACY;
	else
		k->glibc = KFEAT_GLIBC_NONE;
}

bool kfeat_declared(const struct kfeat *k, enum kfacts_key key)
{
	return key < KFACTS_NKEYS && (k->declared & (1U << key));
}

/* word is one of the blank-separated words of list. */
static bool has_word(const char *list, const char *word)
{
	size_t n = strlen(word);
	const char *p;

	for (p = list; n && (p = strstr(p, word)); p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == 0 || p[n] == ' '))
			return true;
	return false;
}

bool kfeat_has_trace(const struct kfeat *k, const char *event)
{
	return has_word(k->trace, event);
}

bool kfeat_promises(const struct kfeat *k, enum kfacts_key key, const char *value)
{
	if (!kfeat_declared(k, key))
		return false;
	if (key == KFACTS_TRACE)
		return has_word(k->expect[key], value);
	return !strcmp(k->expect[key], value);
}

void kfeat_diag(const struct kfeat *k)
{
	static const char *const slice[] = { "none", "compiled out", "off at boot", "on", "unknown" };
	static const char *const glibc[] = { "none", "legacy", "v2" };

	tap_diag("kernel: rseq %s, feature size %lu, align %lu, V2 %s, slice %s, stats %s, knob %s, membarrier rseq %s",
		 k->rseq ? "yes" : "no", k->feature_size, k->align, k->v2 ? "yes" : "no",
		 slice[k->slice], k->stats ? "yes" : "no", k->slice_knob ? "yes" : "no",
		 k->membarrier_rseq ? "yes" : "no");
	tap_diag("kernel: rseq tracepoints %s; glibc registration of this program: %s", k->trace,
		 glibc[k->glibc]);
	if (k->declared)
		tap_diag("expectations of scenario %s: declared (mask %#x), mismatches %#x",
			 k->scenario ? k->scenario : "(environment)", k->declared, k->mismatches);
	else
		tap_diag("no scenario expectations: features as probed");
}

static void vmissing(const struct kfeat *k, bool promised, bool all,
		     const char *fmt, va_list ap)
{
	const char *scen = k->scenario ? k->scenario : "(environment)";
	char why[512];

	vsnprintf(why, sizeof(why), fmt, ap);
	if (!promised) {
		if (all)
			tap_skip_all("%s", why);
		tap_skip("%s", why);
		return;
	}
	if (all)
		tap_bail("%s, but scenario %s promises it", why, scen);
	tap_ok(false, "%s, but scenario %s promises it", why, scen);
}

void kfeat_missing(const struct kfeat *k, bool promised, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmissing(k, promised, false, fmt, ap);
	va_end(ap);
}

void kfeat_missing_all(const struct kfeat *k, bool promised, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmissing(k, promised, true, fmt, ap);
	va_end(ap);
	tap_bail("unreachable");
}

int kfeat_read_stats(struct kfeat_stats *s)
{
	return rseqkit_kstats_read(s);
}

struct kfeat_stats kfeat_stats_delta(const struct kfeat_stats *a,
				     const struct kfeat_stats *b)
{
	struct kfeat_stats d;

	rseqkit_kstats_delta(&d, a, b);
	return d;
}
