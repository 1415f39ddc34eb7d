#!/bin/bash
# SPDX-License-Identifier: MIT
# Sandboxes end to end, in a fresh test world: sbx run/exec/ls/stop/rm/attach, what a sandboxed
# command can see and do (its netns, cgroup, resolv.conf, proxy variables, user, no capability
# on the host, read-only cgroupfs, no bpffs), isolation between sandboxes and from host
# services, and state plus enforcement across a daemon restart. Proxy and DNS verdicts are
# egress.sh's business. Root only; everything runs in namespaces and cgroups this script
# creates and removes, by the names it chose.
# Prints "PASS sandbox.<check>" or "FAIL sandbox.<check>: why"; exit 1 if any check failed.
# "COND && pass X || fail X why" reads as if-then-else here because pass only echoes.
# shellcheck disable=SC2015
set -u
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=tests/integ.sh
. tests/integ.sh
integ_init -i st -b "$NETTOOL" sandbox s ip nsenter socat tc bpftool

# An `sbx exec` left running in the background; its pid in BG.
bg_exec() {
	in_world env "${ENVV[@]}" timeout -k 5 120 "$SBX_BIN" exec "$@" </dev/null >/dev/null 2>&1 &
	BG=$!
	BG_PIDS+=("$BG")
}
nprocs() { # processes of a sandbox, from sbx ls --json
	S ls --json | "$PYTHON" -c 'import json,sys
d = json.load(sys.stdin)
print([s["processes"] for s in d["sandboxes"] if s["name"] == sys.argv[1]][0])' "$1" 2>/dev/null
}
procs_at_least() { # NAME N
	local n
	n=$(nprocs "$1")
	[ -n "$n" ] && [ "$n" -ge "$2" ]
}

cleanup() {
	S rm a1 >/dev/null 2>&1
	declare -F S2 >/dev/null && S2 daemon stop >/dev/null 2>&1
	integ_cleanup t1 t2 t3 t4 t5
}
integ_traps
integ_world_up
if ! out=$(S policy set-default balanced 2>&1); then
	echo "FAIL sandbox.setup: $out"
	exit 1
fi
# where the sandboxes' commands write: their root is nobody in the workspace $PUB, which may
# write only what nobody owns there (not even $PUB itself, a directory of the host's root)
WR=$PUB/w
mkdir -m 755 "$WR" && chown 65534:65534 "$WR"

# ---- run: status, namespaces, files, environment --------------------------------------------
OUT=$(S run t1 -- sh -c 'exit 7' 2>&1)
RC=$?
[ $RC = 7 ] && pass sandbox.exit_status_passed_through || fail sandbox.exit_status_passed_through "rc=$RC out=$OUT"

OUT=$(S run t1 -- sh -c 'kill -TERM $$' 2>&1)
RC=$?
[ $RC = 143 ] && pass sandbox.killed_by_signal_is_128_plus || fail sandbox.killed_by_signal_is_128_plus "rc=$RC"

GW1=$(sb_field t1 gateway)
IP1=$(sb_field t1 ip)
X ip -4 -o addr show
[[ $OUT == *"eth0"*"inet $IP1/30"* ]] && [[ $IP1 == 10.209.*.2 || $IP1 =~ ^10\.209\.[0-9]+\.[0-9]+$ ]] &&
	pass sandbox.own_netns_with_pool_address || fail sandbox.own_netns_with_pool_address "ip=$IP1 out=$OUT"

X readlink /proc/self/ns/net
[ "$OUT" != "$(in_world readlink /proc/self/ns/net)" ] && [ "$OUT" = "net:[$(stat -Lc %i "$RUN/netns/t1")]" ] &&
	pass sandbox.netns_is_the_bound_one || fail sandbox.netns_is_the_bound_one "out=$OUT"

X ip route show default
[[ $OUT == "default via $GW1 dev eth0"* ]] && pass sandbox.default_route_via_gateway || fail sandbox.default_route_via_gateway "out=$OUT"

X cat /proc/self/cgroup
[[ $OUT == *"0::/$INST/t1"* ]] && pass sandbox.in_its_cgroup || fail sandbox.in_its_cgroup "out=$OUT"

