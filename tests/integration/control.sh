#!/bin/bash
# SPDX-License-Identifier: MIT
# The control socket's authority and the isolation that fails closed, in a fresh test world:
#   - each row of the authority matrix in sbxd(8): what root, a member of the configured group
#     and anyone else may ask; what a caller inside an attached cgroup or a sandbox may ask;
#   - `sbx run` and `sbx exec` refuse to run the command when they cannot join the sandbox's
#     namespaces (a seccomp filter makes setns(2) fail with EPERM, as a runtime profile would);
#     with the sandbox's init killed, the next command runs confined in a new one;
#   - with sbxd's descriptor table full of a sandbox's proxy connections, root still controls
#     sbxd (or hears that sbxd is out of descriptors, never that it is "inside a sandbox"), and
#     sbxd does not spin on a control socket it cannot accept from.
# Root only; the group member is uid/gid 65534 (nogroup, configured as sbx's group for this
# instance only), so no user or group is created. Everything else is named after our pid and
# removed by name.
# "COND && pass X || fail X why" reads as if-then-else here because pass only echoes.
# shellcheck disable=SC2015,SC2016,SC2317
set -u
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=tests/integ.sh
. tests/integ.sh
integ_init -i kt -b "$NOUNSHARE" control k ip nsenter setpriv prlimit bpftool
getent group nogroup >/dev/null || { echo "SKIP control: no group 'nogroup'"; rm -rf "$T"; exit 0; }
printf 'group = nogroup\n' >"$T/sbxd.conf"
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
STRANGER=(setpriv --reuid=54321 --regid=54321 --clear-groups)

# sbx as the group member, a stranger, or root from inside cgroup $1
G() { in_world env "${ENVV[@]}" timeout -k 5 60 "${NOBODY[@]}" "$SBX_BIN" "$@" </dev/null; }
N() { in_world env "${ENVV[@]}" timeout -k 5 60 "${STRANGER[@]}" "$SBX_BIN" "$@" </dev/null; }
IN() {
	local cg=$1
	shift
	in_world env "${ENVV[@]}" sh -c 'echo $$ > "$0/cgroup.procs" && exec timeout -k 5 60 "$@"' \
		"$cg" "$@" </dev/null
}
# a raw control request, as the group member: prints the reply
G_raw() {
	in_world timeout -k 5 30 "${NOBODY[@]}" "$PYTHON" -c 'import socket,sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1]); s.sendall(sys.argv[2].encode() + b"\n")
print(s.makefile().readline().strip())' "$RUN/sbxd.sock" "$1"
}

cleanup() {
	[ -n "${DPID:-}" ] && [ -n "${NOFILE0:-}" ] && prlimit --pid "$DPID" --nofile="$NOFILE0" 2>/dev/null
	S rm a1 >/dev/null 2>&1
	integ_cleanup t1 g1 u1
}
integ_traps
integ_world_up
if ! out=$(S policy set-default balanced 2>&1) || ! out=$(S run t1 -- true 2>&1); then
	echo "FAIL control.setup: $out"
	exit 1
fi
DPID=$(head -1 "$RUN/sbxd.lock")
mode=$(stat -c '%a %G' "$RUN/sbxd.sock")
[ "$mode" = "660 nogroup" ] && pass control.socket_group_mode || fail control.socket_group_mode "$mode"

# ---- isolation fails closed ------------------------------------------------------------------
# where the sandboxes' commands may write: t1's root is nobody in its workspace $PUB, and u1
# (made under sudo by uid 65534) runs as that user, who owns the same files there
WR=$PUB/w
mkdir -m 755 "$WR" && chown 65534:65534 "$WR"
if ! out=$(in_world env "${ENVV[@]}" SUDO_UID=65534 SUDO_GID=65534 timeout -k 5 60 "$SBX_BIN" run \
	--workspace "$PUB" u1 -- true </dev/null 2>&1); then
	fail control.setup_u1 "$out"
