// SPDX-License-Identifier: MIT
/* rseqkit: the command. Dispatches to one subcommand per file. */
#include <stdio.h>
#include <string.h>

#include "cmd.h"

static const struct cmd cmds[] = {
	{ "probe", "what this kernel, libc and thread offer (--json for machines)", cmd_probe },
	{ "run", "start a program so rseqkit registers V2 (glibc stays out)", cmd_run },
	{ "demo", "show RSEQ, V2 and a time slice extension working here", cmd_demo },
	{ "bench", "run the benchmarks, CSV per benchmark (--dump: on stdout)", cmd_bench },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: rseqkit [--help] [--version] <command> [options]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-8s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(f, "\n`rseqkit <command> --help` describes each command.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return CMD_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("rseqkit %s (%s)\n", RSEQKIT_VERSION, RSEQKIT_GIT_DESCRIBE);
		return 0;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].run(argc - 1, argv + 1);
	fprintf(stderr, "rseqkit: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return CMD_EXIT_USAGE;
}