X cat /etc/resolv.conf
[[ $OUT == *"nameserver $GW1"* ]] && pass sandbox.resolv_conf_points_at_gateway || fail sandbox.resolv_conf_points_at_gateway "out=$OUT"
[[ "$(head -c 300 /etc/resolv.conf)" != *"$GW1"* ]] && pass sandbox.host_resolv_conf_untouched ||
	fail sandbox.host_resolv_conf_untouched "the host's /etc/resolv.conf names $GW1"

X getent hosts host.docker.internal
[[ $OUT == "$GW1"*"host.docker.internal"* ]] && pass sandbox.host_docker_internal_is_gateway || fail sandbox.host_docker_internal_is_gateway "out=$OUT"

X sh -c 'echo "$HTTP_PROXY|$HTTPS_PROXY|$http_proxy|$https_proxy|$NO_PROXY|$SBX_SANDBOX"'
P=http://gateway.docker.internal:3128
[ "$OUT" = "$P|$P|$P|$P|localhost,127.0.0.1|t1" ] && pass sandbox.proxy_environment || fail sandbox.proxy_environment "out=$OUT"

# where the command starts: where sbx runs if that is inside a workspace (the same path), else
# the first workspace, else the home directory of who it runs as
X pwd
[ "$OUT" = "$PUB" ] && pass sandbox.keeps_working_directory || fail sandbox.keeps_working_directory "out=$OUT"
from() { # DIR SANDBOX CMD...: sbx exec from DIR on the host
	local dir=$1 sb=$2
	shift 2
	OUT=$(cd "$dir" && bash "$ROOT/scripts/world.sh" exec "$W" world env "${ENVV[@]}" timeout -k 5 60 \
		"$SBX_BIN" exec "$sb" -- "$@" </dev/null 2>&1)
}
from "$PUB/bin" t1 pwd
[ "$OUT" = "$PUB/bin" ] && pass sandbox.cwd_kept_inside_workspace || fail sandbox.cwd_kept_inside_workspace "out=$OUT"
mkdir -m 755 "$T/ws2"
OUT=$(SBX_NO_PUB=1 S run --workspace "$T/ws2" --workspace "$PUB" t3 -- pwd 2>/dev/null)
[ "$OUT" = "$PUB" ] && pass sandbox.cwd_kept_in_second_workspace || fail sandbox.cwd_kept_in_second_workspace "out=$OUT"
from "$T" t3 pwd
R1=$OUT
from / t3 pwd
[ "$R1" = "$T/ws2" ] && [ "$OUT" = "$T/ws2" ] && pass sandbox.cwd_outside_workspaces_is_first ||
	fail sandbox.cwd_outside_workspaces_is_first "from $T: $R1; from /: $OUT"
OUT=$(SBX_NO_PUB=1 S run t4 -- pwd 2>/dev/null)
[ "$OUT" = /root ] && pass sandbox.cwd_without_workspace_is_home || fail sandbox.cwd_without_workspace_is_home "out=$OUT"
OUT=$(in_world env "${ENVV[@]}" SUDO_UID=65534 SUDO_GID=65534 timeout 60 "$SBX_BIN" run t5 -- pwd </dev/null 2>&1)
H=$(getent passwd 65534 | cut -d: -f6)
[ -z "$H" ] || [ "$H" = / ] && H=/home/65534
[ "$OUT" = "$H" ] && pass sandbox.cwd_without_workspace_is_users_home ||
	fail sandbox.cwd_without_workspace_is_users_home "out=$OUT, want $H"
for sb in t3 t4 t5; do S rm --force "$sb" >/dev/null 2>&1; done

# ---- who the command is, and what it cannot do -------------------------------------------------
OUT=$(in_world env "${ENVV[@]}" SUDO_UID=65534 SUDO_GID=65534 timeout 60 "$SBX_BIN" exec t1 -- id -u </dev/null 2>&1)
[ "$OUT" = 65534 ] && pass sandbox.runs_as_sudo_uid || fail sandbox.runs_as_sudo_uid "out=$OUT"

