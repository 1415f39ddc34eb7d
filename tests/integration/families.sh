#!/bin/bash
# SPDX-License-Identifier: MIT
# Socket families from inside a sandbox: AF_UNIX, AF_INET/AF_INET6 TCP and UDP and AF_NETLINK
# NETLINK_ROUTE work; AF_VSOCK (the hypervisor and its guests), AF_ALG, AF_PACKET, AF_XDP,
# other netlink protocols, SCTP, MPTCP, UDP-Lite, ping and raw sockets fail with EPERM. Only
# socket() is called, and one ping sent: nothing reaches the wire. Refusals the kernel hooks
# make are counted in the sandbox's log. Also an attached cgroup, where only the kernel hooks
# hold.
# Root only; creates the world y<pid>, sandbox t1 of the instance y<pid>, the cgroup
# y<pid>-att and the pin dir /sys/fs/bpf/sbxtest-y<pid>, and removes exactly those.
# Prints "PASS families.<check>", "FAIL families.<check>: why" or "SKIP families.<check>: why".
# shellcheck disable=SC2015
set -u
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=tests/integ.sh
. tests/integ.sh
integ_init -b "$NETTOOL" families y ip nsenter

# A command in the attached cgroup.
A() {
	OUT=$(in_world sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' sh "$ATT_CG" "$@" </dev/null 2>&1)
	RC=$?
}
has_protocol() { awk '{print $1}' /proc/net/protocols | grep -qx "$1"; }

cleanup() { integ_cleanup t1 a1; }
integ_traps
integ_world_up
if ! out=$(S policy set-default balanced 2>&1 && S run t1 -- true 2>&1); then
	echo "FAIL families.setup: $out"
	exit 1
fi

# ---- what a confined program needs ----------------------------------------------------------
for spec in "unix stream 0" "unix dgram 0" "inet stream 0" "inet dgram 0" "inet stream 6" \
	"inet dgram 17" "inet6 stream 0" "inet6 dgram 0" "netlink raw 0" "netlink dgram 0"; do
	# shellcheck disable=SC2086
	X "$NETTOOL" socket $spec
	[ "$OUT" = ok ] && pass "families.works_${spec// /_}" || fail "families.works_${spec// /_}" "out=$OUT"
done
X ip -4 -o addr show dev lo
[[ $OUT == *"inet 127.0.0.1/8"* ]] && pass families.iproute2_over_netlink_route || fail families.iproute2_over_netlink_route "out=$OUT"

# ---- what it never needs ----------------------------------------------------------------------
# netlink: 9 audit, 15 kobject uevents, 4 sock_diag, 6 xfrm, 16 generic, 12 netfilter
for spec in "vsock stream 0" "vsock dgram 0" "alg seqpacket 0" "packet raw 768" "packet dgram 8" \
	"44 raw 0" "31 stream 0" "30 rdm 0" "21 seqpacket 0" "15 raw 2" "netlink raw 9" \
	"netlink raw 15" "netlink raw 4" "netlink raw 6" "netlink raw 16" "netlink raw 12" \
	"inet stream 262" "inet6 stream 262" "inet dgram 136" "inet raw 1" "inet raw 255" "inet6 raw 58"; do
	# shellcheck disable=SC2086
	X "$NETTOOL" socket $spec
	[ "$OUT" = "refused: Operation not permitted" ] && pass "families.refused_${spec// /_}" ||
		fail "families.refused_${spec// /_}" "out=$OUT"
done
X "$NETTOOL" socket inet stream 132
if has_protocol SCTP; then
	[ "$OUT" = "refused: Operation not permitted" ] && pass families.refused_sctp || fail families.refused_sctp "out=$OUT"
else
	[[ $OUT == refused:* ]] && pass families.refused_sctp_no_module || fail families.refused_sctp_no_module "out=$OUT"
fi

# ICMP "ping" sockets (ping(8) tries one first): refused with EPERM by sbx, and counted, not
# refused by the kernel before sbx sees them (EACCES, uncounted)
X "$NETTOOL" socket inet dgram 1
[ "$OUT" = "refused: Operation not permitted" ] && pass families.refused_ping_socket ||
	fail families.refused_ping_socket "out=$OUT"
X "$NETTOOL" icmp 198.51.100.10
[ "$OUT" = "refused: Operation not permitted" ] && pass families.refused_ping ||
	fail families.refused_ping "out=$OUT"

# the kernel hooks' refusals are counted for the sandbox: MPTCP twice, UDP-Lite, the two ping
# sockets (raw sockets never get that far: the sandbox has no CAP_NET_RAW over its network
# namespace, so the kernel refuses them first, as sbx-run(1) says)
run S policy log t1 --json
expect_json families.refusals_counted '[b["count"] for b in d["blocked_hosts"] if b["host"] == "protocol 262" and b["reason"] == "protocol-blocked"] == [2] and [b["count"] for b in d["blocked_hosts"] if b["host"] == "(protocol 136 socket)"] == [1]'
expect_json families.ping_counted '[(b["count"], b["proxy_type"]) for b in d["blocked_hosts"] if b["host"] == "(icmp socket)" and b["reason"] == "icmp-blocked"] == [(2, "network")]'
# README "JSON output": last_seen is Unix time, like every time sbx prints in JSON
now=$(date +%s)
expect_json families.log_last_seen_unix_time "all(type(b[\"last_seen\"]) is int and abs(b[\"last_seen\"] - $now) < 600 for b in d[\"blocked_hosts\"]) and d[\"blocked_hosts\"]"

# ---- an attached cgroup: the kernel hooks alone ---------------------------------------------------
mkdir "$ATT_CG"
integ_att_sleeper
run S attach a1 --cgroup "$ATT_CG"
[ $RC = 0 ] && pass families.attach || fail families.attach "rc=$RC $OUT"
A "$NETTOOL" socket inet stream 262
[ "$OUT" = "refused: Operation not permitted" ] && pass families.attached_mptcp_refused || fail families.attached_mptcp_refused "out=$OUT"
A "$NETTOOL" socket inet stream 0
[ "$OUT" = ok ] && pass families.attached_tcp_works || fail families.attached_tcp_works "out=$OUT"
if bpftool cgroup show "$ATT_CG" 2>/dev/null | grep -q sbx_socket_creat; then
	A "$NETTOOL" socket vsock stream 0
	[ "$OUT" = "refused: Operation not permitted" ] && pass families.attached_vsock_refused ||
		fail families.attached_vsock_refused "out=$OUT"
else
	skip families.attached_vsock_refused "this kernel takes no BPF LSM program: attached cgroups keep other families"
fi

finish
