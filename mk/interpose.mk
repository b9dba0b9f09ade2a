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
SLICELOCKS_SO := $(O)/lib/librseqkit-slicelocks.so
INTERPOSE_TEST_SRCS := $(sort $(wildcard tests/interpose/*.c))
INTERPOSE_TESTS := $(INTERPOSE_TEST_SRCS:%.c=$(O)/%)

.PHONY: slicelocks
all: slicelocks
slicelocks: $(SLICELOCKS_SO) $(INTERPOSE_TESTS)

$(O)/obj/src/interpose/%.o: src/interpose/%.c src/interpose/slicelocks.h $(HEADERS) Makefile mk/interpose.mk
	@mkdir -p $(@D)
	$(say) CC $@
	$(Q)$(CC) $(HOST_CFLAGS) -fPIC -fvisibility=hidden $(CFLAGS) -c -o $@ $<

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

$(O)/obj/tests/interpose/%.o: tests/interpose/%.c $(wildcard tests/interpose/*.h tests/interpose/*.c) $(HEADERS)
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