# root inside is the sandbox's own block of host ids: never host root, never nobody
X sh -c 'id -u; cat /proc/self/uid_map /proc/self/gid_map'
BASE1=$(sb_field t1 id_base)
[ "$(tr -s ' \n' ' ' <<<"$OUT" | sed 's/^ //; s/ $//')" = "0 0 $BASE1 65536 0 $BASE1 65536" ] &&
	[ "$BASE1" -gt 65534 ] && pass sandbox.root_only_in_own_userns ||
	fail sandbox.root_only_in_own_userns "id_base=$BASE1 out=$OUT"

X sh -c 'ip link add sbxtestx type veth peer name sbxtesty 2>&1; echo "rc=$?"; ip route del default 2>&1; echo "rc=$?"; ip addr add 10.1.2.3/32 dev eth0 2>&1; echo "rc=$?"'
[[ $OUT != *"rc=0"* ]] && pass sandbox.no_network_capability || fail sandbox.no_network_capability "out=$OUT"
X ip route show default
[[ $OUT == "default via $GW1"* ]] && pass sandbox.route_survives_attempts || fail sandbox.route_survives_attempts "out=$OUT"

# root's files on the host: the sandbox's root is nobody in its workspaces
echo original >"$PUB/rootfile"
chmod 644 "$PUB/rootfile"
X sh -c "echo changed > $PUB/rootfile"
[ "$(cat "$PUB/rootfile")" = original ] && pass sandbox.cannot_write_host_root_files ||
	fail sandbox.cannot_write_host_root_files "rootfile now: $(cat "$PUB/rootfile")"

X sh -c "echo \$\$ > $CGROOT/cgroup.procs; echo \"rc=\$?\"; cat /proc/self/cgroup"
[[ $OUT == *"rc=1"* || $OUT == *"rc=2"* ]] && [[ $OUT == *"0::/$INST/t1"* ]] &&
	pass sandbox.cgroupfs_read_only || fail sandbox.cgroupfs_read_only "out=$OUT"

X sh -c 'ls -A /sys/fs/bpf | wc -l'
[ "$OUT" = 0 ] && pass sandbox.bpffs_hidden || fail sandbox.bpffs_hidden "out=$OUT"

X sh -c "test -e $RUN/sbxd.sock && echo visible || echo hidden"
[ "$OUT" = hidden ] && pass sandbox.control_socket_hidden || fail sandbox.control_socket_hidden "out=$OUT"
# and a process of the sandbox's cgroup that did reach it (here: root on the host side) is refused
OUT=$(in_world env "${ENVV[@]}" sh -c 'echo $$ > "$1/cgroup.procs" && exec "$2" policy ls' sh \
	"$(sb_field t1 cgroup)" "$SBX_BIN" 2>&1 </dev/null)
[[ $OUT == *"cannot be controlled from inside a sandbox"* ]] && pass sandbox.control_refused_from_sandbox_cgroup ||
	fail sandbox.control_refused_from_sandbox_cgroup "out=$OUT"

X sh -c 'grep NoNewPrivs /proc/self/status'
[[ $OUT == *"1"* ]] && pass sandbox.no_new_privs || fail sandbox.no_new_privs "out=$OUT"

# ptrace and /proc/PID/environ of a process outside, even one with the same uid: out of reach
in_world setpriv --reuid=65534 --regid=65534 --clear-groups env SBX_SECRET=outside sleep 1000 </dev/null >/dev/null 2>&1 &
BG_PIDS+=($!)
wait_for -n 50 pgrep -u 65534 -f "^sleep 1000$"
OPID=$(pgrep -u 65534 -f "^sleep 1000$" | head -1)
OUT=$(in_world env "${ENVV[@]}" SUDO_UID=65534 SUDO_GID=65534 timeout 60 "$SBX_BIN" exec t1 -- \
	sh -c "cat /proc/$OPID/environ 2>&1 | tr '\\0' '\\n' | grep SBX_SECRET || echo denied" </dev/null 2>&1)
[ -n "$OPID" ] && [[ $OUT == *denied* && $OUT != *outside* ]] && pass sandbox.cannot_ptrace_outside ||
	fail sandbox.cannot_ptrace_outside "pid=$OPID out=$OUT"
[ -n "$OPID" ] && kill "$OPID" 2>/dev/null

