# SPDX-License-Identifier: MIT
#
# Cross build for another architecture (ARCH=aarch64 on an x86_64 host; the
# top Makefile picks CC=$(CROSS_COMPILE)gcc and O=build-$(ARCH)):
#
#   make ARCH=aarch64 [WERROR=1] [-j2]
#       $(O)/lib/librseqkit.{a,so}, and static programs for the VM initramfs:
#       $(O)/static/bin/rseqkit, $(O)/static/tests/<tier>/<name>,
#       $(O)/static/bench/<name>, $(O)/vm/init (PID 1, vm/init.c)
#
# Quick runs on the host: qemu-aarch64-static $(O)/static/tests/unit/percpu_ops
# (qemu's user mode has no rseq(2): only the fallbacks run there; the real
# per-CPU paths run in the arm64 VM scenarios).

ifneq ($(ARCH),$(HOST_ARCH))
.PHONY: cross
cross: lib static $(O)/vm/init
	@echo "cross build ($(ARCH), $(CC)): static programs in $(O)/static, init in $(O)/vm/init"

# The same flags as vm/lib.sh's build_init, with the cross compiler.
$(O)/vm/init: vm/init.c tests/harness/kfacts.c tests/harness/kfacts.h include/rseqkit/abi.h
	@mkdir -p $(@D)
	$(say) LD $@
	$(Q)$(CC) -static -O2 -std=c11 -Wall -Wextra $(if $(WERROR),-Werror) -Iinclude \
		-Itests/harness -o $@ vm/init.c tests/harness/kfacts.c
endif

HELP_EXTRA += \
	'  make ARCH=aarch64 [WERROR=1]   cross build: static aarch64 programs + vm/init in build-aarch64'
