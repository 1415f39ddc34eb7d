#!/bin/bash
# SPDX-License-Identifier: MIT
# Name resolution from a cgroup attached in the host (world) namespace, the way ordinary
# programs do it: glibc (getent, Python's getaddrinfo) asks over a connected UDP socket, dig
# over an unconnected one, `dig +tcp` over TCP. Every way must reach sbxd's resolver and be
# known as the attached sandbox's (a denied name is refused and counted for it). The attached
# commands run in a private mount namespace whose /etc/resolv.conf names the test world's DNS
# server; the cgroup's filter lets nothing reach it but through sbxd anyway.
# Root only; creates the world s<pid>, the instance ad<pid>, the cgroup ad<pid>-att and the
# pin dir /sys/fs/bpf/sbxtest-ad<pid>, and removes exactly those.
# Prints "PASS attached_dns.<check>" or "FAIL attached_dns.<check>: why".
# shellcheck disable=SC2015
set -u
cd "$(dirname "$0")/../.." || exit 1
ROOT=$PWD
BUILD=${BUILD:-build}
SBX_BIN=${SBX_BIN:-$ROOT/$BUILD/sbx}
NETTOOL=$ROOT/$BUILD/tests/tools/nettool
# shellcheck source=tests/lib.sh
. tests/lib.sh

if [ "$(id -u)" != 0 ]; then
	echo "SKIP attached_dns: needs root"
	exit 0
fi
for tool in ip nsenter unshare getent dig; do
	command -v "$tool" >/dev/null || { echo "SKIP attached_dns: $tool missing (scripts/deps.sh)"; exit 0; }
done
for b in "$SBX_BIN" "$NETTOOL"; do
	[ -x "$b" ] || { echo "FAIL attached_dns.setup: $b is not built (make)"; exit 1; }
done

W=s$(($$ % 100000))
INST=ad$(($$ % 100000))
T=$(mktemp -d /tmp/sbx-attached-dns.XXXXXX)
chmod 755 "$T"
PIN=/sys/fs/bpf/sbxtest-$INST
RUN=$T/run
ENVV=(SBX_STATE_DIR="$T/state" SBX_RUN_DIR="$RUN" SBX_BPF_DIR="$PIN" SBX_CONFIG="$T/none.conf"
	SBX_INSTANCE="$INST" SBX_DNS_UPSTREAM=198.51.100.53:53)
CGROOT=$(cgroup2_root)
ATT_CG=$CGROOT/$INST-att
BG_PIDS=()
DNS=198.51.100.53

in_world() { bash scripts/world.sh exec "$W" world "$@"; }
S() { in_world env "${ENVV[@]}" timeout -k 5 60 "$SBX_BIN" "$@" </dev/null; }
# A command inside the attached cgroup, with the test world's resolv.conf: output in OUT.
A() {
	OUT=$(in_world timeout -k 2 20 unshare -m sh -c \
		'echo $$ > "$1/cgroup.procs" && mount --bind "$2" /etc/resolv.conf && shift 2 && exec "$@"' \
		sh "$ATT_CG" "$T/resolv.conf" "$@" </dev/null 2>&1)
	RC=$?
}

cleanup() {
	local p i
	S rm a1 >/dev/null 2>&1
	S daemon stop >/dev/null 2>&1
	for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	if [ -d "$ATT_CG" ]; then
		for p in $(cat "$ATT_CG/cgroup.procs" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
		for ((i = 0; i < 50; i++)); do rmdir "$ATT_CG" 2>/dev/null && break; sleep 0.1; done
	fi
	bash scripts/world.sh down "$W" >/dev/null 2>&1
	[ -d "$PIN" ] && rm -rf "$PIN"
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

if ! out=$(bash scripts/world.sh up "$W" 2>&1); then
	echo "FAIL attached_dns.world: $out"
	exit 1
fi
eval "$(bash scripts/world.sh env "$W")"
if ! out=$(S policy set-default balanced 2>&1); then
	echo "FAIL attached_dns.setup: $out"
	exit 1
fi
printf 'nameserver %s\noptions timeout:2 attempts:1\n' "$DNS" >"$T/resolv.conf"

mkdir "$ATT_CG"
in_world sh -c "echo \$\$ > $ATT_CG/cgroup.procs && exec sleep 1000" </dev/null >/dev/null 2>&1 &
BG_PIDS+=($!)
wait_for -n 50 grep -q . "$ATT_CG/cgroup.procs"
run S attach a1 --cgroup "$ATT_CG"
[ $RC = 0 ] && pass attached_dns.attach || { fail attached_dns.attach "rc=$RC $OUT"; finish; }

# glibc: a connected UDP socket, whose port is still 0 when connect4 runs
A getent ahostsv4 pypi.org
[[ $OUT == "198.51.100.10 "* ]] && pass attached_dns.glibc_getent || fail attached_dns.glibc_getent "rc=$RC out=$OUT"
A "$PYTHON" -c 'import socket; print(sorted({a[4][0] for a in socket.getaddrinfo("api.github.com", 443, socket.AF_INET)}))'
[[ $OUT == *"'"*"'"* && $OUT != *Error* ]] && pass attached_dns.python_getaddrinfo ||
	fail attached_dns.python_getaddrinfo "rc=$RC out=$OUT"
A getent ahostsv4 secret.exfil.example
[ $RC != 0 ] && [ -z "$OUT" ] && pass attached_dns.glibc_denied_name_fails || fail attached_dns.glibc_denied_name_fails "rc=$RC out=$OUT"

# a fresh connected UDP socket, to the world's server and to sbxd's own address
A "$NETTOOL" dns "$DNS" 53 pypi.org
[ "$OUT" = "ok 198.51.100.10" ] && pass attached_dns.connected_udp || fail attached_dns.connected_udp "out=$OUT"
A "$NETTOOL" dns "$DNS" 53 secret.exfil.example
[ "$OUT" = "ok rcode=5" ] && pass attached_dns.connected_udp_refuses_denied || fail attached_dns.connected_udp_refuses_denied "out=$OUT"

# unconnected (dig) and TCP
A dig +time=2 +tries=1 +short @"$DNS" pypi.org
[ "$OUT" = 198.51.100.10 ] && pass attached_dns.unconnected_udp || fail attached_dns.unconnected_udp "out=$OUT"
A dig +tcp +time=2 +tries=1 +short @"$DNS" pypi.org
[ "$OUT" = 198.51.100.10 ] && pass attached_dns.tcp || fail attached_dns.tcp "out=$OUT"
A dig +tcp +time=2 +tries=1 @"$DNS" secret.exfil.example
[[ $OUT == *"status: REFUSED"* ]] && pass attached_dns.tcp_refuses_denied || fail attached_dns.tcp_refuses_denied "out=$OUT"

# sbxd knew the sandbox of each refused query: getent, nettool and dig +tcp asked for it
run S policy log a1 --json
expect_json attached_dns.refusals_counted_for_sandbox '[b["count"] for b in d["blocked_hosts"] if b["host"] == "secret.exfil.example" and b["reason"] == "dns-refused" and b["sandbox"] == "a1"] and sum(b["count"] for b in d["blocked_hosts"] if b["host"] == "secret.exfil.example" and b["reason"] == "dns-refused") >= 3'

finish
