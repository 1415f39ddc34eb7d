#!/bin/bash
# SPDX-License-Identifier: MIT
# A sandbox sees only what it is granted, checked from inside, in a fresh test world: no
# signal, rlimit or priority reaches a process outside it (another sandbox's, the host's,
# sbxd); the host's files outside its workspaces are absent and its writes land in its own
# layers; no host Unix socket (path or abstract) is reachable; ps and /proc show only its pid
# namespace, whose init reaps orphans; what it installs lasts until sbx rm; workspaces are
# judged by the filesystem rules on the resolved directory and mounted from the fd sbxd
# opened; seccomp refuses new user namespaces and bpf(). Network verdicts are egress.sh's.
# Root only; everything runs in namespaces, cgroups and files this script creates and
# removes, by the names it chose.
# Prints "PASS isolation.<check>" or "FAIL isolation.<check>: why"; exit 1 if any failed.
# "COND && pass X || fail X why" reads as if-then-else here because pass only echoes.
# Commands for inside are single-quoted on purpose: they expand in the sandbox.
# shellcheck disable=SC2015,SC2016
set -u
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=tests/integ.sh
. tests/integ.sh
integ_init -i is -b "$NETTOOL" isolation i socat ps prlimit renice setpriv unshare

SBS=(a b p u w r sw st)
# host files and sockets this script makes outside $T, removed by cleanup
HMARK=/tmp/sbx-isol-$$.marker
RMARK=/root/sbx-isol-$$.marker
USRX=/usr/bin/sbx-isol-$$
TSOCK=/tmp/sbx-isol-$$.sock
RSOCK=/run/sbx-isol-$$.sock
ASOCK=sbx-isol-$$

cleanup() {
	rm -f "$HMARK" "$RMARK" "$TSOCK" "$RSOCK"
	# only if this script's sandbox leaked it: the name is ours
	[ -e "$USRX" ] && rm -f "$USRX"
	integ_cleanup "${SBS[@]}"
}
integ_traps
integ_world_up
if ! out=$(S policy set-default balanced 2>&1); then
	echo "FAIL isolation.setup: $out"
	exit 1
fi

# An `sbx exec` left running in the background; its pid in BG.
bg_exec() {
	in_world env "${ENVV[@]}" timeout -k 5 120 "$SBX_BIN" exec "$@" </dev/null >/dev/null 2>&1 &
	BG=$!
	BG_PIDS+=("$BG")
}
# host pids of a sandbox's processes but its init
sb_pids() {
	local init
	init=$(sb_field "$1" init_pid)
	grep -vx "$init" "$(sb_field "$1" cgroup)/cgroup.procs" 2>/dev/null
}
state_of() { sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null; }
nice_of() { awk '{ sub(/.*\) /, ""); print $17 }' "/proc/$1/stat" 2>/dev/null; }
nofile_of() { awk '/^Max open files/ { print $4 " " $5 }' "/proc/$1/limits" 2>/dev/null; }
WS() { SBX_NO_PUB=1 S "$@"; } # sbx without the automatic $PUB workspace
# first_run.sh checks the note root-made sandboxes get once; here it is noise in outputs
eval "s_plain() $(declare -f S | tail -n +2)"
S() {
	local rc
	{ s_plain "$@" 2>&1 1>&3 3>&- | grep -v -e '^sbx: sandbox .* runs commands as its own root' \
		-e '^sbx: they can write there only what user nobody owns' >&2; } 3>&1
	rc=${PIPESTATUS[0]}
	return "$rc"
}
has_procs() { [ -n "$(sb_pids "$1")" ]; }
SB=a

