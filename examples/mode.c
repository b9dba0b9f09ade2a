// SPDX-License-Identifier: MIT
/*
 * mode.c - who registered rseq for this process, in which mode, and where
 * the calling thread runs.
 *
 *   cc mode.c $(pkg-config --cflags --libs librseqkit) -o mode && ./mode
 *   GLIBC_TUNABLES=glibc.pthread.rseq=0 ./mode    # let librseqkit register
 *
 * The library decides ownership once per process, from a constructor, before
 * main(): glibc's registration when glibc made one (rseqkit never registers
 * a second area), otherwise its own, sized for V2 when the kernel has V2.
 * Nothing here can fail on an old kernel: without rseq the reads fall back
 * to getcpu(2), and the mode says "unavailable" and why.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rseqkit/rseqkit.h>

static const char *const field_names[] = {
	"cpu_id_start", "cpu_id", "rseq_cs", "flags", "node_id", "mm_cid", "slice_ctrl",
};

int main(void)
{
	const char *tunables = getenv("GLIBC_TUNABLES");
	struct rseqkit_mode m;
	int ret;

	/* 0 when rseq is usable; -ENOSYS, -EPERM, ... when the fallbacks are in use.
	 * Neither is an error for a program: it only changes what is fast. */
	ret = rseqkit_init();
	if (rseqkit_get_mode(&m)) {
		fprintf(stderr, "mode: rseqkit_get_mode failed\n");
		return 1;
	}
	printf("owner %s, %s mode (rseqkit_init: %s)\n", rseqkit_owner_name(m.owner),
	       rseqkit_abi_mode_name(m.abi), ret ? strerror(-ret) : "ok");
	printf("kernel feature size %u, align %u; registered %u bytes, %u usable\n",
	       m.kernel_feature_size, m.kernel_align, m.registered_len, m.usable_size);

	/* A field is usable iff the registration's usable size covers it. */
	printf("usable fields:");
	for (unsigned int i = 0; i < sizeof(field_names) / sizeof(field_names[0]); i++)
		if (m.fields & (1U << i))
			printf(" %s", field_names[i]);
	printf("%s\n", m.fields ? "" : " none (getcpu fallback)");

	/* One load each when registered; mm_cid is a small index unique among the
	 * process's running threads (the CPU number stands in when unusable). */
	printf("now on cpu %d, node %d, mm_cid %d\n", rseqkit_cpu(), rseqkit_node(),
	       rseqkit_mm_cid());
	printf("%s\n", m.reason);

	/* Started by `rseqkit run` (glibc told to stay out): when rseq works,
	 * the owner is rseqkit, with a V2 area on a V2 kernel. */
	if (tunables && strstr(tunables, "glibc.pthread.rseq=0") && ret == 0 &&
	    m.owner != RSEQKIT_OWNER_SELF) {
		fprintf(stderr, "mode: glibc kept out, yet the owner is %s\n",
			rseqkit_owner_name(m.owner));
		return 1;
	}

	/* The decision is per process: every thread sees the same owner and mode. */
	if (m.owner != RSEQKIT_OWNER_NONE && rseqkit_thread_register()) {
		fprintf(stderr, "mode: the main thread is not registered\n");
		return 1;
	}
	return 0;
}