fi
# sbx run and exec join the init's namespaces with setns(2): when a filter refuses it (as a
# runtime's profile would), nothing runs, in any namespace
nojoin() { # NS [ENV...] -- VERB SANDBOX: sbx VERB under nounshare NS, touching $WR/ran
	local ns=$1
	shift
	local envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	run in_world env "${ENVV[@]}" "${envs[@]}" timeout -k 5 60 "$NOUNSHARE" "$ns" "$SBX_BIN" "$2" "$3" -- \
		touch "$WR/ran"
}
nojoin setns-user -- run t1
[ $RC = 1 ] && [[ $OUT == *"cannot join the sandbox's namespaces: Operation not permitted"* ]] &&
	[[ $OUT == *"did not run"* ]] && [ ! -e "$WR/ran" ] &&
	pass control.no_setns_user_run_refused || fail control.no_setns_user_run_refused "rc=$RC ran=$(ls "$WR") $OUT"
[[ $OUT != *warning* ]] && pass control.no_setns_no_warn_and_go_on || fail control.no_setns_no_warn_and_go_on "$OUT"
nojoin setns-mount SUDO_UID=65534 SUDO_GID=65534 -- exec u1
[ $RC = 1 ] && [[ $OUT == *"cannot join the sandbox's namespaces: Operation not permitted"* ]] &&
	[[ $OUT == *"did not run"* ]] && [ ! -e "$WR/ran" ] &&
	pass control.no_setns_mount_exec_as_user_refused || fail control.no_setns_mount_exec_as_user_refused "rc=$RC $OUT"
nojoin setns-pid -- exec t1
[ $RC = 1 ] && [[ $OUT == *"cannot join the sandbox's pid namespace: Operation not permitted"* ]] &&
	[ ! -e "$WR/ran" ] && pass control.no_setns_pid_exec_refused || fail control.no_setns_pid_exec_refused "rc=$RC $OUT"
# the sandboxes are still there, running, and the same commands, unfiltered, run
[ "$(sb_field t1 status)" = running ] && [ "$(sb_field u1 status)" = running ] &&
	pass control.refused_join_keeps_sandboxes || fail control.refused_join_keeps_sandboxes "$(S ls 2>&1)"
run S run t1 -- touch "$WR/ran"
[ $RC = 0 ] && [ "$(stat -c %u "$WR/ran" 2>/dev/null)" = 65534 ] && pass control.unfiltered_run_runs ||
	fail control.unfiltered_run_runs "rc=$RC $OUT"
rm -f "$WR/ran"
run in_world env "${ENVV[@]}" SUDO_UID=65534 SUDO_GID=65534 timeout -k 5 60 "$SBX_BIN" exec u1 -- touch "$WR/ran" </dev/null
[ $RC = 0 ] && [ -e "$WR/ran" ] && pass control.unfiltered_exec_as_user_runs ||
	fail control.unfiltered_exec_as_user_runs "rc=$RC $OUT"
S rm --force u1 >/dev/null 2>&1

# the sandbox's init killed from the host: a command right after it either runs confined (in a
# new init) or does not run at all; once the dead init is reaped, the next command runs
# confined in a new init that sbxd started
CONFINED='cat /proc/self/uid_map; cat /proc/self/cgroup; readlink /proc/self/ns/pid; touch "$0"'
confined() { # OUT of $CONFINED in t1 with the sandbox's block BASE: 0 when it ran in t1's new init
	local ipid=$1 pidns
	pidns=$(grep '^pid:' <<<"$STDOUT")
	IPID2=$(sb_field t1 init_pid)
	[ "$(head -1 <<<"$STDOUT" | tr -s ' ' | sed 's/^ //')" = "0 $BASE 65536" ] &&
		[ "$(grep '^0::' <<<"$STDOUT")" = "0::/$INST/t1" ] &&
		[ -n "$IPID2" ] && [ "$IPID2" != "$ipid" ] && ! pid_dead "$IPID2" &&
		[ "$pidns" = "$(readlink "/proc/$IPID2/ns/pid")" ] && [ "$pidns" != "$(readlink /proc/self/ns/pid)" ] &&
		[ "$(stat -c %u "$WR/ran" 2>/dev/null)" = 65534 ]
}
IPID=$(sb_field t1 init_pid)
BASE=$(sb_field t1 id_base)
rm -f "$WR/ran"
kill -9 "$IPID" 2>/dev/null
run S exec t1 -- sh -c "$CONFINED" "$WR/ran"
if [ $RC = 0 ]; then
	confined "$IPID" && pass control.init_killed_exec_confined_or_refused ||
		fail control.init_killed_exec_confined_or_refused "init $IPID -> $IPID2; $OUT"