# With a terminal on stdin the command gets a pty of its own, never ours.
if command -v script >/dev/null; then
	OUT=$( (sleep 0.5; printf 'tty; exit 4\n'; sleep 2) | timeout 30 script -qec \
		"bash scripts/world.sh exec $W world env ${ENVV[*]} SHELL=/bin/sh $SBX_BIN exec t1 -- /bin/sh -i" /dev/null 2>&1)
	RC=$?
	[ $RC = 4 ] && [[ $OUT == *"/dev/pts/"* ]] && pass sandbox.terminal_is_a_pty_of_its_own ||
		fail sandbox.terminal_is_a_pty_of_its_own "rc=$RC out=$OUT"
else
	skip sandbox.terminal_is_a_pty_of_its_own "script(1) missing"
fi

# ---- a second sandbox: own address, no way to the first nor to host services ------------------
OUT=$(S run t2 -- true 2>&1) && pass sandbox.second_sandbox || fail sandbox.second_sandbox "$OUT"
BASE2=$(sb_field t2 id_base)
SB=t2 X cat /proc/self/uid_map
[ "$(tr -s ' ' <<<"$OUT" | sed 's/^ //')" = "0 $BASE2 65536" ] && [ "$BASE2" -gt 65534 ] &&
	{ [ "$BASE2" -ge $((BASE1 + 65536)) ] || [ "$BASE1" -ge $((BASE2 + 65536)) ]; } &&
	pass sandbox.own_id_block_each || fail sandbox.own_id_block_each "t1 $BASE1, t2 $BASE2: $OUT"
IP2=$(sb_field t2 ip)
GW2=$(sb_field t2 gateway)
net30() { echo "${1%.*}.$((${1##*.} / 4 * 4))"; }
[ -n "$IP2" ] && [ "$(net30 "$IP2")" != "$(net30 "$IP1")" ] && pass sandbox.distinct_addresses ||
	fail sandbox.distinct_addresses "t1=$IP1 t2=$IP2"

LOG1=$WR/listen-t1.log
bg_exec t1 -- socat -d -d -lf "$LOG1" TCP4-LISTEN:8080,fork,reuseaddr SYSTEM:'echo hello'
LISTENER=$BG
wait_for -n 50 grep -q "listening on" "$LOG1"
HOSTLOG=$T/listen-host.log
in_world socat -d -d -lf "$HOSTLOG" TCP4-LISTEN:18080,fork,reuseaddr SYSTEM:'echo host' </dev/null >/dev/null 2>&1 &
BG_PIDS+=($!)
wait_for -n 50 grep -q "listening on" "$HOSTLOG"
SB=t2 X "$NETTOOL" tcp "$IP1" 8080
R1=$OUT
SB=t2 X "$NETTOOL" tcp "$GW2" 18080
R2=$OUT
SB=t2 X "$NETTOOL" tcp "$GW1" 18080
R3=$OUT
sleep 0.3
# the proxy takes every connect and refuses these (a reset): the listeners never see them
! grep -q "accepting connection" "$LOG1" && [[ $R1 == refused* || $R1 == *reset ]] && pass sandbox.cannot_reach_other_sandbox ||
	fail sandbox.cannot_reach_other_sandbox "nettool: $R1; listener: $(grep accepting "$LOG1")"
! grep -q "accepting connection" "$HOSTLOG" && [[ $R2 == refused* || $R2 == *reset ]] &&
	[[ $R3 == refused* || $R3 == *reset ]] && pass sandbox.cannot_reach_host_services ||
	fail sandbox.cannot_reach_host_services "nettool: $R2 / $R3; listener: $(grep accepting "$HOSTLOG")"
# the listeners themselves work (so the checks above mean something)
X "$NETTOOL" tcp 127.0.0.1 8080
OUT2=$(in_world "$NETTOOL" tcp 127.0.0.1 18080 2>&1)
sleep 0.2
grep -q "accepting connection" "$LOG1" && grep -q "accepting connection" "$HOSTLOG" &&
	pass sandbox.isolation_checks_are_meaningful ||
	fail sandbox.isolation_checks_are_meaningful "listeners unreachable even locally: $OUT / $OUT2"

