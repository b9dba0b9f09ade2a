#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Packaging checks of rseqkit, run by mk/install.mk from the top directory:
#
#   mk/check-install.sh all        everything below (make check-install)
#   mk/check-install.sh man        man page lint and coverage (make check-man)
#   mk/check-install.sh abi-check  exported symbols vs the record (make abi-check)
#
# "all" installs into a temporary DESTDIR, checks the installed tree, builds
# every examples/*.c against the INSTALLED library with pkg-config (with $CC
# and clang, dynamically and statically), runs each (exit 0 required), lints
# the man pages, compares the exported symbols with abi/librseqkit.symbols,
# runs checkpatch over the kernel series when a kernel tree is unpacked, and
# uninstalls. Output is TAP; the last line is "check-install: N passed, N
# failed, N skipped". Exit 0 iff nothing failed.
#
# Environment (set by mk/install.mk): O MAKE CC VERSION SOVERSION LIB_REALNAME
# ABI_RECORD.
set -u

mode=${1:-all}
case $mode in all) label=check-install ;; man) label=check-man ;; *) label=$mode ;; esac
top=$(pwd)
O=${O:-build}
case $O in /*) ;; *) O=$top/$O ;; esac
MAKE=${MAKE:-make}
CC=${CC:-cc}
VERSION=${VERSION:-$(cat VERSION)}
SOVERSION=${SOVERSION:-0}
LIB_REALNAME=${LIB_REALNAME:-}
ABI_RECORD=${ABI_RECORD:-abi/librseqkit.symbols}
LC_ALL=C
export LC_ALL

n=0 passed=0 failed=0 skipped=0
failures=""
ok() { n=$((n + 1)); passed=$((passed + 1)); echo "ok $n - $1"; }
not_ok() {
	n=$((n + 1)); failed=$((failed + 1)); failures="$failures
  $1"
	echo "not ok $n - $1"
}
skip() { n=$((n + 1)); skipped=$((skipped + 1)); echo "ok $n # SKIP $1"; }
diag() { printf '%s\n' "$@" | sed 's/^/# /'; }
# check DESC CMD...: one case, ok iff CMD succeeds; its output (tail) on failure.
check() {
	local d=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	if [ $rc -eq 0 ]; then
		ok "$d"
	else
		not_ok "$d"
		printf '%s\n' "$out" | tail -n 25 | sed 's/^/# /'
	fi
	return $rc
}
finish() {
	echo "1..$n"
	if [ $failed -gt 0 ]; then
		echo "# failed:$failures"
	fi
	echo "$label: $passed passed, $failed failed, $skipped skipped"
	[ $failed -eq 0 ]
	exit $?
}

# --- man pages ---------------------------------------------------------------
# Lint: mandoc's warnings, groff's (-ww: all), and what `man -l` prints.
# Pages that are only ".so other-page" are checked for a resolvable target.
man_lint_one() {
	local p=$1 target err
	if head -n 3 "$p" | grep -q '^\.so '; then
		target=$(sed -n 's/^\.so //p' "$p" | head -n 1)
		[ -f "doc/man/$target" ] || { echo "$p: .so target doc/man/$target missing"; return 1; }
		return 0
	fi
	(cd doc/man && mandoc -T lint -W warning "${p#doc/man/}") || return 1
	err=$(cd doc/man && groff -ww -man -z -t "${p#doc/man/}" 2>&1)
	[ -z "$err" ] || { echo "groff -ww: $err"; return 1; }
	err=$(cd doc/man && MANWIDTH=80 man --warnings=w -l "${p#doc/man/}" 2>&1 >/dev/null)
	[ -z "$err" ] || { echo "man -l: $err"; return 1; }
}

# Every public symbol the library exports has a man3 page (file or .so link);
# rseqkit__* are slow paths of inline functions, documented with those.
man_coverage() {
	local lib=$1 missing="" s
	for s in $(abi/list-symbols "$lib" | awk '!/^#/ && $1 != "SONAME" && $1 !~ /^rseqkit__/ { print $1 }'); do
		[ -f "doc/man/man3/$s.3" ] || missing="$missing $s"
	done
	[ -z "$missing" ] || { echo "exported symbols without doc/man/man3/NAME.3:$missing"; return 1; }
}

# Every man3 page names something the public headers declare (no invented API).
man_exist() {
	local p name bad=""
	for p in doc/man/man3/*.3; do
		name=$(basename "$p" .3)
		grep -rqw -- "$name" include/rseqkit || bad="$bad $name"
	done
	[ -z "$bad" ] || { echo "man3 pages for names no public header declares:$bad"; return 1; }
}

# rseqkit.1 documents every subcommand registered in tools/rseqkit/main.c.
man1_sync() {
	local c missing=""
	for c in $(sed -n 's/^[[:space:]]*{[[:space:]]*"\([a-z0-9-]*\)",.*/\1/p' tools/rseqkit/main.c); do
		grep -Eq "^\\.SS (\\\\fB)?\"?(rseqkit )?$c( |\\\\|\"|$)" doc/man/man1/rseqkit.1 ||
			missing="$missing $c"
	done
	[ -z "$missing" ] || { echo "rseqkit.1 has no '.SS $c' section for:$missing"; return 1; }
}

