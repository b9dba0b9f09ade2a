# SPDX-License-Identifier: MIT
#
# librseqkit-slicelocks.so, the LD_PRELOAD interposer of `rseqkit run
# --slice-locks` (src/interpose/), and its host tests (tests/interpose/).
# Included by the top Makefile before its rules.
#
# The interposer links librseqkit.so dynamically, found next to it
# ($ORIGIN): a program that uses librseqkit itself then shares one library,
# one registration and one slice policy with it. Its tests are dynamic
# programs too (they run under LD_PRELOAD); they have no static variant.

SLICELOCKS_SRCS := $(sort $(wildcard src/interpose/*.c))
# Every wrapped call pays the wrapper: no frame pointer in this hot path.
SLICELOCKS_CFLAGS ?= -fomit-frame-pointer
SLICELOCKS_SO := $(O)/lib/librseqkit-slicelocks.so
INTERPOSE_TEST_SRCS := $(sort $(wildcard tests/interpose/*.c))
INTERPOSE_TESTS := $(INTERPOSE_TEST_SRCS:%.c=$(O)/%)

.PHONY: slicelocks
all: slicelocks
slicelocks: $(SLICELOCKS_SO) $(INTERPOSE_TESTS)

$(O)/obj/src/interpose/%.o: src/interpose/%.c src/interpose/slicelocks.h $(HEADERS) Makefile mk/interpose.mk
	@mkdir -p $(@D)
	$(say) CC $@
	$(Q)$(CC) $(HOST_CFLAGS) -fPIC -fvisibility=hidden $(CFLAGS) $(SLICELOCKS_CFLAGS) -c -o $@ $<

# The SONAME the loader looks for, next to the build's librseqkit.so.
$(O)/lib/librseqkit.so.$(SOVERSION): $(O)/lib/librseqkit.so
	$(Q)ln -sfn librseqkit.so $@

$(SLICELOCKS_SO): $(SLICELOCKS_SRCS:%.c=$(O)/obj/%.o) $(O)/lib/librseqkit.so.$(SOVERSION)
	@mkdir -p $(@D)
	$(say) LD $@
	$(Q)$(CC) $(CFLAGS) -shared -Wl,-soname,librseqkit-slicelocks.so -Wl,-z,now \
		-Wl,-rpath,'$$ORIGIN' -o $@ $(SLICELOCKS_SRCS:%.c=$(O)/obj/%.o) \
		-L$(O)/lib -l:librseqkit.so -ldl $(HOST_LDFLAGS)

$(O)/tests/interpose/%: $(O)/obj/tests/interpose/%.o $(O)/lib/libtap.a \
		$(O)/lib/librseqkit.so.$(SOVERSION) $(SLICELOCKS_SO)
	@mkdir -p $(@D)
	$(say) LD $@
	$(Q)$(CC) $(CFLAGS) -o $@ $< $(O)/lib/libtap.a -Wl,-rpath,'$$ORIGIN/../../lib' \
		-L$(O)/lib -l:librseqkit.so $(HOST_LDFLAGS) -lm

# make check-host runs them with the other host tests.
EXTRA_HOST_TESTS += $(INTERPOSE_TESTS)

# The VM driver of the real-software measurements (bench/real/README.md): a
# static program in $(O)/static/bin, so `make vm-run` puts it on the guest's PATH.
REALBENCH := $(O)/static/bin/rseqkit-realbench
slicelocks: $(REALBENCH)
$(REALBENCH): bench/real/driver.c $(O)/static/lib/librseqkit.a $(HEADERS)
	@mkdir -p $(@D)
	$(say) LD $@
	$(Q)$(CC) $(STATIC_CFLAGS) $(CFLAGS) -o $@ $< $(O)/static/lib/librseqkit.a $(STATIC_LDFLAGS)

$(O)/obj/tests/interpose/%.o: tests/interpose/%.c $(wildcard tests/interpose/*.h tests/interpose/*.c) $(HEADERS) src/interpose/locate.h
	@mkdir -p $(@D)
	$(say) CC $@
	$(Q)$(CC) $(HOST_CFLAGS) $(CFLAGS) -c -o $@ $<

# Uncontended cost per lock/unlock pair without / off / on (a dynamic
# program without librseqkit; the interposer brings it).
SLICELOCKS_OVERHEAD := $(O)/bench/real/slicelocks-overhead
slicelocks: $(SLICELOCKS_OVERHEAD)
$(SLICELOCKS_OVERHEAD): bench/real/overhead.c
	@mkdir -p $(@D)
	$(say) LD $@
	$(Q)$(CC) $(HOST_CFLAGS) $(CFLAGS) -o $@ $< $(HOST_LDFLAGS)

# make install / uninstall: the interposer goes next to librseqkit.so.0 in
# LIBDIR ($ORIGIN finds it there), where `rseqkit run` looks (../lib).
.PHONY: install-slicelocks uninstall-slicelocks
install: install-slicelocks
install-slicelocks: $(SLICELOCKS_SO)
	@$(INSTALL) -d '$(DESTDIR)$(LIBDIR)'
	@$(INSTALL) -m 755 $(SLICELOCKS_SO) '$(DESTDIR)$(LIBDIR)/librseqkit-slicelocks.so'
	@echo "  librseqkit-slicelocks.so (rseqkit run --slice-locks) in $(DESTDIR)$(LIBDIR)"
uninstall: uninstall-slicelocks
uninstall-slicelocks:
	@rm -f '$(DESTDIR)$(LIBDIR)/librseqkit-slicelocks.so'

# --- the VM lane -------------------------------------------------------------
# The guest has no libc: the tests are linked once more for the guest, with
# ld.so and RPATH in /extra/lib, where `make vm-check-slicelocks` packs this
# host's ld.so, libc, libm, libgcc_s (glibc loads it for pthread_cancel), the
# interposer and librseqkit.so.0 (EXTRA -> /extra). DT_RPATH (not RUNPATH),
# so that glibc's own dlopen of libgcc_s searches it too. Host and guest then
# run the same glibc (2.36 here: rseqkit owns the V2 registration).
SLICELOCKS_VM := $(O)/slicelocks-vm
SLICELOCKS_VM_TESTS := $(INTERPOSE_TEST_SRCS:%.c=$(SLICELOCKS_VM)/%)
SLICELOCKS_VM_LIBS := libc.so.6 libm.so.6 libgcc_s.so.1

$(SLICELOCKS_VM)/tests/interpose/%: $(O)/obj/tests/interpose/%.o $(O)/lib/libtap.a \
		$(O)/lib/librseqkit.so.$(SOVERSION)
	@mkdir -p $(@D)
	$(say) LD $@
	$(Q)$(CC) $(CFLAGS) -o $@ $< $(O)/lib/libtap.a -L$(O)/lib -l:librseqkit.so \
		-Wl,--dynamic-linker=/extra/lib/ld-linux-x86-64.so.2 -Wl,--disable-new-dtags \
		-Wl,-rpath,/extra/lib $(HOST_LDFLAGS) -lm

$(SLICELOCKS_VM)/lib/.stamp: $(SLICELOCKS_SO) $(O)/lib/librseqkit.so
	@mkdir -p $(@D)
	$(Q)cp -L /lib64/ld-linux-x86-64.so.2 $(@D)/
	$(Q)for l in $(SLICELOCKS_VM_LIBS); do \
		cp -L "$$($(CC) -print-file-name=$$l)" $(@D)/$$l || exit 1; done
	$(Q)cp -L $(SLICELOCKS_SO) $(O)/lib/librseqkit.so $(@D)/
	$(Q)ln -sfn librseqkit.so $(@D)/librseqkit.so.$(SOVERSION)
	@touch $@

$(SLICELOCKS_VM)/bench/slicelocks-overhead: bench/real/overhead.c
	@mkdir -p $(@D)
	$(say) LD $@
	$(Q)$(CC) $(HOST_CFLAGS) $(CFLAGS) -o $@ $< -Wl,--dynamic-linker=/extra/lib/ld-linux-x86-64.so.2 \
		-Wl,--disable-new-dtags -Wl,-rpath,/extra/lib $(HOST_LDFLAGS)

slicelocks-vm: $(SLICELOCKS_VM_TESTS) $(SLICELOCKS_VM)/lib/.stamp $(REALBENCH) static \
	$(SLICELOCKS_VM)/bench/slicelocks-overhead

# Every interposer test in one boot (rseqkit-realbench runs them in turn;
# 77 = skip is fine). `make check` runs it on the scenarios below.
SLICELOCKS_VM_SCENARIOS ?= baseline v2 upstream
.PHONY: slicelocks-vm vm-check-slicelocks
vm-check-slicelocks: slicelocks-vm
	@set -e; for s in $(or $(SCENARIO),$(SLICELOCKS_VM_SCENARIOS)); do \
		echo "== interposer tests in the VM ($$s)"; \
		O=$(O) VM_FILTER=prog vm/run-prog $$s \
			"rseqkit-realbench --reps 1 --modes plain --pass-skip \
			$(foreach t,$(INTERPOSE_TEST_SRCS:tests/interpose/%.c=%),-- $(t) /extra/tests/interpose/$(t))" \
			$(SLICELOCKS_VM); \
	done
CHECK_TARGETS += vm-check-slicelocks

# The real-software measurements (bench/real/run): sysbench and kccachetest,
# extensions off/on, in the VM. Not part of make check (numbers, not verdicts).
.PHONY: bench-slicelocks
bench-slicelocks: slicelocks-vm
	@O=$(O) bench/real/run $(or $(SCENARIO),v2)
HELP_EXTRA += \
	'  make vm-check-slicelocks [SCENARIO=v2]  interposer tests in the VM' \
	'  make bench-slicelocks [SCENARIO=v2]     sysbench, kccachetest: extensions off/on in the VM'

# The tests once more per glibc root (mk/glibc.mk: trixie 2.41, sid 2.43), for
# the path where glibc registers V2 itself: `make dyn` builds them with the
# interposer next to the suite's librseqkit.so.0 (guest /rseqkit/SUITE/lib).
# Run: make vm-check SCENARIO=v2 VM_TESTS=none VM_ROOTFS=trixie \
#        VM_DYN_TESTS='tests/interpose/calls;tests/interpose/grants'
define SLICELOCKS_SUITE_RULES
$(O)/dyn/$(1)/tests/interpose/%: $(O)/obj/tests/interpose/%.o $(O)/lib/libtap.a $(O)/dyn/$(1)/lib/librseqkit.so.0
	@mkdir -p $$(@D)
	$$(say) LD $$@
	$$(Q)$$(CC) $$(CFLAGS) -o $$@ $$< $(O)/lib/libtap.a $(O)/dyn/$(1)/lib/librseqkit.so.0 \
		$(call GLIBC_LDFLAGS,$(1)) -lm

$(O)/dyn/$(1)/lib/librseqkit-slicelocks.so: $(SLICELOCKS_SO)
	@mkdir -p $$(@D)
	$$(Q)cp $$< $$@

dyn-$(1): $(INTERPOSE_TEST_SRCS:%.c=$(O)/dyn/$(1)/%) $(O)/dyn/$(1)/lib/librseqkit-slicelocks.so
endef
$(foreach s,$(GLIBC_SUITES),$(eval $(call SLICELOCKS_SUITE_RULES,$(s))))
