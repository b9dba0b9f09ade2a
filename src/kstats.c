// SPDX-License-Identifier: MIT
/* The kernel's RSEQ counters from debugfs (rseqkit/kstats.h). */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <rseqkit/kstats.h>
#include "internal.h"

static const struct {
	const char *name;
	size_t off;
} kstats_fields[] = {
#define F(x) { #x, offsetof(struct rseqkit_kstats, x) }
	F(exit), F(signal), F(slowp), F(fastp), F(ids), F(cs), F(clear), F(fixup),
	F(sgrant), F(sexpir), F(srevok), F(syield), F(sabort),
#undef F
};

#define NFIELDS (sizeof(kstats_fields) / sizeof(kstats_fields[0]))

int rseqkit_kstats_read(struct rseqkit_kstats *s)
{
	unsigned long long v;
	char name[32];
	FILE *f;

	memset(s, 0, sizeof(*s));
	f = fopen(RSEQKIT_KSTATS_PATH, "r");
	if (!f)
		return -errno;
	while (fscanf(f, " %31[^:]: %llu", name, &v) == 2) {
		for (size_t i = 0; i < NFIELDS; i++)
			if (!strcmp(name, kstats_fields[i].name))
				*(uint64_t *)((char *)s + kstats_fields[i].off) = v;
	}
	fclose(f);
	return 0;
}

void rseqkit_kstats_delta(struct rseqkit_kstats *d, const struct rseqkit_kstats *before,
			  const struct rseqkit_kstats *after)
{
	for (size_t i = 0; i < NFIELDS; i++) {
		size_t off = kstats_fields[i].off;

		*(uint64_t *)((char *)d + off) = *(const uint64_t *)((const char *)after + off) -
						  *(const uint64_t *)((const char *)before + off);
	}
}
