#!/bin/bash
# SPDX-License-Identifier: MIT
# Runs every fuzz target in DIR (built by `make fuzz-bins`) for SECONDS each, one after the
# other, and prints PASS/FAIL per target. A libFuzzer build fuzzes from its seed corpus
# (tests/fuzz/corpus/<target>/) plus what earlier runs found (DIR/../work/<target>/); a
# crash fails the target and its input is kept in DIR/../crashes/ — add it to the seed
# corpus and fix the bug. A replay build (no libFuzzer here) runs both corpora once.
# Usage: tests/fuzz/run.sh DIR [SECONDS]
set -u
cd "$(dirname "$0")/../.."
dir=${1:?usage: tests/fuzz/run.sh DIR [SECONDS]}
secs=${2:-60}
mode=$(basename "$dir")
work=$(dirname "$dir")/work
crashes=$(dirname "$dir")/crashes
fails=0
found=0

case "$secs" in
'' | *[!0-9]*) echo "FAIL fuzz: FUZZ_SECONDS must be a number of seconds, not '$secs'"; exit 1 ;;
esac
mkdir -p "$work" "$crashes"
for bin in "$dir"/fuzz_*; do
	[ -x "$bin" ] || continue
	case "$bin" in *.d | *.o) continue ;; esac
	found=$((found + 1))
	name=$(basename "$bin")
	target=${name#fuzz_}
	seeds=tests/fuzz/corpus/$target
	log=$work/$name.$mode.log
	if [ ! -d "$seeds" ] || [ -z "$(ls -A "$seeds" 2>/dev/null)" ]; then
		echo "FAIL fuzz.$target: no seed corpus in $seeds"
		fails=$((fails + 1))
		continue
	fi
	if [ "$mode" = libfuzzer ]; then
		mkdir -p "$work/$target"
		# the time limit bounds the run; the per-input timeout and memory cap turn a hang or
		# a leak into a reported crash
		timeout $((secs + 60)) "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
			-max_len=8192 -artifact_prefix="$crashes/$name-" -print_final_stats=1 \
			"$work/$target" "$seeds" >"$log" 2>&1
		rc=$?
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
		what="${runs:-?} runs in ${secs}s"
	else
		timeout 300 "$bin" "$seeds" "$work/$target" >"$log" 2>&1
		rc=$?
		what="replay only, no libFuzzer here: $(tail -1 "$log")"
	fi
	if [ $rc -eq 0 ]; then
		echo "PASS fuzz.$target ($what)"
	else
		crash=$(sed -n 's/.*Test unit written to //p' "$log" | tail -1)
		echo "FAIL fuzz.$target: exit $rc${crash:+, input kept in $crash}; log $log"
		# the finding and our frames, not the fuzzer's or libc's
		grep -E 'ERROR|runtime error|SUMMARY|#[0-9]+ 0x' "$log" |
			grep -vE 'fuzzer::|__sanitizer|libc\.so|nptl/|sysdeps/|stdlib/' |
			sed -e 's/ (BuildId: [0-9a-f]*)//' -e 's/^/    /' | head -12
		echo "    add the input to $seeds/ (a regression seed) and fix the bug"
		fails=$((fails + 1))
	fi
done
if [ $found = 0 ]; then
	echo "FAIL fuzz: no fuzz targets in $dir (run make fuzz-bins)"
	exit 1
fi
[ $fails = 0 ]
