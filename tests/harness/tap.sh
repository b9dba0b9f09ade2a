# SPDX-License-Identifier: MIT
# tap.sh - TAP for shell tests: . tests/harness/tap.sh
#   tap_ok COND_EXIT "description"   (0 = ok)
#   tap_skip "reason"; tap_skip_all "reason"; tap_diag "text"; tap_done
_tap_n=0
_tap_failed=0

tap_ok() {
	_tap_n=$((_tap_n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $_tap_n - $2"
	else
		_tap_failed=$((_tap_failed + 1))
		echo "not ok $_tap_n - $2"
	fi
}

# tap_run "description" command...: one case, ok iff the command succeeds;
# on failure the command's output is shown as diagnostics.
tap_run() {
	_d=$1
	shift
	_out=$("$@" 2>&1)
	_rc=$?
	tap_ok $_rc "$_d"
	[ $_rc -eq 0 ] || printf '%s\n' "$_out" | sed 's/^/# /' | tail -n 20
	return $_rc
}

tap_skip() { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n # SKIP $1"; }
tap_diag() { echo "# $*"; }
tap_skip_all() { echo "1..0 # SKIP $1"; exit 77; }
tap_done() {
	echo "1..$_tap_n"
	[ "$_tap_failed" -eq 0 ]
	exit $?
}
