// SPDX-License-Identifier: MIT
/*
 * R4.3: user writes to the read-only ID fields. Legacy: tolerated, the
 * kernel overwrites them (TCMalloc relies on it for cpu_id_start). V2: the
 * process is killed with SIGSEGV, at the latest when the kernel next writes
 * the ID fields - forced here by a migration to another CPU. One forked child
 * per field and mode.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "ct_rseq.h"
#include "tap.h"

static struct kfeat k;

static const struct {
	const char *name;
	size_t off;
} fields[] = {
	{ "cpu_id_start", RSEQKIT_OFF_CPU_ID_START },
	{ "cpu_id", RSEQKIT_OFF_CPU_ID },
	{ "node_id", RSEQKIT_OFF_NODE_ID },
	{ "mm_cid", RSEQKIT_OFF_MM_CID },
};

struct scr {
	enum ct_mode m;
	int field;
};

/* Exit 0: survived and the field was rewritten; 2: setup; 3: survived but
 * the field kept the scribbled value. */
static int scribble_child(void *arg)
{
	struct scr *s = arg;
	struct ct_area a;
	volatile uint32_t *f;
	uint32_t bad;
	unsigned int cpu, node;

	if (tap_pin_cpu(ct_cpu(0)) || ct_area_register(&a, &k, s->m))
		return 2;
	f = (volatile uint32_t *)((char *)a.rs + fields[s->field].off);
	bad = *f ^ 0x40404040u;
	*f = bad;
	tap_pin_cpu(ct_cpu(1));		/* the IDs change: the kernel writes them */
	for (int i = 0; i < 100; i++)
		usleep(1000);
	ct_getcpu(&cpu, &node);
	if (*f == bad)
		return 3;
	if (a.rs->cpu_id != cpu || a.rs->cpu_id_start != cpu || a.rs->node_id != node)
		return 4;
	return 0;
}

int main(int argc, char **argv)
{
	const char *why;

	(void)argc;
	ct_start(argv, &k, "R4.3");
	for (int m = CT_LEGACY; m <= CT_V2; m++) {
		const char *mn = ct_mode_name((enum ct_mode)m);

		for (int i = 0; i < (int)(sizeof(fields) / sizeof(fields[0])); i++) {
			struct scr s = { (enum ct_mode)m, i };

			if (!ct_mode_usable(&k, (enum ct_mode)m, &why) ||
			    (ct_ncpus() < 2 && (why = "needs 2 CPUs to force a migration"))) {
				tap_skip("R4.3 %s: write to %s then migrate: %s", mn, fields[i].name, why);
				continue;
			}
			if (m == CT_LEGACY)
				tap_fork_expect_exit(scribble_child, &s, 0,
						     "R4.3 legacy: write to %s tolerated, rewritten after a migration",
						     fields[i].name);
			else
				tap_fork_expect_signal(scribble_child, &s, SIGSEGV,
						       "R4.3 V2: write to %s then a migration -> SIGSEGV",
						       fields[i].name);
		}
	}
	return tap_done();
}