# ---- ls --------------------------------------------------------------------------------------
run S ls
expect_out sandbox.ls_table "NAME +STATUS +ADDRESS +GATEWAY +PROCESSES +CREATED"
expect_out sandbox.ls_lists_t1 "^t1 +running +$IP1 +$GW1 +[1-9]"
expect_out sandbox.ls_lists_t2 "^t2 +running +$IP2 +$GW2 +0"
run S ls --json
expect_json sandbox.ls_json 'sorted(s["name"] for s in d["sandboxes"]) == ["t1", "t2"] and all(set(["name","id","status","ip","gateway","attached","cgroup","processes","created"]) <= set(s) for s in d["sandboxes"]) and d["sandboxes"][0]["attached"] is False'

# ---- stop --------------------------------------------------------------------------------------
bg_exec t1 -- sleep 1000
SLEEPER=$BG
wait_for -n 50 procs_at_least t1 2
run S stop t1
[ $RC = 0 ] && pass sandbox.stop || fail sandbox.stop "rc=$RC $OUT"
wait_for -n 50 pid_dead "$SLEEPER" && wait_for -n 50 pid_dead "$LISTENER" &&
	pass sandbox.stop_kills_processes || fail sandbox.stop_kills_processes "sleep 1000 still runs"
[ "$(sb_field t1 status)" = stopped ] && [ "$(nprocs t1)" = 0 ] && pass sandbox.ls_shows_stopped ||
	fail sandbox.ls_shows_stopped "status=$(sb_field t1 status) processes=$(nprocs t1)"
run S exec t1 -- true
[ $RC = 1 ] && [[ $OUT == *stopped* ]] && pass sandbox.exec_refuses_stopped || fail sandbox.exec_refuses_stopped "rc=$RC $OUT"
run S run t1 -- true
[ $RC = 0 ] && [ "$(sb_field t1 status)" = running ] && pass sandbox.run_starts_stopped ||
	fail sandbox.run_starts_stopped "rc=$RC $OUT"

# ---- bad input -------------------------------------------------------------------------------
run S run ../x -- true
[ $RC = 2 ] && pass sandbox.bad_name_exit_2 || fail sandbox.bad_name_exit_2 "rc=$RC $OUT"
run S exec nosuch -- true
[ $RC = 1 ] && [[ $OUT == *"no sandbox named 'nosuch'"* ]] && pass sandbox.exec_missing_exit_1 || fail sandbox.exec_missing_exit_1 "rc=$RC $OUT"
run S exec t1
[ $RC = 2 ] && pass sandbox.exec_needs_command || fail sandbox.exec_needs_command "rc=$RC $OUT"
run S exec t1 -- /nonexistent/cmd
[ $RC = 127 ] && [ "$OUT" = "sbx: /nonexistent/cmd: not found" ] && pass sandbox.command_not_found_127 ||
	fail sandbox.command_not_found_127 "rc=$RC $OUT"
for c in run exec ls stop rm attach; do
	run S "$c" --help
	[ $RC = 0 ] && [[ $OUT == Usage:* ]] || { fail "sandbox.help_$c" "rc=$RC $OUT"; continue; }
	pass "sandbox.help_$c"
done

# ---- daemon restart: state kept, enforcement never lapsed --------------------------------------
CG1=$CGROOT/$INST/t1
CGID1=$(stat -c %i "$CG1")
HIF1=$(sb_field t1 host_if)
m=$(wc -l <"$WORLD_DIR/tcp.log")
# a process already inside keeps trying to get out while sbxd is down
bg_exec t1 -- sh -c "sleep 1.5; $NETTOOL tcp 203.0.113.10 7 > $WR/during-restart.out 2>&1"
PROBE=$BG
wait_for -n 50 procs_at_least t1 1
run S daemon stop
[ $RC = 0 ] && pass sandbox.daemon_stop || fail sandbox.daemon_stop "$OUT"
ls "$PIN/links" 2>/dev/null | grep -q "^cg${CGID1}_" && bpftool cgroup show "$CG1" 2>/dev/null | grep -q connect4 &&
	pass sandbox.cgroup_enforcement_pinned_while_down || fail sandbox.cgroup_enforcement_pinned_while_down "links: $(ls "$PIN/links" 2>&1 | head -3)"
in_world tc filter show dev "$HIF1" ingress 2>/dev/null | grep -q sbx &&
	pass sandbox.tc_filter_stays_while_down || fail sandbox.tc_filter_stays_while_down "no filter on $HIF1"
