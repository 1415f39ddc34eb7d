#!/bin/bash
# SPDX-License-Identifier: MIT
# Seed 000's first-start chooser, on a terminal: util-linux `script` gives sbx a pty and
# passes our keys to it. Keys are sent only once the prompt is on screen.
# "COND && pass X || fail X why" is if-then-else here: pass only prints.
# shellcheck disable=SC2015,SC2094,SC2317
set -u
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
sbx_require_bins chooser

if ! command -v script >/dev/null || ! script --version 2>/dev/null | grep -q util-linux; then
	skip chooser "util-linux script(1) is not installed"
	exit 0
fi

# on_tty NAME KEYS: run `sbx policy ls` on a pty in a fresh instance, typing KEYS (printf
# format) once the prompt shows; sets RC and OUT (the whole screen, ESC sequences and all).
on_tty() {
	local keys=$1 screen
	sbx_instance_setup
	screen=$SBX_TEST_DIR/screen
	: >"$screen"
	(
		for ((i = 0; i < 100; i++)); do
			grep -q 'press 1' "$screen" 2>/dev/null && break
			sleep 0.05
		done
		sleep 0.05
		# shellcheck disable=SC2059
		printf "$keys"
		# keep the pty's input open until sbx is done: some script(1) versions hang up
		# on the child when their stdin ends
		for ((i = 0; i < 100; i++)); do
			grep -Eq '^PROVENANCE|^sbx: ' "$screen" 2>/dev/null && break
			sleep 0.05
		done
	) | timeout -k 5 20 script -qec "$SBX_BIN policy ls" /dev/null >"$screen" 2>&1
	RC=$?
	OUT=$(tr -d '\r' <"$screen")
	STDOUT=$OUT
}
# the store's default as the daemon reports it, after the chooser
default_now() { run sbx daemon status --json && json_ok "d[\"default\"] == \"$1\""; }

# ---- 3 picks Locked Down --------------------------------------------------------------------
on_tty 3
[ "$RC" = 0 ] && pass chooser.key3_exit0 || { fail chooser.key3_exit0 "exit $RC"; _show_out; }
expect_out chooser.prompt_title '^Choose a default network policy:$'
expect_out chooser.prompt_open '1\. Open +— All network traffic allowed, no restrictions\.$'
expect_out chooser.prompt_balanced '2\. Balanced +— Default deny, with common dev sites allowed\.$'
expect_out chooser.prompt_locked_down '3\. Locked Down +— All network traffic blocked unless you allow it\.$'
expect_out chooser.prompt_help 'Use ↑/↓ to navigate, Enter to select, or press 1–3\.$'
expect_out chooser.balanced_highlighted_first '> 2\. Balanced'
expect_out chooser.key3_then_lists '^PROVENANCE +APPLIES_TO +POLICY/RULE +TYPE +DECISION +RESOURCES$'
expect_no_out chooser.key3_no_balanced_groups 'default-ai-services|default-package-managers'
expect_out chooser.key3_keeps_fs_groups 'default-fs-read-allow-all +filesystem:read +allow +\*\*'
check chooser.key3_saved_deny_all default_now deny-all
expect_exit chooser.key3_no_prompt_next_time 0 sbx policy ls

# ---- arrow down from Balanced, Enter: Locked Down ------------------------------------------
on_tty '\033[B\r'
[ "$RC" = 0 ] && pass chooser.arrow_down_enter_exit0 || { fail chooser.arrow_down_enter_exit0 "exit $RC"; _show_out; }
expect_out chooser.arrow_down_moves_highlight '> 3\. Locked Down'
expect_no_out chooser.arrow_down_no_balanced_groups 'default-ai-services'
check chooser.arrow_down_saved_deny_all default_now deny-all

# ---- arrow up twice wraps from Open to Locked Down; Enter alone keeps Balanced ----------------
on_tty '\033[A\033[A\r'
check chooser.arrow_up_wraps_saved_deny_all default_now deny-all
on_tty '\r'
expect_out chooser.enter_picks_balanced 'default-ai-services +network +allow'
check chooser.enter_saved_balanced default_now balanced
on_tty 1
expect_out chooser.key1_picks_open 'default-allow-all +network +allow +\*\*'
check chooser.key1_saved_allow_all default_now allow-all

# ---- q aborts: nothing saved, asked again next time ------------------------------------------
on_tty q
[ "$RC" = 1 ] && pass chooser.q_exit1 || { fail chooser.q_exit1 "exit $RC, want 1"; _show_out; }
expect_out chooser.q_says_nothing_done 'no default policy chosen'
expect_no_out chooser.q_no_listing 'PROVENANCE'
check chooser.q_saves_nothing test ! -e "$SBX_STATE_DIR/policy.json"
expect_exit chooser.q_still_no_default 2 sbx policy ls
expect_out chooser.q_still_says_set_default 'sbx policy set-default'

# ---- --json never prompts, even on a terminal ----------------------------------------------
sbx_instance_setup
run timeout -k 5 20 script -qec "$SBX_BIN policy ls --json" /dev/null </dev/null
STDOUT=$(tr -d '\r' <<<"$STDOUT")
OUT=$STDOUT
expect_no_out chooser.json_no_prompt 'Choose a default'
expect_json chooser.json_error 'd["code"] == 2 and "set-default" in d["error"]'

finish