# ---- 1. signals, rlimits, priorities: nothing outside the sandbox ------------------------------
S run a -- true >/dev/null 2>&1
S run b -- true >/dev/null 2>&1
bg_exec b -- sleep 300
wait_for -n 50 has_procs b
BPID=$(sb_pids b | head -1)
BINIT=$(sb_field b init_pid)
# a host process of nobody's, known by an argument no other test uses
in_world setpriv --reuid=65534 --regid=65534 --clear-groups sleep "300.$$" </dev/null >/dev/null 2>&1 &
BG_PIDS+=($!)
wait_for -n 50 pgrep -u 65534 -xf "sleep 300.$$"
NPID=$(pgrep -u 65534 -xf "sleep 300.$$" | head -1)
BG_PIDS+=("$NPID")
DPID=$(daemon_pid)
TARGETS=("$BPID" "$BINIT" "$NPID" "$DPID")
declare -A NICE0 LIM0
for p in "${TARGETS[@]}"; do
	NICE0[$p]=$(nice_of "$p")
	LIM0[$p]=$(nofile_of "$p")
done
if [ -z "$BPID" ] || [ -z "$NPID" ] || [ -z "$DPID" ] || [ -z "$BINIT" ]; then
	fail isolation.targets_found "b=$BPID b-init=$BINIT nobody=$NPID sbxd=$DPID"
fi
# each attempt prints "PID OP rc=N: message"; a success is rc=0
X sh -c 'for p; do
	[ -e /proc/$p ] && echo "$p visible"
	m=$(kill -0 $p 2>&1); echo "$p kill0 rc=$?: $m"
	m=$(kill -STOP $p 2>&1); echo "$p stop rc=$?: $m"
	m=$(kill -KILL $p 2>&1); echo "$p kill rc=$?: $m"
	m=$(prlimit --pid $p --nofile=7:7 2>&1); echo "$p prlimit rc=$?: $m"
	m=$(renice -n 19 -p $p 2>&1); echo "$p renice rc=$?: $m"
done' sh "${TARGETS[@]}"
SIGOUT=$OUT
bad=$(grep -E 'visible| rc=0:' <<<"$SIGOUT")
tries=$(grep -cE ' rc=[1-9][0-9]*: .*(No such process|Operation not permitted)' <<<"$SIGOUT")
[ -z "$bad" ] && [ "$tries" = 20 ] && pass isolation.no_signal_rlimit_priority_outside ||
	fail isolation.no_signal_rlimit_priority_outside "targets ${TARGETS[*]}; got: $SIGOUT"
# the same tools work on the sandbox's own process: the refusals above are the isolation's
# (its sleep gets none of our pipe: stopped, it would hold the capture open)
X sh -c 'sleep 30 </dev/null >/dev/null 2>&1 & p=$!
	kill -0 $p && prlimit --pid $p --nofile=7:7 && renice -n 19 -p $p >/dev/null && kill -STOP $p &&
	for i in 1 2 3 4 5 6 7 8 9 10; do grep -q "^State:.*T" /proc/$p/status && break; sleep 0.1; done &&
	grep -q "^State:.*T" /proc/$p/status && echo controls-ok; kill -KILL $p'
[ "$OUT" = controls-ok ] && pass isolation.tools_work_inside || fail isolation.tools_work_inside "out=$OUT"
# the sandbox's nobody is not the host's nobody
OUT=$(in_world env "${ENVV[@]}" SUDO_UID=65534 SUDO_GID=65534 timeout 60 "$SBX_BIN" exec a -- \
	sh -c "id -u; kill -0 $NPID 2>&1; kill -STOP $NPID 2>&1; echo rc=\$?" </dev/null 2>&1)
[[ $OUT == 65534*"rc=1" ]] && [ "$(state_of "$NPID")" = S ] && pass isolation.sandbox_nobody_cannot_signal_host_nobody ||
	fail isolation.sandbox_nobody_cannot_signal_host_nobody "out=$OUT state=$(state_of "$NPID")"
# and they are untouched: alive, not stopped, same nice and limits
ok=1 why=
for p in "${TARGETS[@]}"; do
	st=$(state_of "$p")
	if [ -z "$st" ] || [ "$st" = T ] || [ "$st" = Z ] || [ "$(nice_of "$p")" != "${NICE0[$p]}" ] ||
		[ "$(nofile_of "$p")" != "${LIM0[$p]}" ]; then
		ok=0 why="$why $p:state=$st,nice=$(nice_of "$p"),nofile=$(nofile_of "$p")"
	fi