run_man() {
	local p pages
	pages=$(ls doc/man/man[1-8]/*.[1-8] 2>/dev/null)
	if [ -z "$pages" ]; then
		not_ok "man pages exist in doc/man"
		return
	fi
	for tool in mandoc groff man; do
		command -v $tool >/dev/null || { not_ok "man lint: $tool not installed (scripts/deps)"; return; }
	done
	for p in $pages; do
		check "man lint: $p (mandoc -W warning, groff -ww, man -l)" man_lint_one "$p"
	done
	check "man1: rseqkit.1 has a section per subcommand of tools/rseqkit/main.c" man1_sync
	check "man3: every page names a declaration of include/rseqkit/" man_exist
	if [ -f "$O/lib/librseqkit.so" ]; then
		check "man3: every exported symbol has a page" man_coverage "$O/lib/librseqkit.so"
	else
		skip "man3 coverage: $O/lib/librseqkit.so not built"
	fi
}

# --- ABI ---------------------------------------------------------------------
abi_diff() {
	local lib=$1 cur
	cur=$(abi/list-symbols "$lib") || return 1
	if ! printf '%s\n' "$cur" | diff -u --label "$ABI_RECORD (recorded)" \
		--label "$lib (built)" "$ABI_RECORD" -; then
		echo "The exported ABI changed. If intended (new API; removals break users),"
		echo "run \`make abi-update\` and commit $ABI_RECORD."
		return 1
	fi
}

abi_names() {
	local lib=$1 bad
	bad=$(abi/list-symbols "$lib" | awk '!/^#/ && $1 != "SONAME" &&
		($1 !~ /^rseqkit_[a-z0-9_]/ || $2 == "-") { print $1 "@" $2 }')
	[ -z "$bad" ] || { echo "exported without the rseqkit_ prefix or a version:" $bad; return 1; }
}

# Functions and objects declared RSEQKIT_API in the public headers are exported.
abi_declared() {
	local lib=$1 names missing="" s
	names=$(abi/list-symbols "$lib" | awk '!/^#/ && $1 != "SONAME" { print $1 }')
	for s in $(grep -h 'RSEQKIT_API' include/rseqkit/*.h | grep -v '#' |
		sed -n 's/.*[^a-z0-9_]\(rseqkit_[a-z0-9_]*\)[[:space:]]*[();[].*/\1/p' | sort -u); do
		printf '%s\n' "$names" | grep -qx "$s" || missing="$missing $s"
	done
	[ -z "$missing" ] || { echo "declared RSEQKIT_API but not exported:$missing"; return 1; }
}

run_abi() {
	local lib=$1
	if [ ! -f "$ABI_RECORD" ]; then
		not_ok "abi: $ABI_RECORD exists (create it with make abi-update)"
		return
	fi
	check "abi: exported symbols of $(basename "$lib") match $ABI_RECORD" abi_diff "$lib"
	check "abi: only versioned rseqkit_* symbols are exported" abi_names "$lib"
	check "abi: every RSEQKIT_API declaration of include/rseqkit/ is exported" abi_declared "$lib"
}

# --- kernel series -----------------------------------------------------------
run_checkpatch() {
	local series=kernel/patches/series patches="" line cp="" d p
	if [ -f "$series" ]; then
		while read -r line; do
			line=${line%%#*}
			line=${line%% *}
			[ -n "$line" ] && patches="$patches kernel/patches/$line"
		done <"$series"
	fi
	if [ -z "$patches" ]; then
		skip "checkpatch: kernel/patches/series is empty or missing"
		return
	fi
	for d in "${XDG_CACHE_HOME:-$HOME/.cache}"/rseqkit/src/*/; do
		if [ -f "$d/.rseqkit-ready" ] && [ -x "$d/scripts/checkpatch.pl" ]; then
			cp="$d/scripts/checkpatch.pl"
			break
		fi
	done
	if [ -z "$cp" ]; then
		skip "checkpatch: no unpacked 6.12 tree in the cache (make kernel unpacks one)"
		return
	fi
	# From the kernel tree: run inside a git work tree (ours), checkpatch
	# mistakes the patch file for a source file.
	for p in $patches; do
		check "checkpatch --strict: $p" \
			sh -c 'cd "$1" && perl scripts/checkpatch.pl --strict --no-tree -q "$2"' \
			sh "${cp%/scripts/checkpatch.pl}" "$top/$p"
	done
}

# --- install, examples, uninstall --------------------------------------------
run_all() {
	local tmp=$O/check-install prefix=/usr/local dest root libdir incdir pcdir mandir
	local h m ex name cc ccs bin out ldd_out
	tmp=$O/check-install
	dest=$tmp/dest
	root=$dest$prefix
	libdir=$root/lib incdir=$root/include pcdir=$root/lib/pkgconfig mandir=$root/share/man
	rm -rf "$tmp"
	mkdir -p "$tmp/bin"

	if ! check "make install DESTDIR=$dest PREFIX=$prefix" \
		$MAKE --no-print-directory install O="$O" DESTDIR="$dest" PREFIX="$prefix"; then
		finish
	fi

	check "installed: every header of include/rseqkit (arch/ too)" sh -c '
		for h in $(cd include && find rseqkit -name "*.h"); do
			cmp -s "include/$h" "$1/$h" || { echo "missing or different: $1/$h"; exit 1; }
		done' sh "$incdir"
	check "installed: $LIB_REALNAME, SONAME librseqkit.so.$SOVERSION, symlinks" sh -c '
		set -e
		test -f "$1/$2" && test ! -L "$1/$2"
		test "$(readlink "$1/librseqkit.so.$3")" = "$2"
		test "$(readlink "$1/librseqkit.so")" = "librseqkit.so.$3"
		readelf -d "$1/$2" | grep -q "(SONAME).*\[librseqkit.so.$3\]"' \
		sh "$libdir" "$LIB_REALNAME" "$SOVERSION"
	check "installed: librseqkit.a, librseqkit.pc, bin/rseqkit" \
		test -f "$libdir/librseqkit.a" -a -f "$pcdir/librseqkit.pc" -a -x "$root/bin/rseqkit"
	check "installed: every man page of doc/man" sh -c '
		for m in $(cd doc/man && ls man*/*.[1-8]); do
			cmp -s "doc/man/$m" "$1/$m" || { echo "missing: $1/$m"; exit 1; }
		done' sh "$mandir"

	# pkg-config as a user would run it, rooted in DESTDIR.
	export PKG_CONFIG_PATH=$pcdir PKG_CONFIG_LIBDIR=$pcdir PKG_CONFIG_SYSROOT_DIR=$dest
	check "pkg-config --validate librseqkit" pkg-config --validate librseqkit
	check "pkg-config --modversion librseqkit = $VERSION" \
		test "$(pkg-config --modversion librseqkit 2>&1)" = "$VERSION"
	check "pkg-config --cflags/--libs point into DESTDIR; --static adds -pthread" sh -c '
		c=$(echo $(pkg-config --cflags librseqkit)) l=$(echo $(pkg-config --libs librseqkit))
		s=$(echo $(pkg-config --static --libs librseqkit))
		echo "cflags: $c; libs: $l; static: $s"
		test "$c" = "-I$1/include" && test "$l" = "-L$1/lib -lrseqkit" &&
		case " $s " in *" -pthread "*) true ;; *) false ;; esac' sh "$root"
	CFLAGS_PC=$(pkg-config --cflags librseqkit)
	LIBS_PC=$(pkg-config --libs librseqkit)
	LIBS_STATIC_PC=$(pkg-config --static --libs librseqkit)
	export LD_LIBRARY_PATH=$libdir

	check "installed rseqkit --version and probe run" sh -c '
		"$1/rseqkit" --version && "$1/rseqkit" probe >/dev/null' sh "$root/bin"
	check "man finds the installed rseqkit(1), rseqkit(7), rseqkit_init(3)" sh -c '
		for p in "1 rseqkit" "7 rseqkit" "3 rseqkit_init"; do
			f=$(man --manpath="$1" -w $p) || exit 1
			case $f in "$1"/*) ;; *) echo "man -w $p -> $f"; exit 1 ;; esac
		done' sh "$mandir"

	# Every public header compiles alone with nothing but the pkg-config flags.
	check "installed headers compile alone (C11, -Wall -Wextra -Wpedantic -Werror)" sh -c '
		for h in $(cd "$1" && ls rseqkit/*.h); do
			printf "#include <%s>\nint main(void) { return 0; }\n" "$h" > "$2/hdr.c"
			$3 -std=c11 -Wall -Wextra -Wpedantic -Werror $4 -c -o "$2/hdr.o" "$2/hdr.c" ||
				{ echo "$h"; exit 1; }
		done' sh "$incdir" "$tmp" "$CC" "$CFLAGS_PC"

	# The examples, against the installed library only.
	ccs=$CC
	case $CC in *clang*) ;; *) command -v clang >/dev/null && ccs="$CC clang" ;; esac
	for ex in examples/*.c; do
		[ -f "$ex" ] || { not_ok "examples/*.c exist"; break; }
		name=$(basename "$ex" .c)
		for cc in $ccs; do
			bin=$tmp/bin/$name-$(basename "$cc")
			check "example $name: $cc \$(pkg-config --cflags --libs librseqkit)" \
				$cc -std=c11 -O2 -g -Wall -Wextra -Werror $CFLAGS_PC -o "$bin" "$ex" $LIBS_PC ||
				continue
			ldd_out=$(ldd "$bin" 2>&1 | grep 'librseqkit\.so')
			case $ldd_out in
			*"$libdir/librseqkit.so.$SOVERSION"*) ok "example $name ($cc): loads the installed librseqkit.so.$SOVERSION" ;;
			*) not_ok "example $name ($cc): loads the installed librseqkit.so.$SOVERSION"; diag "ldd: $ldd_out" ;;
			esac
			check "example $name ($cc): runs, exit 0" timeout 60 "$bin"
		done
		bin=$tmp/bin/$name-static
		check "example $name: -static \$(pkg-config --static --libs librseqkit)" \
			$CC -std=c11 -O2 -Wall -Wextra -Werror -static $CFLAGS_PC -o "$bin" "$ex" \
			$LIBS_STATIC_PC && check "example $name (static): runs, exit 0" timeout 60 "$bin"
	done
	if [ -f examples/Makefile ]; then
		check "examples/Makefile builds every example with pkg-config" \
			$MAKE --no-print-directory -C examples O="$tmp/ex-make"
	fi
	# rseqkit-owned registration: the same programs with glibc kept out.
	for ex in examples/*.c; do
		name=$(basename "$ex" .c)
		bin=$tmp/bin/$name-$(basename "${CC%% *}")
		[ -x "$bin" ] || continue
		check "example $name: runs with GLIBC_TUNABLES=glibc.pthread.rseq=0, exit 0" \
			env GLIBC_TUNABLES=glibc.pthread.rseq=0 timeout 60 "$bin"
	done
	unset PKG_CONFIG_PATH PKG_CONFIG_LIBDIR PKG_CONFIG_SYSROOT_DIR LD_LIBRARY_PATH

	run_man
	run_abi "$libdir/$LIB_REALNAME"
	run_checkpatch

	check "make uninstall DESTDIR=$dest removes every installed file" sh -c '
		$1 --no-print-directory uninstall O="$2" DESTDIR="$3" PREFIX="$4" >/dev/null || exit 1
		left=$(find "$3" ! -type d)
		[ -z "$left" ] || { echo "left behind:"; echo "$left"; exit 1; }' \
		sh "$MAKE" "$O" "$dest" "$prefix"
}

case $mode in
all)
	echo "== check-install (rseqkit $VERSION; temp DESTDIR under $O/check-install)"
	run_all
	;;
man)
	run_man
	;;
abi-check)
	run_abi "$O/lib/librseqkit.so"
	;;
*)
	echo "usage: $0 all|man|abi-check" >&2
	exit 2
	;;
esac
finish
