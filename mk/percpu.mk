# SPDX-License-Identifier: MIT
#
# Per-CPU lane (issue 6). The benchmark harness bench/bench.c goes into
# libbench.a through the top Makefile's rule for bench/*.c that are not
# bench/b<N>_*.c; this fragment only documents the B1 options.
HELP_EXTRA += \
	'  build/bench/b1_percpu --csv b1.csv [--threads 1,2 --reps N --ops N]' \
	'                                 per-CPU benchmark B1; plot: bench/scripts/plot b1.csv'
