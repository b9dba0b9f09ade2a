#!/bin/sh
# SPDX-License-Identifier: MIT
# rseqkit probe and the command line: --json parses, its keys are stable and
# its facts match what the library and the kernel say in each of the three
# ownership environments; bad usage exits 2 with a message (issue: foundation).
set -u
here=$(cd "$(dirname "$0")/../.." && pwd)
. "$here/tests/harness/tap.sh"
B=${RSEQKIT_BUILD:-$here/build}
rk="$B/bin/rseqkit"
reg="$B/tests/unit/registration"
command -v jq >/dev/null || tap_skip_all "jq not installed (scripts/deps installs it)"
[ -x "$rk" ] || tap_skip_all "$rk not built"

# The kernel's AT_RSEQ_FEATURE_SIZE, read independently of rseqkit.
auxv_fs=$(LD_SHOW_AUXV=1 /bin/true | awk '/\(0x1b\)|AT_RSEQ_FEATURE_SIZE/ { print $NF }')
auxv_fs=$((${auxv_fs:-20}))

check_env() { # name, expected owner, expected mode, command prefix...
	name=$1 owner=$2 mode=$3
	shift 3
	json=$("$@" "$rk" probe --json 2>&1)
	echo "$json" | jq -e . >/dev/null 2>&1
	tap_ok $? "$name: probe --json is one valid JSON object"
	for key in .rseqkit_version .kernel.release .kernel.feature_size .kernel.align \
		.kernel.v2 .kernel.membarrier_rseq .libc.version .libc.rseq_size .thread.owner \
		.thread.mode .thread.registered_len .thread.usable_size .thread.fields .thread.cpu \
		.thread.node .thread.mm_cid .slice_ext.available .slice_ext.enabled .reason; do
		echo "$json" | jq -e "$key != null" >/dev/null 2>&1 || { echo "# missing $key"; missing=1; }
	done
	tap_ok "${missing:-0}" "$name: probe --json has every documented key"
	got=$(echo "$json" | jq -r '.thread.owner + "/" + .thread.mode')
	[ "$got" = "$owner/$mode" ]
	tap_ok $? "R7: $name: probe says owner/mode $owner/$mode (got $got)"
	fs=$(echo "$json" | jq -r .kernel.feature_size)
	[ "$fs" = "$auxv_fs" ]
	tap_ok $? "R3.7: $name: probe's feature size $fs matches the auxv ($auxv_fs)"
}

# What each owner must register, from the kernel's auxv and glibc's version
# (R7), never from the probe under test: glibc >= 2.41 registers
# AT_RSEQ_FEATURE_SIZE bytes (V2 where that is >= 33), older glibc 32 bytes
# (legacy); rseqkit registers the feature size itself.
glibc_ver=$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{ print $2 }')
glibc_major=${glibc_ver%%.*}
glibc_minor=${glibc_ver#*.}
glibc_minor=${glibc_minor%%.*}
[ -n "$glibc_ver" ] || tap_skip_all "getconf GNU_LIBC_VERSION: not glibc"
tap_diag "glibc $glibc_ver, kernel AT_RSEQ_FEATURE_SIZE $auxv_fs"
if [ "$auxv_fs" -ge 33 ]; then selfmode=V2; else selfmode=legacy; fi
if [ "$glibc_major" -gt 2 ] || { [ "$glibc_major" -eq 2 ] && [ "$glibc_minor" -ge 41 ]; }; then
	glibcmode=$selfmode
else
	glibcmode=legacy
fi
check_env glibc glibc "$glibcmode" env -u GLIBC_TUNABLES
check_env self rseqkit "$selfmode" env GLIBC_TUNABLES=glibc.pthread.rseq=0
if [ -x "$reg" ]; then
	check_env none none unavailable "$reg" --norseq-exec
else
	tap_skip "no-rseq environment: $reg not built"
fi

"$rk" --help | grep -q probe
tap_ok $? "rseqkit --help lists probe"
"$rk" probe --help | grep -q -- --json
tap_ok $? "rseqkit probe --help documents --json"
out=$("$rk" probe --bogus 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$out" | grep -q "unknown option '--bogus'"
tap_ok $? "rseqkit probe --bogus exits 2 naming the option (rc $rc)"
out=$("$rk" nosuch 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$out" | grep -q "unknown command 'nosuch'"
tap_ok $? "rseqkit nosuch exits 2 naming the command (rc $rc)"
"$rk" probe | grep -q "In plain words"
tap_ok $? "rseqkit probe explains in plain words"
tap_done
