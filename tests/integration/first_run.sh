#!/bin/bash
# SPDX-License-Identifier: MIT
# A new user's first `sbx run`, in a fresh test world, before any default policy is chosen:
#   - without a terminal, run and exec say in one line that everything is blocked and how to
#     choose, and go on (deny-all); on a terminal, run shows the chooser first, and Ctrl-C
#     there does nothing and leaves the terminal as it was;
#   - a sandbox created as root without sudo (or under sudo from root: SUDO_UID=0) says once
#     that its commands are its own root, which is user nobody in its workspaces, and what
#     that lets them write there; under sudo from a user it runs as that user, owns that
#     user's files in its workspaces, and says nothing;
#   - typos do not create sandboxes: a command in the name's place, or '--' before the name,
#     is refused with the line that was meant; a sandbox whose first command cannot start is
#     removed again; a missing command exits 127 "not found", one that cannot run 126.
# Root only; everything is named after our pid and removed by name.
# "COND && pass X || fail X why" reads as if-then-else here because pass only echoes.
# shellcheck disable=SC2015,SC2016
set -u
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=tests/integ.sh
. tests/integ.sh
integ_init -i fr first_run f ip nsenter script

# sbx as root without sudo, whatever the environment of the test run (SUDO_* unset)
R() { in_world env -u SUDO_UID -u SUDO_GID -u SUDO_USER "${ENVV[@]}" timeout -k 5 60 "$SBX_BIN" "$@" </dev/null; }
NO_DEFAULT="sbx: no default network policy chosen yet, so every connection is blocked; choose one (allow-all, balanced or deny-all): sbx policy set-default balanced"
nobody_note() { # SANDBOX: the two lines a sandbox created as root without sudo prints
	printf '%s\n' "sbx: sandbox $1 runs commands as its own root, which is user nobody (65534) in its workspaces:" \
		"sbx: they can write there only what user nobody owns, not your files (sudo sbx from a user's shell runs them as that user)"
}
exists() { sb_field "$1" name >/dev/null; }

# on_tty KEYS CMD...: sbx CMD... as root without sudo on a pseudo-terminal, typing KEYS
# (printf format) once the chooser shows, then `stty -a` there. RC is sbx's status, SCREEN
# what it showed, FLAGS the terminal's isig/icanon/echo flags after it.
on_tty() {
	local keys=$1 screen=$T/screen i
	shift
	: >"$screen"
	(
		for ((i = 0; i < 200; i++)); do
			grep -q 'press 1' "$screen" 2>/dev/null && break
			sleep 0.05
		done
		sleep 0.05
		# shellcheck disable=SC2059
		printf "$keys"
		for ((i = 0; i < 400; i++)); do
			grep -q 'stty-done' "$screen" 2>/dev/null && break
			sleep 0.05
		done
	) | (cd "$PUB" && timeout -k 5 40 script -qec "bash $ROOT/scripts/world.sh exec $W world env -u SUDO_UID \
-u SUDO_GID ${ENVV[*]} sh -c '\"\$0\" \"\$@\"; echo sbx-rc=\$?; stty -a; echo stty-done' $SBX_BIN $*" \
		/dev/null >"$screen" 2>&1)
	SCREEN=$(tr -d '\r' <"$screen")
	RC=$(sed -n 's/^sbx-rc=//p' <<<"$SCREEN")
	FLAGS=$(sed -n '/^stty-done/q;/^sbx-rc=/,$p' <<<"$SCREEN" | tr ' ' '\n' |
		grep -xE -- '-?(isig|icanon|echo)' | sort -u | tr '\n' ' ')
	SCREEN=$(sed '/^sbx-rc=/,$d' <<<"$SCREEN")
}

cleanup() { integ_cleanup a1 t1 t2 t3 t4 t5 sh true; }
integ_traps
integ_world_up

