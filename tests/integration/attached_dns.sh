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
# shellcheck source=tests/integ.sh
. tests/integ.sh
integ_init -i ad -b "$NETTOOL" attached_dns s ip nsenter unshare getent dig
DNS=198.51.100.53

# A command inside the attached cgroup, with the test world's resolv.conf: output in OUT.
A() {
	OUT=$(in_world timeout -k 2 20 unshare -m sh -c \
		'echo $$ > "$1/cgroup.procs" && mount --bind "$2" /etc/resolv.conf && shift 2 && exec "$@"' \
		sh "$ATT_CG" "$T/resolv.conf" "$@" </dev/null 2>&1)
	RC=$?
}

cleanup() { integ_cleanup a1; }
integ_traps
integ_world_up
if ! out=$(S policy set-default balanced 2>&1); then
	echo "FAIL attached_dns.setup: $out"
	exit 1
fi
printf 'nameserver %s\noptions timeout:2 attempts:1\n' "$DNS" >"$T/resolv.conf"

mkdir "$ATT_CG"
integ_att_sleeper
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
