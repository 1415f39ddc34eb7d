#!/bin/bash
# SPDX-License-Identifier: MIT
# Runs every test: unit binaries (no root), CLI tests (real sbxd in private dirs), and, as root,
# the integration tests in the test world. Each test prints PASS/FAIL/SKIP lines; this counts
# them and ends with "N passed, M failed". --unit runs only the unit tier; --fuzz only the fuzz
# targets, each for FUZZ_SECONDS (default 5; `make fuzz` runs them longer).
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export BUILD SBX_BIN=$PWD/$BUILD/sbx SBXD_BIN=$PWD/$BUILD/sbxd
pass=0 fail=0 skip=0
failed_names=()

run_one() { # name, command...
	local name=$1 out rc line start=$SECONDS
	shift
	out=$(timeout 300 "$@" 2>&1)
	rc=$?
	echo "-- $name: $((SECONDS - start)) s"
	local seen=0
	while IFS= read -r line; do
		case "$line" in
		PASS\ *) pass=$((pass + 1)); seen=1 ;;
		FAIL\ *) fail=$((fail + 1)); seen=1; failed_names+=("${line#FAIL }") ;;
		SKIP\ *) skip=$((skip + 1)); seen=1 ;;
		esac
	done <<<"$out"
	if [ $rc -ne 0 ] || ! grep -q '^PASS ' <<<"$out"; then
		echo "$out" | sed 's/^/    /'
		if [ $rc -ne 0 ] && ! grep -q '^FAIL ' <<<"$out"; then
			fail=$((fail + 1)); failed_names+=("$name (exit $rc)")
		fi
	else
		grep -E '^(PASS|SKIP) ' <<<"$out" | sed 's/^/  /'
	fi
	[ $seen = 1 ] || true
}

tier=${1:-all} # all, --unit or --fuzz

if [ "$tier" != --fuzz ]; then
	echo "== unit tests"
	for t in "$BUILD"/tests/test_*; do
		[ -x "$t" ] || continue
		run_one "$(basename "$t")" "$t"
	done
fi

if [ "$tier" != --unit ]; then
	# builds the targets if needed; PASS/FAIL per target (a replay where libFuzzer is missing)
	echo "== fuzz targets (${FUZZ_SECONDS:-5}s each)"
	run_one fuzz make --no-print-directory -s BUILD="$BUILD" fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-5}"
fi

if [ "$tier" = all ]; then
	echo "== CLI tests"
	for t in tests/cli/*.sh; do
		[ -f "$t" ] || continue
		run_one "$(basename "$t")" bash "$t"
	done
	echo "== integration tests"
	if [ "$(id -u)" = 0 ]; then
		for t in tests/integration/*.sh; do
			[ -f "$t" ] || continue
			run_one "$(basename "$t")" bash "$t"
		done
	else
		echo "SKIP integration: not root"
		skip=$((skip + 1))
	fi
fi

for n in "${failed_names[@]}"; do echo "failed: $n"; done
[ $skip -gt 0 ] && echo "$skip skipped"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
