# SPDX-License-Identifier: MIT
#
# rseqkit top-level Makefile (GNU make). Out of tree with O=dir (default build).
# Rules for programs are generated: adding a .c file to src/, tools/rseqkit/,
# tests/<tier>/ or bench/ is all it takes (see HACKING.md).

# ARCH=aarch64 (or arm64) on another host: cross build with Debian's
# $(CROSS_COMPILE)gcc into O=build-aarch64 (mk/cross.mk); the host build is
# ARCH's default, the machine's own architecture.
HOST_ARCH := $(shell uname -m)
ARCH ?= $(HOST_ARCH)
override ARCH := $(patsubst arm64,aarch64,$(patsubst amd64,x86_64,$(ARCH)))
ifneq ($(ARCH),$(HOST_ARCH))
CROSS_COMPILE ?= $(ARCH)-linux-gnu-
O ?= build-$(ARCH)
ifeq ($(origin CC),default)
CC := $(CROSS_COMPILE)gcc
endif
ifeq ($(origin AR),default)
AR := $(CROSS_COMPILE)ar
endif
endif
O ?= build
override O := $(patsubst %/,%,$(O))
CC ?= cc
CFLAGS ?= -O2 -g
SANITIZE ?=
WERROR ?=
CI ?=
ifneq ($(CI),)
WERROR := 1
endif

# Kernel-style quiet build; V=1 shows the commands.
V ?= 0
ifeq ($(V),1)
Q :=
say := @true
else
Q := @
say := @printf '  %-7s %s\n'
endif

VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
GIT_DESCRIBE := $(shell git describe --always --dirty 2>/dev/null || echo unknown)

WARN := -Wall -Wextra -Wshadow -Wpointer-arith -Wstrict-prototypes -Wmissing-prototypes
ifneq ($(WERROR),)
WARN += -Werror
endif
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE -Iinclude -Itests/harness $(WARN) \
	-fno-omit-frame-pointer -pthread -DRSEQKIT_VERSION='"$(VERSION)"' \
	-DRSEQKIT_GIT_DESCRIBE='"$(GIT_DESCRIBE)"'
HOST_CFLAGS := $(BASE_CFLAGS) $(if $(SANITIZE),-fsanitize=$(SANITIZE) -fno-sanitize-recover=all)
HOST_LDFLAGS := -pthread $(if $(SANITIZE),-fsanitize=$(SANITIZE))
# The VM runs fully static programs; sanitizers do not link statically.
STATIC_CFLAGS := $(BASE_CFLAGS)
STATIC_LDFLAGS := -pthread -static

