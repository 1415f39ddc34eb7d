#!/bin/bash
# SPDX-License-Identifier: MIT
# Shared helpers of the CLI and integration tests; source it, don't run it.
#
#   sbx_instance_setup     private sbxd instance: temp dir, SBX_* environment, EXIT trap that
#                          stops exactly this instance's sbxd and removes the dir
#   pass/fail/skip NAME    print "PASS NAME", "FAIL NAME: WHY", "SKIP NAME: WHY"
#   run CMD...             run CMD; sets RC, STDOUT, STDERR and OUT (stdout then stderr)
#   check NAME CMD...      PASS when CMD succeeds
#   expect_exit NAME CODE CMD...   run CMD; PASS when it exits CODE
#   expect_out NAME ERE    PASS when $OUT matches ERE (grep -E); expect_no_out: when it doesn't
#   expect_json NAME PY    PASS when the python expression PY holds for d = json.loads($STDOUT)
#   wait_for [-n N] CMD... poll CMD up to N times (default 50) 0.1 s apart
#   pid_dead PID           PID has exited (gone or a zombie)
#   ls_canon               `sbx policy ls` tables on stdin -> one line per rule, columns single
#                          spaced, resources joined with ','
#   finish                 exit 1 if any check failed, else 0
#
# Root integration scripts in a test world source tests/integ.sh instead: it sources this file
# and adds their shared setup (integ_init, integ_world_up, integ_cleanup, S, X, in_world ...).
#
# Tests run a real sbxd without root, in private directories, and never use the network.
# Exit codes of sbx: 0 done, 1 failed, 2 bad usage or input, 3 (daemon status) not running.

: "${SBX_BIN:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/${BUILD:-build}/sbx}"
: "${SBXD_BIN:=$(dirname "$SBX_BIN")/sbxd}"
export SBX_BIN SBXD_BIN

_SBX_FAILED=0
_SBX_COUNT=0
SBX_TEST_DIR=
SBX_CMD_TIMEOUT=${SBX_CMD_TIMEOUT:-30}
# the interpreter itself: a pyenv shim costs ~70 ms a call, and the tests make hundreds
PYTHON=${PYTHON:-$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null ||
	/usr/bin/python3 -c 'import sys; print(sys.executable)' 2>/dev/null || echo python3)}

pass() { echo "PASS $1"; _SBX_COUNT=$((_SBX_COUNT + 1)); }
fail() {
	echo "FAIL $1: ${2:-failed}"
	_SBX_FAILED=1
	_SBX_COUNT=$((_SBX_COUNT + 1))
}
skip() { echo "SKIP $1: ${2:-skipped}"; }

# Show the captured output of the last command under a FAIL line (indented, so not counted).
_show_out() {
	[ -n "${OUT:-}" ] || return 0
	printf '%s\n' "$OUT" | head -n 25 | cut -c1-160 | sed 's/^/    | /'
}

finish() {
	if [ "$_SBX_FAILED" != 0 ]; then
		exit 1
	fi
	exit 0
}

# sbx of this tree. stdin is /dev/null so a test run from a terminal never meets the
# interactive chooser; a timeout keeps a hung daemon from hanging the suite.
sbx() {
	timeout --foreground -k 5 "$SBX_CMD_TIMEOUT" "$SBX_BIN" "$@" </dev/null
}

run() {
	_SBX_RUN_N=$((${_SBX_RUN_N:-0} + 1)) # run may nest (check NAME func-that-runs)
	local f=${SBX_TEST_DIR:-${TMPDIR:-/tmp}}/.cap.$BASHPID.$_SBX_RUN_N
	"$@" >"$f.o" 2>"$f.e"
	RC=$?
	STDOUT=$(<"$f.o")
	STDERR=$(<"$f.e")
	rm -f "$f.o" "$f.e"
	if [ -n "$STDOUT" ] && [ -n "$STDERR" ]; then
		OUT=$STDOUT$'\n'$STDERR
	else
		OUT=$STDOUT$STDERR
	fi
	return $RC
}

check() {
	local name=$1
	shift
	if run "$@"; then
		pass "$name"
	else
		fail "$name" "'$*' exited $RC"
		_show_out
	fi
}

expect_exit() {
	local name=$1 code=$2
	shift 2
	run "$@"
	if [ "$RC" = "$code" ]; then
		pass "$name"
	else
		fail "$name" "'$*' exited $RC, want $code"
		_show_out
	fi
}

expect_out() {
	if grep -Eq -- "$2" <<<"$OUT"; then
		pass "$1"
	else
		fail "$1" "output does not match /$2/"
		_show_out
	fi
}

expect_no_out() {
	if grep -Eq -- "$2" <<<"$OUT"; then
		fail "$1" "output matches /$2/ but should not"
		_show_out
	else
		pass "$1"
	fi
}

# json_ok PY: true when PY (python, d = the JSON on $STDOUT) holds.
json_ok() {
	"$PYTHON" -c '
import json, sys
try:
    d = json.loads(sys.stdin.read())
except ValueError as e:
    print("not JSON: %s" % e, file=sys.stderr)
    sys.exit(2)
sys.exit(0 if eval(sys.argv[1]) else 1)' "$1" <<<"$STDOUT"
}