done
[ $ok = 1 ] && pass isolation.targets_untouched || fail isolation.targets_untouched "$why"
X sh -c 'ps -eo args= | grep -c "^sleep 300"'
[ "$OUT" = 0 ] && pass isolation.other_sandbox_process_invisible ||
	fail isolation.other_sandbox_process_invisible "a sees $OUT 'sleep 300'"
# kill -1 inside reaches only the sandbox's own processes
X sh -c 'kill -STOP -1; sleep 0.2; kill -CONT -1; echo done'
sleep 0.2
ok=1
for p in "${TARGETS[@]}"; do [ "$(state_of "$p")" = S ] || ok=0; done
[ $ok = 1 ] && [[ $OUT == *done* ]] && pass isolation.kill_minus_one_stays_inside ||
	fail isolation.kill_minus_one_stays_inside "out=$OUT states: $(for p in "${TARGETS[@]}"; do echo -n "$p=$(state_of "$p") "; done)"

# ---- 4. ps and /proc: its pid namespace only ---------------------------------------------------
X sh -c 'ps -eo pid=,args=; echo "init=$(cat /proc/1/comm) $(cut -d" " -f22 /proc/1/stat)"'
PSOUT=$OUT
others=$(grep -vE '^ *1 sbx-init$|^ *[0-9]+ (sh -c|ps -eo|cut -d|cat /proc)|^init=' <<<"$PSOUT")
[ $RC = 0 ] && [[ $PSOUT =~ (^|$'\n')\ *1\ sbx-init($'\n'|$) ]] && [ -z "$others" ] &&
	pass isolation.ps_shows_only_the_sandbox || fail isolation.ps_shows_only_the_sandbox "out=$PSOUT"
[[ $PSOUT == *"init=sbx-init $(sb_field a init_start)"* ]] && pass isolation.proc_1_is_the_init ||
	fail isolation.proc_1_is_the_init "init_start=$(sb_field a init_start) out=$PSOUT"
# the init is sbxd's copy: nothing of its memory or environment is the sandbox's to read
X sh -c 'for f in environ maps mem; do head -c1 /proc/1/$f >/dev/null 2>&1 && echo "$f readable"; done;
	ls /proc/1/root/ >/dev/null 2>&1 && echo "root readable"
	head -c1 /proc/self/environ >/dev/null && echo self-ok'
[ "$OUT" = self-ok ] && pass isolation.init_memory_unreadable || fail isolation.init_memory_unreadable "out=$OUT"
X sh -c "for p in $NPID $DPID $$ 1; do [ -e /proc/\$p ] && echo \$p; done"
[ "$OUT" = 1 ] && pass isolation.host_pids_absent_from_proc || fail isolation.host_pids_absent_from_proc "out=$OUT"

# ---- 8. the init: reaps orphans, goes with sbx stop --------------------------------------------
X sh -c 'sleep 2 >/dev/null 2>&1 & echo $!'
ORPHAN=$OUT
X ps -o ppid= -p "$ORPHAN"
[ "${OUT// /}" = 1 ] && pass isolation.orphans_go_to_init || fail isolation.orphans_go_to_init "orphan $ORPHAN ppid: $OUT"
X sh -c 'for i in 1 2 3; do sleep 0.1 </dev/null >/dev/null 2>&1 & done; exit 0'
sleep 0.6
X ps -eo stat=,pid=,comm=
zombies=$(awk '$1 ~ /^Z/' <<<"$OUT")
[ $RC = 0 ] && [ -z "$zombies" ] && pass isolation.orphans_reaped || fail isolation.orphans_reaped "out=$OUT"

# sbx stop ends every process, the init too; sbx run starts a fresh init
BSTART=$(sb_field b init_start)
run S stop b
gone() { [ ! -e "/proc/$1" ]; }
wait_for -n 50 gone "$BINIT"
wait_for -n 50 gone "$BPID"
[ $RC = 0 ] && gone "$BPID" && gone "$BINIT" &&
	pass isolation.stop_ends_init_and_processes ||
	fail isolation.stop_ends_init_and_processes "rc=$RC $OUT; states: $BPID=$(state_of "$BPID") $BINIT=$(state_of "$BINIT") ppid $(awk '/^PPid/ {print $2}' "/proc/$BINIT/status" 2>&1)"