wait_for -n 100 pid_dead "$PROBE"
OUT=$(cat "$WR/during-restart.out" 2>&1)
! tail -n +"$((m + 1))" "$WORLD_DIR/tcp.log" | grep -q "$IP1" && [[ $OUT == refused* ]] &&
	pass sandbox.fail_closed_while_daemon_down || fail sandbox.fail_closed_while_daemon_down "nettool: $OUT"
run S ls
expect_out sandbox.ls_after_restart "^t1 +running +$IP1"
X true
[ $RC = 0 ] && pass sandbox.exec_after_restart || fail sandbox.exec_after_restart "rc=$RC $OUT"
ls "$PIN/links" 2>/dev/null | grep -q "^cg${CGID1}_" && pass sandbox.enforcement_after_restart ||
	fail sandbox.enforcement_after_restart "no links for t1"

# ---- rm ----------------------------------------------------------------------------------------
HIF2=$(sb_field t2 host_if)
CGID2=$(stat -c %i "$CGROOT/$INST/t2")
run S rm t2
[ $RC = 0 ] && pass sandbox.rm || fail sandbox.rm "rc=$RC $OUT"
! in_world ip link show dev "$HIF2" >/dev/null 2>&1 && pass sandbox.rm_deletes_veth || fail sandbox.rm_deletes_veth "$HIF2 still there"
[ ! -e "$RUN/netns/t2" ] && ! grep -q "$RUN/netns/t2" /proc/self/mountinfo && pass sandbox.rm_deletes_netns ||
	fail sandbox.rm_deletes_netns "$RUN/netns/t2 still there"
[ ! -d "$CGROOT/$INST/t2" ] && pass sandbox.rm_deletes_cgroup || fail sandbox.rm_deletes_cgroup "cgroup still there"
! ls "$PIN/links" 2>/dev/null | grep -q "^cg${CGID2}_" && pass sandbox.rm_detaches_bpf || fail sandbox.rm_detaches_bpf "links left"
run S ls
expect_no_out sandbox.rm_forgets "^t2 "

bg_exec t1 -- sleep 1000
SLEEPER=$BG
wait_for -n 50 procs_at_least t1 1
run S rm t1
[ $RC = 1 ] && [[ $OUT == *"--force"* ]] && [ -d "$CG1" ] && pass sandbox.rm_refuses_running ||
	fail sandbox.rm_refuses_running "rc=$RC $OUT"
run S rm --force t1
[ $RC = 0 ] && wait_for -n 50 pid_dead "$SLEEPER" && [ ! -d "$CG1" ] && [ ! -d "$CGROOT/$INST" ] &&
	pass sandbox.rm_force_kills_and_removes || fail sandbox.rm_force_kills_and_removes "rc=$RC $OUT"

# ---- no BPF, no sandbox: creation fails closed and leaves nothing -------------------------------
INST2=${INST}n
ENV2=(SBX_STATE_DIR="$T/state2" SBX_RUN_DIR="$T/run2" SBX_BPF_DIR="$T/notbpf" SBX_CONFIG="$T/none.conf"
	SBX_INSTANCE="$INST2" SBX_DNS_UPSTREAM=198.51.100.53:53)
S2() { in_world env "${ENV2[@]}" timeout -k 5 60 "$SBX_BIN" "$@" </dev/null; }
S2 policy set-default balanced >/dev/null 2>&1
run S2 run x -- true
[ $RC = 1 ] && [[ $OUT == *"eBPF enforcement is not available"* ]] && [ ! -e "$CGROOT/$INST2" ] &&
	[ ! -e "$T/run2/netns/x" ] && ! grep -q '"x"' "$T/state2/sandboxes.json" 2>/dev/null &&
	pass sandbox.no_bpf_fails_closed || fail sandbox.no_bpf_fails_closed "rc=$RC $OUT"
S2 daemon stop >/dev/null 2>&1