else
	[ $RC = 1 ] && [ ! -e "$WR/ran" ] && [[ $OUT == *"sbx: "*"sandbox"* ]] &&
		pass control.init_killed_exec_confined_or_refused ||
		fail control.init_killed_exec_confined_or_refused "rc=$RC ran=$(ls "$WR") $OUT"
fi
# sbxd's inits are orphans: whoever adopted them reaps them (here a slow pid 1, at times)
wait_for -n 300 test ! -e "/proc/$IPID"
IPID=$(sb_field t1 init_pid)
if [ "$(sb_field t1 status)" = running ] && ! pid_dead "$IPID"; then
	kill -9 "$IPID"
	wait_for -n 300 test ! -e "/proc/$IPID"
fi
rm -f "$WR/ran"
run S exec t1 -- sh -c "$CONFINED" "$WR/ran"
[ $RC = 0 ] && confined "$IPID" && pass control.init_reaped_exec_restarts_confined ||
	fail control.init_reaped_exec_restarts_confined "rc=$RC init $IPID -> $IPID2 ($(test -e "/proc/$IPID" && echo "not reaped")); $OUT"

# ---- authority: root and the group member -------------------------------------------------------
mkdir "$ATT_CG"
integ_att_sleeper
run S attach a1 --pid "$APID"
[ $RC = 0 ] && pass control.root_attach || fail control.root_attach "rc=$RC $OUT"

run G policy ls
[ $RC = 0 ] && [[ $OUT == *PROVENANCE* ]] && pass control.group_policy_ls || fail control.group_policy_ls "rc=$RC $OUT"
run G policy allow network grp.example.com
[ $RC = 0 ] && pass control.group_policy_allow || fail control.group_policy_allow "rc=$RC $OUT"
run G policy rm network --resource grp.example.com
[ $RC = 0 ] && pass control.group_policy_rm || fail control.group_policy_rm "rc=$RC $OUT"
run G policy check pypi.org
[ $RC = 0 ] && pass control.group_policy_check || fail control.group_policy_check "rc=$RC $OUT"
run G ls
[ $RC = 0 ] && [[ $OUT == *a1*attached* ]] && pass control.group_ls || fail control.group_ls "rc=$RC $OUT"
run G daemon status
[ $RC = 0 ] && pass control.group_daemon_status || fail control.group_daemon_status "rc=$RC $OUT"
# the sandboxes sbx made: start (the request; entering one needs root in the CLI), stop, rm
OUT=$(G_raw '{"op":"sandbox.start","args":{"name":"g1"}}' 2>&1)
[[ $OUT == *'"ok":true'* ]] && pass control.group_sandbox_start || fail control.group_sandbox_start "$OUT"
run G stop g1
[ $RC = 0 ] && pass control.group_stop_own_sandbox || fail control.group_stop_own_sandbox "rc=$RC $OUT"
run G rm g1
[ $RC = 0 ] && pass control.group_rm_own_sandbox || fail control.group_rm_own_sandbox "rc=$RC $OUT"
# what reaches processes sbx did not start needs root
run G attach a2 --cgroup "$INST-att2"
[ $RC = 1 ] && [[ $OUT == *"attach needs root: it changes the network of processes sbx did not start"* ]] &&
	pass control.group_attach_needs_root || fail control.group_attach_needs_root "rc=$RC $OUT"
