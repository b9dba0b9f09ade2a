# SPDX-License-Identifier: MIT
#
# tests/unit/static_tls_full fills glibc's static TLS with copies of a
# test-only shared object (tests/lib/tls_filler.c: one 16-byte initial-exec
# block) before it dlopen()s librseqkit.so. Host build only (the static
# variant has no dlopen and skips).
TLS_FILLER_SO := $(O)/tests/lib/libtlsfill.so

$(TLS_FILLER_SO): tests/lib/tls_filler.c Makefile mk/tlsfill.mk
	@mkdir -p $(@D)
	$(say) LD $@
	$(Q)$(CC) $(BASE_CFLAGS) -fPIC $(CFLAGS) -shared -o $@ $<

$(O)/tests/unit/static_tls_full: $(TLS_FILLER_SO) $(O)/lib/librseqkit.so