OUT=$(S run b -- sh -c 'ps -eo pid=,comm= | head -1' 2>&1)
NINIT=$(sb_field b init_pid)
[ -n "$NINIT" ] && [ "$NINIT:$(sb_field b init_start)" != "$BINIT:$BSTART" ] && [ -n "$(state_of "$NINIT")" ] &&
	[[ $OUT =~ ^\ *1\ sbx-init$ ]] && pass isolation.run_after_stop_fresh_init ||
	fail isolation.run_after_stop_fresh_init "init $BINIT -> $NINIT out=$OUT"

# ---- 7. seccomp --------------------------------------------------------------------------------
OUT=$(in_world unshare -U true 2>&1) && pass isolation.host_can_unshare_user || fail isolation.host_can_unshare_user "out=$OUT"
X unshare -U true
[ $RC = 1 ] && [[ $OUT == *"Operation not permitted"* ]] && pass isolation.unshare_user_refused ||
	fail isolation.unshare_user_refused "rc=$RC out=$OUT"
X /usr/bin/python3 -c 'import ctypes
libc = ctypes.CDLL(None, use_errno=True)
for nr in (321, 250):  # bpf(BPF_MAP_CREATE, NULL, 0), keyctl(KEYCTL_GET_KEYRING_ID, ...)
	r = libc.syscall(nr, 0, 0, 0)
	print(nr, r, ctypes.get_errno())'
[ "$OUT" = $'321 -1 1\n250 -1 1' ] && pass isolation.bpf_keyctl_eperm || fail isolation.bpf_keyctl_eperm "out=$OUT"

# ---- 2. host files outside the workspace -------------------------------------------------------
echo secret >"$T/marker"
echo secret >"$HMARK"
echo secret >"$RMARK"
X sh -c "for f in $T/marker $HMARK $RMARK; do [ -e \$f ] && echo \"\$f seen\"; done
	echo x > $T/written 2>/dev/null
	echo x > $USRX && chmod 755 $USRX && cat $USRX
	wc -c < /etc/shadow"
[ -s /etc/shadow ] && [[ $OUT != *seen* ]] && pass isolation.host_files_invisible ||
	fail isolation.host_files_invisible "out=$OUT"
[[ $OUT == "x"$'\n'"0" ]] && [ ! -e "$USRX" ] && [ ! -e "$T/written" ] &&
	pass isolation.writes_stay_in_the_sandbox || fail isolation.writes_stay_in_the_sandbox "out=$OUT host $USRX: $(ls -l "$USRX" 2>&1)"
X cat "$USRX"
[ "$OUT" = x ] && pass isolation.usr_write_kept_in_upper_layer || fail isolation.usr_write_kept_in_upper_layer "out=$OUT"
[ "$(wc -c </etc/shadow)" -gt 0 ] && X cat /etc/shadow && [ -z "$OUT" ] && pass isolation.shadow_empty_inside ||
	fail isolation.shadow_empty_inside "out=$OUT"

# nor does one sandbox see another's files
X sh -c 'echo a > /tmp/only-a; echo a > /var/tmp/only-a; echo a > /root/only-a'
SB=b X sh -c 'cat /tmp/only-a /var/tmp/only-a /root/only-a 2>/dev/null; :'
[ -z "$OUT" ] && pass isolation.sandboxes_do_not_share_files || fail isolation.sandboxes_do_not_share_files "b reads: $OUT"

# ---- 3. host Unix sockets ----------------------------------------------------------------------
for s in "UNIX-LISTEN:$TSOCK,fork" "UNIX-LISTEN:$RSOCK,fork" "ABSTRACT-LISTEN:$ASOCK,fork"; do
	in_world socat "$s" SYSTEM:'echo hi' </dev/null >/dev/null 2>&1 &
	BG_PIDS+=($!)
