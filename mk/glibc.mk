# SPDX-License-Identifier: MIT
#
# Real glibc clients for the VM lane: dynamically linked builds of the
# programs that use glibc's rseq registration, one set per Debian glibc
# (GLIBC_SUITES: trixie = glibc 2.41, sid = glibc 2.43), plus the kernel's rseq
# selftests (Debian sid's linux-source-7.2) built the same way. Included by
# the top Makefile (-include mk/*.mk).
#
#   make dyn            $(O)/dyn/SUITE/... for every suite
#   make dyn-SUITE      one suite
#
# Built on this host against its (older) glibc headers: glibc is backward
# compatible, so the binaries only need symbol versions every newer glibc has.
# Each program carries the guest paths of its suite's root (scripts/glibc-rootfs,
# packed by vm/check at /glibc/SUITE):
#   ELF interpreter  /glibc/SUITE/lib/ld-linux-x86-64.so.2
#   DT_RPATH         /glibc/SUITE/lib:/rseqkit/SUITE/lib:/rseqkit/SUITE/selftests
# (DT_RPATH, not RUNPATH: it also covers libc's own dependencies), so in the
# guest the suite's loader and libc are used whatever the program's path, and
# re-executing /proc/self/exe keeps them. librseqkit.so.0 is in
# $(O)/dyn/SUITE/lib (guest /rseqkit/SUITE/lib).
#
# What is built: tests/unit/*, tests/conformance/*, tests/fuzz/* (static librseqkit.a, as
# the host build), examples/* and bin/rseqkit (against librseqkit.so, as users
# link them), and the selftests. On the host, try one with its suite's loader:
#   $$(scripts/glibc-rootfs trixie)/lib/ld-linux-x86-64.so.2 --library-path \
#     $$(scripts/glibc-rootfs trixie)/lib:$(O)/dyn/trixie/lib $(O)/dyn/trixie/bin/rseqkit probe

