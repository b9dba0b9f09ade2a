# SPDX-License-Identifier: MIT
#
# Sanitizer lane: the host tests built with AddressSanitizer (LeakSanitizer
# included, it is on by default with ASan on x86_64 and arm64) and
# UndefinedBehaviorSanitizer, every report fatal (-fno-sanitize-recover=all),
# in a build tree of its own ($(O)/sanitize). A stage of `make check`.
# verify_asan_link_order=0: the interposer tests (tests/interpose) LD_PRELOAD
# librseqkit-slicelocks.so ahead of the ASan runtime, which ASan would refuse
# although the sanitized programs and the preloaded library work together.

SANITIZE_LANE ?= address,undefined

.PHONY: check-sanitize

check-sanitize:
	@echo "== sanitizer lane (SANITIZE=$(SANITIZE_LANE)); build in $(O)/sanitize"
	@t0=$$(date +%s); \
	ASAN_OPTIONS=detect_leaks=1:verify_asan_link_order=0 UBSAN_OPTIONS=print_stacktrace=1 \
		$(MAKE) --no-print-directory O='$(O)/sanitize' SANITIZE='$(SANITIZE_LANE)' check-host && \
		echo "sanitizer lane: passed ($$(( $$(date +%s) - t0 )) s)"

CHECK_TARGETS += check-sanitize

HELP_EXTRA += \
	'  make check-sanitize            host tests under ASan+LSan+UBSan (O/sanitize)'
