#!/bin/bash
# SPDX-License-Identifier: MIT
# The sbxd lifecycle seen from sbx: daemon start/stop/status, start on demand (also by
# several commands at once), a corrupt store, the store's mode, --help everywhere, and
# recovery after sbxd is SIGKILLed (stale socket and lock).
# "COND && pass X || fail X why" is if-then-else here: pass only prints.
# shellcheck disable=SC2015,SC2094,SC2317
set -u
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
sbx_require_bins daemon
sbx_instance_setup
STORE=$SBX_STATE_DIR/policy.json
SOCK=$SBX_RUN_DIR/sbxd.sock

pid_alive() { [ -n "$1" ] && ! pid_dead "$1"; }
sock_gone() { [ ! -e "$SOCK" ]; }
not_running() { ! sbx_instance_pid >/dev/null; }

# ---- status / start / stop ----------------------------------------------------------------
expect_exit daemon.status_not_running_exit3 3 sbx daemon status
expect_out daemon.status_not_running_says_so 'not running'
expect_exit daemon.status_json_not_running_exit3 3 sbx daemon status --json
expect_json daemon.status_json_not_running 'd["running"] is False'
expect_exit daemon.stop_when_not_running 0 sbx daemon stop
expect_out daemon.stop_when_not_running_says_so 'not running'

expect_exit daemon.start 0 sbx daemon start
expect_out daemon.start_prints_pid '^sbxd started \(pid [0-9]+\)$'
PID=$(grep -Eo '[0-9]+' <<<"$STDOUT" | tail -n1)
pid_alive "$PID" && pass daemon.start_pid_alive || fail daemon.start_pid_alive "pid '$PID' not alive"
[ "$(sbx_instance_pid)" = "$PID" ] && pass daemon.lock_names_pid ||
	fail daemon.lock_names_pid "sbxd.lock names '$(head -n1 "$SBX_RUN_DIR/sbxd.lock" 2>/dev/null)', want $PID"
check daemon.socket_exists test -S "$SOCK"
expect_exit daemon.status_running 0 sbx daemon status
expect_out daemon.status_says_running '^sbxd is running$'
expect_out daemon.status_shows_pid "pid: +$PID\$"
expect_out daemon.status_shows_instance "instance: +$SBX_INSTANCE\$"
expect_out daemon.status_shows_state_dir "state: +$SBX_STATE_DIR\$"
expect_exit daemon.status_json_running 0 sbx daemon status --json
expect_json daemon.status_json_fields "d[\"running\"] is True and d[\"pid\"] == $PID and d[\"instance\"] == \"$SBX_INSTANCE\" and d[\"state_dir\"] == \"$SBX_STATE_DIR\" and d[\"run_dir\"] == \"$SBX_RUN_DIR\" and d.get(\"default\") in (\"none\", None)"
expect_exit daemon.start_again 0 sbx daemon start
expect_out daemon.start_again_already_running 'already running'
[ "$(sbx_instance_pid)" = "$PID" ] && pass daemon.start_again_same_pid || fail daemon.start_again_same_pid "pid changed"

expect_exit daemon.stop 0 sbx daemon stop
expect_out daemon.stop_says_stopped '^sbxd stopped$'
wait_for -n 30 pid_dead "$PID" && pass daemon.stop_pid_gone || fail daemon.stop_pid_gone "pid $PID still alive"
check daemon.stop_socket_gone sock_gone
expect_exit daemon.status_after_stop_exit3 3 sbx daemon status

# ---- on demand --------------------------------------------------------------------------
expect_exit daemon.set_default_autostarts 0 sbx policy set-default balanced
expect_exit daemon.running_after_set_default 0 sbx daemon status
run sbx daemon stop
expect_exit daemon.ls_autostarts 0 sbx policy ls
expect_out daemon.ls_autostart_output '^PROVENANCE +APPLIES_TO'
expect_exit daemon.running_after_ls 0 sbx daemon status
run sbx daemon stop

# ---- several commands at once start one daemon between them (the race loses only
# sometimes, so it runs many rounds) ------------------------------------------------------
race_ok=1
race_why=
for round in $(seq 20); do
	run sbx daemon stop
	pids=()
	for i in 1 2 3 4 5; do
		sbx policy ls >"$SBX_TEST_DIR/race.$i.out" 2>&1 &
		pids+=($!)
	done
	for i in "${!pids[@]}"; do
		if ! wait "${pids[$i]}"; then
			race_ok=0
			race_why="round $round, command $((i + 1)): $(head -n1 "$SBX_TEST_DIR/race.$((i + 1)).out")"
		fi
	done
	rm -f "$SBX_TEST_DIR"/race.*.out
done
[ $race_ok = 1 ] && pass daemon.concurrent_autostart_all_succeed ||
	fail daemon.concurrent_autostart_all_succeed "$race_why"
