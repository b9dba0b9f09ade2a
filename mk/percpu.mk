# SPDX-License-Identifier: MIT
#
# Per-CPU lane (issue 6): bench/bench.c is the shared benchmark harness
# (bench/bench.h), not a program: it is archived with the TAP harness into
# libtap.a, which every bench program links.
BENCH_SRCS := $(filter-out bench/bench.c,$(BENCH_SRCS))
HARNESS_SRCS += bench/bench.c

HELP_EXTRA += \
	'  build/bench/b1_percpu --csv b1.csv    per-CPU benchmark B1 with CSV; bench/scripts/plot b1.csv'