expect_json() {
	local why
	if why=$(json_ok "$2" 2>&1); then
		pass "$1"
	else
		fail "$1" "stdout JSON fails: $2 ${why:+($why)}"
		_show_out
	fi
}

wait_for() {
	local n=50 i
	if [ "$1" = -n ]; then
		n=$2
		shift 2
	fi
	for ((i = 0; i < n; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

ls_canon() {
	LC_ALL=C awk '
	function flush() { if (cur != "") print cur; cur = "" }
	/^(ID +)?PROVENANCE +APPLIES_TO/ { flush(); hdr = 1; col = index($0, "RESOURCES"); next }
	!hdr { next }
	/^$/ { flush(); next }
	{
		pre = substr($0, 1, col - 1); res = substr($0, col)
		if (pre ~ /^ *$/) { cur = cur "," res; next }
		flush()
		gsub(/ +/, " ", pre); sub(/ $/, "", pre)
		cur = pre " " res
	}
	END { flush() }'
}

# sha256 of a file, or "absent".
file_sum() {
	if [ -e "$1" ]; then
		sha256sum "$1" | cut -d' ' -f1
	else
		echo absent
	fi
}

# True when PID has exited: gone, or a zombie its (possibly slow) reaper has not collected yet.
pid_dead() {
	local st
	st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null) || return 0
	[ -z "$st" ] || [ "${st%% *}" = Z ]
}

# ---- private sbxd instances -------------------------------------------------------------

# The pid of this instance's sbxd when one holds the instance lock, else nothing.
sbx_instance_pid() {
	local lock=$SBX_RUN_DIR/sbxd.lock pid
	[ -e "$lock" ] || return 1
	# a lock nobody holds means no daemon, whatever pid the file still names
	flock -n "$lock" true 2>/dev/null && return 1
	pid=$(head -n1 "$lock" 2>/dev/null)
	[[ "$pid" =~ ^[0-9]+$ ]] || return 1
	[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = sbxd ] || return 1
	echo "$pid"
}

sbx_instance_teardown() {
	local pid i
	[ -n "$SBX_TEST_DIR" ] && [ -d "$SBX_TEST_DIR" ] || return 0
	timeout -k 2 10 "$SBX_BIN" daemon stop </dev/null >/dev/null 2>&1
	if pid=$(sbx_instance_pid); then
		kill -TERM "$pid" 2>/dev/null
		for ((i = 0; i < 30; i++)); do
			pid_dead "$pid" && break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null
	fi
	rm -rf "$SBX_TEST_DIR"
	SBX_TEST_DIR=
}

_sbx_on_exit() {
	local rc=$?
	sbx_instance_teardown
	exit $rc
}

# A fresh private instance; a previous one of this script is torn down first.
sbx_instance_setup() {
	sbx_instance_teardown
	SBX_TEST_DIR=$(mktemp -d "${TMPDIR:-/tmp}/sbxt.XXXXXX") || {
		echo "FAIL setup: mktemp failed"
		exit 1
	}
	export SBX_STATE_DIR=$SBX_TEST_DIR/state
	export SBX_RUN_DIR=$SBX_TEST_DIR/run
	export SBX_BPF_DIR=$SBX_TEST_DIR/bpf
	export SBX_CONFIG=$SBX_TEST_DIR/sbxd.conf # never created: built-in settings
	# t + pid in hex (<= 6) + 4 random hex digits: unique, <= 11 chars of [a-z0-9]
	SBX_INSTANCE=t$(printf '%x' $$)$(od -An -N2 -tx1 /dev/urandom | tr -d ' \n')
	export SBX_INSTANCE
	export SBX_TEST_DIR
	trap _sbx_on_exit EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP
}

# Tests need both binaries; say so once instead of failing every check.
sbx_require_bins() {
	local b
	for b in "$SBX_BIN" "$SBXD_BIN"; do
		if [ ! -x "$b" ]; then
			echo "FAIL ${1:-setup}: $b is not built (make build/sbx build/sbxd)"
			exit 1
		fi
	done
}

# The cgroup v2 root, wherever this host mounts it (/sys/fs/cgroup or .../unified).
cgroup2_root() {
	if grep -q ' /sys/fs/cgroup cgroup2 ' /proc/mounts; then
		echo /sys/fs/cgroup
	else
		awk '$9 == "cgroup2" { print $5 }' /proc/self/mountinfo | sort | head -1
	fi
}

# What a failed `sbx rm` may leave of an instance's sandboxes, removed by name:
#   sandbox_leftovers_remove RUN_DIR INSTANCE NAME...
sandbox_leftovers_remove() {
	local run=$1 inst=$2 cg p
	shift 2
	cg=$(cgroup2_root)/$inst
	for p in "$@"; do
		[ -d "$cg/$p" ] && echo 1 >"$cg/$p/cgroup.kill" 2>/dev/null
		umount -l "$run/netns/$p" 2>/dev/null
	done
	sleep 0.2
	for p in "$@"; do rmdir "$cg/$p" 2>/dev/null; done
	rmdir "$cg" 2>/dev/null
	return 0
}