# ---- attach: an existing cgroup in the host (world) namespace ----------------------------------
mkdir "$ATT_CG"
# the control: outside the cgroup, the world reaches the origin
OUT=$(in_world "$NETTOOL" tcp 203.0.113.10 7 2>&1)
[[ $OUT == ok* ]] && pass sandbox.attach_control_reaches_origin || fail sandbox.attach_control_reaches_origin "$OUT"
integ_att_sleeper
run S attach a1 --pid "$APID"
[ $RC = 0 ] && pass sandbox.attach_by_pid || fail sandbox.attach_by_pid "rc=$RC $OUT"
[ "$(sb_field a1 status)" = attached ] && [ "$(sb_field a1 cgroup)" = "$ATT_CG" ] && pass sandbox.ls_shows_attached ||
	fail sandbox.ls_shows_attached "$(S ls 2>&1)"
bpftool cgroup show "$ATT_CG" 2>/dev/null | grep -q egress && pass sandbox.attach_uses_cgroup_skb ||
	fail sandbox.attach_uses_cgroup_skb "$(bpftool cgroup show "$ATT_CG" 2>&1 | head -3)"
m=$(wc -l <"$WORLD_DIR/tcp.log")
OUT=$(in_world sh -c "echo \$\$ > $ATT_CG/cgroup.procs && exec $NETTOOL tcp 203.0.113.10 7" 2>&1)
sleep 0.2
[[ $OUT == refused* || $OUT == *reset ]] && ! tail -n +"$((m + 1))" "$WORLD_DIR/tcp.log" | grep -q "192.0.2.2" &&
	pass sandbox.attached_cgroup_is_enforced || fail sandbox.attached_cgroup_is_enforced "nettool: $OUT"
# an attached cgroup keeps the host's resolv.conf and proxies: sbxd knows it by its sockets
OUT=$(in_world sh -c "echo \$\$ > $ATT_CG/cgroup.procs && exec dig +time=2 +tries=1 +short @198.51.100.53 pypi.org" 2>&1)
[ "$OUT" = 198.51.100.10 ] && pass sandbox.attached_dns_answered_by_sbxd || fail sandbox.attached_dns_answered_by_sbxd "out=$OUT"
OUT=$(in_world sh -c "echo \$\$ > $ATT_CG/cgroup.procs && exec dig +time=2 +tries=1 @198.51.100.53 secret.exfil.example" 2>&1)
[[ $OUT == *"status: REFUSED"* ]] && pass sandbox.attached_dns_refuses_denied || fail sandbox.attached_dns_refuses_denied "out=$OUT"
OUT=$(in_world sh -c "echo \$\$ > $ATT_CG/cgroup.procs && exec curl -s -m 5 -x http://127.0.0.1:3128 --cacert $SBX_TEST_CA https://pypi.org/simple/" 2>&1)
[[ $OUT == *"host=pypi.org"* ]] && pass sandbox.attached_forward_proxy || fail sandbox.attached_forward_proxy "out=$OUT"
run S attach a2 --cgroup "$INST-att"
[ $RC = 1 ] && [[ $OUT == *overlaps* ]] && pass sandbox.attach_refuses_overlap || fail sandbox.attach_refuses_overlap "rc=$RC $OUT"
run S attach a3 --cgroup /
[ $RC = 1 ] && [[ $OUT == *"root cgroup"* ]] && pass sandbox.attach_refuses_root || fail sandbox.attach_refuses_root "rc=$RC $OUT"
DPID=$(head -1 "$RUN/sbxd.lock")
run S attach a3 --pid "$DPID"
# sbxd may live in the root cgroup here, which is refused for that reason first
[ $RC = 1 ] && [[ $OUT == *"sbxd itself"* || $OUT == *"root cgroup"* ]] && pass sandbox.attach_refuses_sbxd_cgroup || fail sandbox.attach_refuses_sbxd_cgroup "rc=$RC $OUT"
run S attach a3
[ $RC = 2 ] && pass sandbox.attach_needs_target || fail sandbox.attach_needs_target "rc=$RC $OUT"
run S rm a1
[ $RC = 0 ] && [ -d "$ATT_CG" ] && ! bpftool cgroup show "$ATT_CG" 2>/dev/null | grep -q sbx &&
	kill -0 "$APID" 2>/dev/null && pass sandbox.rm_attached_detaches_only || fail sandbox.rm_attached_detaches_only "rc=$RC $OUT"

finish
