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

# on_tty KEYS: run `sbx policy ls` on a pty in a fresh instance, typing KEYS (printf format)
# once the prompt shows (KEYS "SIGTERM": send sbx that signal instead), then `stty -a` on the
# same pty (the terminal sbx left behind); sets RC (sbx's), OUT (the whole screen, ESC
# sequences and all) and SCREEN (the screen until sbx exited).
on_tty() {
	local keys=$1 screen wrap
	sbx_instance_setup
	screen=$SBX_TEST_DIR/screen
	wrap=$SBX_TEST_DIR/wrap.sh
	: >"$screen"
	cat >"$wrap" <<EOF_WRAP
sh -c 'echo \$\$ > "\$0"; exec "\$1" policy ls' "$SBX_TEST_DIR/pid" "$SBX_BIN"
echo sbx-rc=\$?
stty -a
echo stty-done
EOF_WRAP
	(
		for ((i = 0; i < 100; i++)); do
			grep -q 'press 1' "$screen" 2>/dev/null && break
			sleep 0.05
		done
		sleep 0.05
		if [ "$keys" = SIGTERM ]; then
			kill -TERM "$(cat "$SBX_TEST_DIR/pid")"
		else
			# shellcheck disable=SC2059
			printf "$keys"
		fi
		# keep the pty's input open until sbx is done: some script(1) versions hang up
		# on the child when their stdin ends
		for ((i = 0; i < 100; i++)); do
			grep -q 'stty-done' "$screen" 2>/dev/null && break
			sleep 0.05
		done
	) | timeout -k 5 20 script -qec "sh $wrap" /dev/null >"$screen" 2>&1
	OUT=$(tr -d '\r' <"$screen")
	RC=$(sed -n 's/^sbx-rc=//p' <<<"$OUT")
	SCREEN=$(sed '/^sbx-rc=/,$d' <<<"$OUT")
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
expect_out chooser.key3_moves_highlight_first '> 3\. Locked Down'
n=$(grep -c '^Default network policy: ' <<<"$SCREEN")
[ "$n" = 1 ] && grep -q '^Default network policy: Locked Down (deny-all)$' <<<"$SCREEN" &&
	pass chooser.key3_confirmed_in_one_line || { fail chooser.key3_confirmed_in_one_line "$n lines"; _show_out; }
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
expect_out chooser.enter_confirmed '^Default network policy: Balanced \(balanced\)$'
check chooser.enter_saved_balanced default_now balanced
on_tty 1
expect_out chooser.key1_picks_open 'default-allow-all +network +allow +\*\*'
expect_out chooser.key1_moves_highlight_first '> 1\. Open'
expect_out chooser.key1_confirmed '^Default network policy: Open \(allow-all\)$'
check chooser.key1_saved_allow_all default_now allow-all

# ---- q aborts: nothing saved, asked again next time ------------------------------------------
on_tty q
[ "$RC" = 1 ] && pass chooser.q_exit1 || { fail chooser.q_exit1 "exit $RC, want 1"; _show_out; }
expect_out chooser.q_says_nothing_done 'no default policy chosen'
expect_no_out chooser.q_no_listing 'PROVENANCE'
check chooser.q_saves_nothing test ! -e "$SBX_STATE_DIR/policy.json"
expect_exit chooser.q_still_no_default 2 sbx policy ls
expect_out chooser.q_still_says_set_default 'sbx policy set-default'
# what it says to run, after its last ': ', pastes into a shell as it is and chooses
fix=${STDERR##*: }
run eval "$fix"
[ "$RC" = 0 ] && default_now balanced && pass chooser.no_default_advice_pastes ||
	{ fail chooser.no_default_advice_pastes "'$fix': exit $RC"; _show_out; }
run sbx policy reset --force
fix=$(tail -n1 <<<"$STDOUT")
fix=${fix##*: }
run eval "$fix"
[ "$RC" = 0 ] && default_now balanced && pass chooser.reset_advice_pastes ||
	{ fail chooser.reset_advice_pastes "'$fix': exit $RC"; _show_out; }
run sbx policy reset --force

# ---- Ctrl-C gives up the same way, and leaves the terminal as it was -------------------------
# the terminal after sbx: stty -a's flags, one a line
tty_flags() { sed -n '/^stty-done/q;/^sbx-rc=/,$p' <<<"$OUT" | tr ' ' '\n' | grep -xE -- '-?(isig|icanon|echo)' | sort -u | tr '\n' ' '; }
on_tty '\003'
[ "$RC" = 1 ] && pass chooser.ctrl_c_exit1 || { fail chooser.ctrl_c_exit1 "exit ${RC:-none}, want 1"; _show_out; }
expect_out chooser.ctrl_c_says_nothing_done '^sbx: no default policy chosen; nothing done$'
flags=$(tty_flags)
check chooser.ctrl_c_saves_nothing test ! -e "$SBX_STATE_DIR/policy.json"
[ "$flags" = "echo icanon isig " ] && pass chooser.ctrl_c_restores_terminal ||
	fail chooser.ctrl_c_restores_terminal "stty after sbx: $flags"
on_tty q
flags=$(tty_flags)
[ "$flags" = "echo icanon isig " ] && pass chooser.q_restores_terminal ||
	fail chooser.q_restores_terminal "stty after sbx: $flags"
on_tty 2
flags=$(tty_flags)
[ "$flags" = "echo icanon isig " ] && pass chooser.choice_restores_terminal ||
	fail chooser.choice_restores_terminal "stty after sbx: $flags"
# a signal that ends sbx while it asks leaves the terminal as it was, too
on_tty SIGTERM
flags=$(tty_flags)
[ "$RC" = 143 ] && [ "$flags" = "echo icanon isig " ] && pass chooser.sigterm_restores_terminal ||
	fail chooser.sigterm_restores_terminal "exit ${RC:-none}, stty after sbx: $flags"

# ---- --json never prompts, even on a terminal ----------------------------------------------
sbx_instance_setup
run timeout -k 5 20 script -qec "$SBX_BIN policy ls --json" /dev/null </dev/null
STDOUT=$(tr -d '\r' <<<"$STDOUT")
OUT=$STDOUT
expect_no_out chooser.json_no_prompt 'Choose a default'
expect_json chooser.json_error 'd["code"] == 2 and "set-default" in d["error"]'

finish
