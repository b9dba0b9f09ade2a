/* SPDX-License-Identifier: MIT */
/* The rseqkit command: one file per subcommand, registered in main.c. */
#ifndef RSEQKIT_CMD_H
#define RSEQKIT_CMD_H

struct cmd {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);	/* argv[0] is the subcommand */
};

int cmd_probe(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_bench(int argc, char **argv);

/* Exit status for bad usage, as in most Unix tools. */
#define CMD_EXIT_USAGE 2

#endif /* RSEQKIT_CMD_H */
