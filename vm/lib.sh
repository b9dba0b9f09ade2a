# SPDX-License-Identifier: MIT
# Shared by vm/check and vm/run-prog (sourced, bash). Expects $me and $top.

die() { echo "$me: error: $*" >&2; exit 1; }
say() { echo "$me: $*" >&2; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

O=${O:-build}
case $O in /*) ;; *) O="$top/$O" ;; esac

# The features a scenario declares (vm/scenarios/README, tests/harness/kfacts.h):
# variable, accepted words (a TRACE value is "none" or event names).
EXPECT_KEYS="ABI SLICE STATS KNOB TRACE MEMBARRIER_RSEQ GLIBC"
expect_words() {
	case $1 in
	ABI) echo "v2 legacy legacy-arch none" ;;
	SLICE) echo "on off out none" ;;
	STATS|KNOB|MEMBARRIER_RSEQ) echo "yes no" ;;
	GLIBC) echo "legacy v2 none" ;;
	esac
}

# load_scenario NAME: sets PATCHED CONFIGS CMDLINE TESTS TEST_TIMEOUT WALL_TIMEOUT
# TIER TIER_REASON and EXPECT_<KEY>; a scenario must declare every EXPECT_ key,
# with an accepted word (checked here, before any kernel is built or booted).
# Exports VM_CLOCK (the guest clock, vm/qemu-run).
load_scenario() {
	local k v w ok
	scen_file="$top/vm/scenarios/$1"
	[ -f "$scen_file" ] || die "no scenario '$1' (have: $(ls "$top/vm/scenarios" | grep -v README | tr '\n' ' '))"
	PATCHED=no CONFIGS=base CMDLINE="" TESTS="" TEST_TIMEOUT=120 WALL_TIMEOUT=1800
	TIER=default TIER_REASON="" CLOCK="" KARCH=x86_64
	for k in $EXPECT_KEYS; do eval "EXPECT_$k="; done
	# shellcheck disable=SC1090
	. "$scen_file"
	# The guest architecture: its programs and init come from the build of
	# that architecture, $PO (arm64: the cross build `make ARCH=aarch64`,
	# $O-aarch64 unless VM_CROSS_O names another one).
	case $KARCH in
	x86_64) PO=$O ;;
	arm64) PO=${VM_CROSS_O:-$O-aarch64}; case $PO in /*) ;; *) PO="$top/$PO" ;; esac ;;
	*) die "$scen_file: KARCH must be x86_64 or arm64, not '$KARCH'" ;;
	esac
	case $TIER in
	default) ;;
	long) [ -n "$TIER_REASON" ] || die "$scen_file: TIER=long needs a TIER_REASON line saying why" ;;
	*) die "$scen_file: TIER must be default or long, not '$TIER'" ;;
	esac
	for k in $EXPECT_KEYS; do
		eval "v=\$EXPECT_$k"
		[ -n "$v" ] || die "$scen_file: EXPECT_$k is missing (every scenario declares $EXPECT_KEYS; see vm/scenarios/README)"
		if [ "$k" = TRACE ]; then
			# shellcheck disable=SC2254
			case $v in *[!a-z0-9_\ ]*) die "$scen_file: EXPECT_TRACE='$v': expected none or tracefs event names" ;; esac
			continue
		fi
		ok=no
		for w in $(expect_words "$k"); do [ "$v" = "$w" ] && ok=yes; done
		[ $ok = yes ] || die "$scen_file: EXPECT_$k='$v': expected one of: $(expect_words "$k")"
	done
	# The guest clock (vm/qemu-run): VM_CLOCK from the caller wins, then the
	# scenario's CLOCK=host|icount, then host.
	VM_CLOCK=${VM_CLOCK:-${CLOCK:-host}}
	export VM_CLOCK
}

# write_config FILE SCENARIO TIMEOUT [stop|continue]: the guest's /rseqkit/config.
write_config() {
	local k v
	{
		printf 'SCENARIO=%s\nTIMEOUT=%s\nEXPECT_MISMATCH=%s\n' "$2" "$3" "${4:-stop}"
		for k in $EXPECT_KEYS; do
			eval "v=\$EXPECT_$k"
			printf 'EXPECT_%s=%s\n' "$k" "$v"
		done
	} >"$1"
}

# build_init: the static PID 1 of the scenario's architecture ($PO/vm/init),
# rebuilt when its sources change. It shares the kernel feature probe with the
# tests (tests/harness/kfacts.c).
build_init() {
	local src stale=no cc=${CC:-cc}
	[ "$KARCH" = x86_64 ] || cc=${CROSS_COMPILE:-aarch64-linux-gnu-}gcc
	init_bin="$PO/vm/init"
	for src in vm/init.c tests/harness/kfacts.c tests/harness/kfacts.h include/rseqkit/abi.h; do
		[ "$top/$src" -nt "$init_bin" ] && stale=yes
	done
	if [ ! -x "$init_bin" ] || [ $stale = yes ]; then
		mkdir -p "$PO/vm"
		$cc -static -O2 -std=c11 -Wall -Wextra -I"$top/include" -I"$top/tests/harness" \
			-o "$init_bin.tmp" "$top/vm/init.c" "$top/tests/harness/kfacts.c" ||
			die "cannot build the static init (vm/init.c); is the static glibc (libc6-dev) installed?"
		mv "$init_bin.tmp" "$init_bin"
	fi
}

# build_kernel SCENARIO: sets $kernel (image path) and $kernel_secs.
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
