# SPDX-License-Identifier: MIT
# Shared by vm/check and vm/run-prog (sourced, bash). Expects $me and $top.

die() { echo "$me: error: $*" >&2; exit 1; }
say() { echo "$me: $*" >&2; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

O=${O:-build}
case $O in /*) ;; *) O="$top/$O" ;; esac

# load_scenario NAME: sets PATCHED CONFIGS CMDLINE TESTS TEST_TIMEOUT WALL_TIMEOUT.
load_scenario() {
	scen_file="$top/vm/scenarios/$1"
	[ -f "$scen_file" ] || die "no scenario '$1' (have: $(ls "$top/vm/scenarios" | grep -v README | tr '\n' ' '))"
	PATCHED=no CONFIGS=base CMDLINE="" TESTS="" TEST_TIMEOUT=120 WALL_TIMEOUT=1800
	# shellcheck disable=SC1090
	. "$scen_file"
}

# build_init: the static PID 1, rebuilt when vm/init.c changes.
build_init() {
	init_bin="$O/vm/init"
	if [ ! -x "$init_bin" ] || [ "$top/vm/init.c" -nt "$init_bin" ]; then
		mkdir -p "$O/vm"
		${CC:-cc} -static -O2 -Wall -Wextra -o "$init_bin.tmp" "$top/vm/init.c" ||
			die "cannot build the static init (vm/init.c); is the static glibc (libc6-dev) installed?"
		mv "$init_bin.tmp" "$init_bin"
	fi
}

# build_kernel SCENARIO: sets $kernel (bzImage path) and $kernel_secs.
# VM_KERNEL=path boots that image instead (kernel development: an incremental
# build tree of your own); its directory must hold gen_init_cpio or usr/gen_init_cpio.
build_kernel() {
	local t
	t=$(now)
	if [ -n "${VM_KERNEL:-}" ]; then
		[ -f "$VM_KERNEL" ] || die "VM_KERNEL=$VM_KERNEL: no such file"
		kernel=$VM_KERNEL kernel_secs=0
		return
	fi
	kernel=$("$top/scripts/kernel-build" "$1") || die "kernel build for scenario $1 failed (see above)"
	kernel_secs=$(elapsed "$t")
}

# is_static FILE: a static executable has no PT_INTERP.
is_static() {
	! LC_ALL=C readelf -lW "$1" 2>/dev/null | grep -q 'Requesting program interpreter' &&
		LC_ALL=C readelf -hW "$1" >/dev/null 2>&1
}

# boot_stats LOG: "boot-to-init X s (host clock; Y s guest), programs Z s".
boot_stats() {
	awk -v host="$(cat "$1.boot" 2>/dev/null)" '
		/^# rseqkit-init: start / { for (i = 1; i <= NF; i++) if ($i ~ /^uptime=/) s = substr($i, 8) }
		/^# rseqkit-init: end /   { for (i = 1; i <= NF; i++) if ($i ~ /^uptime=/) e = substr($i, 8) }
		END {
			if (s == "") { print "init never started"; exit }
			if (host != "") printf "boot-to-init %s s (host clock; kernel %.1f s)", host, s
			else printf "boot-to-init %.1f s (guest clock)", s
			if (e != "") printf ", programs %.1f s (guest clock)", e - s
			printf "\n"
		}' "$1"
}