# ---- no terminal, no default: one line, then deny-all ------------------------------------------
run R run t1 -- sh -c 'echo ran; id -u'
[ "$RC" = 0 ] && [ "$STDOUT" = "$(printf 'ran\n0')" ] && pass first_run.no_tty_runs || fail first_run.no_tty_runs "rc=$RC $OUT"
[ "$(grep -c 'default network policy' <<<"$STDERR")" = 1 ] && grep -qxF "$NO_DEFAULT" <<<"$STDERR" &&
	pass first_run.no_tty_says_blocked_in_one_line || fail first_run.no_tty_says_blocked_in_one_line "stderr: $STDERR"
[ "$(head -1 <<<"$STDERR")" = "$NO_DEFAULT" ] && [ "$(tail -n +2 <<<"$STDERR")" = "$(nobody_note t1)" ] &&
	pass first_run.created_says_nobody_once || fail first_run.created_says_nobody_once "stderr: $STDERR"
# deny-all meanwhile: an allowed-under-Balanced name is refused
run R exec t1 -- curl -s -m 5 http://pypi.org/
[[ $STDOUT == *"Blocked by network policy: domain pypi.org"* ]] && pass first_run.no_default_blocks ||
	fail first_run.no_default_blocks "rc=$RC $OUT"
[ "$STDERR" = "$NO_DEFAULT" ] && pass first_run.exec_says_it_too || fail first_run.exec_says_it_too "stderr: $STDERR"
mkdir "$ATT_CG"
integ_att_sleeper
run R attach a1 --pid "$APID"
[ "$RC" = 0 ] && [ "$STDERR" = "$NO_DEFAULT" ] && [ "$STDOUT" = "Attached a1 to cgroup $ATT_CG" ] &&
	pass first_run.attach_says_it_and_confines || fail first_run.attach_says_it_and_confines "rc=$RC $OUT"
S rm a1 >/dev/null 2>&1
run R policy ls
[ "$RC" = 2 ] && pass first_run.nothing_chosen_for_you || fail first_run.nothing_chosen_for_you "rc=$RC $OUT"

# ---- on a terminal: the chooser comes first ---------------------------------------------------
on_tty '\003' run t2 -- true
[ "$RC" = 1 ] && grep -qx 'sbx: no default policy chosen; nothing done' <<<"$SCREEN" &&
	pass first_run.tty_ctrl_c_nothing_done || fail first_run.tty_ctrl_c_nothing_done "rc=$RC $SCREEN"
! exists t2 && pass first_run.tty_ctrl_c_creates_nothing || fail first_run.tty_ctrl_c_creates_nothing "t2 exists"
[ "$FLAGS" = "echo icanon isig " ] && pass first_run.tty_ctrl_c_restores_terminal ||
	fail first_run.tty_ctrl_c_restores_terminal "stty after sbx: $FLAGS"
on_tty 3 run t2 -- echo in-t2
[ "$RC" = 0 ] && pass first_run.tty_run_exit0 || fail first_run.tty_run_exit0 "rc=$RC $SCREEN"
grep -q 'Choose a default network policy:' <<<"$SCREEN" && pass first_run.tty_run_shows_chooser ||
	fail first_run.tty_run_shows_chooser "$SCREEN"
