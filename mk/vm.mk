# SPDX-License-Identifier: MIT
#
# Kernel lane: build Linux 6.12 from Debian's source, boot it under QEMU (TCG),
# run the static test programs inside. Included by the top Makefile
# (-include mk/*.mk); see kernel/README.md for usage.
#
#   make kernel      [SCENARIO=v2]          build (or reuse from the cache) a kernel
#   make kernel-path [SCENARIO=v2]          print its kernel image path (builds if needed)
#   make vm-check    [SCENARIO=name]        run the scenario's tests in the VM;
#                                           without SCENARIO: every one of VM_SCENARIOS
#   make vm-check-long [SCENARIO=name]      the same for VM_SCENARIOS_LONG (TIER=long;
#                                           part of `make check-long`)
#   make vm-run SCENARIO=name RUN="prog args" [EXTRA=dir]
#                                           boot and run one static program
#   make vm-clean                           remove $(O)/vm (the kernel cache stays)

O ?= build

# Scenarios `make vm-check` runs without SCENARIO: by default every file of
# vm/scenarios/ (adding a scenario is adding a file), in name order, but the
# README and those of the long tier (a line TIER=long, with TIER_REASON), which
# `make check-long` runs (vm-check-long).
VM_SCENARIO_FILES := $(sort $(filter-out README% %~ %.md %.orig %.rej,$(notdir $(wildcard vm/scenarios/*))))
VM_SCENARIOS_LONG ?= $(sort $(notdir $(shell grep -lE '^TIER=("?)long\1[[:space:]]*$$' $(addprefix vm/scenarios/,$(VM_SCENARIO_FILES)) /dev/null)))
VM_SCENARIOS ?= $(filter-out $(VM_SCENARIOS_LONG),$(VM_SCENARIO_FILES))

# vm-check needs the static programs ($(O)/static/...) from the top Makefile.
VM_STATIC_DEP ?= static

# Knobs passed to vm/check and vm/run-prog (empty = scenario / script default):
# VM_TIMEOUT per-program seconds, VM_WALL QEMU wall seconds, VM_TESTS replaces
# the scenario's test list ("GLOB [ARGS]" lines), VM_FILTER what the console
# shows live (progress|tests|all|none for vm-check, prog|tests|all for vm-run),
# TAP_SUMMARY the marker-stream judge.
VM_TIMEOUT ?=
VM_WALL ?=
VM_TESTS ?=
VM_FILTER ?=
# VM_CLOCK host|icount: guest clock (vm/qemu-run); empty = the scenario's CLOCK, else host.
VM_CLOCK ?=
TAP_SUMMARY ?= tests/harness/tap-summary

# Passed through the environment (quotes in values stay intact).
VM_ENV = O='$(O)' TAP_SUMMARY='$(abspath $(TAP_SUMMARY))'
VM_EXPECT_MISMATCH ?=
# Differential verdicts (vm/verdicts): after a run that includes either
# scenario, each program's verdict on the first beside the second (the
# upstream reference); differences not listed in vm/upstream-differences fail.
# Empty: no comparison.
VM_DIFF ?= v2:upstream
VM_TARGETS := vm-check vm-check-long vm-run
$(VM_TARGETS): export VM_TIMEOUT := $(VM_TIMEOUT)
$(VM_TARGETS): export VM_WALL := $(VM_WALL)
$(VM_TARGETS): export VM_TESTS := $(VM_TESTS)
$(VM_TARGETS): export VM_FILTER := $(VM_FILTER)
$(VM_TARGETS): export VM_KERNEL := $(VM_KERNEL)
$(VM_TARGETS): export VM_EXPECT_MISMATCH := $(VM_EXPECT_MISMATCH)
$(VM_TARGETS): export VM_CLOCK := $(VM_CLOCK)

# `make check` = check-host + vm-check (every scenario of the default tier);
# `make check-long` also runs the long tier.
CHECK_TARGETS += vm-check
check-long: vm-check-long check-mutants

# Kernel mutants (kernel/mutants/README.md): each is one more kernel build, so
# they run in the long tier only.
.PHONY: check-mutants
check-mutants: $(VM_STATIC_DEP)
	@O='$(O)' scripts/mutants $(MUTANTS)

# For the top Makefile's `make help` (one quoted line per entry).
HELP_EXTRA += \
	'  make kernel [SCENARIO=v2]      build a scenario kernel (cached under ~/.cache/rseqkit)' \
	'  make check-mutants [MUTANTS=..] kernels with one bug each: their tests must fail' \
	'  make kernel-path [SCENARIO=v2] print its kernel image path' \
	'  make vm-check [SCENARIO=name]  boot the kernel(s) under QEMU, run the tests there;' \
	'                                 default: every scenario ($(VM_SCENARIOS))' \
	'  make vm-check-long             the long-tier scenarios ($(or $(VM_SCENARIOS_LONG),none))' \
	'  make vm-run [SCENARIO=v2] RUN="prog args" [EXTRA=dir]' \
	'                                 run one static program in the VM (EXTRA -> /extra)' \
	'  make vm-clean                  remove $(O)/vm (kernel cache: rm -rf ~/.cache/rseqkit)'

define VM_HELP
  kernel [SCENARIO=v2]     build the scenario's kernel (cached in ~/.cache/rseqkit)
  kernel-path [SCENARIO=]  print the kernel image path of a scenario
  vm-check [SCENARIO=]     boot the kernel(s) under QEMU and run the tests there
                           (default: every scenario: $(VM_SCENARIOS))
  vm-check-long            the long-tier scenarios (TIER=long): $(or $(VM_SCENARIOS_LONG),none)
  vm-run SCENARIO= RUN="prog args" [EXTRA=dir]
                           run one static program in the VM (EXTRA -> /extra)
  vm-clean                 remove $(O)/vm
endef
export VM_HELP

.PHONY: kernel kernel-path vm-check vm-check-long vm-run vm-clean help-vm

kernel:
	@scripts/deps
	@scripts/kernel-build '$(or $(SCENARIO),v2)'

kernel-path:
	@scripts/deps
	@scripts/kernel-build '$(or $(SCENARIO),v2)'

# Scenarios of another guest architecture (KARCH=arm64) run the programs and
# init of the aarch64 cross build of this tree (mk/cross.mk) in $(O)-aarch64
# (vm/lib.sh looks there); vm-check builds it first when one is selected.
VM_CROSS_BUILD = $(MAKE) --no-print-directory ARCH=aarch64 O='$(O)-aarch64' CC=aarch64-linux-gnu-gcc cross

# vm_check_run SCENARIOS: boot each, then one summary line per scenario.
define vm_check_run
	@scripts/deps
	@if grep -qsE '^KARCH=("?)arm64\1[[:space:]]*$$' $(addprefix vm/scenarios/,$(1)); then \
		$(VM_CROSS_BUILD) || exit 1; fi
	@t0=$$(date +%s); failed=""; \
	for s in $(1); do \
		echo "==== vm-check $$s ===="; \
		rm -f '$(O)'/vm/$$s/summary.txt; \
		$(VM_ENV) vm/check "$$s" || failed="$$failed $$s"; \
	done; \
	t=$$(( $$(date +%s) - t0 )); \
	vm/verdicts -r '$(1)' -p '$(VM_DIFF)' -t '$(abspath $(TAP_SUMMARY))' '$(O)' || \
		failed="$$failed verdicts"; \
	echo "==== vm-check summary ===="; \
	for s in $(1); do \
		cat '$(O)'/vm/$$s/summary.txt 2>/dev/null || printf '%-16s FAIL  (no result: kernel build or setup failed)\n' "$$s"; \
	done; \
	if [ -n "$$failed" ]; then echo "vm-check: FAILED:$$failed ($$t s; logs in $(O)/vm/<scenario>/console.log)"; exit 1; fi; \
	echo "vm-check: passed: $(1) ($$t s)"
endef

vm-check: $(VM_STATIC_DEP)
	$(call vm_check_run,$(or $(SCENARIO),$(VM_SCENARIOS)))

vm-check-long: $(VM_STATIC_DEP)
	@$(if $(or $(SCENARIO),$(VM_SCENARIOS_LONG)),:,echo "vm-check-long: no scenario has TIER=long")
	$(if $(or $(SCENARIO),$(VM_SCENARIOS_LONG)),$(call vm_check_run,$(or $(SCENARIO),$(VM_SCENARIOS_LONG))))

# RUN and EXTRA go through the environment: quotes inside RUN stay intact.
vm-run: export VM_RUN = $(RUN)
vm-run: export VM_EXTRA = $(EXTRA)
vm-run:
	@if [ -z "$$VM_RUN" ]; then echo 'usage: make vm-run [SCENARIO=v2] RUN="prog args" [EXTRA=dir]' >&2; exit 2; fi
	@scripts/deps
	@$(VM_ENV) vm/run-prog '$(or $(SCENARIO),v2)' "$$VM_RUN" "$$VM_EXTRA"

vm-clean:
	rm -rf '$(O)/vm'

help-vm:
	@echo "$$VM_HELP"