done
wait_for -n 50 test -S "$TSOCK" -a -S "$RSOCK"
wait_for -n 50 sh -c "grep -q '@$ASOCK' /proc/net/unix"
HOSTSEES=$(for a in "UNIX-CONNECT:$TSOCK" "UNIX-CONNECT:$RSOCK" "ABSTRACT-CONNECT:$ASOCK"; do
	in_world timeout 5 socat -T 2 - "$a" </dev/null 2>&1
done | tr '\n' ' ')
[ "$HOSTSEES" = "hi hi hi " ] && pass isolation.host_sockets_answer_on_host ||
	fail isolation.host_sockets_answer_on_host "host got: $HOSTSEES"
X /usr/bin/python3 -c 'import socket, sys
for a in sys.argv[1:]:
	s = socket.socket(socket.AF_UNIX)
	s.settimeout(2)
	try:
		s.connect("\0" + a[1:] if a[0] == "@" else a)
		print(a, "connected", s.recv(10))
	except OSError as e:
		print(a, type(e).__name__)' "$TSOCK" "$RSOCK" "@$ASOCK"
[ "$OUT" = "$TSOCK FileNotFoundError"$'\n'"$RSOCK FileNotFoundError"$'\n'"@$ASOCK ConnectionRefusedError" ] &&
	pass isolation.host_sockets_unreachable || fail isolation.host_sockets_unreachable "out=$OUT"

# ---- 5. what the sandbox installs lasts until sbx rm -------------------------------------------
ULB0=$(ls -la --time-style=+%s /usr/local/bin 2>&1)
S run p -- sh -c 'printf "#!/bin/sh\necho hello-from-p\n" > /usr/local/bin/sbx-isol-hello &&
	chmod 755 /usr/local/bin/sbx-isol-hello' >/dev/null 2>&1
OUT=$(S exec p -- sbx-isol-hello 2>&1)
[ "$OUT" = hello-from-p ] && pass isolation.install_seen_by_next_exec || fail isolation.install_seen_by_next_exec "out=$OUT"
S stop p >/dev/null 2>&1
OUT=$(S run p -- sbx-isol-hello 2>&1)
[ "$OUT" = hello-from-p ] && pass isolation.install_survives_stop || fail isolation.install_survives_stop "out=$OUT"
[ -d "$T/state/roots/p" ] && pass isolation.root_kept_under_state_dir || fail isolation.root_kept_under_state_dir "no $T/state/roots/p"
run S rm p
[ $RC = 0 ] && [ ! -e "$T/state/roots/p" ] && pass isolation.rm_removes_root ||
	fail isolation.rm_removes_root "rc=$RC $OUT; $(ls "$T/state/roots" 2>&1)"
OUT=$(S run p -- sh -c 'command -v sbx-isol-hello || echo gone' 2>&1)
[ "$OUT" = gone ] && pass isolation.install_gone_after_rm || fail isolation.install_gone_after_rm "out=$OUT"
[ "$(ls -la --time-style=+%s /usr/local/bin 2>&1)" = "$ULB0" ] && [ ! -e /usr/local/bin/sbx-isol-hello ] &&
	pass isolation.host_usr_local_unchanged || fail isolation.host_usr_local_unchanged "$(ls -la /usr/local/bin 2>&1 | head)"

# ---- 6. workspaces -----------------------------------------------------------------------------
mkdir -p "$T/ws" "$T/ws2" "$T/wsu" "$T/dw" "$T/dr" "$T/par/secret" "$T/A" "$T/B"
echo from-host >"$T/ws/host-file"
chmod 755 "$T/ws" "$T/ws2"
chown 65534:65534 "$T/wsu"
echo a >"$T/A/which"
echo b >"$T/B/which"
# sbx's own directories: never a workspace, whatever the rules say
run WS run --workspace "$T" w -- true
[ $RC = 1 ] && [[ $OUT == *"would show sbx's own directory"* ]] && pass isolation.ws_holding_state_refused ||
	fail isolation.ws_holding_state_refused "rc=$RC $OUT"
run WS run --workspace "$T/run:ro" w -- true
[ $RC = 1 ] && [[ $OUT == *"sbx's own directory $RUN"* ]] && pass isolation.ws_in_run_dir_refused ||
	fail isolation.ws_in_run_dir_refused "rc=$RC $OUT"