grep -qx 'Default network policy: Locked Down (deny-all)' <<<"$SCREEN" && grep -qx 'in-t2' <<<"$SCREEN" &&
	[[ ${SCREEN#*Locked Down (deny-all)} == *in-t2* ]] && pass first_run.tty_run_confirms_then_runs ||
	fail first_run.tty_run_confirms_then_runs "$SCREEN"
! grep -q 'no default network policy chosen yet' <<<"$SCREEN" && pass first_run.tty_run_no_warning ||
	fail first_run.tty_run_no_warning "$SCREEN"
[ "$FLAGS" = "echo icanon isig " ] && pass first_run.tty_run_restores_terminal ||
	fail first_run.tty_run_restores_terminal "stty after sbx: $FLAGS"
run R daemon status --json
json_ok 'd["default"] == "deny-all"' && pass first_run.tty_choice_saved || fail first_run.tty_choice_saved "$OUT"
run R run t1 -- true
[ "$RC" = 0 ] && [ -z "$STDERR" ] && pass first_run.chosen_then_silent || fail first_run.chosen_then_silent "rc=$RC $OUT"

# ---- what root without sudo may write, as the note says ----------------------------------------
# in its workspace $PUB: a directory and a file of the host's root, which the sandbox's root must
# not write, and a directory of nobody's, which it may (as nobody: what it makes there is nobody's)
mkdir -m 755 "$PUB/rootdir" && echo host >"$PUB/rootfile" && chmod 644 "$PUB/rootfile"
mkdir -m 755 "$PUB/nobodydir" && chown 65534:65534 "$PUB/nobodydir"
# t1 has no workspace yet: a stopped sandbox takes new ones
S stop t1 >/dev/null 2>&1
# sh -c "$TRY" sh FILE...: who it is, then a line per FILE saying whether appending to it worked
TRY='id -u; for f in "$@"; do (echo x >>"$f") 2>/dev/null && echo "wrote $f" || echo "refused $f"; done'
PLACES=("$PUB/rootdir/f" "$PUB/rootfile" "$PUB/nobodydir/f")
ROOT_SAYS=$(printf '%s\n' 0 "refused $PUB/rootdir/f" "refused $PUB/rootfile" "wrote $PUB/nobodydir/f")
run R run --workspace "$PUB" t1 -- sh -c "$TRY" sh "${PLACES[@]}"
[ "$STDOUT" = "$ROOT_SAYS" ] && [ ! -e "$PUB/rootdir/f" ] && [ "$(cat "$PUB/rootfile")" = host ] &&
	[ "$(stat -c %u:%g "$PUB/nobodydir/f" 2>/dev/null)" = 65534:65534 ] && pass first_run.note_is_accurate || fail first_run.note_is_accurate "rc=$RC $OUT; $(ls -lnR "$PUB")"
# SUDO_UID=0 (sudo from root) is root without sudo: its root is a block of host ids of its own
# (never host root), nobody in its workspaces, and the same note
rm -f "$PUB/nobodydir/f"
run in_world env SUDO_UID=0 SUDO_GID=0 "${ENVV[@]}" timeout -k 5 60 "$SBX_BIN" run --workspace "$PUB" t3 -- \
	sh -c "cat /proc/self/uid_map; $TRY" sh "${PLACES[@]}" </dev/null
MAP=$(head -1 <<<"$STDOUT")
[[ $MAP =~ ^\ *0\ +([0-9]+)\ +65536$ ]] && [ "${BASH_REMATCH[1]}" != 0 ] &&
	[ "${BASH_REMATCH[1]}" = "$(sb_field t3 id_base)" ] && [ "$(tail -n +2 <<<"$STDOUT")" = "$ROOT_SAYS" ] &&
	[ ! -e "$PUB/rootdir/f" ] && [ "$(cat "$PUB/rootfile")" = host ] &&
	[ "$(stat -c %u:%g "$PUB/nobodydir/f" 2>/dev/null)" = 65534:65534 ] && pass first_run.sudo_uid_0_is_nobody || fail first_run.sudo_uid_0_is_nobody "rc=$RC $OUT; $(ls -lnR "$PUB")"
[ "$STDERR" = "$(nobody_note t3)" ] && pass first_run.sudo_uid_0_says_nobody || fail first_run.sudo_uid_0_says_nobody "stderr: $STDERR"
# under sudo from a user: that user, who owns its files in the workspace; no note
mkdir -m 755 "$PUB/userdir" && chown 4242:4242 "$PUB/userdir"
run in_world env SUDO_UID=4242 SUDO_GID=4242 "${ENVV[@]}" timeout -k 5 60 "$SBX_BIN" run --workspace "$PUB" t4 -- \
	sh -c "id -u; echo x > $PUB/userdir/f; (echo x >> $PUB/rootfile) 2>/dev/null || echo refused" </dev/null
[ "$RC" = 0 ] && [ "$STDOUT" = "$(printf '4242\nrefused')" ] && [ -z "$STDERR" ] &&
	[ "$(stat -c %u:%g "$PUB/userdir/f" 2>/dev/null)" = 4242:4242 ] && pass first_run.sudo_user_no_note ||
	fail first_run.sudo_user_no_note "rc=$RC $OUT; $(ls -lnR "$PUB/userdir")"
S rm t3 t4 >/dev/null 2>&1

# ---- typos do not create sandboxes -------------------------------------------------------------
run R run sh -c 'echo hi'
[ "$RC" = 2 ] && [ "$STDERR" = "sbx: 'sh' is a command, not a sandbox: did you mean \`sbx run NAME -- sh -c 'echo hi'\`? (to name a sandbox sh, write \`sbx run sh -- CMD\`)" ] &&
	pass first_run.command_as_name_refused || fail first_run.command_as_name_refused "rc=$RC $OUT"
! exists sh && pass first_run.command_as_name_creates_nothing || fail first_run.command_as_name_creates_nothing "sh exists"
run R run -- true
[ "$RC" = 2 ] && [ "$STDERR" = "sbx: the sandbox's name comes before '--': did you mean \`sbx run NAME -- true\`?" ] &&
	pass first_run.dashdash_before_name_refused || fail first_run.dashdash_before_name_refused "rc=$RC $OUT"
! exists true && pass first_run.dashdash_creates_nothing || fail first_run.dashdash_creates_nothing "true exists"
run R exec sh id -u
[ "$RC" = 2 ] && [[ $STDERR == *"did you mean \`sbx exec NAME -- sh id -u\`?"* ]] && pass first_run.exec_command_as_name_refused ||
	fail first_run.exec_command_as_name_refused "rc=$RC $OUT"
# '--' after the name says it is a name; then the sandbox exists and takes commands
run R run sh -- true
[ "$RC" = 0 ] && exists sh && pass first_run.dashdash_after_name_creates || fail first_run.dashdash_after_name_creates "rc=$RC $OUT"
run R run sh id -u
[ "$RC" = 0 ] && [ "$STDOUT" = 0 ] && pass first_run.existing_command_named_sandbox_runs ||
	fail first_run.existing_command_named_sandbox_runs "rc=$RC $OUT"
S rm sh >/dev/null 2>&1

# ---- a first command that cannot start leaves no sandbox ---------------------------------------
run R run t5 -- nosuchcmd-sbx arg
[ "$RC" = 127 ] && [ "$(tail -1 <<<"$STDERR")" = "sbx: nosuchcmd-sbx: not found" ] && pass first_run.not_found_127 ||
	fail first_run.not_found_127 "rc=$RC $OUT"
! exists t5 && pass first_run.not_found_removes_new_sandbox || fail first_run.not_found_removes_new_sandbox "t5 left behind"
# a directory of PATH closed to nobody does not turn "not found" into "Permission denied"
mkdir -m 700 "$T/closed"
run in_world env -u SUDO_UID "${ENVV[@]}" PATH="$T/closed:/usr/bin:/bin" timeout -k 5 60 "$SBX_BIN" run t5 -- nosuchcmd-sbx </dev/null
[ "$RC" = 127 ] && [ "$(tail -1 <<<"$STDERR")" = "sbx: nosuchcmd-sbx: not found" ] && pass first_run.closed_path_dir_still_127 ||
	fail first_run.closed_path_dir_still_127 "rc=$RC $OUT"
run R run t5 -- /nonexistent/cmd
[ "$RC" = 127 ] && [ "$(tail -1 <<<"$STDERR")" = "sbx: /nonexistent/cmd: not found" ] && ! exists t5 &&
	pass first_run.path_not_found_127 || fail first_run.path_not_found_127 "rc=$RC $OUT"
printf '#!/bin/sh\necho no\n' >"$PUB/noexec" && chmod 644 "$PUB/noexec"
run R run --workspace "$PUB" t5 -- "$PUB/noexec"
[ "$RC" = 126 ] && [ "$(tail -1 <<<"$STDERR")" = "sbx: cannot run '$PUB/noexec' in sandbox t5: Permission denied" ] &&
	! exists t5 && pass first_run.cannot_run_126 || fail first_run.cannot_run_126 "rc=$RC $OUT"
# an existing sandbox stays whatever its command does
run R run t1 -- nosuchcmd-sbx
[ "$RC" = 127 ] && exists t1 && pass first_run.existing_sandbox_kept || fail first_run.existing_sandbox_kept "rc=$RC $OUT"

finish