run G stop a1
[ $RC = 1 ] && [[ $OUT == *"stop a1 needs root"*"attached cgroup"* ]] && kill -0 "$APID" 2>/dev/null &&
	pass control.group_stop_attached_needs_root || fail control.group_stop_attached_needs_root "rc=$RC $OUT"
run G rm a1
[ $RC = 1 ] && [[ $OUT == *"rm a1 needs root"* ]] && [ "$(sb_field a1 status)" = attached ] &&
	bpftool cgroup show "$ATT_CG" 2>/dev/null | grep -q egress &&
	pass control.group_rm_attached_needs_root || fail control.group_rm_attached_needs_root "rc=$RC $OUT"
run G daemon stop
[ $RC = 1 ] && [[ $OUT == *"daemon stop needs root"* ]] && S daemon status >/dev/null 2>&1 &&
	pass control.group_daemon_stop_needs_root || fail control.group_daemon_stop_needs_root "rc=$RC $OUT"
run G policy reset --force
[ $RC = 1 ] && [[ $OUT == *"policy reset needs root"* ]] && G policy ls >/dev/null 2>&1 &&
	pass control.group_policy_reset_needs_root || fail control.group_policy_reset_needs_root "rc=$RC $OUT"
OUT=$(G_raw '{"op":"no.such.verb"}' 2>&1)
[[ $OUT == *"unknown request"* ]] && pass control.unknown_verb_refused || fail control.unknown_verb_refused "$OUT"
# anyone else is refused at the door (the socket's mode, or sbxd)
run N policy ls
[ $RC = 1 ] && [[ $OUT == *ermission* ]] && pass control.stranger_refused || fail control.stranger_refused "rc=$RC $OUT"

# ---- authority: callers inside an attached cgroup or a sandbox -----------------------------------
run IN "$ATT_CG" "$SBX_BIN" policy ls
[ $RC = 0 ] && pass control.attached_root_may_read || fail control.attached_root_may_read "rc=$RC $OUT"
run IN "$ATT_CG" "$SBX_BIN" policy allow network esc.example.com
[ $RC = 1 ] && [[ $OUT == *"inside attached cgroup 'a1'"* ]] && pass control.attached_root_cannot_change_policy ||
	fail control.attached_root_cannot_change_policy "rc=$RC $OUT"
run IN "$ATT_CG" "$SBX_BIN" rm a1
[ $RC = 1 ] && [[ $OUT == *"inside attached cgroup"* ]] && [ "$(sb_field a1 status)" = attached ] &&
	pass control.attached_root_cannot_rm_itself || fail control.attached_root_cannot_rm_itself "rc=$RC $OUT"
run IN "$ATT_CG" "${NOBODY[@]}" "$SBX_BIN" rm a1
[ $RC = 1 ] && [[ $OUT == *"inside attached cgroup"* || $OUT == *"needs root"* ]] && [ "$(sb_field a1 status)" = attached ] &&
	pass control.attached_member_cannot_rm_itself || fail control.attached_member_cannot_rm_itself "rc=$RC $OUT"
run IN "$ATT_CG" "$SBX_BIN" run t1 -- true
[ $RC = 1 ] && [[ $OUT == *"inside attached cgroup"* ]] && pass control.attached_cannot_run_a_way_out ||
	fail control.attached_cannot_run_a_way_out "rc=$RC $OUT"
mkdir -p "$ATT_CG/sub"
run IN "$ATT_CG/sub" "$SBX_BIN" policy set-default allow-all
[ $RC = 1 ] && [[ $OUT == *"inside attached cgroup"* ]] && pass control.below_attached_refused ||
	fail control.below_attached_refused "rc=$RC $OUT"
run IN "$CGROOT/$INST/t1" "$SBX_BIN" policy ls
[ $RC = 1 ] && [[ $OUT == *"inside a sandbox"* ]] && pass control.sandbox_refused_even_reading ||
	fail control.sandbox_refused_even_reading "rc=$RC $OUT"