# root without sudo: root inside, nobody in its workspaces (never host root's files)
chown 65534:65534 "$T/ws"
OUT=$(WS run --workspace "$T/ws" w -- sh -c 'cat host-file; id -u; echo inside > inside-file;
	(echo changed > host-file) 2>/dev/null || echo refused' 2>&1)
[ "$OUT" = $'from-host\n0\nrefused' ] && [ "$(cat "$T/ws/inside-file" 2>/dev/null)" = inside ] &&
	[ "$(cat "$T/ws/host-file")" = from-host ] &&
	[ "$(stat -c %u:%g "$T/ws/inside-file")" = 65534:65534 ] && pass isolation.ws_rw_both_ways_root ||
	fail isolation.ws_rw_both_ways_root "out=$OUT host: $(ls -ln "$T/ws" 2>&1)"
# a user by sudo: that user's files, with that user's ids on the host
OUT=$(in_world env "${ENVV[@]}" SUDO_UID=65534 SUDO_GID=65534 timeout 60 "$SBX_BIN" run \
	--workspace "$T/wsu" u -- sh -c 'id -u; echo mine > mine; ls -n mine' </dev/null 2>&1)
[[ $OUT == "65534"$'\n'*"65534 65534"*mine ]] && [ "$(stat -c %u:%g "$T/wsu/mine" 2>&1)" = 65534:65534 ] &&
	pass isolation.ws_rw_both_ways_sudo_user || fail isolation.ws_rw_both_ways_sudo_user "out=$OUT host: $(ls -ln "$T/wsu" 2>&1)"
# ... and the rest of the host is nobody's to it: root's files in its workspace are not its own
echo root-owned >"$T/wsu/rootfile"
OUT=$(in_world env "${ENVV[@]}" SUDO_UID=65534 SUDO_GID=65534 timeout 60 "$SBX_BIN" exec u -- \
	sh -c 'echo changed > rootfile 2>/dev/null; echo rc=$?' </dev/null 2>&1)
[ "$(cat "$T/wsu/rootfile")" = root-owned ] && [ "$OUT" != rc=0 ] && pass isolation.ws_sudo_user_not_root ||
	fail isolation.ws_sudo_user_not_root "out=$OUT rootfile: $(cat "$T/wsu/rootfile")"

run WS run --workspace "$T/ws:ro" r -- sh -c 'cat host-file; echo x > ro-file'
[ $RC != 0 ] && [[ $OUT == "from-host"*"Read-only file system"* ]] && [ ! -e "$T/ws/ro-file" ] &&
	pass isolation.ws_ro_refuses_writes || fail isolation.ws_ro_refuses_writes "rc=$RC $OUT"

# ls shows them
run S ls --json
expect_json isolation.ls_json_workspaces '[s["workspaces"] for s in d["sandboxes"] if s["name"] == "r"] == [[{"path": "'"$T/ws"'", "readonly": True}]]'
run S ls
expect_out isolation.ls_table_workspaces "^r +running .* $T/ws:ro\$"

# a running sandbox keeps its workspaces; a stopped one takes new ones
run WS run --workspace "$T/ws2" w -- true
[ $RC = 1 ] && [[ $OUT == *"runs with workspaces: $T/ws;"*"sbx stop w"* ]] && pass isolation.ws_change_running_refused ||
	fail isolation.ws_change_running_refused "rc=$RC $OUT"
S stop w >/dev/null 2>&1
run WS run --workspace "$T/ws2" w -- sh -c "test -e $T/ws/host-file && echo old; pwd"
[ $RC = 0 ] && [ "$OUT" = "$T/ws2" ] && pass isolation.ws_change_stopped_accepted ||
	fail isolation.ws_change_stopped_accepted "rc=$RC $OUT"

# the directory opened is the one mounted: a symlink repointed, or the directory renamed and
# replaced, after the start changes nothing inside
ln -s "$T/A" "$T/cur"
run WS run --workspace "$T/cur" sw -- cat "$T/A/which"
RC1=$RC OUT1=$OUT
ln -sfn "$T/B" "$T/cur"
mv "$T/A" "$T/A.old" && mkdir "$T/A" && echo swapped >"$T/A/which"
run WS exec sw -- sh -c "cat $T/A/which; test -e $T/cur && echo cur-exists; test -e $T/B/which && echo b-visible; :"
[ $RC1 = 0 ] && [ "$OUT1" = a ] && [ $RC = 0 ] && [ "$OUT" = a ] && pass isolation.ws_mounts_the_resolved_dir ||
	fail isolation.ws_mounts_the_resolved_dir "first: rc=$RC1 $OUT1; after the swap: rc=$RC $OUT"
[ "$(sb_field sw workspaces)" = "[{'path': '$T/A', 'readonly': False}]" ] && pass isolation.ws_recorded_resolved ||
	fail isolation.ws_recorded_resolved "$(sb_field sw workspaces)"

# filesystem rules, judged on the resolved directory
S policy deny filesystem:write "$T/dw" >/dev/null 2>&1
S policy deny filesystem:read "$T/dr" >/dev/null 2>&1
S policy deny filesystem:read "$T/par/secret" >/dev/null 2>&1
refused() { # CHECK WS_ARG RESOLVED_PATH_SHOWN RULE_PATH
	run WS run --workspace "$2" st -- true
	[ $RC = 1 ] && [[ $OUT == *"workspace $3 refused: "*"denied by rule local:"*"($4)"* ]] &&
		[[ $OUT == *$'\n'"fix: sbx policy rm filesystem:"*" --resource $4"* ]] &&
		! S ls --json | grep -q '"st"' && pass "isolation.$1" || fail "isolation.$1" "rc=$RC $OUT"
}
refused ws_write_denied_rw_refused "$T/dw" "$T/dw" "$T/dw"
run WS run --workspace "$T/dw:ro" st -- sh -c 'echo ok'
[ $RC = 0 ] && [ "$OUT" = ok ] && pass isolation.ws_write_denied_ro_allowed || fail isolation.ws_write_denied_ro_allowed "rc=$RC $OUT"
S rm st >/dev/null 2>&1
refused ws_read_denied_ro_refused "$T/dr:ro" "$T/dr:ro" "$T/dr"
refused ws_deny_inside_refuses_parent "$T/par:ro" "$T/par:ro" "$T/par/secret"
# '~' is the caller's home resolved, as `policy check` takes it: a home behind a symbolic link
# does not take a '~' deny off the directory it names
mkdir -p "$T/realhome/keys" && ln -s "$T/realhome" "$T/homelink"
S policy deny filesystem:read '~/keys' >/dev/null 2>&1
run in_world env "${ENVV[@]}" HOME="$T/homelink" SBX_NO_PUB=1 timeout 60 "$SBX_BIN" run \
	--workspace "$T/realhome/keys:ro" st -- true
[ $RC = 1 ] && [[ $OUT == *"workspace $T/realhome/keys:ro refused: "*"(~/keys)"* ]] &&
	pass isolation.ws_home_deny_through_symlink || fail isolation.ws_home_deny_through_symlink "rc=$RC $OUT"
OUT=$(in_world env "${ENVV[@]}" HOME="$T/homelink" "$SBX_BIN" policy check filesystem "$T/realhome/keys" 2>&1)
[[ $OUT == "BLOCKED  read-only mount of $T/realhome/keys"* ]] && pass isolation.ws_home_check_agrees ||
	fail isolation.ws_home_check_agrees "$OUT"
ln -s "$T/dr" "$T/link-to-dr"
refused ws_symlink_judged_resolved "$T/link-to-dr:ro" "$T/dr:ro" "$T/dr"
refused ws_dotdot_judged_resolved "$T/ws/../dr:ro" "$T/dr:ro" "$T/dr"
# rules are checked again at each start
S stop r >/dev/null 2>&1
S policy deny filesystem:read "$T/ws" >/dev/null 2>&1
run WS run r -- true
[ $RC = 1 ] && [[ $OUT == *"workspace $T/ws:ro refused"* ]] && pass isolation.ws_rechecked_at_start ||
	fail isolation.ws_rechecked_at_start "rc=$RC $OUT"

finish