expect_exit daemon.concurrent_autostart_one_daemon 0 sbx daemon status
# the same race made certain: another sbxd holds the instance lock for a while before it
# serves (a slow start); a command meanwhile must wait for it, not give up
run sbx daemon stop
(
	exec 9>>"$SBX_RUN_DIR/sbxd.lock"
	flock -x 9
	: >"$SBX_TEST_DIR/held"
	sleep 0.7
	exec 9>&-
	sbx daemon start >/dev/null 2>&1
) &
starter=$!
wait_for test -e "$SBX_TEST_DIR/held"
expect_exit daemon.autostart_waits_for_starting_daemon 0 sbx policy ls
wait "$starter"

# ---- the store --------------------------------------------------------------------------
run sbx policy deny network ads.example.com
check daemon.store_exists test -f "$STORE"
mode=$(stat -c %a "$STORE" 2>/dev/null)
[ "$mode" = 600 ] && pass daemon.store_mode_0600 || fail daemon.store_mode_0600 "mode is $mode"
mode=$(stat -c %a "$SBX_STATE_DIR" 2>/dev/null)
[ "$mode" = 700 ] && pass daemon.state_dir_mode_0700 || fail daemon.state_dir_mode_0700 "mode is $mode"
mode=$(stat -c %a "$SOCK" 2>/dev/null)
[ "$mode" = 600 ] && pass daemon.socket_mode_0600 || fail daemon.socket_mode_0600 "mode is $mode"
extra=$(find "$SBX_STATE_DIR" -mindepth 1 ! -name policy.json -printf '%f ')
[ -z "$extra" ] && pass daemon.store_no_temp_files || fail daemon.store_no_temp_files "left: $extra"
"$PYTHON" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["default"] == "balanced" and any(r["resources"] == ["ads.example.com"] for r in d["rules"])' "$STORE" 2>/dev/null &&
	pass daemon.store_is_json || fail daemon.store_is_json "policy.json does not hold the rule"

# ---- a corrupt store is reported and left alone -------------------------------------------
run sbx daemon stop
cp "$STORE" "$SBX_TEST_DIR/good.json"
printf '{not json' >"$STORE"
expect_exit daemon.corrupt_store_exit1 1 sbx policy ls
expect_out daemon.corrupt_store_names_path "$STORE"
expect_out daemon.corrupt_store_says_corrupt 'corrupt|not valid JSON'
[ "$(cat "$STORE")" = '{not json' ] && pass daemon.corrupt_store_untouched ||
	fail daemon.corrupt_store_untouched "policy.json now holds: $(head -c 80 "$STORE")"
expect_exit daemon.corrupt_store_start_exit1 1 sbx daemon start
expect_out daemon.corrupt_store_start_names_path "$STORE"
expect_exit daemon.corrupt_store_set_default_exit1 1 sbx policy set-default deny-all
[ "$(cat "$STORE")" = '{not json' ] && pass daemon.corrupt_store_not_reset ||
	fail daemon.corrupt_store_not_reset "set-default overwrote the corrupt store"
expect_exit daemon.corrupt_store_no_daemon_left 3 sbx daemon status
printf '{"schema": 1, "default": "balanced", "rules": [{"id": "x"}]}' >"$STORE"
expect_exit daemon.bad_rule_in_store_exit1 1 sbx policy ls
expect_out daemon.bad_rule_in_store_names_path "$STORE"
printf '{"schema": 99, "default": "balanced", "rules": []}' >"$STORE"
expect_exit daemon.newer_schema_exit1 1 sbx policy ls
expect_out daemon.newer_schema_says_schema 'schema'
cp "$SBX_TEST_DIR/good.json" "$STORE"
expect_exit daemon.repaired_store_serves 0 sbx policy ls
expect_out daemon.repaired_store_has_rule 'deny +ads\.example\.com'

# ---- --help everywhere: usage on stdout, exit 0, no daemon started -------------------------
run sbx daemon stop
help_name() { sed 's/--help/dash_dash_help/; s/^-h$/dash_h/; s/ /_/g' <<<"$1"; }
for args in "--help" "-h" "help" "policy --help" "policy help" "policy ls --help" \
	"policy allow --help" "policy deny --help" "policy rm --help" "policy inspect --help" \
	"policy check --help" "policy set-default --help" "policy reset --help" \
	"daemon --help" "daemon start --help" "daemon stop --help" "daemon status --help"; do
	# shellcheck disable=SC2086
	run sbx $args
	if [ "$RC" = 0 ] && grep -q '^Usage: ' <<<"$STDOUT" && [ -z "$STDERR" ]; then
		pass "daemon.help.$(help_name "$args")"
	else
		fail "daemon.help.$(help_name "$args")" "sbx $args: exit $RC, stdout starts '$(head -n1 <<<"$STDOUT")'"
	fi
done
run timeout 10 "$SBXD_BIN" --help
[ "$RC" = 0 ] && grep -q '^Usage: sbxd' <<<"$STDOUT" && pass daemon.help.sbxd ||
	fail daemon.help.sbxd "sbxd --help: exit $RC"