# root outside: the rows that need it
run S stop a1
[ $RC = 0 ] && wait_for -n 50 pid_dead "$APID" && pass control.root_stop_attached || fail control.root_stop_attached "rc=$RC $OUT"
run S rm a1
[ $RC = 0 ] && pass control.root_rm_attached || fail control.root_rm_attached "rc=$RC $OUT"
rmdir "$ATT_CG/sub" 2>/dev/null

# ---- a full descriptor table ----------------------------------------------------------------------
GW1=$(sb_field t1 gateway)
DPID=$(head -1 "$RUN/sbxd.lock")
# the soft limit only: raising a hard limit back would need CAP_SYS_RESOURCE
NOFILE0=$(prlimit --pid "$DPID" --nofile --raw --noheadings -o SOFT,HARD | awk '{print $1 ":" $2}')
HARD0=${NOFILE0#*:}
nfds() { local f=("/proc/$DPID/fd/"*); echo "${#f[@]}"; }
n0=$(nfds)
LIMIT=$((n0 + 48))
L0=$(wc -l <"$RUN/sbxd.log")
prlimit --pid "$DPID" --nofile="$LIMIT:$HARD0"
# the sandbox's address holds proxy connections until sbxd's table is full, one at a time so
# that none waits in the listen queue (the proxy's own EMFILE handling is not tested here)
cat >"$T/hold.py" <<'EOF'
import os, socket, sys, time
pid, limit, gw = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
fds = lambda: len(os.listdir("/proc/%d/fd" % pid))
held = []
for i in range(400):
    if fds() >= limit:
        break
    before = fds()
    s = socket.create_connection((gw, 3128), timeout=2)
    held.append(s)
    for _ in range(40):
        if fds() > before:
            break
        time.sleep(0.01)
print("held %d fds %d" % (len(held), fds()), flush=True)
sys.stdin.read()
EOF
mkfifo "$T/hold.in"
nsenter --net="$RUN/netns/t1" "$PYTHON" "$T/hold.py" "$DPID" "$LIMIT" "$GW1" <"$T/hold.in" >"$T/hold.out" 2>&1 &
HOLDER=$!
BG_PIDS+=("$HOLDER")
exec 7>"$T/hold.in"
wait_for -n 200 grep -q held "$T/hold.out"
nfd=$(nfds)
[ "$nfd" -ge "$LIMIT" ] && pass control.fd_table_full || fail control.fd_table_full "$nfd of $LIMIT: $(cat "$T/hold.out")"
run S policy ls
[ $RC = 0 ] && [[ $OUT == *PROVENANCE* ]] || [[ $OUT == *"out of file descriptors; try again"* ]]
ok=$?
[ $ok = 0 ] && [[ $OUT != *"inside a sandbox"* ]] && pass control.full_table_root_still_served ||
	fail control.full_table_root_still_served "rc=$RC $OUT"
[ $RC = 0 ] && pass control.full_table_root_served_by_reserve || fail control.full_table_root_served_by_reserve "rc=$RC $OUT"
run S ls
[ $RC = 0 ] && [[ $OUT == *t1* ]] && pass control.full_table_root_ls || fail control.full_table_root_ls "rc=$RC $OUT"
# idle control connections use up the reserve too: sbxd must neither spin nor guess
cat >"$T/idle.py" <<'EOF'
import os, socket, sys, time
path, pid = sys.argv[1], int(sys.argv[2])
tick = os.sysconf("SC_CLK_TCK")
cpu = lambda: sum(int(x) for x in open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[11:13])
conns = []
for i in range(20):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    conns.append(s)
time.sleep(0.3)
c0 = cpu(); time.sleep(1.5); c1 = cpu()
replies = []
for s in conns:
    s.setblocking(False)
    try:
        replies.append(s.recv(4096).decode())
    except BlockingIOError:
        pass
print("cpu %.2f" % ((c1 - c0) / tick))
print("emfile %d" % sum("out of file descriptors" in r for r in replies))
print("sandbox %d" % sum("inside a sandbox" in r for r in replies))
EOF
OUT=$(in_world timeout -k 5 30 "$PYTHON" "$T/idle.py" "$RUN/sbxd.sock" "$DPID" 2>&1)
cpu=$(awk '/^cpu/ {print $2}' <<<"$OUT")
[ -n "$cpu" ] && awk -v c="$cpu" 'BEGIN { exit !(c < 0.3) }' && pass control.full_table_no_spin ||
	fail control.full_table_no_spin "sbxd used ${cpu:-?} s of CPU in 1.5 s: $OUT"
[[ $OUT == *"sandbox 0"* ]] && pass control.full_table_never_guesses_sandbox || fail control.full_table_never_guesses_sandbox "$OUT"
[[ $OUT == *"emfile "[1-9]* ]] && pass control.full_table_says_out_of_fds || fail control.full_table_says_out_of_fds "$OUT"
tail -n +"$((L0 + 1))" "$RUN/sbxd.log" | grep -q "inside a sandbox" &&
	fail control.full_table_log_no_sandbox_guess "sbxd logged a sandbox refusal" || pass control.full_table_log_no_sandbox_guess
# the idle ones are gone: the listener is watched again
run S policy ls
[ $RC = 0 ] && pass control.full_table_recovers || fail control.full_table_recovers "rc=$RC $OUT"
exec 7>&-
wait_for -n 50 pid_dead "$HOLDER"
prlimit --pid "$DPID" --nofile="$NOFILE0"
run S policy ls
[ $RC = 0 ] && pass control.after_pressure_serves || fail control.after_pressure_serves "rc=$RC $OUT"
# ---- accepting itself fails (no descriptor below the limit, reserve or not): sbxd stops
# watching the socket for a moment instead of spinning, and serves the caller once it can
ticks() { awk '{ print $14 + $15 }' "/proc/$DPID/stat"; }
L0=$(wc -l <"$RUN/sbxd.log")
prlimit --pid "$DPID" --nofile="3:$HARD0"
S policy ls >"$T/late.out" 2>&1 &
LATE=$!
BG_PIDS+=("$LATE")
sleep 0.3
c0=$(ticks)
sleep 1.5
c1=$(ticks)
prlimit --pid "$DPID" --nofile="$NOFILE0"
hz=$(getconf CLK_TCK)
[ $(((c1 - c0) * 100 / hz)) -lt 30 ] && pass control.accept_fails_no_spin ||
	fail control.accept_fails_no_spin "sbxd used $((c1 - c0)) ticks of $hz/s in 1.5 s"
tail -n +"$((L0 + 1))" "$RUN/sbxd.log" | grep -q "cannot accept.*pausing" && pass control.accept_fails_logged ||
	fail control.accept_fails_logged "$(tail -n +"$((L0 + 1))" "$RUN/sbxd.log" | head -5)"
wait_for -n 50 pid_dead "$LATE"
kill "$LATE" 2>/dev/null
wait "$LATE"
rc=$?
[ $rc = 0 ] && grep -q PROVENANCE "$T/late.out" && pass control.accept_resumes_and_serves ||
	fail control.accept_resumes_and_serves "rc=$rc $(head -3 "$T/late.out") limits: $(grep files "/proc/$DPID/limits") NOFILE0=$NOFILE0 log: $(tail -n +"$((L0 + 1))" "$RUN/sbxd.log" | tail -5)"
kill -0 "$DPID" 2>/dev/null && pass control.sbxd_alive || fail control.sbxd_alive "sbxd $DPID died"
# under make SAN=1 the sanitizers report into sbxd's log at the latest when it exits
S daemon stop >/dev/null 2>&1
wait_for -n 100 pid_dead "$DPID"
grep -E "AddressSanitizer|LeakSanitizer|runtime error" "$RUN/sbxd.log" &&
	fail control.sbxd_log_clean "sanitizer reports in sbxd.log" || pass control.sbxd_log_clean

finish
