# SPDX-License-Identifier: MIT
#
# The conformance rule map (scripts/rule-map): generated from the tests' TAP
# descriptions. The host stage of `make check` fails when a numbered rule of
# the ABI has no test case naming it, and warns when the map in
# tests/conformance/README.md is stale (`make rule-map` rewrites it).

.PHONY: rule-map check-rules

rule-map:
	@scripts/rule-map --update

check-rules:
	@scripts/rule-map --check

check-host: check-rules

HELP_EXTRA += \
	'  make rule-map                  regenerate the rule map in tests/conformance/README.md'