GLIBC_SUITES ?= trixie sid
# trinity: only the sid root has it (scripts/glibc-rootfs).
GLIBC_CACHE := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/rseqkit/debian
GLIBC_DYN_TESTS := $(patsubst %.c,%,$(sort $(wildcard tests/unit/*.c tests/conformance/*.c tests/fuzz/*.c)))
GLIBC_DYN_EXAMPLES := $(patsubst %.c,%,$(sort $(wildcard examples/*.c)))

# $(call GLIBC_LDFLAGS,suite)
GLIBC_LDFLAGS = -pthread -Wl,--dynamic-linker=/glibc/$(1)/lib/ld-linux-x86-64.so.2 \
	-Wl,--disable-new-dtags -Wl,-rpath,/glibc/$(1)/lib:/rseqkit/$(1)/lib:/rseqkit/$(1)/selftests

# The rseq selftests of linux-source-7.2, unpacked once from the tarball
# scripts/deps fetched (only the files they need; never committed here).
SELFTESTS_TAR := $(GLIBC_CACHE)/linux-source-7.2/linux-source-7.2.tar.xz
SELFTESTS_SRC := $(GLIBC_CACHE)/linux-source-7.2/selftests-src
SELFTESTS_DIR := $(SELFTESTS_SRC)/tools/testing/selftests/rseq
SELFTESTS_CFLAGS := -O2 -g -Wall -I$(SELFTESTS_DIR) -I$(SELFTESTS_DIR)/.. -I$(SELFTESTS_SRC)/tools/include \
	-I$(SELFTESTS_SRC)/tools/arch/x86/include
# name:extra-cflags:source (the variants of the selftests' own Makefile; '~'
# separates two flags).
SELFTESTS := basic_test::basic_test basic_percpu_ops_test::basic_percpu_ops_test \
	basic_percpu_ops_mm_cid_test:-DBUILDOPT_RSEQ_PERCPU_MM_CID:basic_percpu_ops_test \
	param_test::param_test param_test_compare_twice:-DRSEQ_COMPARE_TWICE:param_test \
	param_test_mm_cid:-DBUILDOPT_RSEQ_PERCPU_MM_CID:param_test \
	param_test_benchmark:-DBENCHMARK:param_test \
	param_test_mm_cid_benchmark:-DBUILDOPT_RSEQ_PERCPU_MM_CID~-DBENCHMARK:param_test \
	syscall_errors_test::syscall_errors_test legacy_check::legacy_check \
	slice_test::slice_test check_optimized::check_optimized

$(SELFTESTS_SRC)/.stamp:
	@[ -f '$(SELFTESTS_TAR)' ] || { echo "glibc.mk: $(SELFTESTS_TAR) missing: run scripts/deps" >&2; exit 1; }
	$(say) UNTAR $(SELFTESTS_SRC)
	$(Q)rm -rf '$(SELFTESTS_SRC).tmp' && mkdir -p '$(SELFTESTS_SRC).tmp'
	$(Q)tar -xJf '$(SELFTESTS_TAR)' -C '$(SELFTESTS_SRC).tmp' --strip-components=1 --wildcards \
		'*/tools/testing/selftests/rseq/*' '*/tools/testing/selftests/kselftest*.h' \
		'*/tools/include/*' '*/tools/arch/x86/include/*'
	$(Q)touch '$(SELFTESTS_SRC).tmp/.stamp' && rm -rf '$(SELFTESTS_SRC)' && \
		mv '$(SELFTESTS_SRC).tmp' '$(SELFTESTS_SRC)'

# $(call GLIBC_SUITE_RULES,suite)
define GLIBC_SUITE_RULES
$(O)/dyn/$(1)/tests/%: $(O)/obj/tests/%.o $(O)/lib/libtap.a $(O)/lib/librseqkit.a
	@mkdir -p $$(@D)
	$$(say) LD $$@
	$$(Q)$$(CC) $$(CFLAGS) -o $$@ $$< $(O)/lib/libtap.a $(O)/lib/librseqkit.a \
		$(call GLIBC_LDFLAGS,$(1)) -lm

# Also as librseqkit.so, the name tests/unit/dlclose opens (a copy: the
# initramfs takes files only).
$(O)/dyn/$(1)/lib/librseqkit.so.0 $(O)/dyn/$(1)/lib/librseqkit.so: $(O)/lib/librseqkit.so
	@mkdir -p $$(@D)
	$$(Q)cp $$< $$@

$(O)/dyn/$(1)/bin/rseqkit: $(TOOL_SRCS:%.c=$(O)/obj/%.o) $(O)/lib/librseqkit.so
	@mkdir -p $$(@D)
	$$(say) LD $$@
	$$(Q)$$(CC) $$(CFLAGS) -o $$@ $(TOOL_SRCS:%.c=$(O)/obj/%.o) $(O)/lib/librseqkit.so \
		$(call GLIBC_LDFLAGS,$(1))

$(O)/dyn/$(1)/examples/%: examples/%.c $(HEADERS) $(O)/lib/librseqkit.so
	@mkdir -p $$(@D)
	$$(say) CC $$@
	$$(Q)$$(CC) -std=c11 -D_GNU_SOURCE -Iinclude -Wall -Wextra $$(CFLAGS) -o $$@ $$< \
		$(O)/lib/librseqkit.so $(call GLIBC_LDFLAGS,$(1))

$(O)/dyn/$(1)/selftests/librseq.so: $(SELFTESTS_SRC)/.stamp
	@mkdir -p $$(@D)
	$$(say) CC $$@
	$$(Q)$$(CC) $(SELFTESTS_CFLAGS) -shared -fPIC -Wl,-soname,librseq.so -o $$@ $(SELFTESTS_DIR)/rseq.c \
		$(call GLIBC_LDFLAGS,$(1)) -ldl

$(O)/dyn/$(1)/selftests/%: $(O)/dyn/$(1)/selftests/librseq.so
	@mkdir -p $$(@D)
	$$(say) CC $$@
	$$(Q)set -e; for t in $(SELFTESTS); do \
		name=$$$${t%%:*}; rest=$$$${t#*:}; def=$$$${rest%%:*}; src=$$$${rest#*:}; \
		[ "$$$$name" = "$$*" ] || continue; \
		$$(CC) $(SELFTESTS_CFLAGS) $$$$(echo "$$$$def" | tr '~' ' ') -o $$@ $(SELFTESTS_DIR)/$$$$src.c \
			$$< $(call GLIBC_LDFLAGS,$(1)) -ldl; exit 0; \
	done; echo "glibc.mk: no selftest named $$*" >&2; exit 1

# trinity (Debian sid's, scripts/glibc-rootfs), run in the guest through this
# suite's loader: trinity/loader --library-path /glibc/SUITE/lib @DYN@/trinity/trinity ...
$(O)/dyn/$(1)/trinity/trinity: $(GLIBC_CACHE)/glibc-$(1)/bin/trinity
	@mkdir -p $$(@D)
	$$(Q)cp $$< $$@
$(O)/dyn/$(1)/trinity/loader: $(GLIBC_CACHE)/glibc-$(1)/lib/ld-linux-x86-64.so.2
	@mkdir -p $$(@D)
	$$(Q)cp $$< $$@

.PHONY: dyn-$(1)
dyn-$(1): $(addprefix $(O)/dyn/$(1)/,$(GLIBC_DYN_TESTS) $(GLIBC_DYN_EXAMPLES) bin/rseqkit \
	lib/librseqkit.so.0 lib/librseqkit.so $(foreach t,$(SELFTESTS),selftests/$(firstword $(subst :, ,$(t)))) \
	$(if $(wildcard $(GLIBC_CACHE)/glibc-$(1)/bin/trinity),trinity/trinity trinity/loader))
endef

$(foreach s,$(GLIBC_SUITES),$(eval $(call GLIBC_SUITE_RULES,$(s))))

.PHONY: dyn
dyn: $(addprefix dyn-,$(GLIBC_SUITES))

HELP_EXTRA += \
	'  make dyn                       dynamic builds for the glibc roots ($(GLIBC_SUITES)): $(O)/dyn/SUITE'

# The VM lane packs $(O)/dyn for scenarios with ROOTFS (vm/check).
vm-check: dyn
vm-check-long: dyn