run timeout 10 "$SBXD_BIN" --bogus
[ "$RC" = 2 ] && pass daemon.sbxd_bad_option_exit2 || fail daemon.sbxd_bad_option_exit2 "exit $RC"
# the last line says what was wrong, in sbxd's words
[ "$(tail -n1 <<<"$STDERR")" = "sbxd: unknown option '--bogus'" ] && pass daemon.sbxd_bad_option_says ||
	fail daemon.sbxd_bad_option_says "stderr ends '$(tail -n1 <<<"$STDERR")'"
run timeout 10 "$SBXD_BIN" extra
[ "$RC" = 2 ] && [ "$(tail -n1 <<<"$STDERR")" = "sbxd: unexpected argument 'extra' (sbxd takes options only)" ] &&
	pass daemon.sbxd_argument_says || fail daemon.sbxd_argument_says "exit $RC, stderr ends '$(tail -n1 <<<"$STDERR")'"
run timeout 10 "$SBXD_BIN" --ready-fd x
[ "$RC" = 2 ] && [ "$(tail -n1 <<<"$STDERR")" = "sbxd: --ready-fd takes a file descriptor number, not 'x'" ] &&
	pass daemon.sbxd_ready_fd_number || fail daemon.sbxd_ready_fd_number "exit $RC, stderr ends '$(tail -n1 <<<"$STDERR")'"
run timeout 10 "$SBXD_BIN" --ready-fd 4294967299 # would be fd 3 cut to an int
[ "$RC" = 2 ] && [ "$(tail -n1 <<<"$STDERR")" = "sbxd: --ready-fd takes a file descriptor number, not '4294967299'" ] &&
	pass daemon.sbxd_ready_fd_in_range || fail daemon.sbxd_ready_fd_in_range "exit $RC, stderr ends '$(tail -n1 <<<"$STDERR")'"
check daemon.help_starts_no_daemon not_running
expect_exit daemon.version 0 sbx version
expect_out daemon.version_output '^sbx [0-9]+\.[0-9]+\.[0-9]+$'

# ---- SIGKILL: stale socket and lock are recovered -----------------------------------------
run sbx daemon start
PID=$(sbx_instance_pid)
if [ -z "$PID" ]; then
	fail daemon.sigkill_setup "no daemon after start"
else
	kill -KILL "$PID"
	wait_for -n 50 pid_dead "$PID" && pass daemon.sigkill_killed || fail daemon.sigkill_killed "pid $PID still alive"
	check daemon.sigkill_leaves_stale_socket test -S "$SOCK"
	expect_exit daemon.sigkill_status_not_running 3 sbx daemon status
	expect_exit daemon.sigkill_recovers_on_demand 0 sbx policy ls
	expect_out daemon.sigkill_rules_kept 'deny +ads\.example\.com'
	NEW=$(sbx_instance_pid)
	[ -n "$NEW" ] && [ "$NEW" != "$PID" ] && pass daemon.sigkill_new_daemon ||
		fail daemon.sigkill_new_daemon "pid after recovery '$NEW' (killed $PID)"
	# and once more by hand, with `sbx daemon start`
	kill -KILL "$NEW"
	wait_for -n 50 pid_dead "$NEW"
	expect_exit daemon.sigkill_then_start 0 sbx daemon start
	expect_out daemon.sigkill_then_start_says_started 'started'
	expect_exit daemon.sigkill_then_status 0 sbx daemon status
fi

# ---- proxy limits in sbxd.conf (sbxd(8) "Limits"): bad values name the file and line ---------
CONF=$SBX_TEST_DIR/limits.conf
for bad in "sessions_per_sandbox = 0" "idle_timeout = -1" "head_timeout = 10s" \
	"half_close_timeout = 99999999"; do
	printf '# limits\n%s\n' "$bad" >"$CONF"
	key=${bad%% *}
	run env SBX_CONFIG="$CONF" timeout 10 "$SBXD_BIN"
	[ "$RC" != 0 ] && grep -q "limits.conf:2: $key must be a whole number 1-1000000" <<<"$OUT" &&
		pass "daemon.config_bad_$key" || fail "daemon.config_bad_$key" "exit $RC: $OUT"
done
printf 'sessions_per_sandbox = 64\nhead_timeout = 5\nidle_timeout = 60\nhalf_close_timeout = 10\n' >"$CONF"
SBX_CONFIG=$CONF run sbx daemon start
[ "$RC" = 0 ] && pass daemon.config_limits_accepted || fail daemon.config_limits_accepted "exit $RC: $OUT"
run sbx daemon stop

# ---- stop really stops: nothing of this instance is left running ---------------------------
run sbx daemon stop
check daemon.final_stop_no_daemon not_running
check daemon.final_stop_socket_gone sock_gone

finish