LIB_SRCS := $(sort $(wildcard src/*.c))
TOOL_SRCS := $(sort $(wildcard tools/rseqkit/*.c))
HARNESS_SRCS := $(sort $(wildcard tests/harness/*.c))
TEST_TIERS := unit conformance stress fuzz
TEST_SRCS := $(sort $(foreach t,$(TEST_TIERS),$(wildcard tests/$(t)/*.c)))
# Benchmarks are bench/b<N>_<name>.c; other bench/*.c are their shared harness.
BENCH_SRCS := $(sort $(wildcard bench/b[0-9]*.c))
BENCH_LIB_SRCS := $(filter-out $(BENCH_SRCS),$(sort $(wildcard bench/*.c)))
HEADERS := $(sort $(wildcard include/rseqkit/*.h include/rseqkit/arch/*.h))
PUBLIC_HEADERS := $(sort $(wildcard include/rseqkit/*.h))

# Fragments of mk/ (VM lane, install, ...) extend these before the rules
# below use them: the VM lane adds itself to `make check` via CHECK_TARGETS.
CHECK_TARGETS := check-host
SOVERSION ?= 0
LIB_SO_LDFLAGS ?=
LIB_SO_DEPS ?=
-include $(sort $(wildcard mk/*.mk))

# Program names: tests/unit/foo.c -> tests/unit/foo
TEST_PROGS := $(TEST_SRCS:.c=)
BENCH_PROGS := $(BENCH_SRCS:.c=)

.PHONY: all static lib tools tests benches check check-host check-long check-headers \
	demo bench deps clean help
.DEFAULT_GOAL := $(if $(filter $(HOST_ARCH),$(ARCH)),all,cross)

all: lib tools tests benches
lib: $(O)/lib/librseqkit.a $(O)/lib/librseqkit.so
tools: $(O)/bin/rseqkit
tests: $(addprefix $(O)/,$(TEST_PROGS))
benches: $(addprefix $(O)/,$(BENCH_PROGS))
# Everything the VM initramfs needs.
static: $(O)/static/bin/rseqkit $(addprefix $(O)/static/,$(TEST_PROGS) $(BENCH_PROGS))

deps:
	@scripts/deps

# --- generated rules -------------------------------------------------------
# $(call VARIANT,prefix,cflags,ldflags): objects, libraries and programs of one
# build variant (host: $(O), static: $(O)/static).
define VARIANT
$(1)/obj/%.o: %.c $(HEADERS) $(wildcard tests/harness/*.h bench/*.h) src/interpose/locate.h Makefile
	@mkdir -p $$(@D)
	$(say) CC $$@
	$(Q)$$(CC) $(2) -fPIC -fvisibility=hidden $$(CFLAGS) -c -o $$@ $$<

$(1)/lib/librseqkit.a: $(LIB_SRCS:%.c=$(1)/obj/%.o)
	@mkdir -p $$(@D)
	$(say) AR $$@
	$(Q)rm -f $$@ && $$(AR) rcs $$@ $$^

$(1)/lib/libtap.a: $(HARNESS_SRCS:%.c=$(1)/obj/%.o)
	@mkdir -p $$(@D)
	$(say) AR $$@
	$(Q)rm -f $$@ && $$(AR) rcs $$@ $$^

$(1)/bin/rseqkit: $(TOOL_SRCS:%.c=$(1)/obj/%.o) $(1)/lib/librseqkit.a
	@mkdir -p $$(@D)
	$(say) LD $$@
	$(Q)$$(CC) $$(CFLAGS) -o $$@ $(TOOL_SRCS:%.c=$(1)/obj/%.o) $(1)/lib/librseqkit.a $(3)

$(1)/tests/%: $(1)/obj/tests/%.o $(1)/lib/libtap.a $(1)/lib/librseqkit.a
	@mkdir -p $$(@D)
	$(say) LD $$@
	$(Q)$$(CC) $$(CFLAGS) -o $$@ $$< $(1)/lib/libtap.a $(1)/lib/librseqkit.a $(3) -lm

$(1)/lib/libbench.a: $(BENCH_LIB_SRCS:%.c=$(1)/obj/%.o)
	@mkdir -p $$(@D)
	$(say) AR $$@
	$(Q)rm -f $$@ && $$(AR) rcs $$@ $$^

$(1)/bench/%: $(1)/obj/bench/%.o $(1)/lib/libbench.a $(1)/lib/libtap.a $(1)/lib/librseqkit.a
	@mkdir -p $$(@D)
	$(say) LD $$@
	$(Q)$$(CC) $$(CFLAGS) -o $$@ $$< $(1)/lib/libbench.a $(1)/lib/libtap.a $(1)/lib/librseqkit.a \
		$(3) -lm
endef

$(eval $(call VARIANT,$(O),$(HOST_CFLAGS),$(HOST_LDFLAGS)))
$(eval $(call VARIANT,$(O)/static,$(STATIC_CFLAGS),$(STATIC_LDFLAGS)))

# mk/install.mk adds the symbol version script (LIB_SO_LDFLAGS, LIB_SO_DEPS).
$(O)/lib/librseqkit.so: $(LIB_SRCS:%.c=$(O)/obj/%.o) $(LIB_SO_DEPS)
	@mkdir -p $(@D)
	$(say) LD $@
	$(Q)$(CC) $(CFLAGS) -shared -Wl,-soname,librseqkit.so.$(SOVERSION) $(LIB_SO_LDFLAGS) -o $@ \
		$(LIB_SRCS:%.c=$(O)/obj/%.o) $(HOST_LDFLAGS)

# Keep the objects: they are shared by several programs.
.SECONDARY:

# --- checks ------------------------------------------------------------------
RUN_TESTS := tests/harness/run-tests
# Stress programs run their short tier by default and the full matrix with --long.
HOST_TEST_LIST = $(addprefix $(O)/,$(TEST_PROGS)) $(sort $(wildcard tests/unit/*.sh)) $(EXTRA_HOST_TESTS)

check-host: deps all check-headers
	@echo "== host tests ($(shell uname -r)); log: $(O)/check-host.log"
	@RSEQKIT_BUILD=$(O) $(RUN_TESTS) -q -l $(O)/check-host.log $(HOST_TEST_LIST)

# Public headers compile alone, warning-free, as C11 and C++20 with gcc and clang.
check-headers: $(O)/check-headers.stamp
$(O)/check-headers.stamp: $(HEADERS)
	@mkdir -p $(@D)
	@set -e; for h in $(PUBLIC_HEADERS:include/%=%); do \
		printf '#include <%s>\ntypedef int rseqkit_header_check;\n' $$h > $(O)/hdr.c; \
		for cc in "gcc -std=c11" "clang -std=c11" "g++ -std=c++20 -x c++" "clang++ -std=c++20 -x c++"; do \
			$$cc -D_GNU_SOURCE -Iinclude -Wall -Wextra -Wpedantic -Werror -fsyntax-only $(O)/hdr.c \
				|| { echo "header $$h does not compile with $$cc"; exit 1; }; \
		done; \
	done; echo "headers: $(words $(PUBLIC_HEADERS)) compile with gcc/clang as C11 and C++20"; touch $@

check-long: all
	@RSEQKIT_BUILD=$(O) RSEQKIT_TEST_TIMEOUT=1800 $(RUN_TESTS) -l $(O)/check-long.log \
		$(addsuffix :--long,$(addprefix $(O)/,$(filter tests/stress/% tests/fuzz/%,$(TEST_PROGS))))

check: deps
	@$(MAKE) --no-print-directory $(CHECK_TARGETS)
	@echo "make check: all passed"

# The demo boots the patched kernel (scripts/demo); DEMO_SCENARIO=v2 by default.
demo: deps all static
	@O=$(O) scripts/demo

# Benchmarks: every bench/b<N>_* on this host, then B2-B4 in the VM on the
# deterministic guest clock (VM_CLOCK=icount), ours (v2) and upstream 7.2, at
# the kernel's default 5 us limit; CSV + PNG under $(O)/results/{host,vm-v2,
# vm-upstream}, the side-by-side tables and the targets summary under
# $(O)/results/compare (bench/scripts/vm-bench). BENCH_VM=0 skips the VM part.
BENCH_VM ?= 1
BENCH_SCENARIOS ?= v2 upstream
bench: deps all static
	@$(O)/bin/rseqkit bench --bench-dir $(O)/bench --out $(O)/results/host
	@scripts/results $(O)/results/host
	@if [ "$(BENCH_VM)" = 1 ]; then O=$(O) bench/scripts/vm-bench $(BENCH_SCENARIOS); fi

clean:
	rm -rf $(O)

help:
	@echo "rseqkit $(VERSION): make targets"
	@echo "  make              build library, command, tests, benchmarks into O=$(O)"
	@echo "  make demo         install packages, build, show what this machine offers"
	@echo "  make check        everything: host tests, then the VM lane"
	@echo "  make check-host   host tests only"
	@echo "  make check-long   long stress sweeps"
	@echo "  make bench        benchmarks: host, then B2-B4 on the patched kernel (BENCH_VM=0: host only)"
	@echo "  options: O=dir  SANITIZE=address,undefined  WERROR=1  CC=clang  V=1"
	@$(if $(HELP_EXTRA),printf '%s\n' $(HELP_EXTRA))
